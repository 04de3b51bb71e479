//! The standalone `mailer` as an operator runs it: it answers `--help` and `--version`
//! without touching anything, builds the very message `api serve`'s in-process worker
//! builds (links included) from the same variables, and stops cleanly on SIGTERM or
//! SIGINT with nothing left claimed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use api::config::Config;
use api::db::begin_write;
use api::domain::gifts::{NewGift, record_gift};
use chrono::Utc;
use entity::enums::{DonorKind, GiftStatus, Language, OutboxStatus, PaymentMethod};
use entity::{Money, donor, outbox};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use tests::on_both_backends;
use tests::smtp::{Behavior, SmtpServer};
use tests::support::{Backend, TestApp, spawn_app};

const LINK_KEY: &str = "a-link-key-shared-by-the-api-and-its-mailers-0123456789";
const PUBLIC_URL: &str = "https://give.example.org/";

/// A donor and one succeeded gift, whose receipt is queued by email.
async fn queue_receipt(app: &TestApp, n: usize) {
    let now = Utc::now();
    let donor = donor::ActiveModel {
        kind: Set(DonorKind::Individual),
        display_name: Set(format!("Donor {n}")),
        email: Set(Some(format!("donor{n}@example.org"))),
        language: Set(Language::English),
        email_consent: Set(true),
        anonymous: Set(false),
        search_text: Set(format!("donor {n}")),
        link_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let org = Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .org;
    let gift = NewGift::new(
        donor.id,
        Money::usd(5_000).unwrap(),
        PaymentMethod::Card,
        GiftStatus::Succeeded,
        1,
        now,
    );
    let txn = begin_write(&app.db).await.unwrap();
    record_gift(&txn, &org, gift).await.unwrap();
    txn.commit().await.unwrap();
}

/// The variables an operator gives both the API and the mailer.
fn shared_variables(app: &TestApp, mail_dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", app._database.url.clone()),
        ("PUBLIC_URL", PUBLIC_URL.to_owned()),
        ("DOWNLOAD_LINK_KEY", LINK_KEY.to_owned()),
        ("MAIL_DIR", mail_dir.display().to_string()),
        ("MAIL_FROM", "Giving Team <giving@example.org>".to_owned()),
    ]
}

fn mailer_command(variables: &[(&'static str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailer"));
    command.env_clear().env("RUST_LOG", "info");
    for (name, value) in variables {
        command.env(name, value);
    }
    command
}

/// The one `.eml` file in `dir`.
fn only_message(dir: &Path) -> String {
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "one message in {}", dir.display());
    std::fs::read_to_string(files[0].path()).unwrap()
}

/// A message as it is compared: without the headers that name one sending (Date,
/// Message-ID) and with the MIME boundaries, random per message, numbered in order.
fn comparable(message: &str) -> String {
    let mut text: String = message
        .split("\r\n")
        .filter(|line| !line.starts_with("Date: ") && !line.starts_with("Message-ID: "))
        .collect::<Vec<_>>()
        .join("\r\n");
    let boundaries: Vec<String> = text
        .match_indices("boundary=\"")
        .filter_map(|(at, found)| {
            let rest = &text[at + found.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect();
    for (n, boundary) in boundaries.iter().enumerate() {
        text = text.replace(boundary.as_str(), &format!("BOUNDARY-{n}"));
    }
    text
}

async fn the_standalone_mailer_sends_the_message_the_api_sends(backend: Backend) {
    let app = spawn_app(backend).await;
    queue_receipt(&app, 1).await;
    let in_process_dir = tempfile::tempdir().unwrap();
    let standalone_dir = tempfile::tempdir().unwrap();

    // In process, as `api serve` builds its worker from its configuration.
    let variables = shared_variables(&app, in_process_dir.path());
    let config = Config::from_sources(None, |name| {
        variables
            .iter()
            .find(|(variable, _)| *variable == name)
            .map(|(_, value)| value.clone())
    })
    .unwrap();
    let worker = api::cli::in_process_mailer_worker(&config, app.db.clone()).unwrap();
    assert_eq!(worker.drain().await.unwrap().sent, 1);
    // The same message queued again, for the mailer on its own.
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Status,
            Expr::value(OutboxStatus::Pending.as_str()),
        )
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(Utc::now()))
        .exec(&app.db)
        .await
        .unwrap();
    let output = mailer_command(&shared_variables(&app, standalone_dir.path()))
        .arg("--drain")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let in_process = only_message(in_process_dir.path());
    let standalone = only_message(standalone_dir.path());
    assert!(
        in_process.contains("Download the PDF"),
        "the receipt carries its link: {in_process}"
    );
    assert!(in_process.contains("https://give.example.org/receipts/"));
    assert_eq!(comparable(&standalone), comparable(&in_process));
}

async fn a_mailer_asked_to_stop_finishes_what_it_sends_and_hands_back_the_rest(backend: Backend) {
    for signal in ["TERM", "INT"] {
        let app = spawn_app(backend).await;
        for n in 0..30 {
            queue_receipt(&app, n).await;
        }
        let smtp = SmtpServer::start();
        smtp.set_behavior(Behavior::AcceptAfter(Duration::from_millis(200)));
        let mail_dir = tempfile::tempdir().unwrap();
        let mut variables = shared_variables(&app, mail_dir.path());
        variables.push(("SMTP_URL", smtp.url()));
        let mut child = mailer_command(&variables)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while smtp.received_count() == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the mailer sends"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        signal_child(&child, signal);
        let code = wait_for_exit(&mut child, Duration::from_secs(10));

        assert_eq!(code, Some(0), "SIG{signal} ends the mailer with 0");
        let sending = outbox::Entity::find()
            .filter(outbox::Column::Status.eq(OutboxStatus::Sending.as_str()))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(sending, 0, "after SIG{signal} no message stays claimed");
        let sent = outbox::Entity::find()
            .filter(outbox::Column::Status.eq(OutboxStatus::Sent.as_str()))
            .count(&app.db)
            .await
            .unwrap();
        let pending = outbox::Entity::find()
            .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(
            sent as usize,
            smtp.received_count(),
            "each sent message recorded"
        );
        assert!(pending > 0, "SIG{signal} came before the queue was empty");
        assert_eq!(sent + pending, 30);
    }
}

on_both_backends!(
    the_standalone_mailer_sends_the_message_the_api_sends,
    a_mailer_asked_to_stop_finishes_what_it_sends_and_hands_back_the_rest
);

fn signal_child(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// The exit code, or a failed test if the process is still running after `limit`.
fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the process did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn help_and_version_touch_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("must-not-exist.db");
    let mail_dir = dir.path().join("mail-must-not-exist");
    for (arg, expected) in [
        ("--help", "Usage: mailer"),
        ("-h", "Usage: mailer"),
        ("--version", concat!("mailer ", env!("CARGO_PKG_VERSION"))),
        ("-V", concat!("mailer ", env!("CARGO_PKG_VERSION"))),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_mailer"))
            .arg(arg)
            .env_clear()
            .env(
                "DATABASE_URL",
                format!("sqlite://{}?mode=rwc", database.display()),
            )
            .env("MAIL_DIR", &mail_dir)
            .env("DOWNLOAD_LINK_KEY", LINK_KEY)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{arg}");
        assert!(said.contains(expected), "{arg}: {said}");
        assert!(!database.exists(), "{arg} opened the database");
        assert!(!mail_dir.exists(), "{arg} made the mail folder");
    }
}

#[test]
fn the_mailer_and_its_c_code_allocate_through_jemalloc() {
    // Only a jemalloc that answers to `malloc` itself (so serves SQLite too) reads
    // MALLOC_CONF and, asked to, prints its statistics at exit, the settings built into
    // it among them; glibc's ignores the variable.
    let output = Command::new(env!("CARGO_BIN_EXE_mailer"))
        .arg("--version")
        .env_clear()
        .env("MALLOC_CONF", "stats_print:true")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let said = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "Begin jemalloc statistics",
        "opt.narenas: 2\n",
        "opt.dirty_decay_ms: 1000 ",
        "opt.muzzy_decay_ms: 0 ",
    ] {
        assert!(said.contains(expected), "{expected}: {said}");
    }
}

#[test]
fn without_a_link_key_the_mailer_refuses_to_start_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("must-not-exist.db");
    let output = Command::new(env!("CARGO_BIN_EXE_mailer"))
        .arg("--drain")
        .env_clear()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", database.display()),
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("DOWNLOAD_LINK_KEY"));
    assert!(!database.exists());
}
