//! Which tier is the Circle (the tier recognized on the public roll and offered in
//! appeals and on the donation page) is a property of the tier, not of its name or
//! threshold. Today's "Circle of Friends" tier becomes the Circle; at most one tier can
//! be, which a partial unique index guarantees on both databases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GivingTiers {
    Table,
    Name,
    IsCircle,
}

const ONE_CIRCLE_INDEX: &str =
    "CREATE UNIQUE INDEX uq_giving_tiers_one_circle ON giving_tiers (is_circle) WHERE is_circle";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(GivingTiers::Table)
                    .add_column(
                        ColumnDef::new(GivingTiers::IsCircle)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(GivingTiers::Table)
                    .value(GivingTiers::IsCircle, true)
                    .and_where(Expr::col(GivingTiers::Name).eq("Circle of Friends"))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(ONE_CIRCLE_INDEX)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("uq_giving_tiers_one_circle")
                    .table(GivingTiers::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(GivingTiers::Table)
                    .drop_column(GivingTiers::IsCircle)
                    .to_owned(),
            )
            .await
    }
}
