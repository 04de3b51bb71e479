//! Funds and giving-club tiers (admins), and the audit log.

use entity::{fund, giving_tier};
use sea_orm::EntityTrait;
use serde_json::json;
use tests::on_both_backends;
use tests::support::{Backend, spawn_app};

use super::*;

const CREATE_FUND: &str = "mutation($input: CreateFundInput!) { createFund(input: $input) { id name code restricted archivedAt } }";
const UPDATE_FUND: &str = "mutation($input: UpdateFundInput!) { updateFund(input: $input) { id name code description restricted } }";
const ARCHIVE_FUND: &str =
    "mutation($id: ID!) { archiveFund(input: { id: $id }) { id archivedAt } }";

async fn admins_create_rename_and_archive_funds(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin_token(&app).await;
    let staff = staff_token(&app).await;
    let created = ok(&app, &admin, CREATE_FUND, json!({ "input": { "name": "Santa Ana Deportation Defense Fund", "code": "santa-ana-ddf" } })).await["createFund"].clone();
    assert_eq!(created["code"], "SANTA-ANA-DDF");
    assert_eq!(created["restricted"], true);
    let id = created["id"].clone();
    let updated = ok(&app, &admin, UPDATE_FUND, json!({ "input": { "id": id, "description": "Defense for Santa Ana residents", "name": "Santa Ana Defense Fund" } })).await;
    assert_eq!(updated["updateFund"]["name"], "Santa Ana Defense Fund");
    let archived = ok(&app, &admin, ARCHIVE_FUND, json!({ "id": id })).await;
    assert!(archived["archiveFund"]["archivedAt"].is_string());
    // An archived fund takes no new gifts.
    let donor = create_donor(&app, &staff, json!({ "displayName": "Ana García" })).await;
    let (code, field) = fails(
        &app,
        &staff,
        RECORD_GIFT,
        json!({ "input": check_gift(donor, json!({ "fundId": id })) }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "fundId")
    );
    let listed = ok(
        &app,
        &staff,
        "{ open: funds { totalCount nodes { code } } all: funds(includeArchived: true) { totalCount nodes { code } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        listed["open"],
        json!({ "totalCount": 1, "nodes": [{ "code": "GENERAL" }] })
    );
    assert_eq!(listed["all"]["totalCount"], 2);
    assert_eq!(listed["all"]["nodes"].as_array().unwrap().len(), 2);
    let actions: Vec<String> = ["createFund", "updateFund", "archiveFund"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    for action in actions {
        assert_eq!(audit_entries(&app, &action).await.len(), 1, "{action}");
    }
}

async fn a_refused_fund_change_names_the_field_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin_token(&app).await;
    let id = ok(
        &app,
        &admin,
        CREATE_FUND,
        json!({ "input": { "name": "REPRESENT LA", "code": "REPRESENT-LA" } }),
    )
    .await["createFund"]["id"]
        .clone();
    for (input, code, field) in [
        (
            json!({ "name": " ", "code": "X" }),
            "BAD_USER_INPUT",
            "name",
        ),
        (
            json!({ "name": "X", "code": "has spaces" }),
            "BAD_USER_INPUT",
            "code",
        ),
        (
            json!({ "name": "REPRESENT LA", "code": "OTHER" }),
            "CONFLICT",
            "name",
        ),
        (
            json!({ "name": "Other", "code": "represent-la" }),
            "CONFLICT",
            "code",
        ),
    ] {
        let (got_code, got_field) =
            fails(&app, &admin, CREATE_FUND, json!({ "input": input })).await;
        assert_eq!(
            (got_code.as_str(), got_field.as_str()),
            (code, field),
            "{input}"
        );
    }
    for (vars, code, field) in [
        (
            json!({ "input": { "id": id, "name": "General Fund" } }),
            "CONFLICT",
            "name",
        ),
        (
            json!({ "input": { "id": id, "code": "GENERAL" } }),
            "CONFLICT",
            "code",
        ),
        (
            json!({ "input": { "id": id, "code": "" } }),
            "BAD_USER_INPUT",
            "code",
        ),
        (
            json!({ "input": { "id": "1", "code": "UNRESTRICTED" } }),
            "BAD_USER_INPUT",
            "code",
        ),
        (
            json!({ "input": { "id": "999", "name": "X" } }),
            "NOT_FOUND",
            "",
        ),
    ] {
        let (got_code, got_field) = fails(&app, &admin, UPDATE_FUND, vars.clone()).await;
        assert_eq!(
            (got_code.as_str(), got_field.as_str()),
            (code, field),
            "{vars}"
        );
    }
    for (target, code) in [("1", "CONFLICT"), ("999", "NOT_FOUND")] {
        let (got, _) = fails(&app, &admin, ARCHIVE_FUND, json!({ "id": target })).await;
        assert_eq!(got, code);
    }
    ok(&app, &admin, ARCHIVE_FUND, json!({ "id": id })).await;
    let (got, _) = fails(&app, &admin, ARCHIVE_FUND, json!({ "id": id })).await;
    assert_eq!(got, "CONFLICT");
    let funds = fund::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(funds.len(), 2);
    assert!(
        funds
            .iter()
            .any(|f| f.code == "REPRESENT-LA" && f.name == "REPRESENT LA")
    );
    assert!(
        funds
            .iter()
            .any(|f| f.code == "GENERAL" && f.archived_at.is_none())
    );
}

const CREATE_TIER: &str = "mutation($input: CreateTierInput!) { createTier(input: $input) { id name threshold { amountMinor formatted } benefitsValue { amountMinor } } }";
const UPDATE_TIER: &str = "mutation($input: UpdateTierInput!) { updateTier(input: $input) { id name threshold { amountMinor } benefits } }";

async fn admins_add_and_change_tiers(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin_token(&app).await;
    let created = ok(&app, &admin, CREATE_TIER, json!({ "input": { "name": "Defenders Circle", "threshold": { "amountMinor": 120_000 }, "benefits": "Annual briefing with our attorneys", "benefitsValue": { "amountMinor": 2_500 } } })).await["createTier"].clone();
    assert_eq!(created["threshold"]["formatted"], "$1,200.00");
    let updated = ok(
        &app,
        &admin,
        UPDATE_TIER,
        json!({ "input": { "id": "1", "threshold": { "amountMinor": 48_000 }, "benefits": null } }),
    )
    .await;
    assert_eq!(updated["updateTier"]["threshold"]["amountMinor"], 48_000);
    assert_eq!(updated["updateTier"]["benefits"], serde_json::Value::Null);
    let tiers = ok(&app, &admin, "{ tiers { nodes { name } } }", json!({})).await;
    assert_eq!(
        tiers["tiers"]["nodes"],
        json!([{ "name": "Circle of Friends" }, { "name": "Defenders Circle" }])
    );
    let entry = &audit_entries(&app, "updateTier").await[0];
    assert_eq!(
        entry.changes["thresholdMinor"],
        json!({ "from": 50_000, "to": 48_000 })
    );
    assert_eq!(audit_entries(&app, "createTier").await.len(), 1);
}

async fn a_refused_tier_change_names_the_field_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin_token(&app).await;
    for (input, code, field) in [
        (
            json!({ "name": " ", "threshold": { "amountMinor": 100 } }),
            "BAD_USER_INPUT",
            "name",
        ),
        (
            json!({ "name": "Circle of Friends", "threshold": { "amountMinor": 100 } }),
            "CONFLICT",
            "name",
        ),
        (
            json!({ "name": "X", "threshold": { "amountMinor": 0 } }),
            "BAD_USER_INPUT",
            "threshold",
        ),
        (
            json!({ "name": "X", "threshold": { "amountMinor": 100, "currency": "ABC" } }),
            "BAD_USER_INPUT",
            "threshold.currency",
        ),
        (
            json!({ "name": "X", "threshold": { "amountMinor": 100 }, "benefitsValue": { "amountMinor": 101 } }),
            "BAD_USER_INPUT",
            "benefitsValue",
        ),
        (
            json!({ "name": "X", "threshold": { "amountMinor": 100 }, "benefitsValue": { "amountMinor": -1 } }),
            "BAD_USER_INPUT",
            "benefitsValue",
        ),
    ] {
        let (got_code, got_field) =
            fails(&app, &admin, CREATE_TIER, json!({ "input": input })).await;
        assert_eq!(
            (got_code.as_str(), got_field.as_str()),
            (code, field),
            "{input}"
        );
    }
    for (vars, code, field) in [
        (
            json!({ "input": { "id": "1", "name": "" } }),
            "BAD_USER_INPUT",
            "name",
        ),
        (
            json!({ "input": { "id": "1", "threshold": { "amountMinor": -5 } } }),
            "BAD_USER_INPUT",
            "threshold",
        ),
        (
            json!({ "input": { "id": "1", "benefitsValue": { "amountMinor": 60_000 } } }),
            "BAD_USER_INPUT",
            "benefitsValue",
        ),
        (
            json!({ "input": { "id": "77", "name": "X" } }),
            "NOT_FOUND",
            "",
        ),
    ] {
        let (got_code, got_field) = fails(&app, &admin, UPDATE_TIER, vars.clone()).await;
        assert_eq!(
            (got_code.as_str(), got_field.as_str()),
            (code, field),
            "{vars}"
        );
    }
    let tiers = giving_tier::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(tiers.len(), 1);
    assert_eq!(
        (tiers[0].name.as_str(), tiers[0].threshold_minor),
        ("Circle of Friends", 50_000)
    );
}

const AUDIT: &str = "query($filter: AuditFilter) { auditLog(filter: $filter, first: 50) { totalCount edges { node { actor action entity entityId changes occurredAt } } } }";

async fn admins_read_the_audit_log_by_who_what_and_when(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin_token(&app).await;
    let maria = app
        .named_token(entity::enums::StaffRole::Staff, "maria-development")
        .await;
    let id = create_donor(
        &app,
        &maria,
        json!({ "displayName": "Weingart Foundation", "kind": "ORGANIZATION" }),
    )
    .await;
    record_gift(&app, &maria, check_gift(id, json!({}))).await;
    ok(
        &app,
        &admin,
        CREATE_FUND,
        json!({ "input": { "name": "REPRESENT LA", "code": "REPRESENT-LA" } }),
    )
    .await;

    let by_maria = ok(
        &app,
        &admin,
        AUDIT,
        json!({ "filter": { "actor": "maria-development" } }),
    )
    .await;
    assert_eq!(by_maria["auditLog"]["totalCount"], 2);
    let first = &by_maria["auditLog"]["edges"][0]["node"];
    assert_eq!(first["action"], "recordOfflineGift");
    assert_eq!(first["entity"], "gift");
    assert_eq!(first["changes"]["amountMinor"], 25_000);
    let donor_entries = ok(
        &app,
        &admin,
        AUDIT,
        json!({ "filter": { "entity": "donor", "entityId": id.to_string() } }),
    )
    .await;
    assert_eq!(donor_entries["auditLog"]["totalCount"], 1);
    let funds = ok(
        &app,
        &admin,
        AUDIT,
        json!({ "filter": { "action": "createFund" } }),
    )
    .await;
    assert_eq!(funds["auditLog"]["edges"][0]["node"]["actor"], "test-admin");
    let future = ok(
        &app,
        &admin,
        AUDIT,
        json!({ "filter": { "from": "2099-01-01T00:00:00Z" } }),
    )
    .await;
    assert_eq!(future["auditLog"]["totalCount"], 0);
    let past = ok(
        &app,
        &admin,
        AUDIT,
        json!({ "filter": { "to": "2099-01-01T00:00:00Z", "action": "createDonor" } }),
    )
    .await;
    assert_eq!(past["auditLog"]["totalCount"], 1);
}

on_both_backends!(
    admins_create_rename_and_archive_funds,
    a_refused_fund_change_names_the_field_and_changes_nothing,
    admins_add_and_change_tiers,
    a_refused_tier_change_names_the_field_and_changes_nothing,
    admins_read_the_audit_log_by_who_what_and_when,
);
