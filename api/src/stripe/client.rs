//! Calls to Stripe's API: Checkout Sessions, refunds, and fetching objects an event
//! refers to. Every POST carries an idempotency key, so retrying it is safe; timeouts,
//! 429 and 5xx answers are retried with backoff a few times before giving up. One
//! client, with its pooled connections, serves the whole process: a donation does not
//! wait for a new connection and TLS handshake to Stripe.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

use crate::config::Config;

/// The Stripe API version every request asks for, and the one the webhook endpoint is
/// set to send: the event parser reads objects in this version's shape (since
/// 2025-03-31 an invoice's subscription is under `parent.subscription_details`).
const API_VERSION: &str = "2026-09-30.endive";

pub fn api_version() -> String {
    API_VERSION.to_owned()
}

/// How many times a request is tried in all.
const ATTEMPTS: u32 = 3;
/// The wait before the first retry; it doubles after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection to Stripe is kept for the next request. Under the idle time
/// after which load balancers commonly close one; a request that meets a connection
/// closed anyway fails before Stripe sees it and is tried again.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// Why a call to Stripe failed.
#[derive(Debug, thiserror::Error)]
pub enum StripeFailure {
    /// Stripe is not configured (no `STRIPE_SECRET_KEY`).
    #[error("Stripe is not configured: set STRIPE_SECRET_KEY")]
    NotConfigured,
    /// Timeouts, 429 or 5xx that outlasted the retries: worth trying again later.
    #[error("Stripe is unavailable: {0}")]
    Unavailable(String),
    /// Stripe refused the request as made.
    #[error("Stripe refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
}

impl From<StripeFailure> for crate::domain::DomainError {
    fn from(failure: StripeFailure) -> Self {
        crate::domain::DomainError::Payment(failure.to_string())
    }
}

/// What an answer that is not a success means, and whether asking again may help:
/// Stripe's `Stripe-Should-Retry` header decides when it is given; otherwise 409 (a
/// concurrent request with the same key), 429 and 5xx are worth another try.
fn classify_answer(status: u16, should_retry: Option<bool>, body: &[u8]) -> (StripeFailure, bool) {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|answer| {
            answer["error"]["message"]
                .as_str()
                .map(|message| message.chars().take(500).collect::<String>())
        })
        .unwrap_or_else(|| "no message".into());
    let unavailable = status == 409 || status == 429 || status >= 500;
    let transient = should_retry.unwrap_or(unavailable);
    let failure = if unavailable {
        StripeFailure::Unavailable(format!("{status}: {message}"))
    } else {
        StripeFailure::Refused { status, message }
    };
    (failure, transient)
}

/// A request that got no answer (no connection, a connection closed under it, the
/// attempt's time up): always worth another try when the request is safe to repeat.
fn unanswered(error: &reqwest::Error) -> StripeFailure {
    if error.is_timeout() {
        StripeFailure::Unavailable("timed out".into())
    } else {
        StripeFailure::Unavailable(format!("no answer: {error}"))
    }
}

/// The headers every request carries: the key, the pinned API version and who asks.
fn default_headers(secret: &str) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    let mut authorization = HeaderValue::from_str(&format!("Bearer {secret}"))
        .map_err(|_| anyhow::anyhow!("STRIPE_SECRET_KEY is not usable in a header"))?;
    authorization.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, authorization);
    headers.insert("Stripe-Version", HeaderValue::from_static(API_VERSION));
    headers.insert(
        reqwest::header::USER_AGENT,
        HeaderValue::from_static(concat!("Stripe/v1 giving/", env!("CARGO_PKG_VERSION"))),
    );
    Ok(headers)
}

/// The Stripe API client, built from `STRIPE_SECRET_KEY` and `STRIPE_API_BASE`.
#[derive(Clone)]
pub struct StripeClient {
    client: Option<Connection>,
}

/// A configured client: where Stripe is, and the pooled HTTP client that reaches it.
#[derive(Clone)]
struct Connection {
    http: reqwest::Client,
    /// `STRIPE_API_BASE` followed by `v1`, with no trailing slash.
    base: String,
}

impl StripeClient {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let client = match &config.stripe_secret_key {
            Some(secret) => Some(Connection {
                http: reqwest::Client::builder()
                    .default_headers(default_headers(secret.expose())?)
                    .timeout(ATTEMPT_TIMEOUT)
                    .pool_idle_timeout(POOL_IDLE)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| anyhow::anyhow!("cannot build the Stripe client: {e}"))?,
                base: format!(
                    "{}/v1",
                    config.stripe_api_base.as_str().trim_end_matches('/')
                ),
            }),
            None => None,
        };
        Ok(StripeClient { client })
    }

    /// Sends one request, retrying transient failures with backoff. POST requests
    /// must carry an idempotency key so a retry cannot act twice.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: Option<String>,
        form: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, StripeFailure> {
        let client = self.client.as_ref().ok_or(StripeFailure::NotConfigured)?;
        let mut url = format!("{}{path}", client.base);
        if let Some(query) = &query {
            url.push('?');
            url.push_str(query);
        }
        let retry_safe = idempotency_key.is_some() || method == reqwest::Method::GET;
        let mut attempt = 1;
        loop {
            let mut request = client.http.request(method.clone(), &url);
            if let Some(key) = idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(form) = &form {
                request = request
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(form.clone());
            }
            let (failure, transient) = match answer(request).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(answered)) => answered,
                Err(error) => (unanswered(&error), true),
            };
            if !transient || !retry_safe || attempt >= ATTEMPTS {
                tracing::warn!(%failure, path, attempt, "Stripe request failed");
                return Err(failure);
            }
            tracing::info!(%failure, path, attempt, "Stripe request failed; retrying");
            tokio::time::sleep(backoff_after(attempt)).await;
            attempt += 1;
        }
    }

    pub async fn post(
        &self,
        path: &str,
        form: &[(String, String)],
        idempotency_key: &str,
    ) -> Result<Value, StripeFailure> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send(
            reqwest::Method::POST,
            path,
            None,
            Some(body),
            Some(idempotency_key),
        )
        .await
    }

    pub async fn delete(&self, path: &str, idempotency_key: &str) -> Result<Value, StripeFailure> {
        self.send(
            reqwest::Method::DELETE,
            path,
            None,
            None,
            Some(idempotency_key),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Result<Value, StripeFailure> {
        self.send(reqwest::Method::GET, path, None, None, None)
            .await
    }

    /// A list endpoint filtered by one parameter (`/checkout/sessions`, `subscription`).
    pub async fn list_by(
        &self,
        path: &str,
        field: &str,
        value: &str,
    ) -> Result<Value, StripeFailure> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(field, value)
            .finish();
        self.send(reqwest::Method::GET, path, Some(query), None, None)
            .await
    }

    pub async fn retrieve_checkout_session(&self, id: &str) -> Result<Value, StripeFailure> {
        self.get(&format!("/checkout/sessions/{}", path_segment(id)))
            .await
    }

    pub async fn retrieve_subscription(&self, id: &str) -> Result<Value, StripeFailure> {
        self.get(&format!("/subscriptions/{}", path_segment(id)))
            .await
    }

    pub async fn retrieve_customer(&self, id: &str) -> Result<Value, StripeFailure> {
        self.get(&format!("/customers/{}", path_segment(id))).await
    }

    /// Refunds a charge (or a payment intent's charge), once per idempotency key.
    pub async fn create_refund(
        &self,
        charge_id: Option<&str>,
        payment_intent_id: Option<&str>,
        amount_minor: i64,
        idempotency_key: &str,
    ) -> Result<Value, StripeFailure> {
        let mut form = vec![("amount".to_owned(), amount_minor.to_string())];
        match (charge_id, payment_intent_id) {
            (Some(charge), _) => form.push(("charge".into(), charge.into())),
            (None, Some(intent)) => form.push(("payment_intent".into(), intent.into())),
            (None, None) => {
                return Err(StripeFailure::Refused {
                    status: 400,
                    message: "nothing to refund: no charge and no payment intent".into(),
                });
            }
        }
        form.push(("reason".into(), "requested_by_customer".into()));
        // The refund carries the request id, so its listing matches it to the request.
        form.push(("metadata[request_id]".into(), idempotency_key.into()));
        self.post("/refunds", &form, idempotency_key).await
    }
}

/// One attempt: the answer read whole, then either its JSON or what its failure means.
/// `Err` when no answer came.
async fn answer(
    request: reqwest::RequestBuilder,
) -> Result<Result<Value, (StripeFailure, bool)>, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let should_retry = response
        .headers()
        .get("Stripe-Should-Retry")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<bool>().ok());
    let body = response.bytes().await?;
    if !(200..300).contains(&status) {
        return Ok(Err(classify_answer(status, should_retry, &body)));
    }
    Ok(serde_json::from_slice(&body).map_err(|e| {
        (
            StripeFailure::Unavailable(format!("unreadable answer: {e}")),
            true,
        )
    }))
}

/// The wait after failed attempt `attempt` (counted from 1) before the next:
/// `FIRST_BACKOFF`, doubling each time.
fn backoff_after(attempt: u32) -> Duration {
    FIRST_BACKOFF * 2u32.pow(attempt.saturating_sub(1))
}

/// Keeps an id from escaping its path segment.
fn path_segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[cfg(test)]
// A failed step should stop the test where it happened.
#[allow(clippy::expect_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[test]
    fn an_answer_s_failure_is_named_and_retried_only_when_it_may_help() {
        let body = br#"{"error": {"type": "invalid_request_error", "message": "No such price"}}"#;
        let (failure, transient) = classify_answer(400, None, body);
        assert!(!transient);
        assert!(matches!(
            &failure,
            StripeFailure::Refused { status: 400, message } if message == "No such price"
        ));
        for status in [409, 429, 500, 503] {
            let (failure, transient) = classify_answer(status, None, body);
            assert!(transient, "{status} is worth another try");
            assert_eq!(
                failure.to_string(),
                format!("Stripe is unavailable: {status}: No such price")
            );
        }
        for status in [401, 402, 404] {
            assert!(!classify_answer(status, None, body).1, "{status} is final");
        }
        // Stripe's own word overrides the status.
        assert!(!classify_answer(503, Some(false), body).1);
        assert!(classify_answer(400, Some(true), body).1);
        // An answer that is not Stripe's error shape still fails cleanly.
        let (failure, _) = classify_answer(502, None, b"<html>Bad gateway</html>");
        assert_eq!(
            failure.to_string(),
            "Stripe is unavailable: 502: no message"
        );
        let long = format!(r#"{{"error": {{"message": "{}"}}}}"#, "x".repeat(2_000));
        match classify_answer(400, None, long.as_bytes()).0 {
            StripeFailure::Refused { message, .. } => assert_eq!(message.len(), 500),
            other => panic!("refused expected, got {other}"),
        }
    }

    #[test]
    fn every_request_carries_the_key_the_pinned_version_and_who_asks() {
        let headers = default_headers("sk_test_123").expect("headers");
        let authorization = &headers[reqwest::header::AUTHORIZATION];
        assert_eq!(authorization, "Bearer sk_test_123");
        assert!(authorization.is_sensitive());
        assert_eq!(headers["Stripe-Version"], api_version().as_str());
        assert!(
            headers[reqwest::header::USER_AGENT]
                .to_str()
                .expect("text")
                .starts_with("Stripe/v1 giving/")
        );
        assert!(default_headers("sk_test\n123").is_err());
    }

    #[test]
    fn the_wait_before_a_retry_starts_short_and_doubles() {
        assert_eq!(backoff_after(1), Duration::from_millis(200));
        assert_eq!(backoff_after(2), Duration::from_millis(400));
        assert_eq!(backoff_after(3), Duration::from_millis(800));
    }

    #[test]
    fn an_id_cannot_leave_its_path_segment() {
        assert_eq!(path_segment("cs_test_a1B2"), "cs_test_a1B2");
        assert_eq!(path_segment("../../v1/refunds?x=1"), "v1refundsx1");
    }

    /// What a fake Stripe saw: connections accepted and each request's head and body.
    #[derive(Default)]
    struct Seen {
        connections: usize,
        requests: Vec<(String, String)>,
    }

    /// A fake Stripe on a raw socket that answers each request with `status` and
    /// `body`, keeping the connection open unless `close_each` is set.
    async fn fake_stripe(
        status: u16,
        body: &'static str,
        close_each: bool,
    ) -> (String, Arc<Mutex<Seen>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("an address");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let recording = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                recording.lock().expect("seen").connections += 1;
                let recording = recording.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    loop {
                        let mut chunk = [0u8; 4096];
                        let head_end = loop {
                            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                                break end + 4;
                            }
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|n| n.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        while buffer.len() < head_end + length {
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let request_body =
                            String::from_utf8_lossy(&buffer[head_end..head_end + length])
                                .into_owned();
                        buffer.drain(..head_end + length);
                        recording
                            .lock()
                            .expect("seen")
                            .requests
                            .push((head, request_body));
                        let answer = format!(
                            "HTTP/1.1 {status} Answer\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if socket.write_all(answer.as_bytes()).await.is_err() || close_each {
                            return;
                        }
                    }
                });
            }
        });
        (format!("http://{address}"), seen)
    }

    fn client_for(base: &str) -> StripeClient {
        let config = Config::from_sources(None, |key| match key {
            "STRIPE_SECRET_KEY" => Some("sk_test_pooled".to_owned()),
            "STRIPE_API_BASE" => Some(base.to_owned()),
            _ => None,
        })
        .expect("a configuration");
        StripeClient::from_config(&config).expect("a client")
    }

    #[tokio::test]
    async fn requests_share_one_connection_and_carry_their_key_and_form() {
        let (base, seen) = fake_stripe(
            200,
            r#"{"id": "cs_test_1", "url": "https://checkout.stripe.test/1"}"#,
            false,
        )
        .await;
        let client = client_for(&base);
        for key in ["donation-1", "donation-2", "donation-3"] {
            let answer = client
                .post(
                    "/checkout/sessions",
                    &[("line_items[0][quantity]".to_owned(), "1".to_owned())],
                    key,
                )
                .await
                .expect("an answer");
            assert_eq!(answer["id"], "cs_test_1");
        }
        let retrieved = client
            .retrieve_checkout_session("cs_test_1")
            .await
            .expect("an answer");
        assert_eq!(retrieved["url"], "https://checkout.stripe.test/1");
        let seen = seen.lock().expect("seen");
        assert_eq!(seen.connections, 1, "one connection for four requests");
        assert_eq!(seen.requests.len(), 4);
        for ((head, body), key) in
            seen.requests
                .iter()
                .zip(["donation-1", "donation-2", "donation-3"])
        {
            assert!(
                head.starts_with("post /v1/checkout/sessions http/1.1\r\n"),
                "{head}"
            );
            assert!(
                head.contains(&format!("idempotency-key: {key}\r\n")),
                "{head}"
            );
            assert!(
                head.contains("authorization: bearer sk_test_pooled\r\n"),
                "{head}"
            );
            assert!(
                head.contains(&format!(
                    "stripe-version: {}\r\n",
                    api_version().to_lowercase()
                )),
                "{head}"
            );
            assert!(
                head.contains("content-type: application/x-www-form-urlencoded\r\n"),
                "{head}"
            );
            assert_eq!(body, "line_items%5B0%5D%5Bquantity%5D=1");
        }
        let (head, body) = &seen.requests[3];
        assert!(
            head.starts_with("get /v1/checkout/sessions/cs_test_1 http/1.1\r\n"),
            "{head}"
        );
        assert!(!head.contains("idempotency-key"), "{head}");
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn a_cancellation_and_a_filtered_list_reach_their_paths() {
        let (base, seen) = fake_stripe(200, r#"{"id": "sub_1", "data": []}"#, false).await;
        let client = client_for(&base);
        let cancelled = client
            .delete("/subscriptions/sub_1", "cancel-sub_1")
            .await
            .expect("an answer");
        assert_eq!(cancelled["id"], "sub_1");
        let listed = client
            .list_by("/checkout/sessions", "subscription", "sub_1&limit=100")
            .await
            .expect("an answer");
        assert_eq!(listed["data"], serde_json::json!([]));
        let seen = seen.lock().expect("seen");
        let (head, body) = &seen.requests[0];
        assert!(
            head.starts_with("delete /v1/subscriptions/sub_1 http/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("idempotency-key: cancel-sub_1\r\n"), "{head}");
        assert!(body.is_empty());
        let (head, _) = &seen.requests[1];
        assert!(
            head.starts_with(
                "get /v1/checkout/sessions?subscription=sub_1%26limit%3d100 http/1.1\r\n"
            ),
            "{head}"
        );
        assert!(!head.contains("idempotency-key"), "{head}");
    }

    #[tokio::test]
    async fn a_connection_stripe_closed_is_replaced_for_the_next_request() {
        let (base, seen) = fake_stripe(200, r#"{"id": "cus_1"}"#, true).await;
        let client = client_for(&base);
        for _ in 0..3 {
            let answer = client.retrieve_customer("cus_1").await.expect("an answer");
            assert_eq!(answer["id"], "cus_1");
        }
        let seen = seen.lock().expect("seen");
        assert_eq!(seen.requests.len(), 3);
        assert_eq!(seen.connections, 3);
    }

    #[tokio::test]
    async fn a_refusal_is_not_repeated_and_an_outage_is_tried_three_times() {
        let (base, seen) = fake_stripe(
            402,
            r#"{"error": {"message": "Your card was declined."}}"#,
            false,
        )
        .await;
        let failure = client_for(&base)
            .post("/refunds", &[], "refund-1")
            .await
            .expect_err("refused");
        assert_eq!(
            failure.to_string(),
            "Stripe refused the request (402): Your card was declined."
        );
        assert_eq!(seen.lock().expect("seen").requests.len(), 1);

        let (base, seen) = fake_stripe(500, r#"{"error": {"message": "try later"}}"#, false).await;
        let failure = client_for(&base)
            .post("/refunds", &[], "refund-2")
            .await
            .expect_err("unavailable");
        assert_eq!(failure.to_string(), "Stripe is unavailable: 500: try later");
        assert_eq!(seen.lock().expect("seen").requests.len(), ATTEMPTS as usize);

        // Without a key a POST is not repeated: it might act twice.
        let (base, seen) = fake_stripe(500, r#"{"error": {"message": "try later"}}"#, false).await;
        let client = client_for(&base);
        let failure = client
            .send(
                reqwest::Method::POST,
                "/refunds",
                None,
                Some(String::new()),
                None,
            )
            .await
            .expect_err("unavailable");
        assert!(matches!(failure, StripeFailure::Unavailable(_)));
        assert_eq!(seen.lock().expect("seen").requests.len(), 1);

        let unconfigured = StripeClient { client: None };
        assert!(matches!(
            unconfigured.get("/customers/cus_1").await,
            Err(StripeFailure::NotConfigured)
        ));
    }
}
