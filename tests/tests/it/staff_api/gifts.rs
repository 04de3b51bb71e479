//! Offline gifts: recording (once, whatever the retries), pledge installments,
//! corrections and refunds, and finding gifts with every filter.

use chrono::Utc;
use entity::enums::{GiftStatus, PaymentMethod};
use entity::{Money, gift, outbox, pledge, receipt};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use tests::on_both_backends;
use tests::support::{Backend, TestApp, spawn_app};

use super::*;

async fn a_check_from_a_reply_envelope_is_recorded_with_its_receipt(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    scomm_appeal(&app).await;
    let donor = create_donor(
        &app,
        &token,
        json!({ "displayName": "María López", "email": "maria@example.org" }),
    )
    .await;
    let recorded = record_gift(
        &app,
        &token,
        check_gift(donor, json!({
            "appealCode": "scomm11-letter",
            "tribute": { "kind": "IN_MEMORY_OF", "name": "Rosa López", "notifyEmail": "familia@example.org" },
            "benefits": { "value": { "amountMinor": 4_000 }, "description": "two gala tickets" },
        })),
    )
    .await;
    assert_eq!(recorded["alreadyRecorded"], false);
    let gift = &recorded["gift"];
    assert_eq!(
        gift["amount"],
        json!({ "amountMinor": 25_000, "currency": "USD", "formatted": "$250.00" })
    );
    assert_eq!(gift["status"], "SUCCEEDED");
    assert_eq!(gift["appealCode"], "SCOMM11-LETTER");
    assert_eq!(gift["campaignName"], "Fight Against S-Comm 2011");
    assert_eq!(gift["fund"]["code"], "GENERAL");
    assert_eq!(gift["tribute"]["kind"], "IN_MEMORY_OF");
    assert_eq!(gift["tribute"]["notifyEmail"], "familia@example.org");
    assert_eq!(gift["deductibleAmount"]["amountMinor"], 21_000);
    let receipts = receipt::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].deductible_minor, 21_000);
    // The receipt, and the notification to the family the tribute names.
    let mut queued: Vec<String> = outbox::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| format!("{} {}", m.kind, m.to_address))
        .collect();
    queued.sort();
    assert_eq!(
        queued,
        [
            "receipt maria@example.org",
            "tribute_notification familia@example.org"
        ]
    );
    let entries = audit_entries(&app, "recordOfflineGift").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].entity_id.as_deref(), gift["id"].as_str());
    assert_eq!(entries[0].changes["amountMinor"], 25_000);
}

async fn the_same_idempotency_key_twice_records_one_gift(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(
        &app,
        &token,
        json!({ "displayName": "José Núñez", "email": "jose@example.org" }),
    )
    .await;
    let input = check_gift(donor, json!({ "idempotencyKey": "batch-2026-03-14-0007" }));
    let first = record_gift(&app, &token, input.clone()).await;
    let second = record_gift(&app, &token, input.clone()).await;
    assert_eq!(first["alreadyRecorded"], false);
    assert_eq!(second["alreadyRecorded"], true);
    assert_eq!(first["gift"]["id"], second["gift"]["id"]);
    // Sent at the same moment, too.
    let (a, b) = tokio::join!(
        record_gift(&app, &token, input.clone()),
        record_gift(&app, &token, input)
    );
    assert_eq!(a["gift"]["id"], first["gift"]["id"]);
    assert_eq!(b["gift"]["id"], first["gift"]["id"]);
    assert_eq!(count(&app, gift::Entity).await, 1);
    assert_eq!(count(&app, receipt::Entity).await, 1);
    assert_eq!(audit_entries(&app, "recordOfflineGift").await.len(), 1);
    // The same key for a different gift is a conflict naming what differs.
    let other = check_gift(
        donor,
        json!({ "idempotencyKey": "batch-2026-03-14-0007", "amount": { "amountMinor": 999 } }),
    );
    let (code, field) = fails(&app, &token, RECORD_GIFT, json!({ "input": other })).await;
    assert_eq!((code.as_str(), field.as_str()), ("CONFLICT", "amount"));
    assert_eq!(count(&app, gift::Entity).await, 1);
}

async fn a_refused_offline_gift_names_the_field_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(
        &app,
        &token,
        json!({ "displayName": "Amal Haddad", "email": "amal@example.org" }),
    )
    .await;
    let other = create_donor(&app, &token, json!({ "displayName": "Nour Benali" })).await;
    let pledge = ok(&app, &token, "mutation($input: CreatePledgeInput!) { createPledge(input: $input) { id } }", json!({ "input": {
        "donorId": other.to_string(), "installment": { "amountMinor": 2_500 }, "frequency": "MONTHLY",
        "startsOn": Utc::now().date_naive().to_string(), "fundId": "1" } })).await["createPledge"]["id"].clone();
    let cases = [
        (json!({ "method": "CARD" }), "method"),
        (json!({ "checkNumber": null }), "checkNumber"),
        (json!({ "checkNumber": "  " }), "checkNumber"),
        (json!({ "amount": { "amountMinor": 0 } }), "amount"),
        (json!({ "amount": { "amountMinor": -500 } }), "amount"),
        (
            json!({ "amount": { "amountMinor": 100, "currency": "XYZ" } }),
            "amount.currency",
        ),
        (json!({ "fundId": "999" }), "fundId"),
        (json!({ "donorId": "999" }), "donorId"),
        (json!({ "donorId": "x" }), "donorId"),
        (json!({ "appealCode": "NOPE-2026" }), "appealCode"),
        (
            json!({ "benefits": { "value": { "amountMinor": 30_000 }, "description": "a trip" } }),
            "benefitsValue",
        ),
        (
            json!({ "benefits": { "value": { "amountMinor": 1_000 }, "description": " " } }),
            "benefitsDescription",
        ),
        (
            json!({ "tribute": { "kind": "IN_HONOR_OF", "name": " " } }),
            "tribute.name",
        ),
        (
            json!({ "receivedAt": "2099-01-01T00:00:00Z" }),
            "receivedAt",
        ),
        (json!({ "pledgeId": pledge }), "pledgeId"),
        (json!({ "pledgeId": "999" }), "pledgeId"),
    ];
    for (extra, field) in cases {
        let (code, got) = fails(
            &app,
            &token,
            RECORD_GIFT,
            json!({ "input": check_gift(donor, extra.clone()) }),
        )
        .await;
        assert_eq!(
            (code.as_str(), got.as_str()),
            ("BAD_USER_INPUT", field),
            "{extra}"
        );
    }
    assert_eq!(count(&app, gift::Entity).await, 0);
    assert_eq!(count(&app, receipt::Entity).await, 0);
    assert_eq!(count(&app, outbox::Entity).await, 0);
    assert!(audit_entries(&app, "recordOfflineGift").await.is_empty());
}

const CREATE_PLEDGE: &str = "mutation($input: CreatePledgeInput!) { createPledge(input: $input) { id status frequency installmentsTotal startsOn endsOn installment { amountMinor } annualPledgeTotal { amountMinor } } }";

async fn checks_paying_an_envelope_pledge_complete_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(&app, &token, json!({ "displayName": "Ana García" })).await;
    let pledge = ok(&app, &token, CREATE_PLEDGE, json!({ "input": {
        "donorId": donor.to_string(), "installment": { "amountMinor": 10_000 }, "frequency": "QUARTERLY",
        "startsOn": "2026-01-15", "installments": 2, "fundId": "1" } })).await["createPledge"].clone();
    assert_eq!(pledge["status"], "ACTIVE");
    assert_eq!(pledge["endsOn"], "2026-04-15");
    assert_eq!(pledge["annualPledgeTotal"]["amountMinor"], 20_000);
    let first = record_gift(
        &app,
        &token,
        check_gift(
            donor,
            json!({ "pledgeId": pledge["id"], "amount": { "amountMinor": 10_000 } }),
        ),
    )
    .await;
    assert_eq!(first["gift"]["pledge"]["status"], "ACTIVE");
    let second = record_gift(&app, &token, check_gift(donor, json!({ "pledgeId": pledge["id"], "amount": { "amountMinor": 10_000 }, "checkNumber": "1043" }))).await;
    assert_eq!(second["gift"]["pledge"]["status"], "COMPLETED");
    // A completed pledge takes no more installments.
    let (code, field) = fails(
        &app,
        &token,
        RECORD_GIFT,
        json!({ "input": check_gift(donor, json!({ "pledgeId": pledge["id"] })) }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "pledgeId")
    );
    let data = ok(&app, &token, "query($id: ID!) { pledges(filter: { donorId: $id }) { totalCount edges { node { status } } } }", json!({ "id": donor.to_string() })).await;
    assert_eq!(data["pledges"]["totalCount"], 1);
    assert_eq!(audit_entries(&app, "createPledge").await.len(), 1);
}

async fn a_refused_pledge_names_the_field_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(&app, &token, json!({ "displayName": "Luis Reyes" })).await;
    let base = |extra: Value| {
        let mut input = json!({ "donorId": donor.to_string(), "installment": { "amountMinor": 4_200 },
            "frequency": "MONTHLY", "startsOn": Utc::now().date_naive().to_string(), "fundId": "1" });
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        input
    };
    for (extra, field) in [
        (json!({ "installments": 0 }), "installments"),
        (json!({ "installments": 601 }), "installments"),
        (
            json!({ "installment": { "amountMinor": 0 } }),
            "installment",
        ),
        (json!({ "donorId": "424242" }), "donorId"),
        (json!({ "fundId": "424242" }), "fundId"),
        (json!({ "startsOn": "2001-01-01" }), "startsOn"),
        (json!({ "appealCode": "NOPE" }), "appealCode"),
    ] {
        let (code, got) = fails(
            &app,
            &token,
            CREATE_PLEDGE,
            json!({ "input": base(extra.clone()) }),
        )
        .await;
        assert_eq!(
            (code.as_str(), got.as_str()),
            ("BAD_USER_INPUT", field),
            "{extra}"
        );
    }
    assert_eq!(count(&app, pledge::Entity).await, 0);
}

const ADJUST: &str = "mutation($input: AdjustGiftInput!) { adjustGift(input: $input) { id amount { amountMinor } fund { code } checkNumber appealCode anonymous } }";
const REFUND: &str = "mutation($id: ID!, $amount: MoneyInput, $reason: String) { refundGift(input: { id: $id, amount: $amount, reason: $reason }) { gift { id status refunded { amountMinor } netAmount { amountMinor } } processorRefund { stripeRefundId } } }";

async fn staff_correct_and_refund_an_offline_gift(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let admin = admin_token(&app).await;
    scomm_appeal(&app).await;
    let fund = ok(&app, &admin, "mutation { createFund(input: { name: \"Santa Ana Deportation Defense Fund\", code: \"SANTA-ANA-DDF\" }) { id } }", json!({})).await["createFund"]["id"].clone();
    let donor = create_donor(&app, &token, json!({ "displayName": "Chloé Martin" })).await;
    let id = record_gift(&app, &token, check_gift(donor, json!({}))).await["gift"]["id"].clone();

    let adjusted = ok(&app, &token, ADJUST, json!({ "input": { "id": id,
        "amount": { "amountMinor": 30_000 }, "fundId": fund, "checkNumber": "2001", "appealCode": "Scomm11-Letter", "anonymous": true } })).await;
    assert_eq!(
        adjusted["adjustGift"],
        json!({ "id": id, "amount": { "amountMinor": 30_000 }, "fund": { "code": "SANTA-ANA-DDF" }, "checkNumber": "2001", "appealCode": "SCOMM11-LETTER", "anonymous": true })
    );
    let entry = &audit_entries(&app, "adjustGift").await[0];
    assert_eq!(
        entry.changes["amountMinor"],
        json!({ "from": 25_000, "to": 30_000 })
    );
    assert!(entry.changes.get("donorId").is_none());

    let partial = ok(
        &app,
        &token,
        REFUND,
        json!({ "id": id, "amount": { "amountMinor": 10_000 }, "reason": "donor asked" }),
    )
    .await;
    assert_eq!(
        partial["refundGift"]["gift"]["status"],
        "PARTIALLY_REFUNDED"
    );
    assert_eq!(
        partial["refundGift"]["gift"]["netAmount"]["amountMinor"],
        20_000
    );
    let (code, field) = fails(
        &app,
        &token,
        REFUND,
        json!({ "id": id, "amount": { "amountMinor": 20_001 } }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "amount")
    );
    let (code, field) = fails(
        &app,
        &token,
        ADJUST,
        json!({ "input": { "id": id, "amount": { "amountMinor": 5_000 } } }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "amount")
    );
    let full = ok(&app, &token, REFUND, json!({ "id": id })).await;
    assert_eq!(full["refundGift"]["gift"]["status"], "REFUNDED");
    assert_eq!(
        full["refundGift"]["gift"]["refunded"]["amountMinor"],
        30_000
    );
    let (code, _) = fails(&app, &token, REFUND, json!({ "id": id })).await;
    assert_eq!(code, "CONFLICT");
    assert_eq!(audit_entries(&app, "refundGift").await.len(), 2);
}

async fn valid_receipts(app: &TestApp) -> Vec<entity::receipt::Model> {
    entity::receipt::Entity::find()
        .filter(entity::receipt::Column::Status.eq(entity::enums::ReceiptStatus::Issued))
        .all(&app.db)
        .await
        .unwrap()
}

async fn corrections_and_refunds_keep_the_receipt_true(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(
        &app,
        &token,
        json!({ "displayName": "Chloé Martin", "email": "chloe@example.org" }),
    )
    .await;
    let id = record_gift(&app, &token, check_gift(donor, json!({}))).await["gift"]["id"].clone();
    let first = valid_receipts(&app).await.remove(0);
    assert_eq!(first.amount_minor, 25_000);

    // A change the receipt does not state leaves it alone.
    ok(
        &app,
        &token,
        ADJUST,
        json!({ "input": { "id": id, "anonymous": true } }),
    )
    .await;
    assert_eq!(valid_receipts(&app).await, vec![first.clone()]);

    // A corrected amount voids the receipt and issues one that points back.
    ok(
        &app,
        &token,
        ADJUST,
        json!({ "input": { "id": id, "amount": { "amountMinor": 30_000 } } }),
    )
    .await;
    let second = valid_receipts(&app).await.remove(0);
    assert_eq!(
        (second.amount_minor, second.replaces_receipt_id),
        (30_000, Some(first.id))
    );

    // A partial refund re-issues for the net gift; a full one leaves no valid receipt.
    ok(
        &app,
        &token,
        REFUND,
        json!({ "id": id, "amount": { "amountMinor": 10_000 } }),
    )
    .await;
    let third = valid_receipts(&app).await.remove(0);
    assert_eq!(
        (third.amount_minor, third.replaces_receipt_id),
        (20_000, Some(second.id))
    );
    ok(&app, &token, REFUND, json!({ "id": id })).await;
    assert!(valid_receipts(&app).await.is_empty());

    let mut sequences: Vec<i32> = entity::receipt::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.sequence)
        .collect();
    sequences.sort_unstable();
    assert_eq!(
        sequences,
        [1, 2, 3],
        "numbers stay gapless through corrections"
    );
    let voided_notices = entity::outbox::Entity::find()
        .filter(entity::outbox::Column::Kind.eq("receipt_voided"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(voided_notices, 3, "the donor hears of each voided receipt");
}

async fn a_refused_correction_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(&app, &token, json!({ "displayName": "David Kim" })).await;
    let id = record_gift(&app, &token, check_gift(donor, json!({}))).await["gift"]["id"].clone();
    for (input, code, field) in [
        (
            json!({ "amount": { "amountMinor": 0 } }),
            "BAD_USER_INPUT",
            "amount",
        ),
        (
            json!({ "amount": { "amountMinor": 100, "currency": "EUR" } }),
            "BAD_USER_INPUT",
            "amount.currency",
        ),
        (json!({ "fundId": "999" }), "BAD_USER_INPUT", "fundId"),
        (
            json!({ "checkNumber": null }),
            "BAD_USER_INPUT",
            "checkNumber",
        ),
        (
            json!({ "appealCode": "NOPE" }),
            "BAD_USER_INPUT",
            "appealCode",
        ),
        (
            json!({ "receivedAt": "2099-01-01T00:00:00Z" }),
            "BAD_USER_INPUT",
            "receivedAt",
        ),
        (
            json!({ "benefits": { "value": { "amountMinor": 99_999 }, "description": "a car" } }),
            "BAD_USER_INPUT",
            "benefitsValue",
        ),
    ] {
        let (got_code, got_field) = fails(
            &app,
            &token,
            ADJUST,
            json!({ "input": with_id(json!(id), &input) }),
        )
        .await;
        assert_eq!(
            (got_code.as_str(), got_field.as_str()),
            (code, field),
            "{input}"
        );
    }
    for (vars, code, field) in [
        (
            json!({ "id": id, "amount": { "amountMinor": 0 } }),
            "BAD_USER_INPUT",
            "amount",
        ),
        (
            json!({ "id": id, "amount": { "amountMinor": 100, "currency": "GBP" } }),
            "BAD_USER_INPUT",
            "amount.currency",
        ),
        (json!({ "id": "999" }), "NOT_FOUND", ""),
        (
            json!({ "id": id, "reason": "x".repeat(501) }),
            "BAD_USER_INPUT",
            "reason",
        ),
    ] {
        let (got_code, got_field) = fails(&app, &token, REFUND, vars).await;
        assert_eq!((got_code.as_str(), got_field.as_str()), (code, field));
    }
    let stored = gift::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(
        (stored.amount_minor, stored.refunded_minor, stored.status),
        (25_000, 0, GiftStatus::Succeeded)
    );
    assert!(audit_entries(&app, "adjustGift").await.is_empty());
    assert!(audit_entries(&app, "refundGift").await.is_empty());
}

async fn a_card_gift_is_changed_only_through_the_processor(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(
        &app,
        &token,
        json!({ "displayName": "Web Donor", "email": "web@example.org" }),
    )
    .await;
    let org = api::config::Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .org;
    let txn = api::db::begin_write(&app.db).await.unwrap();
    let mut card = api::domain::gifts::NewGift::new(
        donor,
        Money::usd(5_000).unwrap(),
        PaymentMethod::Card,
        GiftStatus::Succeeded,
        1,
        Utc::now(),
    );
    card.stripe_payment_intent_id = Some("pi_3PmHqk2eZvKYlo2C0abc".into());
    let card = api::domain::gifts::record_gift(&txn, &org, card)
        .await
        .unwrap()
        .gift;
    txn.commit().await.unwrap();
    // Adjusting a card gift is not something staff do by hand.
    let body = app
        .graphql(
            &token,
            ADJUST,
            json!({ "input": { "id": card.id.to_string(), "anonymous": true } }),
        )
        .await;
    assert_eq!(tests::support::error_codes(&body), ["CONFLICT"]);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("payment processor")
    );
    // Refunding one goes to the payment processor, which this server has no key for.
    let body = app
        .graphql(&token, REFUND, json!({ "id": card.id.to_string() }))
        .await;
    assert_eq!(tests::support::error_codes(&body), ["PAYMENT_FAILED"]);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("STRIPE_SECRET_KEY")
    );
    let stored = gift::Entity::find_by_id(card.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.status, stored.anonymous),
        (GiftStatus::Succeeded, false)
    );
}

const GIFT_IDS: &str = "query($filter: GiftFilter) { gifts(filter: $filter, first: 100) { totalCount edges { node { checkNumber } } } }";

async fn each_gift_filter_finds_the_right_gifts(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let admin = admin_token(&app).await;
    let (campaign, _) = scomm_appeal(&app).await;
    let fund = ok(
        &app,
        &admin,
        "mutation { createFund(input: { name: \"REPRESENT LA\", code: \"REPRESENT-LA\" }) { id } }",
        json!({}),
    )
    .await["createFund"]["id"]
        .clone();
    let donor = create_donor(&app, &token, json!({ "displayName": "María López" })).await;
    let other = create_donor(&app, &token, json!({ "displayName": "José Núñez" })).await;
    // 1: $25 check in January; 2: $100 cash to REPRESENT LA in February from the appeal;
    // 3: $500 wire in March from José, later refunded.
    record_gift(&app, &token, check_gift(donor, json!({ "checkNumber": "1", "amount": { "amountMinor": 2_500 }, "receivedAt": "2026-01-10T17:00:00Z" }))).await;
    record_gift(&app, &token, check_gift(donor, json!({ "checkNumber": "2", "method": "CASH", "fundId": fund, "appealCode": "SCOMM11-LETTER", "amount": { "amountMinor": 10_000 }, "receivedAt": "2026-02-10T17:00:00Z", "notes": "Matched 100% by Acme_Corp" }))).await;
    let wire = record_gift(&app, &token, check_gift(other, json!({ "checkNumber": "3", "method": "WIRE", "amount": { "amountMinor": 50_000 }, "receivedAt": "2026-03-10T17:00:00Z" }))).await;
    ok(&app, &token, REFUND, json!({ "id": wire["gift"]["id"] })).await;

    for (filter, expected) in [
        (json!({}), vec!["3", "2", "1"]),
        (
            json!({ "receivedFrom": "2026-02-01T00:00:00Z" }),
            vec!["3", "2"],
        ),
        (json!({ "receivedTo": "2026-02-01T00:00:00Z" }), vec!["1"]),
        (
            json!({ "receivedFrom": "2026-02-01T00:00:00Z", "receivedTo": "2026-03-01T00:00:00Z" }),
            vec!["2"],
        ),
        (json!({ "fundId": fund }), vec!["2"]),
        (json!({ "campaignId": campaign.to_string() }), vec!["2"]),
        (json!({ "appealCode": "scomm11-letter" }), vec!["2"]),
        (json!({ "appealCode": "UNKNOWN" }), vec![]),
        (json!({ "methods": ["CHECK", "WIRE"] }), vec!["3", "1"]),
        (json!({ "statuses": ["REFUNDED"] }), vec!["3"]),
        (json!({ "statuses": ["SUCCEEDED"] }), vec!["2", "1"]),
        (
            json!({ "amountMin": { "amountMinor": 10_000 } }),
            vec!["3", "2"],
        ),
        (json!({ "search": "3" }), vec!["3"]),
        (json!({ "search": " acme_corp " }), vec!["2"]),
        (json!({ "search": "100%" }), vec!["2"]),
        (json!({ "search": "acme%" }), vec![]),
        (
            json!({ "amountMax": { "amountMinor": 10_000 } }),
            vec!["2", "1"],
        ),
        (json!({ "donorId": other.to_string() }), vec!["3"]),
    ] {
        let data = ok(&app, &token, GIFT_IDS, json!({ "filter": filter })).await;
        let got: Vec<&str> = data["gifts"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["checkNumber"].as_str().unwrap())
            .collect();
        assert_eq!(got, expected, "{filter}");
        assert_eq!(
            data["gifts"]["totalCount"].as_u64().unwrap() as usize,
            expected.len()
        );
    }
    // Viewers cannot read notes, so their search does not look in them.
    let viewer = app.token(entity::enums::StaffRole::Viewer).await;
    let data = ok(
        &app,
        &viewer,
        GIFT_IDS,
        json!({ "filter": { "search": "acme" } }),
    )
    .await;
    assert_eq!(data["gifts"]["totalCount"], 0);
}

/// A gift list's searched texts (a check number or words of the notes, an appeal's
/// source code) are one line of at most 200 characters, or refused by name, in the list
/// and in the gifts' export alike.
async fn a_searched_gift_text_too_long_or_of_several_lines_is_refused_by_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let data = ok(
        &app,
        &token,
        GIFT_IDS,
        json!({ "filter": { "search": "ز".repeat(200), "appealCode": "x".repeat(200) } }),
    )
    .await;
    assert_eq!(data["gifts"]["totalCount"], 0);
    let export = "mutation($filter: GiftFilter) { exportGifts(filter: $filter) { url } }";
    for field in ["search", "appealCode"] {
        for text in ["ز".repeat(201), "1".repeat(100_000), "1\r\n2".to_owned()] {
            for query in [GIFT_IDS, export] {
                let (code, named) =
                    fails(&app, &token, query, json!({ "filter": { field: text } })).await;
                assert_eq!(
                    (code.as_str(), named.as_str()),
                    ("BAD_USER_INPUT", format!("filter.{field}").as_str()),
                    "{query}"
                );
            }
        }
    }
}

const PLEDGE_INSTALLMENTS: &str = "query($filter: PledgeFilter, $last: Int) { pledges(filter: $filter, last: $last) { totalCount edges { node { installment { amountMinor } } } } }";

async fn each_pledge_filter_finds_the_right_pledges(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let admin = admin_token(&app).await;
    let fund = ok(
        &app,
        &admin,
        "mutation { createFund(input: { name: \"REPRESENT LA\", code: \"REPRESENT-LA\" }) { id } }",
        json!({}),
    )
    .await["createFund"]["id"]
        .clone();
    let donor = create_donor(&app, &token, json!({ "displayName": "Ana García" })).await;
    let other = create_donor(&app, &token, json!({ "displayName": "Luis Reyes" })).await;
    let start = Utc::now().date_naive().to_string();
    for (who, amount, frequency, fund_id) in [
        (donor, 1_000, "MONTHLY", json!("1")),
        (donor, 2_000, "QUARTERLY", fund.clone()),
        (other, 3_000, "YEARLY", json!("1")),
    ] {
        ok(
            &app,
            &token,
            CREATE_PLEDGE,
            json!({ "input": { "donorId": who.to_string(), "installment": { "amountMinor": amount },
            "frequency": frequency, "startsOn": start, "fundId": fund_id } }),
        )
        .await;
    }
    // A club membership paid by card, cancelled.
    pledge::ActiveModel {
        donor_id: Set(other),
        source: Set(entity::enums::PledgeSource::StripeSubscription),
        installment_minor: Set(4_000),
        currency: Set("USD".into()),
        frequency: Set(entity::enums::PledgeFrequency::Monthly),
        starts_on: Set(Utc::now().date_naive()),
        status: Set(entity::enums::PledgeStatus::Cancelled),
        fund_id: Set(1),
        stripe_subscription_id: Set(Some("sub_1PmHqk2eZvKYlo2C".into())),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    for (filter, expected) in [
        (json!({}), vec![4_000, 3_000, 2_000, 1_000]),
        (json!({ "donorId": donor.to_string() }), vec![2_000, 1_000]),
        (json!({ "statuses": ["ACTIVE"] }), vec![3_000, 2_000, 1_000]),
        (
            json!({ "statuses": ["CANCELLED", "COMPLETED"] }),
            vec![4_000],
        ),
        (json!({ "source": "STRIPE_SUBSCRIPTION" }), vec![4_000]),
        (json!({ "source": "ENVELOPE" }), vec![3_000, 2_000, 1_000]),
        (json!({ "fundId": fund }), vec![2_000]),
        (json!({ "frequency": "YEARLY" }), vec![3_000]),
        (
            json!({ "installmentMin": { "amountMinor": 2_000 }, "installmentMax": { "amountMinor": 3_000 } }),
            vec![3_000, 2_000],
        ),
        (
            json!({ "startsFrom": start }),
            vec![4_000, 3_000, 2_000, 1_000],
        ),
        (json!({ "startsTo": "2000-01-01" }), vec![]),
        (json!({ "appealId": "1" }), vec![]),
    ] {
        let data = ok(
            &app,
            &token,
            PLEDGE_INSTALLMENTS,
            json!({ "filter": filter }),
        )
        .await;
        let got: Vec<i64> = data["pledges"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["installment"]["amountMinor"].as_i64().unwrap())
            .collect();
        assert_eq!(got, expected, "{filter}");
    }
    // The last two, counted from the end.
    let data = ok(&app, &token, PLEDGE_INSTALLMENTS, json!({ "last": 2 })).await;
    assert_eq!(data["pledges"]["totalCount"], 4);
    assert_eq!(data["pledges"]["edges"].as_array().unwrap().len(), 2);
    assert_eq!(
        data["pledges"]["edges"][1]["node"]["installment"]["amountMinor"],
        1_000
    );
}

const GIFT_PAGE: &str = "query($first: Int, $last: Int, $after: String, $before: String, $order: GiftOrderBy) { gifts(first: $first, last: $last, after: $after, before: $before, orderBy: $order) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { checkNumber } } } }";

fn check_numbers(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["checkNumber"].as_str().unwrap().to_owned())
        .collect()
}

/// Gifts are paged by key: a gift recorded between two pages neither repeats a gift
/// nor hides one from the pages still to come, every order pages both ways, and a
/// cursor is refused in an order it was not taken in.
async fn gifts_page_by_key_in_each_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let donor = create_donor(&app, &staff, json!({ "displayName": "Ana" })).await;
    // Check n arrives on March n with n × $10, but check 3 is the largest.
    for (n, amount) in [(1, 1_000), (2, 2_000), (3, 9_000), (4, 4_000), (5, 5_000)] {
        record_gift(
            &app,
            &staff,
            check_gift(
                donor,
                json!({ "checkNumber": format!("{n}"), "amount": { "amountMinor": amount },
                        "receivedAt": format!("2026-03-0{n}T18:00:00Z") }),
            ),
        )
        .await;
    }
    let page = |vars: Value| {
        let app = &app;
        let staff = &staff;
        async move { ok(app, staff, GIFT_PAGE, vars).await["gifts"].clone() }
    };

    let first = page(json!({ "first": 2 })).await;
    assert_eq!(check_numbers(&first), ["5", "4"]);
    assert_eq!(first["totalCount"], 5);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    // A newer gift arrives between the pages: with positions, check 4 would come again.
    record_gift(
        &app,
        &staff,
        check_gift(
            donor,
            json!({ "checkNumber": "6", "receivedAt": "2026-03-09T18:00:00Z" }),
        ),
    )
    .await;
    let second = page(json!({ "first": 2, "after": first["pageInfo"]["endCursor"] })).await;
    assert_eq!(check_numbers(&second), ["3", "2"]);
    assert_eq!(second["totalCount"], 6);
    assert_eq!(second["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(second["pageInfo"]["hasNextPage"], true);
    let third = page(json!({ "first": 2, "after": second["pageInfo"]["endCursor"] })).await;
    assert_eq!(check_numbers(&third), ["1"]);
    assert_eq!(third["pageInfo"]["hasNextPage"], false);
    // Backwards from the second page's start: the newest two.
    let back = page(json!({ "last": 2, "before": second["pageInfo"]["startCursor"] })).await;
    assert_eq!(check_numbers(&back), ["5", "4"]);
    assert_eq!(
        back["pageInfo"]["hasPreviousPage"], true,
        "check 6 is before them"
    );
    assert_eq!(back["pageInfo"]["hasNextPage"], true);

    let largest = json!({ "field": "AMOUNT" });
    let by_amount = page(json!({ "first": 3, "order": largest })).await;
    assert_eq!(
        check_numbers(&by_amount),
        ["6", "3", "5"],
        "check 6 is $250"
    );
    let smallest = json!({ "field": "AMOUNT", "direction": "ASC" });
    let cheapest = page(json!({ "last": 2, "order": smallest })).await;
    assert_eq!(check_numbers(&cheapest), ["3", "6"]);
    let oldest = json!({ "field": "RECEIVED_AT", "direction": "ASC" });
    let from_the_start = page(json!({ "first": 2, "order": oldest })).await;
    assert_eq!(check_numbers(&from_the_start), ["1", "2"]);

    // A cursor taken newest first means nothing by amount, nor does a made-up one.
    for (order, cursor) in [
        (largest.clone(), first["pageInfo"]["endCursor"].clone()),
        (largest, json!("5")),
        (oldest, json!("not a cursor")),
    ] {
        let (code, field) = fails(
            &app,
            &staff,
            GIFT_PAGE,
            json!({ "first": 2, "after": cursor, "order": order }),
        )
        .await;
        assert_eq!((code.as_str(), field.as_str()), ("BAD_USER_INPUT", "after"));
    }
}

on_both_backends!(
    a_searched_gift_text_too_long_or_of_several_lines_is_refused_by_name,
    a_check_from_a_reply_envelope_is_recorded_with_its_receipt,
    the_same_idempotency_key_twice_records_one_gift,
    a_refused_offline_gift_names_the_field_and_changes_nothing,
    checks_paying_an_envelope_pledge_complete_it,
    a_refused_pledge_names_the_field_and_changes_nothing,
    staff_correct_and_refund_an_offline_gift,
    a_refused_correction_changes_nothing,
    a_card_gift_is_changed_only_through_the_processor,
    corrections_and_refunds_keep_the_receipt_true,
    each_gift_filter_finds_the_right_gifts,
    each_pledge_filter_finds_the_right_pledges,
    gifts_page_by_key_in_each_order,
);
