//! The load suite: for each database it creates a fresh one, fills it with
//! `api::bench_data`, starts the real server in a child process (so that its peak memory
//! can be read), and drives each path at a set concurrency for a set time after a
//! warm-up. Beside every figure it measures the limit the same run allows: the same data
//! through hand-written SQL on the same kind of pool, the bare inserts a webhook needs,
//! lettre sending prebuilt messages to the same SMTP sink, a static page from the same
//! actix setup. It prints a table and writes JSON.
//!
//! `cargo run --release -p tests --bin load -- [--donors N] [--backend sqlite|postgres|both]
//! [--duration S] [--concurrency C] [--json PATH]`

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::web;
use anyhow::{Context, bail};
use api::bench_data::{BenchPlan, BenchSummary, seed_bench};
use api::config::{Config, DatabaseUrl};
use api::domain::{Actor, tokens};
use chrono::{Datelike, TimeZone, Utc};
use clap::{Parser, ValueEnum};
use entity::enums::StaffRole;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value as DbValue};
use serde_json::{Value, json};
use tests::smtp::SmtpServer;
use tests::stripe::{SECRET_KEY, WEBHOOK_SECRET, event, paid_invoice, payment_session, signature};
use tests::support::{Backend, TestDatabase, postgres_available};

#[derive(Parser, Debug)]
#[command(
    name = "load",
    version,
    about = "The service's load suite, with the limit beside each figure"
)]
struct Args {
    /// Donors to seed (about ten gifts each).
    #[arg(long, default_value_t = 10_000)]
    donors: usize,
    #[arg(long, value_enum, default_value_t = BackendArg::Both)]
    backend: BackendArg,
    /// Seconds each scenario is measured, after the warm-up.
    #[arg(long, default_value_t = 8)]
    duration: u64,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Requests in flight.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Where to write the JSON report (default target/bench/load.json); each server's
    /// final `/metrics` is written beside it as `metrics-BACKEND.txt`.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The generator's seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Appended to the SMTP sink's URL the server gets (`?tls=opportunistic` sends
    /// through lettre's pooled transport instead of the plain-SMTP connections).
    #[arg(long, default_value = "")]
    smtp_url_suffix: String,
    /// Run the service from the environment's configuration (used for the child process).
    #[arg(long, hide = true)]
    serve: bool,
    /// Serve this file's bytes as a static page on LISTEN_ADDR (used for the child process).
    #[arg(long, hide = true)]
    serve_static: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
    Both,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.serve {
        let config = Config::load(None)?;
        api::telemetry::init(config.log_format);
        return runtime.block_on(api::cli::serve(config));
    }
    if let Some(page) = &args.serve_static {
        return runtime.block_on(serve_static(page));
    }
    runtime.block_on(run(args))
}

/// The limit for the pages: the same actix-web server setup answering with fixed bytes.
async fn serve_static(page: &Path) -> anyhow::Result<()> {
    let body = web::Bytes::from(std::fs::read(page)?);
    let address = std::env::var("LISTEN_ADDR").context("LISTEN_ADDR")?;
    actix_web::HttpServer::new(move || {
        let body = body.clone();
        actix_web::App::new().default_service(web::to(move || {
            let body = body.clone();
            async move {
                actix_web::HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(body)
            }
        }))
    })
    .bind(address)?
    .run()
    .await?;
    Ok(())
}

/// One measured run: throughput, latency percentiles and errors.
#[derive(Debug, Clone, Default)]
struct Figures {
    done: usize,
    errors: usize,
    per_second: f64,
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
}

impl Figures {
    fn from_latencies(mut latencies: Vec<Duration>, errors: usize, seconds: f64) -> Figures {
        latencies.sort_unstable();
        let at = |q: f64| {
            (!latencies.is_empty()).then(|| {
                let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
                latencies[index].as_secs_f64() * 1e3
            })
        };
        Figures {
            done: latencies.len(),
            errors,
            per_second: latencies.len() as f64 / seconds.max(1e-9),
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
        }
    }

    fn json(&self) -> Value {
        json!({
            "done": self.done,
            "errors": self.errors,
            "per_second": self.per_second,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
        })
    }
}

/// One row of the report: a path, its figures and its limit's.
struct Row {
    backend: &'static str,
    scenario: String,
    unit: &'static str,
    service: Figures,
    limit: Option<Figures>,
    limit_name: String,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        self.limit
            .as_ref()
            .filter(|l| l.per_second > 0.0)
            .map(|l| self.service.per_second / l.per_second)
    }
}

#[derive(Clone, Copy)]
struct Load {
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
}

/// Runs `work(i)` from `concurrency` tasks until the time is up; what finishes during the
/// warm-up is not counted. `work` returns whether the request succeeded.
async fn drive<F, Fut>(load: Load, concurrency: usize, work: F) -> Figures
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let measured_from = start + load.warmup;
    let deadline = measured_from + load.duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let work = work.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let sent = Instant::now();
                if sent >= deadline {
                    break;
                }
                let ok = work(next.fetch_add(1, Ordering::Relaxed)).await;
                let done = Instant::now();
                if sent >= measured_from && done <= deadline {
                    if ok {
                        latencies.push(done - sent);
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((l, e)) = task.await {
            latencies.extend(l);
            errors += e;
        }
    }
    Figures::from_latencies(latencies, errors, load.duration.as_secs_f64())
}

/// A child process killed when dropped.
struct ChildProcess(Child);

impl ChildProcess {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Peak and current resident memory in MiB, from /proc.
    fn memory_mib(&self) -> (Option<f64>, Option<f64>) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_until_ready(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} did not answer within a minute")
}

/// Re-runs this executable with `args` and `env`; output goes to `log`.
fn spawn_child(args: &[&str], env: &[(&str, String)], log: &Path) -> anyhow::Result<ChildProcess> {
    let exe = std::env::current_exe()?;
    let output = std::fs::File::create(log)?;
    let mut command = Command::new(exe);
    command
        .args(args)
        .env_remove("CONFIG_FILE")
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output);
    for (key, value) in env {
        command.env(key, value);
    }
    Ok(ChildProcess(command.spawn()?))
}

/// The fake Stripe API: creates Checkout Sessions at once.
async fn start_fake_stripe() -> anyhow::Result<(String, actix_web::dev::ServerHandle)> {
    let counter = web::Data::new(AtomicUsize::new(0));
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().app_data(counter.clone()).route(
            "/v1/checkout/sessions",
            web::post().to(|counter: web::Data<AtomicUsize>| async move {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let id = format!("cs_load_{n}");
                actix_web::HttpResponse::Ok().json(json!({
                    "id": id,
                    "object": "checkout.session",
                    "url": format!("https://checkout.stripe.test/c/pay/{id}"),
                }))
            }),
        )
        // An installment's payment, which invoice events do not carry.
        .route(
            "/v1/invoice_payments",
            web::get().to(|query: web::Query<std::collections::HashMap<String, String>>| async move {
                let invoice = query.get("invoice").cloned().unwrap_or_default();
                actix_web::HttpResponse::Ok().json(json!({
                    "object": "list", "has_more": false, "url": "/v1/invoice_payments",
                    "data": [{ "object": "invoice_payment", "invoice": invoice, "status": "paid",
                               "payment": { "type": "payment_intent",
                                            "payment_intent": tests::stripe::invoice_payment_intent(&invoice) } }],
                }))
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")?;
    let port = server
        .addrs()
        .first()
        .map(|a| a.port())
        .context("the fake Stripe has no address")?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((format!("http://127.0.0.1:{port}"), handle))
}

/// `$1`-style placeholders for PostgreSQL become `?1` for SQLite.
fn sql(backend: DbBackend, text: &str, values: Vec<DbValue>) -> Statement {
    match backend {
        DbBackend::Postgres => Statement::from_sql_and_values(backend, text, values),
        _ => Statement::from_sql_and_values(backend, text.replace('$', "?"), values),
    }
}

async fn rows(db: &DatabaseConnection, text: &str, values: Vec<DbValue>) -> bool {
    db.query_all_raw(sql(db.get_database_backend(), text, values))
        .await
        .is_ok()
}

async fn scalar_i64(db: &DatabaseConnection, text: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), text))
        .await?
        .context("no row")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

async fn ids(db: &DatabaseConnection, text: &str) -> anyhow::Result<Vec<i64>> {
    let mut out = Vec::new();
    for row in db
        .query_all_raw(Statement::from_string(db.get_database_backend(), text))
        .await?
    {
        out.push(row.try_get_by_index::<i64>(0)?);
    }
    Ok(out)
}

const SEARCH_TERMS: &[&str] = &[
    "garcia",
    "nguyen",
    "lopez",
    "haddad",
    "kim",
    "dubois",
    "smith",
    "ortiz",
    "mar",
    "jo",
    "foundation",
    "elena",
];

const Q_SEARCH: &str = "query($search: String!) { donors(filter: { search: $search }, first: 25) {
    totalCount edges { cursor node { id displayName email city lifetimeGiving { formatted }
    lastGift { receivedAt amount { formatted } } currentTier { name } } } } }";

const Q_DONOR: &str = "query($id: ID!) { donor(id: $id) { displayName email phone
    lifetimeGiving { formatted } thisYearGiving { formatted } lastYearGiving { formatted }
    largestGift { amount { formatted } } currentTier { name }
    activePledges { installment { formatted } frequency startsOn status }
    gifts(first: 20) { totalCount edges { node { id amount { formatted } receivedAt method status fund { name } } } } } }";

const Q_GIFTS_BY_FUND_MONTH: &str = "query($fund: ID!, $from: DateTime!, $to: DateTime!) {
    gifts(filter: { fundId: $fund, receivedFrom: $from, receivedTo: $to }, first: 50) {
    totalCount edges { node { id amount { amountMinor formatted } receivedAt method donor { displayName } } } } }";

const Q_CLUB: &str = "{ givingClub { monthlyRecurringRevenue { amountMinor formatted }
    annualPledgeTotal { amountMinor formatted }
    members(first: 50) { totalCount edges { node { joinedAt annualPledgeTotal { amountMinor }
    donor { displayName } tier { name } } } } } }";

const Q_CAMPAIGN: &str = "query($campaign: ID!, $appeal: ID!) {
    campaign(id: $campaign) { name goal { formatted } progress { raised { formatted } gifts donors percentOfGoal } }
    appealResults(id: $appeal) { recipients gifts donors raised { formatted } responseRatePercent
    averageGift { formatted } pledges newClubMembers newCircleMembers cost { formatted } } }";

const L_SEARCH: [&str; 2] = [
    "SELECT d.id, d.display_name, d.email, d.city,
       (SELECT COALESCE(SUM(g.amount_minor - g.refunded_minor), 0) FROM gifts g
         WHERE g.donor_id = d.id AND g.status IN ('succeeded', 'partially_refunded')) AS lifetime,
       (SELECT g.received_at FROM gifts g WHERE g.donor_id = d.id AND g.status = 'succeeded'
         ORDER BY g.received_at DESC LIMIT 1) AS last_at,
       (SELECT g.amount_minor FROM gifts g WHERE g.donor_id = d.id AND g.status = 'succeeded'
         ORDER BY g.received_at DESC LIMIT 1) AS last_amount,
       (SELECT t.name FROM tier_memberships m JOIN giving_tiers t ON t.id = m.tier_id
         WHERE m.donor_id = d.id AND m.left_at IS NULL) AS tier
     FROM donors d WHERE d.search_text LIKE $1 ORDER BY d.display_name, d.id LIMIT 25",
    "SELECT COUNT(*) FROM donors d WHERE d.search_text LIKE $1",
];

const L_DONOR: [&str; 5] = [
    "SELECT d.display_name, d.email, d.phone FROM donors d WHERE d.id = $1",
    "SELECT COALESCE(SUM(amount_minor - refunded_minor), 0),
       COALESCE(SUM(CASE WHEN received_at >= $2 THEN amount_minor - refunded_minor ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN received_at >= $3 AND received_at < $2 THEN amount_minor - refunded_minor ELSE 0 END), 0),
       MAX(amount_minor)
     FROM gifts WHERE donor_id = $1 AND status IN ('succeeded', 'partially_refunded')",
    "SELECT t.name FROM tier_memberships m JOIN giving_tiers t ON t.id = m.tier_id
     WHERE m.donor_id = $1 AND m.left_at IS NULL",
    "SELECT installment_minor, frequency, starts_on, status FROM pledges
     WHERE donor_id = $1 AND status = 'active'",
    "SELECT g.id, g.amount_minor, g.received_at, g.method, g.status, f.name,
       (SELECT COUNT(*) FROM gifts c WHERE c.donor_id = $1) AS total
     FROM gifts g JOIN funds f ON f.id = g.fund_id WHERE g.donor_id = $1
     ORDER BY g.received_at DESC, g.id DESC LIMIT 20",
];

const L_GIFTS_BY_FUND_MONTH: [&str; 2] = [
    "SELECT g.id, g.amount_minor, g.received_at, g.method, d.display_name
     FROM gifts g JOIN donors d ON d.id = g.donor_id
     WHERE g.fund_id = $1 AND g.received_at >= $2 AND g.received_at < $3
     ORDER BY g.received_at DESC, g.id DESC LIMIT 50",
    "SELECT COUNT(*) FROM gifts g WHERE g.fund_id = $1 AND g.received_at >= $2 AND g.received_at < $3",
];

const L_CLUB: [&str; 3] = [
    "SELECT m.joined_at, m.annual_pledge_total_minor, d.display_name, t.name
     FROM tier_memberships m JOIN donors d ON d.id = m.donor_id JOIN giving_tiers t ON t.id = m.tier_id
     WHERE m.left_at IS NULL ORDER BY m.joined_at, m.id LIMIT 50",
    "SELECT COUNT(*) FROM tier_memberships WHERE left_at IS NULL",
    "SELECT COALESCE(SUM(installment_minor), 0), COALESCE(SUM(installment_minor * 12), 0)
     FROM pledges WHERE status IN ('active', 'past_due') AND frequency = 'monthly'",
];

const L_CAMPAIGN: [&str; 4] = [
    "SELECT c.name, c.goal_minor, COALESCE(SUM(g.amount_minor - g.refunded_minor), 0),
       COUNT(g.id), COUNT(DISTINCT g.donor_id)
     FROM campaigns c LEFT JOIN gifts g ON g.campaign_id = c.id
       AND g.status IN ('succeeded', 'partially_refunded')
     WHERE c.id = $1 GROUP BY c.id, c.name, c.goal_minor",
    "SELECT COUNT(*), COUNT(DISTINCT donor_id), COALESCE(SUM(amount_minor - refunded_minor), 0)
     FROM gifts WHERE appeal_id = $1 AND status IN ('succeeded', 'partially_refunded')",
    "SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'appeal:' || $1 || ':%'",
    "SELECT COUNT(*) FROM pledges WHERE appeal_id = $1",
];

/// What the staff scenarios need from the seeded data.
struct Seeded {
    donors: i64,
    funds: Vec<i64>,
    campaigns: Vec<(i64, i64)>,
    subscriptions: Vec<(String, i64, String)>,
    emails: Vec<String>,
    months: Vec<(chrono::DateTime<Utc>, chrono::DateTime<Utc>)>,
}

async fn read_seeded(db: &DatabaseConnection) -> anyhow::Result<Seeded> {
    let backend = db.get_database_backend();
    let mut subscriptions = Vec::new();
    for row in db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT p.stripe_subscription_id, p.installment_minor, d.email FROM pledges p \
             JOIN donors d ON d.id = p.donor_id WHERE p.stripe_subscription_id IS NOT NULL",
        ))
        .await?
    {
        subscriptions.push((
            row.try_get_by_index::<String>(0)?,
            row.try_get_by_index::<i64>(1)?,
            row.try_get_by_index::<String>(2)?,
        ));
    }
    let mut emails = Vec::new();
    for row in db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT email FROM donors WHERE id % 97 = 0 ORDER BY id",
        ))
        .await?
    {
        emails.push(row.try_get_by_index::<String>(0)?);
    }
    let mut campaigns = Vec::new();
    for row in db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT campaign_id, MIN(id) FROM appeals GROUP BY campaign_id ORDER BY campaign_id",
        ))
        .await?
    {
        campaigns.push((
            row.try_get_by_index::<i64>(0)?,
            row.try_get_by_index::<i64>(1)?,
        ));
    }
    let now = Utc::now();
    let months = (1..=24)
        .filter_map(|back| {
            let first = now.date_naive().with_day(1)?;
            let from = first.checked_sub_months(chrono::Months::new(back))?;
            let to = from.checked_add_months(chrono::Months::new(1))?;
            Some((
                Utc.from_utc_datetime(&from.and_hms_opt(0, 0, 0)?),
                Utc.from_utc_datetime(&to.and_hms_opt(0, 0, 0)?),
            ))
        })
        .collect();
    Ok(Seeded {
        donors: scalar_i64(db, "SELECT COUNT(*) FROM donors").await?,
        funds: ids(db, "SELECT id FROM funds ORDER BY id").await?,
        campaigns,
        subscriptions,
        emails,
        months,
    })
}

struct Service {
    base: String,
    client: reqwest::Client,
    token: String,
}

impl Service {
    async fn graphql(&self, query: &str, variables: Value) -> bool {
        let response = self
            .client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                Ok(body) => body.get("errors").is_none(),
                Err(_) => false,
            },
            _ => false,
        }
    }
}

async fn fetch_ok(request: reqwest::RequestBuilder, expected: u16) -> bool {
    match request.send().await {
        Ok(r) => r.status().as_u16() == expected && r.bytes().await.is_ok(),
        Err(_) => false,
    }
}

/// Everything the webhooks scenarios share: bodies sent so far, for the replays.
#[derive(Default)]
struct Delivered(Mutex<Vec<Vec<u8>>>);

fn webhook_body(seeded: &Seeded, run: &str, i: usize) -> Vec<u8> {
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

async fn deliver(client: &reqwest::Client, url: &str, body: Vec<u8>) -> bool {
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
struct WebhookRows {
    event_payload: Value,
    receipt_text: String,
    receipt_html: Option<String>,
    receipt_document: Option<Value>,
    outbox_payload: Value,
}

async fn webhook_rows(
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
async fn insert_paid_gift(
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

fn graphql_scenarios(seeded: &Arc<Seeded>) -> Vec<(&'static str, &'static str, Variables)> {
    let s = seeded.clone();
    let donor =
        Arc::new(move |i: usize| json!({ "id": ((i * 7_919) as i64 % s.donors + 1).to_string() }));
    let s = seeded.clone();
    let by_fund = Arc::new(move |i: usize| {
        let (from, to) = s.months[i % s.months.len().max(1)];
        json!({ "fund": s.funds[i % s.funds.len().max(1)].to_string(), "from": from, "to": to })
    });
    let s = seeded.clone();
    let campaign = Arc::new(move |i: usize| {
        let (c, a) = s.campaigns[i % s.campaigns.len().max(1)];
        json!({ "campaign": c.to_string(), "appeal": a.to_string() })
    });
    vec![
        (
            "GraphQL donor search page",
            Q_SEARCH,
            Arc::new(|i: usize| json!({ "search": SEARCH_TERMS[i % SEARCH_TERMS.len()] })),
        ),
        ("GraphQL one donor, gifts and pledges", Q_DONOR, donor),
        (
            "GraphQL gifts by fund and month",
            Q_GIFTS_BY_FUND_MONTH,
            by_fund,
        ),
        (
            "GraphQL giving-club summary",
            Q_CLUB,
            Arc::new(|_| json!({})),
        ),
        ("GraphQL campaign and appeal results", Q_CAMPAIGN, campaign),
    ]
}

/// Makes the i-th request's variables.
type Variables = Arc<dyn Fn(usize) -> Value + Send + Sync>;

/// The same data as each GraphQL scenario, through hand-written SQL.
async fn limit_query(db: &DatabaseConnection, seeded: &Seeded, scenario: usize, i: usize) -> bool {
    let now = Utc::now();
    match scenario {
        0 => {
            let term = format!("%{}%", SEARCH_TERMS[i % SEARCH_TERMS.len()]);
            rows(db, L_SEARCH[0], vec![term.clone().into()]).await
                && rows(db, L_SEARCH[1], vec![term.into()]).await
        }
        1 => {
            let id = (i * 7_919) as i64 % seeded.donors + 1;
            let this_year = Utc
                .with_ymd_and_hms(now.year(), 1, 1, 0, 0, 0)
                .single()
                .unwrap_or(now);
            let last_year = Utc
                .with_ymd_and_hms(now.year() - 1, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or(now);
            rows(db, L_DONOR[0], vec![id.into()]).await
                && rows(
                    db,
                    L_DONOR[1],
                    vec![id.into(), this_year.into(), last_year.into()],
                )
                .await
                && rows(db, L_DONOR[2], vec![id.into()]).await
                && rows(db, L_DONOR[3], vec![id.into()]).await
                && rows(db, L_DONOR[4], vec![id.into()]).await
        }
        2 => {
            let (from, to) = seeded.months[i % seeded.months.len().max(1)];
            let fund = seeded.funds[i % seeded.funds.len().max(1)];
            rows(
                db,
                L_GIFTS_BY_FUND_MONTH[0],
                vec![fund.into(), from.into(), to.into()],
            )
            .await
                && rows(
                    db,
                    L_GIFTS_BY_FUND_MONTH[1],
                    vec![fund.into(), from.into(), to.into()],
                )
                .await
        }
        3 => {
            rows(db, L_CLUB[0], vec![]).await
                && rows(db, L_CLUB[1], vec![]).await
                && rows(db, L_CLUB[2], vec![]).await
        }
        _ => {
            let (c, a) = seeded.campaigns[i % seeded.campaigns.len().max(1)];
            rows(db, L_CAMPAIGN[0], vec![c.into()]).await
                && rows(db, L_CAMPAIGN[1], vec![a.into()]).await
                && rows(db, L_CAMPAIGN[2], vec![a.to_string().into()]).await
                && rows(db, L_CAMPAIGN[3], vec![a.into()]).await
        }
    }
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

struct BackendReport {
    backend: &'static str,
    seeded: BenchSummary,
    rows: Vec<Row>,
    peak_rss_mib: Option<f64>,
    rss_mib: Option<f64>,
}

async fn run_backend(backend: Backend, args: &Args, load: Load) -> anyhow::Result<BackendReport> {
    let name = backend_name(backend);
    let database = TestDatabase::create(backend).await;
    let mut vars = std::collections::HashMap::new();
    vars.insert("DATABASE_URL".to_owned(), database.url.clone());
    let config = Config::from_sources(None, move |key| vars.get(key).cloned())?;
    let db = api::db::connect(&DatabaseUrl::new(database.url.clone())).await?;
    use migration::MigratorTrait;
    migration::Migrator::up(&db, None).await?;
    let plan = BenchPlan {
        donors: args.donors,
        seed: args.seed,
        as_of: Utc::now().date_naive(),
    };
    let summary = seed_bench(&db, &config.org, plan).await?;
    eprintln!("{name}: {summary}");
    let token = tokens::create_token(&db, "load", StaffRole::Admin, &Actor::cli())
        .await?
        .secret;
    let seeded = Arc::new(read_seeded(&db).await?);

    let (stripe_base, stripe) = start_fake_stripe().await?;
    let smtp = SmtpServer::start();
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let dir = database.dir().to_owned();
    let env = vec![
        ("DATABASE_URL", database.url.clone()),
        ("LISTEN_ADDR", format!("127.0.0.1:{port}")),
        ("PUBLIC_URL", base.clone()),
        ("STRIPE_SECRET_KEY", SECRET_KEY.to_owned()),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("STRIPE_API_BASE", stripe_base),
        (
            "SMTP_URL",
            format!("{}{}", smtp.url(), args.smtp_url_suffix),
        ),
        ("MAIL_DIR", dir.join("mail").display().to_string()),
        ("MAILER_IN_PROCESS", "true".to_owned()),
        ("MAILER_PER_MINUTE", "1000000".to_owned()),
        ("MAILER_POLL_SECS", "1".to_owned()),
        ("LOG_FORMAT", "text".to_owned()),
        // One token drives every GraphQL scenario; its budget must not be the limit.
        ("GRAPHQL_RATE_PER_MINUTE", "100000000".to_owned()),
        ("GRAPHQL_BURST", "100000000".to_owned()),
        // The checkout's budgets would refuse one client's loop; the path itself is measured.
        ("CHECKOUT_PER_ADDRESS", "0".to_owned()),
        ("CHECKOUT_PER_EMAIL", "0".to_owned()),
        ("CHECKOUT_GLOBAL_PER_MINUTE", "0".to_owned()),
        ("METRICS_TOKEN", METRICS_TOKEN.to_owned()),
    ];
    let server = spawn_child(&["--serve"], &env, &dir.join("server.log"))?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()?;
    wait_until_ready(&client, &format!("{base}/readyz")).await?;
    let service = Arc::new(Service {
        base: base.clone(),
        client: client.clone(),
        token,
    });
    let mut rows_out = Vec::new();
    let c = load.concurrency;

    // Staff GraphQL, each beside the same data through hand-written SQL.
    for (index, (scenario, query, variables)) in graphql_scenarios(&seeded).into_iter().enumerate()
    {
        let s = service.clone();
        let figures = drive(load, c, move |i| {
            let s = s.clone();
            let variables = variables(i);
            async move { s.graphql(query, variables).await }
        })
        .await;
        let limit_db = db.clone();
        let seeded_limit = seeded.clone();
        let limit = drive(load, c, move |i| {
            let db = limit_db.clone();
            let seeded = seeded_limit.clone();
            async move { limit_query(&db, &seeded, index, i).await }
        })
        .await;
        report_line(name, scenario, &figures, Some(&limit));
        rows_out.push(Row {
            backend: name,
            scenario: scenario.to_owned(),
            unit: "req/s",
            service: figures,
            limit: Some(limit),
            limit_name: "hand-written SQL, same pool kind".into(),
        });
    }

    // Donors: the page and the checkout, beside a static page from the same actix setup.
    let page = client
        .get(format!("{base}/donate"))
        .send()
        .await?
        .bytes()
        .await?;
    let page_file = dir.join("donate.html");
    std::fs::write(&page_file, &page)?;
    let static_port = free_port()?;
    let static_server = spawn_child(
        &["--serve-static", &page_file.display().to_string()],
        &[("LISTEN_ADDR", format!("127.0.0.1:{static_port}"))],
        &dir.join("static.log"),
    )?;
    let static_base = format!("http://127.0.0.1:{static_port}");
    wait_until_ready(&client, &format!("{static_base}/donate")).await?;
    let static_figures = {
        let (client, url) = (client.clone(), format!("{static_base}/donate"));
        drive(load, c, move |_| fetch_ok(client.get(&url), 200)).await
    };
    let page_figures = {
        let (client, url) = (client.clone(), format!("{base}/donate?lang=es"));
        drive(load, c, move |_| fetch_ok(client.get(&url), 200)).await
    };
    report_line(name, "GET /donate", &page_figures, Some(&static_figures));
    let form_token = String::from_utf8_lossy(&page)
        .split("name=\"attempt\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let post_figures = {
        let (client, url) = (client.clone(), format!("{base}/donate"));
        let origin = base.clone();
        drive(load, c, move |i| {
            let form = [
                ("frequency", "once".to_owned()),
                ("amount", "50".to_owned()),
                ("fund", "GENERAL".to_owned()),
                ("name", "Ana García".to_owned()),
                ("email", format!("ana.{i}@load.example.org")),
                ("attempt", form_token.clone()),
                ("lang", "es".to_owned()),
            ];
            fetch_ok(
                client
                    .post(&url)
                    .header("Origin", origin.as_str())
                    .form(&form),
                303,
            )
        })
        .await
    };
    let static_post = {
        let (client, url) = (client.clone(), format!("{static_base}/donate"));
        drive(load, c, move |_| {
            fetch_ok(client.post(&url).form(&[("amount", "50")]), 200)
        })
        .await
    };
    report_line(
        name,
        "POST /donate -> Stripe -> 303",
        &post_figures,
        Some(&static_post),
    );
    drop(static_server);
    rows_out.push(Row {
        backend: name,
        scenario: "GET /donate".into(),
        unit: "req/s",
        service: page_figures,
        limit: Some(static_figures),
        limit_name: "static page of the same bytes, same actix setup".into(),
    });
    rows_out.push(Row {
        backend: name,
        scenario: "POST /donate -> fake Stripe -> 303".into(),
        unit: "req/s",
        service: post_figures,
        limit: Some(static_post),
        limit_name: "static response, same actix setup".into(),
    });

    // Stripe: new checkout gifts and installments, then replays of the same events.
    let delivered = Arc::new(Delivered::default());
    let webhook_url = format!("{base}/webhooks/stripe");
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
        drive(load, c, move |i| {
            let (db, template) = (db.clone(), template.clone());
            async move {
                insert_paid_gift(&db, &template, "limit", i, (i as i64 % donors) + 1)
                    .await
                    .is_ok()
            }
        })
        .await
    };
    report_line(
        name,
        "webhooks: new gifts and installments",
        &webhooks,
        Some(&insert_limit),
    );
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
        drive(load, c, move |i| {
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
    report_line(name, "webhooks: replays", &replays, Some(&replay_limit));
    rows_out.push(Row {
        backend: name,
        scenario: "webhooks: new checkouts and installments".into(),
        unit: "events/s",
        service: webhooks,
        limit: Some(insert_limit),
        limit_name: "bare event+gift+counter+receipt+outbox insert, one transaction each".into(),
    });
    rows_out.push(Row {
        backend: name,
        scenario: "webhooks: replays".into(),
        unit: "events/s",
        service: replays,
        limit: Some(replay_limit),
        limit_name: "bare lookup of the event id".into(),
    });

    // Mail: receipt emails queued all at once, drained by the server's own mailer.
    let mail = measure_mail(&db, &smtp, load).await?;
    let mail_limit = lettre_limit(&smtp, load).await?;
    report_line(name, "mail: outbox to SMTP", &mail, Some(&mail_limit));
    rows_out.push(Row {
        backend: name,
        scenario: "mail: outbox drained to SMTP by the in-process mailer".into(),
        unit: "msgs/s",
        service: mail,
        limit: Some(mail_limit),
        limit_name: "lettre sending prebuilt messages, 4 pooled connections".into(),
    });

    // What an operator's Prometheus would have scraped at the end of the run.
    let metrics = client
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let metrics_path = report_path(args).with_file_name(format!("metrics-{name}.txt"));
    if let Some(parent) = metrics_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&metrics_path, metrics)?;
    eprintln!(
        "{name}: /metrics at the end written to {}",
        metrics_path.display()
    );

    let (peak, current) = server.memory_mib();
    drop(server);
    stripe.stop(false).await;
    db.close().await?;
    Ok(BackendReport {
        backend: name,
        seeded: summary,
        rows: rows_out,
        peak_rss_mib: peak,
        rss_mib: current,
    })
}

/// Queues copies of the receipt emails the webhooks wrote, waits until the server's
/// mailer has delivered them all to the sink, and reports messages per second.
async fn measure_mail(
    db: &DatabaseConnection,
    smtp: &SmtpServer,
    load: Load,
) -> anyhow::Result<Figures> {
    // Let the mailer finish what the webhooks queued.
    let settle = Instant::now();
    while scalar_i64(
        db,
        "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')",
    )
    .await?
        > 0
        && settle.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let available = scalar_i64(
        db,
        "SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND kind = 'receipt'",
    )
    .await?;
    if available == 0 {
        bail!("no receipt email was sent to copy");
    }
    let wanted: i64 = 3_000;
    let before = smtp.received_count();
    let backend = db.get_database_backend();
    let mut queued = 0;
    let mut round = 0;
    let started = Instant::now();
    while queued < wanted {
        let result = db
            .execute_raw(sql(
                backend,
                "INSERT INTO outbox (idempotency_key, kind, donor_id, to_address, to_name, language, payload,
                   status, attempts, next_attempt_at, created_at, updated_at)
                 SELECT 'load-mail:' || $1 || ':' || id, kind, donor_id, to_address, to_name, language, payload,
                   'pending', 0, $2, $2, $2
                 FROM outbox WHERE status = 'sent' AND kind = 'receipt' ORDER BY id LIMIT $3",
                vec![round.to_string().into(), Utc::now().into(), (wanted - queued).into()],
            ))
            .await?;
        queued += result.rows_affected() as i64;
        round += 1;
    }
    let target = before + queued as usize;
    let limit = load.warmup + load.duration * 6;
    let mut last_count = before;
    let mut gaps = Vec::new();
    let mut last_change = Instant::now();
    while smtp.received_count() < target && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let count = smtp.received_count();
        if count > last_count {
            let gap = last_change.elapsed() / (count - last_count) as u32;
            gaps.extend(std::iter::repeat_n(gap, count - last_count));
            last_count = count;
            last_change = Instant::now();
        }
    }
    let delivered = smtp.received_count() - before;
    let seconds = started.elapsed().as_secs_f64();
    let failed = queued as usize - delivered.min(queued as usize);
    let mut figures = Figures::from_latencies(Vec::new(), failed, seconds);
    figures.done = delivered;
    figures.per_second = delivered as f64 / seconds.max(1e-9);
    // Time between deliveries seen at the sink, not a per-message latency.
    let spaced = Figures::from_latencies(gaps, 0, seconds);
    figures.p50_ms = spaced.p50_ms;
    figures.p95_ms = spaced.p95_ms;
    figures.p99_ms = spaced.p99_ms;
    Ok(figures)
}

/// lettre sending one of the messages the sink received, prebuilt, on as many
/// connections as the mailer uses (Nagle's algorithm off, as the mailer does).
async fn lettre_limit(smtp: &SmtpServer, load: Load) -> anyhow::Result<Figures> {
    let message = smtp
        .received()
        .into_iter()
        .last()
        .context("the sink received nothing")?;
    let envelope = lettre::address::Envelope::new(
        Some("giving@example.org".parse()?),
        vec!["donor@example.org".parse()?],
    )?;
    let address = smtp.url().trim_start_matches("smtp://").to_owned();
    let connections = mailer::transport::SMTP_CONNECTIONS as usize;
    let mut pool = Vec::new();
    for _ in 0..connections {
        let stream = tokio::net::TcpStream::connect(address.as_str()).await?;
        stream.set_nodelay(true)?;
        pool.push(
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &ClientId::default())
                .await?,
        );
    }
    let shared = Arc::new((tokio::sync::Mutex::new(pool), envelope, message.data));
    Ok(drive(load, connections, move |_| {
        let shared = shared.clone();
        async move {
            let Some(mut connection) = shared.0.lock().await.pop() else {
                return false;
            };
            let ok = connection.send(&shared.1, &shared.2).await.is_ok();
            shared.0.lock().await.push(connection);
            ok
        }
    })
    .await)
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

fn report_line(backend: &str, scenario: &str, service: &Figures, limit: Option<&Figures>) {
    let ratio = limit.filter(|l| l.per_second > 0.0).map_or_else(
        || "-".to_owned(),
        |l| format!("{:.2}", service.per_second / l.per_second),
    );
    eprintln!(
        "{backend}: {scenario}: {:.0}/s p50 {} p99 {} errors {}; limit {}/s; ratio {ratio}",
        service.per_second,
        ms(service.p50_ms),
        ms(service.p99_ms),
        service.errors,
        limit.map_or_else(|| "-".to_owned(), |l| format!("{:.0}", l.per_second)),
    );
}

fn table(reports: &[BackendReport], args: &Args) -> String {
    let mut out = format!(
        "{} donors, {} in flight, {} s per scenario after {} s warm-up\n\n",
        args.donors, args.concurrency, args.duration, args.warmup
    );
    out.push_str(
        "| database | path | service | p50 ms | p95 ms | p99 ms | errors | limit | ratio |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for report in reports {
        for row in &report.rows {
            out.push_str(&format!(
                "| {} | {} | {:.0} {} | {} | {} | {} | {} | {} | {} |\n",
                row.backend,
                row.scenario,
                row.service.per_second,
                row.unit,
                ms(row.service.p50_ms),
                ms(row.service.p95_ms),
                ms(row.service.p99_ms),
                row.service.errors,
                row.limit
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |l| format!("{:.0}", l.per_second)),
                row.ratio()
                    .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}")),
            ));
        }
    }
    out.push('\n');
    for report in reports {
        out.push_str(&format!(
            "{}: server peak RSS {} MiB (at the end {} MiB); seeded {} rows in {:.1} s ({:.0} rows/s)\n",
            report.backend,
            ms(report.peak_rss_mib),
            ms(report.rss_mib),
            report.seeded.rows(),
            report.seeded.elapsed.as_secs_f64(),
            report.seeded.rows() as f64 / report.seeded.elapsed.as_secs_f64().max(1e-9),
        ));
    }
    out
}

fn report_json(reports: &[BackendReport], args: &Args) -> Value {
    json!({
        "donors": args.donors,
        "concurrency": args.concurrency,
        "duration_secs": args.duration,
        "warmup_secs": args.warmup,
        "seed": args.seed,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "backends": reports.iter().map(|r| json!({
            "backend": r.backend,
            "server_peak_rss_mib": r.peak_rss_mib,
            "server_rss_mib_at_end": r.rss_mib,
            "seeded": {
                "donors": r.seeded.donors,
                "gifts": r.seeded.gifts,
                "pledges": r.seeded.pledges,
                "circle_members": r.seeded.circle_members,
                "receipts": r.seeded.receipts,
                "rows": r.seeded.rows(),
                "seconds": r.seeded.elapsed.as_secs_f64(),
            },
            "scenarios": r.rows.iter().map(|row| json!({
                "path": row.scenario,
                "unit": row.unit,
                "service": row.service.json(),
                "limit": row.limit.as_ref().map(Figures::json),
                "limit_is": row.limit_name,
                "ratio": row.ratio(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// Where the JSON report goes; the servers' `/metrics` are written beside it.
fn report_path(args: &Args) -> PathBuf {
    args.json
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/bench/load.json"))
}

/// The token the load suite's server asks for on `/metrics`.
const METRICS_TOKEN: &str = "load-suite-metrics-token-0123456789abcdef";

async fn run(args: Args) -> anyhow::Result<()> {
    let load = Load {
        concurrency: args.concurrency.max(1),
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.duration.max(1)),
    };
    let mut backends = Vec::new();
    if args.backend != BackendArg::Postgres {
        backends.push(Backend::Sqlite);
    }
    if args.backend != BackendArg::Sqlite {
        if postgres_available().await {
            backends.push(Backend::Postgres);
        } else if args.backend == BackendArg::Postgres {
            bail!("PostgreSQL is not reachable (TEST_POSTGRES_URL)");
        }
    }
    let mut reports = Vec::new();
    for backend in backends {
        reports.push(run_backend(backend, &args, load).await?);
    }
    let text = table(&reports, &args);
    println!("{text}");
    let path = report_path(&args);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&report_json(&reports, &args))?,
    )?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
