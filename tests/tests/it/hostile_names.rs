//! A name with a line break, however it arrives, cannot stop the mailer: the page, the
//! staff API and Stripe's metadata clean or refuse it, and a message that still carries
//! one is failed for good while the rest of the queue goes out.

use entity::enums::{Language, OutboxStatus, StaffRole};
use entity::{donor, outbox};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::mailer::{add_donor, gift_of, give, worker_for};
use api::config::WorkerSettings;
use tests::on_both_backends;
use tests::smtp::SmtpServer;
use tests::stripe::{WEBHOOK_SECRET, event, payment_session};
use tests::support::{Backend, TestApp, spawn_app_with};

pub const HOSTILE_NAME: &str = "Rosa\r\nBcc: everyone@example.org";

fn settings() -> WorkerSettings {
    crate::mailer::quick(10, 5)
}

pub async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)]).await
}

pub async fn messages(app: &TestApp) -> Vec<outbox::Model> {
    outbox::Entity::find().all(&app.db).await.unwrap()
}

/// Queues a receipt for a donor whose name was written straight into the database with a
/// line break, then a receipt for another donor.
pub async fn queue_a_hostile_receipt_then_a_good_one(app: &TestApp) -> (i64, i64) {
    let bad = add_donor(app, HOSTILE_NAME, "rosa@example.org", Language::English).await;
    let bad_receipt = give(app, gift_of(bad.id, 5_000)).await.receipt.unwrap();
    let good = add_donor(app, "Ana Ruiz", "ana@example.org", Language::Spanish).await;
    let good_receipt = give(app, gift_of(good.id, 2_500)).await.receipt.unwrap();
    (bad_receipt.id, good_receipt.id)
}

pub async fn message_for_receipt(app: &TestApp, receipt_id: i64) -> outbox::Model {
    outbox::Entity::find()
        .filter(outbox::Column::IdempotencyKey.eq(format!("receipt:{receipt_id}")))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn a_line_break_in_a_stored_name_fails_its_message_and_the_next_receipt_goes(
    backend: Backend,
) {
    let app = app(backend).await;
    let smtp = SmtpServer::start();
    let (bad, good) = queue_a_hostile_receipt_then_a_good_one(&app).await;
    let worker = worker_for(&app, &smtp.url(), settings());

    let report = worker.drain().await.unwrap();

    assert_eq!((report.sent, report.failed), (1, 1), "{report:?}");
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, vec!["ana@example.org".to_owned()]);
    let failed = message_for_receipt(&app, bad).await;
    assert_eq!(failed.status, OutboxStatus::Failed);
    assert!(
        failed
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("control character")),
        "{:?}",
        failed.last_error
    );
    assert_eq!(
        message_for_receipt(&app, good).await.status,
        OutboxStatus::Sent
    );
    // Failed for good: it is not claimed again.
    assert_eq!(worker.drain().await.unwrap().claimed, 0);
}

async fn a_line_break_in_stripe_metadata_is_cleaned_and_the_receipt_goes(backend: Backend) {
    let app = app(backend).await;
    let smtp = SmtpServer::start();
    let mut session = payment_session("cs_crlf", "rosa@example.org", 5_000, true);
    session["metadata"]["donor_name"] = json!(HOSTILE_NAME);
    session["metadata"]["tribute_kind"] = json!("in_honor_of");
    session["metadata"]["tribute_name"] = json!("Abuela\nJosefina");
    session["metadata"]["tribute_notify_name"] = json!("Tío\r\nPepe");
    session["metadata"]["tribute_notify_email"] = json!("pepe@example.org");

    let response = app
        .deliver(&event("evt_crlf", "checkout.session.completed", session))
        .await;

    assert_eq!(response.status(), 200);
    let donor = donor::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(donor.display_name, "Rosa Bcc: everyone@example.org");
    let queued = messages(&app).await;
    assert!(
        queued
            .iter()
            .all(|m| !m.to_name.as_deref().unwrap_or("").contains(['\r', '\n'])),
        "{queued:?}"
    );
    let tribute = queued
        .iter()
        .find(|m| m.to_address == "pepe@example.org")
        .expect("the tribute notification is queued");
    assert_eq!(tribute.to_name.as_deref(), Some("Tío Pepe"));
    assert_eq!(tribute.payload["honoree"], "Abuela Josefina");

    let report = worker_for(&app, &smtp.url(), settings())
        .drain()
        .await
        .unwrap();
    assert_eq!((report.sent, report.failed), (2, 0), "{report:?}");
    for mail in smtp.received() {
        assert!(!mail.text().contains("\r\nBcc:"));
    }
}

async fn staff_cannot_type_a_line_break_into_a_name(backend: Backend) {
    let app = app(backend).await;
    let token = app.token(StaffRole::Staff).await;
    let body = app
        .graphql(
            &token,
            "mutation($input: CreateDonorInput!) { createDonor(input: $input) { id } }",
            json!({ "input": { "kind": "INDIVIDUAL", "displayName": HOSTILE_NAME } }),
        )
        .await;
    assert_eq!(tests::error_codes(&body), vec!["BAD_USER_INPUT"], "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "displayName");

    let body = app
        .graphql(
            &token,
            "mutation($input: CreateDonorInput!) { createDonor(input: $input) { id } }",
            json!({ "input": { "displayName": "Rosa Lopez", "lastName": "Lopez\u{7}" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "lastName",
        "{body}"
    );
    assert_eq!(
        donor::Entity::find().all(&app.db).await.unwrap().len(),
        0,
        "nothing is written"
    );
}

async fn an_unsubscribe_for_a_missing_donor_is_not_found(backend: Backend) {
    let key = "a-download-link-key-of-at-least-32-characters";
    let app = spawn_app_with(backend, &[("DOWNLOAD_LINK_KEY", key)]).await;
    let path = format!("/{}", mailer::links::unsubscribe_path(key, 999_999, 0));

    let response = app.client.post(app.url(&path)).send().await.unwrap();

    assert_eq!(response.status(), 404);
    let loose = path.replace("donor=999999", "donor=0999999");
    assert_eq!(app.get(&loose).await.status(), 403);
}

async fn a_segment_rule_with_3000_alternatives_is_bad_user_input(backend: Backend) {
    let app = app(backend).await;
    let token = app.token(StaffRole::Staff).await;
    let alternatives: Vec<_> = (0..3_000)
        .map(|i| json!({ "kind": "lifetimeGiving", "minMinor": i, "maxMinor": i + 1 }))
        .collect();
    let rule = json!({ "kind": "any", "rules": alternatives });

    let body = app
        .graphql(
            &token,
            "mutation($rule: JSON!) { createSegment(input: { name: \"Huge\", ruleJson: $rule }) { id } }",
            json!({ "rule": rule }),
        )
        .await;

    assert_eq!(tests::error_codes(&body), vec!["BAD_USER_INPUT"], "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "ruleJson");
}

on_both_backends!(
    a_segment_rule_with_3000_alternatives_is_bad_user_input,
    an_unsubscribe_for_a_missing_donor_is_not_found,
    a_line_break_in_a_stored_name_fails_its_message_and_the_next_receipt_goes,
    a_line_break_in_stripe_metadata_is_cleaned_and_the_receipt_goes,
    staff_cannot_type_a_line_break_into_a_name,
);
