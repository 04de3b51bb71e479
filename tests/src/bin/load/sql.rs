//! Hand-written SQL for the limits and the set-up: one text for both databases.

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value as DbValue};

/// `$1`-style placeholders for PostgreSQL become `?1` for SQLite.
pub fn sql(backend: DbBackend, text: &str, values: Vec<DbValue>) -> Statement {
    match backend {
        DbBackend::Postgres => Statement::from_sql_and_values(backend, text, values),
        _ => Statement::from_sql_and_values(backend, text.replace('$', "?"), values),
    }
}

pub async fn rows(db: &DatabaseConnection, text: &str, values: Vec<DbValue>) -> bool {
    db.query_all_raw(sql(db.get_database_backend(), text, values))
        .await
        .is_ok()
}

pub async fn scalar_i64(db: &DatabaseConnection, text: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), text))
        .await?
        .context("no row")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

pub async fn ids(db: &DatabaseConnection, text: &str) -> anyhow::Result<Vec<i64>> {
    let mut out = Vec::new();
    for row in db
        .query_all_raw(Statement::from_string(db.get_database_backend(), text))
        .await?
    {
        out.push(row.try_get_by_index::<i64>(0)?);
    }
    Ok(out)
}
