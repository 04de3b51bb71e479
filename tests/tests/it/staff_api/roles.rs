//! Roles: viewers read aggregates and gifts with contact details masked; staff read and
//! write donors, gifts and pledges; admins also manage funds, tiers and tokens. A role
//! too low gets FORBIDDEN, no data, and changes nothing.

use entity::audit_log;
use entity::enums::StaffRole;
use serde_json::{Value, json};
use tests::on_both_backends;
use tests::support::{Backend, TestApp, error_codes, spawn_app};

use super::*;

/// A fresh target for one attempt of `mutation`, made with an admin token, and the
/// request that attempts it.
async fn attempt(app: &TestApp, admin: &str, mutation: &str, n: usize) -> (String, Value) {
    let donor = create_donor(
        app,
        admin,
        json!({ "displayName": format!("Donor {mutation} {n}") }),
    )
    .await;
    let gift = record_gift(
        app,
        admin,
        check_gift(donor, json!({ "checkNumber": format!("{n}") })),
    )
    .await["gift"]["id"]
        .clone();
    let fund = ok(app, admin, "mutation($input: CreateFundInput!) { createFund(input: $input) { id } }",
        json!({ "input": { "name": format!("Fund {mutation} {n}"), "code": format!("F-{n}-{}", mutation.len()) } })).await["createFund"]["id"].clone();
    let token = ok(
        app,
        admin,
        "mutation($name: String!) { createToken(input: { name: $name, role: VIEWER }) { token { id } } }",
        json!({ "name": format!("token {mutation} {n}") }),
    )
    .await["createToken"]["token"]["id"]
        .clone();
    let name = format!("{mutation} by attempt {n}");
    let (query, vars) = match mutation {
        "createDonor" => (CREATE_DONOR, json!({ "input": { "displayName": name } })),
        "updateDonor" => (
            "mutation($id: ID!) { updateDonor(input: { id: $id, anonymous: true }) { id } }",
            json!({ "id": donor.to_string() }),
        ),
        "recordOfflineGift" => (
            RECORD_GIFT,
            json!({ "input": check_gift(donor, json!({})) }),
        ),
        "adjustGift" => (
            "mutation($id: ID!) { adjustGift(input: { id: $id, checkNumber: \"9999\" }) { id } }",
            json!({ "id": gift }),
        ),
        "refundGift" => (
            "mutation($id: ID!) { refundGift(input: { id: $id, amount: { amountMinor: 100 } }) { gift { id } } }",
            json!({ "id": gift }),
        ),
        "createPledge" => (
            "mutation($donor: ID!) { createPledge(input: { donorId: $donor, installment: { amountMinor: 4200 }, frequency: MONTHLY, startsOn: \"2026-12-01\", fundId: \"1\" }) { id } }",
            json!({ "donor": donor.to_string() }),
        ),
        "createFund" => (
            "mutation($name: String!) { createFund(input: { name: $name, code: \"NEW-FUND\" }) { id } }",
            json!({ "name": name }),
        ),
        "updateFund" => (
            "mutation($id: ID!) { updateFund(input: { id: $id, restricted: false }) { id } }",
            json!({ "id": fund }),
        ),
        "archiveFund" => (
            "mutation($id: ID!) { archiveFund(input: { id: $id }) { id } }",
            json!({ "id": fund }),
        ),
        "createTier" => (
            "mutation($name: String!) { createTier(input: { name: $name, threshold: { amountMinor: 100000 } }) { id } }",
            json!({ "name": name }),
        ),
        "updateTier" => (
            "mutation($n: Int!) { updateTier(input: { id: \"1\", benefitsValue: { amountMinor: $n } }) { id } }",
            json!({ "n": n }),
        ),
        "createToken" => (
            "mutation($name: String!) { createToken(input: { name: $name, role: STAFF }) { secret } }",
            json!({ "name": name }),
        ),
        "revokeToken" => (
            "mutation($id: ID!) { revokeToken(input: { id: $id }) { id } }",
            json!({ "id": token }),
        ),
        other => panic!("no attempt for {other}"),
    };
    (query.to_owned(), vars)
}

async fn every_role_against_every_mutation(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin_token(&app).await;
    let tokens = [
        (StaffRole::Viewer, app.token(StaffRole::Viewer).await),
        (StaffRole::Staff, app.token(StaffRole::Staff).await),
        (StaffRole::Admin, admin.clone()),
    ];
    let mutations = [
        ("createDonor", StaffRole::Staff),
        ("updateDonor", StaffRole::Staff),
        ("recordOfflineGift", StaffRole::Staff),
        ("adjustGift", StaffRole::Staff),
        ("refundGift", StaffRole::Staff),
        ("createPledge", StaffRole::Staff),
        ("createFund", StaffRole::Admin),
        ("updateFund", StaffRole::Admin),
        ("archiveFund", StaffRole::Admin),
        ("createTier", StaffRole::Admin),
        ("updateTier", StaffRole::Admin),
        ("createToken", StaffRole::Admin),
        ("revokeToken", StaffRole::Admin),
    ];
    let mut n = 0;
    for (mutation, needed) in mutations {
        for (role, token) in &tokens {
            n += 1;
            let (query, vars) = attempt(&app, &admin, mutation, n).await;
            let entries_before = count(&app, audit_log::Entity).await;
            let body = app.graphql(token, &query, vars).await;
            if role.allows(needed) {
                assert!(body.get("errors").is_none(), "{role} {mutation}: {body}");
                assert!(!body["data"][mutation].is_null());
                assert_eq!(
                    count(&app, audit_log::Entity).await,
                    entries_before + 1,
                    "{role} {mutation}"
                );
            } else {
                assert_eq!(
                    error_codes(&body),
                    ["FORBIDDEN"],
                    "{role} {mutation}: {body}"
                );
                assert_eq!(body["data"], Value::Null, "{role} {mutation}");
                assert_eq!(
                    count(&app, audit_log::Entity).await,
                    entries_before,
                    "{role} {mutation}"
                );
            }
        }
    }
}

async fn viewers_see_gifts_and_totals_but_masked_contact_details(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let viewer = app.token(StaffRole::Viewer).await;
    let id = create_donor(&app, &staff, json!({ "displayName": "María López", "email": "maria@example.org", "phone": "+1 714 555 0100",
        "address": { "line1": "1 Main St", "postalCode": "92701" }, "notes": "prefers Spanish calls" })).await;
    record_gift(&app, &staff, check_gift(id, json!({ "tribute": { "kind": "IN_HONOR_OF", "name": "Rosa", "notifyEmail": "rosa@example.org" } }))).await;
    let query = "query($id: ID!) { donor(id: $id) { displayName email phone addressLine1 postalCode lifetimeGiving { amountMinor }
        recentGifts { amount { amountMinor } tribute { notifyEmail } } } }";
    let seen = ok(&app, &viewer, query, json!({ "id": id.to_string() })).await["donor"].clone();
    assert_eq!(seen["displayName"], "María López");
    assert_eq!(seen["email"], "m•••@example.org");
    assert_eq!(seen["phone"], "•••00");
    assert_eq!(seen["addressLine1"], Value::Null);
    assert_eq!(seen["postalCode"], Value::Null);
    assert_eq!(seen["lifetimeGiving"]["amountMinor"], 25_000);
    assert_eq!(
        seen["recentGifts"][0]["tribute"]["notifyEmail"],
        "r•••@example.org"
    );
    let full = ok(&app, &staff, query, json!({ "id": id.to_string() })).await["donor"].clone();
    assert_eq!(full["email"], "maria@example.org");
    assert_eq!(full["postalCode"], "92701");
    // Staff notes and the audit log are beyond a viewer.
    let body = app
        .graphql(
            &viewer,
            "query($id: ID!) { donor(id: $id) { notes } }",
            json!({ "id": id.to_string() }),
        )
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    let body = app
        .graphql(&staff, "{ auditLog { totalCount } }", json!({}))
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    assert_eq!(body["data"], Value::Null);
    // Viewers read every list.
    ok(&app, &viewer, "{ donors { totalCount } gifts { totalCount } pledges { totalCount } tiers { totalCount } funds { totalCount } }", json!({})).await;
}

async fn a_request_without_a_valid_token_gets_401(backend: Backend) {
    let app = spawn_app(backend).await;
    for token in [None, Some("gvt_not-a-real-token")] {
        let response = app
            .post_graphql(token, "{ donors { totalCount } }", json!({}))
            .await;
        assert_eq!(response.status(), 401);
    }
}

async fn a_viewer_cannot_find_a_donor_by_any_part_of_an_email(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let viewer = app.token(StaffRole::Viewer).await;
    create_donor(
        &app,
        &staff,
        json!({ "displayName": "Amélie García", "email": "amelie.garcia.156@example.org" }),
    )
    .await;
    create_donor(&app, &staff, json!({ "displayName": "Rosa Díaz" })).await;
    let search =
        "query($q: String!) { donors(filter: { search: $q }) { totalCount nodes { email } } }";
    let found = |token: &str, q: &str| {
        let token = token.to_owned();
        let q = q.to_owned();
        let app = &app;
        async move {
            ok(app, &token, search, json!({ "q": q })).await["donors"]["totalCount"]
                .as_u64()
                .unwrap()
        }
    };
    for part in [
        "amelie.garcia.156@example.org",
        "amelie.garcia",
        "garcia.156",
        ".156",
        "156@",
        "@example",
        "example.org",
        "e.g",
    ] {
        assert_eq!(found(&viewer, part).await, 0, "a viewer found {part:?}");
        assert_eq!(found(&staff, part).await, 1, "staff did not find {part:?}");
    }
    // Names still work, accents and case ignored.
    for name in ["amelie garcia", "GARC", "Amélie"] {
        assert_eq!(found(&viewer, name).await, 1, "{name}");
    }
    let seen = ok(&app, &viewer, search, json!({ "q": "garcia" })).await;
    assert_eq!(seen["donors"]["nodes"][0]["email"], "a•••@example.org");
}

async fn donor_receipts_follow_the_receipts_rule(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let viewer = app.token(StaffRole::Viewer).await;
    let id = create_donor(&app, &staff, json!({ "displayName": "María López" })).await;
    record_gift(&app, &staff, check_gift(id, json!({}))).await;
    let query = "query($id: ID!) { donor(id: $id) { displayName receipts { nodes { number } } } }";
    let vars = json!({ "id": id.to_string() });
    let body = app.graphql(&viewer, query, vars.clone()).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    assert_eq!(body["data"], Value::Null);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Donor.receipts"),
        "{body}"
    );
    let seen = ok(&app, &staff, query, vars).await;
    assert_eq!(
        seen["donor"]["receipts"]["nodes"].as_array().unwrap().len(),
        1
    );
}

async fn a_field_forbidden_inside_a_list_refuses_the_whole_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let viewer = app.token(StaffRole::Viewer).await;
    let id = create_donor(&app, &staff, json!({ "displayName": "María López" })).await;
    record_gift(&app, &staff, check_gift(id, json!({ "checkNumber": "1" }))).await;
    record_gift(&app, &staff, check_gift(id, json!({ "checkNumber": "2" }))).await;
    for query in [
        "{ gifts { nodes { id notes } } }",
        "{ gifts { nodes { ...Private } } } fragment Private on Gift { id notes }",
        "{ donors { nodes { gifts { nodes { ... on Gift { notes } } } } } }",
    ] {
        let body = app.graphql(&viewer, query, json!({})).await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{query}: {body}");
        assert_eq!(body["data"], Value::Null, "{query}: {body}");
        let body = app.graphql(&staff, query, json!({})).await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
    }
}

on_both_backends!(
    a_viewer_cannot_find_a_donor_by_any_part_of_an_email,
    donor_receipts_follow_the_receipts_rule,
    a_field_forbidden_inside_a_list_refuses_the_whole_request,
    every_role_against_every_mutation,
    viewers_see_gifts_and_totals_but_masked_contact_details,
    a_request_without_a_valid_token_gets_401,
);
