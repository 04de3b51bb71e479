//! Any order, same books: each kind of checkout's events delivered in every order, with
//! a duplicate mixed in, leave the same donor, gifts, pledge, receipts and emails as the order Stripe
//! usually sends. Many orders run in one server and database per backend, each with its
//! own Stripe ids and donor email, and each order's books are compared, normalized, with
//! the canonical order's.

use entity::{donor, gift, outbox, pledge, receipt};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use tests::on_both_backends;
use tests::stripe::{
    StripeObjects, charge, customer, event, invoice_payment_intent, paid_invoice, payment_session,
    subscription, subscription_session,
};
use tests::support::{Backend, TestApp};

use crate::checkout::app_with_stripe_objects;

/// The events of one checkout, in the order Stripe usually sends them.
fn one_off_events(tag: &str, email: &str) -> Vec<(String, Value)> {
    let session = format!("cs_{tag}");
    let mut paid = payment_session(&session, email, 10_000, true);
    paid["metadata"]["tribute_kind"] = json!("in_honor_of");
    paid["metadata"]["tribute_name"] = json!("Maestra Ruiz");
    vec![
        ("checkout.session.completed".into(), paid),
        (
            "charge.refunded".into(),
            charge(
                &format!("ch_{tag}"),
                &format!("pi_{session}"),
                10_000,
                2_500,
            ),
        ),
    ]
}

fn monthly_events(objects: &StripeObjects, tag: &str, email: &str) -> Vec<(String, Value)> {
    let sub = format!("sub_{tag}");
    let cus = format!("cus_{tag}");
    let mut session = subscription_session(&format!("cs_{tag}"), &sub, email, 4_200);
    session["customer"] = json!(cus);
    let mut stripe_subscription = subscription(&sub, email, 4_200, "active");
    stripe_subscription["customer"] = json!(cus);
    objects.put(session.clone());
    objects.put(stripe_subscription.clone());
    objects.put(customer(&cus, email, "María López"));
    let first = format!("in_{tag}_1");
    vec![
        ("checkout.session.completed".into(), session),
        ("customer.subscription.created".into(), stripe_subscription),
        ("invoice.paid".into(), paid_invoice(&first, &sub, "", 4_200)),
        (
            "invoice.paid".into(),
            paid_invoice(&format!("in_{tag}_2"), &sub, email, 4_200),
        ),
        (
            "charge.refunded".into(),
            charge(
                &format!("ch_{tag}"),
                &invoice_payment_intent(&first),
                4_200,
                4_200,
            ),
        ),
    ]
}

/// Every permutation of `0..n`.
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

/// Every permutation of `0..n` in which `earlier` comes before `later`, the canonical
/// order first. A subscription's later invoice is paid a billing period after its
/// first, longer than Stripe keeps retrying a delivery, so the two are kept in order.
fn orders_keeping(n: usize, earlier: usize, later: usize) -> Vec<Vec<usize>> {
    let position = |order: &[usize], i| order.iter().position(|&x| x == i);
    let canonical: Vec<usize> = (0..n).collect();
    let mut orders = vec![canonical.clone()];
    orders.extend(
        permutations(n)
            .into_iter()
            .filter(|o| position(o, earlier) < position(o, later))
            .filter(|o| *o != canonical),
    );
    orders
}

/// The books of one donor, with every id and time taken out.
async fn books(app: &TestApp, email: &str) -> Value {
    let donor = donor::Entity::find()
        .filter(donor::Column::Email.eq(email))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(donor.len(), 1, "one donor for {email}");
    let donor = &donor[0];
    let gifts = gift::Entity::find()
        .filter(gift::Column::DonorId.eq(donor.id))
        .order_by_asc(gift::Column::AmountMinor)
        .order_by_asc(gift::Column::RefundedMinor)
        .all(&app.db)
        .await
        .unwrap();
    let pledges = pledge::Entity::find()
        .filter(pledge::Column::DonorId.eq(donor.id))
        .all(&app.db)
        .await
        .unwrap();
    let mut receipts: Vec<String> = receipt::Entity::find()
        .filter(receipt::Column::DonorId.eq(donor.id))
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{:?} {:?} {}", r.kind, r.status, r.amount_minor))
        .collect();
    receipts.sort();
    let mut emails: Vec<String> = outbox::Entity::find()
        .filter(outbox::Column::DonorId.eq(donor.id))
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|m| m.kind.clone())
        .collect();
    emails.sort();
    json!({
        "donor": [donor.display_name, donor.language.as_str(), donor.email_consent, donor.anonymous],
        "gifts": gifts.iter().map(|g| json!([
            g.amount_minor, g.refunded_minor, g.status.as_str(), g.pledge_id.is_some(),
            g.tribute_name, g.stripe_payment_intent_id.is_some(),
        ])).collect::<Vec<_>>(),
        "pledges": pledges.iter().map(|p| json!([
            p.installment_minor, p.frequency.as_str(), p.status.as_str(),
        ])).collect::<Vec<_>>(),
        "receipts": receipts,
        "emails": emails,
    })
}

/// Delivers one order of a checkout's events, with the first event delivered twice
/// (once more at the end), and returns the books.
async fn run_order(
    app: &TestApp,
    tag: &str,
    email: &str,
    events: &[(String, Value)],
    order: &[usize],
) -> Value {
    let mut deliveries: Vec<usize> = order.to_vec();
    deliveries.push(order[0]);
    for (n, &i) in deliveries.iter().enumerate() {
        let (kind, object) = &events[i];
        let response = app
            .deliver(&event(&format!("evt_{tag}_{i}"), kind, object.clone()))
            .await;
        assert_eq!(response.status(), 200, "{tag}: delivery {n} ({kind})");
    }
    books(app, email).await
}

async fn any_order_of_a_checkout_s_events_leaves_the_same_books(backend: Backend) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    let mut tried = 0;

    let one_off = permutations(2);
    let mut canonical = None;
    for (n, order) in one_off.iter().enumerate() {
        let tag = format!("once{n}");
        let email = format!("{tag}@example.org");
        let events = one_off_events(&tag, &email);
        let result = run_order(&app, &tag, &email, &events, order).await;
        let expected = canonical.get_or_insert_with(|| result.clone());
        assert_eq!(&result, expected, "one-off, order {order:?}");
        tried += 1;
    }

    let mut canonical = None;
    for (n, order) in orders_keeping(5, 2, 3).iter().enumerate() {
        let tag = format!("month{n}");
        let email = format!("{tag}@example.org");
        let events = monthly_events(&objects, &tag, &email);
        let result = run_order(&app, &tag, &email, &events, order).await;
        let expected = canonical.get_or_insert_with(|| result.clone());
        assert_eq!(&result, expected, "monthly, order {order:?}");
        tried += 1;
    }
    eprintln!("event orders tried: {tried}");
}

on_both_backends!(any_order_of_a_checkout_s_events_leaves_the_same_books);
