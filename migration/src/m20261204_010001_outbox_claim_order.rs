//! The mailer claims due messages in the order of `(next_attempt_at, id)`. The index on
//! `(status, next_attempt_at)` alone left PostgreSQL to sort every message queued at the
//! same instant (a year-end statement run or an appeal queues tens of thousands at once)
//! for each batch it claimed; with `id` in the index the claim reads its batch off the
//! index in order and stops.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CLAIM: &str = "ix_outbox_claim";
const DUE: &str = "ix_outbox_due";

/// Creates index `create` on `columns`, then drops index `drop`. The two have different
/// names: on SQLite the statements may run on two pooled connections, and one that has
/// not seen a drop yet refuses to create an index of the same name.
async fn replace_index(
    manager: &SchemaManager<'_>,
    create: &str,
    columns: &[&'static str],
    drop: &str,
) -> Result<(), DbErr> {
    let mut index = Index::create()
        .name(create)
        .table(Alias::new("outbox"))
        .to_owned();
    for column in columns {
        index.col(Alias::new(*column));
    }
    manager.create_index(index).await?;
    manager
        .get_connection()
        .execute_unprepared(&format!("DROP INDEX {drop}"))
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace_index(manager, CLAIM, &["status", "next_attempt_at", "id"], DUE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace_index(manager, DUE, &["status", "next_attempt_at"], CLAIM).await
    }
}
