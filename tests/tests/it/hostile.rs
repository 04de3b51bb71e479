//! Hostile input, as an attacker or a careless paste would send it: the checkout
//! abuse seen in the wild replayed, and a fuzz-style sweep (proptest, deterministic
//! seeds, modest case counts) over the donation form, webhook parsing, signed links,
//! segment rules and the staff API's donor and gift inputs. Whatever arrives: no 5xx,
//! no panic, and input that is refused writes nothing.

use std::collections::BTreeMap;

use entity::{
    audit_log, created_checkout_session, donor, gift, outbox, pledge, receipt, segment,
    stripe_event,
};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use wiremock::MockServer;

use tests::on_both_backends;
use tests::stripe::{
    SECRET_KEY, WEBHOOK_SECRET, charge, dispute, event, first_invoice, payment_session,
    subscription, subscription_session,
};
use tests::support::{Backend, TestApp, error_codes, spawn_app_with};

use crate::checkout::{form_token, mount_checkout, valid_form};

const PUBLIC_ORIGIN: &str = "https://give.example.org";

/// Text as people and robots send it: anything Unicode, printable ASCII, things that
/// look like numbers, and a few known troublemakers.
fn hostile_text() -> impl Strategy<Value = String> {
    let known: Vec<String> = vec![
        "Ana\r\nBcc: all@evil.example".into(),
        "<script>alert(1)</script>".into(),
        "'; DROP TABLE donors; --".into(),
        "\u{0}".into(),
        "\u{202e}gnp.exe".into(),
        "１２３".into(),
        "٢٥٫٥٠".into(),
        "NaN".into(),
        "1e309".into(),
        "-0".into(),
        "99999999999999999999999".into(),
        "%00".into(),
        "../../etc/passwd".into(),
        "x".repeat(5_000),
        " ".into(),
    ];
    prop_oneof![
        3 => any::<String>(),
        2 => "[ -~]{0,40}",
        2 => "[-+0-9.,e ]{0,14}",
        2 => select(known),
    ]
}

/// Any JSON, a few levels deep.
fn random_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        hostile_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{1,10}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// `cases` values of a strategy, the same ones on every run.
fn sample<S: Strategy>(strategy: S, cases: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..cases)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("a generated case")
                .current()
        })
        .collect()
}

/// How many rows each table that input could write to holds.
async fn row_counts(app: &TestApp) -> BTreeMap<&'static str, u64> {
    let db = &app.db;
    BTreeMap::from([
        ("donors", donor::Entity::find().count(db).await.unwrap()),
        ("gifts", gift::Entity::find().count(db).await.unwrap()),
        ("pledges", pledge::Entity::find().count(db).await.unwrap()),
        ("receipts", receipt::Entity::find().count(db).await.unwrap()),
        ("outbox", outbox::Entity::find().count(db).await.unwrap()),
        ("segments", segment::Entity::find().count(db).await.unwrap()),
        (
            "audit_log",
            audit_log::Entity::find().count(db).await.unwrap(),
        ),
        (
            "stripe_events",
            stripe_event::Entity::find().count(db).await.unwrap(),
        ),
        (
            "created_checkout_sessions",
            created_checkout_session::Entity::find()
                .count(db)
                .await
                .unwrap(),
        ),
    ])
}

async fn app_with(backend: Backend, extra: &[(&str, &str)]) -> (TestApp, MockServer) {
    let stripe = MockServer::start().await;
    let uri = stripe.uri();
    let mut settings = vec![
        ("STRIPE_SECRET_KEY", SECRET_KEY),
        ("STRIPE_API_BASE", uri.as_str()),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("PUBLIC_URL", PUBLIC_ORIGIN),
    ];
    settings.extend_from_slice(extra);
    let app = spawn_app_with(backend, &settings).await;
    mount_checkout(&stripe).await;
    (app, stripe)
}

async fn stripe_requests(stripe: &MockServer) -> usize {
    stripe.received_requests().await.unwrap().len()
}

async fn a_card_tester_loop_from_one_address_gets_three_checkout_sessions(backend: Backend) {
    let (app, stripe) = app_with(backend, &[]).await;
    let token = form_token(&app).await;
    let mut statuses = BTreeMap::new();
    for n in 0..40 {
        let email = format!("tester{n}@example.org");
        let mut form = valid_form();
        form.retain(|(k, _)| !matches!(*k, "attempt" | "email"));
        form.extend([("attempt", token.as_str()), ("email", &email)]);
        let response = app
            .client
            .post(app.url("/donate"))
            .header("Origin", PUBLIC_ORIGIN)
            .form(&form)
            .send()
            .await
            .unwrap();
        *statuses.entry(response.status().as_u16()).or_insert(0) += 1;
    }
    assert_eq!(statuses, BTreeMap::from([(303, 3), (429, 37)]));
    assert_eq!(stripe_requests(&stripe).await, 3);
    // The same loop from another site, or without the page's token, creates nothing.
    let mut bare = valid_form();
    bare.retain(|(k, _)| *k != "attempt");
    for origin in ["https://evil.example.com", PUBLIC_ORIGIN] {
        let response = app
            .client
            .post(app.url("/donate"))
            .header("Origin", origin)
            .header("X-Forwarded-For", "192.0.2.99")
            .form(&bare)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{origin}");
    }
    assert_eq!(stripe_requests(&stripe).await, 3);
}

const FORM_FIELDS: [&str; 16] = [
    "frequency",
    "amount",
    "amount_other",
    "fund",
    "tribute_kind",
    "tribute_name",
    "notify_name",
    "notify_email",
    "tribute_show_amount",
    "name",
    "email",
    "email_consent",
    "anonymous",
    "appeal",
    "lang",
    "website",
];

async fn any_donation_form_is_answered_without_a_5xx_and_refused_ones_write_nothing(
    backend: Backend,
) {
    let (app, stripe) = app_with(
        backend,
        &[
            ("CHECKOUT_PER_ADDRESS", "0"),
            ("CHECKOUT_PER_EMAIL", "0"),
            ("CHECKOUT_GLOBAL_PER_MINUTE", "0"),
        ],
    )
    .await;
    let token = form_token(&app).await;
    let cases = sample(
        prop::collection::vec((select(FORM_FIELDS.to_vec()), hostile_text()), 1..5),
        48,
    );
    for changes in cases {
        let mut form: Vec<(&str, String)> = valid_form()
            .into_iter()
            .filter(|(k, _)| *k != "attempt")
            .map(|(k, v)| (k, v.to_owned()))
            .collect();
        form.push(("attempt", token.clone()));
        for (field, value) in &changes {
            form.retain(|(k, _)| k != field);
            form.push((field, value.clone()));
        }
        let before = row_counts(&app).await;
        let sent_before = stripe_requests(&stripe).await;
        let response = app
            .client
            .post(app.url("/donate"))
            .header("Origin", PUBLIC_ORIGIN)
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(
            [303, 403, 422].contains(&status),
            "{status} for {changes:?}"
        );
        let mut after = row_counts(&app).await;
        if status == 303 {
            assert!(after["created_checkout_sessions"] <= before["created_checkout_sessions"] + 1);
            after.insert(
                "created_checkout_sessions",
                before["created_checkout_sessions"],
            );
        } else {
            assert_eq!(stripe_requests(&stripe).await, sent_before, "{changes:?}");
        }
        assert_eq!(after, before, "{changes:?}");
    }
    // Bodies that are not forms at all.
    for body in sample(prop::collection::vec(any::<u8>(), 0..400), 16) {
        let response = app
            .client
            .post(app.url("/donate"))
            .header("Origin", PUBLIC_ORIGIN)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().as_u16() < 500);
    }
}

/// Paths and queries made of random text, percent-encoded as a browser would send them.
fn encoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn random_signed_links_are_refused_without_a_5xx_and_write_nothing(backend: Backend) {
    let (app, _stripe) = app_with(backend, &[]).await;
    let staff = app.token(entity::enums::StaffRole::Staff).await;
    let donor = app
        .graphql(
            &staff,
            "mutation { createDonor(input: { displayName: \"Ana\", email: \"ana@example.org\" }) { id } }",
            json!({}),
        )
        .await;
    assert!(donor.get("errors").is_none(), "{donor}");
    let before = row_counts(&app).await;
    let texts = sample((hostile_text(), hostile_text(), any::<i64>()), 40);
    for (one, two, number) in texts {
        let (one, two) = (encoded(&one), encoded(&two));
        let requests = [
            app.client.get(app.url(&format!("/manage/{one}"))),
            app.client
                .post(app.url(&format!("/manage/{one}/pledges/{number}")))
                .form(&[("action", two.as_str())]),
            app.client
                .post(app.url(&format!("/manage/{one}/card")))
                .body(two.clone()),
            app.client.get(app.url(&format!("/receipts/{one}"))),
            app.client.get(app.url(&format!(
                "/receipts/{one}.pdf?expires={number}&signature={two}"
            ))),
            app.client
                .get(app.url(&format!("/appeals/unsubscribe?{one}"))),
            app.client
                .get(app.url(&format!("/appeals/unsubscribe?donor=1&signature={two}"))),
            app.client
                .post(app.url("/appeals/unsubscribe"))
                .form(&[("donor", number.to_string()), ("signature", two.clone())]),
        ];
        for request in requests {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let url = response.url().to_string();
            assert!(status < 500, "{status} for {url}");
        }
    }
    assert_eq!(row_counts(&app).await, before);
}

const RULE_KINDS: [&str; 19] = [
    "all",
    "any",
    "not",
    "gaveBetween",
    "didNotGiveBetween",
    "lybunt",
    "sybunt",
    "lifetimeGiving",
    "yearGiving",
    "inTier",
    "activePledge",
    "pledgePastDue",
    "gaveToFund",
    "attributedToAppeal",
    "firstGiftBetween",
    "speaksLanguage",
    "emailConsent",
    "hasPostalAddress",
    "noSuchKind",
];

const RULE_FIELDS: [&str; 13] = [
    "from",
    "to",
    "year",
    "minMinor",
    "maxMinor",
    "tierId",
    "has",
    "fundId",
    "appealId",
    "language",
    "consented",
    "rule",
    "rules",
];

/// Values a rule's field might hold: dates good and bad, years and amounts at the
/// edges of their types, and anything else.
fn rule_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        select(vec![
            json!("2026-01-01"),
            json!("2025-12-31"),
            json!("0000-01-01"),
            json!("+262143-12-31"),
            json!("2026-02-30"),
            json!(2026),
            json!(i32::MAX),
            json!(i32::MIN),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(-1),
            json!(0),
            json!(true),
            json!("es"),
        ]),
        any::<i32>().prop_map(Value::from),
        random_json(),
    ]
}

/// Rules shaped like the real ones, with fields and values that may be wrong.
fn random_rule() -> impl Strategy<Value = Value> {
    let leaf = (
        select(RULE_KINDS.to_vec()),
        prop::collection::vec((select(RULE_FIELDS.to_vec()), rule_value()), 0..4),
    )
        .prop_map(|(kind, fields)| {
            let mut rule = serde_json::Map::new();
            rule.insert("kind".into(), json!(kind));
            for (name, value) in fields {
                rule.insert(name.into(), value);
            }
            Value::Object(rule)
        });
    leaf.prop_recursive(4, 40, 4, |inner| {
        prop_oneof![
            (
                select(vec!["all", "any"]),
                prop::collection::vec(inner.clone(), 0..5)
            )
                .prop_map(|(kind, rules)| json!({ "kind": kind, "rules": rules })),
            inner.prop_map(|rule| json!({ "kind": "not", "rule": rule })),
        ]
    })
}

async fn random_segment_rules_are_answered_or_refused_as_bad_input(backend: Backend) {
    let (app, _stripe) = app_with(backend, &[]).await;
    let staff = app.token(entity::enums::StaffRole::Staff).await;
    let rules = sample(prop_oneof![4 => random_rule(), 1 => random_json()], 40);
    for (n, rule) in rules.into_iter().enumerate() {
        let preview = app
            .graphql(
                &staff,
                "query($rule: JSON!) { segmentPreview(ruleJson: $rule, first: 5) { count } }",
                json!({ "rule": rule }),
            )
            .await;
        let codes = error_codes(&preview);
        assert!(
            codes.iter().all(|c| c == "BAD_USER_INPUT"),
            "{codes:?} for {rule}: {preview}"
        );
        let before = row_counts(&app).await;
        let created = app
            .graphql(
                &staff,
                "mutation($name: String!, $rule: JSON!) { createSegment(input: { name: $name, ruleJson: $rule }) { id } }",
                json!({ "name": format!("Sweep {n}"), "rule": rule }),
            )
            .await;
        let codes = error_codes(&created);
        assert!(
            codes.iter().all(|c| c == "BAD_USER_INPUT"),
            "{codes:?} for {rule}: {created}"
        );
        if !codes.is_empty() {
            assert_eq!(row_counts(&app).await, before, "{rule}");
        }
    }
}

async fn random_donor_and_gift_inputs_never_fail_inside_and_refusals_write_nothing(
    backend: Backend,
) {
    let (app, _stripe) = app_with(backend, &[]).await;
    let staff = app.token(entity::enums::StaffRole::Staff).await;
    let refusals = ["BAD_USER_INPUT", "CONFLICT", "NOT_FOUND"];
    let donors = sample(
        (
            hostile_text(),
            hostile_text(),
            hostile_text(),
            hostile_text(),
            hostile_text(),
        ),
        32,
    );
    for (display_name, first_name, last_name, email, phone) in donors {
        let before = row_counts(&app).await;
        let input = json!({
            "displayName": display_name, "firstName": first_name, "lastName": last_name,
            "email": email, "phone": phone,
        });
        let body = app
            .graphql(
                &staff,
                "mutation($input: CreateDonorInput!) { createDonor(input: $input) { id } }",
                json!({ "input": input }),
            )
            .await;
        let codes = error_codes(&body);
        assert!(
            codes.iter().all(|c| refusals.contains(&c.as_str())),
            "{codes:?} for {input}"
        );
        if !codes.is_empty() {
            assert_eq!(row_counts(&app).await, before, "{input}");
        }
    }

    let donor = app
        .graphql(
            &staff,
            "mutation { createDonor(input: { displayName: \"Gift Giver\", email: \"giver@example.org\" }) { id } }",
            json!({}),
        )
        .await;
    let donor_id = donor["data"]["createDonor"]["id"].clone();
    let gifts = sample(
        (
            any::<i32>(),
            hostile_text(),
            hostile_text(),
            hostile_text(),
            hostile_text(),
            any::<Index>(),
        ),
        32,
    );
    for (amount, currency, received_at, check_number, appeal_code, method) in gifts {
        let method = ["CHECK", "CASH", "STOCK", "DAF", "WIRE"][method.index(5)];
        let received_at = if received_at.len() % 2 == 0 {
            "2026-03-14T18:00:00Z".to_owned()
        } else {
            received_at
        };
        let input = json!({
            "donorId": donor_id, "amount": { "amountMinor": amount, "currency": currency },
            "method": method, "fundId": "1", "receivedAt": received_at,
            "checkNumber": check_number, "appealCode": appeal_code,
        });
        let before = row_counts(&app).await;
        let body = app
            .graphql(
                &staff,
                "mutation($input: RecordOfflineGiftInput!) { recordOfflineGift(input: $input) { gift { id } } }",
                json!({ "input": input }),
            )
            .await;
        let codes = error_codes(&body);
        assert!(
            codes.iter().all(|c| refusals.contains(&c.as_str())),
            "{codes:?} for {input}: {body}"
        );
        if body.get("errors").is_some() {
            assert_eq!(row_counts(&app).await, before, "{input}");
        }
    }
}

on_both_backends!(
    a_card_tester_loop_from_one_address_gets_three_checkout_sessions,
    any_donation_form_is_answered_without_a_5xx_and_refused_ones_write_nothing,
    random_signed_links_are_refused_without_a_5xx_and_write_nothing,
    random_segment_rules_are_answered_or_refused_as_bad_input,
    random_donor_and_gift_inputs_never_fail_inside_and_refusals_write_nothing,
);

/// Stripe's events as the service receives them, one of each kind it handles.
fn fixture_events() -> Vec<Value> {
    vec![
        event(
            "evt_a",
            "checkout.session.completed",
            payment_session("cs_a", "ana@example.org", 5_000, true),
        ),
        event(
            "evt_b",
            "checkout.session.completed",
            subscription_session("cs_b", "sub_b", "ana@example.org", 4_200),
        ),
        event(
            "evt_c",
            "invoice.paid",
            first_invoice("in_c", "sub_b", "ana@example.org", 4_200),
        ),
        event(
            "evt_d",
            "customer.subscription.updated",
            subscription("sub_b", "ana@example.org", 4_200, "past_due"),
        ),
        event(
            "evt_e",
            "charge.refunded",
            charge("ch_e", "pi_cs_a", 5_000, 1_000),
        ),
        event(
            "evt_f",
            "charge.dispute.created",
            dispute("dp_f", "ch_e", "pi_cs_a", "needs_response"),
        ),
    ]
}

/// Every JSON pointer inside a value.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                pointers(child, path.clone(), out);
                out.push(path);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let path = format!("{at}/{index}");
                pointers(child, path.clone(), out);
                out.push(path);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_event_parser(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = api::stripe::events::parse_event(&body);
    }

    #[test]
    fn stripe_events_with_a_value_replaced_never_panic_the_event_parser(
        which in any::<Index>(),
        edits in prop::collection::vec((any::<Index>(), random_json()), 1..4),
    ) {
        let events = fixture_events();
        let mut body = events[which.index(events.len())].clone();
        for (at, value) in edits {
            let mut paths = Vec::new();
            pointers(&body, String::new(), &mut paths);
            if paths.is_empty() {
                break;
            }
            if let Some(slot) = body.pointer_mut(&paths[at.index(paths.len())]) {
                *slot = value;
            }
        }
        let _ = api::stripe::events::parse_event(&serde_json::to_vec(&body).unwrap());
    }

    #[test]
    fn stripe_events_with_bytes_flipped_or_cut_never_panic_the_event_parser(
        which in any::<Index>(),
        flips in prop::collection::vec((any::<Index>(), any::<u8>()), 0..8),
        cut in any::<Index>(),
    ) {
        let events = fixture_events();
        let mut body = serde_json::to_vec(&events[which.index(events.len())]).unwrap();
        for (at, byte) in flips {
            let at = at.index(body.len());
            body[at] = byte;
        }
        body.truncate(cut.index(body.len() + 1));
        let _ = api::stripe::events::parse_event(&body);
    }
}
