//! A fake Stripe API that holds objects and lists them as Stripe does: newest first,
//! a page at a time (`limit`, from 1 to 100, `has_more`, `starting_after` and
//! `ending_before`), filtered by the list
//! parameters the service sends (`created[…]`, `arrival_date[…]`, `status`,
//! `payment_intent`, `subscription`, `charge`, `payout`), with `expand[]=data.<field>`
//! replacing an id by its object. An invoice's `payments` is an includable field in the
//! pinned API version: it is left out unless asked for. The page size is small so that
//! tests follow several pages.
//!
//! A list can be made to answer 429 once (`rate_limit_once`), as Stripe does when
//! requests come too fast.
//!
//! Refunds are created as Stripe creates them: once per `Idempotency-Key` (the same key
//! answers the first refund again), against the charge or the payment intent's charge,
//! refused when they ask for more than the charge has left, and counted on the charge's
//! `amount_refunded` at once (a pending refund counts, as it does at Stripe). The
//! `charge.refunded` event that follows is the test's to deliver.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn fixture(name: &str) -> Value {
    let text = match name {
        "payout" => include_str!("../fixtures/stripe/payout.json"),
        "balance_transaction" => include_str!("../fixtures/stripe/balance_transaction.json"),
        "invoice_payment" => include_str!("../fixtures/stripe/invoice_payment.json"),
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

/// What the fake holds, per list endpoint (the path after `/v1/`).
#[derive(Default)]
struct Store {
    lists: HashMap<String, Vec<Value>>,
    /// The refund each idempotency key created.
    refund_keys: HashMap<String, String>,
    /// The payout each balance transaction was paid out in.
    paid_out_in: HashMap<String, String>,
    /// Lists whose next request is refused as too many requests.
    rate_limited: std::collections::HashSet<String>,
}

impl Store {
    fn find(&self, id: &str) -> Option<&Value> {
        self.lists
            .values()
            .flatten()
            .find(|object| object["id"].as_str() == Some(id))
    }
}

/// A fake Stripe API on a local port.
pub struct FakeStripe {
    pub server: MockServer,
    store: Arc<Mutex<Store>>,
}

fn id_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(id) => Some(id),
        Value::Object(_) => value["id"].as_str(),
        _ => None,
    }
}

/// Whether an object passes one list parameter.
fn passes(store: &Store, list: &str, object: &Value, key: &str, wanted: &str) -> bool {
    let number = |field: &str| object[field].as_i64().unwrap_or(0);
    let bound = wanted.parse::<i64>().unwrap_or(0);
    match key {
        "created[gte]" => number("created") >= bound,
        "created[gt]" => number("created") > bound,
        "created[lt]" => number("created") < bound,
        "created[lte]" => number("created") <= bound,
        "arrival_date[gte]" => number("arrival_date") >= bound,
        "arrival_date[lt]" => number("arrival_date") < bound,
        "status" => object["status"].as_str() == Some(wanted),
        "payout" => {
            list == "balance_transactions"
                && object["id"]
                    .as_str()
                    .and_then(|id| store.paid_out_in.get(id))
                    .is_some_and(|payout| payout == wanted)
        }
        "subscription" if list == "invoices" => {
            object
                .pointer("/parent/subscription_details/subscription")
                .and_then(id_of)
                == Some(wanted)
        }
        "payment_intent" | "subscription" | "charge" | "customer" => {
            id_of(&object[key]) == Some(wanted)
        }
        _ => true,
    }
}

fn list_page(store: &Store, list: &str, request: &Request) -> ResponseTemplate {
    let page_size = 2;
    let mut filters = Vec::new();
    let mut expand = Vec::new();
    let mut limit = 10;
    let mut after = None;
    let mut before = None;
    for (key, value) in request.url.query_pairs() {
        match key.as_ref() {
            "limit" => limit = value.parse().unwrap_or(0),
            "starting_after" => after = Some(value.into_owned()),
            "ending_before" => before = Some(value.into_owned()),
            "expand[]" => expand.push(value.trim_start_matches("data.").to_owned()),
            _ => filters.push((key.into_owned(), value.into_owned())),
        }
    }
    let mut objects: Vec<(usize, &Value)> = store
        .lists
        .get(list)
        .map(|objects| objects.iter().enumerate().collect())
        .unwrap_or_default();
    objects.retain(|(_, object)| {
        filters
            .iter()
            .all(|(key, wanted)| passes(store, list, object, key, wanted))
    });
    // Newest first, as Stripe lists.
    objects.sort_by_key(|(index, object)| {
        std::cmp::Reverse((object["created"].as_i64().unwrap_or(0), *index))
    });
    if !(1..=100).contains(&limit) {
        return refused(
            format!("Invalid limit: must be between 1 and 100 (got {limit})"),
            "limit",
        );
    }
    let position = |id: &str| {
        objects
            .iter()
            .position(|(_, object)| object["id"].as_str() == Some(id))
    };
    let take = limit.min(page_size);
    // A page continues after `starting_after`, or ends just before `ending_before`
    // (the newer objects, read backwards).
    let (start, end) = match (&after, &before) {
        (Some(after), _) => match position(after) {
            Some(at) => (at + 1, objects.len()),
            None => return refused(format!("No such object: '{after}'"), "starting_after"),
        },
        (None, Some(before)) => match position(before) {
            Some(at) => (at.saturating_sub(take), at),
            None => return refused(format!("No such object: '{before}'"), "ending_before"),
        },
        (None, None) => (0, objects.len()),
    };
    let page: Vec<Value> = objects[..end]
        .iter()
        .skip(start)
        .take(take)
        .map(|(_, object)| {
            let mut object = (*object).clone();
            if list == "invoices"
                && !expand.iter().any(|e| e == "payments")
                && let Some(fields) = object.as_object_mut()
            {
                fields.remove("payments");
            }
            for field in &expand {
                let expanded = object[field.as_str()]
                    .as_str()
                    .and_then(|id| store.find(id))
                    .cloned();
                if let Some(expanded) = expanded {
                    object[field.as_str()] = expanded;
                }
            }
            object
        })
        .collect();
    let has_more = match before {
        Some(_) => start > 0,
        None => start + page.len() < objects.len(),
    };
    ResponseTemplate::new(200).set_body_json(json!({
        "object": "list",
        "url": format!("/v1/{list}"),
        "has_more": has_more,
        "data": page,
    }))
}

fn refused(message: String, param: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({ "error": {
        "type": "invalid_request_error",
        "message": message,
        "param": param,
    } }))
}

/// `POST /v1/refunds`: one refund per idempotency key, never more than the charge has left.
fn create_refund(store: &mut Store, request: &Request) -> ResponseTemplate {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    let key = request
        .headers
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(refund) = key
        .as_ref()
        .and_then(|key| store.refund_keys.get(key))
        .and_then(|id| store.find(id))
    {
        return ResponseTemplate::new(200).set_body_json(refund);
    }
    let charge_id = match (form.get("charge"), form.get("payment_intent")) {
        (Some(charge), _) => Some(charge.clone()),
        (None, Some(intent)) => store
            .lists
            .get("charges")
            .into_iter()
            .flatten()
            .find(|charge| id_of(&charge["payment_intent"]) == Some(intent.as_str()))
            .and_then(|charge| charge["id"].as_str().map(str::to_owned)),
        (None, None) => None,
    };
    let Some(charge) = charge_id.and_then(|id| {
        store
            .lists
            .get_mut("charges")
            .and_then(|charges| charges.iter_mut().find(|c| c["id"].as_str() == Some(&id)))
    }) else {
        return refused("No such charge".into(), "charge");
    };
    let left =
        charge["amount"].as_i64().unwrap_or(0) - charge["amount_refunded"].as_i64().unwrap_or(0);
    let amount = form
        .get("amount")
        .and_then(|a| a.parse::<i64>().ok())
        .unwrap_or(left);
    if amount > left {
        return refused(
            format!(
                "Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
            ),
            "amount",
        );
    }
    charge["amount_refunded"] = json!(charge["amount_refunded"].as_i64().unwrap_or(0) + amount);
    charge["refunded"] = json!(amount == left);
    let charge_id = charge["id"].clone();
    let payment_intent = charge["payment_intent"].clone();
    let number = store.lists.get("refunds").map_or(0, Vec::len) + 1;
    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(field, value)| {
            field
                .strip_prefix("metadata[")
                .and_then(|f| f.strip_suffix(']'))
                .map(|f| (f.to_owned(), json!(value)))
        })
        .collect();
    let refund = json!({
        "id": format!("re_fake_{number}"),
        "object": "refund",
        "amount": amount,
        "charge": charge_id,
        "payment_intent": payment_intent,
        "currency": "usd",
        "created": chrono::Utc::now().timestamp(),
        "metadata": metadata,
        "reason": form.get("reason"),
        "status": "succeeded",
    });
    if let Some(key) = key {
        store.refund_keys.insert(key, format!("re_fake_{number}"));
    }
    store
        .lists
        .entry("refunds".to_owned())
        .or_default()
        .push(refund.clone());
    ResponseTemplate::new(200).set_body_json(refund)
}

impl FakeStripe {
    /// Starts the fake with its list and retrieve endpoints mounted.
    pub async fn start() -> FakeStripe {
        let server = MockServer::start().await;
        let store = Arc::new(Mutex::new(Store::default()));
        let lists = store.clone();
        Mock::given(method("GET"))
            .and(path_regex(
                r"^/v1/(charges|refunds|disputes|invoices|payouts|balance_transactions|checkout/sessions|subscriptions)$",
            ))
            .respond_with(move |request: &Request| {
                let list = request.url.path().trim_start_matches("/v1/").to_owned();
                let mut store = lists.lock().expect("the fake's store");
                if store.rate_limited.remove(&list) {
                    return ResponseTemplate::new(429).set_body_json(json!({ "error": {
                        "type": "invalid_request_error",
                        "code": "rate_limit",
                        "message": "Too many requests hit the API too quickly.",
                    } }));
                }
                list_page(&store, &list, request)
            })
            .mount(&server)
            .await;
        let objects = store.clone();
        Mock::given(method("GET"))
            .and(path_regex(
                r"^/v1/(charges|refunds|disputes|invoices|payouts|subscriptions|checkout/sessions)/[A-Za-z0-9_]+$",
            ))
            .respond_with(move |request: &Request| {
                let id = request.url.path().rsplit('/').next().unwrap_or_default();
                let store = objects.lock().expect("the fake's store");
                match store.find(id) {
                    Some(object) => ResponseTemplate::new(200).set_body_json(object),
                    None => ResponseTemplate::new(404).set_body_json(json!({ "error": {
                        "type": "invalid_request_error",
                        "message": format!("No such object: '{id}'"),
                    } })),
                }
            })
            .mount(&server)
            .await;
        let refunds = store.clone();
        Mock::given(method("POST"))
            .and(path_regex(r"^/v1/refunds$"))
            .respond_with(move |request: &Request| {
                let mut store = refunds.lock().expect("the fake's store");
                create_refund(&mut store, request)
            })
            .mount(&server)
            .await;
        FakeStripe { server, store }
    }

    /// How many times the service asked the fake to create a refund.
    pub async fn refund_posts(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/v1/refunds")
            .count()
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    fn add(&self, list: &str, object: Value) {
        self.store
            .lock()
            .expect("the fake's store")
            .lists
            .entry(list.to_owned())
            .or_default()
            .push(object);
    }

    pub fn add_charge(&self, charge: Value) {
        self.add("charges", charge);
    }

    pub fn add_refund(&self, refund: Value) {
        self.add("refunds", refund);
    }

    pub fn add_dispute(&self, dispute: Value) {
        self.add("disputes", dispute);
    }

    pub fn add_invoice(&self, invoice: Value) {
        self.add("invoices", invoice);
    }

    pub fn add_checkout_session(&self, session: Value) {
        self.add("checkout/sessions", session);
    }

    pub fn add_subscription(&self, subscription: Value) {
        self.add("subscriptions", subscription);
    }

    pub fn add_payout(&self, payout: Value) {
        self.add("payouts", payout);
    }

    /// A balance transaction paid out in `payout`.
    pub fn add_balance_transaction(&self, payout: &str, transaction: Value) {
        let id = transaction["id"].as_str().unwrap_or_default().to_owned();
        self.store
            .lock()
            .expect("the fake's store")
            .paid_out_in
            .insert(id, payout.to_owned());
        self.add("balance_transactions", transaction);
    }

    /// Makes a refund fail after it was made, as Stripe does when the card it goes back
    /// to is closed: its amount is the charge's again. Answers the refund as Stripe's
    /// `charge.refund.updated` and `refund.failed` events then carry it.
    pub fn fail_refund(&self, id: &str) -> Value {
        let mut store = self.store.lock().expect("the fake's store");
        let refund = store
            .lists
            .get_mut("refunds")
            .and_then(|refunds| refunds.iter_mut().find(|r| r["id"].as_str() == Some(id)))
            .expect("the fake holds the refund");
        refund["status"] = json!("failed");
        refund["failure_reason"] = json!("expired_or_canceled_card");
        let refund = refund.clone();
        let amount = refund["amount"].as_i64().unwrap_or(0);
        if let Some(charge) = store.lists.get_mut("charges").and_then(|charges| {
            charges
                .iter_mut()
                .find(|c| c["id"].as_str() == id_of(&refund["charge"]))
        }) {
            let refunded = charge["amount_refunded"].as_i64().unwrap_or(0) - amount;
            charge["amount_refunded"] = json!(refunded.max(0));
            charge["refunded"] = json!(false);
        }
        refund
    }

    /// Answers the next request of a list (`charges`, say) with 429, as Stripe does
    /// when requests come too fast; the one after is answered as usual.
    pub fn rate_limit_once(&self, list: &str) {
        self.store
            .lock()
            .expect("the fake's store")
            .rate_limited
            .insert(list.to_owned());
    }

    /// A charge as the fake holds it now.
    pub fn charge(&self, id: &str) -> Value {
        let store = self.store.lock().expect("the fake's store");
        store.find(id).cloned().expect("the fake holds the charge")
    }

    /// The list requests the fake answered for an endpoint, in order, as query strings.
    pub async fn list_requests(&self, list: &str) -> Vec<String> {
        let path = format!("/v1/{list}");
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.method.as_str() == "GET" && r.url.path() == path)
            .map(|r| r.url.query().unwrap_or_default().to_owned())
            .collect()
    }
}

/// A payout that reaches the bank at `arrival_date` (seconds).
pub fn payout(id: &str, amount: i64, arrival_date: i64) -> Value {
    let mut payout = fixture("payout");
    merge(
        &mut payout,
        json!({
            "id": id,
            "amount": amount,
            "currency": "usd",
            "arrival_date": arrival_date,
            "created": arrival_date - 86_400,
            "status": "paid",
            "balance_transaction": format!("txn_{id}"),
        }),
    );
    payout
}

/// A balance transaction of `kind` caused by `source`, with Stripe's fee.
pub fn balance_transaction(id: &str, kind: &str, source: &str, amount: i64, fee: i64) -> Value {
    let mut transaction = fixture("balance_transaction");
    merge(
        &mut transaction,
        json!({
            "id": id,
            "type": kind,
            "reporting_category": kind,
            "source": source,
            "amount": amount,
            "fee": fee,
            "net": amount - fee,
            "currency": "usd",
            "created": chrono::Utc::now().timestamp(),
            "fee_details": if fee == 0 { json!([]) } else { json!([{
                "amount": fee, "application": null, "currency": "usd",
                "description": "Stripe processing fees", "type": "stripe_fee"
            }]) },
        }),
    );
    transaction
}

/// An invoice's `payments` list, as `expand[]=data.payments` returns it.
pub fn invoice_payments(invoice: &str, payment_intent: &str, amount: i64) -> Value {
    let mut payment = fixture("invoice_payment");
    merge(
        &mut payment,
        json!({
            "id": format!("inpay_{invoice}"),
            "invoice": invoice,
            "amount_paid": amount,
            "amount_requested": amount,
            "currency": "usd",
            "is_default": true,
            "livemode": false,
            "status": "paid",
            "payment": { "type": "payment_intent", "payment_intent": payment_intent },
        }),
    );
    json!({
        "object": "list",
        "data": [payment],
        "has_more": false,
        "url": format!("/v1/invoices/{invoice}/payments"),
    })
}
