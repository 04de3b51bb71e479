//! Funds, giving-club tiers and appeals keep their texts in the languages donors read
//! besides the default: one nullable JSON column per table (see the entity crate's
//! `translations` module for why a column and not a table).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Funds {
    Table,
}

#[derive(DeriveIden)]
enum GivingTiers {
    Table,
}

#[derive(DeriveIden)]
enum Appeals {
    Table,
}

#[derive(DeriveIden)]
enum Translations {
    Translations,
}

fn tables() -> [DynIden; 3] {
    [
        Funds::Table.into_iden(),
        GivingTiers::Table.into_iden(),
        Appeals::Table.into_iden(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One change per ALTER: SQLite takes no more.
        for table in tables() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(
                            ColumnDef::new(Translations::Translations)
                                .json_binary()
                                .null(),
                        )
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column(Translations::Translations)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
