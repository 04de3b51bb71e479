use sea_orm::entity::prelude::*;

use crate::enums::{Language, OutboxStatus};

/// An email to send, written in the same transaction as the change that caused it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// One purpose, one message: "receipt:42", "appeal:7:1234".
    #[sea_orm(unique)]
    pub idempotency_key: String,
    /// The template: "receipt", "club_welcome", "payment_failed", "appeal", ...
    pub kind: String,
    pub donor_id: Option<i64>,
    pub to_address: String,
    pub to_name: Option<String>,
    pub language: Language,
    /// What the template needs to render the message.
    pub payload: Json,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub leased_by: Option<String>,
    pub last_error: Option<String>,
    pub message_id: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
