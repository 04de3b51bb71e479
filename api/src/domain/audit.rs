//! The audit log: every change staff make, with who and when, written in the same
//! transaction as the change.

use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::{Map, Value, json};

use super::keyset::{CountedPage, Ordering, PageRequest};
use super::{Actor, DomainError};
use crate::db::WriteTransaction;

/// Records one change in the caller's transaction.
pub async fn record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    entity: &str,
    entity_id: Option<String>,
    changes: Value,
) -> Result<(), DomainError> {
    record_entry(db, actor, action, entity, entity_id, changes).await?;
    Ok(())
}

/// Records one change in the caller's transaction and answers the entry, for a change
/// that is identified by its audit entry (an export asked for).
pub async fn record_entry(
    db: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    entity: &str,
    entity_id: Option<String>,
    changes: Value,
) -> Result<audit_log::Model, DomainError> {
    Ok(audit_log::ActiveModel {
        occurred_at: Set(Utc::now()),
        actor: Set(actor.name.clone()),
        actor_token_id: Set(actor.token_id),
        action: Set(action.to_owned()),
        entity: Set(entity.to_owned()),
        entity_id: Set(entity_id),
        changes: Set(changes),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Records one change in `txn` and commits it: the audited write every staff change
/// ends with, so the change and its entry land together or not at all.
pub async fn record_and_commit(
    txn: WriteTransaction,
    actor: &Actor,
    action: &str,
    entity: &str,
    entity_id: Option<String>,
    changes: Value,
) -> Result<(), DomainError> {
    record(&txn, actor, action, entity, entity_id, changes).await?;
    txn.commit().await?;
    crate::read_cache::entity_changed(entity);
    Ok(())
}

/// What to look for in the audit log; parts combine with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub from: Option<chrono::DateTime<Utc>>,
    pub to: Option<chrono::DateTime<Utc>>,
}

fn audit_condition(filter: &AuditFilter) -> sea_orm::Condition {
    use sea_orm::ColumnTrait;
    let mut condition = sea_orm::Condition::all();
    if let Some(actor) = &filter.actor {
        condition = condition.add(audit_log::Column::Actor.eq(actor.as_str()));
    }
    if let Some(action) = &filter.action {
        condition = condition.add(audit_log::Column::Action.eq(action.as_str()));
    }
    if let Some(entity) = &filter.entity {
        condition = condition.add(audit_log::Column::Entity.eq(entity.as_str()));
    }
    if let Some(id) = &filter.entity_id {
        condition = condition.add(audit_log::Column::EntityId.eq(id.as_str()));
    }
    if let Some(from) = filter.from {
        condition = condition.add(audit_log::Column::OccurredAt.gte(from));
    }
    if let Some(to) = filter.to {
        condition = condition.add(audit_log::Column::OccurredAt.lt(to));
    }
    condition
}

/// Entries are listed newest first: by id, which grows with each entry.
pub fn newest_entries() -> Ordering<audit_log::Column> {
    Ordering::by_id("audit-newest", audit_log::Column::Id, true)
}

/// One page of matching entries, newest first, and how many match.
pub async fn page_entries(
    db: &impl ConnectionTrait,
    filter: &AuditFilter,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<CountedPage<audit_log::Model>, DomainError> {
    use sea_orm::{EntityTrait, QueryFilter};
    newest_entries()
        .page_counted(
            db,
            audit_log::Entity::find().filter(audit_condition(filter)),
            request,
            size_when_unsaid,
        )
        .await
}

/// `{ field: { from, to } }` for each field whose value differs.
pub fn changed_fields(before: &Value, after: &Value) -> Value {
    let mut changes = Map::new();
    if let (Some(before), Some(after)) = (before.as_object(), after.as_object()) {
        for (field, to) in after {
            let from = before.get(field).cloned().unwrap_or(Value::Null);
            if &from != to {
                changes.insert(field.clone(), json!({ "from": from, "to": to }));
            }
        }
    }
    Value::Object(changes)
}
