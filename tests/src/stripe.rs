//! Stripe payloads for tests and benchmarks, built from Stripe's own example objects
//! (`tests/fixtures/stripe/`), webhooks signed exactly as Stripe signs them, and a fake
//! Stripe API that answers the reads the service makes, in the pinned version's shape.
//!
//! Shapes kept as the pinned API version sends them: an invoice names its subscription
//! only under `parent.subscription_details`, has no `charge`, no `payment_intent` and no
//! top-level `subscription`, and carries `payments` only when expanded (never in a
//! webhook); a charge has no `invoice`; a subscription carries no email.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::TestApp;

/// The webhook secret test servers are configured with.
pub const WEBHOOK_SECRET: &str = "whsec_test_current";
/// A secret being rotated out, also accepted.
pub const OLD_WEBHOOK_SECRET: &str = "whsec_test_previous";
pub const SECRET_KEY: &str = "sk_test_giving";

fn fixture(name: &str) -> Value {
    let text = match name {
        "checkout_payment" => include_str!("../fixtures/stripe/checkout_session_payment_mode.json"),
        "checkout_subscription" => {
            include_str!("../fixtures/stripe/checkout_session_subscription_mode.json")
        }
        "invoice" => include_str!("../fixtures/stripe/invoice.json"),
        "subscription" => include_str!("../fixtures/stripe/subscription.json"),
        "charge" => include_str!("../fixtures/stripe/charge.json"),
        "dispute" => include_str!("../fixtures/stripe/dispute.json"),
        "refund" => include_str!("../fixtures/stripe/refund.json"),
        "event" => include_str!("../fixtures/stripe/event.json"),
        "customer" => include_str!("../fixtures/stripe/customer.json"),
        "billing_portal_session" => {
            include_str!("../fixtures/stripe/billing_portal_session.json")
        }
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).expect("fixture is JSON")
}

fn merge(target: &mut Value, changes: Value) {
    if let (Some(target), Value::Object(changes)) = (target.as_object_mut(), changes) {
        for (key, value) in changes {
            target.insert(key, value);
        }
    }
}

/// The metadata the donation page writes.
pub fn donation_metadata(email: &str, fund: &str) -> Value {
    json!({
        "fund": fund,
        "donor_email": email,
        "donor_name": "María López",
        "language": "es",
        "email_consent": "false",
        "anonymous": "false",
    })
}

/// A completed payment-mode Checkout Session.
pub fn payment_session(id: &str, email: &str, amount: i64, paid: bool) -> Value {
    let mut session = fixture("checkout_payment");
    merge(
        &mut session,
        json!({
            "id": id,
            "status": "complete",
            "payment_status": if paid { "paid" } else { "unpaid" },
            "amount_total": amount,
            "amount_subtotal": amount,
            "currency": "usd",
            "customer": format!("cus_{id}"),
            "customer_email": email,
            "payment_intent": format!("pi_{id}"),
            "metadata": donation_metadata(email, "GENERAL"),
            "created": chrono::Utc::now().timestamp(),
        }),
    );
    session["customer_details"]["email"] = json!(email);
    session
}

/// A completed subscription-mode Checkout Session.
pub fn subscription_session(id: &str, subscription: &str, email: &str, amount: i64) -> Value {
    let mut session = fixture("checkout_subscription");
    merge(
        &mut session,
        json!({
            "id": id,
            "status": "complete",
            "payment_status": "paid",
            "amount_total": amount,
            "currency": "usd",
            "customer": "cus_monthly",
            "customer_email": email,
            "subscription": subscription,
            "metadata": donation_metadata(email, "GENERAL"),
            "created": chrono::Utc::now().timestamp(),
        }),
    );
    session["customer_details"]["email"] = json!(email);
    session
}

/// A subscription with one monthly price.
pub fn subscription(id: &str, email: &str, amount: i64, status: &str) -> Value {
    let mut subscription = fixture("subscription");
    merge(
        &mut subscription,
        json!({
            "id": id,
            "status": status,
            "customer": "cus_monthly",
            "metadata": donation_metadata(email, "GENERAL"),
            "start_date": chrono::Utc::now().timestamp() - 60,
            "pause_collection": null,
        }),
    );
    subscription["items"]["data"][0]["price"]["unit_amount"] = json!(amount);
    subscription["items"]["data"][0]["quantity"] = json!(1);
    subscription
}

/// A billing portal session that sends the donor to `url`.
pub fn billing_portal_session(url: &str) -> Value {
    let mut session = fixture("billing_portal_session");
    merge(&mut session, json!({ "url": url }));
    session
}

/// The paid invoice that opened a subscription (`billing_reason: subscription_create`).
pub fn first_invoice(id: &str, subscription: &str, email: &str, amount: i64) -> Value {
    let mut invoice = paid_invoice(id, subscription, email, amount);
    invoice["billing_reason"] = json!("subscription_create");
    invoice
}

/// A paid invoice of a subscription's later period (`billing_reason:
/// subscription_cycle`), in the pinned API version's shape. Stripe sends
/// `customer_email` only sometimes: an empty `email` leaves it null.
pub fn paid_invoice(id: &str, subscription: &str, email: &str, amount: i64) -> Value {
    let mut invoice = fixture("invoice");
    merge(
        &mut invoice,
        json!({
            "id": id,
            "status": "paid",
            "billing_reason": "subscription_cycle",
            "amount_paid": amount,
            "amount_due": amount,
            "customer": "cus_monthly",
            "customer_email": if email.is_empty() { Value::Null } else { json!(email) },
            "parent": {
                "type": "subscription_details",
                "quote_details": null,
                "subscription_details": { "metadata": {}, "subscription": subscription }
            },
            "status_transitions": { "paid_at": chrono::Utc::now().timestamp() - 5 },
        }),
    );
    if let Some(fields) = invoice.as_object_mut() {
        for gone in ["subscription", "charge", "payment_intent", "payments"] {
            fields.remove(gone);
        }
    }
    invoice
}

/// The payment intent the fake Stripe says paid an invoice.
pub fn invoice_payment_intent(invoice: &str) -> String {
    format!("pi_{invoice}")
}

/// A customer with an email.
pub fn customer(id: &str, email: &str, name: &str) -> Value {
    let mut customer = fixture("customer");
    merge(
        &mut customer,
        json!({ "id": id, "email": email, "name": name, "metadata": {} }),
    );
    customer
}

/// A charge with what has been refunded of it so far.
pub fn charge(id: &str, payment_intent: &str, amount: i64, refunded: i64) -> Value {
    let mut charge = fixture("charge");
    if let Some(fields) = charge.as_object_mut() {
        fields.remove("invoice");
    }
    merge(
        &mut charge,
        json!({
            "id": id,
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": refunded,
            "refunded": refunded >= amount,
            "payment_intent": payment_intent,
            "currency": "usd",
        }),
    );
    charge
}

pub fn dispute(id: &str, charge: &str, payment_intent: &str, status: &str) -> Value {
    let mut dispute = fixture("dispute");
    merge(
        &mut dispute,
        json!({ "id": id, "charge": charge, "payment_intent": payment_intent, "status": status }),
    );
    dispute
}

pub fn refund(id: &str, charge: &str, amount: i64) -> Value {
    let mut refund = fixture("refund");
    merge(
        &mut refund,
        json!({ "id": id, "charge": charge, "amount": amount, "status": "succeeded" }),
    );
    refund
}

/// The objects the fake Stripe API knows, by id: what `GET` answers with. Tests put
/// here what exists in Stripe before its events are delivered.
#[derive(Clone, Default)]
pub struct StripeObjects {
    objects: Arc<Mutex<HashMap<String, Value>>>,
    unreachable: Arc<Mutex<bool>>,
}

impl StripeObjects {
    /// Makes an object (with an `id`) readable through the API.
    pub fn put(&self, object: Value) {
        let id = object["id"]
            .as_str()
            .expect("an object has an id")
            .to_owned();
        self.objects
            .lock()
            .expect("not poisoned")
            .insert(id, object);
    }

    /// While set, every read answers 503, as Stripe does when it is down.
    pub fn set_unreachable(&self, unreachable: bool) {
        *self.unreachable.lock().expect("not poisoned") = unreachable;
    }

    fn get(&self, id: &str) -> Option<Value> {
        self.objects.lock().expect("not poisoned").get(id).cloned()
    }

    fn sessions_where(&self, field: &str, value: &str) -> Vec<Value> {
        let objects = self.objects.lock().expect("not poisoned");
        let mut found: Vec<Value> = objects
            .values()
            .filter(|o| o["object"] == "checkout.session" && o[field] == value)
            .cloned()
            .collect();
        found.sort_by_key(|o| o["id"].as_str().map(str::to_owned));
        found
    }

    fn answer(&self, request: &Request) -> ResponseTemplate {
        if *self.unreachable.lock().expect("not poisoned") {
            return ResponseTemplate::new(503).set_body_json(json!({
                "error": { "type": "api_error", "message": "Stripe is down (fake)" }
            }));
        }
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let path = request.url.path();
        let list = |data: Vec<Value>| {
            ResponseTemplate::new(200).set_body_json(json!({
                "object": "list", "data": data, "has_more": false, "url": path,
            }))
        };
        if path == "/v1/checkout/sessions" {
            for field in ["subscription", "payment_intent"] {
                if let Some(value) = query.get(field) {
                    return list(self.sessions_where(field, value));
                }
            }
            return list(Vec::new());
        }
        if path == "/v1/refunds" {
            let objects = self.objects.lock().expect("not poisoned");
            let mut refunds: Vec<Value> = objects
                .values()
                .filter(|o| o["object"] == "refund")
                .filter(|o| {
                    query
                        .get("charge")
                        .is_none_or(|charge| o["charge"] == *charge)
                })
                .cloned()
                .collect();
            refunds.sort_by_key(|o| o["id"].as_str().map(str::to_owned));
            return list(refunds);
        }
        if path == "/v1/invoice_payments" {
            let Some(invoice) = query.get("invoice") else {
                return list(Vec::new());
            };
            return list(vec![json!({
                "id": format!("inpay_{invoice}"),
                "object": "invoice_payment",
                "invoice": invoice,
                "is_default": true,
                "status": "paid",
                "payment": {
                    "type": "payment_intent",
                    "payment_intent": invoice_payment_intent(invoice),
                },
            })]);
        }
        let id = path.rsplit('/').next().unwrap_or_default();
        match self.get(id) {
            Some(object) => ResponseTemplate::new(200).set_body_json(object),
            None => ResponseTemplate::new(404).set_body_json(json!({
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": format!("No such object: '{id}'"),
                }
            })),
        }
    }
}

/// Makes `server` answer the reads the service makes of Stripe (subscriptions,
/// customers, checkout sessions by id or listed by subscription or payment intent, an
/// invoice's payments, a charge's refunds) from the returned objects. A test's own mocks take precedence.
pub async fn mount_fake_stripe(server: &MockServer) -> StripeObjects {
    let objects = StripeObjects::default();
    let answering = objects.clone();
    Mock::given(method("GET"))
        .and(path_regex(
            r"^/v1/(subscriptions|customers|checkout/sessions|invoice_payments|refunds)(/[A-Za-z0-9_]+)?$",
        ))
        .respond_with(move |request: &Request| answering.answer(request))
        .with_priority(10)
        .mount(server)
        .await;
    objects
}

/// An event around an object.
pub fn event(id: &str, event_type: &str, object: Value) -> Value {
    let mut event = fixture("event");
    merge(
        &mut event,
        json!({
            "id": id,
            "type": event_type,
            "created": chrono::Utc::now().timestamp(),
            "api_version": api::stripe::client::api_version(),
            "data": { "object": object },
        }),
    );
    event
}

/// The `Stripe-Signature` header for a body, signed now with `secret`.
pub fn signature(body: &[u8], secret: &str) -> String {
    api::stripe::signature::sign(body, secret, chrono::Utc::now().timestamp())
}

impl TestApp {
    /// Delivers an event the way Stripe does, signed with the current secret.
    pub async fn deliver(&self, event: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(event).expect("event serializes");
        let header = signature(&body, WEBHOOK_SECRET);
        self.deliver_raw(body, Some(&header)).await
    }

    pub async fn deliver_raw(&self, body: Vec<u8>, header: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/webhooks/stripe"))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(header) = header {
            request = request.header("Stripe-Signature", header);
        }
        request.send().await.expect("webhook delivered")
    }
}
