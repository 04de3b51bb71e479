//! Donors: creating and updating them, finding them with every filter, and paging.

use chrono::{Duration, Utc};
use entity::donor;
use serde_json::{Value, json};
use tests::on_both_backends;
use tests::support::{Backend, TestApp, spawn_app};

use super::*;

const DONOR_NAMES: &str = "query($filter: DonorFilter, $orderBy: DonorOrderBy) { donors(filter: $filter, orderBy: $orderBy, first: 100) { totalCount edges { node { displayName } } } }";

async fn names(app: &TestApp, token: &str, filter: Value, order_by: Value) -> Vec<String> {
    let data = ok(
        app,
        token,
        DONOR_NAMES,
        json!({ "filter": filter, "orderBy": order_by }),
    )
    .await;
    let connection = &data["donors"];
    let names: Vec<String> = connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["displayName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        connection["totalCount"].as_u64().unwrap() as usize,
        names.len()
    );
    names
}

async fn staff_creates_a_donor_and_the_audit_log_records_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let data = ok(
        &app,
        &token,
        CREATE_DONOR,
        json!({ "input": {
            "displayName": "  María López ",
            "email": "Maria.Lopez@Example.org",
            "language": "SPANISH",
            "emailConsent": true,
            "address": { "line1": "1 Main St", "city": "Santa Ana", "country": "us" }
        }}),
    )
    .await;
    let created = &data["createDonor"];
    assert_eq!(created["displayName"], "María López");
    assert_eq!(created["email"], "maria.lopez@example.org");
    assert_eq!(created["language"], "SPANISH");
    let entries = audit_entries(&app, "createDonor").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, "test-staff");
    assert_eq!(entries[0].entity_id.as_deref(), created["id"].as_str());
    assert_eq!(entries[0].changes["country"], "US");
}

async fn a_refused_donor_names_the_field_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &token,
        json!({ "displayName": "Ana García", "email": "ana@example.org" }),
    )
    .await;
    for (input, code, field) in [
        (
            json!({ "displayName": "   " }),
            "BAD_USER_INPUT",
            "displayName",
        ),
        (
            json!({ "displayName": "X", "email": "not-an-email" }),
            "BAD_USER_INPUT",
            "email",
        ),
        (
            json!({ "displayName": "X", "email": "ANA@example.org" }),
            "CONFLICT",
            "email",
        ),
        (
            json!({ "displayName": "X", "address": { "country": "USA" } }),
            "BAD_USER_INPUT",
            "country",
        ),
        (
            json!({ "displayName": "X".repeat(201) }),
            "BAD_USER_INPUT",
            "displayName",
        ),
    ] {
        let (got_code, got_field) =
            fails(&app, &token, CREATE_DONOR, json!({ "input": input })).await;
        assert_eq!(
            (got_code.as_str(), got_field.as_str()),
            (code, field),
            "{input}"
        );
    }
    // The conflict names the donor who has the email, so staff can open them.
    let body = app
        .graphql(
            &token,
            CREATE_DONOR,
            json!({ "input": { "displayName": "X", "email": "Ana@Example.org" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["existingId"],
        ana.to_string()
    );
    assert_eq!(count(&app, donor::Entity).await, 1);
    assert_eq!(audit_entries(&app, "createDonor").await.len(), 1);
}

const UPDATE_DONOR: &str = "mutation($input: UpdateDonorInput!) { updateDonor(input: $input) { id displayName email phone emailConsent anonymous } }";

async fn staff_update_a_donor_and_only_changed_fields_are_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let id = create_donor(
        &app,
        &token,
        json!({ "displayName": "José Núñez", "email": "jose@example.org", "phone": "555-0100" }),
    )
    .await;
    let data = ok(
        &app,
        &token,
        UPDATE_DONOR,
        json!({ "input": { "id": id.to_string(), "email": "jnunez@example.org", "phone": null, "anonymous": true } }),
    )
    .await;
    assert_eq!(data["updateDonor"]["email"], "jnunez@example.org");
    assert_eq!(data["updateDonor"]["phone"], Value::Null);
    assert_eq!(data["updateDonor"]["displayName"], "José Núñez");
    let entries = audit_entries(&app, "updateDonor").await;
    assert_eq!(entries.len(), 1);
    let changes = entries[0].changes.as_object().unwrap();
    let mut fields: Vec<&str> = changes.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["anonymous", "email", "phone"]);
    assert_eq!(changes["email"]["from"], "jose@example.org");
    // The new email is searchable.
    assert_eq!(
        names(&app, &token, json!({ "search": "jnunez" }), json!(null)).await,
        ["José Núñez"]
    );
}

async fn a_refused_donor_update_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let id = create_donor(
        &app,
        &token,
        json!({ "displayName": "Amal Haddad", "email": "amal@example.org" }),
    )
    .await;
    create_donor(
        &app,
        &token,
        json!({ "displayName": "Nour Benali", "email": "nour@example.org" }),
    )
    .await;
    for (target, input, code, field) in [
        (
            id.to_string(),
            json!({ "displayName": "" }),
            "BAD_USER_INPUT",
            "displayName",
        ),
        (
            id.to_string(),
            json!({ "email": "nour@example.org" }),
            "CONFLICT",
            "email",
        ),
        (
            id.to_string(),
            json!({ "email": "nope" }),
            "BAD_USER_INPUT",
            "email",
        ),
        (
            id.to_string(),
            json!({ "country": "Mexico" }),
            "BAD_USER_INPUT",
            "country",
        ),
        (
            "abc".to_owned(),
            json!({ "displayName": "Y" }),
            "BAD_USER_INPUT",
            "id",
        ),
        (
            "999999".to_owned(),
            json!({ "displayName": "Y" }),
            "NOT_FOUND",
            "",
        ),
    ] {
        let (got_code, got_field) = fails(
            &app,
            &token,
            UPDATE_DONOR,
            json!({ "input": with_id(json!(target), &input) }),
        )
        .await;
        assert_eq!(
            (got_code.as_str(), got_field.as_str()),
            (code, field),
            "{input}"
        );
    }
    let data = ok(
        &app,
        &token,
        "query($id: ID!) { donor(id: $id) { displayName email country } }",
        json!({ "id": id.to_string() }),
    )
    .await;
    assert_eq!(
        data["donor"],
        json!({ "displayName": "Amal Haddad", "email": "amal@example.org", "country": null })
    );
    assert!(audit_entries(&app, "updateDonor").await.is_empty());
}

/// Five donors with different histories, for the filter tests.
async fn giving_history(app: &TestApp, token: &str) {
    let admin = admin_token(app).await;
    let program = ok(
        app,
        &admin,
        "mutation { createFund(input: { name: \"REPRESENT LA\", code: \"represent-la\" }) { id } }",
        json!({}),
    )
    .await["createFund"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let maria = create_donor(app, token, json!({ "displayName": "María López", "email": "maria@example.org", "language": "SPANISH", "emailConsent": true })).await;
    let jose = create_donor(
        app,
        token,
        json!({ "displayName": "José Núñez", "email": "jose@example.org", "language": "SPANISH" }),
    )
    .await;
    let amal = create_donor(app, token, json!({ "displayName": "Amal Haddad", "email": "amal@example.org", "language": "ARABIC", "emailConsent": true })).await;
    let chloe = create_donor(app, token, json!({ "displayName": "Chloé Martin", "email": "chloe@example.org", "language": "FRENCH" })).await;
    create_donor(
        app,
        token,
        json!({ "displayName": "Weingart Foundation", "kind": "ORGANIZATION" }),
    )
    .await;
    let days_ago = |d: i64| (Utc::now() - Duration::days(d)).to_rfc3339();
    // María: $600 over two gifts, last 10 days ago. José: $50 to REPRESENT LA 400 days ago.
    // Amal: $5,000 60 days ago. Chloé: a monthly pledge, no gifts yet.
    record_gift(
        app,
        token,
        check_gift(
            maria,
            json!({ "amount": { "amountMinor": 10_000 }, "receivedAt": days_ago(100) }),
        ),
    )
    .await;
    record_gift(
        app,
        token,
        check_gift(
            maria,
            json!({ "amount": { "amountMinor": 50_000 }, "receivedAt": days_ago(10) }),
        ),
    )
    .await;
    record_gift(app, token, check_gift(jose, json!({ "amount": { "amountMinor": 5_000 }, "fundId": program, "receivedAt": days_ago(400) }))).await;
    record_gift(app, token, check_gift(amal, json!({ "amount": { "amountMinor": 500_000 }, "method": "WIRE", "checkNumber": null, "receivedAt": days_ago(60) }))).await;
    // A $42 monthly pledge puts Chloe in the Circle of Friends.
    ok(app, token, "mutation($input: CreatePledgeInput!) { createPledge(input: $input) { id } }", json!({ "input": {
        "donorId": chloe.to_string(), "installment": { "amountMinor": 4_200 }, "frequency": "MONTHLY",
        "startsOn": Utc::now().date_naive().to_string(), "fundId": "1" } })).await;
}

async fn each_donor_filter_finds_the_right_donors(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    giving_history(&app, &token).await;
    let program =
        ok(&app, &token, "{ funds { nodes { id code } } }", json!({})).await["funds"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "REPRESENT-LA")
            .unwrap()["id"]
            .clone();
    let days_ago = |d: i64| (Utc::now() - Duration::days(d)).to_rfc3339();
    let cases = [
        (
            json!({}),
            vec![
                "Amal Haddad",
                "Chloé Martin",
                "José Núñez",
                "María López",
                "Weingart Foundation",
            ],
        ),
        (json!({ "search": "NUNEZ" }), vec!["José Núñez"]),
        (json!({ "search": "chloe" }), vec!["Chloé Martin"]),
        (json!({ "search": "amal@example" }), vec!["Amal Haddad"]),
        (json!({ "search": "%" }), vec![]),
        (json!({ "tierId": "1" }), vec!["Chloé Martin"]),
        (json!({ "fundId": program }), vec!["José Núñez"]),
        (
            json!({ "lifetimeGivingMin": { "amountMinor": 50_000 } }),
            vec!["Amal Haddad", "María López"],
        ),
        (
            json!({ "lifetimeGivingMax": { "amountMinor": 60_000 } }),
            vec![
                "Chloé Martin",
                "José Núñez",
                "María López",
                "Weingart Foundation",
            ],
        ),
        (
            json!({ "lifetimeGivingMin": { "amountMinor": 1 }, "lifetimeGivingMax": { "amountMinor": 60_000 } }),
            vec!["José Núñez", "María López"],
        ),
        (
            json!({ "lastGiftFrom": days_ago(90) }),
            vec!["Amal Haddad", "María López"],
        ),
        (
            json!({ "lastGiftTo": days_ago(30) }),
            vec!["Amal Haddad", "José Núñez"],
        ),
        (
            json!({ "lastGiftFrom": days_ago(90), "lastGiftTo": days_ago(30) }),
            vec!["Amal Haddad"],
        ),
        (json!({ "hasActivePledge": true }), vec!["Chloé Martin"]),
        (
            json!({ "hasActivePledge": false }),
            vec![
                "Amal Haddad",
                "José Núñez",
                "María López",
                "Weingart Foundation",
            ],
        ),
        (
            json!({ "language": "SPANISH" }),
            vec!["José Núñez", "María López"],
        ),
        (
            json!({ "emailConsent": true }),
            vec!["Amal Haddad", "María López"],
        ),
        (
            json!({ "language": "SPANISH", "emailConsent": true }),
            vec!["María López"],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            names(&app, &token, filter.clone(), json!(null)).await,
            expected,
            "{filter}"
        );
    }
    // Orders: lifetime giving and last gift, with donors who never gave last; ties go
    // by id in the same direction.
    assert_eq!(
        names(
            &app,
            &token,
            json!({}),
            json!({ "field": "LIFETIME_GIVING", "direction": "DESC" })
        )
        .await,
        [
            "Amal Haddad",
            "María López",
            "José Núñez",
            "Weingart Foundation",
            "Chloé Martin"
        ]
    );
    assert_eq!(
        names(
            &app,
            &token,
            json!({}),
            json!({ "field": "LAST_GIFT", "direction": "DESC" })
        )
        .await,
        [
            "María López",
            "Amal Haddad",
            "José Núñez",
            "Weingart Foundation",
            "Chloé Martin"
        ]
    );
    assert_eq!(
        names(
            &app,
            &token,
            json!({}),
            json!({ "field": "LAST_GIFT", "direction": "ASC" })
        )
        .await,
        [
            "José Núñez",
            "Amal Haddad",
            "María López",
            "Chloé Martin",
            "Weingart Foundation"
        ]
    );
    assert_eq!(
        names(
            &app,
            &token,
            json!({}),
            json!({ "field": "NAME", "direction": "DESC" })
        )
        .await,
        [
            "Weingart Foundation",
            "María López",
            "José Núñez",
            "Chloé Martin",
            "Amal Haddad"
        ]
    );
}

async fn a_donor_shows_totals_tier_pledges_gifts_and_receipts(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    giving_history(&app, &token).await;
    let query = "query($filter: DonorFilter) { donors(filter: $filter) { edges { node {
        lifetimeGiving { amountMinor currency formatted } giftCount
        firstGift { amount { amountMinor } } lastGift { amount { amountMinor } } largestGift { amount { amountMinor } }
        thisYearGiving { amountMinor } currentTier { name }
        activePledges { installment { formatted } frequency annualPledgeTotal { amountMinor } }
        gifts(first: 1) { totalCount pageInfo { hasNextPage } edges { node { amount { amountMinor } } } }
        receipts { totalCount nodes { number kind status amount { amountMinor } } }
    } } } }";
    let maria = &ok(
        &app,
        &token,
        query,
        json!({ "filter": { "search": "maria" } }),
    )
    .await["donors"]["edges"][0]["node"];
    assert_eq!(
        maria["lifetimeGiving"],
        json!({ "amountMinor": 60_000, "currency": "USD", "formatted": "$600.00" })
    );
    assert_eq!(maria["giftCount"], 2);
    assert_eq!(maria["firstGift"]["amount"]["amountMinor"], 10_000);
    assert_eq!(maria["lastGift"]["amount"]["amountMinor"], 50_000);
    assert_eq!(maria["largestGift"]["amount"]["amountMinor"], 50_000);
    assert_eq!(maria["gifts"]["totalCount"], 2);
    assert_eq!(maria["gifts"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        maria["gifts"]["edges"][0]["node"]["amount"]["amountMinor"],
        50_000
    );
    assert_eq!(maria["receipts"]["totalCount"], 2);
    assert_eq!(maria["receipts"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(maria["receipts"]["nodes"][0]["kind"], "GIFT");
    assert_eq!(maria["receipts"]["nodes"][0]["status"], "ISSUED");
    assert_eq!(maria["currentTier"], Value::Null);
    let chloe = &ok(
        &app,
        &token,
        query,
        json!({ "filter": { "search": "chloe" } }),
    )
    .await["donors"]["edges"][0]["node"];
    assert_eq!(chloe["currentTier"]["name"], "Circle of Friends");
    assert_eq!(chloe["lifetimeGiving"]["amountMinor"], 0);
    assert_eq!(chloe["firstGift"], Value::Null);
    assert_eq!(
        chloe["activePledges"][0]["installment"]["formatted"],
        "$42.00"
    );
    assert_eq!(
        chloe["activePledges"][0]["annualPledgeTotal"]["amountMinor"],
        50_400
    );
}

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
    donors(first: $first, after: $after, last: $last, before: $before) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { displayName } } } }";

fn page_names(data: &Value) -> Vec<String> {
    data["donors"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["displayName"].as_str().unwrap().to_owned())
        .collect()
}

async fn donors_page_forwards_and_backwards_without_gaps_or_repeats(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    tests::seed::seed(
        &app.db,
        tests::seed::SeedPlan {
            donors: 25,
            gifts_per_donor: 0,
            funds: 0,
            pledge_every: 0,
        },
    )
    .await;
    let all = names(&app, &token, json!({}), json!(null)).await;
    assert_eq!(all.len(), 25);

    let mut forwards = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let data = ok(&app, &token, PAGE, json!({ "first": 10, "after": after })).await;
        assert_eq!(data["donors"]["totalCount"], 25);
        forwards.extend(page_names(&data));
        pages += 1;
        let info = &data["donors"]["pageInfo"];
        assert_eq!(info["hasPreviousPage"], pages > 1);
        if info["hasNextPage"] == false {
            break;
        }
        after = info["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 3);
    assert_eq!(forwards, all);

    let mut backwards = Vec::new();
    let mut before: Option<String> = None;
    pages = 0;
    loop {
        let data = ok(&app, &token, PAGE, json!({ "last": 10, "before": before })).await;
        let mut page = page_names(&data);
        page.extend(backwards);
        backwards = page;
        pages += 1;
        let info = &data["donors"]["pageInfo"];
        if info["hasPreviousPage"] == false {
            break;
        }
        before = info["startCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 3);
    assert_eq!(backwards, all);
}

async fn a_page_larger_than_the_maximum_is_refused_by_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    for (vars, field) in [
        (json!({ "first": 101 }), "first"),
        (json!({ "last": 500 }), "last"),
        (json!({ "first": -1 }), "first"),
        (json!({ "first": 5, "after": "not-a-cursor" }), "after"),
    ] {
        let (code, got) = fails(&app, &token, PAGE, vars).await;
        assert_eq!((code.as_str(), got.as_str()), ("BAD_USER_INPUT", field));
    }
}

/// A searched text is one line of at most 200 characters, the longest name or email a
/// donor can have: longer, or of several lines, it is refused by name, in the donors'
/// list and in their export alike.
async fn a_searched_text_too_long_or_of_several_lines_is_refused_by_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    giving_history(&app, &token).await;
    let longest = "ß".repeat(200);
    assert!(
        names(&app, &token, json!({ "search": longest }), json!(null))
            .await
            .is_empty()
    );
    assert_eq!(
        names(&app, &token, json!({ "search": "  chloe\t" }), json!(null)).await,
        ["Chloé Martin"]
    );
    let export = "mutation($filter: DonorFilter) { exportDonors(filter: $filter) { url } }";
    for search in [
        "ß".repeat(201),
        "a".repeat(100_000),
        "chloe\nmartin".to_owned(),
        "chl\u{0}oe".to_owned(),
    ] {
        for query in [DONOR_NAMES, export] {
            let (code, field) = fails(
                &app,
                &token,
                query,
                json!({ "filter": { "search": search } }),
            )
            .await;
            assert_eq!(
                (code.as_str(), field.as_str()),
                ("BAD_USER_INPUT", "filter.search"),
                "{query}"
            );
        }
    }
}

on_both_backends!(
    a_searched_text_too_long_or_of_several_lines_is_refused_by_name,
    staff_creates_a_donor_and_the_audit_log_records_it,
    a_refused_donor_names_the_field_and_changes_nothing,
    staff_update_a_donor_and_only_changed_fields_are_audited,
    a_refused_donor_update_changes_nothing,
    each_donor_filter_finds_the_right_donors,
    a_donor_shows_totals_tier_pledges_gifts_and_receipts,
    donors_page_forwards_and_backwards_without_gaps_or_repeats,
    a_page_larger_than_the_maximum_is_refused_by_name,
);
