//! Amounts as donors type them: the donation page and the self-service page read an
//! amount the way the page's language writes it.

use std::collections::HashMap;

use entity::pledge;
use sea_orm::EntityTrait;
use serde_json::json;
use wiremock::MockServer;

use crate::checkout::{mount_checkout, post_donation};
use crate::club::{CLUB_LINK_KEY, club_app, envelope_pledge};
use crate::staff_api::{create_donor, staff_token};
use tests::on_both_backends;
use tests::stripe::{SECRET_KEY, WEBHOOK_SECRET};
use tests::support::{Backend, TestApp, spawn_app_with};

/// A server for donations typed in each language: the checkout's budgets are off, since
/// one test posts many donations from one address and one email.
pub async fn donation_app(backend: Backend) -> (TestApp, MockServer) {
    let stripe = MockServer::start().await;
    tests::stripe::mount_fake_stripe(&stripe).await;
    let app = spawn_app_with(
        backend,
        &[
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_API_BASE", &stripe.uri()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("PUBLIC_URL", "https://give.example.org"),
            ("DOWNLOAD_LINK_KEY", CLUB_LINK_KEY),
            ("CHECKOUT_PER_ADDRESS", "0"),
            ("CHECKOUT_PER_EMAIL", "0"),
            ("CHECKOUT_GLOBAL_PER_MINUTE", "0"),
        ],
    )
    .await;
    (app, stripe)
}

/// Posts the donation form as the page would, with a fresh form token.
async fn donate(app: &TestApp, lang: &str, typed: &str) -> reqwest::Response {
    let form = [
        ("attempt", "attempt-1"),
        ("lang", lang),
        ("frequency", "once"),
        ("amount", "other"),
        ("amount_other", typed),
        ("fund", "GENERAL"),
        ("tribute_kind", "none"),
        ("name", "Camille Dubois"),
        ("email", "camille@example.org"),
    ];
    post_donation(app, &form).await
}

pub async fn unit_amounts_sent(stripe: &MockServer) -> Vec<String> {
    stripe
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/v1/checkout/sessions")
        .map(|r| {
            let form: HashMap<String, String> =
                url::form_urlencoded::parse(&r.body).into_owned().collect();
            form["line_items[0][price_data][unit_amount]"].clone()
        })
        .collect()
}

async fn twenty_five_fifty_typed_in_french_spanish_or_arabic_goes_to_stripe_as_25_50(
    backend: Backend,
) {
    let (app, stripe) = donation_app(backend).await;
    mount_checkout(&stripe).await;
    let cases = [
        ("fr", "25,50", "2550"),
        ("es", "25,50", "2550"),
        ("ar", "25,50", "2550"),
        ("en", "25.50", "2550"),
        ("es", "1.000,50", "100050"),
        ("fr", "1 000,50", "100050"),
        ("fr", "1\u{A0}000,50", "100050"),
        ("fr", "1\u{202F}000,50", "100050"),
        ("en", "1,000.50", "100050"),
    ];
    for (lang, typed, _) in cases {
        let response = donate(&app, lang, typed).await;
        assert_eq!(response.status(), 303, "{lang} {typed}");
    }
    let expected: Vec<String> = cases.iter().map(|(_, _, sent)| sent.to_string()).collect();
    assert_eq!(unit_amounts_sent(&stripe).await, expected);
}

async fn an_ambiguous_amount_is_refused_with_how_to_write_it_in_the_pages_language(
    backend: Backend,
) {
    let (app, stripe) = donation_app(backend).await;
    mount_checkout(&stripe).await;
    let response = donate(&app, "fr", "1,000").await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("1\u{202F}000"), "{page}");
    assert!(page.contains("25,50"), "{page}");
    let response = donate(&app, "es", "1,000").await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("1.000"));
    assert!(unit_amounts_sent(&stripe).await.is_empty());
}

async fn the_amount_hint_shows_the_pages_own_format(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let french = app.get("/donate?lang=fr").await.text().await.unwrap();
    assert!(french.contains("placeholder=\"25,50\""), "{french}");
    let english = app.get("/donate?lang=en").await.text().await.unwrap();
    assert!(english.contains("placeholder=\"25.50\""));
}

async fn a_pledge_changed_to_25_50_on_the_french_self_service_page_is_25_50(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(
        &app,
        &token,
        json!({ "displayName": "Camille Dubois", "email": "camille@example.org", "language": "FRENCH" }),
    )
    .await;
    let pledge_id = envelope_pledge(&app, &token, donor, 4_200, "MONTHLY", None).await;
    let link = mailer::links::manage_token(
        CLUB_LINK_KEY,
        donor,
        0,
        chrono::Utc::now() + chrono::Duration::days(7),
    );
    let page = app
        .get(&format!("/manage/{link}?lang=fr"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("value=\"42,00\""), "{page}");

    let post = |typed: &'static str| {
        app.client
            .post(app.url(&format!("/manage/{link}/pledges/{pledge_id}?lang=fr")))
            .form(&[("action", "change_amount"), ("amount", typed)])
            .send()
    };
    let ambiguous = post("1,000").await.unwrap();
    assert_eq!(ambiguous.status(), 422);
    assert!(ambiguous.text().await.unwrap().contains("1\u{202F}000"));
    assert_eq!(
        pledge::Entity::find_by_id(pledge_id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .installment_minor,
        4_200
    );

    assert_eq!(post("25,50").await.unwrap().status(), 303);
    let changed = pledge::Entity::find_by_id(pledge_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.installment_minor, 2_550);
}

on_both_backends!(
    twenty_five_fifty_typed_in_french_spanish_or_arabic_goes_to_stripe_as_25_50,
    an_ambiguous_amount_is_refused_with_how_to_write_it_in_the_pages_language,
    the_amount_hint_shows_the_pages_own_format,
    a_pledge_changed_to_25_50_on_the_french_self_service_page_is_25_50,
);
