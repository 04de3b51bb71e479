//! Several processes on one PostgreSQL database, as production runs them: two `api
//! serve` and two `mailer` programs receiving the same webhooks at once, and an API
//! whose database goes away under load and comes back.
//!
//! The programs are the workspace's own binaries, found beside this test's executable
//! (`target/debug/api` and `target/debug/mailer`); the README's test command builds them
//! before any test runs. Without them the tests are skipped with a visible line, except
//! under `CI=true`, where that is a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use entity::enums::{GiftStatus, OutboxStatus};
use entity::{gift, giving_tier, outbox, receipt, tier_membership};
use sea_orm::{ColumnTrait, ConnectionTrait, Database, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use wiremock::MockServer;

use tests::smtp::SmtpServer;
use tests::stripe::{
    SECRET_KEY, StripeObjects, WEBHOOK_SECRET, customer, event, first_invoice, mount_fake_stripe,
    payment_session, signature, subscription, subscription_session,
};
use tests::support::{Backend, TestDatabase, postgres_available};

const LINK_KEY: &str = "a-link-key-long-enough-to-sign-the-links-0123";

/// A program of the workspace, built beside this test, or `None` (with a visible line)
/// when it is missing outside CI.
fn program(name: &str) -> Option<PathBuf> {
    let found = std::env::current_exe()
        .ok()
        .and_then(|test| Some(test.parent()?.parent()?.join(name)))
        .filter(|path| path.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true" && v != "1"),
            "the `{name}` program is not built beside the tests and CI=true"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** `{name}` is not built beside the tests: the scale-out tests were SKIPPED. Run `cargo test --workspace`. ***\n"
        );
    }
    found
}

/// A running program, killed when dropped; its output goes to a file.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn start(program: &Path, args: &[&str], env: &[(&str, String)], log: PathBuf) -> Process {
        let output = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output);
        for (key, value) in env {
            command.env(key, value);
        }
        Process {
            child: command.spawn().unwrap(),
            log,
        }
    }

    /// Asks the program to stop as an orchestrator does (SIGTERM) and waits for it.
    fn stop(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let asked = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                asked.elapsed() < Duration::from_secs(60),
                "did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The settings every process of one deployment shares.
fn shared_settings(
    database: &TestDatabase,
    stripe: &MockServer,
    dir: &Path,
) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database.url.clone()),
        ("STRIPE_SECRET_KEY", SECRET_KEY.to_owned()),
        ("STRIPE_API_BASE", stripe.uri()),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("DOWNLOAD_LINK_KEY", LINK_KEY.to_owned()),
        ("PUBLIC_URL", "https://give.example.org".to_owned()),
        ("MAIL_DIR", dir.join("mail").display().to_string()),
    ]
}

struct Api {
    process: Process,
    url: String,
}

async fn start_api(api: &Path, settings: &[(&'static str, String)], dir: &Path, n: usize) -> Api {
    start_api_on(api, settings, dir, n, free_port()).await
}

async fn start_api_on(
    api: &Path,
    settings: &[(&'static str, String)],
    dir: &Path,
    n: usize,
    port: u16,
) -> Api {
    let mut env = settings.to_vec();
    env.push(("LISTEN_ADDR", format!("127.0.0.1:{port}")));
    env.push(("MAILER_IN_PROCESS", "false".to_owned()));
    let process = Process::start(api, &["serve"], &env, dir.join(format!("api-{n}.log")));
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("{url}/readyz")).send().await
            && response.status().is_success()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "api {n} did not become ready:\n{}",
            process.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Api { process, url }
}

fn start_mailer(
    mailer: &Path,
    settings: &[(&'static str, String)],
    smtp: &SmtpServer,
    dir: &Path,
    n: usize,
) -> Process {
    let mut env = settings.to_vec();
    env.push(("SMTP_URL", smtp.url()));
    env.push(("MAILER_POLL_SECS", "1".to_owned()));
    env.push(("MAILER_BATCH_SIZE", "3".to_owned()));
    Process::start(mailer, &[], &env, dir.join(format!("mailer-{n}.log")))
}

/// Delivers `event` to `api` as Stripe does: signed, and again after any answer that is
/// not 2xx, until it is taken. Returns how many answers were not 2xx.
async fn deliver_until_taken(client: &reqwest::Client, api: &str, event: &Value) -> usize {
    let body = serde_json::to_vec(event).unwrap();
    let mut refused = 0;
    let started = Instant::now();
    loop {
        let answer = client
            .post(format!("{api}/webhooks/stripe"))
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", signature(&body, WEBHOOK_SECRET))
            .body(body.clone())
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => return refused,
            Ok(response) => assert!(
                response.status().is_server_error(),
                "a webhook was refused for good: {}",
                response.status()
            ),
            Err(_) => {}
        }
        refused += 1;
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "a webhook was never taken"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The events of `one_offs` one-off gifts and `monthly` $42 monthly pledges, with what
/// the fake Stripe must answer for the pledges.
fn checkouts(prefix: &str, one_offs: usize, monthly: usize, objects: &StripeObjects) -> Vec<Value> {
    let mut events = Vec::new();
    for n in 0..one_offs {
        let email = format!("{prefix}-once-{n}@example.org");
        events.push(event(
            &format!("evt_{prefix}_once_{n}"),
            "checkout.session.completed",
            payment_session(
                &format!("cs_{prefix}_once_{n}"),
                &email,
                2_500 + n as i64,
                true,
            ),
        ));
    }
    for n in 0..monthly {
        let email = format!("{prefix}-monthly-{n}@example.org");
        let (sub, cus) = (format!("sub_{prefix}_{n}"), format!("cus_{prefix}_{n}"));
        let mut session =
            subscription_session(&format!("cs_{prefix}_monthly_{n}"), &sub, &email, 4_200);
        session["customer"] = json!(cus);
        let mut stripe_subscription = subscription(&sub, &email, 4_200, "active");
        stripe_subscription["customer"] = json!(cus);
        let mut invoice = first_invoice(&format!("in_{prefix}_{n}"), &sub, &email, 4_200);
        invoice["customer"] = json!(cus);
        objects.put(session.clone());
        objects.put(stripe_subscription.clone());
        objects.put(customer(&cus, &email, &format!("Monthly Donor {n}")));
        events.push(event(
            &format!("evt_{prefix}_session_{n}"),
            "checkout.session.completed",
            session,
        ));
        events.push(event(
            &format!("evt_{prefix}_sub_{n}"),
            "customer.subscription.created",
            stripe_subscription,
        ));
        events.push(event(
            &format!("evt_{prefix}_paid_{n}"),
            "invoice.paid",
            invoice,
        ));
    }
    events
}

/// Receipts, one per gift, numbered from 1 without a gap in each tax year.
async fn assert_receipts_gapless(db: &sea_orm::DatabaseConnection, expected: usize) {
    let mut by_year: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    let receipts = receipt::Entity::find().all(db).await.unwrap();
    assert_eq!(receipts.len(), expected, "one receipt per gift");
    for issued in receipts {
        by_year
            .entry(issued.tax_year)
            .or_default()
            .push(issued.sequence);
    }
    for (year, mut sequences) in by_year {
        sequences.sort_unstable();
        assert_eq!(
            sequences,
            (1..=sequences.len() as i32).collect::<Vec<_>>(),
            "receipt numbers of {year} run without a gap"
        );
    }
}

/// Waits until every message of the outbox is sent, then checks the SMTP server got
/// each exactly once.
async fn assert_each_email_sent_once(db: &sea_orm::DatabaseConnection, smtp: &SmtpServer) {
    let started = Instant::now();
    let messages = loop {
        let messages = outbox::Entity::find().all(db).await.unwrap();
        if !messages.is_empty() && messages.iter().all(|m| m.status == OutboxStatus::Sent) {
            break messages;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the mailers did not send everything: {:?}",
            messages
                .iter()
                .map(|m| (m.kind.clone(), m.status, m.last_error.clone()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for mail in smtp.received() {
        let id = mail.header("Message-ID").unwrap_or_default();
        *received.entry(id.trim().to_owned()).or_default() += 1;
    }
    let sent: BTreeSet<String> = messages
        .iter()
        .filter_map(|m| m.message_id.clone())
        .map(|id| {
            if id.starts_with('<') {
                id
            } else {
                format!("<{id}>")
            }
        })
        .collect();
    assert_eq!(smtp.received_count(), messages.len(), "each email once");
    assert!(
        received.values().all(|n| *n == 1),
        "no email twice: {received:?}"
    );
    assert_eq!(
        received.keys().cloned().collect::<BTreeSet<_>>(),
        sent,
        "the emails received are the outbox's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apis_and_two_mailers_on_one_database_record_and_send_each_thing_once() {
    if !postgres_available().await {
        return;
    }
    let (Some(api), Some(mailer)) = (program("api"), program("mailer")) else {
        return;
    };
    let database = TestDatabase::create(Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let stripe = MockServer::start().await;
    let objects = mount_fake_stripe(&stripe).await;
    let smtp = SmtpServer::start();
    let settings = shared_settings(&database, &stripe, dir.path());

    // The first API migrates; the rest start on a migrated database.
    let first = start_api(&api, &settings, dir.path(), 1).await;
    let second = start_api(&api, &settings, dir.path(), 2).await;
    let _mailers = [
        start_mailer(&mailer, &settings, &smtp, dir.path(), 1),
        start_mailer(&mailer, &settings, &smtp, dir.path(), 2),
    ];

    let (one_offs, monthly) = (24, 4);
    let events = checkouts("scale", one_offs, monthly, &objects);
    let client = reqwest::Client::new();
    for batch in events.chunks(4) {
        let mut deliveries = tokio::task::JoinSet::new();
        for event in batch {
            // The same event at both APIs at once, and once more later.
            for api in [&first.url, &second.url, &first.url] {
                let (client, api, event) = (client.clone(), api.clone(), event.clone());
                deliveries.spawn(async move { deliver_until_taken(&client, &api, &event).await });
            }
        }
        while let Some(done) = deliveries.join_next().await {
            done.unwrap();
        }
    }

    let db = Database::connect(database.url.as_str()).await.unwrap();
    let gifts = gift::Entity::find().all(&db).await.unwrap();
    assert_eq!(gifts.len(), one_offs + monthly, "each gift once");
    assert!(gifts.iter().all(|g| g.status == GiftStatus::Succeeded));
    let intents: BTreeSet<_> = gifts
        .iter()
        .filter_map(|g| g.stripe_payment_intent_id.clone())
        .collect();
    assert_eq!(intents.len(), gifts.len(), "each payment once");
    assert_receipts_gapless(&db, one_offs + monthly).await;

    let circle = giving_tier::Entity::find()
        .filter(giving_tier::Column::IsCircle.eq(true))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let members = tier_membership::Entity::find()
        .filter(tier_membership::Column::TierId.eq(circle.id))
        .filter(tier_membership::Column::LeftAt.is_null())
        .all(&db)
        .await
        .unwrap();
    assert_eq!(
        members.len(),
        monthly,
        "each $42 monthly donor in the Circle once"
    );

    assert_each_email_sent_once(&db, &smtp).await;
    drop(second);
    let _ = first.process.output();
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_whose_database_goes_away_answers_5xx_then_recovers_and_loses_nothing() {
    if !postgres_available().await {
        return;
    }
    let Some(api) = program("api") else {
        return;
    };
    let database = TestDatabase::create(Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let stripe = MockServer::start().await;
    let objects = mount_fake_stripe(&stripe).await;
    let settings = shared_settings(&database, &stripe, dir.path());
    let server = start_api(&api, &settings, dir.path(), 1).await;
    let name = url::Url::parse(&database.url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    let admin_url = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = Database::connect(admin_url.as_str()).await.unwrap();

    let events = checkouts("outage", 30, 2, &objects);
    let client = reqwest::Client::new();
    let mut refused = 0;
    for (n, event) in events.iter().enumerate() {
        if n == 10 {
            // The database goes away: no new connections, and every open one cut.
            admin
                .execute_unprepared(&format!(
                    "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
                ))
                .await
                .unwrap();
            admin
                .execute_unprepared(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                ))
                .await
                .unwrap();
            let body = serde_json::to_vec(event).unwrap();
            let answer = client
                .post(format!("{}/webhooks/stripe", server.url))
                .header("Content-Type", "application/json")
                .header("Stripe-Signature", signature(&body, WEBHOOK_SECRET))
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(
                answer.status().is_server_error(),
                "while the database is away a webhook is not acknowledged: {}",
                answer.status()
            );
            let ready = client
                .get(format!("{}/readyz", server.url))
                .send()
                .await
                .unwrap();
            assert_eq!(ready.status(), 503, "readyz says the database is away");
            admin
                .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
                .await
                .unwrap();
        }
        if n == 20 {
            // Connections cut again, without warning, while deliveries go on.
            admin
                .execute_unprepared(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                ))
                .await
                .unwrap();
        }
        refused += deliver_until_taken(&client, &server.url, event).await;
        refused += deliver_until_taken(&client, &server.url, event).await;
    }

    println!("{refused} answers Stripe would retry");
    let ready = client
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "the API recovered by itself");
    let db = Database::connect(database.url.as_str()).await.unwrap();
    let gifts = gift::Entity::find().all(&db).await.unwrap();
    assert_eq!(
        gifts.len(),
        32,
        "every gift once after {refused} answers Stripe would retry:\n{}",
        server.process.output()
    );
    assert_receipts_gapless(&db, 32).await;
    db.close().await.unwrap();
    admin.close().await.unwrap();
}

/// Every API process's log in `dir`, for a failure message.
fn api_logs(dir: &std::path::Path) -> String {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            format!("--- {}\n{text}", path.display())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_the_apis_one_at_a_time_under_load_loses_and_fails_nothing() {
    if !postgres_available().await {
        return;
    }
    let Some(api) = program("api") else {
        return;
    };
    let database = TestDatabase::create(Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let stripe = MockServer::start().await;
    let objects = mount_fake_stripe(&stripe).await;
    let settings = shared_settings(&database, &stripe, dir.path());
    let mut apis = [
        start_api(&api, &settings, dir.path(), 1).await,
        start_api(&api, &settings, dir.path(), 2).await,
    ];
    let ports: Vec<u16> = apis
        .iter()
        .map(|a| url::Url::parse(&a.url).unwrap().port().unwrap())
        .collect();
    let urls: Vec<String> = apis.iter().map(|a| a.url.clone()).collect();

    // What a proxy does: each delivery to the next API in turn, to the other when the
    // first cannot be reached. Nothing else retries, so any error answer is a failure.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let events = checkouts("rolling", 2_000, 0, &objects);
    let load = {
        let (stop, urls, taken) = (stop.clone(), urls.clone(), taken.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut delivered, mut unreachable, mut failed) = (0usize, 0usize, Vec::new());
            for (n, event) in events.iter().enumerate() {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let body = serde_json::to_vec(event).unwrap();
                let mut taken_now = false;
                for attempt in 0..20 {
                    let api = &urls[(n + attempt) % urls.len()];
                    let answer = client
                        .post(format!("{api}/webhooks/stripe"))
                        .header("Content-Type", "application/json")
                        .header("Stripe-Signature", signature(&body, WEBHOOK_SECRET))
                        .body(body.clone())
                        .send()
                        .await;
                    match answer {
                        Ok(response) if response.status().is_success() => {
                            taken_now = true;
                            break;
                        }
                        Ok(response) => {
                            failed.push(response.status().as_u16());
                            break;
                        }
                        Err(_) => {
                            unreachable += 1;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                assert!(taken_now || !failed.is_empty(), "no API could be reached");
                if taken_now {
                    delivered += 1;
                    taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            (delivered, unreachable, failed)
        })
    };

    // Each step waits for the load to move on, never for a length of time: deliveries
    // are taken before the first stop, while each API is down, and after each restart.
    let moved_on = |from: usize| {
        let taken = taken.clone();
        async move {
            let started = Instant::now();
            while taken.load(std::sync::atomic::Ordering::Relaxed) < from + 3 {
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "the load stopped moving"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    moved_on(0).await;
    for (n, port) in ports.iter().enumerate() {
        let status = apis[n].process.stop();
        assert!(status.success(), "api {} stopped cleanly: {status}", n + 1);
        moved_on(taken.load(std::sync::atomic::Ordering::Relaxed)).await;
        apis[n] = start_api_on(&api, &settings, dir.path(), n + 3, *port).await;
        moved_on(taken.load(std::sync::atomic::Ordering::Relaxed)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (delivered, unreachable, failed) = load.await.unwrap();
    println!("{delivered} deliveries taken, {unreachable} attempts found an API stopped");

    assert!(
        failed.is_empty(),
        "requests answered with an error: {failed:?}\n{}",
        api_logs(dir.path())
    );
    let db = Database::connect(database.url.as_str()).await.unwrap();
    let gifts = gift::Entity::find().all(&db).await.unwrap();
    assert_eq!(
        gifts.len(),
        delivered,
        "every delivery taken is one gift ({unreachable} attempts found an API stopped)"
    );
    assert_receipts_gapless(&db, delivered).await;
    db.close().await.unwrap();
}
