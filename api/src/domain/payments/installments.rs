//! Subscriptions and their installments: the pledge, each paid invoice, failed payments.

#[allow(unused_imports)]
use super::*;

pub(super) async fn pledge_for_subscription(
    txn: &DatabaseTransaction,
    subscription_id: &str,
) -> Result<Option<pledge::Model>, DomainError> {
    Ok(pledge::Entity::find()
        .filter(pledge::Column::StripeSubscriptionId.eq(subscription_id))
        .one(txn)
        .await?)
}

/// A pledge after a subscription's state reached it.
pub(super) struct PledgeSynced {
    pub(super) pledge: pledge::Model,
    /// Why the state changed nothing: the pledge holds a newer one, or is cancelled.
    pub(super) stale: Option<String>,
}

/// Creates the pledge for a subscription, or brings it up to date, and re-evaluates
/// the donor's club membership.
pub(super) async fn sync_pledge(
    txn: &DatabaseTransaction,
    club: &ClubChange<'_>,
    subscription: &Subscription,
) -> Result<PledgeSynced, DomainError> {
    let synced = create_or_update_pledge(txn, subscription).await?;
    club.evaluate(txn, synced.pledge.donor_id).await?;
    Ok(synced)
}

pub(super) async fn create_or_update_pledge(
    txn: &DatabaseTransaction,
    subscription: &Subscription,
) -> Result<PledgeSynced, DomainError> {
    if let Some(existing) = pledge_for_subscription(txn, &subscription.subscription_id).await? {
        return update_pledge_status(txn, existing, subscription).await;
    }
    let donor = find_or_create_donor(txn, &subscription.payer).await?;
    let (fund, appeal_id, campaign_id) =
        resolve_designation(txn, &subscription.designation).await?;
    let now = Utc::now();
    let candidate = pledge::ActiveModel {
        donor_id: Set(donor.id),
        source: Set(PledgeSource::StripeSubscription),
        installment_minor: Set(subscription.installment.amount_minor()),
        currency: Set(subscription.installment.currency().code().to_owned()),
        // Only a checkout session leaves it unsaid, and the donation page starts
        // monthly subscriptions only.
        frequency: Set(subscription.frequency.unwrap_or(PledgeFrequency::Monthly)),
        starts_on: Set(subscription.started_at.date_naive()),
        status: Set(subscription.status),
        fund_id: Set(fund.id),
        appeal_id: Set(appeal_id),
        campaign_id: Set(campaign_id),
        stripe_subscription_id: Set(Some(subscription.subscription_id.clone())),
        past_due_since: Set(
            (subscription.status == PledgeStatus::PastDue).then_some(subscription.as_of)
        ),
        cancelled_at: Set(subscription.cancelled_at),
        cancel_reason: Set(subscription.cancel_reason.clone()),
        stripe_state_at: Set(Some(subscription.as_of)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    // A concurrent insert of the same subscription's pledge wins; this one then does
    // nothing and brings the winner's pledge up to date.
    match insert_unless_taken(txn, candidate).await? {
        Some(created) => {
            keep_checkout_choices(
                txn,
                &donor,
                &subscription.payer.choices(),
                MadeByCheckout::Pledge(created.id),
            )
            .await?;
            queue_pledge_email(
                txn,
                "club_welcome",
                format!("club_welcome:{}", created.id),
                &created,
                serde_json::Value::Null,
            )
            .await?;
            // A subscription first seen already cancelled (its cancellation arrived
            // before its start): the donor hears of both, as in the usual order.
            if created.status == PledgeStatus::Cancelled {
                queue_cancellation_email(txn, &created).await?;
            }
            Ok(PledgeSynced {
                pledge: created,
                stale: None,
            })
        }
        None => {
            let existing = pledge_for_subscription(txn, &subscription.subscription_id)
                .await?
                .ok_or_else(|| {
                    DomainError::conflict(None, "the pledge conflicts with another pledge")
                })?;
            update_pledge_status(txn, existing, subscription).await
        }
    }
}

/// Why a subscription's state must not reach a pledge, if it must not: the pledge is
/// cancelled, which is final, or it took a newer state of the subscription before.
/// Events arrive in any order, so only the processor's own time of each state says
/// which is newer; in the same second, the state the subscription was created with
/// yields to any other. A cancellation is never older than what it ends.
fn stale_state(pledge: &pledge::Model, subscription: &Subscription) -> Option<String> {
    if pledge.status == PledgeStatus::Cancelled {
        return Some(format!("pledge {} is cancelled, which is final", pledge.id));
    }
    let applied = pledge.stripe_state_at?;
    let older =
        subscription.as_of < applied || (subscription.as_of == applied && subscription.first_state);
    (older && subscription.status != PledgeStatus::Cancelled).then(|| {
        format!(
            "the subscription's state of {} is older than the one pledge {} took, of {}",
            subscription.as_of.to_rfc3339(),
            pledge.id,
            applied.to_rfc3339()
        )
    })
}

/// Whether an invoice's failure of `at` is older than the subscription state the
/// pledge holds, which then already accounts for it.
pub(super) fn state_is_newer_than(pledge: &pledge::Model, at: DateTime<Utc>) -> bool {
    pledge.stripe_state_at.is_some_and(|applied| applied > at)
}

pub(super) async fn update_pledge_status(
    txn: &DatabaseTransaction,
    existing: pledge::Model,
    subscription: &Subscription,
) -> Result<PledgeSynced, DomainError> {
    if let Some(reason) = stale_state(&existing, subscription) {
        return Ok(PledgeSynced {
            pledge: existing,
            stale: Some(reason),
        });
    }
    let installment = subscription.installment.amount_minor();
    let amount_changed = existing.installment_minor != installment
        && existing.currency == subscription.installment.currency().code();
    let frequency = subscription.frequency.unwrap_or(existing.frequency);
    let frequency_changed = existing.frequency != frequency;
    let as_of = Ord::max(existing.stripe_state_at, Some(subscription.as_of));
    let status_changed = existing.status != subscription.status;
    if !status_changed && !amount_changed && !frequency_changed && as_of == existing.stripe_state_at
    {
        return Ok(PledgeSynced {
            pledge: existing,
            stale: None,
        });
    }
    let now = Utc::now();
    let resumed = existing.status == PledgeStatus::Paused && status_changed;
    let skipped = installments_skipped_when_resumed(&existing, now.date_naive());
    let mut row: pledge::ActiveModel = existing.into();
    // Even a state that changes nothing is the newest: an older one must not follow it.
    row.stripe_state_at = Set(as_of);
    row.updated_at = Set(now);
    if resumed {
        row.paused_at = Set(None);
        row.installments_skipped = Set(skipped);
    }
    if amount_changed {
        row.installment_minor = Set(installment);
    }
    if frequency_changed {
        row.frequency = Set(frequency);
    }
    if !status_changed {
        return Ok(PledgeSynced {
            pledge: row.update(txn).await?,
            stale: None,
        });
    }
    row.status = Set(subscription.status);
    match subscription.status {
        // The processor's time of the state, so a payment can be told from before or after.
        PledgeStatus::PastDue => row.past_due_since = Set(Some(subscription.as_of)),
        PledgeStatus::Active => row.past_due_since = Set(None),
        PledgeStatus::Cancelled => {
            row.cancelled_at = Set(Some(subscription.cancelled_at.unwrap_or(now)));
            row.cancel_reason = Set(subscription.cancel_reason.clone());
        }
        PledgeStatus::Paused => row.paused_at = Set(Some(now)),
        PledgeStatus::Completed => {}
    }
    let pledge = row.update(txn).await?;
    if pledge.status == PledgeStatus::Cancelled {
        queue_cancellation_email(txn, &pledge).await?;
    }
    Ok(PledgeSynced {
        pledge,
        stale: None,
    })
}

/// Tells the donor their pledge was cancelled, once per pledge whatever the order of
/// the events that said so.
async fn queue_cancellation_email(
    txn: &DatabaseTransaction,
    pledge: &pledge::Model,
) -> Result<(), DomainError> {
    queue_pledge_email(
        txn,
        "pledge_cancelled",
        format!("pledge_cancelled:{}", pledge.id),
        pledge,
        serde_json::Value::Null,
    )
    .await
}

pub(super) async fn gift_for_invoice(
    txn: &DatabaseTransaction,
    invoice_id: &str,
) -> Result<Option<gift::Model>, DomainError> {
    Ok(gift::Entity::find()
        .filter(gift::Column::StripeInvoiceId.eq(invoice_id))
        .one(txn)
        .await?)
}

/// One paid invoice: one installment gift, linked to its pledge.
pub(super) async fn record_installment(
    txn: &DatabaseTransaction,
    club: &ClubChange<'_>,
    recorded: &mut Vec<Unacknowledged>,
    payment: InstallmentPayment,
) -> Result<Settled, DomainError> {
    if let Some(existing) = gift_for_invoice(txn, &payment.invoice_id).await? {
        return Ok(Settled::Duplicate(format!(
            "installment gift {} already recorded",
            existing.id
        )));
    }
    let pledge = match pledge_for_subscription(txn, &payment.subscription_id).await? {
        Some(pledge) => pledge,
        None => match payment.subscription.as_deref() {
            Some(subscription) => sync_pledge(txn, club, subscription).await?.pledge,
            None => {
                return Ok(Settled::Waiting {
                    on: payment.subscription_id.clone(),
                    reason: format!("no pledge yet for subscription {}", payment.subscription_id),
                });
            }
        },
    };
    // A payment makes a past-due pledge current only when it was made after the pledge
    // fell behind: an older installment delivered late says nothing of today.
    let pledge = if pledge.status == PledgeStatus::PastDue
        && pledge
            .past_due_since
            .is_none_or(|since| payment.paid_at >= since)
    {
        let mut row: pledge::ActiveModel = pledge.into();
        row.status = Set(PledgeStatus::Active);
        row.past_due_since = Set(None);
        row.updated_at = Set(Utc::now());
        let revived = row.update(txn).await?;
        club.evaluate(txn, revived.donor_id).await?;
        revived
    } else {
        pledge
    };
    // The donor's row is held from this first read (after the pledge's, as a change to
    // the pledge by staff takes them), so acknowledging the gift need not read it again.
    let donor = receipts::hold_donor(txn, pledge.donor_id).await?;
    let payer = PayerDetails {
        email: payment.payer_email.clone(),
        customer_id: payment.customer_id.clone(),
        ..PayerDetails::default()
    };
    let donor = update_payer_links(txn, donor, &payer).await?;
    let mut new = NewGift::new(
        donor.id,
        payment.amount,
        PaymentMethod::Card,
        GiftStatus::Succeeded,
        pledge.fund_id,
        payment.paid_at,
    );
    // Installments may arrive in any order: the invoice says which one opened the
    // subscription; an invoice that does not say is first if none came before it.
    let first_installment = match payment.first_installment {
        Some(first) => first,
        None => gift::Entity::find()
            .filter(gift::Column::PledgeId.eq(pledge.id))
            .one(txn)
            .await?
            .is_none(),
    };
    new.first_installment = payment.first_installment;
    if first_installment {
        new.tribute = payment.tribute.clone();
    }
    new.pledge_id = Some(pledge.id);
    new.appeal_id = pledge.appeal_id;
    new.campaign_id = pledge.campaign_id;
    new.anonymous = donor.anonymous;
    new.stripe_invoice_id = Some(payment.invoice_id.clone());
    new.stripe_payment_intent_id = payment.payment_intent_id.clone();
    new.stripe_charge_id = payment.charge_id.clone();
    let invoice_id = payment.invoice_id.clone();
    let fund = funds::find_fund(txn, pledge.fund_id).await?;
    let read = (&donor, &fund, receipts::DonorHold::Held);
    let (gift, created) = record_gift_once(txn, recorded, new, read, async |txn| {
        gift_for_invoice(txn, &invoice_id).await
    })
    .await?;
    Ok(if created {
        Settled::Applied(format!(
            "recorded installment gift {} of pledge {}",
            gift.id, pledge.id
        ))
    } else {
        Settled::Duplicate(format!("installment gift {} already recorded", gift.id))
    })
}

pub(super) async fn mark_past_due(
    txn: &DatabaseTransaction,
    club: &ClubChange<'_>,
    failure: InstallmentFailure,
) -> Result<Settled, DomainError> {
    let pledge = match pledge_for_subscription(txn, &failure.subscription_id).await? {
        Some(pledge) => pledge,
        None => match failure.subscription.as_deref() {
            Some(subscription) => sync_pledge(txn, club, subscription).await?.pledge,
            None => {
                return Ok(Settled::Waiting {
                    on: failure.subscription_id.clone(),
                    reason: format!(
                        "no pledge yet for subscription {}; invoice {} failed",
                        failure.subscription_id, failure.invoice_id
                    ),
                });
            }
        },
    };
    // A failure notice for an invoice since paid (a retry that worked) is stale for the
    // pledge's status, and so is one older than an installment paid after it (which
    // made the pledge current again) or than the subscription state the pledge holds
    // (which already says what the failure did). Only an active pledge falls behind.
    let retried = gift_for_invoice(txn, &failure.invoice_id).await?;
    let paid_since = gift::Entity::find()
        .filter(gift::Column::PledgeId.eq(pledge.id))
        .filter(gift::Column::ReceivedAt.gt(failure.failed_at))
        .one(txn)
        .await?
        .is_some();
    let id = pledge.id;
    let pledge = if pledge.status == PledgeStatus::Active
        && retried.is_none()
        && !paid_since
        && !state_is_newer_than(&pledge, failure.failed_at)
    {
        let mut row: pledge::ActiveModel = pledge.into();
        row.status = Set(PledgeStatus::PastDue);
        row.past_due_since = Set(Some(failure.failed_at));
        row.updated_at = Set(Utc::now());
        let pledge = row.update(txn).await?;
        club.evaluate(txn, pledge.donor_id).await?;
        pledge
    } else {
        pledge
    };
    // The donor is told of the failed payment once, whatever order the pledge's other
    // news arrived in (its cancellation after the last failed retry, or the retry's
    // payment, say): told in the order things happened, the donor hears of it, so in
    // any other order too.
    queue_pledge_email(
        txn,
        "payment_failed",
        format!("payment_failed:{}", failure.invoice_id),
        &pledge,
        serde_json::json!({ "invoice_id": failure.invoice_id }),
    )
    .await?;
    if let Some(paid) = retried {
        return Ok(Settled::Applied(format!(
            "invoice {} was paid since (gift {}); pledge {id} stays {}",
            failure.invoice_id, paid.id, pledge.status
        )));
    }
    Ok(Settled::Applied(format!(
        "invoice {} failed; pledge {id} is {}",
        failure.invoice_id, pledge.status
    )))
}
