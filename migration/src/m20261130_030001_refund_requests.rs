//! The refunds staff asked for, kept from the moment they are asked: what is left to
//! refund counts them before the payment processor confirms them, so a second partial
//! refund sent before the first one's confirmation cannot ask for more than is left.
//! Each carries the request id sent to the processor as its idempotency key, and the
//! caller's own idempotency key with the request it came with, so a replay is answered
//! with the first result and a replay that differs is refused.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum RefundRequests {
    Table,
    Id,
    GiftId,
    AmountMinor,
    Status,
    RequestId,
    IdempotencyKey,
    Request,
    StripeRefundId,
    ProcessorStatus,
    Failure,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Gifts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RefundRequests::Table)
                    .col(big_pk_auto(RefundRequests::Id))
                    .col(big_integer(RefundRequests::GiftId))
                    .col(big_integer(RefundRequests::AmountMinor))
                    .col(string_len(RefundRequests::Status, 16))
                    .col(string_len(RefundRequests::RequestId, 64).unique_key())
                    .col(string_len_null(RefundRequests::IdempotencyKey, 255).unique_key())
                    .col(json_binary(RefundRequests::Request))
                    .col(string_len_null(RefundRequests::StripeRefundId, 255).unique_key())
                    .col(string_len_null(RefundRequests::ProcessorStatus, 32))
                    .col(text_null(RefundRequests::Failure))
                    .col(timestamp_with_time_zone(RefundRequests::CreatedAt))
                    .col(timestamp_with_time_zone(RefundRequests::UpdatedAt))
                    .check(Check::named(
                        "ck_refund_requests_amount",
                        Expr::col(RefundRequests::AmountMinor).gt(0),
                    ))
                    .check(Check::named(
                        "ck_refund_requests_status",
                        Expr::col(RefundRequests::Status).is_in([
                            "requested",
                            "confirmed",
                            "failed",
                        ]),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refund_requests_gift")
                            .from(RefundRequests::Table, RefundRequests::GiftId)
                            .to(Gifts::Table, Gifts::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_refund_requests_gift")
                    .table(RefundRequests::Table)
                    .col(RefundRequests::GiftId)
                    .col(RefundRequests::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RefundRequests::Table).to_owned())
            .await
    }
}
