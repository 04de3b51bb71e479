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

mod donation_page;
mod installments;
mod refunds;

pub use donation_page::{attempt_of, form_token, post_donation, valid_form};

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

async fn different_events_for_one_payment_at_once_record_one_gift(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let session = payment_session("cs_both", "ines@example.org", 5_000, true);
    let deliveries: Vec<_> = (0..6)
        .map(|i| {
            let kind = if i % 2 == 0 {
                "checkout.session.completed"
            } else {
                "checkout.session.async_payment_succeeded"
            };
            event(&format!("evt_both_{i}"), kind, session.clone())
        })
        .collect();
    let responses = futures_util::future::join_all(deliveries.iter().map(|e| app.deliver(e))).await;
    assert!(responses.iter().all(|r| r.status() == 200));

    let gifts = gifts(&app).await;
    assert_eq!(gifts.len(), 1);
    assert_eq!(gifts[0].status, GiftStatus::Succeeded);
    assert_eq!(count_receipts(&app).await, 1);
    assert_eq!(count_outbox(&app).await, 1);
    assert_eq!(count_donors(&app).await, 1);
    assert_eq!(count_events(&app).await, 6);
}

const STRIPE_EVENTS: &str = "query($filter: StripeEventFilter) { stripeEvents(filter: $filter, first: 10) { totalCount edges { node { id stripeEventId eventType outcome reason } } } }";

const REPROCESS: &str = "mutation($id: ID!) { reprocessStripeEvent(input: { id: $id }) { processed event { outcome reason summary } } }";

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
    a_paid_one_off_checkout_records_one_gift_with_its_receipt,
    a_second_gift_from_the_same_email_in_another_case_finds_the_same_donor,
    a_delayed_payment_is_pending_until_it_succeeds_and_gets_one_receipt,
    a_delayed_payment_that_fails_marks_the_gift_failed_without_a_receipt,
    the_same_event_replayed_ten_times_and_concurrently_records_one_gift,
    forged_stale_and_unsigned_webhooks_are_refused_and_change_nothing,
    an_event_signed_with_the_secret_being_rotated_out_is_accepted,
    an_unknown_event_type_is_recorded_and_acknowledged,
    different_events_for_one_new_email_at_once_make_one_donor,
    different_events_for_one_payment_at_once_record_one_gift,
    staff_see_a_failed_event_and_an_admin_mends_it_once,
);
