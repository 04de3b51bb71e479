//! A tier can ask for a receipt for every monthly installment (by default the first
//! installment is receipted and the rest wait for the year-end statement).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GivingTiers {
    Table,
    ReceiptEveryInstallment,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(GivingTiers::Table)
                    .add_column(
                        ColumnDef::new(GivingTiers::ReceiptEveryInstallment)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(GivingTiers::Table)
                    .drop_column(GivingTiers::ReceiptEveryInstallment)
                    .to_owned(),
            )
            .await
    }
}
