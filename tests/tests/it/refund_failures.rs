//! A refund that fails after it was made (the card it goes back to is closed): the
//! gift's money is back, its status follows, the refund request it answered no longer
//! holds anything, and Stripe's two notices of the failure and the charge's own
//! `charge.refunded`, in any order and told twice, leave the same books.

use entity::enums::{GiftStatus, ReceiptKind, ReceiptStatus, RefundRequestStatus};
use entity::{gift, receipt, refund_request, stripe_refund_failure};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use tests::fake_stripe::FakeStripe;
use tests::on_both_backends;
use tests::stripe::{SECRET_KEY, WEBHOOK_SECRET, charge, event, payment_session, refund};
use tests::support::{Backend, TestApp, spawn_app_with};

use crate::staff_api::{ok, staff_token};

const REFUND: &str = "mutation($id: ID!, $amount: MoneyInput) { refundGift(input: { id: $id, amount: $amount }) { processorRefund { stripeRefundId amount { amountMinor } } } }";

/// Every order of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut all = Vec::new();
    for rest in permutations(n - 1) {
        for at in 0..=rest.len() {
            let mut order = rest.clone();
            order.insert(at, n - 1);
            all.push(order);
        }
    }
    all
}

/// Delivers an event Stripe made at `created` (seconds).
async fn deliver(app: &TestApp, id: &str, kind: &str, object: Value, created: i64) {
    let mut delivered = event(id, kind, object);
    delivered["created"] = json!(created);
    let response = app.deliver(&delivered).await;
    assert_eq!(response.status(), 200, "{id} {kind}");
}

/// A gift's books: its amounts and status, its valid receipts, the failures known.
async fn books(app: &TestApp, gift: &gift::Model) -> Value {
    let gift = gift::Entity::find_by_id(gift.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut receipts: Vec<i64> = receipt::Entity::find()
        .filter(receipt::Column::GiftId.eq(gift.id))
        .filter(receipt::Column::Kind.eq(ReceiptKind::Gift))
        .filter(receipt::Column::Status.eq(ReceiptStatus::Issued))
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.amount_minor)
        .collect();
    receipts.sort();
    let failures = stripe_refund_failure::Entity::find()
        .filter(stripe_refund_failure::Column::GiftId.eq(gift.id))
        .all(&app.db)
        .await
        .unwrap()
        .len();
    json!({
        "amount": gift.amount_minor,
        "refunded": gift.refunded_minor,
        "status": gift.status.as_str(),
        "valid receipts": receipts,
        "failed refunds": failures,
    })
}

async fn a_refund_that_fails_later_gives_the_gift_its_money_back_in_any_order(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let now = chrono::Utc::now().timestamp();
    let mut differing = Vec::new();
    let orders = permutations(4);
    for (n, order) in orders.iter().enumerate() {
        let session = format!("cs_fail{n}");
        let intent = format!("pi_{session}");
        let charge_id = format!("ch_fail{n}");
        let mut made = refund(&format!("re_fail{n}"), &charge_id, 2_500);
        made["payment_intent"] = json!(intent);
        made["created"] = json!(now - 310);
        let mut failed = made.clone();
        failed["status"] = json!("failed");
        failed["failure_reason"] = json!("expired_or_canceled_card");
        let events = [
            (
                "checkout.session.completed",
                payment_session(&session, &format!("fail{n}@example.org"), 10_000, true),
                now - 400,
            ),
            (
                "charge.refunded",
                charge(&charge_id, &intent, 10_000, 2_500),
                now - 300,
            ),
            ("charge.refund.updated", failed.clone(), now - 200),
            ("refund.failed", failed, now - 199),
        ];
        // Each event in the order, then every one told again, as Stripe retries.
        for &i in order.iter().chain(order.iter()) {
            let (kind, object, created) = &events[i];
            deliver(
                &app,
                &format!("evt_fail{n}_{i}"),
                kind,
                object.clone(),
                *created,
            )
            .await;
        }
        let gift = gift::Entity::find()
            .filter(gift::Column::StripeCheckoutSessionId.eq(session.as_str()))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let books = books(&app, &gift).await;
        let expected = json!({
            "amount": 10_000, "refunded": 0, "status": "succeeded",
            "valid receipts": [10_000], "failed refunds": 1,
        });
        if books != expected {
            differing.push(format!("{order:?}: {books}"));
        }
    }
    assert!(differing.is_empty(), "{}", differing.join("\n"));
}

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

/// A $100 card gift paid through Checkout, of which staff refund $60 through Stripe.
async fn gift_with_a_staff_refund(app: &TestApp, stripe: &FakeStripe) -> (gift::Model, String) {
    stripe.add_charge(charge("ch_sixty", "pi_cs_sixty", 10_000, 0));
    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_sixty", "nora@example.org", 10_000, true),
    ))
    .await;
    let gift = gift::Entity::find().one(&app.db).await.unwrap().unwrap();
    let token = staff_token(app).await;
    let vars = json!({ "id": gift.id.to_string(), "amount": { "amountMinor": 6_000 } });
    let data = ok(app, &token, REFUND, vars).await;
    let refund_id = data["refundGift"]["processorRefund"]["stripeRefundId"]
        .as_str()
        .unwrap()
        .to_owned();
    (gift, refund_id)
}

async fn a_failed_refund_staff_asked_for_leaves_all_of_the_gift_to_refund_again(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let (gift, refund_id) = gift_with_a_staff_refund(&app, &stripe).await;
    let now = chrono::Utc::now().timestamp();
    deliver(
        &app,
        "evt_refunded",
        "charge.refunded",
        stripe.charge("ch_sixty"),
        now,
    )
    .await;
    let confirmed = gift::Entity::find_by_id(gift.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(confirmed.refunded_minor, 6_000);
    assert_eq!(confirmed.status, GiftStatus::PartiallyRefunded);

    let failed = stripe.fail_refund(&refund_id);
    deliver(&app, "evt_refund_failed", "refund.failed", failed, now + 60).await;

    let restored = gift::Entity::find_by_id(gift.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(restored.refunded_minor, 0);
    assert_eq!(restored.status, GiftStatus::Succeeded);
    let requests = refund_request::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].status, RefundRequestStatus::Failed);
    // All of the gift may be refunded again.
    let token = staff_token(&app).await;
    let vars = json!({ "id": gift.id.to_string(), "amount": { "amountMinor": 10_000 } });
    let data = ok(&app, &token, REFUND, vars).await;
    assert_eq!(
        data["refundGift"]["processorRefund"]["amount"]["amountMinor"],
        10_000
    );
}

async fn a_refund_that_fails_before_its_charge_refunded_arrives_is_never_counted(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let (gift, refund_id) = gift_with_a_staff_refund(&app, &stripe).await;
    let now = chrono::Utc::now().timestamp();
    let made = stripe.charge("ch_sixty");

    let failed = stripe.fail_refund(&refund_id);
    deliver(
        &app,
        "evt_refund_updated",
        "charge.refund.updated",
        failed,
        now + 60,
    )
    .await;
    let requests = refund_request::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(requests[0].status, RefundRequestStatus::Failed);
    // The charge's own notice, made while the refund still stood, arrives last.
    deliver(&app, "evt_refunded", "charge.refunded", made, now).await;

    let gift = gift::Entity::find_by_id(gift.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gift.refunded_minor, 0);
    assert_eq!(gift.status, GiftStatus::Succeeded);
    let requests = refund_request::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(requests[0].status, RefundRequestStatus::Failed);
}

on_both_backends!(
    a_refund_that_fails_later_gives_the_gift_its_money_back_in_any_order,
    a_failed_refund_staff_asked_for_leaves_all_of_the_gift_to_refund_again,
    a_refund_that_fails_before_its_charge_refunded_arrives_is_never_counted,
);
