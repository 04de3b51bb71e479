//! What both programs do the same way on their database connections, beyond sea-orm.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

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
