//! Backups and restores: a consistent copy of the database taken while the service
//! runs, put back into an empty database, and checked.
//!
//! SQLite copies itself with `VACUUM INTO`, which reads one snapshot while writers go
//! on. PostgreSQL uses its own tools, `pg_dump` and `pg_restore`, which must be on the
//! `PATH`; without them the command that would have run is printed instead.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use anyhow::{Context, bail};
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::sqlx::{AssertSqlSafe, Connection, SqliteConnection};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::config::DatabaseUrl;
use crate::db;

/// Writes a consistent copy of the database to `file`, which must not exist yet.
pub async fn backup(url: &DatabaseUrl, file: &Path) -> anyhow::Result<()> {
    if file.exists() {
        bail!(
            "{} already exists; a backup never overwrites a file",
            file.display()
        );
    }
    if url.is_sqlite() {
        backup_sqlite(url, file).await
    } else {
        backup_postgres(url, file).await
    }
}

async fn backup_sqlite(url: &DatabaseUrl, file: &Path) -> anyhow::Result<()> {
    let database = sqlite_file(url)?;
    if !database.exists() {
        bail!("there is no database at {}", database.display());
    }
    // The copy appears under its name only once it is whole.
    let partial = with_suffix(file, ".partial");
    let _ = std::fs::remove_file(&partial);
    let mut connection = open_sqlite(&database, true).await?;
    // The file name is quoted as an SQL string literal.
    let copied = sea_orm::sqlx::query(AssertSqlSafe(format!(
        "VACUUM INTO {}",
        sql_string(&partial.display().to_string())
    )))
    .execute(&mut connection)
    .await;
    let _ = connection.close().await;
    if let Err(error) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(error).context(format!("cannot write a copy to {}", partial.display()));
    }
    std::fs::rename(&partial, file)
        .with_context(|| format!("cannot move {} to {}", partial.display(), file.display()))?;
    Ok(())
}

async fn backup_postgres(url: &DatabaseUrl, file: &Path) -> anyhow::Result<()> {
    let partial = with_suffix(file, ".partial");
    let _ = std::fs::remove_file(&partial);
    let target = PgTarget::parse(url)?;
    let mut args = vec![
        "--format=custom".to_owned(),
        "--no-owner".to_owned(),
        "--no-privileges".to_owned(),
    ];
    let shown = pg_command("pg_dump", &args, &target, Some(file));
    args.push(format!("--file={}", partial.display()));
    if let Err(error) = run_pg_tool("pg_dump", &args, &target, &shown).await {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, file)
        .with_context(|| format!("cannot move {} to {}", partial.display(), file.display()))?;
    Ok(())
}

/// Copies a backup into the database named by `url`, which must hold no tables unless
/// `replace` is set (SQLite only), then checks the result.
pub async fn restore(
    url: &DatabaseUrl,
    file: &Path,
    replace: bool,
) -> anyhow::Result<DatabaseCheck> {
    if !file.is_file() {
        bail!("there is no backup file at {}", file.display());
    }
    if url.is_sqlite() {
        restore_sqlite(url, file, replace).await?;
    } else {
        restore_postgres(url, file, replace).await?;
    }
    check(url).await
}

async fn restore_sqlite(url: &DatabaseUrl, file: &Path, replace: bool) -> anyhow::Result<()> {
    let database = sqlite_file(url)?;
    let mut backup = open_sqlite(file, true)
        .await
        .with_context(|| format!("{} is not a SQLite backup", file.display()))?;
    let integrity: String = sea_orm::sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut backup)
        .await
        .with_context(|| format!("{} is not a SQLite backup", file.display()))?;
    let migrations: i64 = sea_orm::sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'seaql_migrations'",
    )
    .fetch_one(&mut backup)
    .await?;
    let _ = backup.close().await;
    if integrity != "ok" {
        bail!(
            "{} is damaged ({integrity}); it was not restored",
            file.display()
        );
    }
    if migrations == 0 {
        bail!(
            "{} is a SQLite file but not a backup of this service",
            file.display()
        );
    }
    let tables = sqlite_tables(&database).await?;
    if tables > 0 && !replace {
        bail!(
            "the database at {} is not empty ({tables} tables); a restore only fills an empty \
             database. Point DATABASE_URL at a new file, or stop the service and run \
             `api restore --replace {}` to overwrite it",
            database.display(),
            file.display()
        );
    }
    let incoming = with_suffix(&database, ".restoring");
    std::fs::copy(file, &incoming)
        .with_context(|| format!("cannot copy {} to {}", file.display(), incoming.display()))?;
    std::fs::File::open(&incoming)
        .and_then(|copy| copy.sync_all())
        .with_context(|| format!("cannot write {}", incoming.display()))?;
    // An old write-ahead log would be replayed onto the restored file.
    for stale in ["-wal", "-shm", "-journal"] {
        let stale = with_suffix(&database, stale);
        if stale.exists() {
            std::fs::remove_file(&stale)
                .with_context(|| format!("cannot remove {}", stale.display()))?;
        }
    }
    std::fs::rename(&incoming, &database).with_context(|| {
        format!(
            "cannot move {} to {}",
            incoming.display(),
            database.display()
        )
    })?;
    Ok(())
}

async fn restore_postgres(url: &DatabaseUrl, file: &Path, replace: bool) -> anyhow::Result<()> {
    if replace {
        bail!(
            "--replace works on SQLite only; on PostgreSQL, restore into a new database \
             (createdb NAME) and point DATABASE_URL at it"
        );
    }
    let db = db::connect(url)
        .await
        .context("cannot connect to the database named by DATABASE_URL")?;
    let tables = count(
        &db,
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .await?;
    let _ = db.close().await;
    if tables > 0 {
        bail!(
            "the database named by DATABASE_URL is not empty ({tables} tables); a restore only \
             fills an empty database. Create a new one (createdb NAME) and point DATABASE_URL at it"
        );
    }
    let target = PgTarget::parse(url)?;
    let args = vec![
        "--exit-on-error".to_owned(),
        "--single-transaction".to_owned(),
        "--no-owner".to_owned(),
        "--no-privileges".to_owned(),
        file.display().to_string(),
    ];
    let shown = pg_command("pg_restore", &args, &target, None);
    run_pg_tool("pg_restore", &args, &target, &shown).await
}

/// What a database holds, and whether it can be served as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseCheck {
    /// SQLite's `PRAGMA integrity_check` ("ok" when sound); PostgreSQL has none.
    pub integrity: Option<String>,
    /// The latest migration applied.
    pub latest_migration: Option<String>,
    /// Migrations this version of the service has that the database lacks.
    pub pending_migrations: Vec<String>,
    pub donors: i64,
    pub gifts: i64,
    pub receipts: i64,
    /// The highest receipt number ("2026-000123").
    pub last_receipt: Option<String>,
}

impl DatabaseCheck {
    /// Sound, and at the schema this version of the service expects.
    pub fn is_current(&self) -> bool {
        self.integrity.as_deref().is_none_or(|i| i == "ok") && self.pending_migrations.is_empty()
    }
}

impl fmt::Display for DatabaseCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(integrity) = &self.integrity {
            writeln!(f, "integrity: {integrity}")?;
        }
        writeln!(
            f,
            "migrations: latest {}, {} pending",
            self.latest_migration.as_deref().unwrap_or("none"),
            self.pending_migrations.len()
        )?;
        for pending in &self.pending_migrations {
            writeln!(f, "  pending: {pending}")?;
        }
        writeln!(f, "donors: {}", self.donors)?;
        writeln!(f, "gifts: {}", self.gifts)?;
        writeln!(
            f,
            "receipts: {} (last {})",
            self.receipts,
            self.last_receipt.as_deref().unwrap_or("none")
        )
    }
}

/// Checks a database without changing it: integrity (SQLite), migrations, and how
/// many donors, gifts and receipts it holds.
pub async fn check(url: &DatabaseUrl) -> anyhow::Result<DatabaseCheck> {
    if url.is_sqlite() {
        let database = sqlite_file(url)?;
        if !database.exists() {
            bail!("there is no database at {}", database.display());
        }
    }
    let db = db::connect(url)
        .await
        .context("cannot connect to the database named by DATABASE_URL")?;
    let checked = check_connection(&db).await;
    let _ = db.close().await;
    checked
}

async fn check_connection(db: &DatabaseConnection) -> anyhow::Result<DatabaseCheck> {
    let integrity = match db.get_database_backend() {
        DbBackend::Sqlite => {
            let row = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    "PRAGMA integrity_check",
                ))
                .await?
                .context("PRAGMA integrity_check answered nothing")?;
            Some(row.try_get_by_index::<String>(0)?)
        }
        _ => None,
    };
    let latest_migration = Migrator::get_applied_migrations(db)
        .await
        .context("cannot read the migrations table; is this a database of this service?")?
        .last()
        .map(|migration| migration.name().to_owned());
    let pending_migrations = Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect();
    let last_receipt = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT number FROM receipts ORDER BY number DESC LIMIT 1",
        ))
        .await?
        .map(|row| row.try_get_by_index::<String>(0))
        .transpose()?;
    Ok(DatabaseCheck {
        integrity,
        latest_migration,
        pending_migrations,
        donors: count(db, "SELECT COUNT(*) FROM donors").await?,
        gifts: count(db, "SELECT COUNT(*) FROM gifts").await?,
        receipts: count(db, "SELECT COUNT(*) FROM receipts").await?,
        last_receipt,
    })
}

async fn count(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .with_context(|| format!("{sql} answered nothing"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// The file a `sqlite:` URL names.
fn sqlite_file(url: &DatabaseUrl) -> anyhow::Result<PathBuf> {
    let options = SqliteConnectOptions::from_str(url.expose())
        .context("DATABASE_URL is not a SQLite URL that can be read")?;
    let file = options.get_filename();
    if file.as_os_str().is_empty() || file.as_os_str() == ":memory:" {
        bail!("an in-memory database cannot be backed up or restored");
    }
    Ok(file.to_path_buf())
}

async fn open_sqlite(file: &Path, read_only: bool) -> anyhow::Result<SqliteConnection> {
    let options = SqliteConnectOptions::new()
        .filename(file)
        .read_only(read_only)
        .busy_timeout(std::time::Duration::from_secs(30));
    SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot open {}", file.display()))
}

/// How many tables a SQLite file holds; a missing or zero-length file holds none.
async fn sqlite_tables(file: &Path) -> anyhow::Result<i64> {
    let empty = std::fs::metadata(file).map_or(true, |meta| meta.len() == 0);
    if empty {
        return Ok(0);
    }
    let mut connection = open_sqlite(file, true).await?;
    let tables = sea_orm::sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_one(&mut connection)
    .await
    .with_context(|| format!("{} is not a SQLite database", file.display()))?;
    let _ = connection.close().await;
    Ok(tables)
}

fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A PostgreSQL URL split so that its password travels in `PGPASSWORD`, never on a
/// command line that `ps` shows.
struct PgTarget {
    url_without_password: String,
    password: Option<String>,
}

impl PgTarget {
    fn parse(url: &DatabaseUrl) -> anyhow::Result<PgTarget> {
        let mut parsed =
            url::Url::parse(url.expose()).context("DATABASE_URL is not a URL that can be read")?;
        let password = parsed.password().map(percent_decode);
        let _ = parsed.set_password(None);
        Ok(PgTarget {
            url_without_password: parsed.to_string(),
            password,
        })
    }
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("p={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// The command as an operator would type it.
fn pg_command(tool: &str, args: &[String], target: &PgTarget, file: Option<&Path>) -> String {
    let mut words = vec![tool.to_owned()];
    words.extend(args.iter().map(|arg| shell_word(arg)));
    words.push(shell_word(&format!(
        "--dbname={}",
        target.url_without_password
    )));
    if let Some(file) = file {
        words.push(shell_word(&format!("--file={}", file.display())));
    }
    let command = words.join(" ");
    if target.password.is_some() {
        format!("PGPASSWORD=... {command}")
    } else {
        command
    }
}

fn shell_word(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_=./:@,%+".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

async fn run_pg_tool(
    tool: &'static str,
    args: &[String],
    target: &PgTarget,
    shown: &str,
) -> anyhow::Result<()> {
    let mut command = Command::new(tool);
    command
        .args(args)
        .arg(format!("--dbname={}", target.url_without_password));
    if let Some(password) = &target.password {
        command.env("PGPASSWORD", password);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .context("the backup task stopped")?;
    match output {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
            "{tool} is not installed or not on the PATH; nothing was done. Install the \
             PostgreSQL client tools of the server's major version and run:\n  {shown}"
        ),
        Err(error) => Err(error).context(format!("cannot run {tool}")),
        Ok(output) if !output.status.success() => bail!(
            "{tool} failed ({}): {}\nThe command was:\n  {shown}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Ok(_) => Ok(()),
    }
}
