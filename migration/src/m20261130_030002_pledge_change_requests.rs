//! Pledge changes sent with an idempotency key, with the request they came with and
//! the key sent to the payment processor, so a replay is answered with the first
//! result and a replay that differs is refused instead of applied or sent again.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum PledgeChangeRequests {
    Table,
    Id,
    PledgeId,
    Action,
    IdempotencyKey,
    Request,
    ProcessorKey,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Pledges {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PledgeChangeRequests::Table)
                    .col(big_pk_auto(PledgeChangeRequests::Id))
                    .col(big_integer(PledgeChangeRequests::PledgeId))
                    .col(string_len(PledgeChangeRequests::Action, 32))
                    .col(string_len(PledgeChangeRequests::IdempotencyKey, 255).unique_key())
                    .col(json_binary(PledgeChangeRequests::Request))
                    .col(string_len_null(PledgeChangeRequests::ProcessorKey, 255))
                    .col(timestamp_with_time_zone(PledgeChangeRequests::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pledge_change_requests_pledge")
                            .from(PledgeChangeRequests::Table, PledgeChangeRequests::PledgeId)
                            .to(Pledges::Table, Pledges::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PledgeChangeRequests::Table).to_owned())
            .await
    }
}
