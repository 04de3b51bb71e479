//! A donor who honors someone with a gift may let the person notified see the amount;
//! by default the notification leaves it out.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Gifts {
    Table,
    TributeShowAmount,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Gifts::Table)
                    .add_column(
                        ColumnDef::new(Gifts::TributeShowAmount)
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
                    .table(Gifts::Table)
                    .drop_column(Gifts::TributeShowAmount)
                    .to_owned(),
            )
            .await
    }
}
