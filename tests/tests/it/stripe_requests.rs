//! What the service asks of Stripe when a pledge changes or a donor opens the billing
//! portal: each intended change under its own idempotency key, and the subscription's
//! schedule kept whole.

use std::collections::HashMap;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::club::{club_app, manage_link, post_form, tomas_card_pledge};
use crate::staff_api::{ok, staff_token};
use tests::on_both_backends;
use tests::stripe::{billing_portal_session, subscription};
use tests::support::{Backend, TestApp};

const EMAIL: &str = "tomas@example.org";

/// The fake's subscription `sub_tomas`, billed every `count` `interval`s.
async fn mount_subscription(stripe: &MockServer, interval: &str, count: i64) {
    let mut current = subscription("sub_tomas", EMAIL, 4_200, "active");
    current["items"]["data"][0]["price"]["recurring"]["interval"] = json!(interval);
    current["items"]["data"][0]["price"]["recurring"]["interval_count"] = json!(count);
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_tomas"))
        .respond_with(ResponseTemplate::new(200).set_body_json(current.clone()))
        .mount(stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_tomas"))
        .respond_with(ResponseTemplate::new(200).set_body_json(current))
        .mount(stripe)
        .await;
}

async fn change_amount(app: &TestApp, token: &str, pledge: i64, amount: i64) {
    ok(
        app,
        token,
        "mutation($input: ChangePledgeAmountInput!) { changePledgeAmount(input: $input) { requestedOfProcessor } }",
        json!({ "input": { "id": pledge.to_string(), "amount": { "amountMinor": amount } } }),
    )
    .await;
}

/// The posts Stripe received at `at`: their idempotency keys and form bodies.
async fn posts_to(stripe: &MockServer, at: &str) -> Vec<(String, HashMap<String, String>)> {
    stripe
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == at)
        .map(|r: &Request| {
            (
                r.headers["Idempotency-Key"].to_str().unwrap().to_owned(),
                url::form_urlencoded::parse(&r.body).into_owned().collect(),
            )
        })
        .collect()
}

async fn a_quarterly_card_pledge_stays_quarterly_when_its_amount_changes(backend: Backend) {
    let (app, stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let pledge = tomas_card_pledge(&app, EMAIL).await;
    mount_subscription(&stripe, "month", 3).await;

    change_amount(&app, &token, pledge.id, 15_000).await;

    let posts = posts_to(&stripe, "/v1/subscriptions/sub_tomas").await;
    assert_eq!(posts.len(), 1);
    let form = &posts[0].1;
    assert_eq!(form["items[0][price_data][unit_amount]"], "15000");
    assert_eq!(form["items[0][price_data][recurring][interval]"], "month");
    assert_eq!(form["items[0][price_data][recurring][interval_count]"], "3");
}

async fn changing_an_amount_back_and_forth_asks_stripe_for_each_change_under_its_own_key(
    backend: Backend,
) {
    let (app, stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let pledge = tomas_card_pledge(&app, EMAIL).await;
    mount_subscription(&stripe, "month", 1).await;

    for amount in [6_000, 3_000, 6_000] {
        change_amount(&app, &token, pledge.id, amount).await;
    }

    let posts = posts_to(&stripe, "/v1/subscriptions/sub_tomas").await;
    let keys: Vec<&String> = posts.iter().map(|(key, _)| key).collect();
    assert_eq!(keys.len(), 3);
    assert_ne!(keys[0], keys[1]);
    assert_ne!(keys[0], keys[2], "the second change to $60 is a new change");
    assert_ne!(keys[1], keys[2]);
}

async fn the_billing_portal_is_opened_in_each_language_under_its_own_key(backend: Backend) {
    let (app, stripe) = club_app(backend).await;
    let pledge = tomas_card_pledge(&app, EMAIL).await;
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(billing_portal_session(
                "https://billing.stripe.com/p/session/test_portal",
            )),
        )
        .mount(&stripe)
        .await;
    let link = manage_link(pledge.donor_id);

    for lang in ["en", "fr", "en"] {
        let response = post_form(&app, &format!("/manage/{link}/card?lang={lang}"), &[]).await;
        assert_eq!(response.status(), 303);
    }

    let posts = posts_to(&stripe, "/v1/billing_portal/sessions").await;
    assert_eq!(posts.len(), 3);
    let mut key_for_url: HashMap<&str, &str> = HashMap::new();
    for (key, form) in &posts {
        let url = form["return_url"].as_str();
        let earlier = key_for_url.values().any(|k| *k == key.as_str())
            && key_for_url.get(url) != Some(&key.as_str());
        assert!(!earlier, "{key} went out again with another return_url");
        key_for_url.insert(url, key);
    }
}

on_both_backends!(
    a_quarterly_card_pledge_stays_quarterly_when_its_amount_changes,
    changing_an_amount_back_and_forth_asks_stripe_for_each_change_under_its_own_key,
    the_billing_portal_is_opened_in_each_language_under_its_own_key,
);
