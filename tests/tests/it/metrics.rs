//! `/metrics`: Prometheus's text format behind its own token, with what this process
//! served and what the shared database holds.

use wiremock::MockServer;

use tests::on_both_backends;
use tests::stripe::{
    SECRET_KEY, WEBHOOK_SECRET, event, mount_fake_stripe, payment_session, signature,
};
use tests::support::{Backend, TestApp, spawn_app_with};

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdefghijklmnop";

async fn app_with_metrics(backend: Backend) -> (TestApp, MockServer) {
    let stripe = MockServer::start().await;
    mount_fake_stripe(&stripe).await;
    let app = spawn_app_with(
        backend,
        &[
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_API_BASE", &stripe.uri()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("METRICS_TOKEN", METRICS_TOKEN),
        ],
    )
    .await;
    (app, stripe)
}

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// The value of the series named exactly `series` (name and labels), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

async fn metrics_do_not_exist_without_their_token_setting(backend: Backend) {
    let app = tests::support::spawn_app(backend).await;
    let response = scrape(&app, Some(METRICS_TOKEN)).await;
    assert_eq!(response.status(), 404);
}

async fn metrics_need_their_token(backend: Backend) {
    let (app, _stripe) = app_with_metrics(backend).await;
    assert_eq!(scrape(&app, None).await.status(), 401);
    let wrong = format!("{METRICS_TOKEN}x");
    assert_eq!(scrape(&app, Some(&wrong)).await.status(), 401);
    let staff = app.token(entity::enums::StaffRole::Admin).await;
    assert_eq!(scrape(&app, Some(&staff)).await.status(), 401);
    assert_eq!(scrape(&app, Some(METRICS_TOKEN)).await.status(), 200);
}

async fn metrics_count_requests_events_gifts_and_the_outbox(backend: Backend) {
    let (app, _stripe) = app_with_metrics(backend).await;
    assert_eq!(app.get("/donate").await.status(), 200);
    assert_eq!(app.get("/donate?lang=fr").await.status(), 200);
    let secret_path = "/manage/7.1790000000.abcdef0123456789";
    app.get(secret_path).await;

    let paid = event(
        "evt_metrics_paid",
        "checkout.session.completed",
        payment_session("cs_metrics", "metrics@example.org", 2_550, true),
    );
    assert_eq!(app.deliver(&paid).await.status(), 200);
    assert_eq!(app.deliver(&paid).await.status(), 200);
    let body = br#"{"id":"evt_forged","type":"charge.refunded"}"#.to_vec();
    let forged = signature(&body, "whsec_not_ours");
    assert_eq!(app.deliver_raw(body, Some(&forged)).await.status(), 400);

    let response = scrape(&app, Some(METRICS_TOKEN)).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();

    assert_eq!(
        value(
            &text,
            r#"giving_http_requests_total{method="GET",route="/donate",status="200"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/manage/{token}""#),
        "a path with a token is labelled by its pattern"
    );
    assert!(!text.contains("abcdef0123456789"), "no token in a label");
    assert_eq!(
        value(
            &text,
            r#"giving_http_request_duration_seconds_count{route="/donate"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &text,
            r#"giving_stripe_events_total{outcome="applied",type="checkout.session.completed"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"giving_stripe_events_total{outcome="duplicate",type="checkout.session.completed"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"giving_stripe_events_total{outcome="refused",type="unknown"}"#
        ),
        Some(1.0)
    );
    // One event at a time: none was recorded with another.
    for series in [
        "giving_stripe_event_batches_total",
        "giving_stripe_events_batched_total",
    ] {
        assert_eq!(value(&text, series), Some(0.0), "{series}: {text}");
    }
    assert_eq!(
        value(&text, r#"giving_gifts{status="succeeded"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(&text, r#"giving_gifts{status="refunded"}"#),
        Some(0.0)
    );
    assert_eq!(
        value(&text, r#"giving_gifts_amount_minor{status="succeeded"}"#),
        Some(2_550.0)
    );
    assert_eq!(
        value(&text, "giving_gifts_received_net_minor"),
        Some(2_550.0)
    );
    // The receipt waits in the outbox: the tests drive the mailer themselves.
    assert_eq!(
        value(&text, r#"giving_outbox_messages{status="pending"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(&text, r#"giving_outbox_messages{status="sent"}"#),
        Some(0.0)
    );
    assert!(value(&text, "giving_outbox_oldest_pending_seconds").is_some());
    let max = value(&text, r#"giving_db_pool_connections{state="max"}"#).unwrap();
    let open = value(&text, r#"giving_db_pool_connections{state="open"}"#).unwrap();
    assert!(max >= 1.0 && open >= 1.0 && open <= max, "{text}");

    let dir = tempfile::tempdir().unwrap();
    let mut mail = api::config::Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .mail_settings();
    mail.mail_dir = dir.path().to_path_buf();
    let worker = mailer::Worker::new(app.db.clone(), mail, Default::default()).unwrap();
    assert_eq!(worker.drain().await.unwrap().sent, 1);
    let text = scrape(&app, Some(METRICS_TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        value(&text, r#"giving_outbox_messages{status="sent"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "giving_outbox_oldest_pending_seconds"),
        Some(0.0)
    );
}

on_both_backends!(
    metrics_do_not_exist_without_their_token_setting,
    metrics_need_their_token,
    metrics_count_requests_events_gifts_and_the_outbox,
);
