//! A campaign's and an appeal's progress (money raised net of refunds, gifts and
//! distinct donors, over the counted gifts) is read on every campaign page and appeal
//! result. The indexes on `campaign_id` and on `appeal_id` alone found the gifts, then
//! read each one's row from the table; with the status, donor and amounts in the index,
//! the totals are read from the index alone. Each replaces the index it extends, which
//! served every lookup by campaign or appeal and still does.

use sea_orm_migration::prelude::*;

use crate::replace_index;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns the totals read after the campaign or the appeal.
const TOTALS: [&str; 4] = ["status", "donor_id", "amount_minor", "refunded_minor"];

/// (key, the index on the key alone, the index with the totals' columns)
const INDEXES: [(&str, &str, &str); 2] = [
    (
        "campaign_id",
        "ix_gifts_campaign",
        "ix_gifts_campaign_totals",
    ),
    ("appeal_id", "ix_gifts_appeal", "ix_gifts_appeal_totals"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (key, alone, with_totals) in INDEXES {
            let mut columns = vec![key];
            columns.extend(TOTALS);
            replace_index(manager, "gifts", with_totals, &columns, alone).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (key, alone, with_totals) in INDEXES {
            replace_index(manager, "gifts", alone, &[key], with_totals).await?;
        }
        Ok(())
    }
}
