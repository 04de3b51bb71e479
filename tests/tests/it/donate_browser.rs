//! The donation page in a real headless Chromium: filled in English and Spanish, and
//! used with the keyboard alone, ending on the (fake) Stripe Checkout page; and every
//! donor-facing page, in every language, on a phone and on a desktop, screenshotted and
//! checked with axe-core.

use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use tests::browser::{Browser, axe_source, browser_available, keys};
use tests::on_both_backends;
use tests::stripe::{SECRET_KEY, WEBHOOK_SECRET};
use tests::support::{Backend, TestApp, spawn_app_with};

/// A fake Stripe whose Checkout Sessions point back at itself, where a page stands in
/// for Stripe's hosted checkout.
async fn fake_stripe() -> MockServer {
    let stripe = MockServer::start().await;
    let base = stripe.uri();
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(move |request: &Request| {
            let form: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(&request.body)
                    .into_owned()
                    .collect();
            let id = format!("cs_test_{}", form["metadata[language]"]);
            ResponseTemplate::new(200).set_body_json(json!({
                "id": id,
                "object": "checkout.session",
                "url": format!("{base}/c/pay/{id}"),
            }))
        })
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/c/pay/.*"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "text/html")
                .set_body_string("<!doctype html><title>Fake Stripe Checkout</title><h1>Pay</h1>"),
        )
        .mount(&stripe)
        .await;
    stripe
}

async fn app(backend: Backend, stripe: &MockServer) -> TestApp {
    spawn_app_with(
        backend,
        &[
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_API_BASE", &stripe.uri()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    )
    .await
}

async fn sent_languages(stripe: &MockServer) -> Vec<String> {
    stripe
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/checkout/sessions")
        .map(|r| {
            url::form_urlencoded::parse(&r.body)
                .find(|(k, _)| k == "metadata[language]")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect()
}

async fn a_donor_fills_the_form_in_english_and_in_spanish_and_reaches_checkout(backend: Backend) {
    if !browser_available() {
        return;
    }
    let stripe = fake_stripe().await;
    let app = app(backend, &stripe).await;
    let browser = Browser::start().await;

    for (lang, heading) in [
        ("en", "Give to defend immigrants"),
        ("es", "Done para defender"),
    ] {
        browser
            .goto(&app.url(&format!("/donate?lang={lang}")))
            .await;
        assert!(browser.page_source().await.contains(heading));
        browser.click("#frequency-monthly").await;
        browser.click("#amount-42").await;
        browser.type_into("#name", "María López").await;
        browser.type_into("#email", "maria@example.org").await;
        browser.click("#email_consent").await;
        browser.click("button[type=submit]").await;
        let expected = format!("{}/c/pay/cs_test_{lang}", stripe.uri());
        let landed = browser.wait_for_url(&expected).await;
        assert!(landed.starts_with(&expected), "{lang}: landed on {landed}");
    }
    assert_eq!(sent_languages(&stripe).await, ["en", "es"]);
    browser.quit().await;
}

async fn the_form_works_with_the_keyboard_alone(backend: Backend) {
    if !browser_available() {
        return;
    }
    let stripe = fake_stripe().await;
    let app = app(backend, &stripe).await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/donate?lang=en")).await;

    // Sending the empty form: the error summary takes focus and is announced.
    browser.tab_to("name", 40).await;
    browser.press(keys::ENTER).await;
    browser.wait_for_url(&app.url("/donate")).await;
    for _ in 0..100 {
        if browser.focused().await == "error-summary" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(browser.focused().await, "error-summary");
    let summary_role = browser
        .script("return document.getElementById('error-summary').getAttribute('role')")
        .await;
    assert_eq!(summary_role, "alert");

    // The amount group: Tab reaches it, Space chooses the focused amount.
    browser.tab_to("amount-25", 40).await;
    browser.press(keys::SPACE).await;
    let outline = browser
        .script("return getComputedStyle(document.activeElement).outlineStyle")
        .await;
    assert_ne!(outline, "none", "the focused control shows where focus is");
    browser.tab_to("name", 40).await;
    browser.press("Ana Keyboard").await;
    browser.tab_to("email", 5).await;
    browser.press("ana@example.org").await;
    browser.tab_to("email_consent", 5).await;
    browser.press(keys::SPACE).await;
    let ticked = browser
        .script("return document.getElementById('email_consent').checked")
        .await;
    assert_eq!(ticked, true);
    browser.press(keys::TAB).await;
    browser.press(keys::TAB).await;
    browser.press(keys::ENTER).await;

    let landed = browser
        .wait_for_url(&format!("{}/c/pay/", stripe.uri()))
        .await;
    assert!(
        landed.starts_with(&format!("{}/c/pay/", stripe.uri())),
        "landed on {landed}"
    );
    browser.quit().await;
}

/// Every page a donor reaches, by name and address (without its language).
async fn donor_pages(app: &TestApp) -> Vec<(&'static str, String)> {
    let token = crate::staff_api::staff_token(app).await;
    let donor = crate::staff_api::create_donor(
        app,
        &token,
        json!({ "displayName": "Layla Haddad", "email": "layla@example.org", "emailConsent": true }),
    )
    .await;
    crate::club::envelope_pledge(app, &token, donor, 4_200, "MONTHLY", None).await;
    let manage = mailer::links::manage_token(
        crate::club::CLUB_LINK_KEY,
        donor,
        0,
        chrono::Utc::now() + chrono::Duration::days(7),
    );
    let unsubscribe = mailer::links::unsubscribe_path(crate::club::CLUB_LINK_KEY, donor, 0);
    vec![
        ("donate", "/donate?".to_owned()),
        ("circle", "/circle?".to_owned()),
        ("manage", format!("/manage/{manage}?")),
        ("unsubscribe", format!("/{unsubscribe}&")),
    ]
}

/// Each page in English, Spanish, French and Arabic at 360 px and 1280 px: a screenshot
/// under the target directory (to look at, not committed), not one axe-core violation,
/// and never wider than the window.
async fn every_page_in_every_language_passes_axe_on_a_phone_and_a_desktop(backend: Backend) {
    if !browser_available() {
        return;
    }
    let Some(axe) = axe_source() else {
        return;
    };
    let (app, _stripe) = crate::club::club_app(backend).await;
    let pages = donor_pages(&app).await;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("page-screenshots");
    let browser = Browser::start().await;
    let mut violations = Vec::new();
    for width in [360, 1280] {
        browser.set_window_width(width).await;
        for (name, address) in &pages {
            for lang in ["en", "es", "fr", "ar"] {
                browser
                    .goto(&app.url(&format!("{address}lang={lang}")))
                    .await;
                let source = browser.page_source().await;
                assert!(
                    source.contains(&format!("lang=\"{lang}\"")),
                    "{name} {lang}"
                );
                browser
                    .save_screenshot(&shots.join(format!("{name}-{lang}-{width}.png")))
                    .await;
                for found in browser.axe_violations(&axe).await {
                    violations.push(format!("{name} {lang} {width}px: {found}"));
                }
                let wider = browser.wider_than_the_window().await;
                if !wider.is_empty() {
                    violations.push(format!("{name} {lang} {width}px: {}", wider.join(", ")));
                }
            }
        }
    }
    browser.quit().await;
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

on_both_backends!(
    a_donor_fills_the_form_in_english_and_in_spanish_and_reaches_checkout,
    the_form_works_with_the_keyboard_alone,
    every_page_in_every_language_passes_axe_on_a_phone_and_a_desktop,
);
