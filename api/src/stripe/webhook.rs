//! `POST /webhooks/stripe`: verify the signature on the raw body, read the event, fetch
//! what it refers to when our records lack it, and record it exactly once.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::client::StripeClient;
use super::lookups::{self, LookupError};
use super::{events, signature};
use crate::domain::payments::{self, EventOutcome};
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

    match lookups::complete_event(&state.db, &stripe, &mut event).await {
        Ok(()) => {}
        Err(LookupError::Unavailable(error)) => {
            tracing::error!(event = %event.id, %error, "cannot fetch from Stripe what an event refers to");
            return HttpResponse::ServiceUnavailable()
                .json(json!({ "error": "cannot reach Stripe; retry later" }));
        }
        Err(LookupError::Domain(error)) => return failed(&event.id, error),
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
