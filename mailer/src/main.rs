//! `mailer`: the outbox worker on its own, for running next to (or instead of) the one
//! inside `api serve`. It reads the same environment variables as `api` (DATABASE_URL,
//! SMTP_URL, MAIL_FROM, MAIL_DIR, ORG_*, MAILER_*); run `api migrate up` first.
//! `mailer --drain` sends everything due and exits.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use mailer::Worker;
use mailer::config::{
    ConfigError, MailSettings, SETTINGS, WorkerSettings, database_error_text, describe_database_url,
};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use tokio::sync::watch;

const DEFAULT_DATABASE_URL: &str = "sqlite://giving.db?mode=rwc";

struct Settings {
    database_url: String,
    mail: MailSettings,
    worker: WorkerSettings,
}

fn load() -> Result<Settings, ConfigError> {
    let mut raw: BTreeMap<&str, String> = BTreeMap::new();
    for (name, default) in SETTINGS {
        if let Some(value) = std::env::var(name).ok().or(default.map(str::to_owned)) {
            raw.insert(name, value);
        }
    }
    let get = |name: &str| raw.get(name).map(|s| s.trim()).filter(|s| !s.is_empty());
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    Ok(Settings {
        database_url,
        mail: MailSettings::parse(&get)?,
        worker: WorkerSettings::parse(&get)?,
    })
}

async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .max_connections(4)
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let drain = std::env::args().any(|arg| arg == "--drain");
    let settings = match load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let db = match connect(&settings.database_url).await {
        Ok(db) => db,
        Err(error) => {
            eprintln!(
                "error: cannot connect to the database named by DATABASE_URL ({}): {}",
                describe_database_url(&settings.database_url),
                database_error_text(&settings.database_url, &error.to_string())
            );
            return ExitCode::FAILURE;
        }
    };
    let worker = match Worker::new(db, settings.mail, settings.worker) {
        Ok(worker) => worker,
        Err(error) => {
            eprintln!("error: SMTP_URL cannot be used: {error}");
            return ExitCode::FAILURE;
        }
    };
    if drain {
        return match worker.drain().await {
            Ok(report) => {
                println!(
                    "sent {}, retrying {}, failed {}, dead {}",
                    report.sent, report.retried, report.failed, report.dead
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        stop_requested().await;
        tracing::info!("stopping after the messages in hand");
        let _ = stop_tx.send(true);
    });
    worker.run(stop_rx).await;
    ExitCode::SUCCESS
}
