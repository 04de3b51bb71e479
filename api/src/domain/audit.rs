//! The audit log: every change staff make, with who and when, written in the same
//! transaction as the change.

use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::Value;

use super::{Actor, DomainError};

pub async fn record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    entity: &str,
    entity_id: Option<String>,
    changes: Value,
) -> Result<(), DomainError> {
    audit_log::ActiveModel {
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
    .await?;
    Ok(())
}
