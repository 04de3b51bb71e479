//! Every response carries one set of security headers, whatever route answers and
//! however: a page, an error, a 404, a 429 or a redirect. The routes are read from the
//! server's own list, so a new route is checked without anyone remembering to.

use api::server::ROUTES;
use entity::enums::StaffRole;
use serde_json::json;
use tests::on_both_backends;
use tests::stripe::{SECRET_KEY, WEBHOOK_SECRET, mount_fake_stripe};
use tests::support::{Backend, TestApp, spawn_app, spawn_app_with};
use wiremock::MockServer;

use crate::checkout::{mount_checkout, post_donation, valid_form};

/// A route's pattern with its parameters filled in.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{token}", "7.1790000000.00")
        .replace("{id}", "1")
        .replace("{file}", "2026-000001.pdf")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Vec<&'a str> {
    response
        .headers()
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect()
}

/// Checks the headers of one response, named `what` in failures.
fn assert_secure(response: &reqwest::Response, what: &str, path: &str, https: bool) {
    let csp = header(response, "content-security-policy");
    assert_eq!(
        csp.len(),
        1,
        "{what}: one Content-Security-Policy, got {csp:?}"
    );
    assert!(
        csp[0].contains("frame-ancestors 'none'"),
        "{what}: {}",
        csp[0]
    );
    assert_eq!(
        header(response, "x-content-type-options"),
        ["nosniff"],
        "{what}"
    );
    let referrer = header(response, "referrer-policy");
    let expected = if path == "/donate" {
        "strict-origin"
    } else {
        "no-referrer"
    };
    assert_eq!(referrer, [expected], "{what}");
    let hsts = header(response, "strict-transport-security");
    if https {
        assert_eq!(hsts, ["max-age=31536000"], "{what}");
    } else {
        assert!(hsts.is_empty(), "{what}: no HSTS over http, got {hsts:?}");
    }
}

async fn send(app: &TestApp, method: &str, path: &str) -> reqwest::Response {
    let request = match method {
        "get" => app.client.get(app.url(path)),
        "post" => app.client.post(app.url(path)),
        other => panic!("a route with method {other}: add it here"),
    };
    request.send().await.unwrap()
}

/// Asks every route of the server, as a stranger would, and checks each answer.
async fn walk_every_route(app: &TestApp, https: bool) {
    assert!(ROUTES.len() >= 17, "the server lists its routes");
    for (method, pattern) in ROUTES {
        let path = concrete(pattern);
        let response = send(app, method, &path).await;
        let what = format!("{} {path} ({})", method.to_uppercase(), response.status());
        assert_secure(&response, &what, &path, https);
    }
    for (method, path) in [
        ("get", "/no-such-page"),
        ("get", "/webhooks/stripe"),
        ("get", "/manage/7.1790000000.00/card"),
        ("get", "/receipts/2026-000001.pdf"),
        ("get", "/appeals/unsubscribe?donor=+1&signature=x"),
    ] {
        let response = send(app, method, path).await;
        let what = format!("{} {path} ({})", method.to_uppercase(), response.status());
        assert!(response.status().is_client_error(), "{what}");
        assert_secure(&response, &what, path.split('?').next().unwrap(), https);
    }
    let too_large = app
        .client
        .post(app.url("/graphql"))
        .header("Content-Type", "application/json")
        .body(vec![b' '; 300 * 1024])
        .send()
        .await
        .unwrap();
    assert_secure(
        &too_large,
        &format!("an oversized POST /graphql ({})", too_large.status()),
        "/graphql",
        https,
    );
}

async fn every_response_carries_the_security_headers_and_hsts_over_https(backend: Backend) {
    let stripe = MockServer::start().await;
    mount_fake_stripe(&stripe).await;
    mount_checkout(&stripe).await;
    let app = spawn_app_with(
        backend,
        &[
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_API_BASE", &stripe.uri()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("PUBLIC_URL", "https://give.example.org"),
            ("GRAPHQL_RATE_PER_MINUTE", "1"),
            ("GRAPHQL_BURST", "1"),
        ],
    )
    .await;
    walk_every_route(&app, true).await;

    let redirect = post_donation(&app, &valid_form()).await;
    assert_eq!(redirect.status(), 303, "a donation redirects to Stripe");
    assert_secure(&redirect, "the redirect to Stripe", "/donate", true);

    let token = app.token(StaffRole::Viewer).await;
    let first = app
        .post_graphql(Some(&token), "{ __typename }", json!({}))
        .await;
    assert_eq!(first.status(), 200);
    assert_secure(&first, "a staff API answer", "/graphql", true);
    let over_budget = app
        .post_graphql(Some(&token), "{ __typename }", json!({}))
        .await;
    assert_eq!(over_budget.status(), 429);
    assert_secure(&over_budget, "a 429", "/graphql", true);
}

async fn no_hsts_when_the_public_url_is_http(backend: Backend) {
    let app = spawn_app(backend).await;
    walk_every_route(&app, false).await;
    let page = app.get("/donate").await;
    assert_eq!(page.status(), 200);
    assert_secure(&page, "the donation page", "/donate", false);
}

on_both_backends!(
    every_response_carries_the_security_headers_and_hsts_over_https,
    no_hsts_when_the_public_url_is_http,
);
