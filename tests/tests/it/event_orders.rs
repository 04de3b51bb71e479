//! Any order, same books: each kind of checkout's events delivered in many orders, with
//! duplicates mixed in, leave the same donor, gifts, pledge, tier membership, receipts
//! and emails as the order Stripe usually sends. Small sets of events are tried in
//! every order; larger ones in the usual order and a sample of others drawn from a
//! fixed seed, so every run tries the same orders. All orders run in one server and
//! database per backend, each with its own Stripe ids and donor email, and each order's
//! books are compared, normalized, with the usual order's.

use std::collections::BTreeMap;

use entity::{appeal, donor, gift, giving_tier, outbox, pledge, receipt, tier_membership};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use tests::on_both_backends;
use tests::stripe::{
    StripeObjects, charge, customer, dispute, event, first_invoice, invoice_payment_intent,
    paid_invoice, payment_session, subscription, subscription_session,
};
use tests::support::{Backend, TestApp};

use crate::checkout::app_with_stripe_objects;

/// The appeal the checkouts name, made before any event arrives.
const APPEAL: &str = "SPRING26";

/// One event of a checkout: its type, its object, and when Stripe made it (seconds
/// before the run's start), which is the order Stripe usually sends them in.
struct Planned {
    kind: &'static str,
    object: Value,
    seconds_ago: i64,
}

fn planned(kind: &'static str, object: Value, seconds_ago: i64) -> Planned {
    Planned {
        kind,
        object,
        seconds_ago,
    }
}

/// A deterministic source of choices (SplitMix64), so the sampled orders are the same
/// on every run and backend.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle(&mut self, items: &mut [usize]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
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

/// The orders to try for `n` events, the usual one first: all of them when there are
/// at most `all_up_to`, otherwise `sampled` distinct others drawn from `seed`.
fn orders(n: usize, all_up_to: usize, sampled: usize, seed: &mut Seeded) -> Vec<Vec<usize>> {
    let usual: Vec<usize> = (0..n).collect();
    let mut orders = vec![usual.clone()];
    if n <= all_up_to {
        orders.extend(permutations(n).into_iter().filter(|o| *o != usual));
        return orders;
    }
    while orders.len() < sampled + 1 {
        let mut order = usual.clone();
        seed.shuffle(&mut order);
        if !orders.contains(&order) {
            orders.push(order);
        }
    }
    orders
}

/// An order's deliveries: each event once in the order given, and `extra` of them
/// delivered again (the same event id) at a later point, as Stripe retries.
fn with_duplicates(order: &[usize], extra: usize, seed: &mut Seeded) -> Vec<usize> {
    let mut deliveries = order.to_vec();
    for _ in 0..extra {
        let from = seed.below(deliveries.len());
        let again = deliveries[from];
        let at = from + 1 + seed.below(deliveries.len() - from);
        deliveries.insert(at, again);
    }
    deliveries
}

/// The metadata the donation page writes, with an appeal and, when given, a tribute.
fn metadata(email: &str, tribute: Option<&str>) -> Value {
    let mut metadata = tests::stripe::donation_metadata(email, "GENERAL");
    metadata["appeal"] = json!(APPEAL);
    if let Some(name) = tribute {
        metadata["tribute_kind"] = json!("in_honor_of");
        metadata["tribute_name"] = json!(name);
    }
    metadata
}

/// A one-off card gift, partly refunded, and disputed by the cardholder (the
/// organization wins the dispute).
fn one_off_card(tag: &str, email: &str) -> Vec<Planned> {
    let session_id = format!("cs_{tag}");
    let intent = format!("pi_{session_id}");
    let charge_id = format!("ch_{tag}");
    let mut session = payment_session(&session_id, email, 10_000, true);
    session["metadata"] = metadata(email, Some("Maestra Ruiz"));
    let dispute_id = format!("dp_{tag}");
    vec![
        planned("checkout.session.completed", session, 600),
        planned(
            "charge.refunded",
            charge(&charge_id, &intent, 10_000, 2_500),
            500,
        ),
        planned(
            "charge.dispute.created",
            dispute(&dispute_id, &charge_id, &intent, "needs_response"),
            400,
        ),
        planned(
            "charge.dispute.closed",
            dispute(&dispute_id, &charge_id, &intent, "won"),
            300,
        ),
    ]
}

/// A one-off card gift partly refunded, then disputed for the rest, and the dispute
/// lost: the bank took the money back.
fn lost_dispute(tag: &str, email: &str) -> Vec<Planned> {
    let session_id = format!("cs_{tag}");
    let intent = format!("pi_{session_id}");
    let charge_id = format!("ch_{tag}");
    let mut session = payment_session(&session_id, email, 10_000, true);
    session["metadata"] = metadata(email, None);
    let dispute_id = format!("dp_{tag}");
    vec![
        planned("checkout.session.completed", session, 600),
        planned(
            "charge.refunded",
            charge(&charge_id, &intent, 10_000, 2_500),
            500,
        ),
        planned(
            "charge.dispute.created",
            dispute(&dispute_id, &charge_id, &intent, "needs_response"),
            400,
        ),
        planned(
            "charge.dispute.closed",
            dispute(&dispute_id, &charge_id, &intent, "lost"),
            300,
        ),
    ]
}

/// A one-off gift by a delayed payment method (a bank debit) that succeeds, then is
/// partly refunded.
fn delayed_success(tag: &str, email: &str) -> Vec<Planned> {
    let session_id = format!("cs_{tag}");
    let mut pending = payment_session(&session_id, email, 8_000, false);
    pending["metadata"] = metadata(email, Some("Don Alberto"));
    let mut paid = pending.clone();
    paid["payment_status"] = json!("paid");
    vec![
        planned("checkout.session.completed", pending, 600),
        planned("checkout.session.async_payment_succeeded", paid, 500),
        planned(
            "charge.refunded",
            charge(
                &format!("ch_{tag}"),
                &format!("pi_{session_id}"),
                8_000,
                3_000,
            ),
            400,
        ),
    ]
}

/// A one-off gift by a delayed payment method that fails.
fn delayed_failure(tag: &str, email: &str) -> Vec<Planned> {
    let mut pending = payment_session(&format!("cs_{tag}"), email, 6_000, false);
    pending["metadata"] = metadata(email, None);
    let failed = pending.clone();
    vec![
        planned("checkout.session.completed", pending, 600),
        planned("checkout.session.async_payment_failed", failed, 500),
    ]
}

/// A subscription's checkout session, its subscription as each event carries it, and
/// its customer, with what Stripe's API answers for them put in the fake.
struct Recurring {
    session: Value,
    subscription_id: String,
    customer_id: String,
    amount: i64,
}

impl Recurring {
    fn new(
        objects: &StripeObjects,
        tag: &str,
        email: &str,
        amount: i64,
        every: (&str, i64),
    ) -> Recurring {
        let subscription_id = format!("sub_{tag}");
        let customer_id = format!("cus_{tag}");
        let mut session =
            subscription_session(&format!("cs_{tag}"), &subscription_id, email, amount);
        session["customer"] = json!(customer_id);
        session["metadata"] = metadata(email, None);
        objects.put(session.clone());
        objects.put(customer(&customer_id, email, "María López"));
        let recurring = Recurring {
            session,
            subscription_id,
            customer_id,
            amount,
        };
        // Stripe's API answers with the subscription as it is now, at the end of the story.
        objects.put(recurring.subscription(email, "active", every));
        recurring
    }

    /// The subscription as an event carries it. Subscriptions carry no email.
    fn subscription(&self, email: &str, status: &str, every: (&str, i64)) -> Value {
        self.subscription_of(email, status, every, self.amount)
    }

    /// The subscription after its amount changed to `amount`.
    fn subscription_of(&self, email: &str, status: &str, every: (&str, i64), amount: i64) -> Value {
        let mut object = subscription(&self.subscription_id, email, amount, status);
        object["customer"] = json!(self.customer_id);
        object["metadata"] = metadata(email, None);
        object["items"]["data"][0]["price"]["recurring"]["interval"] = json!(every.0);
        object["items"]["data"][0]["price"]["recurring"]["interval_count"] = json!(every.1);
        if status == "canceled" {
            let now = chrono::Utc::now().timestamp();
            object["canceled_at"] = json!(now);
            object["ended_at"] = json!(now);
        }
        object
    }

    /// Invoice `n` (1 is the one that opened the subscription), paid; the first
    /// carries the tribute in the subscription's metadata and no email.
    fn invoice(&self, tag: &str, n: usize, email: &str, tribute: Option<&str>) -> Value {
        let id = format!("in_{tag}_{n}");
        let mut invoice = if n == 1 {
            first_invoice(&id, &self.subscription_id, "", self.amount)
        } else {
            paid_invoice(&id, &self.subscription_id, email, self.amount)
        };
        invoice["customer"] = json!(self.customer_id);
        // Each period is paid after the one before it.
        invoice["status_transitions"]["paid_at"] =
            json!(chrono::Utc::now().timestamp() - 1_000 + 100 * n as i64);
        if let Some(name) = tribute {
            invoice["parent"]["subscription_details"]["metadata"] =
                json!({ "tribute_kind": "in_memory_of", "tribute_name": name });
        }
        invoice
    }
}

/// A monthly gift below the Circle: two installments, the first refunded in full, a
/// third that fails, the subscription past due, and Stripe cancelling it.
fn monthly(objects: &StripeObjects, tag: &str, email: &str) -> Vec<Planned> {
    let every = ("month", 1);
    let gift = Recurring::new(objects, tag, email, 2_500, every);
    objects.put(gift.subscription(email, "canceled", every));
    let tribute = Some("Abuela Rosa");
    let mut failed = gift.invoice(tag, 3, email, tribute);
    failed["status"] = json!("open");
    failed["amount_paid"] = json!(0);
    vec![
        planned("checkout.session.completed", gift.session.clone(), 900),
        planned(
            "customer.subscription.created",
            gift.subscription(email, "active", every),
            890,
        ),
        planned("invoice.paid", gift.invoice(tag, 1, email, tribute), 880),
        planned("invoice.paid", gift.invoice(tag, 2, email, tribute), 700),
        planned(
            "charge.refunded",
            charge(
                &format!("ch_{tag}_1"),
                &invoice_payment_intent(&format!("in_{tag}_1")),
                2_500,
                2_500,
            ),
            600,
        ),
        planned("invoice.payment_failed", failed, 500),
        planned(
            "customer.subscription.updated",
            gift.subscription(email, "past_due", every),
            499,
        ),
        planned(
            "customer.subscription.deleted",
            gift.subscription(email, "canceled", every),
            300,
        ),
    ]
}

/// A quarterly gift that reaches the Circle: two installments, the donor raising the
/// amount, the second installment disputed and lost, then the third installment
/// failing, the subscription past due, and the retry paying it, so the subscription is
/// active again. Every subscription state after the raise carries the new amount.
fn quarterly(objects: &StripeObjects, tag: &str, email: &str) -> Vec<Planned> {
    let every = ("month", 3);
    let gift = Recurring::new(objects, tag, email, 15_000, every);
    let raised = 20_000;
    objects.put(gift.subscription_of(email, "active", every, raised));
    let second = format!("in_{tag}_2");
    let intent = invoice_payment_intent(&second);
    let charge_id = format!("ch_{tag}_2");
    let dispute_id = format!("dp_{tag}");
    let tribute = Some("Tío Ernesto");
    let mut updated = gift.subscription_of(email, "active", every, raised);
    updated["cancel_at_period_end"] = json!(false);
    updated["description"] = json!("Quarterly gift");
    let mut third = gift.invoice(tag, 3, email, tribute);
    third["amount_paid"] = json!(raised);
    third["amount_due"] = json!(raised);
    let mut failed = third.clone();
    failed["status"] = json!("open");
    failed["amount_paid"] = json!(0);
    // The retry is paid after the failure, not on the invoices' usual schedule.
    third["status_transitions"]["paid_at"] = json!(chrono::Utc::now().timestamp() - 400);
    vec![
        planned("checkout.session.completed", gift.session.clone(), 900),
        planned(
            "customer.subscription.created",
            gift.subscription(email, "active", every),
            890,
        ),
        planned("invoice.paid", gift.invoice(tag, 1, email, tribute), 880),
        planned("invoice.paid", gift.invoice(tag, 2, email, tribute), 700),
        planned("customer.subscription.updated", updated, 650),
        planned(
            "charge.dispute.created",
            dispute(&dispute_id, &charge_id, &intent, "needs_response"),
            600,
        ),
        planned(
            "charge.dispute.closed",
            dispute(&dispute_id, &charge_id, &intent, "lost"),
            500,
        ),
        planned("invoice.payment_failed", failed, 450),
        planned(
            "customer.subscription.updated",
            gift.subscription_of(email, "past_due", every, raised),
            449,
        ),
        planned("invoice.paid", third, 400),
        planned(
            "customer.subscription.updated",
            gift.subscription_of(email, "active", every, raised),
            399,
        ),
    ]
}

/// A yearly gift: its first installment, partly refunded.
fn yearly(objects: &StripeObjects, tag: &str, email: &str) -> Vec<Planned> {
    let every = ("year", 1);
    let gift = Recurring::new(objects, tag, email, 12_000, every);
    vec![
        planned("checkout.session.completed", gift.session.clone(), 900),
        planned(
            "customer.subscription.created",
            gift.subscription(email, "active", every),
            890,
        ),
        planned("invoice.paid", gift.invoice(tag, 1, email, None), 880),
        planned(
            "charge.refunded",
            charge(
                &format!("ch_{tag}_1"),
                &invoice_payment_intent(&format!("in_{tag}_1")),
                12_000,
                2_000,
            ),
            800,
        ),
    ]
}

/// The books of one donor, with every id and time taken out. With `history`, every
/// receipt ever issued and every email; without, the receipts still valid and which
/// emails were sent: where a refund reached the donor before the bank reversed the
/// payment, the donor was rightly told of both, and in the other order of neither.
async fn books(app: &TestApp, email: &str, history: bool) -> Value {
    let donor = donor::Entity::find()
        .filter(donor::Column::Email.eq(email))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(donor.len(), 1, "one donor for {email}");
    let donor = &donor[0];
    let appeals: BTreeMap<i64, String> = appeal::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.id, a.source_code))
        .collect();
    let tiers: BTreeMap<i64, String> = giving_tier::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let gifts = gift::Entity::find()
        .filter(gift::Column::DonorId.eq(donor.id))
        .order_by_asc(gift::Column::ReceivedAt)
        .order_by_asc(gift::Column::AmountMinor)
        .all(&app.db)
        .await
        .unwrap();
    let pledges = pledge::Entity::find()
        .filter(pledge::Column::DonorId.eq(donor.id))
        .all(&app.db)
        .await
        .unwrap();
    let memberships: Vec<Value> = tier_membership::Entity::find()
        .filter(tier_membership::Column::DonorId.eq(donor.id))
        .order_by_asc(tier_membership::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|m| json!([tiers.get(&m.tier_id), m.left_at.is_none()]))
        .collect();
    let mut receipts: Vec<String> = receipt::Entity::find()
        .filter(receipt::Column::DonorId.eq(donor.id))
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .filter(|r| history || r.status == entity::enums::ReceiptStatus::Issued)
        .map(|r| {
            let gift = gifts.iter().position(|g| Some(g.id) == r.gift_id);
            format!(
                "{:?} {:?} {} gift {gift:?}",
                r.kind, r.status, r.amount_minor
            )
        })
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
    if !history {
        emails.dedup();
    }
    json!({
        "donor": [donor.display_name, donor.language.as_str(), donor.email_consent, donor.anonymous],
        "gifts": gifts.iter().map(|g| json!([
            g.amount_minor, g.refunded_minor, g.status.as_str(), g.pledge_id.is_some(),
            g.tribute_name, g.stripe_payment_intent_id.is_some(),
            g.appeal_id.and_then(|id| appeals.get(&id)), g.campaign_id.is_some(),
        ])).collect::<Vec<_>>(),
        "pledges": pledges.iter().map(|p| json!([
            p.installment_minor, p.frequency.as_str(), p.status.as_str(),
            p.appeal_id.and_then(|id| appeals.get(&id)),
        ])).collect::<Vec<_>>(),
        "memberships": memberships,
        "receipts": receipts,
        "emails": emails,
    })
}

/// Delivers one order of a checkout's events and returns the books.
async fn run_order(
    app: &TestApp,
    tag: &str,
    email: &str,
    events: &[Planned],
    deliveries: &[usize],
    history: bool,
) -> Value {
    let start = chrono::Utc::now().timestamp();
    for (n, &i) in deliveries.iter().enumerate() {
        let planned = &events[i];
        let mut delivered = event(
            &format!("evt_{tag}_{i}"),
            planned.kind,
            planned.object.clone(),
        );
        delivered["created"] = json!(start - planned.seconds_ago);
        let response = app.deliver(&delivered).await;
        assert_eq!(
            response.status(),
            200,
            "{tag}: delivery {n} ({}) of {deliveries:?}",
            planned.kind
        );
    }
    books(app, email, history).await
}

/// Makes the appeal the checkouts name.
async fn make_appeal(app: &TestApp) {
    let admin = app.token(entity::enums::StaffRole::Admin).await;
    let campaign = app
        .graphql(
            &admin,
            "mutation { createCampaign(input: { name: \"Spring\", goal: { amountMinor: 1000000 }, startsOn: \"2026-01-01\", defaultFundId: \"1\" }) { id } }",
            json!({}),
        )
        .await;
    let appeal = app
        .graphql(
            &admin,
            "mutation($c: ID!) { createAppeal(input: { campaignId: $c, name: \"Spring letter\", channel: LETTER, sourceCode: \"SPRING26\" }) { id } }",
            json!({ "c": campaign["data"]["createCampaign"]["id"] }),
        )
        .await;
    assert!(appeal["data"]["createAppeal"]["id"].is_string(), "{appeal}");
}

type Plan = fn(&StripeObjects, &str, &str) -> Vec<Planned>;

async fn any_order_of_a_checkout_s_events_leaves_the_same_books(backend: Backend) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    make_appeal(&app).await;
    let mut seed = Seeded(20_261_130);
    // Each kind: how it is planned, how many orders to sample when there are too many
    // to try them all, and whether the books compare their whole history.
    let kinds: [(&str, Plan, usize, bool); 7] = [
        ("card", |_, tag, email| one_off_card(tag, email), 0, true),
        ("lost", |_, tag, email| lost_dispute(tag, email), 0, false),
        (
            "delayed",
            |_, tag, email| delayed_success(tag, email),
            0,
            true,
        ),
        (
            "declined",
            |_, tag, email| delayed_failure(tag, email),
            0,
            true,
        ),
        ("monthly", monthly, 40, true),
        ("quarterly", quarterly, 60, true),
        ("yearly", yearly, 0, true),
    ];
    let mut tried = BTreeMap::new();
    // The first order of each kind whose books differ from the usual order's.
    let mut differing = Vec::new();
    for (kind, plan, sampled, history) in kinds {
        let size = plan(&StripeObjects::default(), kind, "x@example.org").len();
        let mut usual_books = None;
        for (n, order) in orders(size, 4, sampled, &mut seed).iter().enumerate() {
            let tag = format!("{kind}{n}");
            let email = format!("{tag}@example.org");
            let events = plan(&objects, &tag, &email);
            let deliveries = with_duplicates(order, 2, &mut seed);
            let result = run_order(&app, &tag, &email, &events, &deliveries, history).await;
            *tried.entry(kind).or_insert(0) += 1;
            let expected = usual_books.get_or_insert_with(|| result.clone());
            if &result != expected {
                let kinds: Vec<&str> = deliveries.iter().map(|&i| events[i].kind).collect();
                differing.push(format!(
                    "{kind}: deliveries {deliveries:?} {kinds:?}\n  usual: {expected}\n  this:  {result}"
                ));
                break;
            }
        }
    }
    let total: usize = tried.values().sum();
    eprintln!("event orders tried: {total} {tried:?}");
    assert!(differing.is_empty(), "{}", differing.join("\n"));
}

on_both_backends!(any_order_of_a_checkout_s_events_leaves_the_same_books);
