//! The database itself refuses rows that must never exist, whatever the code does.

use api::domain::DomainError;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};

use tests::on_both_backends;
use tests::support::{Backend, spawn_app};

const NOW: &str = "'2026-11-24 12:00:00+00:00'";

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .map(|_| ())
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Runs `sql`, expects the database to refuse it, and checks `table` did not change.
async fn assert_refused(db: &DatabaseConnection, table: &str, sql: &str) -> DbErr {
    let before = count(db, table).await;
    let error = exec(db, sql)
        .await
        .expect_err(&format!("the database accepted: {sql}"));
    assert_eq!(count(db, table).await, before, "{table} changed");
    error
}

fn donor_sql(id: i64, email: &str) -> String {
    format!(
        "INSERT INTO donors (id, kind, display_name, email, language, email_consent, anonymous, search_text, created_at, updated_at) \
         VALUES ({id}, 'individual', 'Donor {id}', '{email}', 'en', FALSE, FALSE, '', {NOW}, {NOW})"
    )
}

fn gift_sql(id: i64, amount: i64, extra_columns: &str, extra_values: &str) -> String {
    format!(
        "INSERT INTO gifts (id, donor_id, amount_minor, currency, refunded_minor, method, status, fund_id, received_at, benefits_minor, anonymous, created_at, updated_at{extra_columns}) \
         VALUES ({id}, 1, {amount}, 'USD', 0, 'card', 'succeeded', 1, {NOW}, 0, FALSE, {NOW}, {NOW}{extra_values})"
    )
}

fn receipt_sql(id: i64, number: &str, sequence: i64, gift_id: i64, status: &str) -> String {
    format!(
        "INSERT INTO receipts (id, number, tax_year, sequence, kind, status, donor_id, gift_id, language, donor_name, amount_minor, deductible_minor, currency, content_text, issued_at) \
         VALUES ({id}, '{number}', 2026, {sequence}, 'gift', '{status}', 1, {gift_id}, 'en', 'Donor 1', 5000, 5000, 'USD', 'text', {NOW})"
    )
}

fn outbox_sql(id: i64, key: &str) -> String {
    format!(
        "INSERT INTO outbox (id, idempotency_key, kind, to_address, language, payload, status, attempts, next_attempt_at, created_at, updated_at) \
         VALUES ({id}, '{key}', 'receipt', 'maria@example.org', 'en', '{{}}', 'pending', 0, {NOW}, {NOW}, {NOW})"
    )
}

async fn with_a_donor_and_a_gift(backend: Backend) -> tests::support::TestApp {
    let app = spawn_app(backend).await;
    exec(&app.db, &donor_sql(1, "maria@example.org"))
        .await
        .unwrap();
    exec(
        &app.db,
        &gift_sql(
            1,
            5_000,
            ", stripe_payment_intent_id, stripe_invoice_id, stripe_checkout_session_id",
            ", 'pi_1', 'in_1', 'cs_1'",
        ),
    )
    .await
    .unwrap();
    app
}

async fn gift_amounts_must_be_positive_and_sane(backend: Backend) {
    let app = with_a_donor_and_a_gift(backend).await;
    for amount in [0, -2_500, 10_000_000_001] {
        assert_refused(&app.db, "gifts", &gift_sql(2, amount, "", "")).await;
    }
    let refund_too_big = "UPDATE gifts SET refunded_minor = 5001 WHERE id = 1";
    let benefits_too_big = "UPDATE gifts SET benefits_minor = 5001 WHERE id = 1";
    let unknown_status = "UPDATE gifts SET status = 'lost' WHERE id = 1";
    for sql in [refund_too_big, benefits_too_big, unknown_status] {
        exec(&app.db, sql).await.expect_err(sql);
    }
    let error = assert_refused(&app.db, "gifts", &gift_sql(3, 0, "", "")).await;
    assert!(
        matches!(DomainError::from(error), DomainError::Validation { ref field, .. } if field == "amount")
    );
}

async fn pledge_installments_and_tier_thresholds_must_be_positive(backend: Backend) {
    let app = with_a_donor_and_a_gift(backend).await;
    let pledge = "INSERT INTO pledges (donor_id, source, installment_minor, currency, frequency, starts_on, status, fund_id, created_at, updated_at) \
                  VALUES (1, 'envelope', 0, 'USD', 'monthly', '2026-01-01', 'active', 1, {NOW}, {NOW})"
        .replace("{NOW}", NOW);
    assert_refused(&app.db, "pledges", &pledge).await;
    let tier = format!(
        "INSERT INTO giving_tiers (name, threshold_minor, currency, benefits_value_minor, created_at, updated_at) VALUES ('Zero', 0, 'USD', 0, {NOW}, {NOW})"
    );
    assert_refused(&app.db, "giving_tiers", &tier).await;
}

async fn donor_emails_are_unique_whatever_their_case(backend: Backend) {
    let app = with_a_donor_and_a_gift(backend).await;
    let error = assert_refused(&app.db, "donors", &donor_sql(2, "maria@example.org")).await;
    assert!(
        matches!(DomainError::from(error), DomainError::Conflict { ref field, .. } if field.as_deref() == Some("email")),
        "a duplicate email is a conflict on the email field"
    );
    assert_refused(&app.db, "donors", &donor_sql(3, "MARIA@example.org")).await;
    exec(&app.db, &donor_sql(4, "jose@example.org"))
        .await
        .unwrap();
}

async fn stripe_ids_on_gifts_are_unique(backend: Backend) {
    let app = with_a_donor_and_a_gift(backend).await;
    for (column, value) in [
        ("stripe_payment_intent_id", "pi_1"),
        ("stripe_invoice_id", "in_1"),
        ("stripe_checkout_session_id", "cs_1"),
    ] {
        assert_refused(
            &app.db,
            "gifts",
            &gift_sql(2, 2_500, &format!(", {column}"), &format!(", '{value}'")),
        )
        .await;
    }
    let key = gift_sql(5, 2_500, ", idempotency_key", ", 'envelope-77'");
    exec(&app.db, &key).await.unwrap();
    assert_refused(&app.db, "gifts", &key.replace("(5,", "(6,")).await;
}

async fn a_gift_must_belong_to_a_real_donor_and_fund(backend: Backend) {
    let app = with_a_donor_and_a_gift(backend).await;
    let no_donor = gift_sql(2, 2_500, "", "").replace("VALUES (2, 1,", "VALUES (2, 999,");
    assert_refused(&app.db, "gifts", &no_donor).await;
    let no_fund = gift_sql(3, 2_500, "", "").replace("'succeeded', 1,", "'succeeded', 999,");
    assert_refused(&app.db, "gifts", &no_fund).await;
    exec(&app.db, "DELETE FROM donors WHERE id = 1")
        .await
        .expect_err("a donor with gifts cannot be deleted");
}

async fn stripe_events_are_recorded_once(backend: Backend) {
    let app = with_a_donor_and_a_gift(backend).await;
    let event = format!(
        "INSERT INTO stripe_events (event_id, event_type, livemode, stripe_created_at, payload, outcome, processed_at) \
         VALUES ('evt_1', 'checkout.session.completed', FALSE, {NOW}, '{{}}', 'recorded', {NOW})"
    );
    exec(&app.db, &event).await.unwrap();
    assert_refused(&app.db, "stripe_events", &event).await;
}

async fn receipt_numbers_are_unique_and_a_gift_has_one_valid_receipt(backend: Backend) {
    let app = with_a_donor_and_a_gift(backend).await;
    exec(&app.db, &gift_sql(2, 2_500, "", "")).await.unwrap();
    exec(&app.db, &receipt_sql(1, "2026-000001", 1, 1, "issued"))
        .await
        .unwrap();
    // The same number, the same sequence in the year, a second valid receipt for gift 1.
    assert_refused(
        &app.db,
        "receipts",
        &receipt_sql(2, "2026-000001", 2, 2, "issued"),
    )
    .await;
    assert_refused(
        &app.db,
        "receipts",
        &receipt_sql(3, "2026-000002", 1, 2, "issued"),
    )
    .await;
    assert_refused(
        &app.db,
        "receipts",
        &receipt_sql(4, "2026-000002", 2, 1, "issued"),
    )
    .await;
    // Once voided, the gift may be receipted again.
    exec(&app.db, "UPDATE receipts SET status = 'void' WHERE id = 1")
        .await
        .unwrap();
    exec(&app.db, &receipt_sql(5, "2026-000002", 2, 1, "issued"))
        .await
        .unwrap();
}

async fn outbox_idempotency_keys_are_unique(backend: Backend) {
    let app = with_a_donor_and_a_gift(backend).await;
    exec(&app.db, &outbox_sql(1, "receipt:1")).await.unwrap();
    assert_refused(&app.db, "outbox", &outbox_sql(2, "receipt:1")).await;
}

async fn appeal_source_codes_are_unique_and_upper_case(backend: Backend) {
    let app = with_a_donor_and_a_gift(backend).await;
    exec(
        &app.db,
        &format!(
            "INSERT INTO campaigns (id, name, goal_minor, currency, starts_on, default_fund_id, created_at, updated_at) \
             VALUES (1, 'Fight Against S-Comm', 100000, 'USD', '2011-11-30', 1, {NOW}, {NOW})"
        ),
    )
    .await
    .unwrap();
    let appeal = |id: i64, code: &str| {
        format!(
            "INSERT INTO appeals (id, campaign_id, name, channel, source_code, currency, created_at, updated_at) \
             VALUES ({id}, 1, 'Email', 'email', '{code}', 'USD', {NOW}, {NOW})"
        )
    };
    exec(&app.db, &appeal(1, "SCOMM11-EMAIL")).await.unwrap();
    assert_refused(&app.db, "appeals", &appeal(2, "SCOMM11-EMAIL")).await;
    assert_refused(&app.db, "appeals", &appeal(3, "scomm11-email")).await;
}

async fn token_hashes_are_unique(backend: Backend) {
    let app = with_a_donor_and_a_gift(backend).await;
    let hash = "a".repeat(64);
    let token = |id: i64| {
        format!(
            "INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES ({id}, 'script', 'staff', '{hash}', {NOW})"
        )
    };
    exec(&app.db, &token(1)).await.unwrap();
    assert_refused(&app.db, "api_tokens", &token(2)).await;
    let bad_role = token(3)
        .replace("'staff'", "'owner'")
        .replace(&hash, &"b".repeat(64));
    assert_refused(&app.db, "api_tokens", &bad_role).await;
}

async fn a_donor_is_in_one_tier_at_a_time(backend: Backend) {
    let app = with_a_donor_and_a_gift(backend).await;
    let membership = |id: i64, left: &str| {
        format!(
            "INSERT INTO tier_memberships (id, donor_id, tier_id, joined_at, join_reason, annual_pledge_total_minor, left_at, created_at) \
             VALUES ({id}, 1, 1, {NOW}, 'pledged $42 a month', 50400, {left}, {NOW})"
        )
    };
    exec(&app.db, &membership(1, "NULL")).await.unwrap();
    assert_refused(&app.db, "tier_memberships", &membership(2, "NULL")).await;
    // Past memberships are history and may be many.
    exec(&app.db, &membership(3, NOW)).await.unwrap();
    exec(&app.db, &membership(4, NOW)).await.unwrap();
}

on_both_backends!(
    gift_amounts_must_be_positive_and_sane,
    pledge_installments_and_tier_thresholds_must_be_positive,
    donor_emails_are_unique_whatever_their_case,
    stripe_ids_on_gifts_are_unique,
    a_gift_must_belong_to_a_real_donor_and_fund,
    stripe_events_are_recorded_once,
    receipt_numbers_are_unique_and_a_gift_has_one_valid_receipt,
    outbox_idempotency_keys_are_unique,
    appeal_source_codes_are_unique_and_upper_case,
    token_hashes_are_unique,
    a_donor_is_in_one_tier_at_a_time,
);
