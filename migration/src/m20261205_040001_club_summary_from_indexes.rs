//! The giving club's summary is read on every visit to the club's page: its income
//! figures sum every pledge that counts, and its first page of members is the oldest
//! current memberships. The pledges were found by status, then each one's row read
//! from the table; the members were all read and sorted to keep the oldest.
//!
//! - `ix_pledges_counting` replaces `ix_pledges_status`, which it extends and which it
//!   still serves: after the status, whether the pledge has a set number of
//!   installments (the figures sum the open-ended ones in the database and read the
//!   few others), then every column the sum and the grace period read.
//! - `ix_tier_memberships_current` keeps memberships by when they ended, then by when
//!   they began: the current ones (not ended) come in the order of their page, which
//!   reads its rows in order and stops.

use sea_orm_migration::prelude::*;

use crate::replace_index;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COUNTING: [&str; 6] = [
    "status",
    "installments_total",
    "currency",
    "frequency",
    "installment_minor",
    "past_due_since",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace_index(
            manager,
            "pledges",
            "ix_pledges_counting",
            &COUNTING,
            "ix_pledges_status",
        )
        .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_tier_memberships_current \
                 ON tier_memberships (left_at, joined_at, id)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX ix_tier_memberships_current")
            .await?;
        replace_index(
            manager,
            "pledges",
            "ix_pledges_status",
            &["status"],
            "ix_pledges_counting",
        )
        .await
    }
}
