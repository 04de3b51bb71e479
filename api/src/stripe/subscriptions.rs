//! Changing a card pledge's subscription at Stripe: pause, resume, cancel, change the
//! amount. The pledge itself changes when Stripe's `customer.subscription.*` event
//! arrives; here the request is made (once per idempotency key) and audited.

use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::client::StripeClient;
use crate::config::Config;
use crate::domain::idempotency::clean_key;
use crate::domain::pledge_actions::{
    PledgeAction, change_envelope_pledge, check_action, earlier_change, find_pledge,
    record_requested_change,
};
use crate::domain::{Actor, DomainError};
use entity::enums::PledgeSource;
use entity::{pledge, pledge_change_request};

/// Keeps an id inside its path segment.
fn segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Asks Stripe to apply `action` to a card pledge's subscription. `key` makes a retried
/// request count once; without it the request is a new change with a key of its own.
pub async fn request_pledge_change(
    db: &DatabaseConnection,
    client: &StripeClient,
    actor: &Actor,
    pledge: &pledge::Model,
    action: PledgeAction,
    key: Option<&str>,
) -> Result<(), DomainError> {
    if pledge.source != PledgeSource::StripeSubscription {
        return Err(DomainError::validation(
            "id",
            "an envelope pledge changes directly",
        ));
    }
    check_action(pledge, &action)?;
    let subscription = pledge
        .stripe_subscription_id
        .as_deref()
        .map(segment)
        .ok_or_else(|| DomainError::validation("id", "the pledge has no subscription"))?;
    let path = format!("/subscriptions/{subscription}");
    // One key per intended change, kept in the audit entry: the caller's key, or a new
    // one. A key made of the change's values (42 to 60) would come back when the same
    // values do, and Stripe would answer the later change with the earlier result.
    let suffix = match key {
        Some(key) => key.to_owned(),
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    let idempotency_key = format!("pledge-{}-{}-{suffix}", pledge.id, action.name());
    match &action {
        PledgeAction::Pause => {
            let form = [("pause_collection[behavior]".to_owned(), "void".to_owned())];
            client.post(&path, &form, &idempotency_key).await?;
        }
        PledgeAction::Resume => {
            let form = [("pause_collection".to_owned(), String::new())];
            client.post(&path, &form, &idempotency_key).await?;
        }
        PledgeAction::Cancel { .. } => {
            client.delete(&path, &idempotency_key).await?;
        }
        PledgeAction::ChangeAmount(amount) => {
            let current = client.retrieve_subscription(&subscription).await?;
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
            // A quarterly pledge is billed every 3 months: the count is part of its schedule.
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
            client.post(&path, &form, &idempotency_key).await?;
        }
    }
    record_requested_change(db, actor, pledge, &action, &idempotency_key, key).await
}

/// What a change to a pledge did.
pub struct PledgeChangeOutcome {
    /// The pledge as it stands now: changed for an envelope pledge; for a card pledge
    /// as before, until Stripe's event confirms the change.
    pub pledge: pledge::Model,
    /// True when the change was asked of Stripe rather than made here.
    pub requested_of_processor: bool,
}

/// Applies an action to a pledge the way its kind requires: an envelope pledge
/// changes here, in one transaction; a card pledge's subscription is asked to change
/// at Stripe, and its webhook events change the pledge. Under a caller's key the same
/// change sent again answers the first one, and a change that differs is a conflict.
pub async fn change_pledge(
    db: &DatabaseConnection,
    config: &Config,
    actor: &Actor,
    pledge_id: i64,
    action: PledgeAction,
    key: Option<&str>,
) -> Result<PledgeChangeOutcome, DomainError> {
    let key = clean_key(key.map(str::to_owned))?;
    if let Some(key) = key.as_deref()
        && let Some(earlier) = earlier_change(db, key, pledge_id, &action).await?
    {
        return replayed(db, earlier).await;
    }
    let made = make_change(db, config, actor, pledge_id, action.clone(), key.as_deref()).await;
    match (made, key.as_deref()) {
        // Another request under the same key was made first.
        (
            Err(DomainError::Conflict {
                field: Some(field), ..
            }),
            Some(key),
        ) if field == "idempotencyKey" => {
            match earlier_change(db, key, pledge_id, &action).await? {
                Some(earlier) => replayed(db, earlier).await,
                None => Err(DomainError::conflict(
                    Some("idempotencyKey"),
                    "another change under this idempotency key is being made; send it again",
                )),
            }
        }
        (made, _) => made,
    }
}

/// The answer to a change made before under the same key: the pledge as it stands now.
async fn replayed(
    db: &DatabaseConnection,
    earlier: pledge_change_request::Model,
) -> Result<PledgeChangeOutcome, DomainError> {
    Ok(PledgeChangeOutcome {
        pledge: find_pledge(db, earlier.pledge_id).await?,
        requested_of_processor: earlier.processor_key.is_some(),
    })
}

async fn make_change(
    db: &DatabaseConnection,
    config: &Config,
    actor: &Actor,
    pledge_id: i64,
    action: PledgeAction,
    key: Option<&str>,
) -> Result<PledgeChangeOutcome, DomainError> {
    let pledge = find_pledge(db, pledge_id).await?;
    match pledge.source {
        PledgeSource::Envelope => {
            let policy = config.club_policy();
            let pledge = change_envelope_pledge(db, actor, &policy, pledge_id, action, key).await?;
            Ok(PledgeChangeOutcome {
                pledge,
                requested_of_processor: false,
            })
        }
        PledgeSource::StripeSubscription => {
            let client = StripeClient::from_config(config).map_err(DomainError::Unexpected)?;
            request_pledge_change(db, &client, actor, &pledge, action, key).await?;
            Ok(PledgeChangeOutcome {
                pledge,
                requested_of_processor: true,
            })
        }
    }
}

/// A Stripe billing portal session where a donor updates the card their pledges are
/// paid with, coming back to `return_url`. Answers the session's address.
pub async fn billing_portal_url(
    client: &StripeClient,
    customer_id: &str,
    return_url: &str,
    idempotency_key: &str,
) -> Result<String, DomainError> {
    let form = [
        ("customer".to_owned(), customer_id.to_owned()),
        ("return_url".to_owned(), return_url.to_owned()),
    ];
    let session = client
        .post("/billing_portal/sessions", &form, idempotency_key)
        .await?;
    session["url"]
        .as_str()
        .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
        .map(str::to_owned)
        .ok_or_else(|| DomainError::Payment("the billing portal session has no address".into()))
}
