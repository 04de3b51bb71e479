//! Refunds that Stripe could not make after all, and the Stripe time of the refunded
//! total a gift shows, so that a refund's failure and the charge's `charge.refunded`
//! leave the same books whatever order they arrive in.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StripeRefundFailures {
    Table,
    RefundId,
    GiftId,
    AmountMinor,
    RefundCreatedAt,
    FailedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Gifts {
    Table,
    Id,
    RefundsAsOf,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StripeRefundFailures::Table)
                    .col(
                        ColumnDef::new(StripeRefundFailures::RefundId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(StripeRefundFailures::GiftId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StripeRefundFailures::AmountMinor)
                            .big_integer()
                            .not_null()
                            .check(Expr::col(StripeRefundFailures::AmountMinor).gte(0)),
                    )
                    .col(
                        ColumnDef::new(StripeRefundFailures::RefundCreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StripeRefundFailures::FailedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StripeRefundFailures::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_stripe_refund_failures_gift")
                            .from(StripeRefundFailures::Table, StripeRefundFailures::GiftId)
                            .to(Gifts::Table, Gifts::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_stripe_refund_failures_gift_id")
                    .table(StripeRefundFailures::Table)
                    .col(StripeRefundFailures::GiftId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Gifts::Table)
                    .add_column(
                        ColumnDef::new(Gifts::RefundsAsOf)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Gifts::Table)
                    .drop_column(Gifts::RefundsAsOf)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(StripeRefundFailures::Table).to_owned())
            .await
    }
}
