//! Single lookups for what staff handle, each `NOT_FOUND` when it does not exist, and
//! campaigns listed a page at a time.

use chrono::{NaiveDate, Utc};
use entity::enums::{PledgeFrequency, PledgeSource, PledgeStatus};
use entity::pledge;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;
use tests::on_both_backends;
use tests::support::{Backend, spawn_app};

use super::*;

async fn a_pledge_a_fund_and_a_receipt_are_found_by_id_or_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let viewer = app.token(entity::enums::StaffRole::Viewer).await;
    let staff = staff_token(&app).await;
    let donor = create_donor(&app, &staff, json!({ "displayName": "Ana" })).await;
    let now = Utc::now();
    let pledge = pledge::ActiveModel {
        donor_id: Set(donor),
        source: Set(PledgeSource::Envelope),
        installment_minor: Set(4_200),
        currency: Set("USD".into()),
        frequency: Set(PledgeFrequency::Monthly),
        starts_on: Set(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
        status: Set(PledgeStatus::Active),
        fund_id: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let found = ok(
        &app,
        &viewer,
        "query($id: ID!) { pledge(id: $id) { id status donor { displayName } } fund(id: \"1\") { id code } }",
        json!({ "id": pledge.id.to_string() }),
    )
    .await;
    assert_eq!(found["pledge"]["status"], "ACTIVE");
    assert_eq!(found["pledge"]["donor"]["displayName"], "Ana");
    assert_eq!(found["fund"]["id"], "1");
    for query in [
        "{ pledge(id: \"999999\") { id } }",
        "{ fund(id: \"999999\") { id } }",
        "{ campaign(id: \"999999\") { id } }",
        "{ appeal(id: \"999999\") { id } }",
        "{ donor(id: \"999999\") { id } }",
        "{ gift(id: \"999999\") { id } }",
        "{ tier(id: \"999999\") { id } }",
    ] {
        let (code, _) = fails(&app, &viewer, query, json!({})).await;
        assert_eq!(code, "NOT_FOUND", "{query}");
    }
    for query in [
        "{ receipt(number: \"2026-999999\") { number } }",
        "{ outboxMessage(id: \"999999\") { id } }",
        "{ stripeEvent(id: \"999999\") { id } }",
    ] {
        let (code, _) = fails(&app, &staff, query, json!({})).await;
        assert_eq!(code, "NOT_FOUND", "{query}");
    }
    let tier = ok(&app, &viewer, "{ tier(id: \"1\") { id name } }", json!({})).await;
    assert_eq!(tier["tier"]["id"], "1");
}

const CAMPAIGNS: &str = "query($after: String) { campaigns(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }";

async fn campaigns_are_listed_a_page_at_a_time_latest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    for (name, starts) in [
        ("Spring", "2026-03-01"),
        ("Fall", "2026-09-01"),
        ("Year end", "2026-11-15"),
    ] {
        ok(
            &app,
            &staff,
            "mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { id } }",
            json!({ "input": { "name": name, "goal": { "amountMinor": 100_000 }, "startsOn": starts, "defaultFundId": "1" } }),
        )
        .await;
    }
    let first = ok(&app, &staff, CAMPAIGNS, json!({})).await["campaigns"].clone();
    assert_eq!(first["totalCount"], 3);
    assert_eq!(
        first["edges"],
        json!([{ "node": { "name": "Year end" } }, { "node": { "name": "Fall" } }])
    );
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let second = ok(
        &app,
        &staff,
        CAMPAIGNS,
        json!({ "after": first["pageInfo"]["endCursor"] }),
    )
    .await["campaigns"]
        .clone();
    assert_eq!(second["edges"], json!([{ "node": { "name": "Spring" } }]));
    assert_eq!(second["pageInfo"]["hasNextPage"], false);
}

on_both_backends!(
    a_pledge_a_fund_and_a_receipt_are_found_by_id_or_not_found,
    campaigns_are_listed_a_page_at_a_time_latest_first,
);
