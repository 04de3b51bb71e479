//! A pledge remembers how many installments fell due while it was paused, so that a
//! resumed pledge does not count them as missed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pledges {
    Table,
    InstallmentsSkipped,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Pledges::Table)
                    .add_column(
                        ColumnDef::new(Pledges::InstallmentsSkipped)
                            .integer()
                            .not_null()
                            .default(0)
                            .check(Expr::col(Pledges::InstallmentsSkipped).gte(0)),
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
                    .drop_column(Pledges::InstallmentsSkipped)
                    .to_owned(),
            )
            .await
    }
}
