//! What both programs do the same way on their database connections, beyond sea-orm.

use std::collections::HashMap;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, QueryResult, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// How long a pooled connection may sit unused before it is tested on its way out of
/// the pool. The test is a round trip (to PostgreSQL, or to SQLite's thread), and by
/// default every statement made one before it ran; a connection in steady use is not
/// tested, one that has been idle long enough for a database restart or a firewall to
/// have dropped it is. A connection that breaks while in use fails that one statement,
/// and the pool closes it when it is given back (the driver tests each connection then).
pub const TEST_CONNECTIONS_IDLE_FOR: Duration = Duration::from_secs(10);

/// What both programs' pools share: a connection is tested before use only after it has
/// been idle for [`TEST_CONNECTIONS_IDLE_FOR`].
pub fn pool_defaults(options: &mut ConnectOptions) -> &mut ConnectOptions {
    options.test_before_acquire_if_idle_for(TEST_CONNECTIONS_IDLE_FOR)
}

/// Plans each statement of the caller's transaction for its own values, until the
/// transaction ends. sea-orm prepares every statement, and PostgreSQL plans a prepared
/// statement for its values five times, then may keep one generic plan for it on that
/// connection. Where the best plan depends on the values (how many rows a range or a
/// list selects), the generic one can cost many times more. Nothing on SQLite.
pub async fn plan_for_each_execution(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
    }
    Ok(())
}

/// The plan the database makes now for `statement`, one line a step (PostgreSQL's
/// `EXPLAIN`, SQLite's `EXPLAIN QUERY PLAN`); nothing is run. For tests and for
/// diagnosing a slow statement.
pub async fn plan_of(
    db: &impl ConnectionTrait,
    statement: Statement,
) -> Result<Vec<String>, DbErr> {
    let (explain, column) = match db.get_database_backend() {
        DbBackend::Postgres => ("EXPLAIN", "QUERY PLAN"),
        _ => ("EXPLAIN QUERY PLAN", "detail"),
    };
    let explained = Statement {
        sql: format!("{explain} {}", statement.sql),
        ..statement
    };
    db.query_all_raw(explained)
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", column))
        .collect()
}

/// How long a write waits for the one before it, in this process or another, before
/// it fails.
pub const WRITE_WAIT: Duration = Duration::from_secs(30);

/// A transaction that will write, begun by [`begin_write`]. It is used like the
/// `DatabaseTransaction` it holds, and ends with `commit` (or `rollback`, or drop).
pub struct WriteTransaction {
    txn: DatabaseTransaction,
    /// This process's turn to write to a SQLite file, held until the transaction ends.
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTransaction {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl Deref for WriteTransaction {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}

/// One queue of writers per SQLite file in this process.
fn sqlite_write_turns(db: &DatabaseConnection) -> Option<Arc<Mutex<()>>> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    static TURNS: OnceLock<std::sync::Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let mut turns = TURNS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Some(turns.entry(file).or_default().clone())
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so that a transaction which reads before it writes waits its
/// turn instead of failing when another writer got there first.
///
/// Writers of this process first queue for their turn in memory: SQLite's own busy
/// handler makes a waiting writer sleep and try again (up to 100 ms between tries), so
/// under load a writer went on sleeping long after the lock came free; the queue hands
/// the turn over the moment the previous writer ends. Other processes sharing the file
/// still wait through the busy handler.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTransaction, DbErr> {
    let turn = write_turn(db).await?;
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    Ok(WriteTransaction { txn, _turn: turn })
}

/// This process's turn to write to a SQLite file, for one statement that writes on its
/// own (it commits by itself, without `BEGIN` and `COMMIT` around it); `None` on
/// PostgreSQL, whose writers need no turn. Hold it until the statement has run.
pub async fn write_turn(db: &DatabaseConnection) -> Result<Option<OwnedMutexGuard<()>>, DbErr> {
    let Some(turns) = sqlite_write_turns(db) else {
        return Ok(None);
    };
    tokio::time::timeout(WRITE_WAIT, turns.lock_owned())
        .await
        .map(Some)
        .map_err(|_| {
            DbErr::Custom(format!(
                "waited {} s for another write to the database to end",
                WRITE_WAIT.as_secs()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pooled_connection_is_tested_only_after_it_has_been_idle() {
        let mut options = ConnectOptions::new("sqlite::memory:");
        pool_defaults(&mut options);
        assert!(!options.get_test_before_acquire());
        assert_eq!(
            options.get_test_before_acquire_if_idle_for(),
            Some(TEST_CONNECTIONS_IDLE_FOR)
        );
    }
}
