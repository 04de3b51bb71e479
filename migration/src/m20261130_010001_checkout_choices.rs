//! What a checkout said about its donor that differs from the donor's own choices
//! (name, language, email consent, anonymity). A payment finds its donor by email but
//! never rewrites them: the checkout's word is kept here, with the gift or pledge it
//! came with, until staff accept it (it is then applied to the donor) or dismiss it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::big_pk_auto;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CheckoutChoices {
    Table,
    Id,
    DonorId,
    GiftId,
    PledgeId,
    DisplayName,
    Language,
    EmailConsent,
    Anonymous,
    Status,
    ReviewedBy,
    ReviewedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Donors {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Gifts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Pledges {
    Table,
    Id,
}

const STATUSES: [&str; 3] = ["pending", "accepted", "dismissed"];
const LANGUAGES: [&str; 4] = ["en", "es", "fr", "ar"];

fn foreign_key<T: IntoIden + 'static, C: IntoIden + 'static>(
    name: &str,
    from: CheckoutChoices,
    to_table: T,
    to: C,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(CheckoutChoices::Table, from)
        .to(to_table, to)
        .on_delete(ForeignKeyAction::Restrict)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CheckoutChoices::Table)
                    .col(big_pk_auto(CheckoutChoices::Id))
                    .col(
                        ColumnDef::new(CheckoutChoices::DonorId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CheckoutChoices::GiftId)
                            .big_integer()
                            .null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(CheckoutChoices::PledgeId)
                            .big_integer()
                            .null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(CheckoutChoices::DisplayName)
                            .string_len(200)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(CheckoutChoices::Language)
                            .string_len(32)
                            .null()
                            .check(Expr::col(CheckoutChoices::Language).is_in(LANGUAGES)),
                    )
                    .col(
                        ColumnDef::new(CheckoutChoices::EmailConsent)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CheckoutChoices::Anonymous)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CheckoutChoices::Status)
                            .string_len(32)
                            .not_null()
                            .default("pending")
                            .check(Expr::col(CheckoutChoices::Status).is_in(STATUSES)),
                    )
                    .col(
                        ColumnDef::new(CheckoutChoices::ReviewedBy)
                            .string_len(200)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(CheckoutChoices::ReviewedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(CheckoutChoices::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // Each row came with exactly one checkout: a one-off gift or a pledge.
                    .check(
                        Expr::col(CheckoutChoices::GiftId)
                            .is_not_null()
                            .or(Expr::col(CheckoutChoices::PledgeId).is_not_null()),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_checkout_choices_donor",
                        CheckoutChoices::DonorId,
                        Donors::Table,
                        Donors::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_checkout_choices_gift",
                        CheckoutChoices::GiftId,
                        Gifts::Table,
                        Gifts::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_checkout_choices_pledge",
                        CheckoutChoices::PledgeId,
                        Pledges::Table,
                        Pledges::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("ix_checkout_choices_status", CheckoutChoices::Status),
            ("ix_checkout_choices_donor", CheckoutChoices::DonorId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(CheckoutChoices::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CheckoutChoices::Table).to_owned())
            .await
    }
}
