//! Signed Stripe webhooks processed per second (distinct events, then the same events
//! replayed) and donation-page requests per second, on SQLite and PostgreSQL, against
//! the real server. Prints figures; asserts only that every request succeeded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tests::stripe::{SECRET_KEY, WEBHOOK_SECRET, event, payment_session, signature};
use tests::support::{Backend, TestApp, postgres_available, spawn_app_with};

const EVENTS: usize = 400;
const PAGE_REQUESTS: usize = 1_000;
const CONCURRENCY: usize = 8;

struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn figures(total: Duration, mut latencies: Vec<Duration>) -> Figures {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        per_second: latencies.len() as f64 / total.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// Sends `count` requests built by `make`, `CONCURRENCY` at a time.
async fn drive<F, Fut>(count: usize, make: F) -> Figures
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = reqwest::Response> + Send,
{
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let make = make.clone();
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index >= count {
                    break;
                }
                let sent = Instant::now();
                let response = make(index).await;
                assert!(
                    response.status().is_success(),
                    "request {index} failed: {}",
                    response.status()
                );
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    figures(started.elapsed(), latencies)
}

fn signed_bodies(count: usize) -> Arc<Vec<Vec<u8>>> {
    Arc::new(
        (0..count)
            .map(|i| {
                let session = payment_session(
                    &format!("cs_bench_{i}"),
                    &format!("donor{i}@example.org"),
                    2_500 + i as i64,
                    true,
                );
                serde_json::to_vec(&event(
                    &format!("evt_bench_{i}"),
                    "checkout.session.completed",
                    session,
                ))
                .unwrap()
            })
            .collect(),
    )
}

async fn webhooks(app: Arc<TestApp>, bodies: Arc<Vec<Vec<u8>>>) -> Figures {
    drive(bodies.len(), move |i| {
        let app = app.clone();
        let body = bodies[i].clone();
        async move {
            let header = signature(&body, WEBHOOK_SECRET);
            app.deliver_raw(body, Some(&header)).await
        }
    })
    .await
}

fn print(backend: &str, what: &str, f: &Figures) {
    println!(
        "{backend:<10} {what:<34} {:>9.1}/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
        f.per_second,
        f.p50.as_secs_f64() * 1_000.0,
        f.p99.as_secs_f64() * 1_000.0
    );
}

async fn run(backend: Backend) {
    let name = format!("{backend:?}");
    let app = Arc::new(
        spawn_app_with(
            backend,
            &[
                ("STRIPE_SECRET_KEY", SECRET_KEY),
                ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ],
        )
        .await,
    );
    let bodies = signed_bodies(EVENTS);
    let distinct = webhooks(app.clone(), bodies.clone()).await;
    print(&name, "webhooks, distinct paid checkouts", &distinct);
    let replays = webhooks(app.clone(), bodies).await;
    print(&name, "webhooks, the same events replayed", &replays);
    let page_app = app.clone();
    let page = drive(PAGE_REQUESTS, move |_| {
        let app = page_app.clone();
        async move { app.get("/donate?lang=es").await }
    })
    .await;
    print(&name, "GET /donate", &page);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "{EVENTS} signed events and {PAGE_REQUESTS} page requests, {CONCURRENCY} at a time"
        );
        run(Backend::Sqlite).await;
        if postgres_available().await {
            run(Backend::Postgres).await;
        }
    });
}
