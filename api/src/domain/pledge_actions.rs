//! Changing a pledge on a donor's or staff member's request: pause, resume, cancel,
//! change the amount. Envelope pledges change here, directly; card pledges change at
//! the payment processor, whose events then change the pledge (see `payments`), so
//! the books follow what was actually set up for the card.

use chrono::Utc;
use entity::enums::{PledgeSource, PledgeStatus};
use entity::{Money, pledge, pledge_change_request};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{Value, json};

use super::club::{ClubPolicy, evaluate_membership, queue_pledge_email};
use super::idempotency::{clean_key, ensure_same_request};
use super::pledges::installments_skipped_when_resumed;
use super::processor::PaymentProcessor;
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
    crate::read_cache::PLEDGES.changed();
    Ok(pledge)
}

/// Asks the payment processor to apply `action` to a card pledge's subscription, and
/// records that it did. `key` makes a retried request count once; without it the
/// request is a new change with a key of its own.
async fn request_pledge_change(
    db: &DatabaseConnection,
    processor: &impl PaymentProcessor,
    actor: &Actor,
    pledge: &pledge::Model,
    action: PledgeAction,
    key: Option<&str>,
) -> Result<(), DomainError> {
    check_action(pledge, &action)?;
    let subscription = pledge
        .stripe_subscription_id
        .as_deref()
        .ok_or_else(|| DomainError::validation("id", "the pledge has no subscription"))?;
    // One key per intended change, kept in the audit entry: the caller's key, or a new
    // one. A key made of the change's values (42 to 60) would come back when the same
    // values do, and the processor would answer the later change with the earlier result.
    let suffix = match key {
        Some(key) => key.to_owned(),
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    let processor_key = format!("pledge-{}-{}-{suffix}", pledge.id, action.name());
    processor
        .change_subscription(subscription, &action, &processor_key)
        .await?;
    record_requested_change(db, actor, pledge, &action, &processor_key, key).await
}

/// What a change to a pledge did.
pub struct PledgeChangeOutcome {
    /// The pledge as it stands now: changed for an envelope pledge; for a card pledge
    /// as before, until the processor's event confirms the change.
    pub pledge: pledge::Model,
    /// True when the change was asked of the payment processor rather than made here.
    pub requested_of_processor: bool,
}

/// Applies an action to a pledge the way its kind requires: an envelope pledge
/// changes here, in one transaction; a card pledge's subscription is asked to change
/// at the payment processor, and its events change the pledge. Under a caller's key
/// the same change sent again answers the first one, and a change that differs is a
/// conflict.
pub async fn change_pledge(
    db: &DatabaseConnection,
    processor: &impl PaymentProcessor,
    policy: &ClubPolicy,
    actor: &Actor,
    pledge_id: i64,
    action: PledgeAction,
    key: Option<&str>,
) -> Result<PledgeChangeOutcome, DomainError> {
    let key = clean_key(key.map(str::to_owned))?;
    if let Some(key) = key.as_deref()
        && let Some(earlier) = earlier_change(db, key, pledge_id, &action).await?
    {
        return replayed(db, earlier).await;
    }
    let made = make_change(
        db,
        processor,
        policy,
        actor,
        pledge_id,
        action.clone(),
        key.as_deref(),
    )
    .await;
    match (made, key.as_deref()) {
        // Another request under the same key was made first.
        (
            Err(DomainError::Conflict {
                field: Some(field), ..
            }),
            Some(key),
        ) if field == "idempotencyKey" => {
            match earlier_change(db, key, pledge_id, &action).await? {
                Some(earlier) => replayed(db, earlier).await,
                None => Err(DomainError::conflict(
                    Some("idempotencyKey"),
                    "another change under this idempotency key is being made; send it again",
                )),
            }
        }
        (made, _) => made,
    }
}

/// The answer to a change made before under the same key: the pledge as it stands now.
async fn replayed(
    db: &DatabaseConnection,
    earlier: pledge_change_request::Model,
) -> Result<PledgeChangeOutcome, DomainError> {
    Ok(PledgeChangeOutcome {
        pledge: find_pledge(db, earlier.pledge_id).await?,
        requested_of_processor: earlier.processor_key.is_some(),
    })
}

async fn make_change(
    db: &DatabaseConnection,
    processor: &impl PaymentProcessor,
    policy: &ClubPolicy,
    actor: &Actor,
    pledge_id: i64,
    action: PledgeAction,
    key: Option<&str>,
) -> Result<PledgeChangeOutcome, DomainError> {
    let pledge = find_pledge(db, pledge_id).await?;
    match pledge.source {
        PledgeSource::Envelope => {
            let pledge = change_envelope_pledge(db, actor, policy, pledge_id, action, key).await?;
            Ok(PledgeChangeOutcome {
                pledge,
                requested_of_processor: false,
            })
        }
        PledgeSource::StripeSubscription => {
            request_pledge_change(db, processor, actor, &pledge, action, key).await?;
            Ok(PledgeChangeOutcome {
                pledge,
                requested_of_processor: true,
            })
        }
    }
}

/// The address of the page where a donor updates the card their pledges are paid
/// with, coming back to `return_url`; `None` when the donor has no card on file.
pub async fn billing_portal_url(
    db: &impl ConnectionTrait,
    processor: &impl PaymentProcessor,
    donor_id: i64,
    return_url: &str,
    idempotency_key: &str,
) -> Result<Option<String>, DomainError> {
    let customer = entity::donor::Entity::find_by_id(donor_id)
        .one(db)
        .await?
        .and_then(|donor| donor.stripe_customer_id);
    let Some(customer) = customer else {
        return Ok(None);
    };
    Ok(Some(
        processor
            .billing_portal_url(&customer, return_url, idempotency_key)
            .await?,
    ))
}

/// A donor's pledges, oldest first, for their own page.
pub async fn pledges_of_donor(
    db: &impl ConnectionTrait,
    donor_id: i64,
) -> Result<Vec<pledge::Model>, DomainError> {
    Ok(pledge::Entity::find()
        .filter(pledge::Column::DonorId.eq(donor_id))
        .order_by_asc(pledge::Column::StartsOn)
        .order_by_asc(pledge::Column::Id)
        .all(db)
        .await?)
}
