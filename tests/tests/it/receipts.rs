//! Receipts and year-end statements: what they say, in the donor's language, and how
//! they are voided, re-issued, corrected by refunds and downloaded.

use api::db::{WriteTransaction, begin_write};
use api::domain::Actor;
use api::domain::gifts::{Benefits, Tribute};
use api::domain::receipts::{self, RefundOutcome};
use chrono::{Datelike, TimeZone, Utc};
use entity::enums::{
    GiftStatus, Language, OutboxStatus, PledgeFrequency, PledgeSource, PledgeStatus, ReceiptKind,
    ReceiptStatus, StaffRole, TributeKind,
};
use entity::{donor, gift, outbox, pledge, receipt};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, Set,
};
use serde_json::json;

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::mailer::{add_donor, gift_of, give, organization};
use crate::staff_api::batching::spawn_counting_app_with;
use tests::on_both_backends;
use tests::pdf::{pdf_text, receipt_pdf};
use tests::support::{
    Backend, OTHER_TRANSACTION_RUNS, TestApp, spawn_app, spawn_app_with, until_finished_or_waiting,
};

async fn keys(app: &TestApp) -> Vec<(String, String)> {
    outbox::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.kind, m.idempotency_key))
        .collect()
}

async fn a_plain_gift_receipt_states_what_the_irs_asks(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "María López", "maria@example.org", Language::English).await;

    let receipt = give(&app, gift_of(donor.id, 5_000)).await.receipt.unwrap();

    let text = &receipt.content_text;
    assert_eq!(receipt.number, "2026-000001");
    assert!(text.contains("Immigrant Legal Defense Fund"));
    assert!(text.contains("EIN 00-0000000"));
    assert!(text.contains("1458 Howard Street"));
    assert!(text.contains("María López"));
    assert!(text.contains("2130 W. 6th Street"));
    assert!(
        text.contains("Thank you for your gift of $50.00 on March 14, 2026 by card to the General")
    );
    assert!(text.contains("No goods or services were provided in exchange for this contribution."));
    assert!(!text.contains("limited to the excess"));
    assert_eq!(receipt.deductible_minor, 5_000);
    let html = receipt.content_html.clone().unwrap();
    assert!(html.contains("Mar&#39;a") || html.contains("María López"));
    let pdf = receipt_pdf(&app.db, &receipt).await;
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf_text(&pdf).contains("2026-000001"));
}

async fn a_gift_over_75_dollars_with_benefits_carries_the_quid_pro_quo_disclosure(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Sam Lee", "sam@example.org", Language::English).await;
    let mut gala = gift_of(donor.id, 20_000);
    gala.benefits = Some(Benefits {
        value_minor: 8_500,
        description: "dinner at the spring gala".into(),
    });

    let receipt = give(&app, gala).await.receipt.unwrap();

    let text = &receipt.content_text;
    assert!(text.contains(
        "you received dinner at the spring gala, with a good-faith estimated value of $85.00"
    ));
    assert!(text.contains("The amount deductible for federal income tax purposes is $115.00."));
    assert!(text.contains(
        "limited to the excess of the money contributed over the value of goods or services"
    ));
    assert!(!text.contains("No goods or services"));
    assert_eq!(receipt.deductible_minor, 11_500);
}

async fn a_tribute_gift_names_the_person_it_honors(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Sam Lee", "sam@example.org", Language::English).await;
    let mut memorial = gift_of(donor.id, 10_000);
    memorial.tribute = Some(Tribute {
        kind: TributeKind::InMemoryOf,
        name: "Rosa Martínez".into(),
        notify_name: None,
        notify_email: None,
        notify_address: None,
        show_amount: false,
    });

    let receipt = give(&app, memorial).await.receipt.unwrap();

    assert!(receipt.content_text.contains("In memory of Rosa Martínez."));
    assert!(
        receipt
            .content_html
            .unwrap()
            .contains("In memory of Rosa Martínez.")
    );
}

async fn a_spanish_donor_gets_a_spanish_receipt(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "José Núñez", "jose@example.org", Language::Spanish).await;

    let receipt = give(&app, gift_of(donor.id, 5_000)).await.receipt.unwrap();

    let text = &receipt.content_text;
    assert_eq!(receipt.language, Language::Spanish);
    assert!(text.contains("Recibo 2026-000001"));
    assert!(text.contains("Gracias por su donación de $50,00 del 14 de marzo de 2026 (tarjeta)"));
    assert!(
        text.contains("No se proporcionaron bienes ni servicios a cambio de esta contribución.")
    );
    let html = receipt.content_html.clone().unwrap();
    assert!(html.contains("lang=\"es\""));
    assert!(pdf_text(&receipt_pdf(&app.db, &receipt).await).contains("Gracias por su donación"));
}

async fn an_arabic_donor_reads_right_to_left(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Layla Haddad", "layla@example.org", Language::Arabic).await;

    let receipt = give(&app, gift_of(donor.id, 5_000)).await.receipt.unwrap();

    assert!(receipt.content_text.contains("إيصال 2026-000001"));
    assert!(receipt.content_html.unwrap().contains("dir=\"rtl\""));
}

/// An envelope pledge of `installment_minor` a month to the General fund, from
/// `starts_on`.
pub(crate) async fn monthly_pledge(
    app: &TestApp,
    donor: &donor::Model,
    installment_minor: i64,
    starts_on: chrono::NaiveDate,
) -> pledge::Model {
    let now = Utc::now();
    pledge::ActiveModel {
        donor_id: Set(donor.id),
        installment_minor: Set(installment_minor),
        currency: Set("USD".into()),
        frequency: Set(PledgeFrequency::Monthly),
        source: Set(PledgeSource::Envelope),
        status: Set(PledgeStatus::Active),
        fund_id: Set(1),
        starts_on: Set(starts_on),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
}

async fn monthly_installments_after_the_first_wait_for_the_statement(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let pledge = monthly_pledge(&app, &donor, 4_200, Utc::now().date_naive()).await;
    let installment = |month: u32| {
        let mut gift = gift_of(donor.id, 4_200);
        gift.pledge_id = Some(pledge.id);
        gift.received_at = Utc.with_ymd_and_hms(2026, month, 2, 18, 0, 0).unwrap();
        gift
    };

    let first = give(&app, installment(1)).await;
    let second = give(&app, installment(2)).await;
    let third = give(&app, installment(3)).await;

    assert!(first.receipt.is_some());
    assert!(second.receipt.is_none());
    assert!(third.receipt.is_none());
    assert_eq!(keys(&app).await.len(), 1);
}

async fn staff_reissue_a_receipt_under_a_new_number_that_points_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let original = give(&app, gift_of(donor.id, 30_000)).await.receipt.unwrap();
    let staff = app.token(StaffRole::Staff).await;

    let body = app
        .graphql(
            &staff,
            "mutation($n: String!) { reissueReceipt(input: { number: $n, reason: \"name misspelled\" }) { number status replaces { number status voidReason } } }",
            json!({ "n": original.number }),
        )
        .await;

    let replacement = &body["data"]["reissueReceipt"];
    assert_eq!(replacement["number"], "2026-000002", "{body}");
    assert_eq!(replacement["status"], "ISSUED");
    assert_eq!(replacement["replaces"]["number"], "2026-000001");
    assert_eq!(replacement["replaces"]["status"], "VOID");
    assert_eq!(replacement["replaces"]["voidReason"], "name misspelled");
    let stored = receipt::Entity::find_by_id(original.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    // Voiding changes the status, never the issued content.
    assert_eq!(stored.content_text, original.content_text);
    assert_eq!(stored.document, original.document);
    let new = receipts::find_by_number(&app.db, "2026-000002")
        .await
        .unwrap();
    assert!(
        new.content_text
            .contains("This receipt replaces voided receipt 2026-000001.")
    );
    let kinds: Vec<String> = keys(&app).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["receipt", "receipt", "receipt_voided"]);

    let again = app
        .graphql(
            &staff,
            "mutation($n: String!) { reissueReceipt(input: { number: $n, reason: \"again\" }) { number } }",
            json!({ "n": original.number }),
        )
        .await;
    assert_eq!(tests::error_codes(&again), vec!["CONFLICT"]);
    let audit = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq("reissue"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(audit, 1);
}

async fn only_admins_void_a_receipt_outright(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let original = give(&app, gift_of(donor.id, 30_000)).await.receipt.unwrap();
    let staff = app.token(StaffRole::Staff).await;
    let admin = app.token(StaffRole::Admin).await;
    let query = "mutation($n: String!, $r: String!) { voidReceipt(input: { number: $n, reason: $r }) { status voidReason voidedAt } }";

    let refused = app
        .graphql(
            &staff,
            query,
            json!({ "n": original.number, "r": "entered twice" }),
        )
        .await;
    assert_eq!(tests::error_codes(&refused), vec!["FORBIDDEN"]);
    let blank = app
        .graphql(&admin, query, json!({ "n": original.number, "r": "  " }))
        .await;
    assert_eq!(tests::error_codes(&blank), vec!["BAD_USER_INPUT"]);
    // The donor reads the reason in an email: one line, of a length a person writes.
    for hostile in [
        "entered twice\r\nBcc: everyone@example.org".to_owned(),
        "x".repeat(501),
    ] {
        let refused = app
            .graphql(&admin, query, json!({ "n": original.number, "r": hostile }))
            .await;
        assert_eq!(tests::error_codes(&refused), vec!["BAD_USER_INPUT"]);
        assert_eq!(refused["errors"][0]["extensions"]["field"], "reason");
    }
    let still = entity::receipt::Entity::find()
        .filter(entity::receipt::Column::Number.eq(original.number.clone()))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.status, ReceiptStatus::Issued);
    let voided = app
        .graphql(
            &admin,
            query,
            json!({ "n": original.number, "r": "entered twice" }),
        )
        .await;
    assert_eq!(voided["data"]["voidReceipt"]["status"], "VOID", "{voided}");
    let read_back = app
        .graphql(
            &staff,
            "{ receipts(filter: { taxYear: 2026 }) { nodes { number voidedAt } } }",
            json!({}),
        )
        .await;
    let read_back = read_back["data"]["receipts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["number"] == original.number.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        read_back["voidedAt"], voided["data"]["voidReceipt"]["voidedAt"],
        "the void's time as answered is the one kept"
    );

    // A $300 gift with no valid receipt now needs a written acknowledgment.
    let missing = app
        .graphql(
            &staff,
            "{ giftsMissingAcknowledgment { totalCount nodes { giftId netAmount { amountMinor formatted } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        missing["data"]["giftsMissingAcknowledgment"]["totalCount"],
        1
    );
    let list = missing["data"]["giftsMissingAcknowledgment"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(list.len(), 1, "{missing}");
    assert_eq!(
        list[0]["netAmount"],
        json!({ "amountMinor": 30_000, "formatted": "$300.00" })
    );
    let resend = app
        .graphql(
            &staff,
            "mutation($n: String!) { resendReceipt(input: { number: $n }) { id } }",
            json!({ "n": original.number }),
        )
        .await;
    assert_eq!(tests::error_codes(&resend), vec!["BAD_USER_INPUT"]);
}

async fn a_resent_receipt_carries_the_same_stored_document(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let original = give(&app, gift_of(donor.id, 30_000)).await.receipt.unwrap();
    let staff = app.token(StaffRole::Staff).await;

    let body = app
        .graphql(
            &staff,
            "mutation($n: String!) { resendReceipt(input: { number: $n }) { idempotencyKey status } }",
            json!({ "n": original.number }),
        )
        .await;

    assert_eq!(
        body["data"]["resendReceipt"]["idempotencyKey"],
        format!("receipt:{}:resend:1", original.id),
        "{body}"
    );
    let messages = outbox::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(messages.len(), 2);
    assert!(
        messages
            .iter()
            .all(|m| m.payload == json!({ "receipt_id": original.id }))
    );
    assert!(messages.iter().all(|m| m.status == OutboxStatus::Pending));
}

async fn a_full_refund_voids_the_receipt_and_a_partial_one_reissues_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let org = organization();
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let full = give(&app, gift_of(donor.id, 10_000)).await;
    let partial = give(&app, gift_of(donor.id, 10_000)).await;

    let refund = |recorded: &api::domain::gifts::RecordedGift, cents: i64, status: GiftStatus| {
        let mut active: gift::ActiveModel = recorded.gift.clone().into();
        active.refunded_minor = Set(cents);
        active.status = Set(status);
        active
    };
    let txn = begin_write(&app.db).await.unwrap();
    let refunded = refund(&full, 10_000, GiftStatus::Refunded)
        .update(&txn)
        .await
        .unwrap();
    let voided = receipts::on_refund(&txn, &org, &refunded).await.unwrap();
    let partly = refund(&partial, 2_500, GiftStatus::PartiallyRefunded)
        .update(&txn)
        .await
        .unwrap();
    let reissued = receipts::on_refund(&txn, &org, &partly).await.unwrap();
    txn.commit().await.unwrap();

    let RefundOutcome::Voided { voided } = voided else {
        panic!("{voided:?}")
    };
    assert_eq!(voided.status, ReceiptStatus::Void);
    assert_eq!(
        voided.void_reason.as_deref(),
        Some("the gift was refunded in full")
    );
    let RefundOutcome::Reissued {
        voided: old,
        replacement,
    } = reissued
    else {
        panic!("{reissued:?}")
    };
    assert_eq!(old.status, ReceiptStatus::Void);
    assert_eq!(replacement.replaces_receipt_id, Some(old.id));
    assert_eq!(replacement.amount_minor, 7_500);
    assert!(replacement.content_text.contains("$75.00"));
    let messages = keys(&app).await;
    assert!(messages.contains(&(
        "receipt_voided".into(),
        format!("receipt_voided:{}", voided.id)
    )));
    assert!(messages.contains(&(
        "receipt_voided".into(),
        format!("receipt_voided:{}", old.id)
    )));
    assert!(messages.contains(&("receipt".into(), format!("receipt:{}", replacement.id))));
}

async fn year_end_statements_run_twice_issue_each_donor_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let maria = add_donor(&app, "María López", "maria@example.org", Language::Spanish).await;
    let sam = add_donor(&app, "Sam Lee", "sam@example.org", Language::English).await;
    add_donor(&app, "Nobody Gave", "none@example.org", Language::English).await;
    for month in [1, 4, 9] {
        let mut gift = gift_of(maria.id, 2_000 * i64::from(month));
        gift.received_at = Utc.with_ymd_and_hms(2026, month, 5, 18, 0, 0).unwrap();
        give(&app, gift).await;
    }
    let refunded = give(&app, gift_of(sam.id, 10_000)).await;
    let mut last_year = gift_of(sam.id, 99_900);
    last_year.received_at = Utc.with_ymd_and_hms(2025, 6, 1, 18, 0, 0).unwrap();
    give(&app, last_year).await;
    let mut active: gift::ActiveModel = refunded.gift.clone().into();
    active.refunded_minor = Set(4_000);
    active.status = Set(GiftStatus::PartiallyRefunded);
    active.update(&app.db).await.unwrap();
    let admin = app.token(StaffRole::Admin).await;
    let staff = app.token(StaffRole::Staff).await;
    let run = "mutation { issueYearEndStatements(input: { year: 2026 }) { issued alreadyIssued } }";
    let year = Utc::now().year();
    assert!(year >= 2026);

    let refused = app.graphql(&staff, run, json!({})).await;
    assert_eq!(tests::error_codes(&refused), vec!["FORBIDDEN"]);
    let first = app.graphql(&admin, run, json!({})).await;
    let second = app.graphql(&admin, run, json!({})).await;

    assert_eq!(
        first["data"]["issueYearEndStatements"],
        json!({ "issued": 2, "alreadyIssued": 0 }),
        "{first}"
    );
    assert_eq!(
        second["data"]["issueYearEndStatements"],
        json!({ "issued": 0, "alreadyIssued": 2 })
    );
    let statements = receipt::Entity::find()
        .filter(receipt::Column::Kind.eq(ReceiptKind::YearEndStatement))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(statements.len(), 2);
    let maria_statement = statements.iter().find(|s| s.donor_id == maria.id).unwrap();
    assert_eq!(maria_statement.amount_minor, 2_000 + 8_000 + 18_000);
    assert!(
        maria_statement
            .content_text
            .contains("Resumen anual de donaciones 2026")
    );
    assert_eq!(
        maria_statement.content_text.matches("| General").count(),
        3,
        "{}",
        maria_statement.content_text
    );
    let sam_statement = statements.iter().find(|s| s.donor_id == sam.id).unwrap();
    // Refunds are netted, and last year's gift is not this year's.
    assert_eq!(sam_statement.amount_minor, 6_000);
    assert!(!sam_statement.content_text.contains("$999.00"));
    let listed = app
        .graphql(&staff, "{ receipts(filter: {kind: YEAR_END_STATEMENT, taxYear: 2026}) { totalCount nodes { number donorName amount { amountMinor } deductible { amountMinor } } } }", json!({}))
        .await;
    assert_eq!(listed["data"]["receipts"]["totalCount"], 2, "{listed}");
    let listed = listed["data"]["receipts"]["nodes"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    let sam_listed = listed
        .iter()
        .find(|r| r["number"] == sam_statement.number.as_str())
        .unwrap();
    assert_eq!(sam_listed["amount"]["amountMinor"], 6_000);
}

/// A gift of last year, the tax year whose statements are issued in January.
pub(crate) fn last_year_gift(donor_id: i64, cents: i64) -> api::domain::gifts::NewGift {
    let mut gift = gift_of(donor_id, cents);
    gift.received_at = Utc.with_ymd_and_hms(2025, 6, 1, 18, 0, 0).unwrap();
    gift
}

/// The donor's bank takes a gift's money back for good, recorded in `txn` as a lost
/// dispute is.
async fn reverse(txn: &WriteTransaction, gift: &gift::Model) {
    let mut row: gift::ActiveModel = gift.clone().into();
    row.status = Set(GiftStatus::Disputed);
    let gift = row.update(txn).await.unwrap();
    receipts::on_payment_reversed(txn, &organization(), &gift)
        .await
        .unwrap();
}

/// The donor's statements of 2025 that stand.
pub(crate) async fn standing_statements(app: &TestApp, donor_id: i64) -> Vec<receipt::Model> {
    receipts::valid_statements_of(2025)
        .filter(receipt::Column::DonorId.eq(donor_id))
        .all(&app.db)
        .await
        .unwrap()
}

/// A donor who gave $50.00 and then $100.00 last year: the donor, and the second gift.
pub(crate) async fn two_gifts_of_last_year(app: &TestApp) -> (donor::Model, gift::Model) {
    let donor = add_donor(app, "Ana Ruiz", "ana@example.org", Language::English).await;
    give(app, last_year_gift(donor.id, 5_000)).await;
    let second = give(app, last_year_gift(donor.id, 10_000)).await;
    (donor, second.gift)
}

/// Runs `statement` beside a reversal of `gift` being recorded: the reversal's
/// transaction is open when it starts, and commits while it runs or waits.
async fn beside_a_reversal<T: Send + 'static>(
    app: &TestApp,
    gift: &gift::Model,
    statement: impl Future<Output = T> + Send + 'static,
) -> T {
    let txn = begin_write(&app.db).await.unwrap();
    reverse(&txn, gift).await;
    while_open(txn, statement).await
}

/// Runs `statement` while `txn`, which has written a change, is still open, and commits
/// `txn` while `statement` runs or waits for it: whichever happens, the outcome must be
/// the same.
pub(crate) async fn while_open<T: Send + 'static>(
    txn: WriteTransaction,
    statement: impl Future<Output = T> + Send + 'static,
) -> T {
    let statement = tokio::spawn(statement);
    tokio::time::sleep(OTHER_TRANSACTION_RUNS).await;
    txn.commit().await.unwrap();
    statement.await.unwrap()
}

async fn a_statement_run_states_a_reversal_still_being_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    let (donor, reversed) = two_gifts_of_last_year(&app).await;

    let db = app.db.clone();
    let run = beside_a_reversal(&app, &reversed, async move {
        receipts::issue_year_end_statements(&db, &organization(), 2025, &Actor::cli()).await
    })
    .await
    .unwrap();

    assert_eq!(run.issued, 1);
    let standing = standing_statements(&app, donor.id).await;
    let amounts: Vec<i64> = standing.iter().map(|s| s.amount_minor).collect();
    assert_eq!(amounts, vec![5_000], "the reversed gift is not stated");
}

async fn one_donors_statement_states_a_reversal_still_being_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    let (donor, reversed) = two_gifts_of_last_year(&app).await;

    let db = app.db.clone();
    let statement = beside_a_reversal(&app, &reversed, async move {
        let txn = begin_write(&db).await.unwrap();
        let issued = receipts::issue_year_end_statement(&txn, &organization(), &donor, 2025)
            .await
            .unwrap();
        txn.commit().await.unwrap();
        issued
    })
    .await
    .expect("a statement of the gift kept");

    assert_eq!(
        statement.amount_minor, 5_000,
        "the reversed gift is not stated"
    );
}

/// Issues the donor's statement of 2025 in a transaction that is open when `other`
/// starts, and commits while `other` runs or waits for it: the statement as issued.
pub(crate) async fn beside_a_statement_being_issued(
    app: &TestApp,
    donor: &donor::Model,
    other: impl Future<Output = ()> + Send + 'static,
) -> receipt::Model {
    let txn = begin_write(&app.db).await.unwrap();
    let statement = receipts::issue_year_end_statement(&txn, &organization(), donor, 2025)
        .await
        .unwrap()
        .expect("a statement of the donor's gifts");
    while_open(txn, other).await;
    statement
}

async fn a_reversal_during_a_statement_run_corrects_the_statement(backend: Backend) {
    let app = spawn_app(backend).await;
    let (donor, reversed) = two_gifts_of_last_year(&app).await;

    let db = app.db.clone();
    let statement = beside_a_statement_being_issued(&app, &donor, async move {
        let txn = begin_write(&db).await.unwrap();
        reverse(&txn, &reversed).await;
        txn.commit().await.unwrap();
    })
    .await;

    assert_eq!(statement.amount_minor, 15_000);
    let standing = standing_statements(&app, donor.id).await;
    let stated: Vec<(i64, Option<i64>)> = standing
        .iter()
        .map(|s| (s.amount_minor, s.replaces_receipt_id))
        .collect();
    assert_eq!(
        stated,
        vec![(5_000, Some(statement.id))],
        "the statement issued beside the reversal is replaced by one without the gift"
    );
}

async fn a_staff_void_beside_a_refund_keeps_the_refunds_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let given = give(&app, gift_of(donor.id, 10_000)).await;
    let receipt = given.receipt.expect("a receipt");

    let txn = begin_write(&app.db).await.unwrap();
    let mut row: gift::ActiveModel = given.gift.clone().into();
    row.refunded_minor = Set(10_000);
    row.status = Set(GiftStatus::Refunded);
    let refunded = row.update(&txn).await.unwrap();
    receipts::on_refund(&txn, &organization(), &refunded)
        .await
        .unwrap();
    let db = app.db.clone();
    let number = receipt.number.clone();
    let voided_by_staff = while_open(txn, async move {
        receipts::void_receipt(&db, &number, "entered twice", &Actor::cli()).await
    })
    .await;

    assert!(
        matches!(
            voided_by_staff,
            Err(api::domain::DomainError::Conflict { .. })
        ),
        "{voided_by_staff:?}"
    );
    let now = receipt::Entity::find_by_id(receipt.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.status, ReceiptStatus::Void);
    assert_eq!(
        now.void_reason.as_deref(),
        Some("the gift was refunded in full")
    );
}

/// Staff re-issue a receipt while a partial refund of its gift is being recorded, and
/// another gift of the year holds the receipt counter: the refund waits for the counter
/// first, staff next. The refund's correction stands: staff are told the receipt is
/// already void, or, when staff take the counter first after all, the refund corrects
/// staff's replacement.
async fn a_staff_reissue_beside_a_refund_keeps_the_refunds_correction(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let other = add_donor(&app, "Sam Lee", "sam@example.org", Language::English).await;
    let given = give(&app, gift_of(donor.id, 10_000)).await;
    let receipt = given.receipt.expect("a receipt");

    let holding = begin_write(&app.db).await.unwrap();
    api::domain::gifts::record_gift(&holding, &organization(), gift_of(other.id, 500))
        .await
        .unwrap();
    let db = app.db.clone();
    let gift = given.gift.clone();
    let refund = tokio::spawn(async move {
        let txn = begin_write(&db).await?;
        let mut row: gift::ActiveModel = gift.into();
        row.refunded_minor = Set(4_000);
        row.status = Set(GiftStatus::PartiallyRefunded);
        let refunded = row.update(&*txn).await?;
        let outcome = receipts::on_refund(&txn, &organization(), &refunded).await?;
        txn.commit().await?;
        Ok::<_, api::domain::DomainError>(outcome)
    });
    until_finished_or_waiting(&app.db, &refund).await;
    let db = app.db.clone();
    let number = receipt.number.clone();
    let reissued = while_open(holding, async move {
        receipts::reissue_receipt(
            &db,
            &organization(),
            &number,
            "the name was misspelled",
            &Actor::cli(),
        )
        .await
    })
    .await;

    let refunded = refund.await.unwrap().expect("the refund is recorded");
    assert!(
        matches!(refunded, RefundOutcome::Reissued { .. }),
        "{refunded:?}"
    );
    match (&reissued, &refunded) {
        // Staff came second: the receipt was void by then.
        (Err(api::domain::DomainError::Conflict { .. }), _) => {}
        // Staff took the counter first: PostgreSQL does not promise that the first to
        // wait for a row another transaction changed is the first to take it. The
        // refund then corrected staff's replacement.
        (Ok(replacement), RefundOutcome::Reissued { voided, .. }) => {
            assert_eq!(voided.id, replacement.id, "{refunded:?}");
        }
        _ => panic!("staff: {reissued:?}, refund: {refunded:?}"),
    }
    let standing: Vec<i64> = receipt::Entity::find()
        .filter(receipt::Column::GiftId.eq(given.gift.id))
        .filter(receipt::Column::Status.eq(ReceiptStatus::Issued))
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.amount_minor)
        .collect();
    assert_eq!(
        standing,
        vec![6_000],
        "one receipt stands, for the net gift"
    );
}

/// A receipt number copied from an Arabic email's subject, where invisible marks keep it
/// reading left to right, finds the receipt.
async fn a_receipt_number_copied_from_an_arabic_subject_finds_the_receipt(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::Arabic).await;
    let receipt = give(&app, gift_of(donor.id, 10_000))
        .await
        .receipt
        .expect("a receipt");

    let copied = format!(" \u{2066}{}\u{2069} ", receipt.number);
    let found = receipts::find_by_number(&app.db, &copied).await.unwrap();

    assert_eq!(found.id, receipt.id);
    let maybe = receipts::find_receipt_by_number(&app.db, &copied)
        .await
        .unwrap();
    assert_eq!(maybe.map(|r| r.id), Some(receipt.id));
}

/// Every receipt number of a tax year, in order.
async fn sequences(app: &TestApp, year: i32) -> Vec<i32> {
    let mut numbers: Vec<i32> = receipt::Entity::find()
        .filter(receipt::Column::TaxYear.eq(year))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.sequence)
        .collect();
    numbers.sort_unstable();
    numbers
}

async fn a_statement_the_database_refuses_stops_the_run_without_a_gap(backend: Backend) {
    let app = spawn_app(backend).await;
    // More donors than one transaction issues, so the run takes several batches.
    let mut donors = Vec::new();
    for n in 0..120 {
        let donor = add_donor(
            &app,
            &format!("Donor {n:03}"),
            &format!("donor{n}@example.org"),
            Language::English,
        )
        .await;
        give(&app, gift_of(donor.id, 5_000 + n)).await;
        donors.push(donor);
    }
    // The database refuses the statement of the 60th donor, in the second batch.
    let refused = donors[59].id;
    let refuse = match app.db.get_database_backend() {
        DbBackend::Sqlite => vec![format!(
            "CREATE TRIGGER refuse_statement BEFORE INSERT ON receipts \
             WHEN NEW.donor_id = {refused} AND NEW.kind = 'year_end_statement' \
             BEGIN SELECT RAISE(ABORT, 'statement refused'); END"
        )],
        _ => vec![
            "CREATE FUNCTION refuse_statement() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'statement refused'; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER refuse_statement BEFORE INSERT ON receipts FOR EACH ROW \
                 WHEN (NEW.donor_id = {refused} AND NEW.kind = 'year_end_statement') \
                 EXECUTE FUNCTION refuse_statement()"
            ),
        ],
    };
    for sql in refuse {
        app.db.execute_unprepared(&sql).await.unwrap();
    }
    let admin = app.token(StaffRole::Admin).await;
    let run = "mutation { issueYearEndStatements(input: { year: 2026 }) { issued alreadyIssued } }";

    let failed = app.graphql(&admin, run, json!({})).await;

    assert!(failed["errors"].is_array(), "{failed}");
    let issued = receipt::Entity::find()
        .filter(receipt::Column::Kind.eq(ReceiptKind::YearEndStatement))
        .all(&app.db)
        .await
        .unwrap();
    // The donors before the refused one have their statements, one each; the refused
    // batch was issued again one donor at a time up to the refused donor.
    let mut stated: Vec<i64> = issued.iter().map(|r| r.donor_id).collect();
    stated.sort_unstable();
    let before: Vec<i64> = donors[..59].iter().map(|d| d.id).collect();
    assert_eq!(stated, before);
    assert_eq!(
        sequences(&app, 2026).await,
        (1..=120 + 59).collect::<Vec<_>>()
    );

    let allow = match app.db.get_database_backend() {
        DbBackend::Sqlite => "DROP TRIGGER refuse_statement",
        _ => "DROP TRIGGER refuse_statement ON receipts",
    };
    app.db.execute_unprepared(allow).await.unwrap();
    let again = app.graphql(&admin, run, json!({})).await;

    assert_eq!(
        again["data"]["issueYearEndStatements"],
        json!({ "issued": 61, "alreadyIssued": 59 }),
        "{again}"
    );
    assert_eq!(sequences(&app, 2026).await, (1..=240).collect::<Vec<_>>());
    let per_donor = receipt::Entity::find()
        .filter(receipt::Column::Kind.eq(ReceiptKind::YearEndStatement))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(per_donor, 120);
}

/// Donors numbered `numbers`, in English and Spanish by turns, each with two gifts this
/// year: 50.00 plus the donor's number in cents, and 10.00.
async fn add_givers(app: &TestApp, numbers: std::ops::Range<i64>) {
    for n in numbers {
        let language = [Language::English, Language::Spanish][(n % 2) as usize];
        let donor = add_donor(
            app,
            &format!("Donor {n:03}"),
            &format!("donor{n}@example.org"),
            language,
        )
        .await;
        give(app, gift_of(donor.id, 5_000 + n)).await;
        give(app, gift_of(donor.id, 1_000)).await;
    }
}

/// The SQL statements one run of year-end statements takes.
async fn statements_for_a_run(app: &TestApp, statements: &AtomicUsize, token: &str) -> usize {
    let run = "mutation { issueYearEndStatements(input: { year: 2026 }) { issued alreadyIssued } }";
    let before = statements.load(Ordering::SeqCst);
    let body = app.graphql(token, run, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    statements.load(Ordering::SeqCst) - before
}

async fn a_batch_of_statements_is_read_and_written_once(backend: Backend) {
    let (app, statements) = spawn_counting_app_with(backend, &[]).await;
    let admin = app.token(StaffRole::Admin).await;
    add_givers(&app, 0..10).await;
    let ten = statements_for_a_run(&app, &statements, &admin).await;
    add_givers(&app, 10..50).await;
    // The first ten are stated already and skipped before any transaction: both runs
    // take one batch.
    let forty = statements_for_a_run(&app, &statements, &admin).await;

    // What the batch reads (the donors, their statements, their gifts, the funds) is
    // read once, and its statements are numbered, inserted and queued together: a batch
    // of 40 takes the SQL statements a batch of 10 does.
    assert_eq!(
        forty, ten,
        "10 statements took {ten} SQL statements, 40 took {forty}"
    );
    let stated = receipt::Entity::find()
        .filter(receipt::Column::Kind.eq(ReceiptKind::YearEndStatement))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(stated.len(), 50);
    // Numbered in one turn of the counter each run, the year's numbers still have no gap.
    let mut sequences: Vec<i32> = receipt::Entity::find()
        .filter(receipt::Column::TaxYear.eq(2026))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.sequence)
        .collect();
    sequences.sort_unstable();
    assert_eq!(sequences, (1..=150).collect::<Vec<i32>>());
    for statement in stated {
        // Queued together, each statement's email goes to its own donor.
        let email = outbox::Entity::find()
            .filter(outbox::Column::IdempotencyKey.eq(format!("receipt:{}", statement.id)))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(email.donor_id, Some(statement.donor_id));
        assert_eq!(email.payload, json!({ "receipt_id": statement.id }));
        let n: i64 = statement.donor_name["Donor ".len()..].parse().unwrap();
        assert_eq!(email.to_address, format!("donor{n}@example.org"));
        assert_eq!(
            statement.amount_minor,
            6_000 + n,
            "{}",
            statement.donor_name
        );
        let heading = if n % 2 == 0 {
            "Year-end giving statement 2026"
        } else {
            "Resumen anual de donaciones 2026"
        };
        assert!(
            statement.content_text.contains(heading),
            "{}",
            statement.content_text
        );
    }
}

const LINK_KEY: &str = "a-download-link-key-of-at-least-32-characters";

async fn a_donor_downloads_a_receipt_through_a_signed_link(backend: Backend) {
    let app = spawn_app_with(backend, &[("DOWNLOAD_LINK_KEY", LINK_KEY)]).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let original = give(&app, gift_of(donor.id, 5_000)).await.receipt.unwrap();
    let staff = app.token(StaffRole::Staff).await;

    let body = app
        .graphql(
            &staff,
            "query($n: String!) { receipt(number: $n) { pdfLink(hours: 2) } }",
            json!({ "n": original.number }),
        )
        .await;
    let link = body["data"]["receipt"]["pdfLink"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = &link[link.find("/receipts/").unwrap()..];

    let response = app.get(path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert_eq!(
        response.bytes().await.unwrap().to_vec(),
        receipt_pdf(&app.db, &original).await
    );

    let tampered = path.replace(&original.number, "2026-000002");
    assert_eq!(app.get(&tampered).await.status(), 403);
    // Genuinely signed, one second past its expiry: refused for its expiry alone.
    let past = Utc::now() - chrono::Duration::seconds(1);
    let expired = format!(
        "/{}",
        mailer::links::path(LINK_KEY, &original.number, past, 0)
    );
    let still_valid = format!(
        "/{}",
        mailer::links::path(
            LINK_KEY,
            &original.number,
            Utc::now() + chrono::Duration::minutes(5),
            0
        )
    );
    assert_eq!(app.get(&still_valid).await.status(), 200);
    assert_eq!(app.get(&expired).await.status(), 403);
    // The same link spelled another way is not the link that was signed.
    let (head, signature) = still_valid.split_once("&signature=").unwrap();
    let expires = head.rsplit_once("expires=").unwrap().1;
    for spelling in [
        still_valid.replacen(
            &format!("expires={expires}"),
            &format!("expires=+{expires}"),
            1,
        ),
        still_valid.replacen(
            &format!("expires={expires}"),
            &format!("expires=0{expires}"),
            1,
        ),
        format!("{head}&signature={}", signature.to_uppercase()),
    ] {
        assert_eq!(app.get(&spelling).await.status(), 403, "{spelling}");
    }
}

async fn the_receipt_email_carries_a_working_download_link(backend: Backend) {
    let key = "a-test-key-that-is-long-enough-to-sign-links";
    let app = tests::support::spawn_app_with(backend, &[("DOWNLOAD_LINK_KEY", key)]).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::Spanish).await;
    let issued = give(&app, gift_of(donor.id, 5_000)).await.receipt.unwrap();
    let links = mailer::links::DownloadLinks {
        public_url: url::Url::parse(&app.address).unwrap(),
        key: api::config::Secret::new(key),
        valid_for: chrono::Duration::days(30),
    };
    let org = organization();
    let context = mailer::templates::Context {
        org: &org,
        language: Language::Spanish,
        to_name: Some("Ana Ruiz"),
        links: Some(&links),
    };

    let email = mailer::templates::receipt::render_receipt(context, issued.clone(), 0).unwrap();

    assert!(email.subject.starts_with("Su recibo 2026-000001"));
    let line = email
        .text
        .lines()
        .find(|line| line.starts_with("Descargue el PDF"))
        .unwrap();
    let url = line.rsplit(' ').next().unwrap();
    // The link carries the donor's language, and the download still opens.
    assert!(url.ends_with("&lang=es"), "{url}");
    let path = &url[url.find("/receipts/").unwrap()..];
    let response = app.get(path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.bytes().await.unwrap().to_vec(),
        receipt_pdf(&app.db, &issued).await
    );
}

on_both_backends!(
    the_receipt_email_carries_a_working_download_link,
    a_plain_gift_receipt_states_what_the_irs_asks,
    a_gift_over_75_dollars_with_benefits_carries_the_quid_pro_quo_disclosure,
    a_tribute_gift_names_the_person_it_honors,
    a_spanish_donor_gets_a_spanish_receipt,
    an_arabic_donor_reads_right_to_left,
    monthly_installments_after_the_first_wait_for_the_statement,
    staff_reissue_a_receipt_under_a_new_number_that_points_back,
    only_admins_void_a_receipt_outright,
    a_resent_receipt_carries_the_same_stored_document,
    a_full_refund_voids_the_receipt_and_a_partial_one_reissues_it,
    year_end_statements_run_twice_issue_each_donor_one,
    a_statement_run_states_a_reversal_still_being_recorded,
    one_donors_statement_states_a_reversal_still_being_recorded,
    a_reversal_during_a_statement_run_corrects_the_statement,
    a_staff_void_beside_a_refund_keeps_the_refunds_reason,
    a_staff_reissue_beside_a_refund_keeps_the_refunds_correction,
    a_receipt_number_copied_from_an_arabic_subject_finds_the_receipt,
    a_statement_the_database_refuses_stops_the_run_without_a_gap,
    a_batch_of_statements_is_read_and_written_once,
    a_donor_downloads_a_receipt_through_a_signed_link,
);
