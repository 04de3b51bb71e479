//! A gift a donor chose on the donation page, and its way through the payment
//! processor's checkout: started once per idempotency key, remembered so the thank-you
//! page asks the processor only about checkouts this service started, and read back
//! from the books first.

use entity::Money;
use entity::enums::GiftStatus;
use sea_orm::DatabaseConnection;
use url::Url;

use super::DomainError;
use super::gifts::Tribute;
use super::payments::{self, CreatedSessions};
use super::processor::PaymentProcessor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Once,
    Monthly,
}

/// Everything a donor chose on the donation page, already checked.
#[derive(Debug, Clone)]
pub struct Donation {
    pub frequency: Frequency,
    pub amount: Money,
    pub fund_code: String,
    pub fund_name: String,
    pub appeal_code: Option<String>,
    pub tribute: Option<Tribute>,
    pub name: String,
    pub email: String,
    /// "en", "es", "fr", "ar".
    pub language: String,
    pub email_consent: bool,
    pub anonymous: bool,
}

/// A checkout the processor started: its id, and where to send the donor to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutStarted {
    pub id: String,
    pub url: String,
}

/// Where a donor's checkout stands, as the thank-you page tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutOutcome {
    Paid,
    Processing,
    Failed,
    Unknown,
}

/// Starts the processor's checkout for a donation; the same key always yields the same
/// checkout. The checkout is remembered so that the thank-you page may ask about it.
pub async fn start_checkout(
    db: &DatabaseConnection,
    processor: &impl PaymentProcessor,
    created_sessions: &CreatedSessions,
    donation: &Donation,
    organization: &str,
    public_url: &Url,
    idempotency_key: &str,
) -> Result<CheckoutStarted, DomainError> {
    let started = processor
        .start_checkout(donation, organization, public_url, idempotency_key)
        .await?;
    if let Err(error) = created_sessions.remember(db, &started.id).await {
        tracing::warn!(%error, "cannot remember a created Checkout Session");
    }
    Ok(started)
}

/// What is known of a checkout's payment: from the books when its event has arrived,
/// otherwise from the processor, which is asked only about checkouts this service
/// started.
pub async fn checkout_outcome(
    db: &DatabaseConnection,
    processor: &impl PaymentProcessor,
    session_id: &str,
) -> CheckoutOutcome {
    if session_id.is_empty() {
        return CheckoutOutcome::Unknown;
    }
    let recorded = payments::checkout_gift_status(db, session_id)
        .await
        .unwrap_or(None);
    match recorded {
        Some(GiftStatus::Succeeded) => return CheckoutOutcome::Paid,
        Some(GiftStatus::Pending) => return CheckoutOutcome::Processing,
        Some(GiftStatus::Failed) => return CheckoutOutcome::Failed,
        Some(_) => return CheckoutOutcome::Unknown,
        None => {}
    }
    if !payments::created_checkout_session(db, session_id)
        .await
        .unwrap_or(false)
    {
        return CheckoutOutcome::Unknown;
    }
    match processor.checkout_outcome(session_id).await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::warn!(%error, "cannot read a Checkout Session for the thank-you page");
            CheckoutOutcome::Unknown
        }
    }
}
