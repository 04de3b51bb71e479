//! A subscription's states reach its pledge newest last, whatever order Stripe's events
//! arrive in: a state older than the one the pledge holds changes nothing, and is kept
//! as ignored with its reason; a cancellation is final.

use entity::enums::{PledgeFrequency, PledgeStatus, StripeEventStatus};
use entity::{gift, outbox, pledge, stripe_event};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use tests::on_both_backends;
use tests::stripe::{
    StripeObjects, customer, event, first_invoice, paid_invoice, subscription, subscription_session,
};
use tests::support::{Backend, TestApp};

use crate::checkout::app_with_stripe_objects;

/// A monthly gift's checkout, known to the fake Stripe with its customer. Its
/// subscription is not, so every state the pledge takes is one an event carried.
fn monthly_checkout(objects: &StripeObjects, tag: &str, email: &str, amount: i64) -> Value {
    let mut session =
        subscription_session(&format!("cs_{tag}"), &format!("sub_{tag}"), email, amount);
    session["customer"] = json!(format!("cus_{tag}"));
    objects.put(session.clone());
    objects.put(customer(&format!("cus_{tag}"), email, "Lucía Ortega"));
    session
}

/// The subscription as an event carries it: `amount` every `months` months.
fn state(tag: &str, email: &str, amount: i64, months: i64, status: &str) -> Value {
    let mut object = subscription(&format!("sub_{tag}"), email, amount, status);
    object["customer"] = json!(format!("cus_{tag}"));
    object["items"]["data"][0]["price"]["recurring"]["interval"] = json!("month");
    object["items"]["data"][0]["price"]["recurring"]["interval_count"] = json!(months);
    if status == "canceled" {
        object["canceled_at"] = json!(chrono::Utc::now().timestamp() - 30);
    }
    object
}

/// Delivers an event Stripe made `seconds_ago`.
async fn deliver(app: &TestApp, id: &str, kind: &str, object: Value, seconds_ago: i64) {
    let mut delivered = event(id, kind, object);
    delivered["created"] = json!(chrono::Utc::now().timestamp() - seconds_ago);
    let response = app.deliver(&delivered).await;
    assert_eq!(response.status(), 200, "{id}");
}

async fn the_pledge(app: &TestApp) -> pledge::Model {
    let pledges = pledge::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(pledges.len(), 1);
    pledges.into_iter().next().unwrap()
}

async fn stored(app: &TestApp, id: &str) -> stripe_event::Model {
    stripe_event::Entity::find()
        .filter(stripe_event::Column::EventId.eq(id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn a_late_subscription_created_does_not_undo_a_newer_past_due(backend: Backend) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    let email = "lucia@example.org";
    let session = monthly_checkout(&objects, "lucia", email, 4_200);

    deliver(
        &app,
        "evt_checkout",
        "checkout.session.completed",
        session,
        120,
    )
    .await;
    let past_due = state("lucia", email, 4_200, 1, "past_due");
    deliver(
        &app,
        "evt_past_due",
        "customer.subscription.updated",
        past_due,
        50,
    )
    .await;
    let created = state("lucia", email, 4_200, 1, "active");
    deliver(
        &app,
        "evt_created",
        "customer.subscription.created",
        created,
        100,
    )
    .await;

    assert_eq!(the_pledge(&app).await.status, PledgeStatus::PastDue);
    let late = stored(&app, "evt_created").await;
    assert_eq!(late.status, StripeEventStatus::Ignored);
    assert!(late.outcome.contains("older"), "{}", late.outcome);
}

async fn a_late_update_with_an_old_amount_does_not_undo_a_newer_amount(backend: Backend) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    let email = "bruno@example.org";
    let session = monthly_checkout(&objects, "bruno", email, 4_200);

    deliver(
        &app,
        "evt_checkout",
        "checkout.session.completed",
        session,
        120,
    )
    .await;
    let newer = state("bruno", email, 6_000, 3, "active");
    deliver(
        &app,
        "evt_newer",
        "customer.subscription.updated",
        newer,
        30,
    )
    .await;
    let older = state("bruno", email, 5_000, 1, "active");
    deliver(
        &app,
        "evt_older",
        "customer.subscription.updated",
        older,
        60,
    )
    .await;

    let pledge = the_pledge(&app).await;
    assert_eq!(pledge.installment_minor, 6_000);
    assert_eq!(pledge.frequency, PledgeFrequency::Quarterly);
    assert_eq!(
        stored(&app, "evt_older").await.status,
        StripeEventStatus::Ignored
    );
}

async fn a_cancelled_subscription_stays_cancelled_whatever_comes_later(backend: Backend) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    let email = "ada@example.org";
    let session = monthly_checkout(&objects, "ada", email, 4_200);

    deliver(
        &app,
        "evt_checkout",
        "checkout.session.completed",
        session.clone(),
        120,
    )
    .await;
    let cancelled = state("ada", email, 4_200, 1, "canceled");
    deliver(
        &app,
        "evt_deleted",
        "customer.subscription.deleted",
        cancelled,
        60,
    )
    .await;
    // Later news of the subscription, older and newer, cannot revive it.
    let created = state("ada", email, 4_200, 1, "active");
    deliver(
        &app,
        "evt_created",
        "customer.subscription.created",
        created,
        110,
    )
    .await;
    let revived = state("ada", email, 9_000, 1, "active");
    deliver(
        &app,
        "evt_revived",
        "customer.subscription.updated",
        revived,
        10,
    )
    .await;

    let pledge = the_pledge(&app).await;
    assert_eq!(pledge.status, PledgeStatus::Cancelled);
    assert_eq!(pledge.installment_minor, 4_200);
    assert_eq!(
        stored(&app, "evt_revived").await.status,
        StripeEventStatus::Ignored
    );
    let cancellation_emails = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("pledge_cancelled"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(cancellation_emails.len(), 1);
}

/// A paid invoice of the subscription, paid `seconds_ago`.
fn invoice_paid(tag: &str, invoice: &str, email: &str, seconds_ago: i64, first: bool) -> Value {
    let mut paid = if first {
        first_invoice(invoice, &format!("sub_{tag}"), email, 4_200)
    } else {
        paid_invoice(invoice, &format!("sub_{tag}"), email, 4_200)
    };
    paid["customer"] = json!(format!("cus_{tag}"));
    paid["status_transitions"]["paid_at"] = json!(chrono::Utc::now().timestamp() - seconds_ago);
    paid
}

async fn a_late_installment_paid_before_a_newer_past_due_does_not_make_the_pledge_current(
    backend: Backend,
) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    let email = "teodora@example.org";
    let session = monthly_checkout(&objects, "teo", email, 4_200);
    deliver(
        &app,
        "evt_checkout",
        "checkout.session.completed",
        session,
        300,
    )
    .await;
    let first = invoice_paid("teo", "in_teo_1", email, 290, true);
    deliver(&app, "evt_first", "invoice.paid", first, 290).await;
    let past_due = state("teo", email, 4_200, 1, "past_due");
    deliver(
        &app,
        "evt_past_due",
        "customer.subscription.updated",
        past_due,
        60,
    )
    .await;

    // Last month's installment, paid before the subscription fell behind, arrives late.
    let late = invoice_paid("teo", "in_teo_2", email, 200, false);
    deliver(&app, "evt_late_paid", "invoice.paid", late, 200).await;
    let pledge = the_pledge(&app).await;
    assert_eq!(
        pledge.status,
        PledgeStatus::PastDue,
        "the late payment is older"
    );
    assert_eq!(
        gift::Entity::find()
            .filter(gift::Column::PledgeId.eq(pledge.id))
            .count(&app.db)
            .await
            .unwrap(),
        2,
        "the late installment is still recorded"
    );

    // The retry paid after the subscription fell behind brings it back.
    let retry = invoice_paid("teo", "in_teo_3", email, 10, false);
    deliver(&app, "evt_retry_paid", "invoice.paid", retry, 10).await;
    assert_eq!(the_pledge(&app).await.status, PledgeStatus::Active);
}

on_both_backends!(
    a_late_installment_paid_before_a_newer_past_due_does_not_make_the_pledge_current,
    a_late_subscription_created_does_not_undo_a_newer_past_due,
    a_late_update_with_an_old_amount_does_not_undo_a_newer_amount,
    a_cancelled_subscription_stays_cancelled_whatever_comes_later,
);
