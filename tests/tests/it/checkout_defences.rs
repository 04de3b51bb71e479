//! The donation checkout against card testers and forged posts: where a post comes
//! from, its form token, the hidden field, the minimum gift, the budgets of Checkout
//! Sessions, and a thank-you page that asks Stripe only about its own sessions.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use tests::on_both_backends;
use tests::stripe::{OLD_WEBHOOK_SECRET, SECRET_KEY, WEBHOOK_SECRET};
use tests::support::{Backend, TestApp, spawn_app_with};

use crate::checkout::{
    app_with_fake_stripe, attempt_of, form_token, mount_checkout, post_donation, valid_form,
};

const PUBLIC_ORIGIN: &str = "https://give.example.org";

/// A server behind a proxy on 127.0.0.1, so each test can speak from many addresses.
async fn app_behind_proxy(backend: Backend, extra: &[(&str, &str)]) -> (TestApp, MockServer) {
    let stripe = MockServer::start().await;
    let uri = stripe.uri();
    let secrets = format!("{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}");
    let mut settings = vec![
        ("STRIPE_SECRET_KEY", SECRET_KEY),
        ("STRIPE_API_BASE", uri.as_str()),
        ("STRIPE_WEBHOOK_SECRET", secrets.as_str()),
        ("PUBLIC_URL", PUBLIC_ORIGIN),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ];
    settings.extend_from_slice(extra);
    let app = spawn_app_with(backend, &settings).await;
    mount_checkout(&stripe).await;
    (app, stripe)
}

async fn sessions_created(stripe: &MockServer) -> usize {
    stripe
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/v1/checkout/sessions")
        .count()
}

/// Posts a filled-in form from `address` (through the trusted proxy), as `email`, in `lang`.
async fn donate_from(app: &TestApp, address: &str, email: &str, lang: &str) -> reqwest::Response {
    let token = form_token(app).await;
    let mut form = valid_form();
    form.retain(|(k, _)| !matches!(*k, "attempt" | "email" | "lang"));
    form.extend([
        ("attempt", token.as_str()),
        ("email", email),
        ("lang", lang),
    ]);
    app.client
        .post(app.url("/donate"))
        .header("Origin", PUBLIC_ORIGIN)
        .header("X-Forwarded-For", address)
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn a_post_from_another_site_or_from_nowhere_is_refused_and_creates_nothing(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    mount_checkout(&stripe).await;
    let token = form_token(&app).await;
    let mut form = valid_form();
    form.retain(|(k, _)| *k != "attempt");
    form.push(("attempt", &token));

    for (header, value) in [
        (Some("Origin"), "https://evil.example.com"),
        (Some("Origin"), "null"),
        (Some("Origin"), "http://give.example.org"),
        (Some("Referer"), "https://evil.example.com/give.example.org"),
        (None, ""),
    ] {
        let mut request = app.client.post(app.url("/donate")).form(&form);
        if let Some(header) = header {
            request = request.header(header, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{header:?}: {value}");
        let page = response.text().await.unwrap();
        assert!(page.contains("We could not accept this form"), "{page}");
    }
    // The case: a foreign Origin and no attempt at all.
    let mut bare = valid_form();
    bare.retain(|(k, _)| *k != "attempt");
    let response = app
        .client
        .post(app.url("/donate"))
        .header("Origin", "https://evil.example.com")
        .form(&bare)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(sessions_created(&stripe).await, 0);

    // Our own page's Referer is enough when a browser sends no Origin.
    let response = app
        .client
        .post(app.url("/donate"))
        .header("Referer", "https://give.example.org/donate?lang=en")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

async fn a_missing_or_forged_form_token_shows_the_form_again_and_creates_nothing(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    mount_checkout(&stripe).await;
    let genuine = form_token(&app).await;
    let altered = format!("{}0", &genuine[..genuine.len() - 1]);
    let altered = if altered == genuine {
        format!("{}1", &genuine[..genuine.len() - 1])
    } else {
        altered
    };
    for token in ["", "attempt-2", "1.2.3", altered.as_str()] {
        let mut form = valid_form();
        form.retain(|(k, _)| *k != "attempt");
        form.push(("attempt", token));
        let response = app
            .client
            .post(app.url("/donate"))
            .header("Origin", PUBLIC_ORIGIN)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{token}");
        let page = response.text().await.unwrap();
        assert!(page.contains("this form expired"), "{page}");
        assert!(page.contains("value=\"maria@example.org\""));
        assert_ne!(attempt_of(&page), token);
    }
    assert_eq!(sessions_created(&stripe).await, 0);
    // The form shown again carries a token that works.
    let mut form = valid_form();
    form.retain(|(k, _)| *k != "attempt");
    form.push(("attempt", "forged"));
    let page = app
        .client
        .post(app.url("/donate"))
        .header("Origin", PUBLIC_ORIGIN)
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fresh = attempt_of(&page);
    let mut again = valid_form();
    again.retain(|(k, _)| *k != "attempt");
    again.push(("attempt", &fresh));
    let response = app
        .client
        .post(app.url("/donate"))
        .header("Origin", PUBLIC_ORIGIN)
        .form(&again)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(sessions_created(&stripe).await, 1);
}

async fn an_expired_form_token_is_refused(backend: Backend) {
    let (app, stripe) = app_behind_proxy(backend, &[("CHECKOUT_FORM_MAX_AGE_SECS", "1")]).await;
    let token = form_token(&app).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let mut form = valid_form();
    form.retain(|(k, _)| *k != "attempt");
    form.push(("attempt", &token));
    let response = app
        .client
        .post(app.url("/donate"))
        .header("Origin", PUBLIC_ORIGIN)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(sessions_created(&stripe).await, 0);
}

async fn a_filled_honeypot_is_refused_and_creates_nothing(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    mount_checkout(&stripe).await;
    let page = app.get("/donate").await.text().await.unwrap();
    assert!(page.contains(
        "<input type=\"text\" id=\"website\" name=\"website\" value=\"\" tabindex=\"-1\" autocomplete=\"off\">"
    ));
    assert!(page.contains("<label for=\"website\">Leave this field empty</label>"));

    let mut form = valid_form();
    form.push(("website", "http://spam.example.com"));
    let response = post_donation(&app, &form).await;
    assert_eq!(response.status(), 403);
    assert_eq!(sessions_created(&stripe).await, 0);

    let mut form = valid_form();
    form.push(("website", ""));
    assert_eq!(post_donation(&app, &form).await.status(), 303);
}

async fn a_gift_below_the_minimum_names_the_amount_and_the_page_states_it(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    mount_checkout(&stripe).await;
    let page = app.get("/donate").await.text().await.unwrap();
    assert!(
        page.contains("The smallest gift this page takes is $5.00."),
        "{page}"
    );
    for amount in ["1", "4.99"] {
        let mut form = valid_form();
        form.retain(|(k, _)| *k != "amount");
        form.extend([("amount", "other"), ("amount_other", amount)]);
        let response = post_donation(&app, &form).await;
        assert_eq!(response.status(), 422, "{amount}");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("The amount must be at least $5.00."),
            "{page}"
        );
        assert!(page.contains("aria-describedby=\"amount-error\""));
        assert!(page.contains("<a href=\"#amount_other\">"));
    }
    assert_eq!(sessions_created(&stripe).await, 0);
    let mut form = valid_form();
    form.retain(|(k, _)| *k != "amount");
    form.extend([("amount", "other"), ("amount_other", "5")]);
    assert_eq!(post_donation(&app, &form).await.status(), 303);

    let (other, _stripe) = app_behind_proxy(backend, &[("MIN_GIFT", "10")]).await;
    let spanish = other.get("/donate?lang=es").await.text().await.unwrap();
    assert!(spanish.contains("La donación mínima en esta página es de $10,00."));
}

async fn one_address_gets_three_checkouts_then_a_polite_page_in_its_language(backend: Backend) {
    let (app, stripe) = app_behind_proxy(backend, &[]).await;
    for (n, (lang, words)) in [
        ("en", "Please wait a moment"),
        ("es", "Espere un momento"),
        ("fr", "Veuillez patienter"),
        ("ar", "يرجى الانتظار قليلاً"),
    ]
    .into_iter()
    .enumerate()
    {
        let address = format!("203.0.113.{n}");
        for i in 0..3 {
            let email = format!("donor{n}.{i}@example.org");
            let response = donate_from(&app, &address, &email, lang).await;
            assert_eq!(response.status(), 303, "{lang} #{i}");
        }
        let response = donate_from(&app, &address, "another@example.org", lang).await;
        assert_eq!(response.status(), 429, "{lang}");
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=120).contains(&retry_after), "{retry_after}");
        let page = response.text().await.unwrap();
        assert!(page.contains(&format!("lang=\"{lang}\"")), "{page}");
        assert!(page.contains(words), "{page}");
    }
    assert_eq!(sessions_created(&stripe).await, 12);
}

async fn without_a_trusted_proxy_forwarded_for_is_ignored(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    mount_checkout(&stripe).await;
    let mut statuses = Vec::new();
    for n in 0..5 {
        let response = donate_from(
            &app,
            &format!("198.51.100.{n}"),
            &format!("d{n}@example.org"),
            "en",
        )
        .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [303, 303, 303, 429, 429]);
    assert_eq!(sessions_created(&stripe).await, 3);
}

async fn one_email_from_many_addresses_is_held_to_its_budget(backend: Backend) {
    let (app, stripe) = app_behind_proxy(backend, &[]).await;
    let mut statuses = Vec::new();
    for n in 0..5 {
        let response = donate_from(
            &app,
            &format!("192.0.2.{n}"),
            "Card.Tester@example.org",
            "en",
        )
        .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [303, 303, 303, 429, 429]);
    assert_eq!(sessions_created(&stripe).await, 3);
}

async fn the_global_ceiling_holds_whoever_asks(backend: Backend) {
    let (app, stripe) = app_behind_proxy(backend, &[("CHECKOUT_GLOBAL_PER_MINUTE", "4")]).await;
    let mut statuses = Vec::new();
    for n in 0..6 {
        let response = donate_from(
            &app,
            &format!("192.0.2.{n}"),
            &format!("d{n}@example.org"),
            "en",
        )
        .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [303, 303, 303, 303, 429, 429]);
    assert_eq!(sessions_created(&stripe).await, 4);
}

async fn the_thank_you_page_asks_stripe_only_about_sessions_it_created(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    mount_checkout(&stripe).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "checkout.session", "status": "complete", "payment_status": "paid"
        })))
        .mount(&stripe)
        .await;

    for id in ["cs_made_up", "cs_test_anything", "../../v1/charges", "%00"] {
        let response = app
            .client
            .get(app.url("/donate/thanks"))
            .query(&[("session_id", id)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap();
        assert!(page.contains("We are confirming your gift"), "{page}");
    }
    assert!(stripe.received_requests().await.unwrap().is_empty());

    let created = post_donation(&app, &valid_form()).await;
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let id = location.rsplit('/').next().unwrap();
    let page = app
        .get(&format!("/donate/thanks?session_id={id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Your gift was received"), "{page}");
    let asked: Vec<_> = stripe
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(asked, [format!("/v1/checkout/sessions/{id}")]);
}

on_both_backends!(
    a_post_from_another_site_or_from_nowhere_is_refused_and_creates_nothing,
    a_missing_or_forged_form_token_shows_the_form_again_and_creates_nothing,
    an_expired_form_token_is_refused,
    a_filled_honeypot_is_refused_and_creates_nothing,
    a_gift_below_the_minimum_names_the_amount_and_the_page_states_it,
    one_address_gets_three_checkouts_then_a_polite_page_in_its_language,
    without_a_trusted_proxy_forwarded_for_is_ignored,
    one_email_from_many_addresses_is_held_to_its_budget,
    the_global_ceiling_holds_whoever_asks,
    the_thank_you_page_asks_stripe_only_about_sessions_it_created,
);
