use sea_orm::entity::prelude::*;

/// A Stripe event, recorded once in the same transaction as its effects.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub event_id: String,
    pub event_type: String,
    pub livemode: bool,
    pub stripe_created_at: DateTimeUtc,
    pub payload: Json,
    /// What processing did: "recorded gift 12", "ignored: unhandled type".
    pub outcome: String,
    pub processed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
