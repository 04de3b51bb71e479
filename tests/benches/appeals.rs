//! Email appeal benchmark: seeds 50,000 donors (two gifts each, every one consenting to
//! email), then times building every donor's personal appeal (segment, last gift, ask,
//! signed links) and queueing one outbox message each, in the one transaction
//! `sendAppeal` uses, on SQLite and then PostgreSQL. A second send, which queues
//! nothing new, is timed too. It prints donors per second and the total; it asserts
//! only that every donor was queued once.
//!
//! Run: `cargo bench -p tests --bench appeals` (BENCH_DONORS changes the size).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::Instant;

use api::config::Config;
use api::domain::Actor;
use api::domain::appeal_sends::{self, LinkSettings};
use entity::enums::StaffRole;
use entity::{donor, outbox};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use tests::seed::{SeedPlan, seed};
use tests::support::{Backend, postgres_available, spawn_app};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(backend: Backend) {
    let donors = setting("BENCH_DONORS", 50_000);
    let app = spawn_app(backend).await;
    let seeding = Instant::now();
    seed(
        &app.db,
        SeedPlan {
            donors,
            gifts_per_donor: 2,
            funds: 0,
            pledge_every: 10,
        },
    )
    .await;
    donor::Entity::update_many()
        .col_expr(donor::Column::EmailConsent, Expr::value(true))
        .exec(&app.db)
        .await
        .unwrap();
    let _ = writeln!(
        std::io::stderr(),
        "{backend:?}: seeded {donors} donors and {} gifts in {:.1}s",
        donors * 2,
        seeding.elapsed().as_secs_f64()
    );

    let token = app.token(StaffRole::Staff).await;
    let body = app
        .graphql(
            &token,
            "mutation { createCampaign(input: { name: \"Bench\", goal: { amountMinor: 100000000 }, startsOn: \"2026-09-01\", defaultFundId: \"1\" }) { id } }",
            json!({}),
        )
        .await;
    let campaign = body["data"]["createCampaign"]["id"].clone();
    let body = app
        .graphql(
            &token,
            "mutation($c: ID!) { createAppeal(input: { campaignId: $c, name: \"Bench email\", channel: EMAIL, sourceCode: \"BENCH-EMAIL\", subject: \"{first_name}, will you stand with families?\", message: \"Dear {first_name},\\n\\nYour gift of {last_gift} kept a family together. Will you give {ask_amount} today? {donate_link}\", askRule: { step: { amountMinor: 2500 }, minimum: { amountMinor: 5000 }, inviteToCircle: true } }) { id } }",
            json!({ "c": campaign }),
        )
        .await;
    let appeal: i64 = body["data"]["createAppeal"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let config = Config::defaults_with_database("sqlite::memory:").unwrap();
    let links = LinkSettings {
        public_url: &config.public_url,
        key: "a benchmark key that is long enough to sign links",
        donate_link_valid_for: chrono::Duration::days(90),
    };
    let started = Instant::now();
    let first =
        appeal_sends::send_appeal(&app.db, &config.org, links, &Actor::system(), appeal, None)
            .await
            .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(first.queued as usize, donors);
    let queued = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("appeal"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(queued as usize, donors);
    println!(
        "{:<10} build and queue an email appeal: {:>6} donors in {:>6.2}s  {:>9.0} donors/s",
        format!("{backend:?}"),
        first.queued,
        elapsed.as_secs_f64(),
        first.queued as f64 / elapsed.as_secs_f64(),
    );
    let started = Instant::now();
    let again =
        appeal_sends::send_appeal(&app.db, &config.org, links, &Actor::system(), appeal, None)
            .await
            .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(again.queued, 0);
    println!(
        "{:<10} the same appeal sent again:      {:>6} donors in {:>6.2}s  {:>9.0} donors/s (nothing new queued)",
        format!("{backend:?}"),
        again.recipients,
        elapsed.as_secs_f64(),
        again.recipients as f64 / elapsed.as_secs_f64(),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "email appeal benchmark: {} donors",
        setting("BENCH_DONORS", 50_000)
    );
    run(Backend::Sqlite).await;
    if postgres_available().await {
        run(Backend::Postgres).await;
    } else {
        println!("PostgreSQL is not reachable: its figures were skipped");
    }
}
