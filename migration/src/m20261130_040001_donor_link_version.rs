//! The version of a donor's signed links. Every self-service, receipt, unsubscribe and
//! personal donate link is signed with it; staff raise it to refuse every link the
//! donor was sent before. Existing donors start at 0, which signs links exactly as
//! before this column existed, so links already in inboxes keep working.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Donors {
    Table,
    LinkVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Donors::Table)
                    .add_column(
                        ColumnDef::new(Donors::LinkVersion)
                            .big_integer()
                            .not_null()
                            .default(0)
                            .check(Expr::col(Donors::LinkVersion).gte(0)),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Donors::Table)
                    .drop_column(Donors::LinkVersion)
                    .to_owned(),
            )
            .await
    }
}
