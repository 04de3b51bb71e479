//! A tier can ask for a receipt for every monthly installment (by default the first
//! installment is receipted and the rest wait for the year-end statement), and the
//! mailer's claim query gets an index on what it looks for.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GivingTiers {
    Table,
    ReceiptEveryInstallment,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Status,
    NextAttemptAt,
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
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_outbox_due")
                    .table(Outbox::Table)
                    .col(Outbox::Status)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_outbox_due")
                    .table(Outbox::Table)
                    .to_owned(),
            )
            .await?;
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
