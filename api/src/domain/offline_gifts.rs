//! Gifts staff type in from a reply envelope (check, cash, stock, DAF, wire), and the
//! corrections and refunds staff make to them. Recording goes through `record_gift`,
//! so the receipt is issued in the same transaction.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::enums::{GiftStatus, PaymentMethod, PledgeStatus};
use entity::{Money, appeal, audit_log, fund, gift, pledge};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};

use super::gifts::{Benefits, NewGift, Tribute, record_gift};
use super::idempotency::{clean_key, ensure_same_request};
use super::payments::{record_offline_refund, status_after_refund};
use super::text;
use super::{Actor, DomainError, audit, gifts, receipts};
use crate::config::Organization;
use crate::db::begin_write;

/// The methods staff may record by hand; card and bank payments come from Stripe.
pub const OFFLINE_METHODS: [PaymentMethod; 5] = [
    PaymentMethod::Check,
    PaymentMethod::Cash,
    PaymentMethod::Stock,
    PaymentMethod::Daf,
    PaymentMethod::Wire,
];

/// A gift typed in by staff.
#[derive(Debug, Clone)]
pub struct OfflineGift {
    pub donor_id: i64,
    pub amount: Money,
    pub method: PaymentMethod,
    pub fund_id: i64,
    pub received_at: DateTime<Utc>,
    pub check_number: Option<String>,
    /// An appeal's source code from the reply envelope, any case.
    pub appeal_code: Option<String>,
    /// The pledge this gift pays an installment of.
    pub pledge_id: Option<i64>,
    pub tribute: Option<Tribute>,
    pub benefits: Option<Benefits>,
    pub anonymous: bool,
    pub notes: Option<String>,
    /// The same key sent twice records one gift.
    pub idempotency_key: Option<String>,
}

/// The outcome of recording: the gift, and whether it already existed under its key.
#[derive(Debug, Clone)]
pub struct RecordedOfflineGift {
    pub gift: gift::Model,
    pub replayed: bool,
}

/// When a gift known only by its day (a check's date) was received: noon that day in the
/// organization's time zone, so it falls on that day and in that tax year wherever it is
/// shown, and no daylight-saving change can move it.
pub fn received_on(org: &Organization, day: NaiveDate) -> Result<DateTime<Utc>, DomainError> {
    day.and_hms_opt(12, 0, 0)
        .and_then(|noon| noon.and_local_timezone(org.timezone).earliest())
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| DomainError::validation("receivedOn", format!("{day} is not a usable day")))
}

/// Finds an appeal by its source code (stored upper case).
pub async fn find_appeal_by_code(
    db: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<appeal::Model>, DomainError> {
    Ok(appeal::Entity::find()
        .filter(appeal::Column::SourceCode.eq(code.trim().to_uppercase()))
        .one(db)
        .await?)
}

/// The request that records an offline gift, field by field under the API's names, as
/// it is kept with the gift's audit entry: a replay under the same key must match it.
fn request_snapshot(new: &OfflineGift) -> Value {
    json!({
        "donorId": new.donor_id,
        "amount": new.amount.amount_minor(),
        "amount.currency": new.amount.currency().code(),
        "method": new.method.as_str(),
        "fundId": new.fund_id,
        "receivedAt": new.received_at.to_rfc3339(),
        "checkNumber": new.check_number,
        "appealCode": new.appeal_code.as_deref().map(|c| c.trim().to_uppercase()).filter(|c| !c.is_empty()),
        "pledgeId": new.pledge_id,
        "tribute": new.tribute.as_ref().map(|t| json!({
            "kind": t.kind.as_str(),
            "name": t.name,
            "notifyName": t.notify_name,
            "notifyEmail": t.notify_email,
            "notifyAddress": t.notify_address,
            "showAmount": t.show_amount,
        })),
        "benefits": new.benefits.as_ref().map(|b| json!({
            "valueMinor": b.value_minor,
            "description": b.description,
        })),
        "anonymous": new.anonymous,
        "notes": new.notes.clone().and_then(text::non_blank),
    })
}

/// The gift already recorded under `key`, if the request is the same; a request that
/// differs in any field from the one that recorded it is a conflict naming that field.
async fn existing_under_key(
    db: &impl ConnectionTrait,
    key: &str,
    new: &OfflineGift,
) -> Result<Option<gift::Model>, DomainError> {
    let Some(existing) = gift::Entity::find()
        .filter(gift::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let recorded = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("recordOfflineGift"))
        .filter(audit_log::Column::Entity.eq("gift"))
        .filter(audit_log::Column::EntityId.eq(existing.id.to_string()))
        .order_by_asc(audit_log::Column::Id)
        .one(db)
        .await?;
    // Gifts recorded before requests were kept with them are compared by their columns.
    let first = match recorded.as_ref().map(|entry| &entry.changes["request"]) {
        Some(request) if request.is_object() => request.clone(),
        _ => json!({
            "donorId": existing.donor_id,
            "amount": existing.amount_minor,
            "amount.currency": existing.currency,
        }),
    };
    ensure_same_request(&first, &request_snapshot(new), |field| {
        format!(
            "this idempotency key already recorded gift {} with another {field}; \
             send a new key for a new gift, or correct the gift with adjustGift",
            existing.id
        )
    })?;
    Ok(Some(existing))
}

/// Records a gift staff typed in, with its receipt, in one transaction. With an
/// idempotency key, sending the same gift again returns the gift already recorded.
pub async fn record_offline_gift(
    db: &DatabaseConnection,
    org: &Organization,
    actor: &Actor,
    mut new: OfflineGift,
) -> Result<RecordedOfflineGift, DomainError> {
    if !OFFLINE_METHODS.contains(&new.method) {
        return Err(DomainError::validation(
            "method",
            "card and bank gifts are recorded from the payment processor, not typed in",
        ));
    }
    new.check_number = new.check_number.and_then(text::non_blank);
    if new.method == PaymentMethod::Check && new.check_number.is_none() {
        return Err(DomainError::validation(
            "checkNumber",
            "a check gift needs its check number",
        ));
    }
    if new.check_number.as_ref().is_some_and(|n| n.len() > 40) {
        return Err(DomainError::validation(
            "checkNumber",
            "must be at most 40 characters",
        ));
    }
    if new.received_at < Utc::now() - Duration::days(365 * 20) {
        return Err(DomainError::validation(
            "receivedAt",
            "is more than twenty years ago",
        ));
    }
    new.idempotency_key = clean_key(new.idempotency_key)?;

    if let Some(key) = new.idempotency_key.clone() {
        if let Some(gift) = existing_under_key(db, &key, &new).await? {
            return Ok(RecordedOfflineGift {
                gift,
                replayed: true,
            });
        }
        match insert_offline_gift(db, org, actor, new.clone()).await {
            // Another request with the same key committed first.
            Err(DomainError::Conflict {
                field: Some(field), ..
            }) if field == "idempotencyKey" => {
                let gift = existing_under_key(db, &key, &new).await?.ok_or_else(|| {
                    DomainError::Unexpected(anyhow::anyhow!(
                        "idempotency key {key:?} conflicted but no gift holds it"
                    ))
                })?;
                Ok(RecordedOfflineGift {
                    gift,
                    replayed: true,
                })
            }
            other => other.map(|gift| RecordedOfflineGift {
                gift,
                replayed: false,
            }),
        }
    } else {
        let gift = insert_offline_gift(db, org, actor, new).await?;
        Ok(RecordedOfflineGift {
            gift,
            replayed: false,
        })
    }
}

async fn insert_offline_gift(
    db: &DatabaseConnection,
    org: &Organization,
    actor: &Actor,
    new: OfflineGift,
) -> Result<gift::Model, DomainError> {
    let request = request_snapshot(&new);
    let txn = begin_write(db).await?;
    if let Some(key) = &new.idempotency_key
        && let Some(gift) = existing_under_key(&txn, key, &new).await?
    {
        txn.rollback().await?;
        return Ok(gift);
    }
    let appeal = match &new.appeal_code {
        Some(code) if !code.trim().is_empty() => {
            Some(find_appeal_by_code(&txn, code).await?.ok_or_else(|| {
                DomainError::validation(
                    "appealCode",
                    format!(
                        "no appeal has the source code {:?}",
                        code.trim().to_uppercase()
                    ),
                )
            })?)
        }
        _ => None,
    };
    let pledge = match new.pledge_id {
        Some(id) => Some(installment_pledge(&txn, id, &new).await?),
        None => None,
    };

    let mut gift = NewGift::new(
        new.donor_id,
        new.amount,
        new.method,
        GiftStatus::Succeeded,
        new.fund_id,
        new.received_at,
    );
    gift.appeal_id = appeal.as_ref().map(|a| a.id);
    gift.campaign_id = appeal
        .as_ref()
        .map(|a| a.campaign_id)
        .or(pledge.as_ref().and_then(|p| p.campaign_id));
    gift.pledge_id = pledge.as_ref().map(|p| p.id);
    gift.check_number = new.check_number;
    gift.tribute = new.tribute;
    gift.benefits = new.benefits;
    gift.anonymous = new.anonymous;
    gift.notes = new.notes.and_then(text::non_blank);
    gift.idempotency_key = new.idempotency_key;
    let recorded = record_gift(&txn, org, gift).await?;
    let gift = recorded.gift;

    if let Some(pledge) = pledge {
        complete_pledge_when_paid(&txn, pledge).await?;
    }
    let mut details = gift_snapshot(&gift);
    details["request"] = request;
    audit::record_and_commit(
        txn,
        actor,
        "recordOfflineGift",
        "gift",
        Some(gift.id.to_string()),
        details,
    )
    .await?;
    Ok(gift)
}

/// The pledge a gift pays, if the gift may pay it.
async fn installment_pledge(
    txn: &impl ConnectionTrait,
    id: i64,
    new: &OfflineGift,
) -> Result<pledge::Model, DomainError> {
    let pledge = pledge::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| DomainError::validation("pledgeId", format!("no pledge has id {id}")))?;
    if pledge.donor_id != new.donor_id {
        return Err(DomainError::validation(
            "pledgeId",
            "the pledge belongs to another donor",
        ));
    }
    if matches!(
        pledge.status,
        PledgeStatus::Cancelled | PledgeStatus::Completed
    ) {
        return Err(DomainError::validation(
            "pledgeId",
            format!(
                "the pledge is {} and takes no more installments",
                pledge.status
            ),
        ));
    }
    if pledge.currency != new.amount.currency().code() {
        return Err(DomainError::validation(
            "amount.currency",
            format!("the pledge is in {}", pledge.currency),
        ));
    }
    Ok(pledge)
}

/// Marks a pledge with a fixed number of installments completed once they are all paid.
async fn complete_pledge_when_paid(
    txn: &impl ConnectionTrait,
    pledge: pledge::Model,
) -> Result<(), DomainError> {
    let Some(total) = pledge.installments_total else {
        return Ok(());
    };
    let paid = gift::Entity::find()
        .filter(gift::Column::PledgeId.eq(pledge.id))
        .filter(gifts::counted())
        .count(txn)
        .await?;
    if paid >= u64::try_from(total).unwrap_or(u64::MAX) {
        let mut active: pledge::ActiveModel = pledge.into();
        active.status = Set(PledgeStatus::Completed);
        active.updated_at = Set(Utc::now());
        active.update(txn).await?;
    }
    Ok(())
}

/// The fields of a gift the audit log keeps.
fn gift_snapshot(gift: &gift::Model) -> Value {
    json!({
        "donorId": gift.donor_id,
        "amountMinor": gift.amount_minor,
        "currency": gift.currency,
        "refundedMinor": gift.refunded_minor,
        "method": gift.method.as_str(),
        "status": gift.status.as_str(),
        "fundId": gift.fund_id,
        "campaignId": gift.campaign_id,
        "appealId": gift.appeal_id,
        "pledgeId": gift.pledge_id,
        "receivedAt": gift.received_at.to_rfc3339(),
        "checkNumber": gift.check_number,
        "tributeKind": gift.tribute_kind.map(|k| k.as_str()),
        "tributeName": gift.tribute_name,
        "benefitsMinor": gift.benefits_minor,
        "benefitsDescription": gift.benefits_description,
        "anonymous": gift.anonymous,
        "notes": gift.notes,
        "idempotencyKey": gift.idempotency_key,
    })
}

/// A correction to an offline gift. `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct GiftAdjustment {
    pub amount: Option<Money>,
    pub fund_id: Option<i64>,
    pub received_at: Option<DateTime<Utc>>,
    pub check_number: Option<Option<String>>,
    /// `Some(None)` removes the appeal attribution.
    pub appeal_code: Option<Option<String>>,
    pub benefits: Option<Option<Benefits>>,
    pub anonymous: Option<bool>,
    pub notes: Option<Option<String>>,
}

async fn offline_gift_for_update(
    txn: &impl ConnectionTrait,
    id: i64,
) -> Result<gift::Model, DomainError> {
    let gift = gift::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| DomainError::not_found("gift", id))?;
    if !OFFLINE_METHODS.contains(&gift.method) {
        return Err(DomainError::conflict(
            Some("id"),
            "card gifts are refunded through the payment processor",
        ));
    }
    Ok(gift)
}

/// Corrects an offline gift (amount, fund, date, check number, appeal, benefits). It
/// changes the gift only; the receipt is the receipts service's concern.
pub async fn adjust_offline_gift(
    db: &DatabaseConnection,
    org: &Organization,
    actor: &Actor,
    id: i64,
    adjustment: GiftAdjustment,
) -> Result<gift::Model, DomainError> {
    let txn = begin_write(db).await?;
    let current = offline_gift_for_update(&txn, id).await?;
    let mut updated = current.clone();
    if let Some(amount) = adjustment.amount {
        if amount.currency().code() != current.currency {
            return Err(DomainError::validation(
                "amount.currency",
                format!(
                    "the gift is in {}; record a new gift instead",
                    current.currency
                ),
            ));
        }
        if amount.amount_minor() < current.refunded_minor {
            return Err(DomainError::validation(
                "amount",
                "cannot be less than what has already been refunded",
            ));
        }
        updated.amount_minor = amount.amount_minor();
    }
    if let Some(fund_id) = adjustment.fund_id {
        let fund = fund::Entity::find_by_id(fund_id)
            .one(&txn)
            .await?
            .ok_or_else(|| {
                DomainError::validation("fundId", format!("no fund has id {fund_id}"))
            })?;
        if fund.archived_at.is_some() && fund.id != current.fund_id {
            return Err(DomainError::validation(
                "fundId",
                format!(
                    "the fund {:?} is archived and takes no new gifts",
                    fund.name
                ),
            ));
        }
        updated.fund_id = fund.id;
    }
    if let Some(received_at) = adjustment.received_at {
        if received_at > Utc::now() + Duration::days(1) {
            return Err(DomainError::validation(
                "receivedAt",
                "cannot be in the future",
            ));
        }
        updated.received_at = received_at;
    }
    if let Some(check_number) = adjustment.check_number {
        let check_number = check_number.and_then(text::non_blank);
        if check_number.is_none() && updated.method == PaymentMethod::Check {
            return Err(DomainError::validation(
                "checkNumber",
                "a check gift needs its check number",
            ));
        }
        updated.check_number = check_number;
    }
    if let Some(code) = adjustment.appeal_code {
        match code.filter(|c| !c.trim().is_empty()) {
            Some(code) => {
                let appeal = find_appeal_by_code(&txn, &code).await?.ok_or_else(|| {
                    DomainError::validation(
                        "appealCode",
                        format!(
                            "no appeal has the source code {:?}",
                            code.trim().to_uppercase()
                        ),
                    )
                })?;
                updated.appeal_id = Some(appeal.id);
                updated.campaign_id = Some(appeal.campaign_id);
            }
            None => {
                updated.appeal_id = None;
            }
        }
    }
    if let Some(benefits) = adjustment.benefits {
        match benefits {
            Some(benefits) => {
                if benefits.value_minor < 0 {
                    return Err(DomainError::validation(
                        "benefitsValue",
                        "cannot be negative",
                    ));
                }
                if benefits.value_minor > 0 && benefits.description.trim().is_empty() {
                    return Err(DomainError::validation(
                        "benefitsDescription",
                        "describe the goods or services the donor received",
                    ));
                }
                updated.benefits_minor = benefits.value_minor;
                updated.benefits_description = Some(benefits.description.trim().to_owned());
            }
            None => {
                updated.benefits_minor = 0;
                updated.benefits_description = None;
            }
        }
    }
    if updated.benefits_minor > updated.amount_minor {
        return Err(DomainError::validation(
            "benefitsValue",
            "cannot be more than the gift",
        ));
    }
    if let Some(anonymous) = adjustment.anonymous {
        updated.anonymous = anonymous;
    }
    if let Some(notes) = adjustment.notes {
        updated.notes = notes.and_then(text::non_blank);
    }
    updated.status =
        status_after_refund(updated.status, updated.amount_minor, updated.refunded_minor);
    save_gift_change(txn, org, actor, GiftChange::Correction, current, updated).await
}

/// Writes a changed gift and its audit entry, and commits; unchanged gifts are left alone.
/// What kind of change staff made to a gift, which decides what happens to its receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GiftChange {
    Correction,
    Refund,
}

impl GiftChange {
    fn action(self) -> &'static str {
        match self {
            GiftChange::Correction => "adjustGift",
            GiftChange::Refund => "refundGift",
        }
    }
}

/// Whether a correction changes what the gift's receipt states.
fn receipt_details_changed(before: &gift::Model, after: &gift::Model) -> bool {
    before.amount_minor != after.amount_minor
        || before.received_at != after.received_at
        || before.fund_id != after.fund_id
        || before.method != after.method
        || before.check_number != after.check_number
        || before.benefits_minor != after.benefits_minor
        || before.benefits_description != after.benefits_description
        || before.tribute_kind != after.tribute_kind
        || before.tribute_name != after.tribute_name
}

/// Saves a staff change to a gift with its audit record, and corrects the gift's
/// receipts in the same transaction: a refund voids or re-issues them, a correction to
/// what a receipt states re-issues them.
async fn save_gift_change(
    txn: crate::db::WriteTransaction,
    org: &Organization,
    actor: &Actor,
    change: GiftChange,
    current: gift::Model,
    updated: gift::Model,
) -> Result<gift::Model, DomainError> {
    let action = change.action();
    let diff = super::audit::changed_fields(&gift_snapshot(&current), &gift_snapshot(&updated));
    if diff.as_object().is_none_or(serde_json::Map::is_empty) {
        txn.rollback().await?;
        return Ok(current);
    }
    let id = current.id;
    let mut active: gift::ActiveModel = updated.into();
    active.updated_at = Set(Utc::now());
    let gift = active.reset_all().update(&txn).await?;
    match change {
        GiftChange::Refund => {
            receipts::on_refund(&txn, org, &gift).await?;
        }
        GiftChange::Correction if receipt_details_changed(&current, &gift) => {
            receipts::on_gift_corrected(&txn, org, &current, &gift).await?;
        }
        GiftChange::Correction => {}
    }
    audit::record_and_commit(txn, actor, action, "gift", Some(id.to_string()), diff).await?;
    Ok(gift)
}

/// Refunds an offline gift in full (`amount` None) or in part. It changes the gift
/// only; voiding and re-issuing the receipt is the receipts service's concern. A refund
/// made under a caller's key (`keyed`: the key and the request it came with) is kept
/// with it in the same transaction, so its replays are answered.
pub async fn refund_offline_gift(
    db: &DatabaseConnection,
    org: &Organization,
    actor: &Actor,
    id: i64,
    amount: Option<Money>,
    reason: Option<String>,
    keyed: Option<(String, Value)>,
) -> Result<gift::Model, DomainError> {
    let txn = begin_write(db).await?;
    let current = offline_gift_for_update(&txn, id).await?;
    if !gifts::counts(current.status) {
        return Err(DomainError::conflict(
            Some("id"),
            format!("a {} gift cannot be refunded", current.status),
        ));
    }
    let remaining = gifts::net_minor(&current);
    let refund = match amount {
        Some(amount) => {
            if amount.currency().code() != current.currency {
                return Err(DomainError::validation(
                    "amount.currency",
                    format!("the gift is in {}", current.currency),
                ));
            }
            if amount.amount_minor() > remaining {
                return Err(DomainError::validation(
                    "amount",
                    format!(
                        "cannot refund more than the {} not yet refunded",
                        entity::format_minor(remaining, amount.currency())
                    ),
                ));
            }
            amount.amount_minor()
        }
        None => remaining,
    };
    if let Some((key, request)) = keyed {
        record_offline_refund(&txn, current.id, refund, key, request).await?;
    }
    let mut updated = current.clone();
    updated.refunded_minor += refund;
    updated.status =
        status_after_refund(updated.status, updated.amount_minor, updated.refunded_minor);
    if let Some(reason) = reason.and_then(text::non_blank) {
        let note = format!(
            "Refunded {}: {reason}",
            entity::format_minor(refund, entity::Currency::parse(&current.currency)?)
        );
        updated.notes = Some(match &current.notes {
            Some(notes) => format!("{notes}\n{note}"),
            None => note,
        });
    }
    save_gift_change(txn, org, actor, GiftChange::Refund, current, updated).await
}

/// Whether staff record gifts of this method by hand.
pub fn is_offline(method: PaymentMethod) -> bool {
    OFFLINE_METHODS.contains(&method)
}
