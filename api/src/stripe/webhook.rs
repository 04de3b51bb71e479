//! `POST /webhooks/stripe`: verify the signature on the raw body, read the event, fetch
//! what it refers to when our records lack it, and record it exactly once.

use actix_web::{HttpRequest, HttpResponse, web};
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::client::StripeClient;
use super::lookups::{self, LookupError};
use super::{events, signature};
use entity::enums::StripeEventStatus;

use crate::config::Config;
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
        state.metrics.stripe_event("unknown", "refused");
        return HttpResponse::BadRequest().json(json!({ "error": error.to_string() }));
    }
    // A redelivery of an event settled before is a read: answered before the event is
    // parsed, without a write turn, and from memory when this process has seen it settle.
    if let Some((event_id, event_type)) = events::event_identity(&body) {
        match state.settled_events.status(&state.db, &event_id).await {
            Ok(Some(status)) => return already_recorded(&state, &event_type, status),
            Ok(None) => {}
            Err(error) => {
                state.metrics.stripe_event(&event_type, "retry");
                return failed(&event_id, error);
            }
        }
    }
    let mut event = match events::parse_event(&body) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(%error, "refused a signed but unreadable Stripe webhook");
            state.metrics.stripe_event("unknown", "refused");
            return HttpResponse::BadRequest().json(json!({ "error": error.to_string() }));
        }
    };

    match lookups::complete_event(&state.db, &stripe, &mut event).await {
        Ok(()) => {}
        Err(LookupError::Unavailable(error)) => {
            tracing::error!(event = %event.id, %error, "cannot fetch from Stripe what an event refers to");
            state.metrics.stripe_event(&event.event_type, "retry");
            return HttpResponse::ServiceUnavailable()
                .json(json!({ "error": "cannot reach Stripe; retry later" }));
        }
        Err(LookupError::Domain(error)) => {
            state.metrics.stripe_event(&event.event_type, "retry");
            return failed(&event.id, error);
        }
    }

    let event_id = event.id.clone();
    let event_type = event.event_type.clone();
    match state.event_writer.record(&state.db, event).await {
        Ok(EventOutcome::Recorded { status, summary }) => {
            tracing::info!(event = %event_id, %status, outcome = %summary, "recorded a Stripe event");
            state.metrics.stripe_event(&event_type, status.as_str());
            state.settled_events.remember(&event_id, status);
            if status == StripeEventStatus::Applied {
                apply_waiting_events(&state.db, &state.config, &stripe).await;
            }
            HttpResponse::Ok()
                .json(json!({ "received": true, "status": status, "outcome": summary }))
        }
        Ok(EventOutcome::AlreadyRecorded(status)) => already_recorded(&state, &event_type, status),
        Err(error) => {
            state.metrics.stripe_event(&event_type, "retry");
            failed(&event_id, error)
        }
    }
}

/// The answer to a delivery of an event recorded before: 200, so Stripe stops sending it.
fn already_recorded(state: &AppState, event_type: &str, status: StripeEventStatus) -> HttpResponse {
    state
        .metrics
        .stripe_event(event_type, StripeEventStatus::Duplicate.as_str());
    HttpResponse::Ok()
        .json(json!({ "received": true, "status": status, "outcome": "already recorded" }))
}

/// Processes a stored event again from its payload: what a redelivery would do.
pub async fn reprocess(
    db: &DatabaseConnection,
    config: &Config,
    stripe: &StripeClient,
    stored: &entity::stripe_event::Model,
) -> Result<EventOutcome, ReprocessError> {
    let body = serde_json::to_vec(&stored.payload)
        .map_err(|e| ReprocessError::Unreadable(e.to_string()))?;
    let mut event = events::parse_event(&body).map_err(|e| ReprocessError::Unreadable(e.0))?;
    lookups::complete_event(db, stripe, &mut event)
        .await
        .map_err(|error| match error {
            LookupError::Unavailable(reason) => ReprocessError::StripeUnavailable(reason),
            LookupError::Domain(error) => ReprocessError::Domain(error),
        })?;
    let outcome = payments::record_processor_event(
        db,
        &config.org,
        config.org_currency,
        &config.club_policy(),
        event,
    )
    .await
    .map_err(ReprocessError::Domain)?;
    if matches!(
        outcome,
        EventOutcome::Recorded {
            status: StripeEventStatus::Applied,
            ..
        }
    ) {
        Box::pin(apply_waiting_events(db, config, stripe)).await;
    }
    Ok(outcome)
}

/// Why a stored event could not be processed again.
#[derive(Debug, thiserror::Error)]
pub enum ReprocessError {
    #[error("the stored payload cannot be read: {0}")]
    Unreadable(String),
    #[error("cannot reach Stripe: {0}")]
    StripeUnavailable(String),
    #[error(transparent)]
    Domain(crate::domain::DomainError),
}

/// Applies the waiting events whose payment or subscription has now been recorded.
/// Each is its own transaction; one that still cannot apply stays waiting, and one that
/// fails to run is left for the next event, a redelivery or staff to retry.
async fn apply_waiting_events(db: &DatabaseConnection, config: &Config, stripe: &StripeClient) {
    let ready = match payments::waiting_events_now_ready(db).await {
        Ok(ready) => ready,
        Err(error) => {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "cannot list waiting Stripe events"
            );
            return;
        }
    };
    for stored in ready {
        match Box::pin(reprocess(db, config, stripe, &stored)).await {
            Ok(outcome) => {
                tracing::info!(event = %stored.event_id, ?outcome, "applied a waiting Stripe event");
            }
            Err(error) => {
                tracing::warn!(event = %stored.event_id, %error, "a waiting Stripe event could not be applied yet");
            }
        }
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
