//! A pledge change sent with an idempotency key, kept to answer its replays.

use sea_orm::entity::prelude::*;

/// One keyed change to a pledge.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pledge_change_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub pledge_id: i64,
    /// The mutation: "pausePledge", "changePledgeAmount", ...
    pub action: String,
    #[sea_orm(unique)]
    pub idempotency_key: String,
    /// The request as it came, field by field, to compare a replay with.
    pub request: Json,
    /// The key the change was sent to the payment processor with (card pledges).
    pub processor_key: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
