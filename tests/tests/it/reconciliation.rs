//! Reconciliation with Stripe: the books against a fake Stripe that lists its charges,
//! refunds, disputes, invoices, payouts and balance transactions a page at a time.

use chrono::{Duration, Utc};
use entity::enums::{GiftStatus, StaffRole};
use entity::{gift, receipt, stripe_event};
use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder};
use serde_json::{Value, json};

use api::config::Config;
use api::domain::reconciliation::ReconcileRange;
use api::stripe::StripeClient;
use api::stripe::reconcile::{ApplySettings, reconcile_with_stripe};
use tests::fake_stripe::{FakeStripe, balance_transaction, invoice_payments, payout};
use tests::on_both_backends;
use tests::stripe::{
    SECRET_KEY, WEBHOOK_SECRET, charge, dispute, event, first_invoice, payment_session, refund,
    subscription, subscription_session,
};
use tests::support::{Backend, TestApp, spawn_app_with, test_config};

const RECONCILIATION: &str = r#"
query($from: Date!, $to: Date!) {
  reconciliation(from: $from, to: $to) {
    chargesSeen refundsSeen disputesSeen invoicesSeen giftsSeen matches
    findings { kind stripeObjectId giftId stripeAmount { amountMinor } booksAmount { amountMinor }
               stripeStatus booksStatus summary repairable }
    payouts { payoutId status balanced amount { amountMinor } gross { amountMinor }
              fees { amountMinor } net { amountMinor }
              lines { balanceTransactionId kind sourceId giftId gross { amountMinor }
                      fee { amountMinor } net { amountMinor } } }
  }
}"#;

const APPLY: &str = r#"
mutation($from: Date!, $to: Date!) {
  applyReconciliation(input: { from: $from, to: $to }) {
    applied { stripeObjectId outcome }
    feesRecorded
    before { matches findings { kind } }
    after { matches findings { kind summary } }
  }
}"#;

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

/// Yesterday to tomorrow: today in any time zone.
fn days() -> Value {
    let today = Utc::now().date_naive();
    json!({ "from": today - Duration::days(1), "to": today + Duration::days(1) })
}

/// A succeeded charge made now, with its balance transaction's id.
fn paid_charge(id: &str, payment_intent: &str, amount: i64, refunded: i64) -> Value {
    let mut charge = charge(id, payment_intent, amount, refunded);
    charge["status"] = json!("succeeded");
    charge["paid"] = json!(true);
    charge["captured"] = json!(true);
    charge["created"] = json!(Utc::now().timestamp());
    charge["balance_transaction"] = json!(format!("txn_{id}"));
    charge
}

/// A one-off checkout `cs_{name}` paid by charge `ch_{name}`, both at the fake Stripe.
fn one_off_at_stripe(stripe: &FakeStripe, name: &str, amount: i64) -> Value {
    let session = payment_session(
        &format!("cs_{name}"),
        &format!("{name}@example.org"),
        amount,
        true,
    );
    stripe.add_checkout_session(session.clone());
    stripe.add_charge(paid_charge(
        &format!("ch_{name}"),
        &format!("pi_cs_{name}"),
        amount,
        0,
    ));
    session
}

/// The same one-off checkout, also recorded in the books by its webhook.
async fn one_off_in_both(app: &TestApp, stripe: &FakeStripe, name: &str, amount: i64) {
    let session = one_off_at_stripe(stripe, name, amount);
    let response = app
        .deliver(&event(
            &format!("evt_{name}"),
            "checkout.session.completed",
            session,
        ))
        .await;
    assert_eq!(response.status(), 200);
}

async fn reconciliation(app: &TestApp) -> Value {
    let token = app.token(StaffRole::Staff).await;
    let body = app.graphql(&token, RECONCILIATION, days()).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["reconciliation"].clone()
}

async fn apply(app: &TestApp) -> Value {
    let token = app.token(StaffRole::Admin).await;
    let body = app.graphql(&token, APPLY, days()).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["applyReconciliation"].clone()
}

fn kinds(report: &Value) -> Vec<&str> {
    report["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["kind"].as_str()).collect())
        .unwrap_or_default()
}

async fn gifts(app: &TestApp) -> Vec<gift::Model> {
    gift::Entity::find()
        .order_by_asc(gift::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

async fn books_that_match_stripe_report_nothing(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    for (name, amount) in [("ana", 5_000), ("ben", 2_500), ("carla", 10_000)] {
        one_off_in_both(&app, &stripe, name, amount).await;
    }
    // A monthly gift: its checkout, and its first installment paid by invoice.
    let invoice_paid = {
        let mut invoice = first_invoice("in_monthly", "sub_monthly", "dana@example.org", 4_200);
        invoice["created"] = json!(Utc::now().timestamp());
        invoice["payments"] = invoice_payments("in_monthly", "pi_in_monthly", 4_200);
        invoice
    };
    stripe.add_invoice(invoice_paid.clone());
    stripe.add_charge(paid_charge("ch_in_monthly", "pi_in_monthly", 4_200, 0));
    app.deliver(&event(
        "evt_sub",
        "checkout.session.completed",
        subscription_session("cs_monthly", "sub_monthly", "dana@example.org", 4_200),
    ))
    .await;
    let response = app
        .deliver(&event("evt_inv", "invoice.paid", invoice_paid))
        .await;
    assert_eq!(response.status(), 200);

    let report = reconciliation(&app).await;

    assert_eq!(report["matches"], true, "{report}");
    assert_eq!(kinds(&report), Vec::<&str>::new());
    assert_eq!(report["chargesSeen"], 4);
    assert_eq!(report["invoicesSeen"], 1);
    assert_eq!(report["giftsSeen"], 4);
    // Four charges two to a page: the second request continues after the first.
    let charge_pages = stripe.list_requests("charges").await;
    assert_eq!(charge_pages.len(), 2, "{charge_pages:?}");
    assert!(
        charge_pages[1].contains("starting_after="),
        "{charge_pages:?}"
    );
    assert!(
        stripe.list_requests("invoices").await[0].contains("expand%5B%5D=data.payments"),
        "the invoices' payments must be asked for"
    );
}

async fn a_listing_stripe_rate_limits_once_is_asked_again_and_the_report_is_whole(
    backend: Backend,
) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    for (name, amount) in [("ana", 5_000), ("ben", 2_500), ("cy", 1_000)] {
        one_off_in_both(&app, &stripe, name, amount).await;
    }
    stripe.rate_limit_once("charges");

    let report = reconciliation(&app).await;

    assert_eq!(report["matches"], true, "{report}");
    assert_eq!(report["chargesSeen"], 3);
    // The refused first page, asked again after a short wait, then the second page.
    let charge_pages = stripe.list_requests("charges").await;
    assert_eq!(charge_pages.len(), 3, "{charge_pages:?}");
    assert_eq!(
        charge_pages[0], charge_pages[1],
        "the same page asked again"
    );
    assert!(
        charge_pages[2].contains("starting_after="),
        "{charge_pages:?}"
    );
}

/// The ids of a list page the fake answers, and whether it says there are more.
async fn fake_page(stripe: &FakeStripe, query: &str) -> (u16, Vec<String>, bool) {
    let response = reqwest::Client::new()
        .get(format!("{}/v1/charges?{query}", stripe.uri()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let ids = body["data"]
        .as_array()
        .map(|data| {
            data.iter()
                .filter_map(|o| o["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (status, ids, body["has_more"] == true)
}

async fn the_fake_lists_pages_both_ways_and_refuses_a_limit_stripe_refuses(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    for (name, amount) in [("ana", 5_000), ("ben", 2_500), ("cy", 1_000)] {
        one_off_in_both(&app, &stripe, name, amount).await;
    }

    let (_, first, more) = fake_page(&stripe, "limit=100").await;
    assert_eq!(first.len(), 2, "the fake's pages hold two");
    assert!(more);
    let (_, rest, more) =
        fake_page(&stripe, &format!("limit=100&starting_after={}", first[1])).await;
    assert_eq!(rest.len(), 1);
    assert!(!more);
    let (_, back, more) = fake_page(&stripe, &format!("limit=1&ending_before={}", rest[0])).await;
    assert_eq!(back, [first[1].clone()]);
    assert!(more, "the first charge is newer still");
    for limit in ["0", "101"] {
        let (status, _, _) = fake_page(&stripe, &format!("limit={limit}")).await;
        assert_eq!(status, 400, "limit={limit}");
    }
}

async fn a_charge_with_no_gift_is_reported_and_applying_records_it_once(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    one_off_in_both(&app, &stripe, "ana", 5_000).await;
    // Stripe took this one, but its webhook never arrived.
    one_off_at_stripe(&stripe, "lost", 2_500);

    let report = reconciliation(&app).await;

    assert_eq!(kinds(&report), vec!["GIFT_MISSING"], "{report}");
    let finding = &report["findings"][0];
    assert_eq!(finding["stripeObjectId"], "ch_lost");
    assert_eq!(finding["stripeAmount"]["amountMinor"], 2_500);
    assert_eq!(finding["repairable"], true);

    let applied = apply(&app).await;

    assert_eq!(applied["before"]["matches"], false);
    assert_eq!(applied["after"]["matches"], true, "{applied}");
    let outcome = applied["applied"][0]["outcome"]
        .as_str()
        .unwrap_or_default();
    assert!(outcome.starts_with("recorded"), "{applied}");
    let recorded = gifts(&app).await;
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1].amount_minor, 2_500);
    assert_eq!(recorded[1].status, GiftStatus::Succeeded);
    assert_eq!(
        recorded[1].stripe_checkout_session_id.as_deref(),
        Some("cs_lost")
    );
    assert_eq!(receipt::Entity::find().count(&app.db).await.unwrap(), 2);
    let synthetic = stripe_event::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_id == "reconcile:ch_lost")
        .count();
    assert_eq!(synthetic, 1);

    // Again, from the command line's path: nothing more is recorded.
    let config = cli_config(&app, &stripe);
    let policy = config.club_policy();
    let today = Utc::now().date_naive();
    let range = ReconcileRange::new(
        &config.org,
        today - Duration::days(1),
        today + Duration::days(1),
    )
    .unwrap();
    let run = reconcile_with_stripe(
        &app.db,
        &StripeClient::from_config(&config).unwrap(),
        range,
        Some(ApplySettings {
            org: &config.org,
            org_currency: config.org_currency,
            policy: &policy,
        }),
    )
    .await
    .unwrap();
    assert!(run.report.matches(), "{run}");
    assert!(run.applied.is_empty());
    assert_eq!(gifts(&app).await.len(), 2);
    assert_eq!(receipt::Entity::find().count(&app.db).await.unwrap(), 2);
    let second = apply(&app).await;
    assert_eq!(second["applied"], json!([]));
    assert_eq!(gifts(&app).await.len(), 2);
}

/// The configuration `api stripe reconcile` would run with against this test's server.
fn cli_config(app: &TestApp, stripe: &FakeStripe) -> Config {
    test_config(
        &app._database,
        &[
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_API_BASE", &stripe.uri()),
        ],
    )
}

async fn a_refund_stripe_has_that_the_books_lack_is_reported_and_recorded(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let session = payment_session("cs_ref", "ref@example.org", 5_000, true);
    app.deliver(&event("evt_ref", "checkout.session.completed", session))
        .await;
    stripe.add_charge(paid_charge("ch_ref", "pi_cs_ref", 5_000, 1_500));
    let mut refunded = refund("re_part", "ch_ref", 1_500);
    refunded["created"] = json!(Utc::now().timestamp());
    refunded["payment_intent"] = json!("pi_cs_ref");
    stripe.add_refund(refunded);

    let report = reconciliation(&app).await;

    assert_eq!(kinds(&report), vec!["REFUNDED_DIFFERS"], "{report}");
    let finding = &report["findings"][0];
    assert_eq!(finding["stripeObjectId"], "re_part");
    assert_eq!(finding["stripeAmount"]["amountMinor"], 1_500);
    assert_eq!(finding["booksAmount"]["amountMinor"], 0);
    assert_eq!(report["refundsSeen"], 1);

    let applied = apply(&app).await;

    assert_eq!(applied["after"]["matches"], true, "{applied}");
    let gift = &gifts(&app).await[0];
    assert_eq!(gift.refunded_minor, 1_500);
    assert_eq!(gift.status, GiftStatus::PartiallyRefunded);
    assert_eq!(apply(&app).await["applied"], json!([]));
}

async fn a_gift_whose_amount_differs_from_its_charge_is_reported(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let session = payment_session("cs_odd", "odd@example.org", 5_000, true);
    app.deliver(&event("evt_odd", "checkout.session.completed", session))
        .await;
    stripe.add_charge(paid_charge("ch_odd", "pi_cs_odd", 5_500, 0));

    let report = reconciliation(&app).await;

    assert_eq!(kinds(&report), vec!["AMOUNT_DIFFERS"], "{report}");
    let finding = &report["findings"][0];
    assert_eq!(finding["stripeAmount"]["amountMinor"], 5_500);
    assert_eq!(finding["booksAmount"]["amountMinor"], 5_000);
    assert_eq!(finding["repairable"], false);
    assert!(!finding["giftId"].is_null());
}

async fn a_dispute_the_books_lack_is_reported_and_recorded(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    one_off_in_both(&app, &stripe, "dis", 5_000).await;
    let mut disputed = paid_charge("ch_dis", "pi_cs_dis", 5_000, 0);
    disputed["disputed"] = json!(true);
    stripe.add_charge(disputed);
    let mut opened = dispute("dp_dis", "ch_dis", "pi_cs_dis", "needs_response");
    opened["created"] = json!(Utc::now().timestamp());
    opened["amount"] = json!(5_000);
    stripe.add_dispute(opened);

    let report = reconciliation(&app).await;

    assert_eq!(kinds(&report), vec!["STATUS_DIFFERS"], "{report}");
    assert_eq!(report["findings"][0]["stripeObjectId"], "dp_dis");
    assert_eq!(report["findings"][0]["booksStatus"], "succeeded");

    let applied = apply(&app).await;

    assert_eq!(applied["after"]["matches"], true, "{applied}");
    assert_eq!(gifts(&app).await[0].status, GiftStatus::Disputed);
    assert_eq!(apply(&app).await["applied"], json!([]));
}

async fn a_gift_stripe_does_not_show_is_reported(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let session = payment_session("cs_ghost", "ghost@example.org", 3_000, true);
    app.deliver(&event("evt_ghost", "checkout.session.completed", session))
        .await;

    let report = reconciliation(&app).await;

    assert_eq!(kinds(&report), vec!["NOT_AT_PROCESSOR"], "{report}");
    assert_eq!(report["findings"][0]["booksAmount"]["amountMinor"], 3_000);
}

async fn a_missing_installment_is_recorded_from_its_invoice_and_checkout(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    stripe.add_checkout_session(subscription_session(
        "cs_monthly",
        "sub_lost",
        "eva@example.org",
        4_200,
    ));
    stripe.add_subscription(subscription("sub_lost", "eva@example.org", 4_200, "active"));
    let mut invoice = first_invoice("in_lost", "sub_lost", "eva@example.org", 4_200);
    invoice["created"] = json!(Utc::now().timestamp());
    invoice["payments"] = invoice_payments("in_lost", "pi_in_lost", 4_200);
    stripe.add_invoice(invoice);
    stripe.add_charge(paid_charge("ch_in_lost", "pi_in_lost", 4_200, 0));

    let report = reconciliation(&app).await;
    // The invoice's charge is the same money: reported once, as the invoice.
    assert_eq!(kinds(&report), vec!["GIFT_MISSING"], "{report}");
    assert_eq!(report["findings"][0]["stripeObjectId"], "in_lost");

    let applied = apply(&app).await;

    assert_eq!(applied["after"]["matches"], true, "{applied}");
    let recorded = gifts(&app).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].stripe_invoice_id.as_deref(), Some("in_lost"));
    assert_eq!(
        recorded[0].stripe_payment_intent_id.as_deref(),
        Some("pi_in_lost")
    );
    assert!(recorded[0].pledge_id.is_some());
    assert_eq!(apply(&app).await["applied"], json!([]));
    assert_eq!(gifts(&app).await.len(), 1);
}

async fn a_payout_ties_its_gifts_with_fees_and_nets_to_the_cent(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    one_off_in_both(&app, &stripe, "ana", 5_000).await;
    one_off_in_both(&app, &stripe, "ben", 2_500).await;
    let arrival = Utc::now().timestamp();
    // $75.00 given, $2.78 in fees, $72.22 deposited.
    stripe.add_payout(payout("po_1", 7_222, arrival));
    stripe.add_balance_transaction(
        "po_1",
        balance_transaction("txn_ch_ana", "charge", "ch_ana", 5_000, 175),
    );
    stripe.add_balance_transaction(
        "po_1",
        balance_transaction("txn_ch_ben", "charge", "ch_ben", 2_500, 103),
    );
    stripe.add_balance_transaction(
        "po_1",
        balance_transaction("txn_po_1", "payout", "po_1", -7_222, 0),
    );

    let report = reconciliation(&app).await;

    assert_eq!(report["matches"], true, "{report}");
    let payout = &report["payouts"][0];
    assert_eq!(payout["payoutId"], "po_1");
    assert_eq!(payout["amount"]["amountMinor"], 7_222);
    assert_eq!(payout["gross"]["amountMinor"], 7_500);
    assert_eq!(payout["fees"]["amountMinor"], 278);
    assert_eq!(payout["net"]["amountMinor"], 7_222);
    assert_eq!(payout["balanced"], true);
    let books = gifts(&app).await;
    let lines = payout["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    let line_of = |source: &str| {
        lines
            .iter()
            .find(|l| l["sourceId"] == source)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(line_of("ch_ana")["giftId"], books[0].id.to_string());
    assert_eq!(line_of("ch_ana")["fee"]["amountMinor"], 175);
    assert_eq!(line_of("ch_ben")["giftId"], books[1].id.to_string());
    assert_eq!(line_of("ch_ben")["net"]["amountMinor"], 2_397);
    assert!(books.iter().all(|g| g.processor_fee_minor.is_none()));

    let applied = apply(&app).await;

    assert_eq!(applied["feesRecorded"], 2, "{applied}");
    let token = app.token(StaffRole::Viewer).await;
    let body = app
        .graphql(
            &token,
            "query($id: ID!) { gift(id: $id) { processorFee { amountMinor } netAfterFee { amountMinor formatted } } }",
            json!({ "id": books[0].id.to_string() }),
        )
        .await;
    let gift = &body["data"]["gift"];
    assert_eq!(gift["processorFee"]["amountMinor"], 175, "{body}");
    assert_eq!(gift["netAfterFee"]["amountMinor"], 4_825);
    assert_eq!(gift["netAfterFee"]["formatted"], "$48.25");
    assert_eq!(apply(&app).await["feesRecorded"], 0);
}

async fn reconciliation_is_for_staff_and_applying_for_admins(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let viewer = app.token(StaffRole::Viewer).await;
    let staff = app.token(StaffRole::Staff).await;

    let read = app.graphql(&viewer, RECONCILIATION, days()).await;
    let write = app.graphql(&staff, APPLY, days()).await;

    assert_eq!(tests::error_codes(&read), vec!["FORBIDDEN"]);
    assert_eq!(tests::error_codes(&write), vec!["FORBIDDEN"]);
}

on_both_backends!(
    a_listing_stripe_rate_limits_once_is_asked_again_and_the_report_is_whole,
    the_fake_lists_pages_both_ways_and_refuses_a_limit_stripe_refuses,
    books_that_match_stripe_report_nothing,
    a_charge_with_no_gift_is_reported_and_applying_records_it_once,
    a_refund_stripe_has_that_the_books_lack_is_reported_and_recorded,
    a_gift_whose_amount_differs_from_its_charge_is_reported,
    a_gift_stripe_does_not_show_is_reported,
    a_dispute_the_books_lack_is_reported_and_recorded,
    a_missing_installment_is_recorded_from_its_invoice_and_checkout,
    a_payout_ties_its_gifts_with_fees_and_nets_to_the_cent,
    reconciliation_is_for_staff_and_applying_for_admins,
);
