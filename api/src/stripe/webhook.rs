//! `POST /webhooks/stripe`: verify the signature on the raw body, read the event, fetch
//! what it refers to when our records lack it, and record it exactly once.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::client::StripeClient;
use super::{events, signature};
use crate::domain::payments::{self, EventOutcome, PaymentEffect};
use crate::server::AppState;

pub async fn receive(
    state: web::Data<AppState>,
    stripe: web::Data<StripeClient>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = request
        .headers()
        .get("Stripe-Signature")
        .and_then(|value| value.to_str().ok());
    if let Err(error) = signature::verify(
        header,
        &body,
        &state.config.stripe_webhook_secrets,
        chrono::Utc::now().timestamp(),
    ) {
        tracing::warn!(%error, "refused a Stripe webhook");
        return HttpResponse::BadRequest().json(json!({ "error": error.to_string() }));
    }
    let mut event = match events::parse_event(&body) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(%error, "refused a signed but unreadable Stripe webhook");
            return HttpResponse::BadRequest().json(json!({ "error": error.to_string() }));
        }
    };

    // An installment can arrive before the checkout that started its subscription:
    // then the subscription is fetched so the pledge can be made from it.
    if let PaymentEffect::InstallmentPaid(payment) = &mut event.effect {
        match payments::pledge_exists(&state.db, &payment.subscription_id).await {
            Ok(true) => {}
            Ok(false) => {
                let fetched = stripe
                    .retrieve_subscription(&payment.subscription_id)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|object| events::subscription(&object).map_err(|e| e.to_string()));
                match fetched {
                    Ok(subscription) => payment.subscription = Some(Box::new(subscription)),
                    Err(error) => {
                        tracing::error!(event = %event.id, %error, "cannot fetch the subscription of an invoice");
                        return HttpResponse::ServiceUnavailable().json(
                            json!({ "error": "cannot fetch the subscription; retry later" }),
                        );
                    }
                }
            }
            Err(error) => return failed(&event.id, error),
        }
    }

    let event_id = event.id.clone();
    match payments::record_processor_event(
        &state.db,
        &state.config.org,
        &state.config.club_policy(),
        event,
    )
    .await
    {
        Ok(EventOutcome::Recorded(outcome)) => {
            tracing::info!(event = %event_id, %outcome, "recorded a Stripe event");
            HttpResponse::Ok().json(json!({ "received": true, "outcome": outcome }))
        }
        Ok(EventOutcome::AlreadyRecorded) => {
            HttpResponse::Ok().json(json!({ "received": true, "outcome": "already recorded" }))
        }
        Err(error) => failed(&event_id, error),
    }
}

/// Anything else is answered 500, so Stripe delivers the event again later.
fn failed(event_id: &str, error: crate::domain::DomainError) -> HttpResponse {
    tracing::error!(
        event = %event_id,
        error = format!("{:#}", anyhow::Error::from(error)),
        "cannot record a Stripe event"
    );
    HttpResponse::InternalServerError().json(json!({ "error": "not recorded; retry later" }))
}
