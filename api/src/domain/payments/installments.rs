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

/// Creates the pledge for a subscription, or brings its status up to date, and
/// re-evaluates the donor's club membership.
pub(super) async fn sync_pledge(
    txn: &DatabaseTransaction,
    club: &ClubChange<'_>,
    subscription: &Subscription,
) -> Result<pledge::Model, DomainError> {
    let pledge = create_or_update_pledge(txn, subscription).await?;
    club.evaluate(txn, pledge.donor_id).await?;
    Ok(pledge)
}

pub(super) async fn create_or_update_pledge(
    txn: &DatabaseTransaction,
    subscription: &Subscription,
) -> Result<pledge::Model, DomainError> {
    if let Some(existing) = pledge_for_subscription(txn, &subscription.subscription_id).await? {
        return update_pledge_status(txn, existing, subscription).await;
    }
    let donor = find_or_create_donor(txn, &subscription.payer).await?;
    let (fund_id, appeal_id, campaign_id) =
        resolve_designation(txn, &subscription.designation).await?;
    let now = Utc::now();
    let candidate = pledge::ActiveModel {
        donor_id: Set(donor.id),
        source: Set(PledgeSource::StripeSubscription),
        installment_minor: Set(subscription.installment.amount_minor()),
        currency: Set(subscription.installment.currency().code().to_owned()),
        frequency: Set(subscription.frequency),
        starts_on: Set(subscription.started_at.date_naive()),
        status: Set(subscription.status),
        fund_id: Set(fund_id),
        appeal_id: Set(appeal_id),
        campaign_id: Set(campaign_id),
        stripe_subscription_id: Set(Some(subscription.subscription_id.clone())),
        past_due_since: Set((subscription.status == PledgeStatus::PastDue).then_some(now)),
        cancelled_at: Set(subscription.cancelled_at),
        cancel_reason: Set(subscription.cancel_reason.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let savepoint = txn.begin().await?;
    match candidate.insert(&savepoint).await {
        Ok(created) => {
            savepoint.commit().await?;
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
            Ok(created)
        }
        Err(error) if is_unique_violation(&error) => {
            savepoint.rollback().await?;
            let existing = pledge_for_subscription(txn, &subscription.subscription_id)
                .await?
                .ok_or_else(|| DomainError::Unexpected(anyhow::Error::new(error)))?;
            update_pledge_status(txn, existing, subscription).await
        }
        Err(error) => Err(error.into()),
    }
}

pub(super) async fn update_pledge_status(
    txn: &DatabaseTransaction,
    existing: pledge::Model,
    subscription: &Subscription,
) -> Result<pledge::Model, DomainError> {
    // A cancelled pledge stays cancelled: a late "updated" event cannot revive it.
    if existing.status == PledgeStatus::Cancelled {
        return Ok(existing);
    }
    let installment = subscription.installment.amount_minor();
    let amount_changed = existing.installment_minor != installment
        && existing.currency == subscription.installment.currency().code();
    if existing.status == subscription.status && !amount_changed {
        return Ok(existing);
    }
    let now = Utc::now();
    let status_changed = existing.status != subscription.status;
    let resumed = existing.status == PledgeStatus::Paused && status_changed;
    let skipped = installments_skipped_when_resumed(&existing, now.date_naive());
    let mut row: pledge::ActiveModel = existing.into();
    if resumed {
        row.paused_at = Set(None);
        row.installments_skipped = Set(skipped);
    }
    if amount_changed {
        row.installment_minor = Set(installment);
    }
    if !status_changed {
        row.updated_at = Set(now);
        return Ok(row.update(txn).await?);
    }
    row.status = Set(subscription.status);
    match subscription.status {
        PledgeStatus::PastDue => row.past_due_since = Set(Some(now)),
        PledgeStatus::Active => row.past_due_since = Set(None),
        PledgeStatus::Cancelled => {
            row.cancelled_at = Set(Some(subscription.cancelled_at.unwrap_or(now)));
            row.cancel_reason = Set(subscription.cancel_reason.clone());
        }
        PledgeStatus::Paused => row.paused_at = Set(Some(now)),
        PledgeStatus::Completed => {}
    }
    row.updated_at = Set(now);
    let pledge = row.update(txn).await?;
    if pledge.status == PledgeStatus::Cancelled {
        queue_cancellation_email(txn, &pledge).await?;
    }
    Ok(pledge)
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
    org: &Organization,
    club: &ClubChange<'_>,
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
            Some(subscription) => sync_pledge(txn, club, subscription).await?,
            None => {
                return Ok(Settled::Waiting {
                    on: payment.subscription_id.clone(),
                    reason: format!("no pledge yet for subscription {}", payment.subscription_id),
                });
            }
        },
    };
    let pledge = if pledge.status == PledgeStatus::PastDue {
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
    let donor = donors::find_donor(txn, pledge.donor_id).await?;
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
    let (gift, created) = record_gift_once(txn, org, new, async |txn| {
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
            Some(subscription) => sync_pledge(txn, club, subscription).await?,
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
    // A failure notice for an invoice since paid (a retry that worked) is stale.
    if let Some(paid) = gift_for_invoice(txn, &failure.invoice_id).await? {
        return Ok(Settled::Applied(format!(
            "invoice {} was paid since (gift {}); pledge {} stays {}",
            failure.invoice_id, paid.id, pledge.id, pledge.status
        )));
    }
    // An installment paid after this failure already made the pledge current again; a
    // late failure notice must not undo that. Only an active pledge falls behind.
    let paid_since = gift::Entity::find()
        .filter(gift::Column::PledgeId.eq(pledge.id))
        .filter(gift::Column::ReceivedAt.gt(failure.failed_at))
        .one(txn)
        .await?
        .is_some();
    let id = pledge.id;
    let pledge = if pledge.status == PledgeStatus::Active && !paid_since {
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
    // news arrived in (its cancellation after the last failed retry, say).
    queue_pledge_email(
        txn,
        "payment_failed",
        format!("payment_failed:{}", failure.invoice_id),
        &pledge,
        serde_json::json!({ "invoice_id": failure.invoice_id }),
    )
    .await?;
    Ok(Settled::Applied(format!(
        "invoice {} failed; pledge {id} is {}",
        failure.invoice_id, pledge.status
    )))
}
