//! The donation page keeps its funds, Circle and appeals in memory for a few seconds: a
//! change staff make through this server shows at once, and one made by another process
//! sharing the database shows within the cache's lifetime (`READ_CACHE_SECS`).

use chrono::Utc;
use entity::fund;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;

use crate::staff_api::{admin_token, ok};
use tests::on_both_backends;
use tests::support::{Backend, TestApp, spawn_app_with};

async fn donate_page(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// What another process sharing the database (an import, the command line) does: it
/// sends this server no word of it.
async fn add_fund_elsewhere(app: &TestApp, code: &str, name: &str) {
    let now = Utc::now();
    fund::ActiveModel {
        name: Set(name.to_owned()),
        code: Set(code.to_owned()),
        restricted: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
}

async fn a_fund_staff_add_is_offered_at_once(backend: Backend) {
    // A lifetime far longer than the test: only the change itself can refresh the page.
    let app = spawn_app_with(backend, &[("READ_CACHE_SECS", "60")]).await;
    let admin = admin_token(&app).await;
    let before = donate_page(&app, "/donate").await;
    assert!(!before.contains("Bond Fund"), "{before}");

    ok(
        &app,
        &admin,
        "mutation { createFund(input: { code: \"BOND\", name: \"Bond Fund\" }) { id } }",
        json!({}),
    )
    .await;

    let after = donate_page(&app, "/donate").await;
    assert!(after.contains("Bond Fund"), "{after}");
}

async fn an_appeal_created_after_its_link_was_opened_is_named_at_once(backend: Backend) {
    let app = spawn_app_with(backend, &[("READ_CACHE_SECS", "60")]).await;
    let admin = admin_token(&app).await;
    let early = donate_page(&app, "/donate?appeal=WINTER-26").await;
    assert!(!early.contains("Winter Drive"), "{early}");

    let campaign = ok(
        &app,
        &admin,
        "mutation { createCampaign(input: { name: \"Winter Drive\", goal: { amountMinor: 500000 }, startsOn: \"2026-01-01\", defaultFundId: \"1\" }) { id } }",
        json!({}),
    )
    .await["createCampaign"]["id"]
        .clone();
    ok(
        &app,
        &admin,
        "mutation($input: CreateAppealInput!) { createAppeal(input: $input) { id } }",
        json!({ "input": {
            "campaignId": campaign, "name": "Winter email", "channel": "EMAIL",
            "sourceCode": "WINTER-26", "subject": "s", "message": "m",
        } }),
    )
    .await;

    let named = donate_page(&app, "/donate?appeal=WINTER-26").await;
    assert!(named.contains("Winter Drive"), "{named}");
}

/// Within a lifetime a change made elsewhere is not seen: that bound is a unit test of
/// `read_cache` with the clock passed in.
async fn a_fund_added_by_another_process_is_offered_within_the_cache_lifetime(backend: Backend) {
    // With no lifetime, every page reads the database.
    let app = spawn_app_with(backend, &[("READ_CACHE_SECS", "0")]).await;
    donate_page(&app, "/donate").await;
    add_fund_elsewhere(&app, "BOND", "Bond Fund").await;
    let page = donate_page(&app, "/donate").await;
    assert!(page.contains("Bond Fund"), "{page}");
}

on_both_backends!(
    a_fund_staff_add_is_offered_at_once,
    an_appeal_created_after_its_link_was_opened_is_named_at_once,
    a_fund_added_by_another_process_is_offered_within_the_cache_lifetime,
);
