//! The outbox: whatever causes an email writes a row here in the same transaction as
//! the change that caused it. One purpose, one message: the idempotency key is unique.

use chrono::{DateTime, Utc};
use entity::EmailAddress;
use entity::enums::{Language, OutboxStatus};
use entity::outbox;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

/// An email to queue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// What the message is for, unique across all messages: "receipt:42", "appeal:7:1234".
    pub idempotency_key: String,
    /// The template that renders it: "receipt", "club_welcome", ...
    pub kind: String,
    pub donor_id: Option<i64>,
    pub to_address: EmailAddress,
    pub to_name: Option<String>,
    pub language: Language,
    /// What the template needs.
    pub payload: serde_json::Value,
    /// Do not send before this time (a scheduled appeal); now when `None`.
    pub not_before: Option<DateTime<Utc>>,
}

/// Whether `enqueue` added a message or found one already queued for the same purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Queued(i64),
    AlreadyQueued(i64),
}

impl Enqueued {
    pub fn id(self) -> i64 {
        match self {
            Enqueued::Queued(id) | Enqueued::AlreadyQueued(id) => id,
        }
    }
}

/// Queues a message, or does nothing if one with the same idempotency key exists.
/// Call it with the transaction of the change that causes the email.
pub async fn enqueue(db: &impl ConnectionTrait, message: NewMessage) -> Result<Enqueued, DbErr> {
    let now = Utc::now();
    let key = message.idempotency_key.clone();
    let inserted = outbox::Entity::insert(outbox::ActiveModel {
        idempotency_key: Set(message.idempotency_key),
        kind: Set(message.kind),
        donor_id: Set(message.donor_id),
        to_address: Set(message.to_address.into()),
        to_name: Set(message.to_name),
        language: Set(message.language),
        payload: Set(message.payload),
        status: Set(OutboxStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(message.not_before.unwrap_or(now)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(outbox::Column::IdempotencyKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let existing = outbox::Entity::find()
        .filter(outbox::Column::IdempotencyKey.eq(&key))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("outbox message {key}")))?;
    Ok(if inserted == 1 {
        Enqueued::Queued(existing.id)
    } else {
        Enqueued::AlreadyQueued(existing.id)
    })
}
