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

mod gathered;

const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,actix_server=warn";

/// Installs the global subscriber. `RUST_LOG` refines the filter. Safe to call twice.
///
/// Lines go to standard error, gathered in memory and written out, in order, by a thread
/// of the log's own every [`gathered::EVERY`]. Keep the returned guard until the program
/// ends: dropping it writes out the lines still gathered.
pub fn init(format: LogFormat) -> LogGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let (writer, guard) =
        gathered::start(std::io::stderr(), gathered::EVERY, gathered::HELD_AT_MOST);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    LogGuard {
        _writer: installed.is_ok().then_some(guard),
    }
}

/// Keeps the log's writer; dropping it writes out every line still gathered.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: Option<gathered::WriterGuard<std::io::Stderr>>,
}

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Query parameters that carry a credential: link signatures and personal donate
/// tokens, Stripe's session ids.
const SECRET_PARAMETERS: &[&str] = &["signature", "t", "token", "session_id"];

/// What the request log may say of a path and query: a self-service token in the path
/// (`/manage/{token}`, a 30-day credential) and every credential in the query become `…`.
pub fn loggable_target(path: &str, query: &str) -> String {
    let mut target = match path.strip_prefix("/manage/") {
        Some(rest) => match rest.split_once('/') {
            Some((_, tail)) => format!("/manage/…/{tail}"),
            None => "/manage/…".to_owned(),
        },
        None => path.to_owned(),
    };
    if !query.is_empty() {
        let parts: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if SECRET_PARAMETERS.contains(&name) => format!("{name}=…"),
                _ => pair.to_owned(),
            })
            .collect();
        target.push('?');
        target.push_str(&parts.join("&"));
    }
    target
}

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
    let path = loggable_target(request.path(), request.query_string());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_signatures_never_reach_the_log() {
        assert_eq!(
            loggable_target("/manage/7.1790000000.abcdef0123", ""),
            "/manage/…"
        );
        assert_eq!(
            loggable_target("/manage/7.1790000000.abcdef0123/pledges/3", ""),
            "/manage/…/pledges/3"
        );
        assert_eq!(
            loggable_target(
                "/receipts/2026-000001.pdf",
                "expires=1790000000&signature=abcdef"
            ),
            "/receipts/2026-000001.pdf?expires=1790000000&signature=…"
        );
        assert_eq!(
            loggable_target("/appeals/unsubscribe", "donor=7&signature=abcdef"),
            "/appeals/unsubscribe?donor=7&signature=…"
        );
        assert_eq!(
            loggable_target(
                "/donate",
                "appeal=FALL-E&t=7.7500.1790000000.abcdef&lang=es"
            ),
            "/donate?appeal=FALL-E&t=…&lang=es"
        );
        assert_eq!(
            loggable_target("/donate/thanks", "session_id=cs_test_123"),
            "/donate/thanks?session_id=…"
        );
        assert_eq!(loggable_target("/healthz", ""), "/healthz");
    }

    /// Collects what the log subscriber writes.
    #[derive(Clone, Default)]
    pub(super) struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Captured {
        /// Everything written so far.
        pub(super) fn text(&self) -> String {
            String::from_utf8(self.0.lock().map(|b| b.clone()).unwrap_or_default())
                .unwrap_or_default()
        }
    }

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut buffer) = self.0.lock() {
                buffer.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn the_request_log_shows_a_manage_path_without_its_token() {
        use actix_web::{App, HttpResponse, test, web};

        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(
            App::new()
                .wrap(actix_web::middleware::from_fn(log_requests))
                .route(
                    "/manage/{token}",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                ),
        )
        .await;
        let request = test::TestRequest::get()
            .uri("/manage/7.1790000000.deadbeefcafe?lang=es")
            .to_request();
        let response = test::call_service(&app, request).await;
        assert!(response.status().is_success());

        let log = captured.text();
        assert!(log.contains("/manage/…?lang=es"), "{log}");
        assert!(!log.contains("deadbeefcafe"), "{log}");
    }
}
