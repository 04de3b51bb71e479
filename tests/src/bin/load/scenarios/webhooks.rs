//! Stripe webhooks: new checkout gifts and installments beside the bare rows of a paid
//! gift in one write transaction each, then replays of the same events beside the bare
//! lookup of the event id.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use chrono::{Datelike, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::Value;
use tests::stripe::{WEBHOOK_SECRET, event, paid_invoice, payment_session, signature};

use super::{Bench, PathName, Seeded, fetch_ok};
use crate::driver::drive;
use crate::sql::{rows, scalar_i64, sql};

/// Events delivered when only the replays or the mail are measured, so that they have
/// events to replay and receipts to copy.
const PRIMING_EVENTS: usize = 1_000;

/// Everything the webhooks scenarios share: bodies sent so far, for the replays.
#[derive(Default)]
pub struct Delivered(Mutex<Vec<Vec<u8>>>);

pub fn webhook_body(seeded: &Seeded, run: &str, i: usize) -> Vec<u8> {
    let event_body = if i % 2 == 1 && !seeded.subscriptions.is_empty() {
        let (subscription, amount, email) =
            &seeded.subscriptions[(i / 2) % seeded.subscriptions.len()];
        event(
            &format!("evt_{run}_{i}"),
            "invoice.paid",
            paid_invoice(&format!("in_{run}_{i}"), subscription, email, *amount),
        )
    } else {
        // Half of the checkouts come from donors already on file.
        let email = if i.is_multiple_of(4) && !seeded.emails.is_empty() {
            seeded.emails[(i / 4) % seeded.emails.len()].clone()
        } else {
            format!("new.{run}.{i}@load.example.org")
        };
        event(
            &format!("evt_{run}_{i}"),
            "checkout.session.completed",
            payment_session(
                &format!("cs_{run}_{i}"),
                &email,
                2_500 + (i % 40) as i64 * 500,
                true,
            ),
        )
    };
    serde_json::to_vec(&event_body).unwrap_or_default()
}

pub async fn deliver(client: &reqwest::Client, url: &str, body: Vec<u8>) -> bool {
    let header = signature(&body, WEBHOOK_SECRET);
    fetch_ok(
        client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", header)
            .body(body),
        200,
    )
    .await
}

/// One row of each table a paid checkout writes, with the service's own content.
#[derive(Clone)]
pub struct WebhookRows {
    pub event_payload: Value,
    pub receipt_text: String,
    pub receipt_html: Option<String>,
    pub receipt_document: Option<Value>,
    pub outbox_payload: Value,
}

pub async fn webhook_rows(
    db: &DatabaseConnection,
    event_payload: Value,
) -> anyhow::Result<WebhookRows> {
    let backend = db.get_database_backend();
    let receipt = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT content_text, content_html, document FROM receipts ORDER BY id DESC LIMIT 1",
        ))
        .await?
        .context("no receipt")?;
    let outbox = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT payload FROM outbox ORDER BY id DESC LIMIT 1",
        ))
        .await?
        .context("no outbox message")?;
    Ok(WebhookRows {
        event_payload,
        receipt_text: receipt.try_get_by_index(0)?,
        receipt_html: receipt.try_get_by_index(1)?,
        receipt_document: receipt.try_get_by_index(2)?,
        outbox_payload: outbox.try_get_by_index(0)?,
    })
}

/// The bare writes of one paid gift, in one transaction, numbered like the service does.
pub async fn insert_paid_gift(
    db: &DatabaseConnection,
    rows: &WebhookRows,
    run: &str,
    i: usize,
    donor_id: i64,
) -> Result<(), sea_orm::DbErr> {
    let txn = api::db::begin_write(db).await?;
    let backend = txn.get_database_backend();
    let now = Utc::now();
    let year = now.year();
    txn.execute_raw(sql(
        backend,
        "INSERT INTO stripe_events (event_id, event_type, livemode, stripe_created_at, payload, outcome, processed_at)
         VALUES ($1, 'checkout.session.completed', false, $2, $3, 'gift recorded', $2)",
        vec![format!("evt_{run}_{i}").into(), now.into(), rows.event_payload.clone().into()],
    ))
    .await?;
    let gift = txn
        .query_one_raw(sql(
            backend,
            "INSERT INTO gifts (donor_id, amount_minor, currency, refunded_minor, method, status, fund_id,
               received_at, benefits_minor, anonymous, stripe_checkout_session_id, stripe_payment_intent_id,
               created_at, updated_at)
             VALUES ($1, 2500, 'USD', 0, 'card', 'succeeded', 1, $2, 0, false, $3, $4, $2, $2) RETURNING id",
            vec![
                donor_id.into(),
                now.into(),
                format!("cs_{run}_{i}").into(),
                format!("pi_{run}_{i}").into(),
            ],
        ))
        .await?
        .ok_or_else(|| sea_orm::DbErr::Custom("no gift id".into()))?;
    let gift_id: i64 = gift.try_get_by_index(0)?;
    txn.execute_raw(sql(
        backend,
        "INSERT INTO receipt_counters (tax_year, last_sequence) VALUES ($1, 0) ON CONFLICT (tax_year) DO NOTHING",
        vec![year.into()],
    ))
    .await?;
    let counter = txn
        .query_one_raw(sql(
            backend,
            "UPDATE receipt_counters SET last_sequence = last_sequence + 1 WHERE tax_year = $1 RETURNING last_sequence",
            vec![year.into()],
        ))
        .await?
        .ok_or_else(|| sea_orm::DbErr::Custom("no counter".into()))?;
    let sequence: i32 = counter.try_get_by_index(0)?;
    let receipt = txn
        .query_one_raw(sql(
            backend,
            "INSERT INTO receipts (number, tax_year, sequence, kind, status, donor_id, gift_id, language,
               donor_name, donor_address, amount_minor, deductible_minor, currency, content_text,
               content_html, document, issued_at)
             VALUES ($1, $2, $3, 'gift', 'issued', $4, $5, 'en', 'Load Donor', '1 Main St', 2500, 2500, 'USD',
               $6, $7, $8, $9) RETURNING id",
            vec![
                format!("{year}-{sequence:06}").into(),
                year.into(),
                sequence.into(),
                donor_id.into(),
                gift_id.into(),
                rows.receipt_text.clone().into(),
                rows.receipt_html.clone().into(),
                rows.receipt_document.clone().into(),
                now.into(),
            ],
        ))
        .await?
        .ok_or_else(|| sea_orm::DbErr::Custom("no receipt id".into()))?;
    let _receipt_id: i64 = receipt.try_get_by_index(0)?;
    txn.execute_raw(sql(
        backend,
        "INSERT INTO outbox (idempotency_key, kind, donor_id, to_address, to_name, language, payload,
           status, attempts, next_attempt_at, created_at, updated_at)
         VALUES ($1, 'receipt', $2, 'load@example.org', 'Load Donor', 'en', $3, 'sent', 0, $4, $4, $4)",
        vec![
            format!("limit-receipt:{run}:{i}").into(),
            donor_id.into(),
            rows.outbox_payload.clone().into(),
            now.into(),
        ],
    ))
    .await?;
    txn.commit().await
}

/// Delivers an installment of a subscription neither the service nor Stripe knows, which
/// stays waiting for its pledge, as a few events do in any organization's books (a
/// payment older than the service, a subscription made by hand): every event applied
/// while one waits asks whether it is now ready.
async fn deliver_one_that_waits(
    client: &reqwest::Client,
    url: &str,
    db: &DatabaseConnection,
) -> anyhow::Result<()> {
    let body = event(
        "evt_load_waits",
        "invoice.paid",
        paid_invoice("in_load_waits", "sub_load_unknown", "", 4_200),
    );
    let delivered = deliver(client, url, serde_json::to_vec(&body)?).await;
    let waiting = scalar_i64(
        db,
        "SELECT COUNT(*) FROM stripe_events WHERE event_id = 'evt_load_waits' AND status = 'waiting'",
    )
    .await?;
    anyhow::ensure!(
        delivered && waiting == 1,
        "the event meant to wait was not stored as waiting"
    );
    Ok(())
}

/// New events, then replays, if selected. Replays and mail need delivered events: when
/// the new events are not measured, `PRIMING_EVENTS` are delivered first, unmeasured.
pub async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let (new_events, replays, mail) = (
        bench.paths.runs(PathName::Webhooks),
        bench.paths.runs(PathName::Replays),
        bench.paths.runs(PathName::Mail),
    );
    let (load, c) = (bench.load, bench.load.concurrency);
    let client = bench.service.client.clone();
    let seeded = bench.seeded.clone();
    let db = bench.db.clone();
    let delivered = Arc::new(Delivered::default());
    let webhook_url = format!("{}/webhooks/stripe", bench.service.base);
    if new_events || replays || mail {
        deliver_one_that_waits(&client, &webhook_url, &db).await?;
    }
    if new_events {
        let webhooks = {
            let (client, url, seeded, delivered) = (
                client.clone(),
                webhook_url.clone(),
                seeded.clone(),
                delivered.clone(),
            );
            drive(load, c, move |i| {
                let body = webhook_body(&seeded, "svc", i);
                let (client, url, delivered) = (client.clone(), url.clone(), delivered.clone());
                async move {
                    let ok = deliver(&client, &url, body.clone()).await;
                    if ok && let Ok(mut d) = delivered.0.lock() {
                        d.push(body);
                    }
                    ok
                }
            })
            .await
        };
        let sample_event: Value =
            serde_json::from_slice(&webhook_body(&seeded, "sample", 0)).unwrap_or_default();
        let template = webhook_rows(&db, sample_event).await?;
        let insert_limit = {
            let (db, template, donors) = (db.clone(), Arc::new(template), seeded.donors);
            drive(load.database_only(), c, move |i| {
                let (db, template) = (db.clone(), template.clone());
                async move {
                    insert_paid_gift(&db, &template, "limit", i, (i as i64 % donors) + 1)
                        .await
                        .is_ok()
                }
            })
            .await
        };
        bench.record(
            "webhooks: new checkouts and installments",
            "events/s",
            webhooks,
            Some(insert_limit),
            "bare event+gift+counter+receipt+outbox insert, one transaction each",
        );
    } else if replays || mail {
        let mut tasks = Vec::new();
        for k in 0..c {
            let (client, url, seeded) = (client.clone(), webhook_url.clone(), seeded.clone());
            tasks.push(tokio::spawn(async move {
                let mut accepted = Vec::new();
                for i in (k..PRIMING_EVENTS).step_by(c) {
                    let body = webhook_body(&seeded, "svc", i);
                    if deliver(&client, &url, body.clone()).await {
                        accepted.push(body);
                    }
                }
                accepted
            }));
        }
        let mut bodies = Vec::new();
        for task in tasks {
            bodies.extend(task.await?);
        }
        let mut d = delivered
            .0
            .lock()
            .map_err(|_| anyhow::anyhow!("delivered events poisoned"))?;
        d.extend(bodies);
        anyhow::ensure!(!d.is_empty(), "no webhook event was accepted");
    }
    if replays {
        let replays = {
            let (client, url, delivered) = (client.clone(), webhook_url.clone(), delivered.clone());
            drive(load, c, move |i| {
                let body = delivered
                    .0
                    .lock()
                    .ok()
                    .and_then(|d| (!d.is_empty()).then(|| d[i % d.len()].clone()))
                    .unwrap_or_default();
                let (client, url) = (client.clone(), url.clone());
                async move { deliver(&client, &url, body).await }
            })
            .await
        };
        let replay_limit = {
            let db = db.clone();
            drive(load.database_only(), c, move |i| {
                let db = db.clone();
                async move {
                    rows(
                        &db,
                        "SELECT id, outcome FROM stripe_events WHERE event_id = $1",
                        vec![format!("evt_svc_{}", i % 1_000).into()],
                    )
                    .await
                }
            })
            .await
        };
        bench.record(
            "webhooks: replays",
            "events/s",
            replays,
            Some(replay_limit),
            "bare lookup of the event id",
        );
    }
    Ok(())
}
