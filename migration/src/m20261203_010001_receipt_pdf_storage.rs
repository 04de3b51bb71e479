//! A receipt's PDF is already deflated: PostgreSQL keeps it out of line without trying
//! to compress it again (`STORAGE EXTERNAL`), which spent the time of every PDF stored
//! and saved nothing. SQLite has no such setting.

use sea_orm_migration::prelude::*;

use crate::on_postgres_only;

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn set_storage(manager: &SchemaManager<'_>, storage: &str) -> Result<(), DbErr> {
    on_postgres_only(
        manager,
        &format!("ALTER TABLE receipts ALTER COLUMN content_pdf SET STORAGE {storage}"),
    )
    .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_storage(manager, "EXTERNAL").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_storage(manager, "EXTENDED").await
    }
}
