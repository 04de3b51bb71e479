//! Calls to Stripe's API: Checkout Sessions, refunds, and fetching objects an event
//! refers to. Every POST carries an idempotency key, so retrying it is safe; timeouts,
//! 429 and 5xx answers are retried with backoff a few times before giving up.

use std::time::Duration;

use ::stripe::{IdempotencyKey, RequestStrategy, StripeError};
use serde_json::Value;
use stripe_client_core::{RequestBuilder, StripeMethod};

use crate::config::Config;

/// The Stripe API version every request asks for (the client library's pinned
/// version); the event parser reads invoices in this version's shape.
pub fn api_version() -> String {
    stripe_client_core::VERSION.as_str().to_owned()
}

/// How many times a request is tried in all.
const ATTEMPTS: u32 = 3;
/// The wait before the first retry; it doubles after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call to Stripe failed.
#[derive(Debug, thiserror::Error)]
pub enum StripeFailure {
    /// Stripe is not configured (no `STRIPE_SECRET_KEY`).
    #[error("Stripe is not configured: set STRIPE_SECRET_KEY")]
    NotConfigured,
    /// Timeouts, 429 or 5xx that outlasted the retries: worth trying again later.
    #[error("Stripe is unavailable: {0}")]
    Unavailable(String),
    /// Stripe refused the request as made.
    #[error("Stripe refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
}

impl From<StripeFailure> for crate::domain::DomainError {
    fn from(failure: StripeFailure) -> Self {
        crate::domain::DomainError::Payment(failure.to_string())
    }
}

fn classify(error: StripeError) -> (StripeFailure, bool) {
    match error {
        StripeError::Stripe(errors, status) => {
            let message = errors
                .message
                .clone()
                .unwrap_or_else(|| "no message".into());
            if status == 429 || status >= 500 || status == 409 {
                (
                    StripeFailure::Unavailable(format!("{status}: {message}")),
                    true,
                )
            } else {
                (StripeFailure::Refused { status, message }, false)
            }
        }
        StripeError::Timeout => (StripeFailure::Unavailable("timed out".into()), true),
        StripeError::ClientError(text) | StripeError::JSONDeserialize(text) => {
            (StripeFailure::Unavailable(text), true)
        }
        StripeError::ConfigError(text) => (StripeFailure::Unavailable(text), false),
    }
}

/// The Stripe API client, built from `STRIPE_SECRET_KEY` and `STRIPE_API_BASE`.
#[derive(Clone)]
pub struct StripeClient {
    client: Option<::stripe::Client>,
}

impl StripeClient {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let client = match &config.stripe_secret_key {
            Some(secret) => Some(
                ::stripe::ClientBuilder::new(secret.expose())
                    .url(config.stripe_api_base.as_str())
                    .timeout(ATTEMPT_TIMEOUT)
                    .build()
                    .map_err(|e| anyhow::anyhow!("cannot build the Stripe client: {e}"))?,
            ),
            None => None,
        };
        Ok(StripeClient { client })
    }

    /// Sends one request, retrying transient failures with backoff. POST requests
    /// must carry an idempotency key so a retry cannot act twice.
    async fn send(
        &self,
        method: StripeMethod,
        path: &str,
        query: Option<String>,
        form: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, StripeFailure> {
        let client = self.client.as_ref().ok_or(StripeFailure::NotConfigured)?;
        let strategy = match idempotency_key {
            Some(key) => RequestStrategy::Idempotent(
                IdempotencyKey::new(key)
                    .map_err(|e| StripeFailure::Unavailable(format!("idempotency key: {e}")))?,
            ),
            None => RequestStrategy::Once,
        };
        let retry_safe = idempotency_key.is_some() || matches!(method, StripeMethod::Get);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let mut request = RequestBuilder::new(method, path);
            request.body = form.clone();
            request.query = query.clone();
            let result = request
                .customize::<miniserde::json::Value>()
                .request_strategy(strategy.clone())
                .send(client)
                .await;
            match result {
                Ok(value) => {
                    let text = miniserde::json::to_string(&value);
                    return serde_json::from_str(&text).map_err(|e| {
                        StripeFailure::Unavailable(format!("unreadable answer: {e}"))
                    });
                }
                Err(error) => {
                    let (failure, transient) = classify(error);
                    if !transient || !retry_safe || attempt >= ATTEMPTS {
                        tracing::warn!(%failure, path, attempt, "Stripe request failed");
                        return Err(failure);
                    }
                    tracing::info!(%failure, path, attempt, "Stripe request failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }

    pub async fn post(
        &self,
        path: &str,
        form: &[(String, String)],
        idempotency_key: &str,
    ) -> Result<Value, StripeFailure> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send(
            StripeMethod::Post,
            path,
            None,
            Some(body),
            Some(idempotency_key),
        )
        .await
    }

    pub async fn delete(&self, path: &str, idempotency_key: &str) -> Result<Value, StripeFailure> {
        self.send(
            StripeMethod::Delete,
            path,
            None,
            None,
            Some(idempotency_key),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Result<Value, StripeFailure> {
        self.send(StripeMethod::Get, path, None, None, None).await
    }

    /// A list endpoint filtered by one parameter (`/checkout/sessions`, `subscription`).
    pub async fn list_by(
        &self,
        path: &str,
        field: &str,
        value: &str,
    ) -> Result<Value, StripeFailure> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(field, value)
            .finish();
        self.send(StripeMethod::Get, path, Some(query), None, None)
            .await
    }

    pub async fn retrieve_checkout_session(&self, id: &str) -> Result<Value, StripeFailure> {
        self.get(&format!("/checkout/sessions/{}", path_segment(id)))
            .await
    }

    pub async fn retrieve_subscription(&self, id: &str) -> Result<Value, StripeFailure> {
        self.get(&format!("/subscriptions/{}", path_segment(id)))
            .await
    }

    pub async fn retrieve_customer(&self, id: &str) -> Result<Value, StripeFailure> {
        self.get(&format!("/customers/{}", path_segment(id))).await
    }

    /// Refunds a charge (or a payment intent's charge), once per idempotency key.
    pub async fn create_refund(
        &self,
        charge_id: Option<&str>,
        payment_intent_id: Option<&str>,
        amount_minor: i64,
        idempotency_key: &str,
    ) -> Result<Value, StripeFailure> {
        let mut form = vec![("amount".to_owned(), amount_minor.to_string())];
        match (charge_id, payment_intent_id) {
            (Some(charge), _) => form.push(("charge".into(), charge.into())),
            (None, Some(intent)) => form.push(("payment_intent".into(), intent.into())),
            (None, None) => {
                return Err(StripeFailure::Refused {
                    status: 400,
                    message: "nothing to refund: no charge and no payment intent".into(),
                });
            }
        }
        form.push(("reason".into(), "requested_by_customer".into()));
        // The refund carries the request id, so its listing matches it to the request.
        form.push(("metadata[request_id]".into(), idempotency_key.into()));
        self.post("/refunds", &form, idempotency_key).await
    }
}

/// Keeps an id from escaping its path segment.
fn path_segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}
