use sea_orm::entity::prelude::*;

/// Who changed what, and when. Written in the same transaction as the change.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub occurred_at: DateTimeUtc,
    /// The token's name, or "system" / "cli" for changes not made through the API.
    pub actor: String,
    pub actor_token_id: Option<i64>,
    /// The mutation or command: "recordOfflineGift", "token create".
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    /// The changed fields, as `{ "field": { "from": ..., "to": ... } }` or the new values.
    pub changes: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
