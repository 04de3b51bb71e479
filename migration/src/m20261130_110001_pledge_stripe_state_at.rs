//! A card pledge remembers Stripe's time of the subscription state it last applied, so
//! that an older state delivered late (a `customer.subscription.created` after an
//! `updated`, say) never overwrites a newer one.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pledges {
    Table,
    StripeStateAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Pledges::Table)
                    .add_column(
                        ColumnDef::new(Pledges::StripeStateAt)
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
                    .table(Pledges::Table)
                    .drop_column(Pledges::StripeStateAt)
                    .to_owned(),
            )
            .await
    }
}
