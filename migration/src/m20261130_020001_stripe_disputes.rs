//! Each Stripe dispute's own state, so that a gift's status follows from all its
//! disputes as they last stood, whatever order their events arrive in: a dispute
//! opened notice delivered after its close changes nothing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StripeDisputes {
    Table,
    DisputeId,
    GiftId,
    Status,
    Closed,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
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
                    .table(StripeDisputes::Table)
                    .col(
                        ColumnDef::new(StripeDisputes::DisputeId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(StripeDisputes::GiftId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(StripeDisputes::Status).string().not_null())
                    .col(
                        ColumnDef::new(StripeDisputes::Closed)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(StripeDisputes::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StripeDisputes::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_stripe_disputes_gift")
                            .from(StripeDisputes::Table, StripeDisputes::GiftId)
                            .to(Gifts::Table, Gifts::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_stripe_disputes_gift_id")
                    .table(StripeDisputes::Table)
                    .col(StripeDisputes::GiftId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StripeDisputes::Table).to_owned())
            .await
    }
}
