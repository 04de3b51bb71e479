//! The mailer worker against a real SMTP server: delivery, retries, permanent failures,
//! racing workers and a worker that dies mid-batch.

use std::collections::HashSet;
use std::time::Duration;

use api::config::{Config, Secret, WorkerSettings};
use api::db::begin_write;
use api::domain::gifts::{NewGift, record_gift};
use chrono::{TimeZone, Utc};
use entity::enums::{DonorKind, GiftStatus, Language, OutboxStatus, PaymentMethod, StaffRole};
use entity::{Money, donor, fund, outbox, receipt};
use mailer::Worker;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use serde_json::json;
use tests::pdf::{pdf_text, receipt_pdf};

use tests::on_both_backends;
use tests::smtp::{Behavior, SmtpServer};
use tests::support::{Backend, TestApp, spawn_app, until_finished_or_waiting};

use crate::staff_api::batching::spawn_recording_app_with;

pub fn organization() -> api::config::Organization {
    Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .org
}

/// A donor with an address, in the given language.
pub async fn add_donor(app: &TestApp, name: &str, email: &str, language: Language) -> donor::Model {
    let now = Utc::now();
    donor::ActiveModel {
        kind: Set(DonorKind::Individual),
        display_name: Set(name.to_owned()),
        email: Set(Some(email.to_owned())),
        address_line1: Set(Some("2130 W. 6th Street".to_owned())),
        city: Set(Some("Los Angeles".to_owned())),
        region: Set(Some("CA".to_owned())),
        postal_code: Set(Some("90057".to_owned())),
        country: Set(Some("US".to_owned())),
        language: Set(language),
        email_consent: Set(true),
        anonymous: Set(false),
        search_text: Set(name.to_lowercase()),
        created_at: Set(now),
        updated_at: Set(now),
        link_version: Set(0),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
}

pub fn gift_of(donor_id: i64, cents: i64) -> NewGift {
    NewGift::new(
        donor_id,
        Money::usd(cents).unwrap(),
        PaymentMethod::Card,
        GiftStatus::Succeeded,
        1,
        Utc.with_ymd_and_hms(2026, 3, 14, 18, 0, 0).unwrap(),
    )
}

pub async fn give(app: &TestApp, gift: NewGift) -> api::domain::gifts::RecordedGift {
    let txn = begin_write(&app.db).await.unwrap();
    let recorded = record_gift(&txn, &organization(), gift).await.unwrap();
    txn.commit().await.unwrap();
    recorded
}

/// Settings for tests: retries are due at once, so no test waits.
pub fn quick(batch_size: u32, max_attempts: u32) -> WorkerSettings {
    WorkerSettings {
        batch_size,
        lease: Duration::from_secs(300),
        max_attempts,
        retry_base: Duration::ZERO,
        per_minute: 100_000,
        poll_interval: Duration::from_secs(1),
    }
}

pub fn worker_for(app: &TestApp, smtp_url: &str, settings: WorkerSettings) -> Worker {
    let mut mail = Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .mail_settings();
    mail.smtp_url = Some(Secret::new(smtp_url));
    Worker::new(app.db.clone(), mail, settings).unwrap()
}

async fn message_of(app: &TestApp, key: &str) -> outbox::Model {
    outbox::Entity::find()
        .filter(outbox::Column::IdempotencyKey.eq(key))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn a_receipt_arrives_with_its_headers_both_parts_and_the_pdf(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    let donor = add_donor(
        &app,
        "Maria <b>Lopez</b>",
        "maria@example.org",
        Language::English,
    )
    .await;
    let receipt = give(&app, gift_of(donor.id, 5_000)).await.receipt.unwrap();

    let report = worker_for(&app, &smtp.url(), quick(10, 5))
        .drain()
        .await
        .unwrap();

    assert_eq!(report.sent, 1);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.to, vec!["maria@example.org".to_owned()]);
    assert_eq!(mail.from, "giving@example.org");
    let message_id = mail.header("Message-ID").expect("a Message-ID");
    assert!(message_id.starts_with('<') && message_id.ends_with("@example.org>"));
    assert!(mail.header("Date").is_some());
    assert!(mail.header("From").unwrap().contains("giving@example.org"));
    assert!(mail.header("Subject").unwrap().contains(&receipt.number));
    let text = mail.text();
    assert!(text.contains("multipart/alternative"));
    assert!(text.contains("text/plain"));
    assert!(text.contains("text/html"));
    assert!(text.contains("application/pdf"));
    assert!(text.contains(&format!("receipt-{}.pdf", receipt.number)));
    // The donor's name is escaped in HTML, and the footer carries the postal address.
    assert!(text.contains("Maria &#60;b&#62;Lopez&#60;/b&#62;"));
    assert!(!text.contains("<b>Lopez</b></p>"));
    assert!(text.contains("1458 Howard Street"));

    let row = message_of(&app, &format!("receipt:{}", receipt.id)).await;
    assert_eq!(row.status, OutboxStatus::Sent);
    assert_eq!(row.message_id.as_deref(), Some(message_id.as_str()));
    assert!(row.sent_at.is_some());
}

async fn a_refusing_server_is_retried_until_it_recovers(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    smtp.set_behavior(Behavior::RefuseTemporarily);
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::Spanish).await;
    let receipt = give(&app, gift_of(donor.id, 2_500)).await.receipt.unwrap();
    let worker = worker_for(&app, &smtp.url(), quick(10, 5));

    let first = worker.send_due_batch().await.unwrap();
    assert_eq!((first.sent, first.retried), (0, 1));
    let row = message_of(&app, &format!("receipt:{}", receipt.id)).await;
    assert_eq!(row.status, OutboxStatus::Pending);
    assert_eq!(row.attempts, 1);
    assert!(row.last_error.unwrap().contains("451"));

    smtp.set_behavior(Behavior::Accept);
    let second = worker.send_due_batch().await.unwrap();
    assert_eq!(second.sent, 1);
    assert_eq!(smtp.refused(), 1);
    assert_eq!(smtp.received().len(), 1);
    let row = message_of(&app, &format!("receipt:{}", receipt.id)).await;
    assert_eq!(row.status, OutboxStatus::Sent);
    assert_eq!(row.attempts, 2);
    // The Spanish donor gets the Spanish template.
    assert!(
        smtp.received()[0]
            .header("Subject")
            .unwrap()
            .contains("recibo")
            || smtp.received()[0].text().contains("Su recibo")
    );
}

async fn a_permanent_refusal_fails_the_message_and_suppresses_the_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    smtp.set_behavior(Behavior::RejectPermanently);
    let donor = add_donor(&app, "Gone Away", "gone@example.org", Language::English).await;
    let receipt = give(&app, gift_of(donor.id, 2_500)).await.receipt.unwrap();

    let report = worker_for(&app, &smtp.url(), quick(10, 5))
        .drain()
        .await
        .unwrap();

    assert_eq!((report.sent, report.failed), (0, 1));
    let row = message_of(&app, &format!("receipt:{}", receipt.id)).await;
    assert_eq!(row.status, OutboxStatus::Failed);
    assert!(row.last_error.unwrap().contains("550"));
    let donor = donor::Entity::find_by_id(donor.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(donor.email_suppressed_at.is_some());
    assert!(donor.email_suppressed_reason.unwrap().contains("550"));
}

async fn an_unreachable_server_is_retried_until_the_message_is_dead(backend: Backend) {
    let app = spawn_app(backend).await;
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let receipt = give(&app, gift_of(donor.id, 2_500)).await.receipt.unwrap();

    let report = worker_for(
        &app,
        &format!("smtp://127.0.0.1:{closed_port}"),
        quick(10, 3),
    )
    .drain()
    .await
    .unwrap();

    assert_eq!((report.retried, report.dead), (2, 1));
    let row = message_of(&app, &format!("receipt:{}", receipt.id)).await;
    assert_eq!(row.status, OutboxStatus::Dead);
    assert_eq!(row.attempts, 3);
    // Not a refusal by the recipient's server: the address is not suppressed.
    let donor = donor::Entity::find_by_id(donor.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(donor.email_suppressed_at.is_none());
}

async fn two_racing_workers_send_each_message_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    for i in 0..30 {
        let donor = add_donor(
            &app,
            &format!("Donor {i}"),
            &format!("donor{i}@example.org"),
            Language::English,
        )
        .await;
        give(&app, gift_of(donor.id, 1_000 + i)).await;
    }
    let first = worker_for(&app, &smtp.url(), quick(4, 5));
    let second = worker_for(&app, &smtp.url(), quick(4, 5));

    let (a, b) = tokio::join!(first.drain(), second.drain());
    let (a, b) = (a.unwrap(), b.unwrap());

    assert_eq!(a.sent + b.sent, 30);
    let received = smtp.received();
    assert_eq!(received.len(), 30);
    let recipients: HashSet<String> = received.iter().map(|m| m.to[0].clone()).collect();
    assert_eq!(recipients.len(), 30);
    let unsent = outbox::Entity::find()
        .filter(outbox::Column::Status.ne(OutboxStatus::Sent))
        .all(&app.db)
        .await
        .unwrap();
    assert!(unsent.is_empty());
}

/// Gives `count` donors a receipt each, to `donorN@example.org`.
async fn receipts_for_donors(app: &TestApp, count: i64) {
    for i in 0..count {
        let donor = add_donor(
            app,
            &format!("Donor {i}"),
            &format!("donor{i}@example.org"),
            Language::English,
        )
        .await;
        give(app, gift_of(donor.id, 1_000 + i)).await;
    }
}

async fn two_workers_claiming_at_once_never_share_a_message(backend: Backend) {
    let app = spawn_app(backend).await;
    receipts_for_donors(&app, 12).await;
    let lease = Duration::from_secs(3600);

    let (a, b) = tokio::join!(
        mailer::outbox::claim_due(&app.db, "worker-a", 8, lease),
        mailer::outbox::claim_due(&app.db, "worker-b", 8, lease),
    );
    let (a, b) = (a.unwrap(), b.unwrap());

    assert_eq!(a.len() + b.len(), 12);
    let a_ids: HashSet<i64> = a.iter().map(|m| m.id).collect();
    let b_ids: HashSet<i64> = b.iter().map(|m| m.id).collect();
    assert!(a_ids.is_disjoint(&b_ids), "{a_ids:?} {b_ids:?}");
    assert!(a.iter().all(|m| m.leased_by.as_deref() == Some("worker-a")));
    assert!(b.iter().all(|m| m.leased_by.as_deref() == Some("worker-b")));
    // Nothing is left for a third worker while both leases hold.
    let third = mailer::outbox::claim_due(&app.db, "worker-c", 8, lease)
        .await
        .unwrap();
    assert!(third.is_empty());
}

/// A claim made while another worker is still writing one of the due messages (its
/// transaction open) passes over that message and takes the others at once; it never
/// takes the message afterwards and undoes what the other worker recorded. On SQLite the
/// claim waits for the other writer, then finds the message no longer pending.
async fn a_claim_passes_over_a_message_another_worker_is_writing(backend: Backend) {
    let app = spawn_app(backend).await;
    let ids = pending_receipt_emails(&app, 3).await;
    let other_worker = app.db.begin().await.unwrap();
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Status,
            Expr::value(OutboxStatus::Sent.as_str()),
        )
        .filter(outbox::Column::Id.eq(ids[0]))
        .exec(&other_worker)
        .await
        .unwrap();

    let db = app.db.clone();
    let claim = tokio::spawn(async move {
        mailer::outbox::claim_due(&db, "worker-b", 10, Duration::from_secs(60)).await
    });
    // The claim either finishes without waiting, or waits for the other worker's row
    // lock; the other worker commits only once one or the other is seen.
    until_finished_or_waiting(&app.db, &claim).await;
    other_worker.commit().await.unwrap();
    let claimed = claim.await.unwrap().unwrap();

    let claimed_ids: Vec<i64> = claimed.iter().map(|m| m.id).collect();
    assert_eq!(claimed_ids, [ids[1], ids[2]]);
    let held = outbox::Entity::find_by_id(ids[0])
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.status, OutboxStatus::Sent);
    assert_eq!(held.leased_by, None);
}

/// A claim takes the messages whose worker died (their lease ran out) before pending
/// ones, then pending messages whose time has come in the order of `(next_attempt_at,
/// id)`, never more than its batch, and never a message due later or leased to a live
/// worker.
async fn a_claim_takes_orphaned_messages_first_then_due_ones_in_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let ids = pending_receipt_emails(&app, 6).await;
    let now = Utc::now();
    let hours = |h: i64| now + chrono::Duration::hours(h);
    let set = |id: i64,
               status: OutboxStatus,
               next: chrono::DateTime<Utc>,
               lease: Option<(&'static str, chrono::DateTime<Utc>)>| {
        let db = app.db.clone();
        async move {
            outbox::ActiveModel {
                id: Set(id),
                status: Set(status),
                next_attempt_at: Set(next),
                leased_by: Set(lease.map(|(worker, _)| worker.to_owned())),
                lease_expires_at: Set(lease.map(|(_, until)| until)),
                ..Default::default()
            }
            .update(&db)
            .await
            .unwrap();
        }
    };
    set(ids[0], OutboxStatus::Pending, hours(-2), None).await;
    set(ids[1], OutboxStatus::Pending, hours(-1), None).await;
    set(ids[2], OutboxStatus::Pending, hours(-1), None).await;
    set(ids[3], OutboxStatus::Pending, hours(1), None).await;
    set(
        ids[4],
        OutboxStatus::Sending,
        hours(-3),
        Some(("live-worker", hours(1))),
    )
    .await;
    set(
        ids[5],
        OutboxStatus::Sending,
        hours(0),
        Some(("dead-worker", hours(-1))),
    )
    .await;
    let claim =
        |batch: u32| mailer::outbox::claim_due(&app.db, "worker", batch, Duration::from_secs(60));

    let first = claim(3).await.unwrap();
    let second = claim(3).await.unwrap();
    let third = claim(3).await.unwrap();

    let claimed_ids = |batch: &[outbox::Model]| batch.iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(claimed_ids(&first), [ids[0], ids[1], ids[5]]);
    assert_eq!(claimed_ids(&second), [ids[2]]);
    assert!(third.is_empty());
    for message in first.iter().chain(&second) {
        assert_eq!(message.status, OutboxStatus::Sending);
        assert_eq!(message.leased_by.as_deref(), Some("worker"));
        assert_eq!(message.attempts, 1);
    }
}

/// Receipts for `donors` donors, and a worker in batches of `batch_size` sending them to
/// a server that refuses one address for now.
async fn receipts_one_refused(
    backend: Backend,
    donors: i64,
    refused: &'static str,
    batch_size: u32,
) -> (TestApp, SmtpServer, Worker) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    receipts_for_donors(&app, donors).await;
    smtp.set_behavior(Behavior::RefuseTemporarilyTo(refused));
    let worker = worker_for(&app, &smtp.url(), quick(batch_size, 5));
    (app, smtp, worker)
}

/// The Message-ID of the message the server received for `row`'s address.
fn message_id_received(smtp: &SmtpServer, row: &outbox::Model) -> Option<String> {
    smtp.received()
        .into_iter()
        .find(|m| m.to == [row.to_address.clone()])
        .and_then(|m| m.header("Message-ID"))
}

async fn a_failed_send_in_a_batch_retries_only_that_message(backend: Backend) {
    let (app, smtp, worker) = receipts_one_refused(backend, 5, "donor2@example.org", 10).await;

    let first = worker.send_due_batch().await.unwrap();

    assert_eq!((first.claimed, first.sent, first.retried), (5, 4, 1));
    let rows = outbox::Entity::find().all(&app.db).await.unwrap();
    for row in &rows {
        assert_eq!(row.attempts, 1);
        assert!(row.leased_by.is_none());
        if row.to_address == "donor2@example.org" {
            assert_eq!(row.status, OutboxStatus::Pending);
            assert!(row.last_error.as_deref().unwrap().contains("451"));
            assert!(row.message_id.is_none());
        } else {
            assert_eq!(row.status, OutboxStatus::Sent);
            assert!(row.sent_at.is_some());
            // Each message sent in the batch keeps the Message-ID it went out with.
            assert!(row.message_id.is_some());
            assert_eq!(message_id_received(&smtp, row), row.message_id);
        }
    }

    smtp.set_behavior(Behavior::Accept);
    let second = worker.send_due_batch().await.unwrap();

    assert_eq!((second.claimed, second.sent), (1, 1));
    let received: Vec<String> = smtp.received().iter().map(|m| m.to[0].clone()).collect();
    assert_eq!(received.len(), 5);
    assert_eq!(received.iter().collect::<HashSet<_>>().len(), 5);
    let retried = outbox::Entity::find()
        .filter(outbox::Column::ToAddress.eq("donor2@example.org"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((retried.status, retried.attempts), (OutboxStatus::Sent, 2));
}

/// A batch's outcomes are recorded while the next batch is delivered: when a drain of
/// several batches returns, every outcome of every batch is recorded, the last batch's
/// too, and no message is left leased. A message refused for now is due again at once
/// here, so the drain tries it again until it is dead.
async fn a_drain_of_several_batches_records_every_outcome_before_it_returns(backend: Backend) {
    let (app, smtp, worker) = receipts_one_refused(backend, 7, "donor4@example.org", 2).await;

    let report = worker.drain().await.unwrap();

    assert_eq!(
        (
            report.claimed,
            report.sent,
            report.retried,
            report.dead,
            report.released
        ),
        (11, 6, 4, 1, 0),
        "{report:?}"
    );
    let rows = outbox::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 7);
    for row in &rows {
        assert!(row.leased_by.is_none(), "{row:?}");
        if row.to_address == "donor4@example.org" {
            assert_eq!((row.status, row.attempts), (OutboxStatus::Dead, 5));
            assert!(row.last_error.as_deref().unwrap().contains("451"));
        } else {
            assert_eq!(
                (row.status, row.attempts),
                (OutboxStatus::Sent, 1),
                "{row:?}"
            );
            assert!(row.message_id.is_some());
            assert_eq!(message_id_received(&smtp, row), row.message_id);
        }
    }
    assert_eq!(smtp.received().len(), 6);
}

async fn a_worker_that_dies_mid_batch_loses_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    for i in 0..6 {
        let donor = add_donor(
            &app,
            &format!("Donor {i}"),
            &format!("donor{i}@example.org"),
            Language::English,
        )
        .await;
        give(&app, gift_of(donor.id, 1_000 + i)).await;
    }
    // One worker holds a live lease on two messages: nobody else may touch them.
    let leased = mailer::outbox::claim_due(&app.db, "busy-worker", 2, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(leased.len(), 2);
    // Another claims the other four and dies before sending them; its lease runs out.
    let orphaned = mailer::outbox::claim_due(&app.db, "dead-worker", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(orphaned.len(), 4);
    let orphaned_ids: Vec<i64> = orphaned.iter().map(|m| m.id).collect();

    let report = worker_for(&app, &smtp.url(), quick(10, 5))
        .drain()
        .await
        .unwrap();

    assert_eq!(report.sent, 4);
    let sent: HashSet<String> = smtp.received().iter().map(|m| m.to[0].clone()).collect();
    let orphaned: HashSet<String> = orphaned.iter().map(|m| m.to_address.clone()).collect();
    assert_eq!(sent, orphaned);
    // The dead worker's late report is ignored: the message stays sent, once.
    let taken_over = orphaned_ids[0];
    let recorded = mailer::outbox::record_outcome(
        &app.db,
        taken_over,
        "dead-worker",
        &mailer::outbox::Outcome::Failed {
            reason: "late".into(),
        },
    )
    .await
    .unwrap();
    assert!(!recorded);
    let row = outbox::Entity::find_by_id(taken_over)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, OutboxStatus::Sent);
    // The live lease was respected.
    let held = outbox::Entity::find_by_id(leased[0].id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.status, OutboxStatus::Sending);
    assert_eq!(held.leased_by.as_deref(), Some("busy-worker"));
}

async fn staff_see_failed_mail_and_can_retry_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    smtp.set_behavior(Behavior::RejectPermanently);
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    give(&app, gift_of(donor.id, 2_500)).await;
    let worker = worker_for(&app, &smtp.url(), quick(10, 5));
    worker.drain().await.unwrap();
    let staff = app.token(StaffRole::Staff).await;
    let viewer = app.token(StaffRole::Viewer).await;

    let listed = app
        .graphql(
            &staff,
            "{ outbox(filter: {status: FAILED}) { nodes { id kind status lastError attempts } } }",
            json!({}),
        )
        .await;
    let failed = &listed["data"]["outbox"]["nodes"];
    assert_eq!(failed.as_array().unwrap().len(), 1, "{listed}");
    assert!(failed[0]["lastError"].as_str().unwrap().contains("550"));
    let id = failed[0]["id"].as_str().unwrap().to_owned();

    let refused = app
        .graphql(
            &viewer,
            "mutation($id: ID!) { retryMessage(input: { id: $id }) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(tests::error_codes(&refused), vec!["FORBIDDEN"]);

    let retried = app
        .graphql(
            &staff,
            "mutation($id: ID!) { retryMessage(input: { id: $id }) { status attempts } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        retried["data"]["retryMessage"]["status"], "PENDING",
        "{retried}"
    );
    assert_eq!(retried["data"]["retryMessage"]["attempts"], 0);
    smtp.set_behavior(Behavior::Accept);
    assert_eq!(worker.drain().await.unwrap().sent, 1);

    let again = app
        .graphql(
            &staff,
            "mutation($id: ID!) { retryMessage(input: { id: $id }) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(tests::error_codes(&again), vec!["BAD_USER_INPUT"]);
}

async fn without_smtp_messages_are_written_as_eml_files(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::French).await;
    give(&app, gift_of(donor.id, 2_500)).await;
    let mut mail = Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .mail_settings();
    mail.mail_dir = dir.path().to_path_buf();
    let worker = Worker::new(app.db.clone(), mail, quick(10, 5)).unwrap();

    assert_eq!(worker.drain().await.unwrap().sent, 1);

    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let eml = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(eml.contains("Message-ID:"));
    assert!(eml.contains("ana@example.org"));
}

async fn the_per_minute_limit_holds_the_rest_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    for i in 0..5 {
        let donor = add_donor(
            &app,
            &format!("Donor {i}"),
            &format!("donor{i}@example.org"),
            Language::English,
        )
        .await;
        give(&app, gift_of(donor.id, 1_000 + i)).await;
    }
    let worker = worker_for(
        &app,
        &smtp.url(),
        WorkerSettings {
            per_minute: 2,
            ..quick(10, 5)
        },
    );

    let report = worker.drain().await.unwrap();

    assert_eq!(report.sent, 2);
    assert!(report.rate_limited);
    // One more round within the minute claims nothing and says why.
    let again = worker.send_due_batch().await.unwrap();
    assert_eq!((again.claimed, again.rate_limited), (0, true));
    assert_eq!(smtp.received().len(), 2);
    let waiting = outbox::Entity::find()
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 3);
    assert!(waiting.iter().all(|m| m.attempts == 0));
}

async fn a_stopping_worker_hands_back_what_it_has_not_started(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    for i in 0..3 {
        let donor = add_donor(
            &app,
            &format!("Donor {i}"),
            &format!("donor{i}@example.org"),
            Language::English,
        )
        .await;
        give(&app, gift_of(donor.id, 1_000 + i)).await;
    }
    let worker = worker_for(&app, &smtp.url(), quick(10, 5));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    stop.send(true).unwrap();

    let report = worker.send_batch_until(&stopped).await.unwrap();

    assert_eq!((report.claimed, report.released, report.sent), (3, 3, 0));
    assert!(smtp.received().is_empty());
    let rows = outbox::Entity::find().all(&app.db).await.unwrap();
    assert!(
        rows.iter()
            .all(|m| m.status == OutboxStatus::Pending && m.attempts == 0 && m.leased_by.is_none())
    );
    // Another worker sends them.
    assert_eq!(
        worker_for(&app, &smtp.url(), quick(10, 5))
            .drain()
            .await
            .unwrap()
            .sent,
        3
    );
}

/// Receipts for `donors` new donors, and the ids of their pending emails in order.
async fn pending_receipt_emails(app: &TestApp, donors: i64) -> Vec<i64> {
    receipts_for_donors(app, donors).await;
    let mut ids: Vec<i64> = outbox_rows_in(app, OutboxStatus::Pending)
        .await
        .iter()
        .map(|m| m.id)
        .collect();
    ids.sort_unstable();
    ids
}

async fn outbox_rows_in(app: &TestApp, status: OutboxStatus) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::Status.eq(status))
        .all(&app.db)
        .await
        .unwrap()
}

/// While a batch is delivered the next one is claimed and its PDFs typeset; a worker
/// stopped then finishes the batch in flight and hands back the one read ahead.
async fn a_worker_stopped_mid_batch_hands_back_the_batch_it_read_ahead(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    smtp.set_behavior(Behavior::AcceptAfter(Duration::from_secs(4)));
    receipts_for_donors(&app, 6).await;
    let worker = worker_for(&app, &smtp.url(), quick(2, 5));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let watcher = async {
        // Two messages in flight (their data started at the server, which answers
        // after four seconds) and two more claimed: the next batch is read ahead.
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while smtp.started_count() < 2
            || outbox_rows_in(&app, OutboxStatus::Sending).await.len() < 4
        {
            assert!(
                std::time::Instant::now() < deadline,
                "no batch was claimed while another was delivered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
    };

    let (report, ()) = tokio::join!(worker.drain_until(&stopped), watcher);

    let report = report.unwrap();
    assert_eq!(report.released, 2, "{report:?}");
    assert_eq!(report.claimed, report.sent + 2, "{report:?}");
    assert!(report.sent == 2 || report.sent == 4, "{report:?}");
    assert!(outbox_rows_in(&app, OutboxStatus::Sending).await.is_empty());
    assert_eq!(
        outbox_rows_in(&app, OutboxStatus::Sent).await.len(),
        report.sent
    );
    let waiting = outbox_rows_in(&app, OutboxStatus::Pending).await;
    assert_eq!(waiting.len(), 6 - report.sent);
    assert!(
        waiting
            .iter()
            .all(|m| m.attempts == 0 && m.leased_by.is_none())
    );
    // The batch read ahead had its PDFs typeset and stored before it was handed back.
    let stored = receipt::Entity::find()
        .filter(receipt::Column::ContentPdf.is_not_null())
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), report.sent + 2);
    // Another worker sends the rest, each once.
    smtp.set_behavior(Behavior::Accept);
    let rest = worker_for(&app, &smtp.url(), quick(2, 5))
        .drain()
        .await
        .unwrap();
    assert_eq!(rest.sent, 6 - report.sent);
    let recipients: HashSet<String> = smtp.received().iter().map(|m| m.to[0].clone()).collect();
    assert_eq!((smtp.received().len(), recipients.len()), (6, 6));
}

async fn a_receipt_pdf_is_typeset_after_issue_and_sent_and_downloaded_byte_for_byte(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    let donor = add_donor(
        &app,
        "Nguyễn Thị Minh",
        "minh@example.org",
        Language::French,
    )
    .await;

    let receipt = give(&app, gift_of(donor.id, 5_000)).await.receipt.unwrap();

    // Issuing fixes what the receipt states; the PDF is typeset outside the transaction.
    assert_eq!(receipt.content_pdf, None);
    assert!(receipt.document.is_some());
    let report = worker_for(&app, &smtp.url(), quick(10, 5))
        .drain()
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    let sent = smtp.received()[0].attachment("application/pdf").unwrap();
    assert!(sent.starts_with(b"%PDF-"));
    assert!(pdf_text(&sent).contains("Nguyễn Thị Minh"));
    let stored = receipt::Entity::find_by_id(receipt.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.content_pdf.as_deref(), Some(sent.as_slice()));
    assert_eq!(receipt_pdf(&app.db, &receipt).await, sent);
}

async fn a_batch_of_receipts_each_carries_its_own_pdf(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    let names = [
        "Ana Ruiz",
        "Bilal Haddad",
        "Chen Wei",
        "Dilnoza Karimova",
        "Émile Roy",
    ];
    let mut receipts = Vec::new();
    for (n, name) in names.iter().enumerate() {
        let email = format!("donor{n}@example.org");
        let donor = add_donor(&app, name, &email, Language::English).await;
        let amount = 1_000 * (n as i64 + 1);
        receipts.push(give(&app, gift_of(donor.id, amount)).await.receipt.unwrap());
    }
    // One PDF is stored before the batch reaches it (a download): it is sent as stored.
    let downloaded = receipt_pdf(&app.db, &receipts[2]).await;

    let report = worker_for(&app, &smtp.url(), quick(10, 5))
        .drain()
        .await
        .unwrap();

    assert_eq!(report.sent, names.len());
    let received = smtp.received();
    for (n, receipt) in receipts.iter().enumerate() {
        let to = format!("donor{n}@example.org");
        let message = received
            .iter()
            .find(|m| m.to.iter().any(|address| address.contains(&to)))
            .unwrap_or_else(|| panic!("nothing was sent to {to}"));
        let sent = message.attachment("application/pdf").unwrap();
        let text = pdf_text(&sent);
        assert!(text.contains(names[n]), "{to} got: {text}");
        assert!(text.contains(&receipt.number), "{to} got: {text}");
        let stored = receipt::Entity::find_by_id(receipt.id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.content_pdf.as_deref(), Some(sent.as_slice()), "{to}");
    }
    assert_eq!(receipt_pdf(&app.db, &receipts[2]).await, downloaded);
}

/// Renders a receipt message of a batch read ahead: its receipt's id and the one PDF it
/// carries.
async fn pdf_sent(
    app: &TestApp,
    message: &outbox::Model,
    prefetched: &mailer::templates::Prefetched,
) -> (i64, Vec<u8>) {
    let rendered =
        mailer::templates::render_prefetched(&app.db, &organization(), None, message, prefetched)
            .await
            .unwrap();
    assert_eq!(rendered.attachments.len(), 1);
    let id = message.payload["receipt_id"].as_i64().unwrap();
    (id, rendered.attachments[0].bytes.clone())
}

/// The PDF stored for receipt `id`.
async fn stored_pdf_of(app: &TestApp, id: i64) -> Vec<u8> {
    receipt::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .content_pdf
        .expect("a PDF is stored")
}

/// Stores for `receipt` a PDF that is not byte for byte what the typesetter makes (as
/// one stored by another reader, or by an earlier release, would be), and returns it.
async fn store_pdf_unlike_ours(app: &TestApp, receipt: &receipt::Model, mark: &str) -> Vec<u8> {
    let mut pdf = receipt_pdf(&app.db, receipt).await;
    pdf.extend_from_slice(format!("\n% {mark}\n").as_bytes());
    receipt::Entity::update_many()
        .col_expr(
            receipt::Column::ContentPdf,
            sea_orm::sea_query::Expr::value(pdf.clone()),
        )
        .filter(receipt::Column::Id.eq(receipt.id))
        .exec(&app.db)
        .await
        .unwrap();
    pdf
}

/// A batch typesets its PDFs when it is read ahead and stores them just before it is
/// sent; a PDF someone stored in between (a download) is the one its message carries.
async fn a_pdf_stored_while_its_batch_waits_is_the_one_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    receipts_for_donors(&app, 4).await;
    let messages = outbox::Entity::find().all(&app.db).await.unwrap();
    let receipts = receipt::Entity::find().all(&app.db).await.unwrap();
    assert_eq!((messages.len(), receipts.len()), (4, 4));
    // One receipt was voided after its email was queued: it gets no PDF.
    let voided = receipts[3].id;
    receipt::Entity::update_many()
        .col_expr(
            receipt::Column::Status,
            sea_orm::sea_query::Expr::value(entity::enums::ReceiptStatus::Void.as_str()),
        )
        .filter(receipt::Column::Id.eq(voided))
        .exec(&app.db)
        .await
        .unwrap();
    let unstored = || async {
        let mut ids: Vec<i64> = receipt::Entity::find()
            .filter(receipt::Column::ContentPdf.is_null())
            .all(&app.db)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        ids.sort_unstable();
        ids
    };

    let prefetched = mailer::templates::Prefetched::read(&app.db, &messages)
        .await
        .unwrap();
    // Read ahead, nothing is stored yet.
    assert_eq!(unstored().await.len(), 4);
    // A PDF stored meanwhile by someone else, and not byte for byte what this batch
    // typeset (as one stored by an earlier release of the typesetter would be).
    let downloaded = store_pdf_unlike_ours(&app, &receipts[1], "stored by another reader").await;
    prefetched.store(&app.db).await;
    // Stored together before any message renders: all but the voided one.
    assert_eq!(unstored().await, vec![voided]);

    for message in messages
        .iter()
        .filter(|m| m.payload["receipt_id"] != voided)
    {
        let (id, sent) = pdf_sent(&app, message, &prefetched).await;
        let stored = stored_pdf_of(&app, id).await;
        assert!(
            sent == stored,
            "receipt {id}: sent {} bytes, stored {} bytes, another reader's {}",
            sent.len(),
            stored.len(),
            downloaded.len()
        );
        if id == receipts[1].id {
            assert_eq!(stored, downloaded);
        }
        let text = pdf_text(&stored);
        let receipt = receipts.iter().find(|r| r.id == id).unwrap();
        assert!(text.contains(&receipt.number), "{text}");
    }
}

async fn a_batch_read_ahead_holds_no_stored_pdf(backend: Backend) {
    let app = spawn_app(backend).await;
    receipts_for_donors(&app, 3).await;
    let messages = outbox::Entity::find().all(&app.db).await.unwrap();
    let receipts = receipt::Entity::find().all(&app.db).await.unwrap();
    // Two receipts already have their PDFs stored (a second send of their email, or a
    // download first): one as typeset, one with bytes no typesetter would make now.
    let typeset = receipt_pdf(&app.db, &receipts[0]).await;
    let earlier = store_pdf_unlike_ours(&app, &receipts[1], "stored by an earlier release").await;

    let prefetched = mailer::templates::Prefetched::read(&app.db, &messages)
        .await
        .unwrap();
    let held = prefetched.pdfs_held();
    prefetched.store(&app.db).await;
    // Only the receipt without a PDF was typeset (and is now stored); the stored ones
    // are not held.
    let unstored = stored_pdf_of(&app, receipts[2].id).await;
    assert_eq!(held, (1, unstored.len()));

    for message in &messages {
        let (id, sent) = pdf_sent(&app, message, &prefetched).await;
        let expected = if id == receipts[0].id {
            &typeset
        } else if id == receipts[1].id {
            &earlier
        } else {
            &unstored
        };
        assert!(
            &sent == expected,
            "receipt {id}: sent {} bytes, stored {}",
            sent.len(),
            expected.len()
        );
    }
}

/// Just before a batch is sent, the PDFs stored for its receipts are read together: its
/// messages then read nothing one by one, and each carries exactly the bytes stored.
async fn a_batch_reads_its_stored_pdfs_in_one_statement_before_it_is_sent(backend: Backend) {
    let (app, statements) = spawn_recording_app_with(backend, &[]).await;
    receipts_for_donors(&app, 4).await;
    let messages = outbox::Entity::find().all(&app.db).await.unwrap();
    let receipts = receipt::Entity::find().all(&app.db).await.unwrap();
    // Three PDFs stored earlier (one with bytes no typesetter would make now), one not.
    let mut expected = std::collections::HashMap::new();
    expected.insert(receipts[0].id, receipt_pdf(&app.db, &receipts[0]).await);
    expected.insert(receipts[2].id, receipt_pdf(&app.db, &receipts[2]).await);
    let earlier = store_pdf_unlike_ours(&app, &receipts[1], "stored by an earlier release").await;
    expected.insert(receipts[1].id, earlier);

    let prefetched = mailer::templates::Prefetched::read(&app.db, &messages)
        .await
        .unwrap();
    prefetched.store(&app.db).await;
    expected.insert(receipts[3].id, stored_pdf_of(&app, receipts[3].id).await);
    statements.lock().unwrap().clear();
    prefetched.read_before_sending(&app.db).await;
    let read = std::mem::take(&mut *statements.lock().unwrap());
    assert_eq!(read.len(), 1, "{read:?}");

    for message in &messages {
        let (id, sent) = pdf_sent(&app, message, &prefetched).await;
        assert!(
            sent == expected[&id],
            "receipt {id}: sent {} bytes",
            sent.len()
        );
    }
    let rendering = statements.lock().unwrap().clone();
    assert!(rendering.is_empty(), "{rendering:?}");
}

async fn a_receipt_pdf_states_what_was_issued_whatever_changed_since(backend: Backend) {
    let app = spawn_app(backend).await;
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let receipt = give(&app, gift_of(donor.id, 5_000)).await.receipt.unwrap();
    let general = fund::Entity::find_by_id(1)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut renamed = fund::ActiveModel::from(general.clone());
    renamed.name = Set("Renamed Fund".to_owned());
    renamed.update(&app.db).await.unwrap();
    let mut moved = donor::ActiveModel::from(donor);
    moved.display_name = Set("Ana Ruiz-Ortega".to_owned());
    moved.address_line1 = Set(Some("9 Elsewhere Road".to_owned()));
    moved.update(&app.db).await.unwrap();

    let text = pdf_text(&receipt_pdf(&app.db, &receipt).await);

    assert!(text.contains(&general.name), "{text}");
    assert!(text.contains("2130 W. 6th Street"), "{text}");
    assert!(!text.contains("Renamed Fund"), "{text}");
    assert!(!text.contains("Ruiz-Ortega"), "{text}");
    assert!(!text.contains("Elsewhere"), "{text}");
}

/// On SQLite the mailer's writes queue for this process's turn to write, as the API's
/// do, instead of retrying through SQLite's busy handler (which sleeps up to 100 ms
/// between tries, long after the lock came free): while another writer of the process
/// holds the turn, a batch claims nothing and a batch's PDFs are not stored, and both go
/// on once the turn is handed over. PostgreSQL's writers need no turn.
async fn the_mailer_s_writes_wait_for_the_process_s_turn_to_write(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    let donor = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::Spanish).await;
    let receipt = give(&app, gift_of(donor.id, 2_500)).await.receipt.unwrap();
    let key = format!("receipt:{}", receipt.id);
    let on_sqlite = app.db.get_database_backend() == sea_orm::DbBackend::Sqlite;
    let stored = |db: sea_orm::DatabaseConnection| async move {
        receipt::Entity::find_by_id(receipt.id)
            .one(&db)
            .await
            .unwrap()
            .unwrap()
            .content_pdf
            .is_some()
    };

    let turn = api::db::write_turn(&app.db).await.unwrap();
    assert_eq!(turn.is_some(), on_sqlite);
    let db = app.db.clone();
    let mut storing = tokio::spawn(async move {
        mailer::documents::store_typeset(&db, vec![(receipt.id, b"%PDF-1.7".to_vec())]).await
    });
    let worker = worker_for(&app, &smtp.url(), quick(10, 5));
    let mut sending = tokio::spawn(async move { worker.send_due_batch().await });
    if on_sqlite {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!storing.is_finished() && !sending.is_finished());
        let waiting = message_of(&app, &key).await;
        assert_eq!(
            (waiting.status, waiting.attempts),
            (OutboxStatus::Pending, 0)
        );
        assert!(!stored(app.db.clone()).await);
        drop(turn);
    }
    let within = Duration::from_secs(60);
    let stored_first = tokio::time::timeout(within, &mut storing).await;
    assert!(stored_first.unwrap().unwrap().is_ok());
    let report = tokio::time::timeout(within, &mut sending).await;
    assert_eq!(report.unwrap().unwrap().unwrap().sent, 1);
    assert!(stored(app.db.clone()).await);
    assert_eq!(message_of(&app, &key).await.status, OutboxStatus::Sent);
}

on_both_backends!(
    the_mailer_s_writes_wait_for_the_process_s_turn_to_write,
    a_receipt_pdf_is_typeset_after_issue_and_sent_and_downloaded_byte_for_byte,
    a_batch_of_receipts_each_carries_its_own_pdf,
    a_pdf_stored_while_its_batch_waits_is_the_one_sent,
    a_batch_read_ahead_holds_no_stored_pdf,
    a_batch_reads_its_stored_pdfs_in_one_statement_before_it_is_sent,
    a_receipt_pdf_states_what_was_issued_whatever_changed_since,
    a_stopping_worker_hands_back_what_it_has_not_started,
    a_worker_stopped_mid_batch_hands_back_the_batch_it_read_ahead,
    the_per_minute_limit_holds_the_rest_back,
    a_receipt_arrives_with_its_headers_both_parts_and_the_pdf,
    a_refusing_server_is_retried_until_it_recovers,
    a_permanent_refusal_fails_the_message_and_suppresses_the_address,
    an_unreachable_server_is_retried_until_the_message_is_dead,
    two_racing_workers_send_each_message_once,
    two_workers_claiming_at_once_never_share_a_message,
    a_claim_passes_over_a_message_another_worker_is_writing,
    a_claim_takes_orphaned_messages_first_then_due_ones_in_order,
    a_failed_send_in_a_batch_retries_only_that_message,
    a_drain_of_several_batches_records_every_outcome_before_it_returns,
    a_worker_that_dies_mid_batch_loses_nothing,
    staff_see_failed_mail_and_can_retry_it,
    without_smtp_messages_are_written_as_eml_files,
);
