//! A year-end statement kept true to its year after it is issued: a gift of that year
//! recorded later (a late webhook, a check entered in January), or a gift whose date
//! staff move into or out of the year, re-issues it; an import re-issues it once, after
//! its last row.

use std::collections::BTreeSet;

use api::db::{WriteTransaction, begin_write};
use api::domain::Actor;
use api::domain::club::ClubPolicy;
use api::domain::gifts::{Acknowledge, NewGift};
use api::domain::imports::gifts::import_gifts;
use api::domain::imports::{ImportOptions, ImportReport};
use api::domain::offline_gifts::{GiftAdjustment, adjust_offline_gift};
use api::domain::receipts;
use chrono::{TimeZone, Utc};
use entity::enums::{Language, PaymentMethod, ReceiptKind, ReceiptStatus};
use entity::{Currency, donor, outbox, pledge, receipt};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use crate::checkout::app_with_fake_stripe;
use crate::mailer::{add_donor, gift_of, give, organization};
use crate::receipts::{
    beside_a_statement_being_issued, last_year_gift, monthly_pledge, standing_statements,
    two_gifts_of_last_year, while_open,
};
use tests::on_both_backends;
use tests::stripe::{event, paid_invoice, payment_session};
use tests::support::{Backend, TestApp, spawn_app, until_finished_or_waiting};

/// Issues the statements of 2025, the year before the one the tests run in.
async fn issue_statements_of(app: &TestApp, year: i32) {
    receipts::issue_year_end_statements(&app.db, &organization(), year, &Actor::cli())
        .await
        .unwrap();
}

/// The one statement of 2025 that stands for the donor.
async fn the_statement_of_2025(app: &TestApp, donor_id: i64) -> receipt::Model {
    let mut standing = standing_statements(app, donor_id).await;
    assert_eq!(standing.len(), 1, "{standing:?}");
    standing.remove(0)
}

/// What the donor's statements of `year` that stand state, and what each replaces.
async fn stated_in(app: &TestApp, donor_id: i64, year: i32) -> Vec<(i64, Option<i64>)> {
    receipts::valid_statements_of(year)
        .filter(receipt::Column::DonorId.eq(donor_id))
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|s| (s.amount_minor, s.replaces_receipt_id))
        .collect()
}

/// [`stated_in`] 2025.
async fn stated(app: &TestApp, donor_id: i64) -> Vec<(i64, Option<i64>)> {
    stated_in(app, donor_id, 2025).await
}

async fn receipt_now(app: &TestApp, id: i64) -> receipt::Model {
    receipt::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

/// The notice queued to the donor when receipt `id` was voided.
async fn void_notice(app: &TestApp, id: i64) -> serde_json::Value {
    outbox::Entity::find()
        .filter(outbox::Column::IdempotencyKey.eq(format!("receipt_voided:{id}")))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the donor is told")
        .payload
}

async fn a_gift_recorded_after_its_years_statement_reissues_the_statement(backend: Backend) {
    let app = spawn_app(backend).await;
    let (donor, _) = two_gifts_of_last_year(&app).await;
    issue_statements_of(&app, 2025).await;
    let first = the_statement_of_2025(&app, donor.id).await;
    assert_eq!(first.amount_minor, 15_000);

    let late = give(&app, last_year_gift(donor.id, 2_500)).await;

    assert!(late.receipt.is_some(), "the late gift has its own receipt");
    assert_eq!(stated(&app, donor.id).await, vec![(17_500, Some(first.id))]);
    let voided = receipt_now(&app, first.id).await;
    assert_eq!(voided.status, ReceiptStatus::Void);
    assert_eq!(
        voided.void_reason.as_deref(),
        Some("a gift of that year was recorded after the statement was issued")
    );
    let replacement = the_statement_of_2025(&app, donor.id).await;
    assert!(
        replacement.number.starts_with("2025-"),
        "{}",
        replacement.number
    );
    let notice = void_notice(&app, first.id).await;
    assert_eq!(notice["replacement_receipt_id"], replacement.id);
    assert_eq!(notice["reason"]["code"], "gift_added");
}

/// A donor whose monthly pledge paid January and February of 2025: the donor and the
/// pledge.
async fn pledge_of_last_year(app: &TestApp) -> (donor::Model, pledge::Model) {
    let donor = add_donor(app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let starts_on = Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .unwrap()
        .date_naive();
    let pledge = monthly_pledge(app, &donor, 5_000, starts_on).await;
    for month in [1, 2] {
        give(app, installment_of_2025(&donor, &pledge, month)).await;
    }
    (donor, pledge)
}

/// The pledge's installment of `month` 2025, which waits for the statement.
fn installment_of_2025(donor: &donor::Model, pledge: &pledge::Model, month: u32) -> NewGift {
    let mut gift = last_year_gift(donor.id, 5_000);
    gift.pledge_id = Some(pledge.id);
    gift.received_at = Utc.with_ymd_and_hms(2025, month, 2, 18, 0, 0).unwrap();
    gift
}

async fn a_late_installment_reissues_the_statement_that_acknowledges_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let (donor, pledge) = pledge_of_last_year(&app).await;
    issue_statements_of(&app, 2025).await;
    let first = the_statement_of_2025(&app, donor.id).await;
    assert_eq!(first.amount_minor, 10_000);

    let late = give(&app, installment_of_2025(&donor, &pledge, 3)).await;

    assert!(late.receipt.is_none(), "the statement acknowledges it");
    assert_eq!(stated(&app, donor.id).await, vec![(15_000, Some(first.id))]);
    let replacement = the_statement_of_2025(&app, donor.id).await;
    assert_eq!(
        replacement.content_text.matches("| General").count(),
        3,
        "{}",
        replacement.content_text
    );
}

async fn a_gift_of_another_year_or_donor_leaves_the_statement_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    let (donor, _) = two_gifts_of_last_year(&app).await;
    let other = add_donor(&app, "Sam Lee", "sam@example.org", Language::English).await;
    give(&app, last_year_gift(other.id, 1_000)).await;
    issue_statements_of(&app, 2025).await;
    let first = the_statement_of_2025(&app, donor.id).await;
    let others = the_statement_of_2025(&app, other.id).await;

    give(&app, gift_of(donor.id, 2_500)).await;
    give(&app, last_year_gift(other.id, 4_000)).await;

    assert_eq!(stated(&app, donor.id).await, vec![(15_000, None)]);
    assert_eq!(
        receipt_now(&app, first.id).await.status,
        ReceiptStatus::Issued
    );
    assert_eq!(stated(&app, other.id).await, vec![(5_000, Some(others.id))]);
}

async fn a_gift_moved_to_another_year_leaves_both_years_statements_true(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let mut check = last_year_gift(donor.id, 5_000);
    check.method = PaymentMethod::Check;
    check.check_number = Some("1042".to_owned());
    let check = give(&app, check).await;
    give(&app, last_year_gift(donor.id, 3_000)).await;
    give(&app, gift_of(donor.id, 7_000)).await;
    issue_statements_of(&app, 2025).await;
    issue_statements_of(&app, 2026).await;
    let of_2025 = the_statement_of_2025(&app, donor.id).await;
    assert_eq!(of_2025.amount_minor, 8_000);
    let of_2026 = receipts::valid_statements_of(2026)
        .filter(receipt::Column::DonorId.eq(donor.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();

    adjust_offline_gift(
        &app.db,
        &organization(),
        &Actor::cli(),
        check.gift.id,
        GiftAdjustment {
            received_at: Some(Utc.with_ymd_and_hms(2026, 1, 3, 18, 0, 0).unwrap()),
            ..GiftAdjustment::default()
        },
    )
    .await
    .unwrap();

    assert_eq!(
        stated(&app, donor.id).await,
        vec![(3_000, Some(of_2025.id))],
        "the check is no longer stated in 2025"
    );
    assert_eq!(
        stated_in(&app, donor.id, 2026).await,
        vec![(12_000, Some(of_2026.id))],
        "the check is stated in 2026"
    );
    let receipts_of_the_check: Vec<(ReceiptStatus, i32, String)> = receipt::Entity::find()
        .filter(receipt::Column::GiftId.eq(check.gift.id))
        .filter(receipt::Column::Kind.eq(ReceiptKind::Gift))
        .order_by_asc(receipt::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.status, r.tax_year, r.number[..5].to_owned()))
        .collect();
    assert_eq!(
        receipts_of_the_check,
        vec![
            (ReceiptStatus::Void, 2025, "2025-".to_owned()),
            (ReceiptStatus::Issued, 2026, "2026-".to_owned()),
        ],
        "the check's receipt is re-issued in the year it now belongs to"
    );
}

/// A checkout session of `email` for `cents`, paid or waiting for the bank, made on
/// June 1, 2025.
fn checkout_of_2025(id: &str, email: &str, cents: i64, paid: bool) -> serde_json::Value {
    let mut session = payment_session(id, email, cents, paid);
    session["created"] = Utc
        .with_ymd_and_hms(2025, 6, 1, 18, 0, 0)
        .unwrap()
        .timestamp()
        .into();
    session
}

async fn a_bank_payment_of_a_stated_year_that_clears_later_reissues_the_statement(
    backend: Backend,
) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let email = "luis@example.org";
    for (id, session) in [
        ("evt_card", checkout_of_2025("cs_card", email, 5_000, true)),
        (
            "evt_bank",
            checkout_of_2025("cs_bank", email, 10_000, false),
        ),
    ] {
        let response = app
            .deliver(&event(id, "checkout.session.completed", session))
            .await;
        assert_eq!(response.status(), 200);
    }
    issue_statements_of(&app, 2025).await;
    let donor = donor::Entity::find().one(&app.db).await.unwrap().unwrap();
    let first = the_statement_of_2025(&app, donor.id).await;
    assert_eq!(
        first.amount_minor, 5_000,
        "the pending payment is not stated"
    );

    let cleared = app
        .deliver(&event(
            "evt_cleared",
            "checkout.session.async_payment_succeeded",
            checkout_of_2025("cs_bank", email, 10_000, true),
        ))
        .await;

    assert_eq!(cleared.status(), 200);
    assert_eq!(stated(&app, donor.id).await, vec![(15_000, Some(first.id))]);
}

/// Runs `statement` beside `gift` being recorded: the gift's transaction is open when it
/// starts, and commits while it runs or waits.
async fn beside_a_gift<T: Send + 'static>(
    app: &TestApp,
    gift: NewGift,
    statement: impl Future<Output = T> + Send + 'static,
) -> T {
    let txn = begin_write(&app.db).await.unwrap();
    api::domain::gifts::record_gift(&txn, &organization(), gift)
        .await
        .unwrap();
    while_open(txn, statement).await
}

async fn a_statement_run_states_an_installment_still_being_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    let (donor, pledge) = pledge_of_last_year(&app).await;

    let db = app.db.clone();
    let run = beside_a_gift(&app, installment_of_2025(&donor, &pledge, 3), async move {
        receipts::issue_year_end_statements(&db, &organization(), 2025, &Actor::cli()).await
    })
    .await
    .unwrap();

    assert_eq!(run.issued, 1);
    assert_eq!(
        stated(&app, donor.id).await,
        vec![(15_000, None)],
        "the installment is stated"
    );
}

/// The statement of the pledge's first two installments, issued beside the third, is
/// replaced by one with all three.
async fn replaced_with_the_third_installment(
    app: &TestApp,
    donor: &donor::Model,
    statement: &receipt::Model,
) {
    assert_eq!(statement.amount_minor, 10_000);
    assert_eq!(
        stated(app, donor.id).await,
        vec![(15_000, Some(statement.id))],
        "the statement issued beside the installment is replaced by one with it"
    );
}

async fn an_installment_recorded_during_a_statement_run_reissues_the_statement(backend: Backend) {
    let app = spawn_app(backend).await;
    let (donor, pledge) = pledge_of_last_year(&app).await;

    let db = app.db.clone();
    let late = installment_of_2025(&donor, &pledge, 3);
    let statement = beside_a_statement_being_issued(&app, &donor, async move {
        let txn = begin_write(&db).await.unwrap();
        api::domain::gifts::record_gift(&txn, &organization(), late)
            .await
            .unwrap();
        txn.commit().await.unwrap();
    })
    .await;

    replaced_with_the_third_installment(&app, &donor, &statement).await;
}

async fn an_installment_stripe_delivers_during_a_statement_run_reissues_the_statement(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (donor, pledge) = pledge_of_last_year(&app).await;
    let mut card = pledge::ActiveModel::from(pledge);
    card.stripe_subscription_id = Set(Some("sub_ana".to_owned()));
    card.update(&app.db).await.unwrap();
    // The donor is Stripe's customer already, so the installment changes nothing of the
    // donor's own row.
    let mut customer = donor::ActiveModel::from(donor.clone());
    customer.stripe_customer_id = Set(Some("cus_monthly".to_owned()));
    customer.update(&app.db).await.unwrap();
    let mut invoice = paid_invoice("in_march", "sub_ana", "ana@example.org", 5_000);
    invoice["status_transitions"]["paid_at"] = serde_json::json!(
        Utc.with_ymd_and_hms(2025, 3, 2, 18, 0, 0)
            .unwrap()
            .timestamp()
    );
    let body = serde_json::to_vec(&event("evt_march", "invoice.paid", invoice)).unwrap();

    // Through the path a delivered installment takes: the pledge by its subscription,
    // the donor read as its row is held, the gift, then its acknowledgment.
    let statement = delivered_beside_a_statement(&app, &donor, body).await;

    replaced_with_the_third_installment(&app, &donor, &statement).await;
}

/// Records the Stripe event `body` as a delivered event is recorded, while the donor's
/// statement of 2025 is being issued: the statement as issued.
async fn delivered_beside_a_statement(
    app: &TestApp,
    donor: &donor::Model,
    body: Vec<u8>,
) -> receipt::Model {
    let db = app.db.clone();
    beside_a_statement_being_issued(app, donor, async move {
        let delivered = api::stripe::events::parse_event(&body).expect("a Stripe event");
        let outcome = api::domain::payments::record_processor_event(
            &db,
            &organization(),
            Currency::Usd,
            &ClubPolicy::default(),
            delivered,
        )
        .await
        .unwrap();
        assert!(
            matches!(
                outcome,
                api::domain::payments::EventOutcome::Recorded { .. }
            ),
            "{outcome:?}"
        );
    })
    .await
}

/// Ana, who gave $50 in 2025 and is Stripe's customer `cus_cs_june` already, so that a
/// checkout of hers changes nothing of her own row.
async fn stated_customer(app: &TestApp) -> donor::Model {
    let donor = add_donor(app, "Ana Ruiz", "ana@example.org", Language::English).await;
    give(app, last_year_gift(donor.id, 5_000)).await;
    let mut customer = donor::ActiveModel::from(donor);
    customer.stripe_customer_id = Set(Some("cus_cs_june".to_owned()));
    customer.update(&app.db).await.unwrap()
}

/// A checkout of a known donor, made in a stated year and delivered while the donor's
/// statement is being issued: its gift is in the statement, or the statement is
/// replaced by one with it. On PostgreSQL the checkout's first read of the donor holds
/// the row, so it waits for the statement and then finds it.
async fn a_checkout_stripe_delivers_during_a_statement_run_reissues_the_statement(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let donor = stated_customer(&app).await;
    let session = checkout_of_2025("cs_june", "ana@example.org", 10_000, true);
    let body =
        serde_json::to_vec(&event("evt_june", "checkout.session.completed", session)).unwrap();

    let statement = delivered_beside_a_statement(&app, &donor, body).await;

    assert_eq!(statement.amount_minor, 5_000);
    assert_eq!(
        stated(&app, donor.id).await,
        vec![(15_000, Some(statement.id))],
        "the statement issued beside the checkout is replaced by one with it"
    );
}

/// Checkouts of two donors, made in a stated year and recorded together, while another
/// transaction holds the second one's donor and then issues that donor's statement,
/// taking the year's receipt counter. The checkouts take both donors before they number
/// either receipt, so the statement gets the counter while they wait for its donor, and
/// the statement is then replaced by one with the gift. Numbering the first checkout's
/// receipt before taking the second donor would hold the counter the statement waits
/// for, while waiting for the donor it holds: on PostgreSQL, a deadlock.
async fn checkouts_recorded_together_take_their_donors_before_the_receipt_counter(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let donor = stated_customer(&app).await;
    // Recorded in the order of their ids: Ben's first.
    let events: Vec<_> = [
        (
            "evt_june",
            checkout_of_2025("cs_june", "ana@example.org", 10_000, true),
        ),
        (
            "evt_ben",
            checkout_of_2025("cs_ben", "ben@example.org", 2_000, true),
        ),
    ]
    .into_iter()
    .map(|(id, session)| {
        let body = serde_json::to_vec(&event(id, "checkout.session.completed", session)).unwrap();
        api::stripe::events::parse_event(&body).expect("a Stripe event")
    })
    .collect();

    let txn = begin_write(&app.db).await.unwrap();
    receipts::hold_donor(&txn, donor.id).await.unwrap();
    let db = app.db.clone();
    let together = tokio::spawn(async move {
        let mut events = events;
        events.sort_by(|a, b| a.id.cmp(&b.id));
        api::domain::payments::record_together(
            &db,
            &organization(),
            Currency::Usd,
            &ClubPolicy::default(),
            events,
        )
        .await
    });
    until_finished_or_waiting(&app.db, &together).await;
    let statement = receipts::issue_year_end_statement(&txn, &organization(), &donor, 2025)
        .await
        .expect("the statement takes the counter")
        .expect("a statement of the donor's gift");
    txn.commit().await.unwrap();
    let recorded = together.await.unwrap();

    assert!(recorded.together, "{recorded:?}");
    for outcome in &recorded.outcomes {
        assert!(
            matches!(
                outcome,
                Ok(api::domain::payments::EventOutcome::Recorded { .. })
            ),
            "{outcome:?}"
        );
    }
    assert_eq!(statement.amount_minor, 5_000);
    assert_eq!(
        stated(&app, donor.id).await,
        vec![(15_000, Some(statement.id))],
        "the statement issued beside the checkouts is replaced by one with Ana's"
    );
    let numbers = receipt_numbers(&app).await;
    let gapless: Vec<String> = (1..=numbers.len())
        .map(|n| format!("2025-{n:06}"))
        .collect();
    assert_eq!(numbers, gapless, "2025's numbers stay gapless");
}

/// Every receipt's number, in order.
async fn receipt_numbers(app: &TestApp) -> Vec<String> {
    receipt::Entity::find()
        .order_by_asc(receipt::Column::Number)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|receipt| receipt.number)
        .collect()
}

/// Imports `csv` (a gift history) with receipts, as staff would.
async fn import_with_receipts(
    db: &sea_orm::DatabaseConnection,
    csv: &str,
) -> Result<ImportReport, api::domain::DomainError> {
    let options = ImportOptions {
        issue_receipts: true,
        ..ImportOptions::default()
    };
    import_gifts(
        db,
        &organization(),
        Currency::Usd,
        &Actor::cli(),
        csv.as_bytes(),
        options,
    )
    .await
}

/// An import of `csv`, with receipts, started while another transaction holds the
/// receipt of `gift`, its tax year's counter with it, and given time to run until it
/// ends or waits: that transaction, still open, and the import.
async fn import_beside_a_receipt(
    app: &TestApp,
    gift: NewGift,
    csv: &'static str,
) -> (
    WriteTransaction,
    tokio::task::JoinHandle<Result<ImportReport, api::domain::DomainError>>,
) {
    let holding = begin_write(&app.db).await.unwrap();
    api::domain::gifts::record_gift(&holding, &organization(), gift)
        .await
        .unwrap();
    let db = app.db.clone();
    let import = tokio::spawn(async move { import_with_receipts(&db, csv).await });
    until_finished_or_waiting(&app.db, &import).await;
    (holding, import)
}

async fn an_import_of_several_gifts_of_a_stated_year_reissues_the_statement_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let (donor, _) = two_gifts_of_last_year(&app).await;
    issue_statements_of(&app, 2025).await;
    let first = the_statement_of_2025(&app, donor.id).await;

    let report = import_with_receipts(
        &app.db,
        "donor_email,amount,method,received_at,check_number\n\
         ana@example.org,25.00,check,2025-11-03,1001\n\
         ana@example.org,40.00,check,2025-12-01,1002\n",
    )
    .await
    .unwrap();

    assert_eq!((report.created, report.receipts_issued), (2, 2), "{report}");
    assert_eq!(
        stated(&app, donor.id).await,
        vec![(21_500, Some(first.id))],
        "one statement replaces the first, with both checks"
    );
    let statements = receipt::Entity::find()
        .filter(receipt::Column::DonorId.eq(donor.id))
        .filter(receipt::Column::Kind.eq(ReceiptKind::YearEndStatement))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(statements, 2, "the first, void, and its one replacement");
    let notices = outbox::Entity::find()
        .filter(outbox::Column::IdempotencyKey.starts_with("receipt_voided:"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(notices, 1, "the donor is told once");
}

/// An import of gifts of two donors, Ana (no gift of 2025 yet) and Sam (who gave in
/// 2025), beside Sam's statement of 2025 being issued, while a third donor's gift of
/// 2025 holds the year's receipt counter. The import waits for the counter first, the
/// statement next; both finish, and the statement states the imported gift.
async fn an_import_beside_a_statement_being_issued_does_not_deadlock(backend: Backend) {
    let app = spawn_app(backend).await;
    add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let sam = add_donor(&app, "Sam Lee", "sam@example.org", Language::English).await;
    let lee = add_donor(&app, "Lee Park", "lee@example.org", Language::English).await;
    give(&app, last_year_gift(sam.id, 1_000)).await;

    let (holding, import) = import_beside_a_receipt(
        &app,
        last_year_gift(lee.id, 500),
        "donor_email,amount,method,received_at\n\
         ana@example.org,25.00,check,2025-11-03\n\
         sam@example.org,40.00,check,2025-12-01\n",
    )
    .await;
    let (db, stated_donor) = (app.db.clone(), sam.clone());
    let statement = while_open(holding, async move {
        let txn = begin_write(&db).await?;
        let issued =
            receipts::issue_year_end_statement(&txn, &organization(), &stated_donor, 2025).await?;
        txn.commit().await?;
        Ok::<_, api::domain::DomainError>(issued)
    })
    .await;

    let imported = import.await.unwrap().expect("the import finishes");
    assert_eq!(imported.created, 2, "{imported}");
    statement.expect("the statement is issued");
    assert_eq!(
        stated(&app, sam.id)
            .await
            .iter()
            .map(|s| s.0)
            .collect::<Vec<_>>(),
        vec![5_000],
        "Sam's statement states the imported check"
    );
}

/// An import receipting gifts of two tax years beside a transaction that receipts the
/// same two years in the other order, as another import of those rows would: whichever
/// order the rows come in, neither holds a year the other is waiting for.
async fn imports_receipting_two_years_in_opposite_orders_do_not_deadlock(backend: Backend) {
    let app = spawn_app(backend).await;
    add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let sam = add_donor(&app, "Sam Lee", "sam@example.org", Language::English).await;

    let (other, import) = import_beside_a_receipt(
        &app,
        last_year_gift(sam.id, 500),
        "donor_email,amount,method,received_at\n\
         ana@example.org,25.00,check,2026-03-02\n\
         ana@example.org,40.00,check,2025-11-03\n",
    )
    .await;
    api::domain::gifts::record_gift(&other, &organization(), gift_of(sam.id, 700))
        .await
        .expect("the other transaction numbers this year's receipt too");
    other.commit().await.unwrap();

    let imported = import.await.unwrap().expect("the import finishes");
    assert_eq!(
        (imported.created, imported.receipts_issued),
        (2, 2),
        "{imported}"
    );
    let numbers = receipt_numbers(&app).await;
    assert_eq!(
        numbers,
        ["2025-000001", "2025-000002", "2026-000001", "2026-000002"],
        "each year's numbers stay gapless"
    );
}

/// Gifts recorded in one transaction and their statements corrected after the last
/// (`on_gifts_received`), beside the donor's statement being issued: the statement
/// issued without them is replaced by one with them, even when no receipt was numbered
/// in the gifts' transaction.
async fn gifts_whose_statements_are_corrected_after_the_last_find_one_being_issued(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (donor, _) = two_gifts_of_last_year(&app).await;

    let db = app.db.clone();
    let mut late = last_year_gift(donor.id, 2_500);
    late.acknowledge = Acknowledge::Never;
    let statement = beside_a_statement_being_issued(&app, &donor, async move {
        let txn = begin_write(&db).await.unwrap();
        let gift = api::domain::gifts::record_gift(&txn, &organization(), late)
            .await
            .unwrap()
            .gift;
        let received = BTreeSet::from([(gift.donor_id, 2025)]);
        receipts::on_gifts_received(&txn, &organization(), &received)
            .await
            .unwrap();
        txn.commit().await.unwrap();
    })
    .await;

    assert_eq!(statement.amount_minor, 15_000);
    assert_eq!(
        stated(&app, donor.id).await,
        vec![(17_500, Some(statement.id))]
    );
}

on_both_backends!(
    gifts_whose_statements_are_corrected_after_the_last_find_one_being_issued,
    an_import_of_several_gifts_of_a_stated_year_reissues_the_statement_once,
    an_import_beside_a_statement_being_issued_does_not_deadlock,
    imports_receipting_two_years_in_opposite_orders_do_not_deadlock,
    a_gift_recorded_after_its_years_statement_reissues_the_statement,
    a_late_installment_reissues_the_statement_that_acknowledges_it,
    a_gift_of_another_year_or_donor_leaves_the_statement_alone,
    a_gift_moved_to_another_year_leaves_both_years_statements_true,
    a_bank_payment_of_a_stated_year_that_clears_later_reissues_the_statement,
    a_statement_run_states_an_installment_still_being_recorded,
    an_installment_recorded_during_a_statement_run_reissues_the_statement,
    an_installment_stripe_delivers_during_a_statement_run_reissues_the_statement,
    a_checkout_stripe_delivers_during_a_statement_run_reissues_the_statement,
    checkouts_recorded_together_take_their_donors_before_the_receipt_counter,
);
