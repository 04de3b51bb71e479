//! Staff API benchmark: seeds 10,000 donors and 100,000 gifts in bulk, starts the real
//! server on 127.0.0.1, and drives three typical staff requests with a fixed number of
//! requests from a few concurrent clients, on SQLite and then PostgreSQL. It prints
//! requests per second and p50/p99 latency; it asserts nothing about speed.
//!
//! Run: `cargo bench -p tests --bench staff_api` (BENCH_REQUESTS and BENCH_CLIENTS
//! change the load; BENCH_DONORS the data size).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use entity::enums::StaffRole;
use serde_json::{Value, json};
use tests::seed::{SeedPlan, seed};
use tests::support::{Backend, TestApp, postgres_available, spawn_app};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const SEARCH: &str = "query($search: String!) { donors(filter: { search: $search }, first: 25) {
    totalCount edges { cursor node { id displayName email city lifetimeGiving { formatted }
    lastGift { receivedAt amount { formatted } } currentTier { name } } } } }";

const DONOR: &str = "query($id: ID!) { donor(id: $id) { displayName email phone
    lifetimeGiving { formatted } thisYearGiving { formatted } lastYearGiving { formatted }
    largestGift { amount { formatted } } currentTier { name } activePledges { installment { formatted } frequency }
    gifts(first: 20) { totalCount edges { node { id amount { formatted } receivedAt method status fund { name } } } } } }";

const GIFTS_BY_FUND: &str = "query($fund: ID!) { gifts(filter: { fundId: $fund }, first: 50) {
    totalCount edges { node { id amount { amountMinor formatted } receivedAt method donor { displayName } } } } }";

/// Makes the variables of the i-th request.
type Variables = Arc<dyn Fn(usize) -> Value + Send + Sync>;

struct Figures {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn percentile(&self, p: f64) -> Duration {
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[index]
    }
}

/// Sends `requests` requests from `clients` concurrent clients; `variables(i)` makes the
/// i-th request's variables.
async fn drive(
    app: &Arc<TestApp>,
    token: &str,
    query: &'static str,
    requests: usize,
    clients: usize,
    variables: Variables,
) -> Figures {
    let started = Instant::now();
    let mut workers = Vec::new();
    for client in 0..clients {
        let app = app.clone();
        let token = token.to_owned();
        let variables = variables.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = client;
            while i < requests {
                let sent = Instant::now();
                let body = app.graphql(&token, query, variables(i)).await;
                latencies.push(sent.elapsed());
                assert!(body.get("errors").is_none(), "{}", body["errors"]);
                i += clients;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Figures {
        requests: latencies.len(),
        elapsed,
        latencies,
    }
}

async fn run(backend: Backend) {
    let donors = setting("BENCH_DONORS", 10_000);
    let requests = setting("BENCH_REQUESTS", 600);
    let clients = setting("BENCH_CLIENTS", 8);
    let app = Arc::new(spawn_app(backend).await);
    let seeding = Instant::now();
    let plan = SeedPlan {
        donors,
        gifts_per_donor: 10,
        funds: 8,
        pledge_every: 10,
    };
    let seeded = seed(&app.db, plan).await;
    let _ = writeln!(
        std::io::stderr(),
        "{backend:?}: seeded {} donors and {} gifts in {:.1}s",
        donors,
        donors * plan.gifts_per_donor,
        seeding.elapsed().as_secs_f64()
    );
    let token = app.token(StaffRole::Staff).await;

    const TERMS: [&str; 8] = [
        "lopez", "nunez", "haddad", "chloe", "kim", "benali", "garcia", "reyes 0",
    ];
    let donor_ids = Arc::new(seeded.donor_ids);
    let fund_ids = Arc::new(seeded.fund_ids);
    let scenarios: [(&str, &'static str, Variables); 3] = [
        (
            "donor search page (first 25 by name)",
            SEARCH,
            Arc::new(|i| json!({ "search": TERMS[i % TERMS.len()] })),
        ),
        (
            "one donor with 20 gifts",
            DONOR,
            Arc::new(
                move |i| json!({ "id": donor_ids[(i * 7_919) % donor_ids.len()].to_string() }),
            ),
        ),
        (
            "gifts by fund (first 50, newest)",
            GIFTS_BY_FUND,
            Arc::new(move |i| json!({ "fund": fund_ids[i % fund_ids.len()].to_string() })),
        ),
    ];
    for (name, query, variables) in scenarios {
        // A short warm-up, not counted.
        drive(&app, &token, query, clients * 2, clients, variables.clone()).await;
        let figures = drive(&app, &token, query, requests, clients, variables).await;
        println!(
            "{:<10} {:<42} {:>6} req in {:>6.2}s  {:>8.1} req/s  p50 {:>7.1} ms  p99 {:>7.1} ms",
            format!("{backend:?}"),
            name,
            figures.requests,
            figures.elapsed.as_secs_f64(),
            figures.requests as f64 / figures.elapsed.as_secs_f64(),
            figures.percentile(0.50).as_secs_f64() * 1000.0,
            figures.percentile(0.99).as_secs_f64() * 1000.0,
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; any other argument filters nothing here.
    println!(
        "staff API benchmark: {} clients, {} requests per scenario, 127.0.0.1",
        setting("BENCH_CLIENTS", 8),
        setting("BENCH_REQUESTS", 600)
    );
    run(Backend::Sqlite).await;
    if postgres_available().await {
        run(Backend::Postgres).await;
    } else {
        println!("PostgreSQL is not reachable: its figures were skipped");
    }
}
