//! `mailer`: the outbox worker on its own, for running next to (or instead of) the one
//! inside `api serve`. It reads the same configuration as `api` (the environment and the
//! file named by `--config` or CONFIG_FILE: DATABASE_URL, PUBLIC_URL, DOWNLOAD_LINK_KEY,
//! SMTP_URL, MAIL_FROM, MAIL_DIR, ORG_*, MAILER_*), so it builds the very messages the
//! in-process worker would; run `api migrate up` first. `mailer --drain` sends
//! everything due and exits. SIGINT or SIGTERM stop it after the messages in flight;
//! claimed messages not yet started go back to the queue.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mailer::Worker;
use mailer::config::{
    CONFIG_FILE_VARIABLE, ConfigError, MailSettings, SETTINGS, UnknownSettings, WorkerSettings,
    database_error_text, describe_database_url, raw_settings, read_config_file,
};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use tokio::sync::watch;

#[derive(Parser)]
#[command(
    name = "mailer",
    version,
    about = "Delivers the email outbox: the worker of `api serve`, on its own",
    long_about = "Delivers the email outbox: the worker of `api serve`, on its own. It reads \
                  the same environment variables and config file as `api` (DATABASE_URL, \
                  PUBLIC_URL, DOWNLOAD_LINK_KEY, SMTP_URL, MAIL_FROM, MAIL_DIR, ORG_*, \
                  MAILER_*); several may share one PostgreSQL database and each message is \
                  sent once. SIGINT or SIGTERM stop it after the messages in flight."
)]
struct Args {
    /// Send what is due and exit.
    #[arg(long)]
    drain: bool,
    /// A TOML config file (keys are the environment variable names in lower case); the
    /// settings only `api` uses are ignored.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

struct Settings {
    database_url: String,
    mail: MailSettings,
    worker: WorkerSettings,
}

fn load(config: Option<PathBuf>) -> Result<Settings, ConfigError> {
    let path = config.or_else(|| std::env::var_os(CONFIG_FILE_VARIABLE).map(PathBuf::from));
    let file = read_config_file(path.as_deref())?;
    let raw = raw_settings(
        &[SETTINGS],
        file.as_deref(),
        |name| std::env::var(name).ok(),
        UnknownSettings::Ignore,
    )?;
    let get = |name: &str| raw.get(name).map(|s| s.trim()).filter(|s| !s.is_empty());
    let database_url = get("DATABASE_URL")
        .ok_or_else(|| ConfigError::new("DATABASE_URL", "must not be empty"))?
        .to_owned();
    let mail = MailSettings::parse(&get)?;
    if mail.download_links.is_none() {
        // `api serve` makes a key of its own for its in-process worker; links signed
        // by another process with another key would not open.
        return Err(ConfigError::new(
            "DOWNLOAD_LINK_KEY",
            "must be set for the mailer on its own: it signs the receipt and self-service \
             links in emails, and the API must hold the same key to open them",
        ));
    }
    Ok(Settings {
        database_url,
        mail,
        worker: WorkerSettings::parse(&get)?,
    })
}

async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    mailer::database::pool_defaults(&mut options)
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

/// Turns `stop` true on the first SIGINT or SIGTERM. The handlers are installed before
/// this returns, so a signal that comes at any later moment stops the worker cleanly.
fn stop_on_signal(stop: watch::Sender<bool>) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            tracing::info!("stop requested; finishing the messages in flight");
            let _ = stop.send(true);
        });
    }
    #[cfg(not(unix))]
    {
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop.send(true);
        });
    }
    Ok(())
}

#[global_allocator]
static ALLOCATOR: mailer::memory::Allocator = mailer::memory::Allocator;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let (stop_tx, mut stop) = watch::channel(false);
    if let Err(error) = stop_on_signal(stop_tx) {
        eprintln!("error: cannot listen for SIGINT and SIGTERM: {error}");
        return ExitCode::FAILURE;
    }
    let settings = match load(args.config) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let connected = tokio::select! {
        connected = connect(&settings.database_url) => connected,
        _ = stop.changed() => return ExitCode::SUCCESS,
    };
    let db = match connected {
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
    if args.drain {
        return match worker.drain_until(&stop).await {
            Ok(report) => {
                println!(
                    "sent {}, retrying {}, failed {}, dead {}, handed back {}",
                    report.sent, report.retried, report.failed, report.dead, report.released
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    worker.run(stop).await;
    ExitCode::SUCCESS
}
