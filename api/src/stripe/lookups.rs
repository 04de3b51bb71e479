//! Fetching through Stripe's API what an event refers to but does not carry, before the
//! event is recorded: an installment's payment (invoice events never include it), and
//! the subscription, checkout session and customer behind a pledge the service has not
//! seen yet. A checkout session is the fullest account of a donor's choices (email,
//! name, language, consent, fund, appeal, tribute), so a pledge made before its
//! checkout event arrives is made from the same session that event will carry.
//!
//! Stripe answering "no such object" leaves the event as it is; Stripe unreachable is
//! an error, so the webhook answers 5xx and Stripe delivers the event again.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::client::{StripeClient, StripeFailure};
use super::events;
use super::reconcile;
use crate::domain::DomainError;
use crate::domain::payments::{self, PaymentEffect, ProcessorEvent, Subscription};

/// Why an event could not be completed now.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Stripe could not be reached: worth delivering again later.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

/// Stripe's answer, with "no such object" (and any other refusal, or no key
/// configured) as `None`.
async fn optional(
    answer: impl Future<Output = Result<Value, StripeFailure>>,
) -> Result<Option<Value>, LookupError> {
    match answer.await {
        Ok(value) => Ok(Some(value)),
        Err(StripeFailure::Unavailable(reason)) => Err(LookupError::Unavailable(reason)),
        Err(failure @ (StripeFailure::Refused { .. } | StripeFailure::NotConfigured)) => {
            tracing::info!(%failure, "Stripe has no answer for a lookup");
            Ok(None)
        }
    }
}

/// Fills in what the event needs and does not carry.
pub async fn complete_event(
    db: &DatabaseConnection,
    stripe: &StripeClient,
    event: &mut ProcessorEvent,
) -> Result<(), LookupError> {
    match &mut event.effect {
        PaymentEffect::InstallmentPaid(payment) => {
            if payment.payment_intent_id.is_none() {
                let listed = stripe.list_by("/invoice_payments", "invoice", &payment.invoice_id);
                if let Some(list) = optional(listed).await? {
                    let (intent, charge) = events::paid_invoice_payment(&list);
                    payment.payment_intent_id = intent;
                    payment.charge_id = payment.charge_id.take().or(charge);
                }
            }
            if !payments::pledge_exists(db, &payment.subscription_id).await? {
                payment.subscription = pledge_source(stripe, &payment.subscription_id)
                    .await?
                    .map(Box::new);
            }
        }
        PaymentEffect::InstallmentFailed(failure) => {
            let known = payments::pledge_exists(db, &failure.subscription_id).await?;
            failure.subscription = match known {
                true => None,
                false => pledge_source(stripe, &failure.subscription_id)
                    .await?
                    .map(Box::new),
            };
        }
        PaymentEffect::SubscriptionCheckoutCompleted(from_session) => {
            // The session does not say how often the subscription bills: its
            // subscription does, as it stands now.
            let asked = asked_at();
            if !payments::pledge_exists(db, &from_session.subscription_id).await?
                && let Some(object) =
                    optional(stripe.retrieve_subscription(&from_session.subscription_id)).await?
                && let Ok(billed) = events::subscription(&object, asked)
            {
                from_session.frequency = billed.frequency;
                from_session.installment = billed.installment;
                from_session.status = billed.status;
                from_session.as_of = billed.as_of;
                from_session.started_at = billed.started_at;
                from_session.cancelled_at = billed.cancelled_at;
                from_session.cancel_reason = billed.cancel_reason;
            }
        }
        PaymentEffect::SubscriptionChanged(subscription) => {
            if !payments::pledge_exists(db, &subscription.subscription_id).await?
                && let Some(session) =
                    checkout_of_subscription(stripe, &subscription.subscription_id).await?
            {
                subscription.payer = session.payer;
                subscription.designation = session.designation;
            }
            if subscription.payer.email.is_none() {
                fill_email_from_customer(stripe, subscription).await?;
            }
        }
        PaymentEffect::ChargeRefunded(refund) => {
            // The event's charge does not list its refunds; the refunds asked for here
            // and not yet confirmed are matched to Stripe's by id.
            let worth_listing = refund.refunds.is_empty()
                && payments::refunds_awaiting_confirmation(
                    db,
                    &refund.charge_id,
                    refund.payment_intent_id.as_deref(),
                )
                .await?;
            if worth_listing {
                let params = [("charge", refund.charge_id.clone())];
                let asked = asked_at();
                let listed = reconcile::list_all(stripe, "/refunds", &params);
                if let Some(listed) = optional_list(listed).await? {
                    refund.refunds = listed.iter().filter_map(events::processor_refund).collect();
                    refund.listed_at = Some(asked);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// A listing, with a refusal as `None` as for [`optional`].
async fn optional_list(
    answer: impl Future<Output = Result<Vec<Value>, StripeFailure>>,
) -> Result<Option<Vec<Value>>, LookupError> {
    match answer.await {
        Ok(list) => Ok(Some(list)),
        Err(StripeFailure::Unavailable(reason)) => Err(LookupError::Unavailable(reason)),
        Err(failure @ (StripeFailure::Refused { .. } | StripeFailure::NotConfigured)) => {
            tracing::info!(%failure, "Stripe has no answer for a listing");
            Ok(None)
        }
    }
}

/// The subscription a pledge is made from: Stripe's subscription, with the donor and
/// designation of the checkout session that started it (or, for a subscription made
/// elsewhere, the customer's email).
async fn pledge_source(
    stripe: &StripeClient,
    subscription_id: &str,
) -> Result<Option<Subscription>, LookupError> {
    let session = checkout_of_subscription(stripe, subscription_id).await?;
    let asked = asked_at();
    let billed = optional(stripe.retrieve_subscription(subscription_id))
        .await?
        .and_then(|object| events::subscription(&object, asked).ok());
    let mut source = match (billed, session) {
        (Some(mut billed), Some(session)) => {
            billed.payer = session.payer;
            billed.designation = session.designation;
            billed
        }
        (Some(billed), None) => billed,
        (None, Some(session)) => session,
        (None, None) => return Ok(None),
    };
    if source.payer.email.is_none() {
        fill_email_from_customer(stripe, &mut source).await?;
    }
    Ok(Some(source))
}

/// The checkout session that started a subscription, read as that subscription.
async fn checkout_of_subscription(
    stripe: &StripeClient,
    subscription_id: &str,
) -> Result<Option<Subscription>, LookupError> {
    let listed = stripe.list_by("/checkout/sessions", "subscription", subscription_id);
    let Some(list) = optional(listed).await? else {
        return Ok(None);
    };
    // What a session says of its subscription is as old as the session.
    Ok(events::first_of_list(&list).and_then(|session| {
        events::checkout_subscription(session, events::created_at(session)?).ok()
    }))
}

/// Stripe's time of a subscription state read through its API: the moment it was asked
/// for, in whole seconds as Stripe stamps its events. The state that comes back is at
/// least that new, so an event made before it, delivered later, does not overwrite it;
/// an event of the same second is applied over it, as it may be the newer.
fn asked_at() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

async fn fill_email_from_customer(
    stripe: &StripeClient,
    subscription: &mut Subscription,
) -> Result<(), LookupError> {
    let Some(customer_id) = subscription.payer.customer_id.clone() else {
        return Ok(());
    };
    if let Some(customer) = optional(stripe.retrieve_customer(&customer_id)).await? {
        let (email, name) = events::customer_contact(&customer);
        subscription.payer.email = email;
        subscription.payer.name = subscription.payer.name.take().or(name);
    }
    Ok(())
}
