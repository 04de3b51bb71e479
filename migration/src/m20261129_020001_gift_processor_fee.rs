//! Stripe's fee on a card gift, in minor units, as reconciliation reads it from the
//! gift's balance transaction; empty until known (and for gifts given offline).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Gifts {
    Table,
    ProcessorFeeMinor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Gifts::Table)
                    .add_column(
                        ColumnDef::new(Gifts::ProcessorFeeMinor)
                            .big_integer()
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
                    .drop_column(Gifts::ProcessorFeeMinor)
                    .to_owned(),
            )
            .await
    }
}
