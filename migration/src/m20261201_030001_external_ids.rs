//! External ids on donors and gifts: the id a row had in the system it was imported
//! from (a spreadsheet, CiviCRM, Little Green Light). Importing the same file twice
//! finds the rows already there by it, and unique indexes make sure no two donors (or
//! two gifts) claim one. One change per `ALTER TABLE`, as SQLite requires.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Donors {
    Table,
    ExternalId,
}

#[derive(DeriveIden)]
enum Gifts {
    Table,
    ExternalId,
}

const DONORS_INDEX: &str = "ux_donors_external_id";
const GIFTS_INDEX: &str = "ux_gifts_external_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Donors::Table)
                    .add_column(ColumnDef::new(Donors::ExternalId).string_len(100).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(DONORS_INDEX)
                    .table(Donors::Table)
                    .col(Donors::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Gifts::Table)
                    .add_column(ColumnDef::new(Gifts::ExternalId).string_len(100).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(GIFTS_INDEX)
                    .table(Gifts::Table)
                    .col(Gifts::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(GIFTS_INDEX)
                    .table(Gifts::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Gifts::Table)
                    .drop_column(Gifts::ExternalId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(DONORS_INDEX)
                    .table(Donors::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Donors::Table)
                    .drop_column(Donors::ExternalId)
                    .to_owned(),
            )
            .await
    }
}
