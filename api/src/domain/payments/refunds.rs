//! Refunds and disputes reaching the gift their charge paid for, and refunds staff ask for.

#[allow(unused_imports)]
use super::*;
use entity::stripe_dispute;

/// The gift a charge paid for: by charge id, then by payment intent or invoice. The
/// charge id is remembered on the gift once found.
pub(super) async fn gift_for_charge(
    txn: &DatabaseTransaction,
    charge_id: &str,
    payment_intent_id: Option<&str>,
    invoice_id: Option<&str>,
) -> Result<Option<gift::Model>, DomainError> {
    if let Some(found) = gift::Entity::find()
        .filter(gift::Column::StripeChargeId.eq(charge_id))
        .one(txn)
        .await?
    {
        return Ok(Some(found));
    }
    let mut found = None;
    if let Some(intent) = payment_intent_id {
        found = gift::Entity::find()
            .filter(gift::Column::StripePaymentIntentId.eq(intent))
            .one(txn)
            .await?;
    }
    if found.is_none()
        && let Some(invoice) = invoice_id
    {
        found = gift_for_invoice(txn, invoice).await?;
    }
    match found {
        Some(gift) if gift.stripe_charge_id.is_none() => {
            let mut row: gift::ActiveModel = gift.into();
            row.stripe_charge_id = Set(Some(charge_id.to_owned()));
            Ok(Some(row.update(txn).await?))
        }
        other => Ok(other),
    }
}

pub(super) fn status_after_refund(gift: &gift::Model, refunded: i64) -> GiftStatus {
    if matches!(gift.status, GiftStatus::Disputed | GiftStatus::Pending) {
        gift.status
    } else if refunded >= gift.amount_minor {
        GiftStatus::Refunded
    } else if refunded > 0 {
        GiftStatus::PartiallyRefunded
    } else {
        gift.status
    }
}

pub(super) async fn apply_refund(
    txn: &DatabaseTransaction,
    org: &Organization,
    refund: ChargeRefund,
) -> Result<Settled, DomainError> {
    let Some(gift) = gift_for_charge(
        txn,
        &refund.charge_id,
        refund.payment_intent_id.as_deref(),
        refund.invoice_id.as_deref(),
    )
    .await?
    else {
        return Ok(Settled::Waiting {
            on: refund.payment_intent_id.unwrap_or(refund.charge_id.clone()),
            reason: format!("no gift yet for charge {}", refund.charge_id),
        });
    };
    let refunded = refund.amount_refunded_minor.clamp(0, gift.amount_minor);
    // The refunded total only grows: an older, smaller total arriving late changes nothing.
    if refunded <= gift.refunded_minor {
        return Ok(Settled::Duplicate(format!(
            "gift {} already shows {} refunded",
            gift.id, gift.refunded_minor
        )));
    }
    let id = gift.id;
    // A refund reported before a delayed payment settles is kept on the pending gift;
    // the gift's status and receipt follow when the payment succeeds.
    let pending = gift.status == GiftStatus::Pending;
    let status = status_after_refund(&gift, refunded);
    let mut row: gift::ActiveModel = gift.into();
    row.refunded_minor = Set(refunded);
    row.status = Set(status);
    row.updated_at = Set(Utc::now());
    let gift = row.update(txn).await?;
    if !pending {
        receipts::on_refund(txn, org, &gift).await?;
    }
    Ok(Settled::Applied(format!(
        "gift {id} is {status} ({refunded} refunded)"
    )))
}

pub(super) async fn apply_dispute(
    txn: &DatabaseTransaction,
    org: &Organization,
    notice: DisputeNotice,
    opened: bool,
) -> Result<Settled, DomainError> {
    let Some(gift) = gift_for_charge(
        txn,
        &notice.charge_id,
        notice.payment_intent_id.as_deref(),
        None,
    )
    .await?
    else {
        return Ok(Settled::Waiting {
            on: notice.payment_intent_id.unwrap_or(notice.charge_id.clone()),
            reason: format!(
                "no gift yet for charge {} of dispute {}",
                notice.charge_id, notice.dispute_id
            ),
        });
    };
    let id = gift.id;
    let became_lost = record_dispute_state(txn, &gift, &notice, opened).await?;
    let disputes = stripe_dispute::Entity::find()
        .filter(stripe_dispute::Column::GiftId.eq(gift.id))
        .all(txn)
        .await?;
    let status = if disputes.iter().any(holds_the_money) {
        GiftStatus::Disputed
    } else {
        // Every dispute closed without taking the money: the gift shows what was
        // refunded, if anything.
        let undisputed = gift::Model {
            status: GiftStatus::Succeeded,
            ..gift.clone()
        };
        status_after_refund(&undisputed, gift.refunded_minor)
    };
    let gift = if gift.status != status {
        let mut row: gift::ActiveModel = gift.into();
        row.status = Set(status);
        row.updated_at = Set(Utc::now());
        row.update(txn).await?
    } else {
        gift
    };
    // A dispute closed as lost means the bank returned the money: the gift is no longer
    // a contribution, so its receipt is voided, once, when the dispute is first lost.
    if became_lost {
        receipts::on_payment_reversed(txn, org, &gift).await?;
    }
    Ok(Settled::Applied(format!(
        "gift {id} is {status} (dispute {} {})",
        notice.dispute_id, notice.status
    )))
}

/// Whether a dispute keeps the gift's money from the organization: while it is open,
/// and for good once lost.
fn holds_the_money(dispute: &stripe_dispute::Model) -> bool {
    !dispute.closed || dispute.status == "lost"
}

/// Brings the dispute's own row up to date with a notice, and says whether this notice
/// is the one that closed it as lost. A closed dispute stays as it closed: an "opened"
/// notice arriving after the close changes nothing.
async fn record_dispute_state(
    txn: &DatabaseTransaction,
    gift: &gift::Model,
    notice: &DisputeNotice,
    opened: bool,
) -> Result<bool, DomainError> {
    let now = Utc::now();
    let closes = !opened;
    let lost = closes && notice.status == "lost";
    let existing = stripe_dispute::Entity::find_by_id(notice.dispute_id.clone())
        .one(txn)
        .await?;
    match existing {
        None => {
            stripe_dispute::Entity::insert(stripe_dispute::ActiveModel {
                dispute_id: Set(notice.dispute_id.clone()),
                gift_id: Set(gift.id),
                status: Set(notice.status.clone()),
                closed: Set(closes),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .exec(txn)
            .await?;
            Ok(lost)
        }
        Some(dispute) if dispute.closed => Ok(false),
        Some(dispute) => {
            let mut row: stripe_dispute::ActiveModel = dispute.into();
            row.status = Set(notice.status.clone());
            row.closed = Set(closes);
            row.updated_at = Set(now);
            row.update(txn).await?;
            Ok(lost)
        }
    }
}

/// A card gift that can be refunded through the processor, with what it needs.
#[derive(Debug, Clone)]
pub struct RefundableGift {
    pub gift: gift::Model,
    pub charge_id: Option<String>,
    pub payment_intent_id: Option<String>,
    /// What may still be refunded, in minor units.
    pub refundable_minor: i64,
}

/// Checks that a gift can be refunded by card for `amount_minor` (all that remains when
/// `None`), and returns what the processor call needs. Nothing changes here: the gift
/// changes when the processor reports the refund.
pub async fn refundable_card_gift(
    db: &impl ConnectionTrait,
    gift_id: i64,
    amount_minor: Option<i64>,
) -> Result<(RefundableGift, i64), DomainError> {
    let gift = gift::Entity::find_by_id(gift_id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("gift", gift_id))?;
    if gift.method != PaymentMethod::Card
        || (gift.stripe_charge_id.is_none() && gift.stripe_payment_intent_id.is_none())
    {
        return Err(DomainError::validation(
            "giftId",
            "only card gifts paid through the processor can be refunded this way",
        ));
    }
    if !matches!(
        gift.status,
        GiftStatus::Succeeded | GiftStatus::PartiallyRefunded
    ) {
        return Err(DomainError::conflict(
            Some("giftId"),
            format!("a {} gift cannot be refunded", gift.status),
        ));
    }
    let refundable = gift.amount_minor - gift.refunded_minor;
    let amount = amount_minor.unwrap_or(refundable);
    if amount <= 0 {
        return Err(DomainError::validation(
            "amount",
            "must be greater than zero",
        ));
    }
    if amount > refundable {
        return Err(DomainError::validation(
            "amount",
            format!("at most {refundable} may still be refunded"),
        ));
    }
    Ok((
        RefundableGift {
            charge_id: gift.stripe_charge_id.clone(),
            payment_intent_id: gift.stripe_payment_intent_id.clone(),
            refundable_minor: refundable,
            gift,
        },
        amount,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gift_of(amount: i64, status: GiftStatus) -> gift::Model {
        gift::Model {
            id: 1,
            donor_id: 1,
            amount_minor: amount,
            currency: "USD".into(),
            refunded_minor: 0,
            method: PaymentMethod::Card,
            status,
            fund_id: 1,
            campaign_id: None,
            appeal_id: None,
            pledge_id: None,
            received_at: Utc::now(),
            check_number: None,
            tribute_kind: None,
            tribute_name: None,
            tribute_notify_name: None,
            tribute_notify_email: None,
            tribute_notify_address: None,
            tribute_show_amount: false,
            benefits_minor: 0,
            benefits_description: None,
            anonymous: false,
            stripe_payment_intent_id: None,
            stripe_invoice_id: None,
            stripe_checkout_session_id: None,
            stripe_charge_id: None,
            idempotency_key: None,
            notes: None,
            processor_fee_minor: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_refund_of_everything_marks_the_gift_refunded() {
        let gift = gift_of(5_000, GiftStatus::Succeeded);
        assert_eq!(status_after_refund(&gift, 5_000), GiftStatus::Refunded);
        assert_eq!(
            status_after_refund(&gift, 1_000),
            GiftStatus::PartiallyRefunded
        );
    }

    #[test]
    fn a_disputed_gift_stays_disputed_when_refunded() {
        let gift = gift_of(5_000, GiftStatus::Disputed);
        assert_eq!(status_after_refund(&gift, 5_000), GiftStatus::Disputed);
    }
}
