//! How fast the mailer delivers to a local SMTP server, and how long year-end
//! statements (with their PDFs) take for many donors, on SQLite and PostgreSQL.
//!
//! `cargo bench -p tests --bench mailer`; sizes: BENCH_MESSAGES (default 1000) and
//! BENCH_DONORS (default 10000, each with 12 gifts).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use api::config::{Config, Secret, WorkerSettings};
use api::domain::Actor;
use api::domain::receipts;
use chrono::{TimeZone, Utc};
use entity::enums::{DonorKind, GiftStatus, Language, PaymentMethod};
use entity::{donor, gift};
use mailer::Worker;
use sea_orm::{EntityTrait, QueryOrder, QuerySelect, Set};
use tests::smtp::SmtpServer;
use tests::support::{Backend, TestApp, postgres_available, spawn_app};

fn size(variable: &str, default: usize) -> usize {
    std::env::var(variable)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn insert_donors(app: &TestApp, count: usize) -> Vec<i64> {
    let now = Utc::now();
    let languages = [Language::English, Language::Spanish, Language::French];
    for chunk_start in (0..count).step_by(500) {
        let rows = (chunk_start..(chunk_start + 500).min(count)).map(|n| donor::ActiveModel {
            kind: Set(DonorKind::Individual),
            display_name: Set(format!("Donor Number {n}")),
            email: Set(Some(format!("donor{n}@bench.example.org"))),
            address_line1: Set(Some(format!("{n} Mission Street"))),
            city: Set(Some("San Francisco".into())),
            region: Set(Some("CA".into())),
            postal_code: Set(Some("94110".into())),
            language: Set(languages[n % languages.len()]),
            email_consent: Set(true),
            anonymous: Set(false),
            search_text: Set(format!("donor number {n}")),
            created_at: Set(now),
            updated_at: Set(now),
            link_version: Set(0),
            ..Default::default()
        });
        donor::Entity::insert_many(rows)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
    }
    donor::Entity::find()
        .select_only()
        .column(donor::Column::Id)
        .order_by_asc(donor::Column::Id)
        .into_tuple()
        .all(&app.db)
        .await
        .unwrap()
}

async fn delivery(backend: Backend, messages: usize) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start();
    let donors = insert_donors(&app, messages).await;
    // One statement per donor queues one receipt email (with its PDF) each.
    let org = Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .org;
    let fund_gifts: Vec<gift::ActiveModel> = donors
        .iter()
        .map(|donor_id| {
            bench_gift(
                *donor_id,
                5_000,
                Utc.with_ymd_and_hms(2026, 2, 1, 18, 0, 0).unwrap(),
            )
        })
        .collect();
    for chunk in fund_gifts.chunks(1_000) {
        gift::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await
            .unwrap();
    }
    receipts::issue_year_end_statements(&app.db, &org, 2026, &Actor::system())
        .await
        .unwrap();

    let mut mail = Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .mail_settings();
    mail.smtp_url = Some(Secret::new(smtp.url()));
    let worker = Worker::new(
        app.db.clone(),
        mail,
        WorkerSettings {
            batch_size: 20,
            per_minute: 1_000_000,
            ..WorkerSettings::default()
        },
    )
    .unwrap();
    let mut batches = Vec::new();
    let started = Instant::now();
    let mut sent = 0;
    loop {
        let t = Instant::now();
        let report = worker.send_due_batch().await.unwrap();
        if report.claimed == 0 {
            break;
        }
        sent += report.sent;
        batches.push(t.elapsed());
    }
    let total = started.elapsed();
    batches.sort();
    assert_eq!(smtp.received().len(), sent);
    println!(
        "{backend:?}: delivered {sent} receipt emails (PDF attached) in {:.2}s: {:.0} messages/s; batch of 20 p50 {:.1} ms, p99 {:.1} ms",
        total.as_secs_f64(),
        sent as f64 / total.as_secs_f64(),
        percentile(&batches, 0.5).as_secs_f64() * 1e3,
        percentile(&batches, 0.99).as_secs_f64() * 1e3,
    );
}

fn bench_gift(donor_id: i64, cents: i64, at: chrono::DateTime<Utc>) -> gift::ActiveModel {
    let now = Utc::now();
    gift::ActiveModel {
        donor_id: Set(donor_id),
        amount_minor: Set(cents),
        currency: Set("USD".into()),
        refunded_minor: Set(0),
        method: Set(PaymentMethod::Card),
        status: Set(GiftStatus::Succeeded),
        fund_id: Set(1),
        received_at: Set(at),
        benefits_minor: Set(0),
        anonymous: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

async fn statements(backend: Backend, donors: usize) {
    let app = spawn_app(backend).await;
    let ids = insert_donors(&app, donors).await;
    let start = Utc.with_ymd_and_hms(2026, 1, 2, 18, 0, 0).unwrap();
    let gifts: Vec<gift::ActiveModel> = ids
        .iter()
        .flat_map(|donor_id| {
            (0..12).map(move |k| {
                bench_gift(
                    *donor_id,
                    2_500 + k * 100,
                    start + chrono::Duration::days(27 * k),
                )
            })
        })
        .collect();
    for chunk in gifts.chunks(1_000) {
        gift::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await
            .unwrap();
    }
    let org = Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .org;

    let started = Instant::now();
    let run = receipts::issue_year_end_statements(&app.db, &org, 2026, &Actor::system())
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let again = Instant::now();
    let second = receipts::issue_year_end_statements(&app.db, &org, 2026, &Actor::system())
        .await
        .unwrap();
    println!(
        "{backend:?}: year-end statements for {donors} donors x 12 gifts, with PDFs: {} issued in {:.2}s ({:.0} statements/s, {:.2} ms each); second run issued {} in {:.2}s",
        run.issued,
        elapsed.as_secs_f64(),
        run.issued as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3 / run.issued.max(1) as f64,
        second.issued,
        again.elapsed().as_secs_f64(),
    );
}

#[tokio::main]
async fn main() {
    let messages = size("BENCH_MESSAGES", 1_000);
    let donors = size("BENCH_DONORS", 10_000);
    let mut backends = vec![Backend::Sqlite];
    if postgres_available().await {
        backends.push(Backend::Postgres);
    }
    for backend in backends {
        delivery(backend, messages).await;
        statements(backend, donors).await;
    }
}
