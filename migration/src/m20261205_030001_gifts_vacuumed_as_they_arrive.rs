//! A campaign's and an appeal's totals are read from an index alone
//! (`m20261205_020001_gift_totals_from_indexes`), but on PostgreSQL only for the rows on
//! pages a vacuum has marked all-visible; a gift recorded since is read from the table as
//! well. Autovacuum visits a table after inserts of a fifth of its size by default, so
//! the gifts of the campaign under way, the ones its page reads most, would wait longest.
//! `gifts` is visited after inserts of a hundredth of its size (and the default 1,000
//! more), which vacuums only the pages written since. SQLite has no such setting.

use sea_orm_migration::prelude::*;

use crate::on_postgres_only;

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn alter_gifts(manager: &SchemaManager<'_>, change: &str) -> Result<(), DbErr> {
    on_postgres_only(manager, &format!("ALTER TABLE gifts {change}")).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        alter_gifts(
            manager,
            "SET (autovacuum_vacuum_insert_scale_factor = 0.01)",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        alter_gifts(manager, "RESET (autovacuum_vacuum_insert_scale_factor)").await
    }
}
