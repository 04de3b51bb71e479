//! Refunding a card gift through Stripe: the domain decides what may be refunded and
//! keeps the request; here the request is sent, under its stored request id as the
//! idempotency key and with that id in the refund's metadata, so Stripe's refund can be
//! matched to it whichever answer arrives first.

use super::client::{StripeClient, StripeFailure};
use super::events::processor_refund;
use crate::domain::payments::{ProcessorRefund, RefundFailure, RefundProcessor};

impl RefundProcessor for StripeClient {
    async fn refund(
        &self,
        charge_id: Option<&str>,
        payment_intent_id: Option<&str>,
        amount_minor: i64,
        request_id: &str,
    ) -> Result<ProcessorRefund, RefundFailure> {
        let answer = self
            .create_refund(charge_id, payment_intent_id, amount_minor, request_id)
            .await;
        match answer {
            // An answer without a refund's id or amount is treated as no answer: the
            // same request id sent again refunds at most once.
            Ok(refund) => processor_refund(&refund).ok_or_else(|| {
                RefundFailure::Unavailable("Stripe's answer names no refund".to_owned())
            }),
            Err(StripeFailure::Unavailable(reason)) => Err(RefundFailure::Unavailable(format!(
                "Stripe is unavailable: {reason}"
            ))),
            Err(failure) => Err(RefundFailure::Refused(failure.to_string())),
        }
    }
}
