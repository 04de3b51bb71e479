//! Segments: every rule on crafted donors, with LYBUNT and SYBUNT at the year boundary
//! in the organization's time zone (America/Los_Angeles in tests).

use chrono::{NaiveDate, Utc};
use entity::enums::{PledgeFrequency, PledgeSource, PledgeStatus};
use entity::{pledge, tier_membership};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use tests::on_both_backends;
use tests::support::{Backend, spawn_app};

use super::*;

const PREVIEW: &str = "query($rule: JSON!) { segmentPreview(ruleJson: $rule, first: 100) { count donors { displayName } } }";

async fn names(app: &TestApp, token: &str, rule: Value) -> Vec<String> {
    let data = ok(app, token, PREVIEW, json!({ "rule": rule })).await;
    let preview = &data["segmentPreview"];
    let names: Vec<String> = preview["donors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["displayName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(preview["count"], names.len(), "{rule}");
    names
}

async fn add_pledge(app: &TestApp, donor_id: i64, status: PledgeStatus) {
    let now = Utc::now();
    pledge::ActiveModel {
        donor_id: Set(donor_id),
        source: Set(PledgeSource::Envelope),
        installment_minor: Set(4_200),
        currency: Set("USD".into()),
        frequency: Set(PledgeFrequency::Monthly),
        starts_on: Set(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
        status: Set(status),
        fund_id: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
}

/// Ana gave only at 23:30 on 31 December 2025 Pacific (07:30 UTC on 1 January);
/// Ben gave only at 00:30 on 1 January 2026 Pacific; Carla gave only in 2024; Dora in
/// 2024 and 2025; Eli never gave.
async fn each_segment_rule_matches_the_donors_it_describes(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let admin = admin_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana", "email": "ana@example.org", "emailConsent": true, "language": "SPANISH",
                "address": { "line1": "1 Main St", "city": "Santa Ana", "postalCode": "92701", "country": "US" } }),
    )
    .await;
    let ben = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ben", "email": "ben@example.org" }),
    )
    .await;
    let carla = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Carla", "address": { "city": "Santa Ana" } }),
    )
    .await;
    let dora = create_donor(&app, &staff, json!({ "displayName": "Dora" })).await;
    let eli = create_donor(&app, &staff, json!({ "displayName": "Eli" })).await;
    let fund = ok(
        &app,
        &admin,
        "mutation { createFund(input: { name: \"Detention Bond Fund\", code: \"BOND\" }) { id } }",
        json!({}),
    )
    .await["createFund"]["id"]
        .clone();
    let campaign = ok(
        &app,
        &staff,
        "mutation { createCampaign(input: { name: \"Year end\", goal: { amountMinor: 100000 }, startsOn: \"2025-11-01\", defaultFundId: \"1\" }) { id } }",
        json!({}),
    )
    .await["createCampaign"]["id"]
        .clone();
    let appeal = ok(
        &app,
        &staff,
        "mutation($c: ID!) { createAppeal(input: { campaignId: $c, name: \"Letter\", channel: LETTER, sourceCode: \"YE25\" }) { id } }",
        json!({ "c": campaign }),
    )
    .await["createAppeal"]["id"]
        .clone();
    let gift = |donor: i64, at: &str, amount: i64, number: &str, extra: Value| {
        let mut input = check_gift(
            donor,
            json!({ "receivedAt": at, "amount": { "amountMinor": amount }, "checkNumber": number }),
        );
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        input
    };
    for input in [
        gift(
            ana,
            "2026-01-01T07:30:00Z",
            10_000,
            "1",
            json!({ "appealCode": "YE25" }),
        ),
        gift(ben, "2026-01-01T08:30:00Z", 25_000, "2", json!({})),
        gift(
            carla,
            "2024-06-01T18:00:00Z",
            5_000,
            "3",
            json!({ "fundId": fund }),
        ),
        gift(dora, "2024-06-01T18:00:00Z", 5_000, "4", json!({})),
        gift(dora, "2025-06-01T18:00:00Z", 60_000, "5", json!({})),
    ] {
        record_gift(&app, &staff, input).await;
    }
    add_pledge(&app, eli, PledgeStatus::Active).await;
    add_pledge(&app, dora, PledgeStatus::PastDue).await;
    add_pledge(&app, ben, PledgeStatus::Cancelled).await;
    tier_membership::ActiveModel {
        donor_id: Set(dora),
        tier_id: Set(1),
        joined_at: Set(Utc::now()),
        join_reason: Set("pledge".into()),
        annual_pledge_total_minor: Set(60_000),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();

    let cases = [
        (
            json!({ "kind": "lybunt", "year": 2026 }),
            vec!["Ana", "Dora"],
        ),
        (json!({ "kind": "sybunt", "year": 2026 }), vec!["Carla"]),
        (json!({ "kind": "lybunt", "year": 2025 }), vec!["Carla"]),
        (
            json!({ "kind": "gaveBetween", "from": "2026-01-01", "to": "2026-12-31" }),
            vec!["Ben"],
        ),
        (
            json!({ "kind": "gaveBetween", "from": "2025-12-31", "to": "2025-12-31" }),
            vec!["Ana"],
        ),
        (
            json!({ "kind": "didNotGiveBetween", "from": "2025-01-01", "to": "2025-12-31" }),
            vec!["Ben", "Carla", "Eli"],
        ),
        (
            json!({ "kind": "lifetimeGiving", "minMinor": 10_000 }),
            vec!["Ana", "Ben", "Dora"],
        ),
        (
            json!({ "kind": "lifetimeGiving", "minMinor": 10_000, "maxMinor": 30_000 }),
            vec!["Ana", "Ben"],
        ),
        (
            json!({ "kind": "lifetimeGiving", "maxMinor": 9_999 }),
            vec!["Carla", "Eli"],
        ),
        (
            json!({ "kind": "yearGiving", "year": 2025, "minMinor": 50_000 }),
            vec!["Dora"],
        ),
        (json!({ "kind": "inTier", "tierId": 1 }), vec!["Dora"]),
        (
            json!({ "kind": "activePledge", "has": true }),
            vec!["Dora", "Eli"],
        ),
        (
            json!({ "kind": "activePledge", "has": false }),
            vec!["Ana", "Ben", "Carla"],
        ),
        (json!({ "kind": "pledgePastDue" }), vec!["Dora"]),
        (
            json!({ "kind": "gaveToFund", "fundId": fund.as_str().unwrap().parse::<i64>().unwrap() }),
            vec!["Carla"],
        ),
        (
            json!({ "kind": "attributedToAppeal", "appealId": appeal.as_str().unwrap().parse::<i64>().unwrap() }),
            vec!["Ana"],
        ),
        (
            json!({ "kind": "firstGiftBetween", "from": "2025-01-01", "to": "2025-12-31" }),
            vec!["Ana"],
        ),
        (
            json!({ "kind": "speaksLanguage", "language": "es" }),
            vec!["Ana"],
        ),
        (
            json!({ "kind": "emailConsent", "consented": true }),
            vec!["Ana"],
        ),
        (json!({ "kind": "hasPostalAddress" }), vec!["Ana"]),
        (
            json!({ "kind": "any", "rules": [{ "kind": "sybunt", "year": 2026 }, { "kind": "pledgePastDue" }] }),
            vec!["Carla", "Dora"],
        ),
        (
            json!({ "kind": "all", "rules": [{ "kind": "lybunt", "year": 2026 }, { "kind": "not", "rule": { "kind": "emailConsent", "consented": true } }] }),
            vec!["Dora"],
        ),
    ];
    for (rule, expected) in cases {
        assert_eq!(names(&app, &staff, rule.clone()).await, expected, "{rule}");
    }
}

async fn segments_are_saved_by_name_and_bad_rules_name_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let created = ok(
        &app,
        &staff,
        "mutation($rule: JSON!) { createSegment(input: { name: \"Lapsed\", ruleJson: $rule }) { id name rule donorCount } }",
        json!({ "rule": { "kind": "lybunt", "year": 2026 } }),
    )
    .await;
    assert_eq!(
        created["createSegment"]["rule"],
        json!({ "kind": "lybunt", "year": 2026 })
    );
    assert_eq!(created["createSegment"]["donorCount"], 0);
    let listed = ok(&app, &staff, "{ segments { nodes { name } } }", json!({})).await;
    assert_eq!(listed["segments"]["nodes"], json!([{ "name": "Lapsed" }]));
    for (rule, named) in [
        (json!({ "kind": "lybunt" }), "ruleJson.year"),
        (
            json!({ "kind": "any", "rules": [{ "kind": "emailConsent", "consented": true }, { "kind": "sybunt" }] }),
            "ruleJson.rules[1].year",
        ),
        (
            json!({ "kind": "not", "rule": { "kind": "inTier" } }),
            "ruleJson.rule.tierId",
        ),
        (json!({ "year": 2026 }), "ruleJson.kind"),
        (
            json!({ "kind": "gaveBetween", "from": "2026-02-01", "to": "2026-01-01" }),
            "ruleJson",
        ),
        (json!({ "kind": "all", "rules": [] }), "ruleJson"),
        (json!({ "kind": "lifetimeGiving" }), "ruleJson"),
        (json!({ "kind": "nobody" }), "ruleJson.kind"),
        (
            json!({ "kind": "speaksLanguage", "language": "klingon" }),
            "ruleJson",
        ),
    ] {
        let body = app.graphql(&staff, PREVIEW, json!({ "rule": rule })).await;
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{rule}");
        assert_eq!(error["extensions"]["field"], named, "{rule}");
        if named.ends_with("year") {
            let message = error["message"].as_str().unwrap();
            assert!(message.contains("needs `year`"), "{message}");
        }
    }
    let (code, field) = fails(
        &app,
        &staff,
        "mutation($rule: JSON!) { createSegment(input: { name: \"Lapsed\", ruleJson: $rule }) { id } }",
        json!({ "rule": { "kind": "pledgePastDue" } }),
    )
    .await;
    assert_eq!((code.as_str(), field.as_str()), ("CONFLICT", "name"));
}

const TYPED_PREVIEW: &str = "query($rule: SegmentRuleInput!) { segmentPreview(rule: $rule, first: 100) { count donors { displayName } } }";

/// The typed rule reaches the same donors as the JSON one; a typed rule that is not
/// whole, gives two kinds at once, or is in another currency is refused naming the part.
async fn a_typed_rule_reaches_the_donors_its_json_form_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana", "email": "ana@example.org", "emailConsent": true, "language": "SPANISH" }),
    )
    .await;
    let ben = create_donor(&app, &staff, json!({ "displayName": "Ben" })).await;
    let carla = create_donor(&app, &staff, json!({ "displayName": "Carla" })).await;
    for (donor, at, amount, number) in [
        (ben, "2025-06-01T18:00:00Z", 10_000, "1"),
        (carla, "2025-06-01T18:00:00Z", 90_000, "2"),
        (carla, "2026-03-01T18:00:00Z", 5_000, "3"),
    ] {
        record_gift(
            &app,
            &staff,
            check_gift(
                donor,
                json!({ "receivedAt": at, "amount": { "amountMinor": amount }, "checkNumber": number }),
            ),
        )
        .await;
    }
    add_pledge(&app, ana, PledgeStatus::Paused).await;
    let pairs = [
        (
            json!({ "any": [{ "speaksLanguage": { "language": "SPANISH" } }, { "lybunt": { "year": 2026 } }] }),
            json!({ "kind": "any", "rules": [{ "kind": "speaksLanguage", "language": "es" }, { "kind": "lybunt", "year": 2026 }] }),
            vec!["Ana", "Ben"],
        ),
        (
            json!({ "lifetimeGiving": { "min": { "amountMinor": 50_000 } } }),
            json!({ "kind": "lifetimeGiving", "minMinor": 50_000 }),
            vec!["Carla"],
        ),
        (
            json!({ "not": { "gaveBetween": { "from": "2025-01-01", "to": "2025-12-31" } } }),
            json!({ "kind": "not", "rule": { "kind": "gaveBetween", "from": "2025-01-01", "to": "2025-12-31" } }),
            vec!["Ana"],
        ),
        (
            json!({ "pledgeStatus": { "status": "PAUSED" } }),
            json!({ "kind": "pledgeStatus", "status": "paused" }),
            vec!["Ana"],
        ),
        (
            json!({ "all": [{ "emailConsent": {} }, { "hasPostalAddress": { "has": false } }] }),
            json!({ "kind": "all", "rules": [{ "kind": "emailConsent", "consented": true }, { "kind": "not", "rule": { "kind": "hasPostalAddress" } }] }),
            vec!["Ana"],
        ),
    ];
    for (typed, json_rule, expected) in pairs {
        let data = ok(&app, &staff, TYPED_PREVIEW, json!({ "rule": typed })).await;
        let typed_names: Vec<&str> = data["segmentPreview"]["donors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["displayName"].as_str().unwrap())
            .collect();
        assert_eq!(typed_names, expected, "{typed}");
        assert_eq!(names(&app, &staff, json_rule).await, expected, "{typed}");
    }
    let saved = ok(
        &app,
        &staff,
        "mutation($rule: SegmentRuleInput!) { createSegment(input: { name: \"Lapsed\", rule: $rule }) { id rule donorCount } }",
        json!({ "rule": { "lybunt": { "year": 2026 } } }),
    )
    .await["createSegment"]
        .clone();
    assert_eq!(saved["rule"], json!({ "kind": "lybunt", "year": 2026 }));
    assert_eq!(saved["donorCount"], 1);

    for (rule, named) in [
        (
            json!({ "any": [{ "lifetimeGiving": { "min": { "amountMinor": 100, "currency": "EUR" } } }] }),
            "rule.any[0].lifetimeGiving.min.currency",
        ),
        (
            json!({ "not": { "inTier": { "tierId": "x" } } }),
            "rule.not.inTier.tierId",
        ),
        (json!({ "lifetimeGiving": {} }), "rule"),
    ] {
        let (code, field) = fails(&app, &staff, TYPED_PREVIEW, json!({ "rule": rule })).await;
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("BAD_USER_INPUT", named),
            "{rule}"
        );
    }
    for (rule, says) in [
        (json!({ "lybunt": {} }), "year"),
        (
            json!({ "lybunt": { "year": 2026 }, "sybunt": { "year": 2026 } }),
            "exactly one",
        ),
    ] {
        let body = app
            .graphql(&staff, TYPED_PREVIEW, json!({ "rule": rule }))
            .await;
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{rule}: {body}");
    }
    let (code, field) = fails(
        &app,
        &staff,
        "query { segmentPreview { count } }",
        json!({}),
    )
    .await;
    assert_eq!((code.as_str(), field.as_str()), ("BAD_USER_INPUT", "rule"));
}

const MEMBERS: &str = "query($id: ID!, $after: String) { segment(id: $id) { name members(first: 10, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } } }";

/// A segment of 25 donors is listed whole, ten at a time, and filters the donor list;
/// a missing segment is NOT_FOUND.
async fn a_segment_lists_every_member_page_by_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let mut expected = Vec::new();
    for n in 0..25 {
        expected.push(
            create_donor(
                &app,
                &staff,
                json!({ "displayName": format!("Donor {n}"), "email": format!("d{n}@example.org"), "emailConsent": true }),
            )
            .await
            .to_string(),
        );
    }
    create_donor(&app, &staff, json!({ "displayName": "No email" })).await;
    let segment = ok(
        &app,
        &staff,
        "mutation { createSegment(input: { name: \"Emailable\", rule: { emailConsent: { consented: true } } }) { id } }",
        json!({}),
    )
    .await["createSegment"]["id"]
        .clone();
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = ok(
            &app,
            &staff,
            MEMBERS,
            json!({ "id": segment, "after": after }),
        )
        .await;
        let members = &data["segment"]["members"];
        assert_eq!(members["totalCount"], 25);
        for edge in members["edges"].as_array().unwrap() {
            seen.push(edge["node"]["id"].as_str().unwrap().to_owned());
        }
        if members["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = members["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, expected);
    let (code, _) = fails(&app, &staff, MEMBERS, json!({ "id": "999999" })).await;
    assert_eq!(code, "NOT_FOUND");

    // The donor list takes the segment as a filter, with the others.
    let by_segment = "query($filter: DonorFilter) { donors(first: 100, filter: $filter) { totalCount nodes { id displayName } } }";
    let listed = ok(
        &app,
        &staff,
        by_segment,
        json!({ "filter": { "segmentId": segment } }),
    )
    .await;
    let mut ids: Vec<String> = listed["donors"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort_by_key(|id| id.parse::<i64>().unwrap());
    assert_eq!(ids, expected);
    let narrowed = ok(
        &app,
        &staff,
        by_segment,
        json!({ "filter": { "segmentId": segment, "search": "Donor 7" } }),
    )
    .await;
    assert_eq!(narrowed["donors"]["totalCount"], 1);
    assert_eq!(narrowed["donors"]["nodes"][0]["displayName"], "Donor 7");
    let (code, field) = fails(
        &app,
        &staff,
        by_segment,
        json!({ "filter": { "segmentId": "999999" } }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "filter.segmentId")
    );
}

on_both_backends!(
    each_segment_rule_matches_the_donors_it_describes,
    segments_are_saved_by_name_and_bad_rules_name_the_field,
    a_typed_rule_reaches_the_donors_its_json_form_does,
    a_segment_lists_every_member_page_by_page,
);
