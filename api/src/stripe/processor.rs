//! Stripe as the domain's payment processor: each of the port's requests, sent the way
//! Stripe takes it (see `checkout`, `subscriptions` and `refunds`).

use entity::stripe_event;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use url::Url;

use super::checkout::create_checkout_session;
use super::client::StripeClient;
use super::reconcile::reconcile_with_stripe;
use super::webhook::{ReprocessError, reprocess};
use crate::config::Config;
use crate::domain::DomainError;
use crate::domain::donations::{CheckoutOutcome, CheckoutStarted, Donation};
use crate::domain::payments::EventOutcome;
use crate::domain::pledge_actions::PledgeAction;
use crate::domain::processor::PaymentProcessor;
use crate::domain::reconciliation::{ApplySettings, ReconcileRange, ReconcileRun};

impl PaymentProcessor for StripeClient {
    async fn start_checkout(
        &self,
        donation: &Donation,
        organization: &str,
        public_url: &Url,
        idempotency_key: &str,
    ) -> Result<CheckoutStarted, DomainError> {
        let session =
            create_checkout_session(self, donation, organization, public_url, idempotency_key)
                .await?;
        Ok(CheckoutStarted {
            id: session.id,
            url: session.url,
        })
    }

    async fn checkout_outcome(&self, session_id: &str) -> Result<CheckoutOutcome, DomainError> {
        let session = self.retrieve_checkout_session(session_id).await?;
        let field = |name: &str| session.get(name).and_then(Value::as_str).unwrap_or("");
        Ok(match (field("status"), field("payment_status")) {
            (_, "paid" | "no_payment_required") => CheckoutOutcome::Paid,
            ("complete", _) => CheckoutOutcome::Processing,
            ("expired", _) => CheckoutOutcome::Failed,
            _ => CheckoutOutcome::Unknown,
        })
    }

    async fn change_subscription(
        &self,
        subscription_id: &str,
        action: &PledgeAction,
        idempotency_key: &str,
    ) -> Result<(), DomainError> {
        self.update_subscription(subscription_id, action, idempotency_key)
            .await
    }

    async fn billing_portal_url(
        &self,
        customer_id: &str,
        return_url: &str,
        idempotency_key: &str,
    ) -> Result<String, DomainError> {
        self.billing_portal_session(customer_id, return_url, idempotency_key)
            .await
    }

    async fn reconcile(
        &self,
        db: &DatabaseConnection,
        range: ReconcileRange,
        apply: Option<ApplySettings<'_>>,
    ) -> Result<ReconcileRun, DomainError> {
        reconcile_with_stripe(db, self, range, apply).await
    }

    async fn reprocess_event(
        &self,
        db: &DatabaseConnection,
        config: &Config,
        stored: &stripe_event::Model,
    ) -> Result<EventOutcome, DomainError> {
        match reprocess(db, config, self, stored).await {
            Ok(outcome) => Ok(outcome),
            Err(ReprocessError::Domain(error)) => Err(error),
            Err(other) => Err(DomainError::Payment(other.to_string())),
        }
    }
}
