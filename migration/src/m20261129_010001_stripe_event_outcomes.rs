//! Every Stripe event ends in one outcome staff can filter on: applied, duplicate,
//! waiting (for something it names, kept to apply when that arrives), ignored (a type
//! the service does not use) or failed (with its reason). The free-text `outcome`
//! stays as the summary of what processing did; rows recorded before this change get
//! the status their text implies, and the ones that silently dropped money become
//! failed, so they show up for staff to mend.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    Status,
    Reason,
    WaitingFor,
    WarnedAt,
}

const STATUSES: [&str; 5] = ["applied", "duplicate", "waiting", "ignored", "failed"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            ColumnDef::new(StripeEvents::Status)
                .string_len(16)
                .not_null()
                .default("applied")
                .check(Expr::col(StripeEvents::Status).is_in(STATUSES))
                .to_owned(),
            ColumnDef::new(StripeEvents::Reason)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(StripeEvents::WaitingFor)
                .string_len(255)
                .null()
                .to_owned(),
            ColumnDef::new(StripeEvents::WarnedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ];
        // SQLite: one change per ALTER TABLE.
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(StripeEvents::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        for (name, column) in [
            ("ix_stripe_events_status", StripeEvents::Status),
            ("ix_stripe_events_waiting_for", StripeEvents::WaitingFor),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(StripeEvents::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE stripe_events SET status = 'ignored' \
             WHERE outcome LIKE 'ignored: unhandled%'",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE stripe_events SET status = 'failed', reason = outcome \
             WHERE outcome LIKE 'refused:%' OR outcome LIKE 'ignored: unreadable%' \
             OR outcome LIKE 'no gift for charge%' OR outcome LIKE 'no pledge yet%'",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE stripe_events SET status = 'duplicate' \
             WHERE outcome LIKE '%already recorded%' OR outcome LIKE '%was already%' \
             OR outcome LIKE '%already shows%'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_stripe_events_status", "ix_stripe_events_waiting_for"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(StripeEvents::Table)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            StripeEvents::WarnedAt,
            StripeEvents::WaitingFor,
            StripeEvents::Reason,
            StripeEvents::Status,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(StripeEvents::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveMigrationName)]
pub struct Migration;
