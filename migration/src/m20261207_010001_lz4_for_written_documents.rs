//! The large values every paid event writes (the event's payload, the receipt's text,
//! HTML and document, the email's payload) are compressed with LZ4 instead of
//! PostgreSQL's own pglz, where the server was built with it (PostgreSQL 14 and later,
//! `--with-lz4`, as Debian's and the official images are): in a profile of the webhooks
//! path pglz was the largest function of PostgreSQL's own, 2.2 % of the machine's
//! processor time. Values already stored keep their compression; both read back alike.
//! SQLite compresses nothing and has no such setting.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns, by table, whose values reach PostgreSQL's compression on each event.
const COLUMNS: [(&str, &[&str]); 3] = [
    ("stripe_events", &["payload"]),
    ("receipts", &["content_text", "content_html", "document"]),
    ("outbox", &["payload"]),
];

/// Whether this PostgreSQL can compress with LZ4.
async fn has_lz4(manager: &SchemaManager<'_>) -> Result<bool, DbErr> {
    let db = manager.get_connection();
    let found = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT 1 AS found FROM pg_settings \
             WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)",
        ))
        .await?;
    Ok(found.is_some())
}

async fn set_compression(manager: &SchemaManager<'_>, method: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres || !has_lz4(manager).await? {
        return Ok(());
    }
    for (table, columns) in COLUMNS {
        let each: Vec<String> = columns
            .iter()
            .map(|column| format!("ALTER COLUMN {column} SET COMPRESSION {method}"))
            .collect();
        manager
            .get_connection()
            .execute_unprepared(&format!("ALTER TABLE {table} {}", each.join(", ")))
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "lz4").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "default").await
    }
}
