//! Start-up, routes and shutdown.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::config::Config;
use crate::domain::tokens::{self, StaffIdentity};
use crate::graphql::errors::{
    DEADLINE_EXCEEDED, INTERNAL, RATE_LIMITED, RESPONSE_TOO_LARGE, UNAUTHENTICATED,
};
use crate::graphql::token_budget::{TokenBudgets, retry_after_secs};
use crate::graphql::{StaffSchema, build_schema};
use crate::{db, telemetry, web as pages};

/// The largest request body the API accepts (a GraphQL query with its variables).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The payment processor the domain's `PaymentProcessor` port is wired to: the one
/// place that names Stripe for the pages and the GraphQL API.
pub type Processor = crate::stripe::StripeClient;

pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    /// One client for the whole process, shared by every request.
    pub processor: Processor,
    pub schema: StaffSchema,
    /// The staff API's checks of each request before the engine runs it.
    pub budget: crate::graphql::budget::RequestBudget,
    /// Each API token's budget of requests.
    pub token_budgets: TokenBudgets,
    pub checkout_guard: pages::checkout_guard::CheckoutGuard,
    /// This process's counters and histograms for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Staff tokens found valid lately (see `read_cache`).
    pub verified_tokens: tokens::VerifiedTokens,
    /// The donation page's funds, Circle and appeals (see `read_cache`).
    pub page_reads: pages::donate::PageReads,
    /// The funds and tiers every staff API response names (see `read_cache`).
    pub reference_rows: Arc<crate::graphql::loaders::ReferenceRows>,
    /// Stripe events this process has seen settled, so a redelivery reads nothing.
    pub settled_events: crate::domain::payments::SettledEvents,
    /// The Checkout Sessions the donation page created, written together when they
    /// arrive together.
    pub created_sessions: crate::domain::payments::CreatedSessions,
    /// Checkouts and installments Stripe delivers together, recorded together.
    pub event_writer: crate::domain::payments::EventWriter,
}

/// Declares every route once: `ROUTES` lists them (method and path pattern) for
/// whoever must check all of them, and `routes` registers the same list.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path),+ $(,)?) => {
        /// Every route the server answers, as (HTTP method, path pattern).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),+];

        fn routes(config: &mut web::ServiceConfig) {
            $(config.route($path, web::$method().to($handler));)+
        }
    };
}

routes! {
    get "/healthz" => healthz,
    get "/readyz" => readyz,
    post "/graphql" => graphql,
    get "/graphql" => pages::console::console,
    get "/donate" => pages::donate::show,
    post "/donate" => pages::donate::submit,
    get "/donate/thanks" => pages::donate::thanks,
    get "/donate/cancelled" => pages::donate::cancelled,
    post "/webhooks/stripe" => crate::stripe::webhook::receive,
    get "/receipts/{file}" => pages::receipts::download,
    get "/exports/{file}" => pages::exports::download,
    get "/appeals/unsubscribe" => pages::unsubscribe::confirm,
    post "/appeals/unsubscribe" => pages::unsubscribe::unsubscribe,
    get "/circle" => pages::circle::show,
    get "/manage/{token}" => pages::manage::show,
    post "/manage/{token}/pledges/{id}" => pages::manage::change,
    post "/manage/{token}/card" => pages::manage::update_card,
    get "/circle/roster.csv" => pages::circle::roster_csv,
    get "/privacy/exports/{token}" => pages::privacy::download,
    get "/metrics" => crate::metrics::scrape,
}

/// The server, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    db: DatabaseConnection,
}

impl Application {
    /// Connects to the database, runs pending migrations and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let db = db::connect(&config.database_url).await.with_context(|| {
            format!(
                "cannot connect to the database named by DATABASE_URL ({:?})",
                config.database_url
            )
        })?;
        Migrator::up(&db, None)
            .await
            .context("cannot run database migrations")?;
        Application::build_with_db(config, db)
    }

    pub fn build_with_db(
        mut config: Config,
        db: DatabaseConnection,
    ) -> anyhow::Result<Application> {
        config.ensure_download_link_key();
        let listener = TcpListener::bind(config.listen_addr)
            .with_context(|| format!("cannot listen on {} (LISTEN_ADDR)", config.listen_addr))?;
        let port = listener.local_addr()?.port();
        if config.public_url.port() == Some(0) {
            // A PUBLIC_URL taken from a LISTEN_ADDR with port 0 names the port bound.
            let _ = config.public_url.set_port(Some(port));
        }
        let shutdown_timeout = config.shutdown_timeout.as_secs();
        let processor = Processor::from_config(&config)?;
        // The webhook handler takes the same client as its own piece of app data.
        let stripe = web::Data::new(processor.clone());
        let checkout_guard = pages::checkout_guard::CheckoutGuard::new(
            config.checkout.clone(),
            config
                .download_link_key
                .as_ref()
                .map(|key| key.expose())
                .unwrap_or_default(),
            &config.public_url,
        )
        .in_currency(config.org_currency);
        let config = Arc::new(config);
        let state = web::Data::new(AppState {
            checkout_guard,
            schema: build_schema(db.clone(), config.clone(), processor.clone()),
            budget: crate::graphql::budget::RequestBudget::new(),
            token_budgets: TokenBudgets::new(config.graphql_rate_per_minute, config.graphql_burst),
            db: db.clone(),
            metrics: crate::metrics::Metrics::new().context("cannot set up /metrics")?,
            verified_tokens: tokens::VerifiedTokens::new(config.read_cache_lifetime),
            page_reads: pages::donate::PageReads::new(
                config.read_cache_lifetime,
                config.org_currency,
            ),
            reference_rows: Arc::new(crate::graphql::loaders::ReferenceRows::new(
                config.read_cache_lifetime,
            )),
            settled_events: crate::domain::payments::SettledEvents::default(),
            created_sessions: crate::domain::payments::CreatedSessions::default(),
            event_writer: crate::domain::payments::EventWriter::new(
                config.org.clone(),
                config.org_currency,
                config.club_policy(),
                // SQLite takes one writer at a time whatever happens: together, its
                // events share a commit. PostgreSQL runs each event's transaction beside
                // the others', which one transaction for several would put in a row.
                db.get_database_backend() == sea_orm::DbBackend::Sqlite,
            ),
            config,
            processor,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .wrap(Compress::default())
                .wrap(from_fn(crate::metrics::count_requests))
                .wrap(from_fn(telemetry::log_requests))
                .app_data(stripe.clone())
                .configure(routes)
                .wrap(from_fn(pages::headers::security_headers))
        })
        // A response written in more than one piece (a streamed export's last chunk)
        // would otherwise wait for the client's delayed acknowledgment, about 40 ms.
        .tcp_nodelay(true)
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(shutdown_timeout)
        .run();
        Ok(Application { port, server, db })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the handle stops the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The process is up.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The process can reach its database.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => {
            let mut body = json!({ "status": "ready" });
            if let Some(warning) = stripe_events_needing_attention(&state.db).await {
                body["warnings"] = json!({ "stripeEvents": warning });
            }
            let unset = state.config.org.unset_identity();
            if !unset.is_empty() {
                body["warnings"]["organization"] = json!({
                    "unset": unset,
                    "detail": "receipts and statements are marked as samples, not tax receipts, \
                               until ORG_LEGAL_NAME, ORG_EIN and ORG_ADDRESS are set",
                });
            }
            HttpResponse::Ok().json(body)
        }
        Err(error) => {
            tracing::warn!(%error, "readiness check failed: database unreachable");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "unavailable", "reason": "database unreachable" }))
        }
    }
}

/// Failed Stripe events, and those waiting for more than an hour: a warning in the
/// readiness detail (the service still serves), each logged at WARN once.
async fn stripe_events_needing_attention(db: &DatabaseConnection) -> Option<serde_json::Value> {
    let listed =
        crate::domain::payments::events_needing_attention(db, chrono::Utc::now(), 20).await;
    let (total, events) = match listed {
        Ok(listed) => listed,
        Err(error) => {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "cannot list Stripe events needing attention"
            );
            return None;
        }
    };
    if total == 0 {
        return None;
    }
    match crate::domain::payments::mark_reported(db, &events).await {
        Ok(fresh) => {
            for event in fresh {
                tracing::warn!(
                    event = %event.event_id,
                    event_type = %event.event_type,
                    status = %event.status,
                    reason = event.reason.as_deref().unwrap_or(""),
                    "a Stripe event needs attention (see stripeEvents)"
                );
            }
        }
        Err(error) => {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "cannot mark Stripe events as reported"
            );
        }
    }
    let listed: Vec<_> = events
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "stripeEventId": e.event_id,
                "type": e.event_type,
                "outcome": e.status,
                "reason": e.reason,
            })
        })
        .collect();
    Some(json!({ "needingAttention": total, "events": listed }))
}

fn graphql_error(status: actix_web::http::StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    }))
}

async fn authenticate(
    state: &AppState,
    request: &HttpRequest,
) -> Result<Option<StaffIdentity>, HttpResponse> {
    let Some(presented) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return Ok(None);
    };
    tokens::authenticate(&state.db, &state.verified_tokens, presented)
        .await
        .map_err(|error| {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "token check failed"
            );
            graphql_error(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "INTERNAL",
                "the token could not be checked; try again",
            )
        })
}

/// `POST /graphql`: one query per request (batches are refused), with a staff token,
/// within the token's budget of requests, the request's deadline and the largest answer
/// the API sends.
async fn graphql(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let identity = match authenticate(&state, &request).await {
        Ok(Some(identity)) => identity,
        Ok(None) => {
            let mut response = graphql_error(
                actix_web::http::StatusCode::UNAUTHORIZED,
                UNAUTHENTICATED,
                "a valid API token is required: send Authorization: Bearer <token>",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"giving\""),
            );
            return response;
        }
        Err(response) => return response,
    };
    if let Err(wait) = state.token_budgets.spend(identity.token_id) {
        let secs = retry_after_secs(wait);
        let mut response = graphql_error(
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            RATE_LIMITED,
            &format!("this token has used its budget of requests; try again in {secs} s"),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        return response;
    }
    let gql_request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let reason = if body.first() == Some(&b'[') {
                "batched requests are not accepted; send one query per request".to_owned()
            } else {
                format!("the body must be a GraphQL request in JSON: {error}")
            };
            return graphql_error(
                actix_web::http::StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &reason,
            );
        }
    };
    let loaders = crate::graphql::loaders::Loaders::new(&state.db, &state.reference_rows);
    let deadline = state.config.graphql_deadline;
    let run = crate::graphql::execute(&state.schema, &state.budget, gql_request, identity, loaders);
    // Dropping the unfinished request at the deadline cancels its work.
    let Ok(response) = tokio::time::timeout(deadline, run).await else {
        tracing::warn!(
            deadline_secs = deadline.as_secs_f64(),
            "a staff API request ran past its deadline and was stopped"
        );
        return graphql_error(
            actix_web::http::StatusCode::OK,
            DEADLINE_EXCEEDED,
            &format!(
                "the request ran longer than {} s and was stopped; ask for less",
                deadline.as_secs_f64()
            ),
        );
    };
    let body = match serde_json::to_vec(&response) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "cannot serialize a GraphQL response");
            return graphql_error(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                INTERNAL,
                "Something went wrong on our side. It has been logged.",
            );
        }
    };
    let limit = state.config.graphql_max_response_bytes;
    if body.len() > limit {
        return graphql_error(
            actix_web::http::StatusCode::OK,
            RESPONSE_TOO_LARGE,
            &format!(
                "the answer would be {} bytes and at most {limit} are sent; ask for smaller \
                 pages or fewer fields",
                body.len()
            ),
        );
    }
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(body)
}

/// Listens for SIGINT and SIGTERM from the moment it is called (a signal that comes
/// before the returned future is first polled is not lost, nor left to kill the
/// process), and resolves on the first of them.
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static>
{
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
