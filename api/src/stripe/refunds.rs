//! Refunding a card gift through Stripe. The gift itself changes only when Stripe's
//! `charge.refunded` event arrives, so the books follow what Stripe actually did.

use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use super::client::StripeClient;
use crate::domain::payments::refundable_card_gift;
use crate::domain::{Actor, DomainError, audit};

/// A refund Stripe accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedRefund {
    pub gift_id: i64,
    pub refund_id: String,
    pub amount_minor: i64,
    /// Stripe's status: "succeeded", "pending", ...
    pub status: String,
}

/// Asks Stripe to refund `amount_minor` of a card gift (what remains when `None`).
/// The idempotency key defaults to one derived from the gift, what it has refunded so
/// far and the amount, so the same request sent twice refunds once.
pub async fn refund_card_gift(
    db: &DatabaseConnection,
    client: &StripeClient,
    actor: &Actor,
    gift_id: i64,
    amount_minor: Option<i64>,
    idempotency_key: Option<&str>,
) -> Result<RequestedRefund, DomainError> {
    let (refundable, amount) = refundable_card_gift(db, gift_id, amount_minor).await?;
    let key = match idempotency_key {
        Some(key) => format!("refund-gift-{gift_id}-{key}"),
        None => format!(
            "refund-gift-{gift_id}-from-{}-amount-{amount}",
            refundable.gift.refunded_minor
        ),
    };
    let refund = client
        .create_refund(
            refundable.charge_id.as_deref(),
            refundable.payment_intent_id.as_deref(),
            amount,
            &key,
        )
        .await?;
    let field = |name: &str| refund.get(name).and_then(Value::as_str).map(str::to_owned);
    let requested = RequestedRefund {
        gift_id,
        refund_id: field("id").unwrap_or_default(),
        amount_minor: refund
            .get("amount")
            .and_then(Value::as_i64)
            .unwrap_or(amount),
        status: field("status").unwrap_or_else(|| "pending".into()),
    };
    audit::record(
        db,
        actor,
        "gift.refund_requested",
        "gift",
        Some(gift_id.to_string()),
        json!({
            "amountMinor": requested.amount_minor,
            "stripeRefundId": requested.refund_id,
            "status": requested.status,
        }),
    )
    .await?;
    Ok(requested)
}
