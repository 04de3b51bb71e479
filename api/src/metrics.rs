//! `GET /metrics` in Prometheus's text format, behind its own token (`METRICS_TOKEN`).
//!
//! Two kinds of figures: what this process saw (requests by route and status with
//! their latency, Stripe events by type and outcome), kept in this process's own
//! registry, and what the shared database holds at the moment of the scrape (the
//! outbox by status and the age of its oldest waiting message, gifts by status with
//! their amounts and what was received net of refunds, this process's connection pool). Routes are labelled by their
//! pattern, never by the path, so a token in a path never becomes a label.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use sea_orm::{DatabaseConnection, DbBackend};
use sha2::{Digest, Sha256};

use crate::domain::activity;
use crate::server::AppState;

/// This process's registry and the series it keeps.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    stripe_events: IntCounterVec,
    stripe_event_batches: IntCounter,
    stripe_events_batched: IntCounter,
    /// Held while those two are brought up to the writer's counts, so two scrapes at
    /// once do not both add the same difference.
    bringing_up: std::sync::Mutex<()>,
    outbox_messages: IntGaugeVec,
    outbox_oldest_pending_seconds: IntGauge,
    gifts: IntGaugeVec,
    gifts_amount_minor: IntGaugeVec,
    received_net_minor: IntGauge,
    pool_connections: IntGaugeVec,
}

/// Latency buckets, in seconds: from a cached page to the staff API's deadline.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("giving".to_owned()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route pattern, method and status.",
            ),
            &["route", "method", "status"],
        )?;
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route pattern.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )?;
        let stripe_events = IntCounterVec::new(
            Opts::new(
                "stripe_events_total",
                "Stripe webhook deliveries, by event type and outcome (applied, duplicate, \
                 waiting, ignored, failed; refused for a bad signature or body; retry when \
                 answered 5xx so Stripe delivers again).",
            ),
            &["type", "outcome"],
        )?;
        let stripe_event_batches = IntCounter::new(
            "stripe_event_batches_total",
            "Transactions that recorded several Stripe events delivered at the same moment \
             (on SQLite; on PostgreSQL each event is recorded alone).",
        )?;
        let stripe_events_batched = IntCounter::new(
            "stripe_events_batched_total",
            "The Stripe events those transactions recorded.",
        )?;
        let outbox_messages = IntGaugeVec::new(
            Opts::new("outbox_messages", "Emails in the outbox, by status."),
            &["status"],
        )?;
        let outbox_oldest_pending_seconds = IntGauge::new(
            "outbox_oldest_pending_seconds",
            "Seconds the oldest email waiting to be sent has waited; 0 when none waits.",
        )?;
        let gifts = IntGaugeVec::new(
            Opts::new("gifts", "Gifts recorded, by status."),
            &["status"],
        )?;
        let gifts_amount_minor = IntGaugeVec::new(
            Opts::new(
                "gifts_amount_minor",
                "The amounts of the gifts recorded, in minor units of ORG_CURRENCY, by status.",
            ),
            &["status"],
        )?;
        let received_net_minor = IntGauge::new(
            "gifts_received_net_minor",
            "What the organization received and kept: the gifts that count, less their \
             refunds, in minor units of ORG_CURRENCY.",
        )?;
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "This process's database connections: open, idle, in use, and the most it may open.",
            ),
            &["state"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_seconds.clone()))?;
        registry.register(Box::new(stripe_events.clone()))?;
        registry.register(Box::new(stripe_event_batches.clone()))?;
        registry.register(Box::new(stripe_events_batched.clone()))?;
        registry.register(Box::new(outbox_messages.clone()))?;
        registry.register(Box::new(outbox_oldest_pending_seconds.clone()))?;
        registry.register(Box::new(gifts.clone()))?;
        registry.register(Box::new(gifts_amount_minor.clone()))?;
        registry.register(Box::new(received_net_minor.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            request_seconds,
            stripe_events,
            stripe_event_batches,
            stripe_events_batched,
            bringing_up: std::sync::Mutex::new(()),
            outbox_messages,
            outbox_oldest_pending_seconds,
            gifts,
            gifts_amount_minor,
            received_net_minor,
            pool_connections,
        })
    }

    /// Counts one Stripe delivery. The type comes from a signed event, but is still
    /// kept to the shape of Stripe's names so no delivery can grow the label set.
    pub fn stripe_event(&self, event_type: &str, outcome: &str) {
        let event_type = if event_type.len() <= 64
            && !event_type.is_empty()
            && event_type
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
        {
            event_type
        } else {
            "other"
        };
        self.stripe_events
            .with_label_values(&[event_type, outcome])
            .inc();
    }

    /// Brings the counts of events recorded together up to the writer's own, `(batches,
    /// events)` since this process started.
    fn written_together(&self, (batches, events): (u64, u64)) {
        let _one_at_a_time = self
            .bringing_up
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (counter, now) in [
            (&self.stripe_event_batches, batches),
            (&self.stripe_events_batched, events),
        ] {
            counter.inc_by(now.saturating_sub(counter.get()));
        }
    }

    fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.request_seconds
            .with_label_values(&[route])
            .observe(seconds);
    }

    /// The registry in Prometheus's text format, with the database's figures read now.
    async fn render(&self, db: &DatabaseConnection) -> Result<String, String> {
        let read = activity::read(db).await.map_err(|e| e.to_string())?;
        for (status, count) in &read.outbox {
            self.outbox_messages
                .with_label_values(&[status.as_str()])
                .set(*count);
        }
        self.outbox_oldest_pending_seconds
            .set(read.oldest_pending_seconds(chrono::Utc::now()));
        for (status, count, amount) in &read.gifts {
            self.gifts.with_label_values(&[status.as_str()]).set(*count);
            self.gifts_amount_minor
                .with_label_values(&[status.as_str()])
                .set(*amount);
        }
        self.received_net_minor.set(read.received_net_minor);
        let (open, idle, max) = pool_use(db);
        for (state, value) in [
            ("open", open),
            ("idle", idle),
            ("in_use", open - idle),
            ("max", max),
        ] {
            self.pool_connections.with_label_values(&[state]).set(value);
        }
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .map_err(|e| e.to_string())?;
        String::from_utf8(text).map_err(|e| e.to_string())
    }
}

/// Open, idle and most connections of the pool behind `db`.
fn pool_use(db: &DatabaseConnection) -> (i64, i64, i64) {
    fn figures<D: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<D>) -> (i64, i64, i64) {
        (
            i64::from(pool.size()),
            i64::try_from(pool.num_idle()).unwrap_or(i64::MAX),
            i64::from(pool.options().get_max_connections()),
        )
    }
    match db.get_database_backend() {
        DbBackend::Sqlite => figures(db.get_sqlite_connection_pool()),
        DbBackend::Postgres => figures(db.get_postgres_connection_pool()),
        _ => (0, 0, 0),
    }
}

/// Counts every answered request by the pattern of the route that answered it.
pub async fn count_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let method = request.method().to_string();
    let started = Instant::now();
    let result = next.call(request).await;
    if let Some(state) = state {
        let seconds = started.elapsed().as_secs_f64();
        match &result {
            Ok(response) => {
                let route = response
                    .request()
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_owned());
                state
                    .metrics
                    .request(&route, &method, response.status().as_u16(), seconds);
            }
            Err(error) => {
                let status = error.as_response_error().status_code().as_u16();
                state.metrics.request("unmatched", &method, status, seconds);
            }
        }
    }
    result
}

/// `GET /metrics` with `Authorization: Bearer <METRICS_TOKEN>` (compared as digests, so
/// the time taken says nothing about the token). Without the setting the
/// route does not exist (404), so a public deployment shows nothing by default.
pub async fn scrape(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let Some(expected) = state.config.metrics_token.as_ref() else {
        return HttpResponse::NotFound().finish();
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if Sha256::digest(presented.as_bytes()) != Sha256::digest(expected.expose().as_bytes()) {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
            .body("the metrics token is required\n");
    }
    state
        .metrics
        .written_together(state.event_writer.written_together());
    match state.metrics.render(&state.db).await {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(text),
        Err(error) => {
            tracing::error!(%error, "cannot read the figures for /metrics");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_odd_event_type_is_counted_as_other() -> Result<(), prometheus::Error> {
        let metrics = Metrics::new()?;
        metrics.stripe_event("charge.refunded", "applied");
        metrics.stripe_event("Charge.Refunded\n{x=\"1\"}", "applied");
        metrics.stripe_event(&"a".repeat(65), "applied");
        let mut text = Vec::new();
        TextEncoder::new().encode(&metrics.registry.gather(), &mut text)?;
        let text = String::from_utf8_lossy(&text);
        assert!(text.contains(
            "giving_stripe_events_total{outcome=\"applied\",type=\"charge.refunded\"} 1"
        ));
        assert!(text.contains("giving_stripe_events_total{outcome=\"applied\",type=\"other\"} 2"));
        Ok(())
    }

    #[test]
    fn events_recorded_together_are_counted_as_the_writer_counts_them()
    -> Result<(), prometheus::Error> {
        let metrics = Metrics::new()?;
        let scraped = |metrics: &Metrics| -> Result<String, prometheus::Error> {
            let mut text = Vec::new();
            TextEncoder::new().encode(&metrics.registry.gather(), &mut text)?;
            Ok(String::from_utf8_lossy(&text).into_owned())
        };
        for (written, batches, events) in [((0, 0), 0, 0), ((2, 7), 2, 7), ((3, 9), 3, 9)] {
            metrics.written_together(written);
            // Scraped twice: a scrape adds nothing the writer did not count.
            metrics.written_together(written);
            let text = scraped(&metrics)?;
            assert!(
                text.contains(&format!("giving_stripe_event_batches_total {batches}\n")),
                "{text}"
            );
            assert!(
                text.contains(&format!("giving_stripe_events_batched_total {events}\n")),
                "{text}"
            );
        }
        Ok(())
    }
}
