use sea_orm::entity::prelude::*;

use crate::enums::AppealChannel;

/// One ask within a campaign through one channel, with a source code that follows
/// every gift it brings in.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "appeals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub name: String,
    pub channel: AppealChannel,
    /// Upper case, unique ("SCOMM11-EMAIL").
    #[sea_orm(unique)]
    pub source_code: String,
    pub segment_id: Option<i64>,
    pub subject: Option<String>,
    pub message: Option<String>,
    /// The texts above in the languages other than the default (see `Translations`).
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub translations: Option<crate::Translations>,
    /// How each donor's personal ask amount is computed.
    pub ask_rule: Option<Json>,
    pub cost_minor: Option<i64>,
    pub currency: String,
    pub scheduled_at: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
