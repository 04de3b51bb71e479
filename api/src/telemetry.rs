//! Structured logs: human-readable by default, JSON when `LOG_FORMAT=json`.

use std::io::IsTerminal;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,actix_server=warn";

/// Installs the global subscriber. `RUST_LOG` refines the filter. Safe to call twice.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Logs every request once it is answered: request id, method, path, status and latency.
/// A caller's `X-Request-Id` is kept (when it is short and printable), otherwise one is
/// made; either way it is returned in the response.
pub async fn log_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let method = request.method().to_string();
    let path = request.path().to_owned();
    let span = tracing::info_span!("request", request_id = %request_id, %method, %path);
    let started = Instant::now();
    let result = next.call(request).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(REQUEST_ID.clone(), value);
            }
            if status >= 500 {
                tracing::error!(status, latency_ms, "request failed");
            } else {
                tracing::info!(status, latency_ms, "request");
            }
            Ok(response)
        }
        Err(error) => {
            tracing::error!(%error, latency_ms, "request failed");
            Err(error)
        }
    }
}
