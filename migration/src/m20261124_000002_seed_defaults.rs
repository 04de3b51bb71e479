use sea_orm_migration::prelude::*;

/// Every organization starts with a General fund and the $500 Circle of Friends tier.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let now: Expr = chrono::Utc::now().into();
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("funds")
                    .columns([
                        "name",
                        "code",
                        "description",
                        "restricted",
                        "created_at",
                        "updated_at",
                    ])
                    .values([
                        "General Fund".into(),
                        "GENERAL".into(),
                        "Unrestricted support for the whole mission.".into(),
                        false.into(),
                        now.clone(),
                        now.clone(),
                    ])
                    .map_err(|e| DbErr::Custom(e.to_string()))?
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("giving_tiers")
                    .columns([
                        "name",
                        "threshold_minor",
                        "currency",
                        "benefits",
                        "benefits_value_minor",
                        "created_at",
                        "updated_at",
                    ])
                    .values([
                        "Circle of Friends".into(),
                        50_000i64.into(),
                        "USD".into(),
                        "Invitations to special events, updates from our attorneys, and \
                         recognition on our Circle of Friends roll."
                            .into(),
                        0i64.into(),
                        now.clone(),
                        now,
                    ])
                    .map_err(|e| DbErr::Custom(e.to_string()))?
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::delete()
                    .from_table("giving_tiers")
                    .and_where(Expr::col("name").eq("Circle of Friends"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::delete()
                    .from_table("funds")
                    .and_where(Expr::col("code").eq("GENERAL"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
