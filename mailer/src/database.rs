//! What both programs do the same way on their database connections, beyond sea-orm.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, DbBackend, DbErr, Statement};

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
