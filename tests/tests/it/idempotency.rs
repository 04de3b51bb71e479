//! An idempotency key means the same request: a replay answers the first result, a
//! replay that differs in any field is a conflict naming the field. Refunds count what
//! was asked of Stripe before Stripe's `charge.refunded` confirms it, so two partial
//! refunds sent close together cannot ask for more than the gift has left.

use entity::enums::{GiftStatus, PledgeStatus, RefundRequestStatus};
use entity::{gift, pledge, refund_request};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::club::{club_app, envelope_pledge, tomas_card_pledge};
use crate::staff_api::{
    audit_entries, check_gift, create_donor, fails, ok, record_gift, staff_token,
};
use tests::fake_stripe::FakeStripe;
use tests::on_both_backends;
use tests::stripe::{SECRET_KEY, WEBHOOK_SECRET, charge, event, payment_session, subscription};
use tests::support::{Backend, TestApp, spawn_app_with};

const REFUND: &str = "mutation($id: ID!, $amount: MoneyInput, $reason: String, $key: String) { refundGift(input: { id: $id, amount: $amount, reason: $reason, idempotencyKey: $key }) { gift { status refunded { amountMinor } } processorRefund { stripeRefundId amount { amountMinor } status } } }";

async fn app_with_fake_stripe(backend: Backend) -> (TestApp, FakeStripe) {
    let stripe = FakeStripe::start().await;
    let app = spawn_app_with(
        backend,
        &[
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_API_BASE", &stripe.uri()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("PUBLIC_URL", "https://give.example.org"),
        ],
    )
    .await;
    (app, stripe)
}

/// A $100 card gift paid through Checkout, whose charge `ch_hundred` Stripe holds.
async fn hundred_dollar_card_gift(app: &TestApp, stripe: &FakeStripe) -> i64 {
    card_gift_refunded_in_stripe(app, stripe, 0).await
}

/// A $100 card gift of which Stripe has refunded `refunded` (in its dashboard, say)
/// without its event having arrived.
async fn card_gift_refunded_in_stripe(app: &TestApp, stripe: &FakeStripe, refunded: i64) -> i64 {
    stripe.add_charge(charge("ch_hundred", "pi_cs_hundred", 10_000, refunded));
    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_hundred", "ines@example.org", 10_000, true),
    ))
    .await;
    gift::Entity::find().one(&app.db).await.unwrap().unwrap().id
}

fn refund_vars(gift: i64, amount: Option<i64>, key: Option<&str>) -> Value {
    json!({
        "id": gift.to_string(),
        "amount": amount.map(|a| json!({ "amountMinor": a })),
        "key": key,
    })
}

async fn gift_row(app: &TestApp, id: i64) -> gift::Model {
    gift::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn refund_requests(app: &TestApp) -> Vec<refund_request::Model> {
    refund_request::Entity::find()
        .order_by_asc(refund_request::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

async fn a_second_partial_refund_before_the_first_is_confirmed_cannot_ask_for_more_than_is_left(
    backend: Backend,
) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let token = staff_token(&app).await;
    let gift = hundred_dollar_card_gift(&app, &stripe).await;

    ok(&app, &token, REFUND, refund_vars(gift, Some(6_000), None)).await;
    let body = app
        .graphql(&token, REFUND, refund_vars(gift, Some(6_000), None))
        .await;

    assert_eq!(tests::error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "amount");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("$40.00"), "{message}");
    assert_eq!(stripe.refund_posts().await, 1, "no second call to Stripe");
    assert_eq!(refund_requests(&app).await.len(), 1);
}

async fn refunds_of_60_then_40_before_their_webhooks_refund_the_gift_once(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let token = staff_token(&app).await;
    let gift = hundred_dollar_card_gift(&app, &stripe).await;

    for amount in [6_000, 4_000] {
        let data = ok(&app, &token, REFUND, refund_vars(gift, Some(amount), None)).await;
        assert_eq!(
            data["refundGift"]["processorRefund"]["amount"]["amountMinor"],
            amount
        );
    }
    assert_eq!(stripe.refund_posts().await, 2);
    for (id, refunded) in [("evt_refund_60", 6_000), ("evt_refund_100", 10_000)] {
        let response = app
            .deliver(&event(
                id,
                "charge.refunded",
                charge("ch_hundred", "pi_cs_hundred", 10_000, refunded),
            ))
            .await;
        assert_eq!(response.status(), 200);
    }

    let refunded = gift_row(&app, gift).await;
    assert_eq!(refunded.refunded_minor, 10_000);
    assert_eq!(refunded.status, GiftStatus::Refunded);
    let requests = refund_requests(&app).await;
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .all(|r| r.status == RefundRequestStatus::Confirmed),
        "{requests:?}"
    );
    let (code, _) = fails(&app, &token, REFUND, refund_vars(gift, Some(100), None)).await;
    assert_eq!(code, "CONFLICT");
    assert_eq!(stripe.refund_posts().await, 2);
}

async fn a_confirmed_partial_refund_leaves_the_rest_to_refund(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let token = staff_token(&app).await;
    let gift = hundred_dollar_card_gift(&app, &stripe).await;

    ok(&app, &token, REFUND, refund_vars(gift, Some(6_000), None)).await;
    app.deliver(&event(
        "evt_refund_60",
        "charge.refunded",
        charge("ch_hundred", "pi_cs_hundred", 10_000, 6_000),
    ))
    .await;
    let data = ok(&app, &token, REFUND, refund_vars(gift, None, None)).await;

    assert_eq!(
        data["refundGift"]["processorRefund"]["amount"]["amountMinor"], 4_000,
        "what is left, counted once"
    );
    assert_eq!(gift_row(&app, gift).await.refunded_minor, 6_000);
}

async fn a_refund_stripe_refuses_releases_its_amount(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let token = staff_token(&app).await;
    let gift = card_gift_refunded_in_stripe(&app, &stripe, 5_000).await;

    let body = app
        .graphql(&token, REFUND, refund_vars(gift, Some(6_000), None))
        .await;
    assert_eq!(tests::error_codes(&body), ["PAYMENT_FAILED"], "{body}");
    let requests = refund_requests(&app).await;
    assert_eq!(requests[0].status, RefundRequestStatus::Failed);

    ok(&app, &token, REFUND, refund_vars(gift, Some(4_000), None)).await;
    assert_eq!(stripe.refund_posts().await, 2);
}

async fn a_card_refund_replayed_with_its_key_answers_the_first_refund(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let token = staff_token(&app).await;
    let gift = hundred_dollar_card_gift(&app, &stripe).await;
    let vars = refund_vars(gift, Some(3_000), Some("refund-ines-1"));

    let first = ok(&app, &token, REFUND, vars.clone()).await;
    let again = ok(&app, &token, REFUND, vars).await;

    assert_eq!(
        first["refundGift"]["processorRefund"],
        again["refundGift"]["processorRefund"]
    );
    assert_eq!(stripe.refund_posts().await, 1);
    let other_amount = refund_vars(gift, Some(2_000), Some("refund-ines-1"));
    let (code, field) = fails(&app, &token, REFUND, other_amount).await;
    assert_eq!((code.as_str(), field.as_str()), ("CONFLICT", "amount"));
    let mut other_reason = refund_vars(gift, Some(3_000), Some("refund-ines-1"));
    other_reason["reason"] = json!("asked twice");
    let (code, field) = fails(&app, &token, REFUND, other_reason).await;
    assert_eq!((code.as_str(), field.as_str()), ("CONFLICT", "reason"));
    assert_eq!(stripe.refund_posts().await, 1);
    assert_eq!(refund_requests(&app).await.len(), 1);
    // The key went to Stripe as the stored request's id, not as the caller wrote it.
    let sent = stripe.server.received_requests().await.unwrap();
    let key = sent
        .iter()
        .find(|r| r.url.path() == "/v1/refunds")
        .map(|r| r.headers["Idempotency-Key"].to_str().unwrap().to_owned())
        .unwrap();
    assert_eq!(key, refund_requests(&app).await[0].request_id);
}

async fn an_offline_refund_replayed_with_its_key_refunds_once(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(
        &app,
        &token,
        json!({ "displayName": "José Núñez", "email": "jose@example.org" }),
    )
    .await;
    let recorded = record_gift(&app, &token, check_gift(donor, json!({}))).await;
    let gift: i64 = recorded["gift"]["id"].as_str().unwrap().parse().unwrap();
    let vars = refund_vars(gift, Some(10_000), Some("office-refund-7"));

    let first = ok(&app, &token, REFUND, vars.clone()).await;
    let again = ok(&app, &token, REFUND, vars).await;

    assert_eq!(first["refundGift"]["gift"], again["refundGift"]["gift"]);
    assert_eq!(gift_row(&app, gift).await.refunded_minor, 10_000);
    assert_eq!(audit_entries(&app, "refundGift").await.len(), 1);
    let (code, field) = fails(
        &app,
        &token,
        REFUND,
        refund_vars(gift, Some(5_000), Some("office-refund-7")),
    )
    .await;
    assert_eq!((code.as_str(), field.as_str()), ("CONFLICT", "amount"));
    let (code, field) = fails(
        &app,
        &token,
        REFUND,
        refund_vars(gift + 1, Some(10_000), Some("office-refund-7")),
    )
    .await;
    assert_eq!((code.as_str(), field.as_str()), ("CONFLICT", "id"));
    assert_eq!(gift_row(&app, gift).await.refunded_minor, 10_000);
}

const PAUSE: &str = "mutation($input: PledgeChangeInput!) { pausePledge(input: $input) { pledge { id status } requestedOfProcessor } }";
const CANCEL: &str = "mutation($input: CancelPledgeInput!) { cancelPledge(input: $input) { pledge { id status } requestedOfProcessor } }";
const CHANGE_AMOUNT: &str = "mutation($input: ChangePledgeAmountInput!) { changePledgeAmount(input: $input) { pledge { id } requestedOfProcessor } }";

/// `input` with `more`'s fields added.
fn merged(input: &Value, more: Value) -> Value {
    let mut input = input.clone();
    if let (Some(base), Some(more)) = (input.as_object_mut(), more.as_object()) {
        for (key, value) in more {
            base.insert(key.clone(), value.clone());
        }
    }
    input
}

fn pledge_input(id: i64, key: &str) -> Value {
    json!({ "id": id.to_string(), "idempotencyKey": key })
}

async fn a_pledge_change_replayed_with_its_key_answers_the_first_change(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(&app, &token, json!({ "displayName": "Amal Haddad" })).await;
    let pledge = envelope_pledge(&app, &token, donor, 5_000, "MONTHLY", None).await;
    let other = envelope_pledge(&app, &token, donor, 2_500, "MONTHLY", None).await;
    let vars = json!({ "input": pledge_input(pledge, "pause-amal") });

    let first = ok(&app, &token, PAUSE, vars.clone()).await;
    let again = ok(&app, &token, PAUSE, vars).await;

    assert_eq!(first, again);
    assert_eq!(first["pausePledge"]["pledge"]["status"], "PAUSED");
    assert_eq!(audit_entries(&app, "pausePledge").await.len(), 1);
    let (code, field) = fails(
        &app,
        &token,
        PAUSE,
        json!({ "input": pledge_input(other, "pause-amal") }),
    )
    .await;
    assert_eq!((code.as_str(), field.as_str()), ("CONFLICT", "id"));
    let (code, field) = fails(
        &app,
        &token,
        CANCEL,
        json!({ "input": pledge_input(pledge, "pause-amal") }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("CONFLICT", "idempotencyKey")
    );
    let untouched = pledge::Entity::find_by_id(other)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.status, PledgeStatus::Active);
}

async fn a_cancellation_replayed_with_another_reason_is_a_conflict(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(&app, &token, json!({ "displayName": "Nour Benali" })).await;
    let pledge = envelope_pledge(&app, &token, donor, 5_000, "MONTHLY", None).await;
    let input = pledge_input(pledge, "cancel-nour");

    ok(
        &app,
        &token,
        CANCEL,
        json!({ "input": merged(&input, json!({ "reason": "moving away" })) }),
    )
    .await;
    let again = ok(
        &app,
        &token,
        CANCEL,
        json!({ "input": merged(&input, json!({ "reason": "moving away" })) }),
    )
    .await;
    let (code, field) = fails(
        &app,
        &token,
        CANCEL,
        json!({ "input": merged(&input, json!({ "reason": "asked by phone" })) }),
    )
    .await;

    assert_eq!(again["cancelPledge"]["pledge"]["status"], "CANCELLED");
    assert_eq!((code.as_str(), field.as_str()), ("CONFLICT", "reason"));
    assert_eq!(audit_entries(&app, "cancelPledge").await.len(), 1);
}

async fn mount_subscription(stripe: &MockServer) {
    let current = subscription("sub_tomas", "tomas@example.org", 4_200, "active");
    for verb in ["GET", "POST"] {
        Mock::given(method(verb))
            .and(path("/v1/subscriptions/sub_tomas"))
            .respond_with(ResponseTemplate::new(200).set_body_json(current.clone()))
            .mount(stripe)
            .await;
    }
}

async fn subscription_posts(stripe: &MockServer) -> usize {
    stripe
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/v1/subscriptions/sub_tomas")
        .count()
}

async fn a_card_pledge_amount_change_replayed_asks_stripe_once(backend: Backend) {
    let (app, stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let pledge = tomas_card_pledge(&app, "tomas@example.org").await;
    mount_subscription(&stripe).await;
    let vars = json!({
        "input": merged(
            &pledge_input(pledge.id, "raise-tomas"),
            json!({ "amount": { "amountMinor": 6_000 } }),
        ),
    });

    let first = ok(&app, &token, CHANGE_AMOUNT, vars.clone()).await;
    let again = ok(&app, &token, CHANGE_AMOUNT, vars).await;

    assert_eq!(first, again);
    assert_eq!(first["changePledgeAmount"]["requestedOfProcessor"], true);
    assert_eq!(subscription_posts(&stripe).await, 1);
    let (code, field) = fails(
        &app,
        &token,
        CHANGE_AMOUNT,
        json!({
            "input": merged(
                &pledge_input(pledge.id, "raise-tomas"),
                json!({ "amount": { "amountMinor": 5_000 } }),
            ),
        }),
    )
    .await;
    assert_eq!((code.as_str(), field.as_str()), ("CONFLICT", "amount"));
    assert_eq!(subscription_posts(&stripe).await, 1);
}

on_both_backends!(
    a_second_partial_refund_before_the_first_is_confirmed_cannot_ask_for_more_than_is_left,
    refunds_of_60_then_40_before_their_webhooks_refund_the_gift_once,
    a_confirmed_partial_refund_leaves_the_rest_to_refund,
    a_refund_stripe_refuses_releases_its_amount,
    a_card_refund_replayed_with_its_key_answers_the_first_refund,
    an_offline_refund_replayed_with_its_key_refunds_once,
    a_pledge_change_replayed_with_its_key_answers_the_first_change,
    a_cancellation_replayed_with_another_reason_is_a_conflict,
    a_card_pledge_amount_change_replayed_asks_stripe_once,
);
