//! The `api` command line: serve, migrate, tokens, demo data, imports, backups.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use entity::enums::StaffRole;
use migration::{Migrator, MigratorTrait};

use crate::config::{Config, LogFormat};
use crate::domain::appeal_sends;
use crate::domain::imports::{self, ImportOptions};
use crate::domain::reconciliation::ReconcileRange;
use crate::domain::{Actor, club, receipts, tokens};
use crate::server::{Application, shutdown_signal};
use crate::stripe::StripeClient;
use crate::stripe::reconcile::{ApplySettings, reconcile_with_stripe};
use crate::{backup, bench_data, db, demo, telemetry};

#[derive(Parser)]
#[command(name = "api", version, about = "The donor and giving-club service")]
struct Cli {
    /// A TOML config file (keys are the environment variable names in lower case).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run pending migrations, then serve the API and pages (the default).
    Serve,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Manage staff API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Fill the database with realistic demo data (safe to run twice).
    SeedDemo,
    /// Check the configuration for production: print each setting still missing (Stripe
    /// keys, webhook secret, SMTP, link key, the organization's identity) and exit
    /// non-zero if any is. Opens no database and sends nothing.
    CheckConfig,
    /// Work with the organization's Stripe account.
    Stripe {
        #[command(subcommand)]
        action: StripeAction,
    },
    /// Issue the year-end statement of every donor who gave in a tax year and has none
    /// yet, and queue them by email (safe to run twice).
    YearEndStatements {
        /// The tax year.
        #[arg(long)]
        year: i32,
    },
    /// Remove from the giving club's tiers the members whose pledge is still past due
    /// after the grace period (CLUB_GRACE_DAYS); `serve` also does this every hour.
    ClubGraceCheck,
    /// Queue the scheduled email appeals whose time has come; `serve` also does this
    /// every minute. Needs DOWNLOAD_LINK_KEY, which signs the links in them. Safe to run
    /// twice.
    SendDueAppeals,
    /// Fill an empty database with a large, realistic organization for load tests:
    /// donors, five years of gifts, pledges, Circle members, campaigns and receipts.
    SeedBench {
        /// How many donors (about ten gifts each).
        #[arg(long, default_value_t = 100_000)]
        donors: usize,
        /// The same seed gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The last day of history (default: today).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Delete the organization's data first (donors, gifts, pledges, receipts,
        /// campaigns, appeals, segments, outbox, Stripe events, audit log, funds other
        /// than General); tiers and staff tokens stay.
        #[arg(long)]
        fresh: bool,
    },
    /// Write a consistent copy of the database to FILE while the service runs: SQLite
    /// with VACUUM INTO, PostgreSQL with pg_dump (custom format). FILE must not exist.
    Backup {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Copy a backup made by `api backup` into the empty database named by
    /// DATABASE_URL (SQLite: the file; PostgreSQL: with pg_restore), then check it as
    /// `api check-database` does.
    Restore {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// SQLite only: overwrite a database that already holds tables. Stop the
        /// service first.
        #[arg(long)]
        replace: bool,
    },
    /// Import a donor list or a gift history from a CSV file (the columns are the
    /// exports'; see the README's template). All or nothing unless --skip-bad-rows; a
    /// row whose external_id was imported before is left alone.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Check the database without changing it: integrity (SQLite), migrations, and
    /// how many donors, gifts and receipts it holds. Fails when the database is
    /// damaged or lacks migrations.
    CheckDatabase,
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Donors: matched by external_id, then by email; others are added.
    Donors {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        options: ImportFlags,
    },
    /// Gifts: each names its donor by donor_external_id or donor_email. Not receipted
    /// unless --issue-receipts or the row's issue_receipt says so.
    Gifts {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        options: ImportFlags,
        /// Issue (and email) a receipt for each imported succeeded gift whose row does
        /// not say otherwise. A history was receipted by the system it comes from.
        #[arg(long)]
        issue_receipts: bool,
    },
}

#[derive(clap::Args)]
struct ImportFlags {
    /// Check every row and report what would happen; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Import the good rows and report the bad ones (without it, one bad row changes
    /// nothing).
    #[arg(long)]
    skip_bad_rows: bool,
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply pending migrations.
    Up {
        /// Apply at most this many.
        #[arg(long)]
        steps: Option<u32>,
    },
    /// Roll back the latest migrations.
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table and migrate from scratch. Destroys all data.
    Fresh {
        /// Confirm that all data may be destroyed.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum StripeAction {
    /// Compare Stripe's charges, refunds, disputes and paid invoices with the gifts,
    /// to the cent, and tie each payout to the gifts in it. Days are the organization's,
    /// both included.
    Reconcile {
        /// The first day.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// The last day.
        #[arg(long)]
        to: chrono::NaiveDate,
        /// Record what the books lack, as Stripe's events would have, and Stripe's fee
        /// per gift (safe to run twice).
        #[arg(long)]
        apply: bool,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create a token and print it once.
    Create {
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Who or what uses the token ("maria-development", "nightly-export").
        #[arg(long)]
        name: String,
    },
    /// Revoke a token by id.
    Revoke { id: i64 },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Staff,
    Viewer,
}

impl From<RoleArg> for StaffRole {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => StaffRole::Admin,
            RoleArg::Staff => StaffRole::Staff,
            RoleArg::Viewer => StaffRole::Viewer,
        }
    }
}

/// Parses the command line, runs the command, and says how it went.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let log_format = config.log_format;
    let log = telemetry::init(log_format);
    match execute(cli.command.unwrap_or(Command::Serve), config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            match log_format {
                LogFormat::Json => tracing::error!(error = format!("{error:#}"), "command failed"),
                LogFormat::Text => {
                    drop(log);
                    eprintln!("error: {error:#}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::CheckConfig => {
            let gaps = config.production_gaps();
            if gaps.is_empty() {
                println!("ready for production: every setting it needs is set");
                return Ok(());
            }
            for (variable, consequence) in &gaps {
                println!("missing {variable}: {consequence}");
            }
            anyhow::bail!("{} settings production needs are missing", gaps.len())
        }
        Command::Migrate { action } => {
            let db = db::connect(&config.database_url)
                .await
                .context("cannot connect to the database named by DATABASE_URL")?;
            match action {
                MigrateAction::Up { steps } => Migrator::up(&db, steps).await?,
                MigrateAction::Down { steps } => Migrator::down(&db, Some(steps)).await?,
                MigrateAction::Status => {
                    for migration in Migrator::get_migration_with_status(&db).await? {
                        println!(
                            "{:<10} {}",
                            format!("{:?}", migration.status()),
                            migration.name()
                        );
                    }
                }
                MigrateAction::Fresh { yes } => {
                    if !yes {
                        anyhow::bail!(
                            "migrate fresh destroys all data; run it again with --yes to confirm"
                        );
                    }
                    Migrator::fresh(&db).await?;
                }
            }
            Ok(())
        }
        Command::Token { action } => {
            let db = migrated_database(&config).await?;
            match action {
                TokenAction::Create { role, name } => {
                    let token =
                        tokens::create_token(&db, &name, role.into(), &Actor::cli()).await?;
                    eprintln!(
                        "Created {} token {} ({:?}). Store it now: it cannot be shown again.",
                        token.role, token.id, token.name
                    );
                    println!("{}", token.secret);
                }
                TokenAction::Revoke { id } => {
                    let token = tokens::revoke_token(&db, id, &Actor::cli()).await?;
                    eprintln!("Revoked token {} ({:?}).", token.id, token.name);
                }
            }
            Ok(())
        }
        Command::SeedDemo => {
            let db = migrated_database(&config).await?;
            let summary = demo::seed_demo(&db).await?;
            println!("{summary}");
            Ok(())
        }
        Command::Stripe {
            action: StripeAction::Reconcile { from, to, apply },
        } => {
            let db = migrated_database(&config).await?;
            let client = StripeClient::from_config(&config)?;
            let range = ReconcileRange::new(&config.org, from, to)?;
            let policy = config.club_policy();
            let settings = apply.then_some(ApplySettings {
                org: &config.org,
                org_currency: config.org_currency,
                policy: &policy,
            });
            let run = reconcile_with_stripe(&db, &client, range, settings).await?;
            print!("{run}");
            Ok(())
        }
        Command::ClubGraceCheck => {
            let db = migrated_database(&config).await?;
            let changes = club::end_expired_grace_periods(&db, &config.club_policy()).await?;
            println!(
                "{} members left their tier after the {}-day grace period",
                changes.len(),
                config.club_grace_days
            );
            Ok(())
        }
        Command::SendDueAppeals => {
            let links = config.appeal_links().context(
                "DOWNLOAD_LINK_KEY must be set: it signs the donate and unsubscribe links in appeals",
            )?;
            let db = migrated_database(&config).await?;
            let due =
                appeal_sends::send_due_appeals(&db, &config.org, links, chrono::Utc::now()).await?;
            let mut failed = 0;
            for appeal in &due {
                match &appeal.outcome {
                    Ok(sent) => println!(
                        "{}: queued {} of {} recipients",
                        appeal.source_code, sent.queued, sent.recipients
                    ),
                    Err(reason) => {
                        failed += 1;
                        eprintln!("{}: not sent: {reason}", appeal.source_code);
                    }
                }
            }
            println!("{} scheduled appeals were due", due.len());
            if failed > 0 {
                anyhow::bail!("{failed} due appeals could not be sent");
            }
            Ok(())
        }
        Command::SeedBench {
            donors,
            seed,
            as_of,
            fresh,
        } => {
            let db = migrated_database(&config).await?;
            if fresh {
                bench_data::clear_organization(&db).await?;
            }
            let plan = bench_data::BenchPlan {
                donors,
                seed,
                as_of: as_of.unwrap_or_else(|| chrono::Utc::now().date_naive()),
            };
            let summary = bench_data::seed_bench(&db, &config.org, plan).await?;
            println!("{summary}");
            Ok(())
        }
        Command::Backup { file } => {
            backup::backup(&config.database_url, &file).await?;
            eprintln!("Backed up to {}.", file.display());
            Ok(())
        }
        Command::Restore { file, replace } => {
            let check = backup::restore(&config.database_url, &file, replace).await?;
            print!("{check}");
            ensure_current(&check)?;
            eprintln!("Restored {}.", file.display());
            Ok(())
        }
        Command::Import { what } => {
            let (file, flags, issue_receipts) = match &what {
                ImportWhat::Donors { file, options } => (file, options, false),
                ImportWhat::Gifts {
                    file,
                    options,
                    issue_receipts,
                } => (file, options, *issue_receipts),
            };
            let bytes = read_import_file(file)?;
            let options = ImportOptions {
                dry_run: flags.dry_run,
                skip_bad_rows: flags.skip_bad_rows,
                issue_receipts,
            };
            let db = migrated_database(&config).await?;
            let report = match what {
                ImportWhat::Donors { .. } => {
                    imports::donors::import_donors(&db, &Actor::cli(), &bytes, options).await?
                }
                ImportWhat::Gifts { .. } => {
                    imports::gifts::import_gifts(
                        &db,
                        &config.org,
                        config.org_currency,
                        &Actor::cli(),
                        &bytes,
                        options,
                    )
                    .await?
                }
            };
            println!("{report}");
            if !report.applied && !report.errors.is_empty() {
                anyhow::bail!(
                    "{} problems; nothing was imported (fix them, or pass --skip-bad-rows)",
                    report.errors.len()
                );
            }
            Ok(())
        }
        Command::CheckDatabase => {
            let check = backup::check(&config.database_url).await?;
            print!("{check}");
            ensure_current(&check)
        }
        Command::YearEndStatements { year } => {
            let db = migrated_database(&config).await?;
            let run =
                receipts::issue_year_end_statements(&db, &config.org, year, &Actor::cli()).await?;
            println!(
                "{year}: issued {} statements; {} donors already had one",
                run.issued, run.already_issued
            );
            Ok(())
        }
    }
}

/// The bytes of an import file, refused before reading when it is larger than an
/// import reads.
fn read_import_file(file: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > imports::MAX_IMPORT_BYTES as u64 {
        anyhow::bail!(
            "{} is {size} bytes; an import reads at most {} (split it)",
            file.display(),
            imports::MAX_IMPORT_BYTES
        );
    }
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

/// Fails, saying what to do, unless the database is sound and fully migrated.
fn ensure_current(check: &backup::DatabaseCheck) -> anyhow::Result<()> {
    if check.integrity.as_deref().is_some_and(|i| i != "ok") {
        anyhow::bail!("the database is damaged: PRAGMA integrity_check failed");
    }
    if !check.pending_migrations.is_empty() {
        anyhow::bail!(
            "the database lacks {} migrations of this version; `api migrate up` (or `api serve`) applies them",
            check.pending_migrations.len()
        );
    }
    Ok(())
}

/// The configured database, with every migration applied.
async fn migrated_database(config: &Config) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let db = db::connect(&config.database_url)
        .await
        .context("cannot connect to the database named by DATABASE_URL")?;
    Migrator::up(&db, None)
        .await
        .context("cannot run database migrations")?;
    Ok(db)
}

/// Every hour, removes from their tier the members whose pledge stayed past due
/// beyond the grace period.
async fn run_grace_checks(db: sea_orm::DatabaseConnection, policy: club::ClubPolicy) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        ticks.tick().await;
        match club::end_expired_grace_periods(&db, &policy).await {
            Ok(changes) if !changes.is_empty() => {
                tracing::info!(left = changes.len(), "club grace periods ended");
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "the club grace check failed"),
        }
    }
}

/// Every minute, queues the scheduled email appeals whose time has come.
async fn run_due_appeals(db: sea_orm::DatabaseConnection, config: Config) {
    let Some(links) = config.appeal_links() else {
        return;
    };
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        ticks.tick().await;
        match appeal_sends::send_due_appeals(&db, &config.org, links, chrono::Utc::now()).await {
            Ok(due) => {
                for appeal in due {
                    match appeal.outcome {
                        Ok(sent) => tracing::info!(
                            appeal = %appeal.source_code,
                            queued = sent.queued,
                            recipients = sent.recipients,
                            "scheduled appeal queued"
                        ),
                        Err(reason) => tracing::error!(
                            appeal = %appeal.source_code,
                            %reason,
                            "a scheduled appeal could not be sent"
                        ),
                    }
                }
            }
            Err(error) => tracing::error!(%error, "the scheduled appeal check failed"),
        }
    }
}

/// Says at start-up that receipts will be samples while the organization's identity is
/// still the placeholder.
fn warn_if_issuing_samples(org: &crate::config::Organization) {
    let unset = org.unset_identity();
    if !unset.is_empty() {
        tracing::warn!(
            unset = unset.join(", "),
            "the organization's identity is not set ({}): every receipt and statement is \
             marked as a sample, not a tax receipt",
            unset.join(", ")
        );
    }
}

/// The mailer worker `api serve` runs in its own process: the standalone `mailer`
/// builds its settings from the same variables (`mailer::config::MailSettings::parse`),
/// so both send the same messages.
pub fn in_process_mailer_worker(
    config: &Config,
    db: sea_orm::DatabaseConnection,
) -> anyhow::Result<mailer::Worker> {
    mailer::Worker::new(db, config.mail_settings(), config.mailer.clone())
        .context("SMTP_URL cannot be used")
}

/// Runs the server as `api serve` does: migrations, the API and pages, the in-process
/// mailer, the hourly grace checks and the scheduled appeals, until SIGINT or SIGTERM.
pub async fn serve(mut config: Config) -> anyhow::Result<()> {
    // Listening before anything starts, a SIGTERM during start-up stops the server
    // cleanly as soon as it runs instead of killing it half-started.
    let stop_requested = shutdown_signal().context("cannot listen for SIGINT and SIGTERM")?;
    // The in-process worker signs links in emails with the server's key.
    config.ensure_download_link_key();
    let listen_addr = config.listen_addr;
    let database = format!("{:?}", config.database_url);
    let in_process_mailer = config.mailer_in_process.then(|| config.clone());
    let club_policy = config.club_policy();
    let appeal_settings = config.download_link_key.is_some().then(|| config.clone());
    warn_if_issuing_samples(&config.org);
    let application = Application::build(config).await?;
    let grace_checks = tokio::spawn(run_grace_checks(application.db().clone(), club_policy));
    let due_appeals = appeal_settings
        .map(|config| tokio::spawn(run_due_appeals(application.db().clone(), config)));
    let (stop_mailer, mailer_stopped) = tokio::sync::watch::channel(false);
    let mailer = match in_process_mailer {
        Some(config) => {
            let worker = in_process_mailer_worker(&config, application.db().clone())?;
            Some(tokio::spawn(
                async move { worker.run(mailer_stopped).await },
            ))
        }
        None => None,
    };
    tracing::info!(%listen_addr, %database, "serving; GraphQL console at /graphql");
    let handle = application.handle();
    tokio::spawn(async move {
        stop_requested.await;
        tracing::info!("shutdown requested; finishing requests in flight");
        handle.stop(true).await;
    });
    let served = application.run_until_stopped().await;
    grace_checks.abort();
    if let Some(due_appeals) = due_appeals {
        due_appeals.abort();
    }
    // The worker finishes the message in hand before it stops.
    let _ = stop_mailer.send(true);
    if let Some(mailer) = mailer
        && let Err(error) = mailer.await
    {
        tracing::error!(%error, "the mailer worker ended abnormally");
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}
