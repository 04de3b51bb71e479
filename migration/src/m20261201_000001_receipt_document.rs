//! A receipt keeps what it states (its frozen document, as JSON) beside its text and
//! HTML, so its PDF can be typeset after the issuing transaction, once, from exactly what
//! was issued.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Receipts {
    Table,
    Document,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Receipts::Table)
                    .add_column(ColumnDef::new(Receipts::Document).json_binary().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Receipts::Table)
                    .drop_column(Receipts::Document)
                    .to_owned(),
            )
            .await
    }
}
