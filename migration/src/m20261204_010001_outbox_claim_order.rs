//! The mailer claims due messages in the order of `(next_attempt_at, id)`. The index on
//! `(status, next_attempt_at)` alone left PostgreSQL to sort every message queued at the
//! same instant (a year-end statement run or an appeal queues tens of thousands at once)
//! for each batch it claimed; with `id` in the index the claim reads its batch off the
//! index in order and stops.

use sea_orm_migration::prelude::*;

use crate::replace_index;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CLAIM: &str = "ix_outbox_claim";
const DUE: &str = "ix_outbox_due";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace_index(
            manager,
            "outbox",
            CLAIM,
            &["status", "next_attempt_at", "id"],
            DUE,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace_index(
            manager,
            "outbox",
            DUE,
            &["status", "next_attempt_at"],
            CLAIM,
        )
        .await
    }
}
