//! What both programs do the same way on their database connections, beyond sea-orm.

use sea_orm::{ConnectionTrait, DbBackend, DbErr};

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
