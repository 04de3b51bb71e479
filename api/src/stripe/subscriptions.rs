//! Changing a card pledge's subscription at Stripe (pause, resume, cancel, change the
//! amount) and opening the billing portal, for the domain's `PaymentProcessor`. The domain decides what to ask and records it; the pledge itself
//! changes when Stripe's `customer.subscription.*` event arrives.

use serde_json::Value;

use super::client::StripeClient;
use crate::domain::DomainError;
use crate::domain::pledge_actions::PledgeAction;

/// Keeps an id inside its path segment.
fn segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

impl StripeClient {
    /// Asks Stripe to apply `action` to a subscription, once per `idempotency_key`.
    pub async fn update_subscription(
        &self,
        subscription_id: &str,
        action: &PledgeAction,
        idempotency_key: &str,
    ) -> Result<(), DomainError> {
        let subscription = segment(subscription_id);
        let path = format!("/subscriptions/{subscription}");
        match action {
            PledgeAction::Pause => {
                let form = [("pause_collection[behavior]".to_owned(), "void".to_owned())];
                self.post(&path, &form, idempotency_key).await?;
            }
            PledgeAction::Resume => {
                let form = [("pause_collection".to_owned(), String::new())];
                self.post(&path, &form, idempotency_key).await?;
            }
            PledgeAction::Cancel { .. } => {
                self.delete(&path, idempotency_key).await?;
            }
            PledgeAction::ChangeAmount(amount) => {
                let current = self.retrieve_subscription(&subscription).await?;
                let item = &current["items"]["data"][0];
                let item_id = item["id"].as_str().unwrap_or_default().to_owned();
                let product = match &item["price"]["product"] {
                    Value::String(id) => id.clone(),
                    other => other["id"].as_str().unwrap_or_default().to_owned(),
                };
                if item_id.is_empty() || product.is_empty() {
                    return Err(DomainError::Payment(
                        "the subscription has no item to change".into(),
                    ));
                }
                let recurring = &item["price"]["recurring"];
                let interval = recurring["interval"].as_str().unwrap_or("month").to_owned();
                // A quarterly pledge is billed every 3 months: the count is part of its
                // schedule.
                let interval_count = recurring["interval_count"].as_u64().unwrap_or(1).max(1);
                let form = [
                    ("items[0][id]".to_owned(), item_id),
                    (
                        "items[0][price_data][currency]".to_owned(),
                        amount.currency().code().to_lowercase(),
                    ),
                    ("items[0][price_data][product]".to_owned(), product),
                    (
                        "items[0][price_data][unit_amount]".to_owned(),
                        amount.amount_minor().to_string(),
                    ),
                    (
                        "items[0][price_data][recurring][interval]".to_owned(),
                        interval,
                    ),
                    (
                        "items[0][price_data][recurring][interval_count]".to_owned(),
                        interval_count.to_string(),
                    ),
                    ("items[0][quantity]".to_owned(), "1".to_owned()),
                    ("proration_behavior".to_owned(), "none".to_owned()),
                ];
                self.post(&path, &form, idempotency_key).await?;
            }
        }
        Ok(())
    }

    /// A Stripe billing portal session for the customer; answers its address.
    pub async fn billing_portal_session(
        &self,
        customer_id: &str,
        return_url: &str,
        idempotency_key: &str,
    ) -> Result<String, DomainError> {
        let form = [
            ("customer".to_owned(), customer_id.to_owned()),
            ("return_url".to_owned(), return_url.to_owned()),
        ];
        let session = self
            .post("/billing_portal/sessions", &form, idempotency_key)
            .await?;
        session["url"]
            .as_str()
            .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
            .map(str::to_owned)
            .ok_or_else(|| DomainError::Payment("the billing portal session has no address".into()))
    }
}
