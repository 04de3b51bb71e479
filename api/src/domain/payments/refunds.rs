//! Refunds and disputes reaching the gift their charge paid for.

#[allow(unused_imports)]
use super::*;
use entity::{stripe_dispute, stripe_refund_failure};
use sea_orm::sea_query::OnConflict;

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

/// The status a gift has once `refunded_minor` of its `amount_minor` has been
/// refunded: refunded in full, partially refunded, or as it was when nothing has been.
/// A disputed gift stays disputed: the dispute, not the refund, decides it; a pending
/// one stays pending until its payment settles. The one rule for webhooks, staff
/// refunds of offline gifts, and reconciliation.
pub fn status_after_refund(
    status: GiftStatus,
    amount_minor: i64,
    refunded_minor: i64,
) -> GiftStatus {
    if matches!(status, GiftStatus::Disputed | GiftStatus::Pending) {
        status
    } else if refunded_minor > 0 && refunded_minor >= amount_minor {
        GiftStatus::Refunded
    } else if refunded_minor > 0 {
        GiftStatus::PartiallyRefunded
    } else {
        status
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
    // The charge's refunds, listed after the event was sent, may count more than the
    // event's own total; either way the refunded total only grows, and an older,
    // smaller total arriving late changes nothing. A refund known to have failed is
    // not counted: not from a list, nor from a total made while it still stood.
    let failures = refund_failures(txn, gift.id).await?;
    let listed: i64 = refund
        .refunds
        .iter()
        .filter(|r| !r.failed() && !failures.iter().any(|f| f.refund_id == r.refund_id))
        .map(|r| r.amount_minor)
        .sum();
    let still_counted: i64 = failures
        .iter()
        .filter(|f| counted_at(f, refund.as_of))
        .map(|f| f.amount_minor)
        .sum();
    let total = refund.amount_refunded_minor - still_counted;
    let (refunded, as_of) = if listed > total {
        (listed, refund.listed_at.unwrap_or(refund.as_of))
    } else {
        (total, refund.as_of)
    };
    let refunded = Ord::clamp(refunded, 0, gift.amount_minor);
    let confirmed = Ord::max(refunded, gift.refunded_minor);
    settle_refund_requests(txn, gift.id, &refund.refunds, confirmed).await?;
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
    let status = status_after_refund(gift.status, gift.amount_minor, refunded);
    let mut row: gift::ActiveModel = gift.into();
    row.refunded_minor = Set(refunded);
    row.refunds_as_of = Set(Some(as_of));
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

async fn refund_failures(
    txn: &DatabaseTransaction,
    gift_id: i64,
) -> Result<Vec<stripe_refund_failure::Model>, DomainError> {
    Ok(stripe_refund_failure::Entity::find()
        .filter(stripe_refund_failure::Column::GiftId.eq(gift_id))
        .all(txn)
        .await?)
}

/// Whether the charge's refunded total as it stood at `at` counted a refund that
/// failed: it did from the refund's making until its failure. Stripe's times are whole
/// seconds; a total of the second the refund failed in is taken as made before the
/// failure, which comes after the refund's own `charge.refunded`.
fn counted_at(failure: &stripe_refund_failure::Model, at: DateTime<Utc>) -> bool {
    failure.refund_created_at <= at && at <= failure.failed_at
}

/// The status a gift had before any refund, from which a changed refunded amount
/// reckons its status again.
fn status_before_refunds(status: GiftStatus) -> GiftStatus {
    match status {
        GiftStatus::Refunded | GiftStatus::PartiallyRefunded => GiftStatus::Succeeded,
        other => other,
    }
}

/// A refund that failed after it was made: its amount is no longer refunded, if the
/// gift counted it, and the request it answered is failed, so what is left to refund
/// is right again. Recorded once per refund, so a failure told twice (Stripe sends
/// `charge.refund.updated` and `refund.failed`) or before the charge's own
/// `charge.refunded` leaves the same books.
pub(super) async fn apply_refund_failure(
    txn: &DatabaseTransaction,
    org: &Organization,
    failure: FailedRefund,
) -> Result<Settled, DomainError> {
    let refund_id = failure.refund.refund_id.clone();
    let Some(gift) = gift_for_charge(
        txn,
        &failure.charge_id,
        failure.payment_intent_id.as_deref(),
        None,
    )
    .await?
    else {
        return Ok(Settled::Waiting {
            on: failure
                .payment_intent_id
                .unwrap_or(failure.charge_id.clone()),
            reason: format!(
                "no gift yet for charge {} of failed refund {refund_id}",
                failure.charge_id
            ),
        });
    };
    fail_refund_request(txn, gift.id, &failure.refund).await?;
    let failed = stripe_refund_failure::Model {
        refund_id: refund_id.clone(),
        gift_id: gift.id,
        amount_minor: Ord::max(failure.refund.amount_minor, 0),
        refund_created_at: failure.refund_created_at,
        failed_at: failure.failed_at,
        created_at: Utc::now(),
    };
    let inserted = stripe_refund_failure::Entity::insert(stripe_refund_failure::ActiveModel::from(
        failed.clone(),
    ))
    .on_conflict(
        OnConflict::column(stripe_refund_failure::Column::RefundId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    if inserted == 0 {
        return Ok(Settled::Duplicate(format!(
            "refund {refund_id} of gift {} is already known to have failed",
            gift.id
        )));
    }
    let id = gift.id;
    if !gift.refunds_as_of.is_some_and(|at| counted_at(&failed, at)) {
        return Ok(Settled::Applied(format!(
            "refund {refund_id} failed; gift {id} did not count it"
        )));
    }
    let refunded = Ord::max(gift.refunded_minor - failed.amount_minor, 0);
    let pending = gift.status == GiftStatus::Pending;
    let status = status_after_refund(
        status_before_refunds(gift.status),
        gift.amount_minor,
        refunded,
    );
    let mut row: gift::ActiveModel = gift.into();
    row.refunded_minor = Set(refunded);
    row.refunds_as_of = Set(Some(failure.failed_at));
    row.status = Set(status);
    row.updated_at = Set(Utc::now());
    let gift = row.update(txn).await?;
    if !pending {
        receipts::on_refund_failed(txn, org, &gift).await?;
    }
    Ok(Settled::Applied(format!(
        "refund {refund_id} failed; gift {id} is {status} ({refunded} refunded)"
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
        status_after_refund(
            GiftStatus::Succeeded,
            gift.amount_minor,
            gift.refunded_minor,
        )
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
    let find = async || {
        stripe_dispute::Entity::find_by_id(notice.dispute_id.clone())
            .one(txn)
            .await
    };
    let existing = match find().await? {
        Some(dispute) => dispute,
        None => {
            // Two notices of a new dispute delivered at once both find no row: the
            // second waits for the first's insert, inserts nothing, and then reads the
            // first's row as any later notice does.
            let inserted = stripe_dispute::Entity::insert(stripe_dispute::ActiveModel {
                dispute_id: Set(notice.dispute_id.clone()),
                gift_id: Set(gift.id),
                status: Set(notice.status.clone()),
                closed: Set(closes),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .on_conflict(
                OnConflict::column(stripe_dispute::Column::DisputeId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
            if inserted > 0 {
                return Ok(lost);
            }
            find().await?.ok_or_else(|| {
                DomainError::Unexpected(anyhow::anyhow!(
                    "dispute {} was neither inserted nor found",
                    notice.dispute_id
                ))
            })?
        }
    };
    match existing {
        dispute if dispute.closed => Ok(false),
        dispute => {
            let mut row: stripe_dispute::ActiveModel = dispute.into();
            row.status = Set(notice.status.clone());
            row.closed = Set(closes);
            row.updated_at = Set(now);
            row.update(txn).await?;
            Ok(lost)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refund_of_everything_marks_the_gift_refunded() {
        let succeeded = GiftStatus::Succeeded;
        assert_eq!(
            status_after_refund(succeeded, 5_000, 5_000),
            GiftStatus::Refunded
        );
        assert_eq!(
            status_after_refund(succeeded, 5_000, 1_000),
            GiftStatus::PartiallyRefunded
        );
        assert_eq!(status_after_refund(succeeded, 5_000, 0), succeeded);
        assert_eq!(
            status_after_refund(GiftStatus::Refunded, 5_000, 0),
            GiftStatus::Refunded
        );
    }

    #[test]
    fn a_disputed_gift_stays_disputed_when_refunded() {
        assert_eq!(
            status_after_refund(GiftStatus::Disputed, 5_000, 5_000),
            GiftStatus::Disputed
        );
    }

    #[test]
    fn a_pending_gift_stays_pending_until_its_payment_settles() {
        assert_eq!(
            status_after_refund(GiftStatus::Pending, 5_000, 1_000),
            GiftStatus::Pending
        );
    }
}
