//! Changing a pledge on a donor's or staff member's request: pause, resume, cancel,
//! change the amount. Envelope pledges change here, directly; card pledges change at
//! the payment processor, whose events then change the pledge (see `payments`), so
//! the books follow what was actually set up for the card.

use chrono::Utc;
use entity::enums::{PledgeSource, PledgeStatus};
use entity::{Money, pledge, pledge_change_request};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use serde_json::{Value, json};

use super::club::{ClubPolicy, evaluate_membership, queue_pledge_email};
use super::idempotency::ensure_same_request;
use super::pledges::installments_skipped_when_resumed;
use super::{Actor, DomainError, audit};
use crate::db::begin_write;

/// What to do to a pledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PledgeAction {
    Pause,
    Resume,
    Cancel { reason: Option<String> },
    ChangeAmount(Money),
}

impl PledgeAction {
    /// The audit action's name.
    pub fn name(&self) -> &'static str {
        match self {
            PledgeAction::Pause => "pausePledge",
            PledgeAction::Resume => "resumePledge",
            PledgeAction::Cancel { .. } => "cancelPledge",
            PledgeAction::ChangeAmount(_) => "changePledgeAmount",
        }
    }

    fn details(&self) -> serde_json::Value {
        match self {
            PledgeAction::Cancel { reason } => json!({ "reason": reason }),
            PledgeAction::ChangeAmount(amount) => json!({
                "installmentMinor": amount.amount_minor(),
                "currency": amount.currency().code(),
            }),
            PledgeAction::Pause | PledgeAction::Resume => json!({}),
        }
    }
}

/// A pledge by id.
pub async fn find_pledge(db: &impl ConnectionTrait, id: i64) -> Result<pledge::Model, DomainError> {
    pledge::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("pledge", id))
}

/// Whether the action makes sense for the pledge as it stands.
pub fn check_action(pledge: &pledge::Model, action: &PledgeAction) -> Result<(), DomainError> {
    let refuse = |reason: String| Err(DomainError::validation("id", reason));
    match (pledge.status, action) {
        (PledgeStatus::Cancelled | PledgeStatus::Completed, _) => {
            refuse(format!("the pledge is {} and cannot change", pledge.status))
        }
        (PledgeStatus::Paused, PledgeAction::Pause) => {
            refuse("the pledge is already paused".into())
        }
        (status, PledgeAction::Resume) if status != PledgeStatus::Paused => {
            refuse("only a paused pledge can be resumed".into())
        }
        (_, PledgeAction::ChangeAmount(amount)) if amount.currency().code() != pledge.currency => {
            Err(DomainError::validation(
                "amount.currency",
                format!("the pledge is in {}", pledge.currency),
            ))
        }
        _ => Ok(()),
    }
}

/// Records that a change to a card pledge was asked of the payment processor under
/// `processor_key`, with the caller's key (`key`) kept to answer its replays.
pub async fn record_requested_change(
    db: &DatabaseConnection,
    actor: &Actor,
    pledge: &pledge::Model,
    action: &PledgeAction,
    processor_key: &str,
    key: Option<&str>,
) -> Result<(), DomainError> {
    let mut details = action.details();
    if let Some(details) = details.as_object_mut() {
        details.insert("requestedOfProcessor".into(), json!(true));
        details.insert("idempotencyKey".into(), json!(processor_key));
    }
    let txn = begin_write(db).await?;
    if let Some(key) = key {
        record_keyed_change(&txn, pledge.id, action, key, Some(processor_key)).await?;
    }
    audit::record_and_commit(
        txn,
        actor,
        action.name(),
        "pledge",
        Some(pledge.id.to_string()),
        details,
    )
    .await?;
    Ok(())
}

/// A pledge change as it was asked, field by field under the API's names, to compare
/// a replay under the same key with.
fn change_request(pledge_id: i64, action: &PledgeAction) -> Value {
    let mut request = json!({ "id": pledge_id });
    match action {
        PledgeAction::Cancel { reason } => {
            request["reason"] = json!(reason);
        }
        PledgeAction::ChangeAmount(amount) => {
            request["amount"] = json!(amount.amount_minor());
            request["amount.currency"] = json!(amount.currency().code());
        }
        PledgeAction::Pause | PledgeAction::Resume => {}
    }
    request
}

/// The change made before under `key`, when this one asks the same; a change that
/// differs (another pledge, amount, reason, or another action) is a conflict naming
/// what differs.
pub async fn earlier_change(
    db: &impl ConnectionTrait,
    key: &str,
    pledge_id: i64,
    action: &PledgeAction,
) -> Result<Option<pledge_change_request::Model>, DomainError> {
    let Some(earlier) = pledge_change_request::Entity::find()
        .filter(pledge_change_request::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if earlier.action != action.name() {
        return Err(DomainError::conflict(
            Some("idempotencyKey"),
            format!(
                "this idempotency key was already used by {} for pledge {}; send a new \
                 key for a new change",
                earlier.action, earlier.pledge_id
            ),
        ));
    }
    ensure_same_request(
        &earlier.request,
        &change_request(pledge_id, action),
        |field| {
            format!(
                "this idempotency key already changed pledge {} with another {field}; \
                 send a new key for a new change",
                earlier.pledge_id
            )
        },
    )?;
    Ok(Some(earlier))
}

/// Keeps a change made under a caller's key, in the transaction that makes it.
async fn record_keyed_change(
    txn: &impl ConnectionTrait,
    pledge_id: i64,
    action: &PledgeAction,
    key: &str,
    processor_key: Option<&str>,
) -> Result<(), DomainError> {
    pledge_change_request::ActiveModel {
        pledge_id: Set(pledge_id),
        action: Set(action.name().to_owned()),
        idempotency_key: Set(key.to_owned()),
        request: Set(change_request(pledge_id, action)),
        processor_key: Set(processor_key.map(str::to_owned)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Applies an action to an envelope pledge, with its audit entry, membership
/// re-evaluation and any email, in one transaction; a caller's key is kept in it too.
pub async fn change_envelope_pledge(
    db: &DatabaseConnection,
    actor: &Actor,
    policy: &ClubPolicy,
    id: i64,
    action: PledgeAction,
    key: Option<&str>,
) -> Result<pledge::Model, DomainError> {
    let txn = begin_write(db).await?;
    if let Some(key) = key {
        record_keyed_change(&txn, id, &action, key, None).await?;
    }
    let current = find_pledge(&txn, id).await?;
    if current.source != PledgeSource::Envelope {
        return Err(DomainError::validation(
            "id",
            "a card pledge changes through the payment processor",
        ));
    }
    check_action(&current, &action)?;
    let now = Utc::now();
    let mut row: pledge::ActiveModel = current.clone().into();
    match &action {
        PledgeAction::Pause => {
            row.status = Set(PledgeStatus::Paused);
            row.paused_at = Set(Some(now));
        }
        PledgeAction::Resume => {
            row.status = Set(PledgeStatus::Active);
            row.paused_at = Set(None);
            row.installments_skipped = Set(installments_skipped_when_resumed(
                &current,
                now.date_naive(),
            ));
        }
        PledgeAction::Cancel { reason } => {
            row.status = Set(PledgeStatus::Cancelled);
            row.cancelled_at = Set(Some(now));
            row.cancel_reason = Set(reason.clone());
        }
        PledgeAction::ChangeAmount(amount) => {
            row.installment_minor = Set(amount.amount_minor());
        }
    }
    row.updated_at = Set(now);
    let pledge = row.update(&txn).await?;
    let mut details = action.details();
    if let Some(details) = details.as_object_mut() {
        details.insert(
            "before".into(),
            json!({
                "status": current.status.as_str(),
                "installmentMinor": current.installment_minor,
            }),
        );
    }
    audit::record(
        &txn,
        actor,
        action.name(),
        "pledge",
        Some(pledge.id.to_string()),
        details,
    )
    .await?;
    if pledge.status == PledgeStatus::Cancelled {
        queue_pledge_email(
            &txn,
            "pledge_cancelled",
            format!("pledge_cancelled:{}", pledge.id),
            &pledge,
            serde_json::Value::Null,
        )
        .await?;
    }
    evaluate_membership(
        &txn,
        policy,
        pledge.donor_id,
        &format!("{} {} by {}", action.name(), pledge.id, actor.name),
    )
    .await?;
    txn.commit().await?;
    Ok(pledge)
}
