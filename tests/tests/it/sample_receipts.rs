//! Until the organization's legal name, EIN and address are set, every receipt and
//! statement says in its text, its HTML and its PDF (and so in the email that carries
//! it) that it is a sample, not a tax receipt, and `/readyz` says why; with them set,
//! nothing is marked.

use api::config::{Config, Organization};
use api::db::begin_write;
use api::domain::receipts;
use entity::enums::Language;
use entity::receipt;

use crate::mailer::{add_donor, gift_of, give, organization};
use tests::on_both_backends;
use tests::pdf::pdf_text;
use tests::support::{Backend, TestApp, spawn_app, spawn_app_with};

const MARK: &str = "SAMPLE — NOT A TAX RECEIPT";

const NAMED: &[(&str, &str)] = &[
    ("ORG_LEGAL_NAME", "Coalition for Humane Immigrant Rights"),
    ("ORG_EIN", "95-4123456"),
    ("ORG_ADDRESS", "2533 W. 3rd Street, Los Angeles, CA 90057"),
];

fn named_organization() -> Organization {
    let config = Config::from_sources(None, |name| {
        NAMED
            .iter()
            .find(|(variable, _)| *variable == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .unwrap();
    config.org
}

fn assert_marked(receipt: &receipt::Model) {
    assert!(
        receipt.content_text.contains(MARK),
        "{}",
        receipt.content_text
    );
    let html = receipt.content_html.clone().unwrap();
    assert!(html.contains("class=\"sample\""), "{html}");
    assert!(html.contains(MARK), "{html}");
    let pdf = pdf_text(receipt.content_pdf.as_ref().unwrap());
    assert!(pdf.contains(MARK), "{pdf}");
}

fn assert_unmarked(receipt: &receipt::Model) {
    assert!(
        !receipt.content_text.contains("SAMPLE"),
        "{}",
        receipt.content_text
    );
    let html = receipt.content_html.clone().unwrap();
    assert!(
        !html.contains("SAMPLE") && !html.contains("class=\"sample\""),
        "{html}"
    );
    let pdf = pdf_text(receipt.content_pdf.as_ref().unwrap());
    assert!(!pdf.contains("SAMPLE"), "{pdf}");
    assert!(pdf.contains("95-4123456"), "{pdf}");
}

/// The statement of the donor's 2026 gifts, issued under `org`.
async fn statement(app: &TestApp, org: &Organization, donor_id: i64) -> receipt::Model {
    use sea_orm::EntityTrait;
    let donor = entity::donor::Entity::find_by_id(donor_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let txn = begin_write(&app.db).await.unwrap();
    let issued = receipts::issue_year_end_statement(&txn, org, &donor, 2026)
        .await
        .unwrap()
        .unwrap();
    txn.commit().await.unwrap();
    issued
}

async fn receipts_issued_with_placeholders_are_marked_as_samples(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;

    let receipt = give(&app, gift_of(donor.id, 5_000)).await.receipt.unwrap();
    let statement = statement(&app, &organization(), donor.id).await;

    assert_marked(&receipt);
    assert_marked(&statement);
}

async fn a_sample_receipt_email_says_so_in_both_parts_and_its_pdf(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let receipt = give(&app, gift_of(donor.id, 5_000)).await.receipt.unwrap();
    let org = organization();
    let context = mailer::templates::Context {
        org: &org,
        language: Language::English,
        to_name: Some("Ana Ruiz"),
        links: None,
    };

    let email = mailer::templates::receipt::render_receipt(context, &receipt, 0).unwrap();

    assert!(email.text.contains(MARK), "{}", email.text);
    assert!(email.html.contains(MARK), "{}", email.html);
    let pdf = pdf_text(&email.attachments[0].bytes);
    assert!(pdf.contains(MARK), "{pdf}");
}

async fn a_spanish_sample_is_marked_in_spanish(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Rosa Díaz", "rosa@example.org", Language::Spanish).await;

    let receipt = give(&app, gift_of(donor.id, 5_000)).await.receipt.unwrap();

    assert!(
        receipt
            .content_text
            .contains("MUESTRA — NO ES UN RECIBO FISCAL"),
        "{}",
        receipt.content_text
    );
    assert!(pdf_text(receipt.content_pdf.as_ref().unwrap()).contains("MUESTRA"));
}

async fn receipts_of_a_named_organization_carry_no_mark(backend: Backend) {
    let app = spawn_app_with(backend, NAMED).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let org = named_organization();

    let txn = begin_write(&app.db).await.unwrap();
    let recorded = api::domain::gifts::record_gift(&txn, &org, gift_of(donor.id, 5_000))
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let statement = statement(&app, &org, donor.id).await;

    assert_unmarked(&recorded.receipt.unwrap());
    assert_unmarked(&statement);
}

async fn readyz_says_receipts_are_samples_until_the_organization_is_named(backend: Backend) {
    let unnamed = spawn_app(backend).await;
    let named = spawn_app_with(backend, NAMED).await;

    let unnamed_response = unnamed.get("/readyz").await;
    let named_response = named.get("/readyz").await;

    assert_eq!(unnamed_response.status(), 200);
    let body: serde_json::Value = unnamed_response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let warning = &body["warnings"]["organization"];
    assert_eq!(
        warning["unset"],
        serde_json::json!(["ORG_LEGAL_NAME", "ORG_EIN", "ORG_ADDRESS"])
    );
    assert!(
        warning["detail"].as_str().unwrap().contains("samples"),
        "{body}"
    );
    assert_eq!(named_response.status(), 200);
    let body: serde_json::Value = named_response.json().await.unwrap();
    assert!(body["warnings"]["organization"].is_null(), "{body}");
}

on_both_backends!(
    receipts_issued_with_placeholders_are_marked_as_samples,
    a_sample_receipt_email_says_so_in_both_parts_and_its_pdf,
    a_spanish_sample_is_marked_in_spanish,
    receipts_of_a_named_organization_carry_no_mark,
    readyz_says_receipts_are_samples_until_the_organization_is_named
);
