//! Refunds staff ask for. What is left to refund counts what has been asked of the
//! payment processor and not yet confirmed by its `charge.refunded` event, so a second
//! partial refund sent before the first one's confirmation cannot ask for more than is
//! left. Each request is kept from the moment it is asked, with a request id the
//! processor receives as its idempotency key; the processor's confirmation is matched
//! to it by refund id (or that request id), so nothing is counted twice, and a refused
//! request releases what it held.
//!
//! A caller's idempotency key means the same request: a replay answers the first
//! refund, a replay that differs in any field is a conflict naming the field.

use chrono::Utc;
use entity::enums::{PaymentMethod, RefundRequestStatus};
use entity::{Money, gift, refund_request};
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};

use crate::config::Organization;
use crate::db::begin_write;
use crate::domain::idempotency::{clean_key, ensure_same_request};
use crate::domain::{Actor, DomainError, audit, offline_gifts, text};

/// A refund as the payment processor reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorRefund {
    pub refund_id: String,
    pub amount_minor: i64,
    /// The processor's status: succeeded, pending, requires_action, failed, canceled.
    pub status: String,
    /// The request id this service sent it with, when the processor echoes it back.
    pub request_id: Option<String>,
}

impl ProcessorRefund {
    /// Whether the refund did not and will not happen.
    pub fn failed(&self) -> bool {
        matches!(self.status.as_str(), "failed" | "canceled")
    }
}

/// Why the processor did not refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundFailure {
    /// The processor refused the refund as asked.
    Refused(String),
    /// The processor could not be reached; whether it refunded is not known, and the
    /// same request id sent again refunds at most once.
    Unavailable(String),
}

/// What the domain needs from a payment processor to refund a card gift: refund the
/// charge (or the payment intent's charge) once per request id.
pub trait RefundProcessor {
    fn refund(
        &self,
        charge_id: Option<&str>,
        payment_intent_id: Option<&str>,
        amount_minor: i64,
        request_id: &str,
    ) -> impl Future<Output = Result<ProcessorRefund, RefundFailure>> + Send;
}

/// A refund staff asked for.
#[derive(Debug, Clone)]
pub struct RefundAsk {
    pub gift_id: i64,
    /// How much; all that is left when `None`.
    pub amount: Option<Money>,
    /// Why, for an offline gift's notes.
    pub reason: Option<String>,
    pub idempotency_key: Option<String>,
}

impl RefundAsk {
    /// The request field by field under the API's names, kept to compare a replay with.
    fn snapshot(&self) -> Value {
        json!({
            "id": self.gift_id,
            "amount": self.amount.map(|a| a.amount_minor()),
            "amount.currency": self.amount.map(|a| a.currency().code()),
            "reason": self.reason.clone().and_then(text::non_blank),
        })
    }
}

/// What a refund did.
#[derive(Debug, Clone)]
pub struct GiftRefunded {
    /// The gift as it stands now: an offline gift shows the refund at once; a card gift
    /// changes when the processor confirms it.
    pub gift: gift::Model,
    /// The refund asked of the processor, for card gifts.
    pub processor_refund: Option<refund_request::Model>,
}

async fn find_gift(db: &impl ConnectionTrait, id: i64) -> Result<gift::Model, DomainError> {
    gift::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("gift", id))
}

/// The request kept under a caller's key, if the replay asks the same.
async fn earlier_request(
    db: &impl ConnectionTrait,
    key: &str,
    ask: &RefundAsk,
) -> Result<Option<refund_request::Model>, DomainError> {
    let Some(earlier) = refund_request::Entity::find()
        .filter(refund_request::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    ensure_same_request(&earlier.request, &ask.snapshot(), |field| {
        format!(
            "this idempotency key already asked for a refund of gift {} with another \
             {field}; send a new key for a new refund",
            earlier.gift_id
        )
    })?;
    Ok(Some(earlier))
}

/// What may still be refunded of a gift: its amount, less what the processor has
/// confirmed, less what has been asked and is not yet confirmed.
pub async fn refundable_minor(
    db: &impl ConnectionTrait,
    gift: &gift::Model,
) -> Result<i64, DomainError> {
    Ok(crate::domain::gifts::net_minor(gift) - awaiting_minor(db, gift.id).await?)
}

async fn awaiting_minor(db: &impl ConnectionTrait, gift_id: i64) -> Result<i64, DomainError> {
    Ok(awaiting(db, gift_id)
        .await?
        .iter()
        .map(|r| r.amount_minor)
        .sum())
}

/// The requests of a gift the processor has not confirmed yet, oldest first.
async fn awaiting(
    db: &impl ConnectionTrait,
    gift_id: i64,
) -> Result<Vec<refund_request::Model>, DomainError> {
    Ok(refund_request::Entity::find()
        .filter(refund_request::Column::GiftId.eq(gift_id))
        .filter(refund_request::Column::Status.eq(RefundRequestStatus::Requested))
        .order_by_asc(refund_request::Column::Id)
        .all(db)
        .await?)
}

fn new_request_id() -> String {
    format!("refund-{}", uuid::Uuid::new_v4().simple())
}

/// Keeps a refund of an offline gift made under a caller's key, confirmed at once (the
/// gift changes in the same transaction), so its replays are answered.
pub(crate) async fn record_offline_refund(
    txn: &impl ConnectionTrait,
    gift_id: i64,
    amount_minor: i64,
    key: String,
    request: Value,
) -> Result<(), DomainError> {
    let now = Utc::now();
    refund_request::ActiveModel {
        gift_id: Set(gift_id),
        amount_minor: Set(amount_minor),
        status: Set(RefundRequestStatus::Confirmed),
        request_id: Set(new_request_id()),
        idempotency_key: Set(Some(key)),
        request: Set(request),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Refunds a gift in full, or in part when an amount is given: an offline gift at once;
/// a card gift through the processor, holding what it asks until the processor's event
/// confirms it. Under an idempotency key a replay answers the first refund.
pub async fn refund_gift(
    db: &DatabaseConnection,
    org: &Organization,
    processor: &impl RefundProcessor,
    actor: &Actor,
    mut ask: RefundAsk,
) -> Result<GiftRefunded, DomainError> {
    ask.idempotency_key = clean_key(ask.idempotency_key.take())?;
    // Two tries: a concurrent request under the same key may claim it between the
    // lookup and the insert, and is then answered as a replay.
    for _ in 0..2 {
        if let Some(key) = ask.idempotency_key.as_deref()
            && let Some(earlier) = earlier_request(db, key, &ask).await?
        {
            return answer_replay(db, processor, actor, earlier).await;
        }
        let gift = find_gift(db, ask.gift_id).await?;
        if let Some(amount) = ask.amount
            && amount.currency().code() != gift.currency
        {
            return Err(DomainError::validation(
                "amount.currency",
                format!("the gift was given in {}", gift.currency),
            ));
        }
        let outcome = if offline_gifts::is_offline(gift.method) {
            let keyed = ask.idempotency_key.clone().map(|key| (key, ask.snapshot()));
            offline_gifts::refund_offline_gift(
                db,
                org,
                actor,
                ask.gift_id,
                ask.amount,
                ask.reason.clone(),
                keyed,
            )
            .await
            .map(|gift| GiftRefunded {
                gift,
                processor_refund: None,
            })
        } else {
            match reserve_card_refund(db, &ask).await {
                Ok(request) => send(db, processor, actor, request).await,
                Err(error) => Err(error),
            }
        };
        match outcome {
            Err(DomainError::Conflict {
                field: Some(field), ..
            }) if field == "idempotencyKey" && ask.idempotency_key.is_some() => continue,
            other => return other,
        }
    }
    Err(DomainError::conflict(
        Some("idempotencyKey"),
        "another request under this idempotency key is being made; send it again",
    ))
}

/// The first result of a request made before under the same key. A card refund the
/// processor never answered, or refused, is sent again under its own request id, so the
/// processor refunds at most once.
async fn answer_replay(
    db: &DatabaseConnection,
    processor: &impl RefundProcessor,
    actor: &Actor,
    earlier: refund_request::Model,
) -> Result<GiftRefunded, DomainError> {
    let gift = find_gift(db, earlier.gift_id).await?;
    if offline_gifts::is_offline(gift.method) {
        return Ok(GiftRefunded {
            gift,
            processor_refund: None,
        });
    }
    if earlier.stripe_refund_id.is_some() && earlier.status != RefundRequestStatus::Failed {
        return Ok(GiftRefunded {
            gift,
            processor_refund: Some(earlier),
        });
    }
    let request = hold_again(db, earlier).await?;
    send(db, processor, actor, request).await
}

/// Holds a failed request's amount again before it is sent again.
async fn hold_again(
    db: &DatabaseConnection,
    earlier: refund_request::Model,
) -> Result<refund_request::Model, DomainError> {
    if earlier.status != RefundRequestStatus::Failed {
        return Ok(earlier);
    }
    let txn = begin_write(db).await?;
    let gift = card_gift_for_refund(&txn, earlier.gift_id).await?;
    let left = refundable_minor(&txn, &gift).await?;
    check_amount(earlier.amount_minor, left, &gift)?;
    let mut row: refund_request::ActiveModel = earlier.into();
    row.status = Set(RefundRequestStatus::Requested);
    row.failure = Set(None);
    row.updated_at = Set(Utc::now());
    let request = row.update(&txn).await?;
    txn.commit().await?;
    Ok(request)
}

/// A card gift that may be refunded, locked against concurrent refunds until the
/// transaction ends.
async fn card_gift_for_refund(
    txn: &impl ConnectionTrait,
    gift_id: i64,
) -> Result<gift::Model, DomainError> {
    let gift = gift::Entity::find_by_id(gift_id)
        .lock(LockType::Update)
        .one(txn)
        .await?
        .ok_or_else(|| DomainError::not_found("gift", gift_id))?;
    if gift.method != PaymentMethod::Card
        || (gift.stripe_charge_id.is_none() && gift.stripe_payment_intent_id.is_none())
    {
        return Err(DomainError::validation(
            "id",
            "only card gifts paid through the processor can be refunded this way",
        ));
    }
    if !crate::domain::gifts::counts(gift.status) {
        return Err(DomainError::conflict(
            Some("id"),
            format!("a {} gift cannot be refunded", gift.status),
        ));
    }
    Ok(gift)
}

fn check_amount(amount_minor: i64, left: i64, gift: &gift::Model) -> Result<(), DomainError> {
    if amount_minor <= 0 {
        return Err(DomainError::validation(
            "amount",
            "nothing is left to refund: every refund asked of the payment processor \
             is counted until it confirms or refuses it",
        ));
    }
    if amount_minor > left {
        let money = |minor: i64| match entity::Currency::parse(&gift.currency) {
            Ok(currency) => entity::format_minor(minor, currency),
            Err(_) => format!("{minor} {}", gift.currency),
        };
        let awaiting = crate::domain::gifts::net_minor(gift) - left;
        let asked = if awaiting > 0 {
            format!(
                " ({} is already asked of the payment processor and not yet confirmed)",
                money(awaiting)
            )
        } else {
            String::new()
        };
        return Err(DomainError::validation(
            "amount",
            format!(
                "at most {} may still be refunded{asked}",
                money(left.max(0))
            ),
        ));
    }
    Ok(())
}

/// Holds a card refund's amount against what is left, in one transaction, before the
/// processor is asked.
async fn reserve_card_refund(
    db: &DatabaseConnection,
    ask: &RefundAsk,
) -> Result<refund_request::Model, DomainError> {
    let txn = begin_write(db).await?;
    let gift = card_gift_for_refund(&txn, ask.gift_id).await?;
    let left = refundable_minor(&txn, &gift).await?;
    let amount = ask.amount.map_or(left, |a| a.amount_minor());
    check_amount(amount, left, &gift)?;
    let now = Utc::now();
    let request = refund_request::ActiveModel {
        gift_id: Set(gift.id),
        amount_minor: Set(amount),
        status: Set(RefundRequestStatus::Requested),
        request_id: Set(new_request_id()),
        idempotency_key: Set(ask.idempotency_key.clone()),
        request: Set(ask.snapshot()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(request)
}

/// Asks the processor for a held refund and keeps its answer; a refusal releases the
/// amount held.
async fn send(
    db: &DatabaseConnection,
    processor: &impl RefundProcessor,
    actor: &Actor,
    request: refund_request::Model,
) -> Result<GiftRefunded, DomainError> {
    let gift = find_gift(db, request.gift_id).await?;
    let answer = processor
        .refund(
            gift.stripe_charge_id.as_deref(),
            gift.stripe_payment_intent_id.as_deref(),
            request.amount_minor,
            &request.request_id,
        )
        .await;
    let txn = begin_write(db).await?;
    // The confirmation may have arrived while the processor was answering.
    let current = refund_request::Entity::find_by_id(request.id)
        .one(&txn)
        .await?
        .unwrap_or(request);
    let mut row: refund_request::ActiveModel = current.clone().into();
    row.updated_at = Set(Utc::now());
    let outcome = match answer {
        Ok(refund) => {
            if current.status == RefundRequestStatus::Requested && refund.failed() {
                row.status = Set(RefundRequestStatus::Failed);
                row.failure = Set(Some(format!("the refund is {}", refund.status)));
            }
            row.stripe_refund_id = Set(Some(refund.refund_id.clone()));
            row.processor_status = Set(Some(refund.status.clone()));
            Ok(refund)
        }
        Err(RefundFailure::Refused(reason) | RefundFailure::Unavailable(reason)) => {
            // Unavailable too: what it held is released, and the same key sends the
            // same request id again, which the processor refunds at most once.
            if current.status == RefundRequestStatus::Requested {
                row.status = Set(RefundRequestStatus::Failed);
            }
            row.failure = Set(Some(reason.clone()));
            Err(reason)
        }
    };
    let request = row.update(&txn).await?;
    audit::record_and_commit(
        txn,
        actor,
        "gift.refund_requested",
        "gift",
        Some(request.gift_id.to_string()),
        json!({
            "amountMinor": request.amount_minor,
            "requestId": request.request_id,
            "stripeRefundId": request.stripe_refund_id,
            "status": request.processor_status,
            "failure": request.failure,
        }),
    )
    .await?;
    match outcome {
        Ok(_) => Ok(GiftRefunded {
            gift: find_gift(db, request.gift_id).await?,
            processor_refund: Some(request),
        }),
        Err(reason) => Err(DomainError::Payment(reason)),
    }
}

/// Matches the processor's refunds of a gift's charge to the requests waiting for
/// them, when its `charge.refunded` event arrives. Listed refunds are matched by refund
/// id or by the request id they were sent with; without a list, the refunded total
/// confirms the oldest requests it covers.
pub(super) async fn settle_refund_requests(
    txn: &impl ConnectionTrait,
    gift_id: i64,
    listed: &[ProcessorRefund],
    refunded_minor: i64,
) -> Result<(), DomainError> {
    let waiting = awaiting(txn, gift_id).await?;
    if waiting.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    if !listed.is_empty() {
        for request in waiting {
            let found = listed.iter().find(|refund| {
                request.stripe_refund_id.as_deref() == Some(refund.refund_id.as_str())
                    || refund.request_id.as_deref() == Some(request.request_id.as_str())
            });
            if let Some(refund) = found {
                let mut row: refund_request::ActiveModel = request.into();
                row.status = Set(if refund.failed() {
                    RefundRequestStatus::Failed
                } else {
                    RefundRequestStatus::Confirmed
                });
                row.stripe_refund_id = Set(Some(refund.refund_id.clone()));
                row.processor_status = Set(Some(refund.status.clone()));
                row.updated_at = Set(now);
                row.update(txn).await?;
            }
        }
        return Ok(());
    }
    let confirmed: i64 = refund_request::Entity::find()
        .filter(refund_request::Column::GiftId.eq(gift_id))
        .filter(refund_request::Column::Status.eq(RefundRequestStatus::Confirmed))
        .all(txn)
        .await?
        .iter()
        .map(|r| r.amount_minor)
        .sum();
    let mut covered = refunded_minor - confirmed;
    for request in waiting {
        if request.amount_minor > covered {
            break;
        }
        covered -= request.amount_minor;
        let mut row: refund_request::ActiveModel = request.into();
        row.status = Set(RefundRequestStatus::Confirmed);
        row.updated_at = Set(now);
        row.update(txn).await?;
    }
    Ok(())
}

/// Fails the request a refund answered, when the processor says the refund failed
/// after it was made: confirmed or not, it no longer holds or counts anything, so what
/// is left to refund is right again.
pub(super) async fn fail_refund_request(
    txn: &impl ConnectionTrait,
    gift_id: i64,
    refund: &ProcessorRefund,
) -> Result<(), DomainError> {
    let requests = refund_request::Entity::find()
        .filter(refund_request::Column::GiftId.eq(gift_id))
        .filter(refund_request::Column::Status.ne(RefundRequestStatus::Failed))
        .all(txn)
        .await?;
    let answered = requests.into_iter().filter(|request| {
        request.stripe_refund_id.as_deref() == Some(refund.refund_id.as_str())
            || refund.request_id.as_deref() == Some(request.request_id.as_str())
    });
    for request in answered {
        let mut row: refund_request::ActiveModel = request.into();
        row.status = Set(RefundRequestStatus::Failed);
        row.stripe_refund_id = Set(Some(refund.refund_id.clone()));
        row.processor_status = Set(Some(refund.status.clone()));
        row.failure = Set(Some(format!("the refund is {}", refund.status)));
        row.updated_at = Set(Utc::now());
        row.update(txn).await?;
    }
    Ok(())
}

/// Whether a charge's gift has refunds waiting for the processor's confirmation, so
/// its refunds are worth listing when its `charge.refunded` event arrives.
pub async fn refunds_awaiting_confirmation(
    db: &impl ConnectionTrait,
    charge_id: &str,
    payment_intent_id: Option<&str>,
) -> Result<bool, DomainError> {
    let mut gift = gift::Entity::find()
        .filter(gift::Column::StripeChargeId.eq(charge_id))
        .one(db)
        .await?;
    if gift.is_none()
        && let Some(intent) = payment_intent_id
    {
        gift = gift::Entity::find()
            .filter(gift::Column::StripePaymentIntentId.eq(intent))
            .one(db)
            .await?;
    }
    match gift {
        Some(gift) => Ok(awaiting_minor(db, gift.id).await? > 0),
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refund(status: &str) -> ProcessorRefund {
        ProcessorRefund {
            refund_id: "re_1".into(),
            amount_minor: 100,
            status: status.into(),
            request_id: None,
        }
    }

    #[test]
    fn a_failed_or_canceled_refund_did_not_happen() {
        assert!(refund("failed").failed());
        assert!(refund("canceled").failed());
        assert!(!refund("pending").failed());
        assert!(!refund("succeeded").failed());
    }
}
