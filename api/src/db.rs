//! Connecting to SQLite or PostgreSQL, and starting write transactions.

use std::time::Duration;

pub use mailer::database::{WRITE_WAIT, WriteTransaction, begin_write, write_turn};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::config::DatabaseUrl;

/// Opens a pool. SQLite files are created if missing and use write-ahead logging, so
/// readers never wait for the writer.
pub async fn connect(url: &DatabaseUrl) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.expose());
    mailer::database::pool_defaults(&mut options)
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .max_connections(if url.is_sqlite() { 8 } else { 20 })
        // A connection keeps the largest message it ever sent or read (a batch of
        // year-end statements is megabytes) until it is closed; given back to the pool,
        // it returns to the driver's default buffers, so twenty pooled connections do
        // not each hold the largest batch they served.
        .map_sqlx_postgres_pool_opts(|pool| {
            pool.after_release(|connection, _| {
                Box::pin(async move {
                    sea_orm::sqlx::Connection::shrink_buffers(connection);
                    Ok(true)
                })
            })
        })
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(WRITE_WAIT)
                .foreign_keys(true)
        });
    // The driver quotes a URL it cannot parse, password and all.
    Database::connect(options).await.map_err(|error| {
        DbErr::Custom(mailer::config::database_error_text(
            url.expose(),
            &error.to_string(),
        ))
    })
}

/// Fresh, migrated databases for the domain's unit tests: a SQLite file always, and a
/// PostgreSQL database when `TEST_POSTGRES_URL` answers (under `CI=true` it must).
#[cfg(test)]
// Test setup: a failed step should stop the test where it happened.
#[allow(clippy::expect_used)]
pub(crate) mod testing {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

    use super::connect;
    use crate::config::DatabaseUrl;

    /// A migrated database that lives as long as this value.
    pub(crate) struct TestDb {
        pub db: DatabaseConnection,
        /// Where `db` is, for a test that opens a pool of its own there.
        pub url: String,
        postgres: Option<(String, String)>,
        _dir: tempfile::TempDir,
    }

    impl TestDb {
        pub(crate) async fn close(self) {
            let TestDb {
                db, postgres, _dir, ..
            } = self;
            let _ = db.close().await;
            if let Some((admin_url, name)) = postgres
                && let Ok(admin) = Database::connect(admin_url.as_str()).await
            {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                let _ = admin.close().await;
            }
        }
    }

    async fn migrated(url: &str) -> DatabaseConnection {
        let db = connect(&DatabaseUrl::new(url))
            .await
            .expect("the test database opens");
        Migrator::up(&db, None).await.expect("the migrations apply");
        db
    }

    /// A migrated SQLite file, for what only SQLite has.
    pub(crate) async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let sqlite_url = format!("sqlite://{}?mode=rwc", dir.path().join("unit.db").display());
        TestDb {
            db: migrated(&sqlite_url).await,
            url: sqlite_url,
            postgres: None,
            _dir: dir,
        }
    }

    /// A transaction on `db` in which PostgreSQL's planner avoids sequential and bitmap
    /// scans, so that a plan shows what the indexes allow whatever the tables hold; for
    /// tests that read plans, rolled back by the caller.
    pub(crate) async fn planning_with_indexes(
        db: &DatabaseConnection,
    ) -> sea_orm::DatabaseTransaction {
        use sea_orm::TransactionTrait;
        let txn = db.begin().await.expect("a transaction");
        if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
            txn.execute_unprepared(
                "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off",
            )
            .await
            .expect("the planner's settings");
        }
        txn
    }

    /// The plan `db` makes for `statement`, its lines joined.
    pub(crate) async fn plan(db: &impl ConnectionTrait, statement: sea_orm::Statement) -> String {
        mailer::database::plan_of(db, statement)
            .await
            .expect("a plan")
            .join("\n")
    }

    /// One database per backend this machine offers: SQLite, then PostgreSQL.
    pub(crate) async fn each_backend() -> Vec<TestDb> {
        let mut databases = vec![sqlite().await];
        let admin_url = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        let admin = match Database::connect(admin_url.as_str()).await {
            Ok(admin) => admin,
            Err(error) => {
                assert!(!in_ci, "PostgreSQL is not reachable and CI=true: {error}");
                return databases;
            }
        };
        let name = format!("giving_unit_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("the test database is created");
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        databases.push(TestDb {
            db: migrated(url.as_str()).await,
            url: url.to_string(),
            postgres: Some((admin_url, name)),
            _dir: tempfile::tempdir().expect("a temporary folder"),
        });
        databases
    }
}

#[cfg(test)]
// A failed step should stop the test where it happened.
#[allow(clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{TimeZone, Utc};
    use entity::{Translations, fund};
    use sea_orm::{
        ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
        Statement,
    };

    use super::testing::{each_backend, sqlite};

    /// `vendor/sea-orm` answers `None` for a `NULL` cell of an optional column without
    /// decoding it; a cell that holds a value, and the model's own optional columns read
    /// as `Option<Option<T>>`, must still decode as before.
    #[tokio::test]
    async fn optional_columns_read_back_as_written_null_or_not() {
        for test in each_backend().await {
            let db = &test.db;
            let at = Utc
                .with_ymd_and_hms(2026, 3, 14, 15, 9, 26)
                .single()
                .expect("a time");
            let mut texts = BTreeMap::new();
            texts.insert("name".to_owned(), "Fondo de defensa".to_owned());
            let mut translations = BTreeMap::new();
            translations.insert("es".to_owned(), texts);
            let full = fund::ActiveModel {
                name: Set("Deportation Defense Fund".to_owned()),
                code: Set("DDF-TEST".to_owned()),
                description: Set(Some("Court representation".to_owned())),
                restricted: Set(true),
                translations: Set(Some(Translations(translations))),
                archived_at: Set(Some(at)),
                created_at: Set(at),
                updated_at: Set(at),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("a fund with every optional column set");
            let empty = fund::ActiveModel {
                name: Set("Know Your Rights".to_owned()),
                code: Set("KYR".to_owned()),
                description: Set(None),
                restricted: Set(false),
                translations: Set(None),
                archived_at: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("a fund with every optional column NULL");

            let read = fund::Entity::find()
                .filter(fund::Column::Id.is_in([full.id, empty.id]))
                .order_by_asc(fund::Column::Id)
                .all(db)
                .await
                .expect("the funds read back");
            assert_eq!(read, vec![full.clone(), empty.clone()]);
            assert!(read[0].translations.is_some() && read[0].archived_at.is_some());
            assert_eq!(read[1].description, None);

            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT NULL AS empty_cell, 'x' AS text_cell, CAST(7 AS BIGINT) AS number_cell",
                ))
                .await
                .expect("the row reads")
                .expect("one row");
            assert_eq!(
                row.try_get::<Option<String>>("", "empty_cell").ok(),
                Some(None)
            );
            assert_eq!(
                row.try_get::<Option<Option<String>>>("", "empty_cell").ok(),
                Some(Some(None))
            );
            assert_eq!(
                row.try_get::<Option<String>>("", "text_cell").ok(),
                Some(Some("x".to_owned()))
            );
            assert_eq!(
                row.try_get::<Option<i64>>("", "number_cell").ok(),
                Some(Some(7))
            );
            assert_eq!(row.try_get::<Option<i64>>("", "absent").ok(), Some(None));
            assert!(row.try_get::<String>("", "empty_cell").is_err());
            test.close().await;
        }
    }

    /// SQLite plans a statement that binds its `LIMIT` (every page sea-orm reads) with
    /// the bound value, and so plans it again at each execution, unless it is built with
    /// the query planner's stability guarantee (`.cargo/config.toml`): then a statement
    /// is planned once per pooled connection, whatever is bound.
    #[tokio::test]
    async fn sqlite_plans_a_statement_once_whatever_is_bound() {
        let test = sqlite().await;
        let row = test
            .db
            .query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT COUNT(*) AS built_with FROM pragma_compile_options \
                 WHERE compile_options = 'ENABLE_QPSG'",
            ))
            .await
            .expect("the compile options are readable")
            .expect("a count");
        assert_eq!(row.try_get::<i64>("", "built_with").ok(), Some(1));
        test.close().await;
    }

    /// A pool of one connection to `url`, set up as both programs set theirs, with a
    /// table `t` of its own.
    async fn one_connection(url: &str) -> sea_orm::DatabaseConnection {
        let mut options = sea_orm::ConnectOptions::new(url);
        mailer::database::pool_defaults(&mut options)
            .max_connections(1)
            .sqlx_logging(false);
        let db = sea_orm::Database::connect(options)
            .await
            .expect("the database opens");
        db.execute_unprepared("CREATE TABLE t (n BIGINT PRIMARY KEY)")
            .await
            .expect("the table is made");
        db
    }

    /// A second pool on the database of `one_connection`, which sees only what was
    /// committed.
    async fn another_pool(url: &str) -> sea_orm::DatabaseConnection {
        sea_orm::Database::connect(url)
            .await
            .expect("the database opens again")
    }

    fn sql(db: &sea_orm::DatabaseConnection, sql: &str) -> Statement {
        Statement::from_string(db.get_database_backend(), sql)
    }

    /// `SELECT 1` on `db`, `times` times: each must succeed.
    async fn ones(db: &sea_orm::DatabaseConnection, times: usize) {
        for n in 0..times {
            let row = db
                .query_one_raw(sql(db, "SELECT CAST(1 AS BIGINT) AS one"))
                .await
                .unwrap_or_else(|e| panic!("statement {n} failed: {e}"))
                .expect("a row");
            assert_eq!(row.try_get::<i64>("", "one").ok(), Some(1));
        }
    }

    /// The process id of the PostgreSQL backend serving a pool of one connection.
    async fn backend_pid(db: &sea_orm::DatabaseConnection) -> i32 {
        db.query_one_raw(sql(db, "SELECT pg_backend_pid() AS pid"))
            .await
            .expect("the pid reads")
            .expect("a row")
            .try_get::<i32>("", "pid")
            .expect("a pid")
    }

    /// Ends PostgreSQL backend `pid`, from `admin`'s pool.
    async fn end_backend(admin: &sea_orm::DatabaseConnection, pid: i32) {
        admin
            .execute_unprepared(&format!("SELECT pg_terminate_backend({pid})"))
            .await
            .expect("the backend is ended");
    }

    /// After backend `pid` of the pool of one connection `db` ended: 20 statements all
    /// succeed, on a connection of another backend; then the pool closes.
    async fn served_by_another_connection(db: sea_orm::DatabaseConnection, pid: i32) {
        ones(&db, 20).await;
        assert_ne!(backend_pid(&db).await, pid);
        db.close().await.expect("the pool closes");
    }

    /// The client's and the server's TCP ports of a pool of one connection.
    async fn client_and_server_ports(db: &sea_orm::DatabaseConnection) -> (u16, u16) {
        let row = db
            .query_one_raw(sql(
                db,
                "SELECT inet_client_port() AS client, inet_server_port() AS server",
            ))
            .await
            .expect("the ports read")
            .expect("a row");
        let port = |column: &str| {
            let port: i32 = row.try_get("", column).expect("a port");
            u16::try_from(port).expect("a TCP port")
        };
        (port("client"), port("server"))
    }

    /// Waits until the connection of the pool of one connection `db` is back in the pool
    /// and idle. A connection is given back by a task of its own, which may test it
    /// there; a backend ended before that test would be found by it, and the connection
    /// closed before it could be handed out again.
    async fn until_idle_in_the_pool(db: &sea_orm::DatabaseConnection) {
        let pool = db.get_postgres_connection_pool();
        for _ in 0..1000 {
            if pool.num_idle() == 1 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the pool's connection never came back idle");
    }

    /// Waits until the client's socket of the connection between `ports` has received
    /// the server's end of the stream (TCP's CLOSE_WAIT in `/proc/net`), and so every
    /// byte the server sent before it; then lets the runtime see them. The server's
    /// process leaving `pg_stat_activity` does not tell that: the kernel may deliver
    /// another connection's later answer before this one's last bytes.
    async fn until_the_end_has_arrived((client, server): (u16, u16)) {
        let local = format!(":{client:04X}");
        let remote = format!(":{server:04X}");
        // The socket's TCP state, as `/proc/net` lists it in hexadecimal; none once gone.
        let state = || {
            ["/proc/net/tcp", "/proc/net/tcp6"]
                .iter()
                .find_map(|table| {
                    std::fs::read_to_string(table)
                        .unwrap_or_default()
                        .lines()
                        .map(|line| line.split_whitespace().collect::<Vec<_>>())
                        .find(|fields| {
                            fields.len() > 3
                                && fields[1].ends_with(&local)
                                && fields[2].ends_with(&remote)
                        })
                        .map(|fields| fields[3].to_owned())
                })
        };
        let mut seen = Vec::new();
        for _ in 0..1000 {
            let now = state();
            // A wait parks the runtime, which reads the sockets' readiness.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            if now.as_deref() == Some("08") {
                return;
            }
            if seen.last() != Some(&now) {
                seen.push(now);
            }
        }
        panic!(
            "the connection from port {client} never received the server's end; \
             its states: {seen:?}"
        );
    }

    /// Waits until PostgreSQL lists backend `pid` as `state`.
    async fn until_backend(admin: &sea_orm::DatabaseConnection, pid: i32, state: &str) {
        let listed = format!("SELECT state FROM pg_stat_activity WHERE pid = {pid}");
        for _ in 0..1000 {
            let row = admin
                .query_one_raw(sql(admin, &listed))
                .await
                .expect("pg_stat_activity reads");
            let seen =
                row.and_then(|row| row.try_get::<Option<String>>("", "state").ok().flatten());
            if seen.as_deref() == Some(state) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("backend {pid} never reached {state}");
    }

    /// A pooled connection in steady use is not tested with a ping before each
    /// statement (`mailer::database::pool_defaults`), so a connection PostgreSQL cuts
    /// fails the statement it was running; the pool then closes it, and the statements
    /// after it are served on a new connection, none of them failing.
    #[tokio::test]
    async fn a_connection_cut_while_in_use_fails_only_its_own_statement() {
        for test in each_backend().await {
            if test.db.get_database_backend() == sea_orm::DbBackend::Postgres {
                let db = one_connection(&test.url).await;
                let pid = backend_pid(&db).await;
                let sleeping = tokio::spawn({
                    let db = db.clone();
                    async move { db.execute_unprepared("SELECT pg_sleep(30)").await }
                });
                until_backend(&test.db, pid, "active").await;
                end_backend(&test.db, pid).await;
                let cut = sleeping.await.expect("the statement's task ends");
                assert!(
                    cut.is_err(),
                    "the statement whose connection was cut succeeded"
                );
                served_by_another_connection(db, pid).await;
            }
            test.close().await;
        }
    }

    /// A connection PostgreSQL ended while it sat in the pool (an administrator's
    /// command, a restart) is not handed out: its end has already arrived, and the pool
    /// reads that without a round trip (`vendor/sqlx-postgres`) and opens another.
    #[tokio::test]
    async fn a_connection_ended_while_idle_in_the_pool_is_not_handed_out() {
        for test in each_backend().await {
            if test.db.get_database_backend() == sea_orm::DbBackend::Postgres {
                let db = one_connection(&test.url).await;
                let pid = backend_pid(&db).await;
                let ports = client_and_server_ports(&db).await;
                until_idle_in_the_pool(&db).await;
                end_backend(&test.db, pid).await;
                until_the_end_has_arrived(ports).await;
                served_by_another_connection(db, pid).await;
            }
            test.close().await;
        }
    }

    /// A connection goes back to the pool without a round trip when nothing is left
    /// of its last statement (`vendor/sqlx-sqlite`, `vendor/sqlx-postgres`); a statement
    /// whose caller stopped waiting is finished before the next caller's statement runs.
    #[tokio::test]
    async fn a_statement_given_up_on_leaves_its_connection_right_for_the_next() {
        for test in each_backend().await {
            let db = one_connection(&test.url).await;
            // A statement still running when its caller stops waiting: SQLite's runs on
            // the connection's thread; PostgreSQL's rows would be read as fast as they
            // come, so it sleeps before sending them.
            let long = sql(
                &db,
                match db.get_database_backend() {
                    sea_orm::DbBackend::Postgres => {
                        "SELECT x FROM generate_series(1, 3) AS x WHERE pg_sleep(0.1) IS NOT NULL"
                    }
                    _ => {
                        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                         WHERE x < 3000000) SELECT x FROM c"
                    }
                },
            );
            let given_up =
                tokio::time::timeout(std::time::Duration::from_millis(1), db.query_all_raw(long))
                    .await;
            assert!(given_up.is_err(), "the long statement was still running");
            for n in 0..3_i64 {
                db.execute_unprepared(&format!("INSERT INTO t (n) VALUES ({n})"))
                    .await
                    .expect("the next statement runs");
            }
            assert_eq!(rows_and_total(&db).await, (3, 3));
            db.close().await.expect("the pool closes");
            test.close().await;
        }
    }

    /// A transaction dropped without a commit is rolled back when its connection goes
    /// back to the pool, not when the connection is next used: another connection can
    /// write the row it held at once, and the connection's next statement runs outside
    /// it.
    #[tokio::test]
    async fn a_transaction_dropped_is_rolled_back_before_its_connection_is_used_again() {
        use sea_orm::TransactionTrait;
        for test in each_backend().await {
            let db = one_connection(&test.url).await;
            let txn = db.begin().await.expect("a transaction begins");
            txn.execute_unprepared("INSERT INTO t (n) VALUES (41)")
                .await
                .expect("a row written in it");
            drop(txn);
            let other = another_pool(&test.url).await;
            // SQLite waits for the writer up to the driver's busy timeout, 5 s.
            let wait = match other.get_database_backend() {
                sea_orm::DbBackend::Postgres => "SET lock_timeout = '5s'; ",
                _ => "",
            };
            other
                .execute_unprepared(&format!("{wait}INSERT INTO t (n) VALUES (41)"))
                .await
                .expect("the row held by the dropped transaction is written by another");
            db.execute_unprepared("INSERT INTO t (n) VALUES (7)")
                .await
                .expect("a row written after it");
            assert_eq!(rows_and_total(&other).await, (2, 48));
            other.close().await.expect("the other pool closes");
            db.close().await.expect("the pool closes");
            test.close().await;
        }
    }

    /// How many rows `t` holds and the sum of their `n`.
    async fn rows_and_total(db: &sea_orm::DatabaseConnection) -> (i64, i64) {
        let row = db
            .query_one_raw(sql(
                db,
                "SELECT CAST(COUNT(*) AS BIGINT) AS rows_in, \
                 CAST(COALESCE(SUM(n), 0) AS BIGINT) AS total FROM t",
            ))
            .await
            .expect("the table reads")
            .expect("a row");
        (
            row.try_get::<i64>("", "rows_in").expect("a count"),
            row.try_get::<i64>("", "total").expect("a sum"),
        )
    }
}
