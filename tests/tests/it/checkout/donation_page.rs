//! The donation form on its way to Stripe Checkout: its languages, one session per
//! double click, monthly gifts, named field errors, Stripe failing or rate limiting, and
//! the thank-you page.

use super::*;

pub fn valid_form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("attempt", "attempt-1"),
        ("lang", "en"),
        ("frequency", "once"),
        ("amount", "50"),
        ("fund", "GENERAL"),
        ("tribute_kind", "none"),
        ("name", "María López"),
        ("email", "maria@example.org"),
    ]
}

/// Posts the donation form as a browser on the page would: from `PUBLIC_URL`, with the
/// page's own form token in place of the `attempt-1` placeholder.
pub async fn post_donation(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    let token = form_token(app).await;
    let form: Vec<(&str, &str)> = form
        .iter()
        .map(|(k, v)| match (*k, *v) {
            ("attempt", "attempt-1") => (*k, token.as_str()),
            _ => (*k, *v),
        })
        .collect();
    app.client
        .post(app.url("/donate"))
        .header("Origin", "https://give.example.org")
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The form token of a freshly shown donation page.
pub async fn form_token(app: &TestApp) -> String {
    let page = app.get("/donate").await.text().await.unwrap();
    attempt_of(&page)
}

/// The `attempt` field of a rendered form.
pub fn attempt_of(page: &str) -> String {
    let marker = "name=\"attempt\" value=\"";
    let start = page.find(marker).expect("the form has an attempt field") + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

async fn the_donation_page_speaks_english_and_spanish(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let english = app.get("/donate").await.text().await.unwrap();
    assert!(english.contains("lang=\"en\""));
    assert!(english.contains("Circle of Friends"));
    assert!(english.contains("<label for=\"email\">"));
    let spanish = app.get("/donate?lang=es").await.text().await.unwrap();
    assert!(spanish.contains("lang=\"es\""));
    assert!(spanish.contains("Círculo de Amigos"));
    let negotiated = app
        .client
        .get(app.url("/donate"))
        .header("Accept-Language", "fr-CA, es;q=0.8")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(negotiated.contains("lang=\"fr\""));
    let arabic = app.get("/donate?lang=ar").await.text().await.unwrap();
    assert!(arabic.contains("dir=\"rtl\""));
}

async fn a_valid_donation_goes_to_stripe_checkout_once_per_double_click(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    mount_checkout(&stripe).await;
    let token = form_token(&app).await;
    let mut form = valid_form();
    form.retain(|(k, _)| *k != "attempt");
    form.push(("attempt", &token));

    let first = post_donation(&app, &form).await;
    let second = post_donation(&app, &form).await;

    assert_eq!(first.status(), 303);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("https://checkout.stripe.test/c/pay/cs_test_"));
    assert_eq!(second.headers()["location"].to_str().unwrap(), location);
    let requests = stripe.received_requests().await.unwrap();
    let keys: Vec<_> = requests
        .iter()
        .map(|r| r.headers["Idempotency-Key"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
    let form = form_of(&requests[0]);
    assert_eq!(form["mode"], "payment");
    assert_eq!(form["submit_type"], "donate");
    assert_eq!(form["line_items[0][price_data][unit_amount]"], "5000");
    assert_eq!(form["metadata[fund]"], "GENERAL");
    assert_eq!(form["metadata[donor_email]"], "maria@example.org");
    assert_eq!(
        form["success_url"],
        "https://give.example.org/donate/thanks?session_id={CHECKOUT_SESSION_ID}&lang=en"
    );
    assert_eq!(
        form["cancel_url"],
        "https://give.example.org/donate/cancelled?lang=en"
    );
}

async fn a_monthly_donation_creates_a_subscription_session(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    mount_checkout(&stripe).await;
    let mut form = valid_form();
    form.retain(|(k, _)| *k != "frequency" && *k != "amount");
    form.push(("frequency", "monthly"));
    form.push(("amount", "42"));
    form.push(("appeal", "NOPE"));

    assert_eq!(post_donation(&app, &form).await.status(), 303);
    let requests = stripe.received_requests().await.unwrap();
    let sent = form_of(&requests[0]);
    assert_eq!(sent["mode"], "subscription");
    assert_eq!(
        sent["line_items[0][price_data][recurring][interval]"],
        "month"
    );
    assert_eq!(sent["subscription_data[metadata][fund]"], "GENERAL");
    assert!(!sent.contains_key("submit_type"));
    assert!(!sent.contains_key("metadata[appeal]"));
}

async fn every_invalid_field_is_named_and_what_was_typed_is_kept(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let cases: Vec<(&str, &str, &str)> = vec![
        ("frequency", "yearly", "Choose once or monthly."),
        ("amount", "", "Choose an amount or type one"),
        ("amount", "abc", "Choose an amount or type one"),
        ("amount", "0.50", "at least $1.00"),
        ("amount", "1000000", "at least $1.00"),
        ("fund", "NO-SUCH-FUND", "Choose where your gift goes."),
        (
            "tribute_kind",
            "in_spite_of",
            "Choose in honor of or in memory of.",
        ),
        ("name", "", "Give your name."),
        ("email", "maria-at-example", "Give a valid email address"),
    ];
    for (field, value, message) in cases {
        let mut form = valid_form();
        form.retain(|(k, _)| *k != field);
        form.push((field, value));
        let response = post_donation(&app, &form).await;
        assert_eq!(response.status(), 422, "{field}={value}");
        let page = response.text().await.unwrap();
        assert!(page.contains(message), "{field}={value}: {page}");
        assert!(page.contains("role=\"alert\""));
        assert!(page.contains("value=\"María López\"") || field == "name");
    }
    // A tribute without a name, and a bad email to notify.
    let mut form = valid_form();
    form.retain(|(k, _)| *k != "tribute_kind");
    form.extend([
        ("tribute_kind", "in_memory_of"),
        ("tribute_name", ""),
        ("notify_email", "nobody"),
    ]);
    let page = post_donation(&app, &form).await.text().await.unwrap();
    assert!(page.contains("Give the name of the person your gift honors."));
    assert!(page.contains("Give a valid email address for the person to notify"));
    assert!(page.contains("aria-invalid=\"true\" aria-describedby=\"tribute_name-error\""));
    // Typed text comes back escaped.
    let mut form = valid_form();
    form.retain(|(k, _)| *k != "name" && *k != "email");
    form.extend([("name", "<script>alert(1)</script>"), ("email", "bad")]);
    let page = post_donation(&app, &form).await.text().await.unwrap();
    assert!(!page.contains("<script>alert(1)</script>"));
    assert!(page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(stripe.received_requests().await.unwrap().is_empty());
}

async fn when_stripe_fails_the_donor_sees_a_retry_page_and_nothing_is_recorded(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({
            "error": { "type": "api_error", "message": "try later" }
        })))
        .mount(&stripe)
        .await;

    let response = post_donation(&app, &valid_form()).await;

    assert_eq!(response.status(), 503);
    let page = response.text().await.unwrap();
    assert!(page.contains("nothing was charged"));
    assert!(page.contains("value=\"maria@example.org\""));
    let attempts = stripe.received_requests().await.unwrap();
    assert_eq!(attempts.len(), 3, "retried with backoff");
    let keys: Vec<_> = attempts
        .iter()
        .map(|r| r.headers["Idempotency-Key"].to_str().unwrap().to_owned())
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]));
    assert!(gifts(&app).await.is_empty());
}

async fn the_thank_you_page_reflects_the_payment(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    mount_checkout(&stripe).await;
    let created = post_donation(&app, &valid_form()).await;
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let waiting_id = location.rsplit('/').next().unwrap().to_owned();
    Mock::given(method("GET"))
        .and(path(format!("/v1/checkout/sessions/{waiting_id}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": waiting_id, "object": "checkout.session", "status": "complete", "payment_status": "unpaid"
        })))
        .mount(&stripe)
        .await;
    let waiting = app
        .get(&format!("/donate/thanks?session_id={waiting_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(waiting.contains("still processing"), "{waiting}");

    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_done", "kai@example.org", 2_000, true),
    ))
    .await;
    let done = app
        .get("/donate/thanks?session_id=cs_done&lang=es")
        .await
        .text()
        .await
        .unwrap();
    assert!(done.contains("Recibimos su donación"), "{done}");
    let cancelled = app.get("/donate/cancelled").await.text().await.unwrap();
    assert!(cancelled.contains("Try again"));
}

async fn a_rate_limited_stripe_is_retried_and_the_donor_still_reaches_checkout(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "error": { "type": "rate_limit_error", "message": "slow down" }
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&stripe)
        .await;
    mount_checkout(&stripe).await;

    let response = post_donation(&app, &valid_form()).await;

    assert_eq!(response.status(), 303);
    assert_eq!(stripe.received_requests().await.unwrap().len(), 2);
}

on_both_backends!(
    the_donation_page_speaks_english_and_spanish,
    a_valid_donation_goes_to_stripe_checkout_once_per_double_click,
    a_monthly_donation_creates_a_subscription_session,
    every_invalid_field_is_named_and_what_was_typed_is_kept,
    when_stripe_fails_the_donor_sees_a_retry_page_and_nothing_is_recorded,
    the_thank_you_page_reflects_the_payment,
    a_rate_limited_stripe_is_retried_and_the_donor_still_reaches_checkout,
);
