//! The outbox as staff handle it: listing messages and putting a failed one back in the
//! queue, audited. Delivery itself belongs to the mailer.

use entity::enums::OutboxStatus;
use entity::outbox;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Select,
};
use serde_json::json;

use super::keyset::{KeyKind, KeyedPage, Ordering, PageRequest};
use super::{Actor, DomainError, audit};
use crate::db::begin_write;

/// Which messages to list; parts combine with AND.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<OutboxStatus>,
    pub donor_id: Option<i64>,
    pub kind: Option<String>,
}

fn matching(filter: &MessageFilter) -> Select<outbox::Entity> {
    let mut query = outbox::Entity::find();
    if let Some(status) = filter.status {
        query = query.filter(outbox::Column::Status.eq(status.as_str()));
    }
    if let Some(donor_id) = filter.donor_id {
        query = query.filter(outbox::Column::DonorId.eq(donor_id));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(outbox::Column::Kind.eq(kind.trim()));
    }
    query
}

/// How many messages match.
pub async fn count_messages(
    db: &impl ConnectionTrait,
    filter: &MessageFilter,
) -> Result<u64, DomainError> {
    Ok(matching(filter).count(db).await?)
}

/// Messages are listed newest queued first, ties by id.
pub fn newest_messages() -> Ordering<outbox::Column> {
    use outbox::Column::{CreatedAt, Id};
    Ordering::by("outbox-newest", CreatedAt, KeyKind::Time, Id, true)
}

/// One page of matching messages, newest first.
pub async fn page_messages(
    db: &impl ConnectionTrait,
    filter: &MessageFilter,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<KeyedPage<outbox::Model>, DomainError> {
    newest_messages()
        .page(db, matching(filter), request, size_when_unsaid)
        .await
}

/// Puts a failed or dead message back in the queue, due now, with its attempts reset,
/// and records who did it. A message in any other state is refused on `id`.
pub async fn retry_message(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
) -> Result<outbox::Model, DomainError> {
    let txn = begin_write(db).await?;
    let before = outbox::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::not_found("outbox message", id))?;
    if !matches!(before.status, OutboxStatus::Failed | OutboxStatus::Dead) {
        return Err(DomainError::validation(
            "id",
            format!(
                "only failed or dead messages can be retried; this one is {}",
                before.status
            ),
        ));
    }
    let after = mailer::outbox::retry_message(&txn, id)
        .await?
        .ok_or_else(|| DomainError::not_found("outbox message", id))?;
    audit::record_and_commit(
        txn,
        actor,
        "retry",
        "outbox",
        Some(id.to_string()),
        json!({ "status_was": before.status.as_str(), "last_error": before.last_error }),
    )
    .await?;
    Ok(after)
}
