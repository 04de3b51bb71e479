//! The other addresses a donor is known by. A donor row holds one email and one Stripe
//! customer; when two donor records are merged, the merged record's email and Stripe
//! customer become aliases of the kept donor, so a later checkout or Stripe event that
//! carries them finds the kept donor instead of making a new one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DonorAliases {
    Table,
    Id,
    DonorId,
    Kind,
    Value,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Donors {
    Table,
    Id,
}

const KINDS: [&str; 2] = ["email", "stripe_customer"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DonorAliases::Table)
                    .col(big_pk_auto(DonorAliases::Id))
                    .col(
                        ColumnDef::new(DonorAliases::DonorId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DonorAliases::Kind)
                            .string_len(32)
                            .not_null()
                            .check(Expr::col(DonorAliases::Kind).is_in(KINDS)),
                    )
                    .col(
                        ColumnDef::new(DonorAliases::Value)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DonorAliases::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_donor_aliases_donor")
                            .from(DonorAliases::Table, DonorAliases::DonorId)
                            .to(Donors::Table, Donors::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // An email or a customer points at one donor only.
        manager
            .create_index(
                Index::create()
                    .name("ux_donor_aliases_kind_value")
                    .table(DonorAliases::Table)
                    .col(DonorAliases::Kind)
                    .col(DonorAliases::Value)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_donor_aliases_donor")
                    .table(DonorAliases::Table)
                    .col(DonorAliases::DonorId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DonorAliases::Table).to_owned())
            .await
    }
}
