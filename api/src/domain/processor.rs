//! What the domain needs from a payment processor, in the domain's words: start a
//! donor's checkout and say how it went, refund a card gift, change a card pledge's subscription (pause, resume, cancel, a new
//! amount), and open the page where a donor updates their card. The Stripe module
//! implements it; the domain decides when to ask, and never sees Stripe's types.

use std::future::Future;

use entity::stripe_event;
use sea_orm::DatabaseConnection;
use url::Url;

use super::DomainError;
use super::donations::{CheckoutOutcome, CheckoutStarted, Donation};
use super::payments::EventOutcome;
pub use super::payments::{ProcessorRefund, RefundFailure, RefundProcessor};
use super::pledge_actions::PledgeAction;
use super::reconciliation::{ApplySettings, ReconcileRange, ReconcileRun};
use crate::config::Config;

pub trait PaymentProcessor: RefundProcessor + Send + Sync {
    /// Starts the processor's hosted checkout for a donation, once per
    /// `idempotency_key`.
    fn start_checkout(
        &self,
        donation: &Donation,
        organization: &str,
        public_url: &Url,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<CheckoutStarted, DomainError>> + Send;

    /// Where a checkout this service started stands at the processor.
    fn checkout_outcome(
        &self,
        session_id: &str,
    ) -> impl Future<Output = Result<CheckoutOutcome, DomainError>> + Send;

    /// Asks the processor to apply `action` to a subscription, once per
    /// `idempotency_key`.
    fn change_subscription(
        &self,
        subscription_id: &str,
        action: &PledgeAction,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<(), DomainError>> + Send;

    /// The address of a page where the customer updates the card their pledges are
    /// paid with, coming back to `return_url`; the same key opens the same page.
    fn billing_portal_url(
        &self,
        customer_id: &str,
        return_url: &str,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<String, DomainError>> + Send;

    /// Lists the processor's records for the range and compares them with the books;
    /// with `apply`, records what the books lack, then compares again.
    fn reconcile(
        &self,
        db: &DatabaseConnection,
        range: ReconcileRange,
        apply: Option<ApplySettings<'_>>,
    ) -> impl Future<Output = Result<ReconcileRun, DomainError>> + Send;

    /// Processes an event the processor sent, stored earlier, again from its payload:
    /// what a redelivery would do.
    fn reprocess_event(
        &self,
        db: &DatabaseConnection,
        config: &Config,
        stored: &stripe_event::Model,
    ) -> impl Future<Output = Result<EventOutcome, DomainError>> + Send;
}
