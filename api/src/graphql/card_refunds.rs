//! Refunding card gifts through Stripe.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use entity::enums::StaffRole;
use entity::{Currency, Money};

use super::context::{actor, config, db, parse_id};
use super::errors::{GqlResultExt, bad_input};
use super::guards::RoleGuard;
use crate::stripe::StripeClient;
use crate::stripe::refunds::refund_card_gift;

/// A refund Stripe accepted. The gift's status and refunded amount change when Stripe
/// confirms the refund with its `charge.refunded` event.
#[derive(SimpleObject)]
pub struct CardRefund {
    /// The gift being refunded.
    pub gift_id: ID,
    /// Stripe's id for the refund.
    pub stripe_refund_id: String,
    /// The amount refunded, in minor units (cents).
    pub amount_minor: i64,
    /// Stripe's status for the refund: succeeded, pending, requires_action, failed.
    pub status: String,
}

#[derive(Default)]
pub struct CardRefundMutation;

#[Object]
impl CardRefundMutation {
    /// Refunds a card gift through Stripe, all of what remains or part of it. Sending
    /// the same request twice refunds once.
    #[graphql(guard = "RoleGuard::new(StaffRole::Staff)")]
    async fn refund_gift(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The card gift to refund.")] gift_id: ID,
        #[graphql(
            desc = "How much to refund, as typed (\"25\", \"25.50\"); everything not yet refunded when omitted."
        )]
        amount: Option<String>,
        #[graphql(
            desc = "A key of your choosing: a retried request with the same key refunds once."
        )]
        idempotency_key: Option<String>,
    ) -> Result<CardRefund> {
        let gift_id = parse_id("giftId", &gift_id)?;
        let amount_minor = match amount.as_deref() {
            Some(text) => Some(
                Money::parse_major(text, Currency::Usd)
                    .map_err(|e| bad_input("amount", e))?
                    .amount_minor(),
            ),
            None => None,
        };
        let client = StripeClient::from_config(config(ctx)?).map_err(|e| bad_input("stripe", e))?;
        let refund = refund_card_gift(
            db(ctx)?,
            &client,
            &actor(ctx)?,
            gift_id,
            amount_minor,
            idempotency_key.as_deref(),
        )
        .await
        .gql()?;
        Ok(CardRefund {
            gift_id: ID(refund.gift_id.to_string()),
            stripe_refund_id: refund.refund_id,
            amount_minor: refund.amount_minor,
            status: refund.status,
        })
    }
}
