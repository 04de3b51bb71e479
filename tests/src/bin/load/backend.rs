//! One database's run: a fresh database seeded with `api::bench_data`, the real server in
//! a child process with a fake Stripe and an SMTP sink, then each selected path.

use std::sync::Arc;

use api::bench_data::{BenchPlan, seed_bench};
use api::config::{Config, DatabaseUrl};
use api::domain::{Actor, tokens};
use chrono::Utc;
use entity::enums::StaffRole;
use tests::smtp::SmtpServer;
use tests::stripe::{SECRET_KEY, WEBHOOK_SECRET};
use tests::support::{Backend, TestDatabase};

use crate::Args;
use crate::driver::Load;
use crate::processes::{
    CpuClock, free_port, local_postmaster, spawn_child, start_fake_stripe, wait_until_ready,
};
use crate::report::{BackendReport, METRICS_TOKEN, backend_name, report_path};
use crate::scenarios::{self, Bench, Service, read_seeded};

pub async fn run_backend(
    backend: Backend,
    args: &Args,
    load: Load,
) -> anyhow::Result<BackendReport> {
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
    // The sink counts every message but keeps only the last few: a whole run sends
    // hundreds of thousands, whose bytes would otherwise fill this process's memory and
    // its page faults take processor time from the server measured beside it.
    let smtp = SmtpServer::start_keeping(16);
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
        // The statement run and the appeal are one request each, over every donor.
        ("GRAPHQL_DEADLINE_SECS", "600".to_owned()),
    ];
    let server = spawn_child(&["--serve"], &env, &dir.join("server.log"))?;
    eprintln!("{name}: server pid {}", server.pid());
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()?;
    wait_until_ready(&client, &format!("{base}/readyz")).await?;
    // Under a profiler the server is the profiler's child, whose time it does not see.
    let clock = (!server.under_prefix()).then_some(CpuClock {
        server_pid: Some(server.pid()),
        postmaster_pid: local_postmaster(&db).await,
    });
    eprintln!(
        "{name}: processor time read for the server: {}; for the database apart from it: {}",
        clock.is_some(),
        clock.and_then(|c| c.postmaster_pid).map_or_else(
            || "no".to_owned(),
            |pid| format!("the postmaster {pid} and its children")
        )
    );
    let mut bench = Bench {
        name,
        db,
        seeded,
        service: Arc::new(Service {
            base: base.clone(),
            client: client.clone(),
            token,
        }),
        dir,
        smtp,
        server_pid: server.pid(),
        load: Load { clock, ..load },
        paths: args.selection(),
        rows: Vec::new(),
    };

    scenarios::graphql::run(&mut bench).await;
    scenarios::pages::run(&mut bench).await?;
    scenarios::webhooks::run(&mut bench).await?;
    scenarios::mail::run(&mut bench).await?;
    scenarios::runs::run(&mut bench).await?;

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
    bench.db.close().await?;
    Ok(BackendReport {
        backend: name,
        seeded: summary,
        rows: bench.rows,
        peak_rss_mib: peak,
        rss_mib: current,
    })
}
