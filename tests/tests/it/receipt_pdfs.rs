//! The PDF of a receipt or year-end statement, read back with a PDF text extractor as a
//! donor's software would: the donor's name in any script, the amounts and the fund come
//! out whole in every language, and no two words are printed over each other.

use api::db::begin_write;
use api::domain::receipts;
use chrono::{TimeZone, Utc};
use entity::enums::Language;
use entity::{Currency, donor, fund, receipt};
use mailer::templates::words::Words;
use sea_orm::{ActiveModelTrait, Set};

use crate::mailer::{add_donor, gift_of, give, organization};
use tests::on_both_backends;
use tests::pdf::{overlapping_words, pdf_flowing_text, pdf_text, pdf_words, receipt_pdf};
use tests::support::{Backend, TestApp, spawn_app};

const FUND: &str = "Santa Ana Deportation Defense Fund";
const LANGUAGES: [Language; 4] = [
    Language::Arabic,
    Language::English,
    Language::Spanish,
    Language::French,
];
const DONORS: [&str; 2] = ["ليلى حداد", "Nguyễn Thị Minh"];
/// The letter's margins leave at least half an inch of paper on each side.
const PAGE_WIDTH: f64 = 612.0;
const EDGE: f64 = 36.0;

async fn santa_ana_fund(app: &TestApp) -> i64 {
    let now = Utc::now();
    fund::ActiveModel {
        name: Set(FUND.to_owned()),
        code: Set("SANTA-ANA".to_owned()),
        description: Set(None),
        restricted: Set(true),
        archived_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
    .id
}

async fn statement(app: &TestApp, donor: &donor::Model) -> receipt::Model {
    let txn = begin_write(&app.db).await.unwrap();
    let issued = receipts::issue_year_end_statement(&txn, &organization(), donor, 2026)
        .await
        .unwrap()
        .unwrap();
    txn.commit().await.unwrap();
    issued
}

/// With `RECEIPT_PDF_DIR` set, keeps each PDF there to look at, named by language and
/// receipt number.
fn keep(document: &receipt::Model, pdf: &[u8], backend: Backend) {
    if let Some(dir) = std::env::var_os("RECEIPT_PDF_DIR") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!(
            "{backend:?}-{}-{}.pdf",
            document.language.as_str(),
            document.number
        );
        std::fs::write(dir.join(name), pdf).unwrap();
    }
}

/// What every document's PDF must show, whatever its language.
fn assert_reads_whole(document: &receipt::Model, pdf: &[u8], name: &str, amounts: &[&String]) {
    let text = pdf_text(pdf);
    let flowing = pdf_flowing_text(pdf);
    let context = format!("{} ({:?}):\n{text}", document.number, document.language);
    assert!(text.contains(name), "the donor's name {name} in {context}");
    assert!(
        text.contains(&document.number),
        "the receipt number in {context}"
    );
    // A text extractor reads the no-break spaces inside amounts as plain spaces.
    let spaced = |text: &str| text.replace(['\u{a0}', '\u{202f}'], " ");
    for amount in amounts {
        assert!(
            spaced(&text).contains(&spaced(amount)),
            "{amount} in {context}"
        );
    }
    // Once in the opening sentence or the list of gifts, and once more in the table.
    assert!(
        flowing.matches(FUND).count() >= 2,
        "the whole fund name in the sentence and in the table of {context}"
    );
    let words = pdf_words(pdf);
    let overlaps = overlapping_words(&words);
    assert!(
        overlaps.is_empty(),
        "words printed over each other in {context}\n{overlaps:#?}"
    );
    let outside: Vec<_> = words
        .iter()
        .filter(|w| w.x_min < EDGE || w.x_max > PAGE_WIDTH - EDGE)
        .collect();
    assert!(
        outside.is_empty(),
        "words past the margin in {context}\n{outside:#?}"
    );
}

async fn receipts_print_every_donors_name_amounts_and_fund_in_every_language(backend: Backend) {
    let app = spawn_app(backend).await;
    let fund_id = santa_ana_fund(&app).await;

    for language in LANGUAGES {
        for (n, name) in DONORS.iter().enumerate() {
            let email = format!("donor{n}-{}@example.org", language.as_str());
            let donor = add_donor(&app, name, &email, language).await;
            let mut first = gift_of(donor.id, 125_075);
            first.fund_id = fund_id;
            let mut second = gift_of(donor.id, 4_200);
            second.fund_id = fund_id;
            second.received_at = Utc.with_ymd_and_hms(2026, 9, 30, 18, 0, 0).unwrap();

            let receipt = give(&app, first).await.receipt.unwrap();
            give(&app, second).await;
            let statement = statement(&app, &donor).await;

            let (receipt_pdf, statement_pdf) = (
                receipt_pdf(&app.db, &receipt).await,
                receipt_pdf(&app.db, &statement).await,
            );
            keep(&receipt, &receipt_pdf, backend);
            keep(&statement, &statement_pdf, backend);
            assert_eq!(receipt.language, language);
            // Each language writes the amounts its own way ("1.250,75 $" in Arabic).
            let amount = |minor| Words::new(language).amount(minor, Currency::Usd);
            assert_reads_whole(
                &receipt,
                &receipt_pdf,
                name,
                &[&amount(125_075), &amount(0)],
            );
            assert_reads_whole(
                &statement,
                &statement_pdf,
                name,
                &[&amount(125_075), &amount(4_200), &amount(129_275)],
            );
        }
    }
}

on_both_backends!(receipts_print_every_donors_name_amounts_and_fund_in_every_language);
