//! The Checkout Sessions this service created, so that the thank-you page asks Stripe
//! only about its own sessions and never about an id someone made up.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CreatedCheckoutSessions {
    Table,
    SessionId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CreatedCheckoutSessions::Table)
                    .col(
                        ColumnDef::new(CreatedCheckoutSessions::SessionId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(CreatedCheckoutSessions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_created_checkout_sessions_created_at")
                    .table(CreatedCheckoutSessions::Table)
                    .col(CreatedCheckoutSessions::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(CreatedCheckoutSessions::Table)
                    .to_owned(),
            )
            .await
    }
}
