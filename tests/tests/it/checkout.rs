//! The donation page and Stripe webhooks, against a fake Stripe API.

use std::collections::HashMap;

use entity::enums::{GiftStatus, PledgeStatus, StripeEventStatus};
use entity::{donor, gift, outbox, pledge, receipt, stripe_event};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use tests::on_both_backends;
use tests::stripe::{
    OLD_WEBHOOK_SECRET, SECRET_KEY, StripeObjects, WEBHOOK_SECRET, charge, customer, dispute,
    event, first_invoice, invoice_payment_intent, mount_fake_stripe, paid_invoice, payment_session,
    refund, signature, subscription, subscription_session,
};
use tests::support::{Backend, TestApp, spawn_app_with};

/// A server talking to a fake Stripe API.
pub async fn app_with_fake_stripe(backend: Backend) -> (TestApp, MockServer) {
    let (app, stripe, _objects) = app_with_stripe_objects(backend).await;
    (app, stripe)
}

/// A server talking to a fake Stripe API that answers reads from its objects.
pub async fn app_with_stripe_objects(backend: Backend) -> (TestApp, MockServer, StripeObjects) {
    let stripe = MockServer::start().await;
    let objects = mount_fake_stripe(&stripe).await;
    let secrets = format!("{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}");
    let app = spawn_app_with(
        backend,
        &[
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_API_BASE", &stripe.uri()),
            ("STRIPE_WEBHOOK_SECRET", &secrets),
            ("PUBLIC_URL", "https://give.example.org"),
        ],
    )
    .await;
    (app, stripe, objects)
}

/// The fake's answer to "create a Checkout Session": one session per idempotency key.
pub async fn mount_checkout(stripe: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(|request: &Request| {
            let key = request
                .headers
                .get("Idempotency-Key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_owned();
            let id = format!("cs_test_{}", &key[key.len().saturating_sub(12)..]);
            ResponseTemplate::new(200).set_body_json(json!({
                "id": id,
                "object": "checkout.session",
                "url": format!("https://checkout.stripe.test/c/pay/{id}"),
            }))
        })
        .mount(stripe)
        .await;
}

fn form_of(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

async fn gifts(app: &TestApp) -> Vec<gift::Model> {
    gift::Entity::find()
        .order_by_asc(gift::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

async fn count_receipts(app: &TestApp) -> u64 {
    receipt::Entity::find().count(&app.db).await.unwrap()
}

async fn count_outbox(app: &TestApp) -> u64 {
    outbox::Entity::find().count(&app.db).await.unwrap()
}

async fn count_donors(app: &TestApp) -> u64 {
    donor::Entity::find().count(&app.db).await.unwrap()
}

async fn count_events(app: &TestApp) -> u64 {
    stripe_event::Entity::find().count(&app.db).await.unwrap()
}

async fn a_paid_one_off_checkout_records_one_gift_with_its_receipt(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let session = payment_session("cs_paid", "Maria@Example.org", 5_000, true);

    let response = app
        .deliver(&event("evt_paid", "checkout.session.completed", session))
        .await;

    assert_eq!(response.status(), 200);
    let gifts = gifts(&app).await;
    assert_eq!(gifts.len(), 1);
    assert_eq!(gifts[0].status, GiftStatus::Succeeded);
    assert_eq!(gifts[0].amount_minor, 5_000);
    assert_eq!(
        gifts[0].stripe_checkout_session_id.as_deref(),
        Some("cs_paid")
    );
    assert_eq!(count_receipts(&app).await, 1);
    assert_eq!(count_outbox(&app).await, 1);
    let donor = donor::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(donor.email.as_deref(), Some("maria@example.org"));
    assert_eq!(donor.stripe_customer_id.as_deref(), Some("cus_cs_paid"));
}

async fn a_second_gift_from_the_same_email_in_another_case_finds_the_same_donor(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    app.deliver(&event(
        "evt_a",
        "checkout.session.completed",
        payment_session("cs_a", "ana@example.org", 2_500, true),
    ))
    .await;
    app.deliver(&event(
        "evt_b",
        "checkout.session.completed",
        payment_session("cs_b", "ANA@Example.ORG", 2_500, true),
    ))
    .await;

    assert_eq!(count_donors(&app).await, 1);
    assert_eq!(gifts(&app).await.len(), 2);
}

async fn a_delayed_payment_is_pending_until_it_succeeds_and_gets_one_receipt(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let pending = payment_session("cs_ach", "luis@example.org", 10_000, false);
    app.deliver(&event("evt_1", "checkout.session.completed", pending))
        .await;
    assert_eq!(gifts(&app).await[0].status, GiftStatus::Pending);
    assert_eq!(count_receipts(&app).await, 0);

    let settled = payment_session("cs_ach", "luis@example.org", 10_000, true);
    for id in ["evt_2", "evt_2", "evt_3"] {
        let response = app
            .deliver(&event(
                id,
                "checkout.session.async_payment_succeeded",
                settled.clone(),
            ))
            .await;
        assert_eq!(response.status(), 200);
    }

    let gifts = gifts(&app).await;
    assert_eq!(gifts.len(), 1);
    assert_eq!(gifts[0].status, GiftStatus::Succeeded);
    assert_eq!(count_receipts(&app).await, 1);
    assert_eq!(count_outbox(&app).await, 1);
}

async fn a_delayed_payment_that_fails_marks_the_gift_failed_without_a_receipt(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let session = payment_session("cs_fail", "luis@example.org", 10_000, false);
    app.deliver(&event(
        "evt_1",
        "checkout.session.completed",
        session.clone(),
    ))
    .await;
    app.deliver(&event(
        "evt_2",
        "checkout.session.async_payment_failed",
        session,
    ))
    .await;

    assert_eq!(gifts(&app).await[0].status, GiftStatus::Failed);
    assert_eq!(count_receipts(&app).await, 0);
}

async fn a_monthly_gift_records_one_installment_per_invoice(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let email = "rosa@example.org";
    app.deliver(&event(
        "evt_session",
        "checkout.session.completed",
        subscription_session("cs_monthly", "sub_rosa", email, 4_200),
    ))
    .await;
    app.deliver(&event(
        "evt_sub",
        "customer.subscription.created",
        subscription("sub_rosa", email, 4_200, "active"),
    ))
    .await;
    for n in 1..=3 {
        let mut invoice = if n == 1 {
            first_invoice("in_1", "sub_rosa", email, 4_200)
        } else {
            paid_invoice(&format!("in_{n}"), "sub_rosa", email, 4_200)
        };
        invoice["parent"]["subscription_details"]["metadata"] = json!({
            "tribute_kind": "in_memory_of", "tribute_name": "Abuela Rosa"
        });
        let response = app
            .deliver(&event(&format!("evt_inv_{n}"), "invoice.paid", invoice))
            .await;
        assert_eq!(response.status(), 200);
    }

    let pledges = pledge::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(pledges.len(), 1);
    assert_eq!(pledges[0].installment_minor, 4_200);
    assert_eq!(pledges[0].status, PledgeStatus::Active);
    let gifts = gifts(&app).await;
    assert_eq!(gifts.len(), 3);
    assert!(gifts.iter().all(|g| g.pledge_id == Some(pledges[0].id)));
    let tributes: Vec<_> = gifts.iter().map(|g| g.tribute_name.as_deref()).collect();
    assert_eq!(tributes, [Some("Abuela Rosa"), None, None]);
    // The first installment gets a receipt; the year-end statement acknowledges the rest.
    assert_eq!(count_receipts(&app).await, 1);
    assert_eq!(count_donors(&app).await, 1);

    app.deliver(&event(
        "evt_fail",
        "invoice.payment_failed",
        paid_invoice("in_4", "sub_rosa", email, 4_200),
    ))
    .await;
    let pledge = pledge::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(pledge.status, PledgeStatus::PastDue);

    app.deliver(&event(
        "evt_deleted",
        "customer.subscription.deleted",
        subscription("sub_rosa", email, 4_200, "canceled"),
    ))
    .await;
    let pledge = pledge::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(pledge.status, PledgeStatus::Cancelled);
    assert!(pledge.cancelled_at.is_some());
}

async fn an_invoice_before_its_checkout_still_makes_one_donor_and_one_pledge(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let email = "omar@example.org";
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_omar"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(subscription("sub_omar", email, 2_500, "active")),
        )
        .expect(1)
        .mount(&stripe)
        .await;

    let response = app
        .deliver(&event(
            "evt_inv",
            "invoice.paid",
            first_invoice("in_first", "sub_omar", email, 2_500),
        ))
        .await;
    assert_eq!(response.status(), 200);
    app.deliver(&event(
        "evt_session",
        "checkout.session.completed",
        subscription_session("cs_omar", "sub_omar", email, 2_500),
    ))
    .await;
    app.deliver(&event(
        "evt_sub",
        "customer.subscription.created",
        subscription("sub_omar", email, 2_500, "active"),
    ))
    .await;

    assert_eq!(count_donors(&app).await, 1);
    assert_eq!(pledge::Entity::find().count(&app.db).await.unwrap(), 1);
    let gifts = gifts(&app).await;
    assert_eq!(gifts.len(), 1);
    assert!(gifts[0].pledge_id.is_some());
    assert_eq!(gifts[0].status, GiftStatus::Succeeded);
}

async fn the_same_event_replayed_ten_times_and_concurrently_records_one_gift(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let delivery = event(
        "evt_replayed",
        "checkout.session.completed",
        payment_session("cs_replayed", "kim@example.org", 7_500, true),
    );
    for _ in 0..10 {
        assert_eq!(app.deliver(&delivery).await.status(), 200);
    }
    let concurrent = event(
        "evt_concurrent",
        "checkout.session.completed",
        payment_session("cs_concurrent", "lee@example.org", 7_500, true),
    );
    let deliveries = (0..10).map(|_| app.deliver(&concurrent));
    for response in futures_util::future::join_all(deliveries).await {
        assert_eq!(response.status(), 200);
    }

    assert_eq!(gifts(&app).await.len(), 2);
    assert_eq!(count_receipts(&app).await, 2);
    assert_eq!(count_outbox(&app).await, 2);
    assert_eq!(count_events(&app).await, 2);
}

async fn forged_stale_and_unsigned_webhooks_are_refused_and_change_nothing(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let body = serde_json::to_vec(&event(
        "evt_forged",
        "checkout.session.completed",
        payment_session("cs_forged", "eve@example.org", 9_900, true),
    ))
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let forged = signature(&body, "whsec_attacker");
    let stale = api::stripe::signature::sign(&body, WEBHOOK_SECRET, now - 301);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let valid_for_original = signature(&body, WEBHOOK_SECRET);

    for (payload, header) in [
        (body.clone(), Some(forged.as_str())),
        (body.clone(), Some(stale.as_str())),
        (body.clone(), None),
        (body.clone(), Some("t=abc,v1=zz")),
        (tampered, Some(valid_for_original.as_str())),
    ] {
        assert_eq!(app.deliver_raw(payload, header).await.status(), 400);
    }
    assert_eq!(count_events(&app).await, 0);
    assert!(gifts(&app).await.is_empty());
}

async fn an_event_signed_with_the_secret_being_rotated_out_is_accepted(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let body = serde_json::to_vec(&event(
        "evt_rotated",
        "checkout.session.completed",
        payment_session("cs_rotated", "sam@example.org", 1_000, true),
    ))
    .unwrap();
    let old = signature(&body, OLD_WEBHOOK_SECRET);
    let new = signature(&body, WEBHOOK_SECRET);
    let v1_new = new.split_once(",v1=").unwrap().1;
    // Stripe sends one v1 per active secret during a rotation.
    let both = format!("{old},v1={v1_new}");

    assert_eq!(
        app.deliver_raw(body.clone(), Some(&old)).await.status(),
        200
    );
    assert_eq!(app.deliver_raw(body, Some(&both)).await.status(), 200);
    assert_eq!(gifts(&app).await.len(), 1);
}

async fn an_unknown_event_type_is_recorded_and_acknowledged(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let response = app
        .deliver(&event(
            "evt_plan",
            "plan.created",
            json!({ "id": "plan_1" }),
        ))
        .await;
    assert_eq!(response.status(), 200);
    let recorded = stripe_event::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.event_type, "plan.created");
    assert!(recorded.outcome.starts_with("ignored"));
}

async fn partial_and_full_refunds_follow_the_charge(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_refund", "ines@example.org", 10_000, true),
    ))
    .await;
    let gift_id = gifts(&app).await[0].id;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(|request: &Request| {
            let form = form_of(request);
            let amount: i64 = form["amount"].parse().unwrap();
            ResponseTemplate::new(200).set_body_json(refund("re_1", "ch_1", amount))
        })
        .expect(1)
        .mount(&stripe)
        .await;
    let token = app.token(entity::enums::StaffRole::Staff).await;
    let mutation = "mutation($id: ID!, $amount: MoneyInput) { refundGift(id: $id, amount: $amount) { gift { status } processorRefund { stripeRefundId amount { amountMinor } status } } }";
    let vars = json!({ "id": gift_id.to_string(), "amount": { "amountMinor": 3_000 } });
    let first = app.graphql(&token, mutation, vars.clone()).await;
    let refund = &first["data"]["refundGift"];
    assert_eq!(
        refund["processorRefund"]["amount"]["amountMinor"], 3_000,
        "{first}"
    );
    assert_eq!(
        refund["gift"]["status"], "SUCCEEDED",
        "unchanged until Stripe confirms"
    );
    let requests = stripe.received_requests().await.unwrap();
    let refund_request = requests
        .iter()
        .find(|r| r.url.path() == "/v1/refunds")
        .unwrap();
    assert!(refund_request.headers.get("Idempotency-Key").is_some());
    assert_eq!(form_of(refund_request)["payment_intent"], "pi_cs_refund");
    // Nothing changes until Stripe reports the refund.
    assert_eq!(gifts(&app).await[0].refunded_minor, 0);

    app.deliver(&event(
        "evt_partial",
        "charge.refunded",
        charge("ch_refund", "pi_cs_refund", 10_000, 3_000),
    ))
    .await;
    let gift = gifts(&app).await.remove(0);
    assert_eq!(gift.status, GiftStatus::PartiallyRefunded);
    assert_eq!(gift.refunded_minor, 3_000);
    assert_eq!(gift.stripe_charge_id.as_deref(), Some("ch_refund"));

    app.deliver(&event(
        "evt_full",
        "charge.refunded",
        charge("ch_refund", "pi_cs_refund", 10_000, 10_000),
    ))
    .await;
    // An older notice arriving late does not shrink the refunded total.
    app.deliver(&event(
        "evt_partial_late",
        "charge.refunded",
        charge("ch_refund", "pi_cs_refund", 10_000, 3_000),
    ))
    .await;
    let gift = gifts(&app).await.remove(0);
    assert_eq!(gift.status, GiftStatus::Refunded);
    assert_eq!(gift.refunded_minor, 10_000);
}

async fn refunding_more_than_remains_is_refused_without_calling_stripe(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_over", "ines@example.org", 1_000, true),
    ))
    .await;
    let gift_id = gifts(&app).await[0].id;
    let token = app.token(entity::enums::StaffRole::Staff).await;
    let body = app
        .graphql(
            &token,
            "mutation($id: ID!) { refundGift(id: $id, amount: { amountMinor: 1100 }) { gift { id } } }",
            json!({ "id": gift_id.to_string() }),
        )
        .await;
    assert_eq!(tests::error_codes(&body), ["BAD_USER_INPUT"]);
    assert!(stripe.received_requests().await.unwrap().is_empty());
}

async fn a_dispute_marks_the_gift_disputed_and_a_won_dispute_restores_it(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_dispute", "noor@example.org", 20_000, true),
    ))
    .await;
    app.deliver(&event(
        "evt_dp_1",
        "charge.dispute.created",
        dispute("dp_1", "ch_dispute", "pi_cs_dispute", "needs_response"),
    ))
    .await;
    assert_eq!(gifts(&app).await[0].status, GiftStatus::Disputed);

    app.deliver(&event(
        "evt_dp_2",
        "charge.dispute.closed",
        dispute("dp_1", "ch_dispute", "pi_cs_dispute", "won"),
    ))
    .await;
    assert_eq!(gifts(&app).await[0].status, GiftStatus::Succeeded);
    assert_eq!(count_receipts(&app).await, 1);
}

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

async fn different_events_for_one_new_email_at_once_make_one_donor(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let deliveries: Vec<_> = (0..6)
        .map(|i| {
            event(
                &format!("evt_same_donor_{i}"),
                "checkout.session.completed",
                payment_session(
                    &format!("cs_same_donor_{i}"),
                    if i % 2 == 0 {
                        "new@example.org"
                    } else {
                        "NEW@example.org"
                    },
                    1_000,
                    true,
                ),
            )
        })
        .collect();
    let responses = futures_util::future::join_all(deliveries.iter().map(|e| app.deliver(e))).await;
    assert!(responses.iter().all(|r| r.status() == 200));

    assert_eq!(count_donors(&app).await, 1);
    assert_eq!(gifts(&app).await.len(), 6);
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

async fn a_subscription_with_no_known_donor_is_kept_with_its_reason_and_changes_nothing(
    backend: Backend,
) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let mut stranger = subscription("sub_dashboard", "x@example.org", 1_000, "active");
    stranger["metadata"] = json!({});
    stranger["customer"] = json!("cus_unknown");

    let response = app
        .deliver(&event(
            "evt_stranger",
            "customer.subscription.created",
            stranger,
        ))
        .await;

    assert_eq!(response.status(), 200);
    let recorded = stripe_event::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.status, StripeEventStatus::Failed);
    assert!(
        recorded
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("email: ")),
        "{recorded:?}"
    );
    assert_eq!(count_donors(&app).await, 0);
    assert_eq!(pledge::Entity::find().count(&app.db).await.unwrap(), 0);
}

on_both_backends!(
    a_paid_one_off_checkout_records_one_gift_with_its_receipt,
    a_second_gift_from_the_same_email_in_another_case_finds_the_same_donor,
    a_delayed_payment_is_pending_until_it_succeeds_and_gets_one_receipt,
    a_delayed_payment_that_fails_marks_the_gift_failed_without_a_receipt,
    a_monthly_gift_records_one_installment_per_invoice,
    an_invoice_before_its_checkout_still_makes_one_donor_and_one_pledge,
    the_same_event_replayed_ten_times_and_concurrently_records_one_gift,
    forged_stale_and_unsigned_webhooks_are_refused_and_change_nothing,
    an_event_signed_with_the_secret_being_rotated_out_is_accepted,
    an_unknown_event_type_is_recorded_and_acknowledged,
    partial_and_full_refunds_follow_the_charge,
    refunding_more_than_remains_is_refused_without_calling_stripe,
    a_dispute_marks_the_gift_disputed_and_a_won_dispute_restores_it,
    the_donation_page_speaks_english_and_spanish,
    a_valid_donation_goes_to_stripe_checkout_once_per_double_click,
    a_monthly_donation_creates_a_subscription_session,
    every_invalid_field_is_named_and_what_was_typed_is_kept,
    when_stripe_fails_the_donor_sees_a_retry_page_and_nothing_is_recorded,
    the_thank_you_page_reflects_the_payment,
    different_events_for_one_new_email_at_once_make_one_donor,
    a_rate_limited_stripe_is_retried_and_the_donor_still_reaches_checkout,
    a_subscription_with_no_known_donor_is_kept_with_its_reason_and_changes_nothing,
);

async fn valid_receipts_of(app: &TestApp) -> Vec<entity::receipt::Model> {
    entity::receipt::Entity::find()
        .filter(entity::receipt::Column::Status.eq(entity::enums::ReceiptStatus::Issued))
        .all(&app.db)
        .await
        .unwrap()
}

async fn a_refund_from_stripe_corrects_the_receipt(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_receipt", "lena@example.org", 10_000, true),
    ))
    .await;
    let original = valid_receipts_of(&app).await.remove(0);
    assert_eq!(original.amount_minor, 10_000);

    app.deliver(&event(
        "evt_partial",
        "charge.refunded",
        charge("ch_receipt", "pi_cs_receipt", 10_000, 4_000),
    ))
    .await;
    let valid = valid_receipts_of(&app).await;
    assert_eq!(valid.len(), 1);
    assert_eq!(
        valid[0].amount_minor, 6_000,
        "the new receipt states the net gift"
    );
    assert_eq!(valid[0].replaces_receipt_id, Some(original.id));

    app.deliver(&event(
        "evt_full",
        "charge.refunded",
        charge("ch_receipt", "pi_cs_receipt", 10_000, 10_000),
    ))
    .await;
    assert!(
        valid_receipts_of(&app).await.is_empty(),
        "a refunded gift has no valid receipt"
    );
    assert_eq!(
        count_receipts(&app).await,
        2,
        "void receipts are kept, never deleted"
    );
}

async fn a_lost_dispute_voids_the_receipt(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_lost", "omar@example.org", 20_000, true),
    ))
    .await;
    app.deliver(&event(
        "evt_dp_1",
        "charge.dispute.created",
        dispute("dp_1", "ch_lost", "pi_cs_lost", "needs_response"),
    ))
    .await;
    assert_eq!(
        valid_receipts_of(&app).await.len(),
        1,
        "an open dispute changes no receipt"
    );
    app.deliver(&event(
        "evt_dp_2",
        "charge.dispute.closed",
        dispute("dp_1", "ch_lost", "pi_cs_lost", "lost"),
    ))
    .await;
    assert_eq!(gifts(&app).await[0].status, GiftStatus::Disputed);
    assert!(valid_receipts_of(&app).await.is_empty());
    let notices = entity::outbox::Entity::find()
        .filter(entity::outbox::Column::Kind.eq("receipt_voided"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(notices, 1, "the donor is told once");
}

on_both_backends!(
    a_refund_from_stripe_corrects_the_receipt,
    a_lost_dispute_voids_the_receipt,
);

/// What Stripe holds for a monthly gift made on the donation page: the checkout session
/// (with the donor's email and the page's metadata), its subscription (whose metadata
/// names no donor), and the customer. Returns the session.
fn monthly_gift_in_stripe(
    objects: &StripeObjects,
    session_id: &str,
    subscription_id: &str,
    email: &str,
    amount: i64,
) -> serde_json::Value {
    let customer_id = format!("cus_{subscription_id}");
    let mut session = subscription_session(session_id, subscription_id, email, amount);
    session["customer"] = json!(customer_id);
    session["metadata"]["donor_name"] = json!("Amina Diallo");
    session["metadata"]["language"] = json!("fr");
    let mut stripe_subscription = subscription(subscription_id, email, amount, "active");
    stripe_subscription["customer"] = json!(customer_id);
    stripe_subscription["metadata"] = json!({ "fund": "GENERAL" });
    objects.put(session.clone());
    objects.put(stripe_subscription);
    objects.put(customer(&customer_id, email, "A. Diallo"));
    session
}

async fn a_first_installment_before_its_checkout_becomes_a_gift_with_its_receipt(backend: Backend) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    let email = "amina@example.org";
    let session = monthly_gift_in_stripe(&objects, "cs_amina", "sub_amina", email, 4_200);
    let mut stripe_subscription = subscription("sub_amina", email, 4_200, "active");
    stripe_subscription["customer"] = json!("cus_sub_amina");
    stripe_subscription["metadata"] = json!({ "fund": "GENERAL" });
    // Stripe's invoice often lacks the email; it never carries the payment intent.
    let invoice = first_invoice("in_amina_1", "sub_amina", "", 4_200);

    let response = app
        .deliver(&event("evt_inv", "invoice.paid", invoice.clone()))
        .await;
    assert_eq!(response.status(), 200);
    for (id, kind, object) in [
        ("evt_session", "checkout.session.completed", session),
        (
            "evt_sub",
            "customer.subscription.created",
            stripe_subscription,
        ),
        ("evt_inv", "invoice.paid", invoice),
    ] {
        assert_eq!(app.deliver(&event(id, kind, object)).await.status(), 200);
    }

    let gifts = gifts(&app).await;
    assert_eq!(gifts.len(), 1, "{gifts:?}");
    assert_eq!(gifts[0].status, GiftStatus::Succeeded);
    assert_eq!(gifts[0].amount_minor, 4_200);
    assert_eq!(
        gifts[0].stripe_payment_intent_id.as_deref(),
        Some(invoice_payment_intent("in_amina_1").as_str())
    );
    assert_eq!(count_receipts(&app).await, 1);
    assert_eq!(count_donors(&app).await, 1);
    let donor = donor::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(donor.email.as_deref(), Some(email));
    assert_eq!(donor.display_name, "Amina Diallo", "the checkout's name");
    assert_eq!(donor.language, entity::enums::Language::French);
    let pledges = pledge::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(pledges.len(), 1);
    assert_eq!(gifts[0].pledge_id, Some(pledges[0].id));
}

/// A monthly gift with two paid installments, delivered in order.
async fn two_installments(app: &TestApp, objects: &StripeObjects, email: &str) -> Vec<gift::Model> {
    let session = monthly_gift_in_stripe(objects, "cs_two", "sub_two", email, 5_000);
    app.deliver(&event("evt_session", "checkout.session.completed", session))
        .await;
    for n in 1..=2 {
        let invoice = if n == 1 {
            first_invoice("in_two_1", "sub_two", email, 5_000)
        } else {
            paid_invoice("in_two_2", "sub_two", email, 5_000)
        };
        let response = app
            .deliver(&event(&format!("evt_inv_{n}"), "invoice.paid", invoice))
            .await;
        assert_eq!(response.status(), 200);
    }
    let gifts = gifts(app).await;
    assert_eq!(gifts.len(), 2);
    gifts
}

async fn a_refund_and_a_dispute_of_installments_reach_their_gifts(backend: Backend) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    two_installments(&app, &objects, "bea@example.org").await;

    // The pinned version's charge names its payment intent, not its invoice.
    let refunded = charge(
        "ch_two_1",
        &invoice_payment_intent("in_two_1"),
        5_000,
        5_000,
    );
    let response = app
        .deliver(&event("evt_refund", "charge.refunded", refunded))
        .await;
    assert_eq!(response.status(), 200);
    let disputed = dispute(
        "dp_two_2",
        "ch_two_2",
        &invoice_payment_intent("in_two_2"),
        "needs_response",
    );
    let response = app
        .deliver(&event("evt_dispute", "charge.dispute.created", disputed))
        .await;
    assert_eq!(response.status(), 200);

    let gifts = gifts(&app).await;
    assert_eq!(gifts[0].status, GiftStatus::Refunded);
    assert_eq!(gifts[0].refunded_minor, 5_000);
    assert_eq!(gifts[0].stripe_charge_id.as_deref(), Some("ch_two_1"));
    assert_eq!(gifts[1].status, GiftStatus::Disputed);
}

async fn staff_refund_an_installment_gift_through_stripe(backend: Backend) {
    let (app, stripe, objects) = app_with_stripe_objects(backend).await;
    let gifts = two_installments(&app, &objects, "cleo@example.org").await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(|request: &Request| {
            let amount: i64 = form_of(request)["amount"].parse().unwrap();
            ResponseTemplate::new(200).set_body_json(refund("re_inst", "ch_inst", amount))
        })
        .expect(1)
        .mount(&stripe)
        .await;
    let token = app.token(entity::enums::StaffRole::Staff).await;

    let body = app
        .graphql(
            &token,
            "mutation($id: ID!) { refundGift(id: $id) { processorRefund { amount { amountMinor } } } }",
            json!({ "id": gifts[1].id.to_string() }),
        )
        .await;

    assert_eq!(
        body["data"]["refundGift"]["processorRefund"]["amount"]["amountMinor"], 5_000,
        "{body}"
    );
    let requests = stripe.received_requests().await.unwrap();
    let sent = requests
        .iter()
        .find(|r| r.url.path() == "/v1/refunds")
        .unwrap();
    assert_eq!(
        form_of(sent)["payment_intent"],
        invoice_payment_intent("in_two_2")
    );
}

async fn an_installment_stripe_cannot_complete_is_refused_so_stripe_sends_it_again(
    backend: Backend,
) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    monthly_gift_in_stripe(&objects, "cs_down", "sub_down", "dan@example.org", 4_200);
    let delivery = event(
        "evt_inv_down",
        "invoice.paid",
        first_invoice("in_down", "sub_down", "", 4_200),
    );
    objects.set_unreachable(true);

    let response = app.deliver(&delivery).await;

    assert!(response.status().is_server_error(), "{}", response.status());
    assert!(gifts(&app).await.is_empty());
    assert_eq!(count_events(&app).await, 0);
    objects.set_unreachable(false);
    assert_eq!(app.deliver(&delivery).await.status(), 200);
    assert_eq!(gifts(&app).await.len(), 1);
}

async fn event_status(app: &TestApp, event_id: &str) -> StripeEventStatus {
    stripe_event::Entity::find()
        .filter(stripe_event::Column::EventId.eq(event_id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn a_refund_and_a_dispute_before_their_checkout_wait_and_then_apply(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let refunded = charge("ch_early", "pi_cs_early", 10_000, 2_500);
    let disputed = dispute("dp_early", "ch_early", "pi_cs_early", "needs_response");
    for (id, kind, object) in [
        ("evt_refund", "charge.refunded", refunded),
        ("evt_dispute", "charge.dispute.created", disputed),
    ] {
        assert_eq!(app.deliver(&event(id, kind, object)).await.status(), 200);
        assert_eq!(event_status(&app, id).await, StripeEventStatus::Waiting);
    }
    assert!(gifts(&app).await.is_empty());

    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_early", "early@example.org", 10_000, true),
    ))
    .await;

    let gifts = gifts(&app).await;
    assert_eq!(gifts.len(), 1);
    assert_eq!(gifts[0].refunded_minor, 2_500);
    assert_eq!(gifts[0].status, GiftStatus::Disputed);
    for id in ["evt_refund", "evt_dispute", "evt_paid"] {
        assert_eq!(
            event_status(&app, id).await,
            StripeEventStatus::Applied,
            "{id}"
        );
    }
}

const STRIPE_EVENTS: &str = "query($filter: StripeEventFilter) { stripeEvents(filter: $filter, first: 10) { totalCount edges { node { id stripeEventId eventType outcome reason } } } }";
const REPROCESS: &str = "mutation($id: ID!) { reprocessStripeEvent(id: $id) { processed event { outcome reason summary } } }";

async fn staff_see_a_failed_event_and_an_admin_mends_it_once(backend: Backend) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    // A subscription made in Stripe's Dashboard for a customer Stripe cannot find yet.
    let mut stranger = subscription("sub_dash", "x@example.org", 1_000, "active");
    stranger["metadata"] = json!({});
    stranger["customer"] = json!("cus_dash");
    app.deliver(&event(
        "evt_dash",
        "customer.subscription.created",
        stranger,
    ))
    .await;
    app.deliver(&event(
        "evt_plan",
        "plan.created",
        json!({ "id": "plan_1" }),
    ))
    .await;

    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(
        ready["warnings"]["stripeEvents"]["needingAttention"], 1,
        "{ready}"
    );
    assert_eq!(
        ready["warnings"]["stripeEvents"]["events"][0]["stripeEventId"],
        "evt_dash"
    );
    let staff = app.token(entity::enums::StaffRole::Staff).await;
    let listed = app
        .graphql(
            &staff,
            STRIPE_EVENTS,
            json!({ "filter": { "outcome": "FAILED" } }),
        )
        .await;
    let listing = &listed["data"]["stripeEvents"];
    assert_eq!(listing["totalCount"], 1, "{listed}");
    let failed = &listing["edges"][0]["node"];
    assert_eq!(failed["stripeEventId"], "evt_dash");
    assert!(
        failed["reason"].as_str().unwrap().starts_with("email:"),
        "{failed}"
    );
    let by_type = app
        .graphql(
            &staff,
            STRIPE_EVENTS,
            json!({ "filter": { "type": "plan.created" } }),
        )
        .await;
    assert_eq!(
        by_type["data"]["stripeEvents"]["edges"][0]["node"]["outcome"],
        "IGNORED"
    );
    let id = failed["id"].clone();
    let refused = app.graphql(&staff, REPROCESS, json!({ "id": id })).await;
    assert_eq!(tests::error_codes(&refused), vec!["FORBIDDEN"]);

    // Stripe now knows the customer's email: an admin reprocesses the event.
    objects.put(customer("cus_dash", "dash@example.org", "Dana Ash"));
    let admin = app.token(entity::enums::StaffRole::Admin).await;
    let mended = app.graphql(&admin, REPROCESS, json!({ "id": id })).await;
    assert_eq!(
        mended["data"]["reprocessStripeEvent"]["processed"], true,
        "{mended}"
    );
    assert_eq!(
        mended["data"]["reprocessStripeEvent"]["event"]["outcome"],
        "APPLIED"
    );
    let again = app.graphql(&admin, REPROCESS, json!({ "id": id })).await;
    assert_eq!(
        again["data"]["reprocessStripeEvent"]["processed"], false,
        "{again}"
    );

    assert_eq!(pledge::Entity::find().count(&app.db).await.unwrap(), 1);
    assert_eq!(count_donors(&app).await, 1);
    let audited = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq("stripe_event.reprocessed"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(audited, 2);
    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert!(ready["warnings"]["stripeEvents"].is_null(), "{ready}");
}

on_both_backends!(
    staff_see_a_failed_event_and_an_admin_mends_it_once,
    a_refund_and_a_dispute_before_their_checkout_wait_and_then_apply,
    an_installment_stripe_cannot_complete_is_refused_so_stripe_sends_it_again,
    a_first_installment_before_its_checkout_becomes_a_gift_with_its_receipt,
    a_refund_and_a_dispute_of_installments_reach_their_gifts,
    staff_refund_an_installment_gift_through_stripe,
);
