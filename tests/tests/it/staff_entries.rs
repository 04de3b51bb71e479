//! What staff type in: every amount in the organization's one currency, and an
//! idempotency key that means the same request.

use entity::gift;
use serde_json::{Value, json};

use crate::staff_api::{
    RECORD_GIFT, admin_token, check_gift, count, create_donor, fails, ok, record_gift, staff_token,
};
use tests::on_both_backends;
use tests::support::{Backend, spawn_app, spawn_app_with};

const CREATE_PLEDGE: &str = "mutation($input: CreatePledgeInput!) { createPledge(input: $input) { id installment { currency } } }";

fn pledge_input(donor: i64, installment: Value) -> Value {
    json!({ "input": {
        "donorId": donor.to_string(),
        "installment": installment,
        "frequency": "MONTHLY",
        "startsOn": chrono::Utc::now().date_naive().to_string(),
        "fundId": "1",
    } })
}

async fn a_ten_euro_cash_gift_is_refused_and_nothing_is_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(&app, &token, json!({ "displayName": "Léa Martin" })).await;

    let euros = check_gift(
        donor,
        json!({ "method": "CASH", "checkNumber": null, "amount": { "amountMinor": 1_000, "currency": "EUR" } }),
    );
    let refused = fails(&app, &token, RECORD_GIFT, json!({ "input": euros })).await;
    assert_eq!(
        refused,
        ("BAD_USER_INPUT".to_owned(), "amount.currency".to_owned())
    );
    let pledge = fails(
        &app,
        &token,
        CREATE_PLEDGE,
        pledge_input(donor, json!({ "amountMinor": 4_200, "currency": "CAD" })),
    )
    .await;
    assert_eq!(
        pledge,
        (
            "BAD_USER_INPUT".to_owned(),
            "installment.currency".to_owned()
        )
    );
    assert_eq!(count(&app, gift::Entity).await, 0);
    assert_eq!(count(&app, entity::pledge::Entity).await, 0);
}

async fn an_organization_that_counts_in_canadian_dollars_takes_them_by_default(backend: Backend) {
    let app = spawn_app_with(backend, &[("ORG_CURRENCY", "CAD")]).await;
    let token = staff_token(&app).await;
    let donor = create_donor(&app, &token, json!({ "displayName": "Élise Tremblay" })).await;

    let mut input = check_gift(donor, json!({}));
    input["amount"] = json!({ "amountMinor": 5_000 });
    let recorded = record_gift(&app, &token, input).await;
    assert_eq!(recorded["gift"]["amount"]["currency"], "CAD");
    let created = ok(
        &app,
        &token,
        CREATE_PLEDGE,
        pledge_input(donor, json!({ "amountMinor": 4_200 })),
    )
    .await;
    assert_eq!(created["createPledge"]["installment"]["currency"], "CAD");
    let usd = check_gift(donor, json!({}));
    let refused = fails(&app, &token, RECORD_GIFT, json!({ "input": usd })).await;
    assert_eq!(refused.1, "amount.currency");
    assert_eq!(count(&app, gift::Entity).await, 1);
}

async fn a_replayed_gift_with_another_fund_is_a_conflict_naming_the_fund(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(&app, &token, json!({ "displayName": "Sara Haddad" })).await;
    let admin = admin_token(&app).await;
    let fund = ok(
        &app,
        &admin,
        "mutation { createFund(input: { code: \"REPRESENT\", name: \"REPRESENT LA\" }) { id } }",
        json!({}),
    )
    .await["createFund"]["id"]
        .clone();
    let first = check_gift(donor, json!({ "idempotencyKey": "envelope-0042" }));
    let recorded = record_gift(&app, &token, first.clone()).await;
    assert_eq!(recorded["alreadyRecorded"], false);

    for (change, field) in [
        (json!({ "fundId": fund }), "fundId"),
        (json!({ "checkNumber": "1043" }), "checkNumber"),
        (
            json!({ "receivedAt": "2026-03-15T18:00:00Z" }),
            "receivedAt",
        ),
        (json!({ "anonymous": true }), "anonymous"),
        (json!({ "notes": "second envelope" }), "notes"),
    ] {
        let mut replay = first.clone();
        for (key, value) in change.as_object().unwrap() {
            replay[key] = value.clone();
        }
        let refused = fails(&app, &token, RECORD_GIFT, json!({ "input": replay })).await;
        assert_eq!(refused, ("CONFLICT".to_owned(), field.to_owned()));
    }

    let replayed = record_gift(&app, &token, first).await;
    assert_eq!(replayed["alreadyRecorded"], true);
    assert_eq!(replayed["gift"]["id"], recorded["gift"]["id"]);
    assert_eq!(replayed["gift"]["fund"]["code"], "GENERAL");
    assert_eq!(count(&app, gift::Entity).await, 1);
}

on_both_backends!(
    a_replayed_gift_with_another_fund_is_a_conflict_naming_the_fund,
    a_ten_euro_cash_gift_is_refused_and_nothing_is_recorded,
    an_organization_that_counts_in_canadian_dollars_takes_them_by_default,
);
