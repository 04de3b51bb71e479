//! Every list pages by key: walked a page at a time forwards and backwards it gives
//! exactly the whole list, in every order it offers, and rows added while staff page
//! neither repeat nor shift the pages still to come.

use serde_json::{Value, json};
use tests::on_both_backends;
use tests::support::{Backend, TestApp, spawn_app};

use super::*;

/// `field`'s connection, taken with `args` and the paging variables, its items' ids.
fn list_query(field: &str, args: &str) -> String {
    let extra = if args.is_empty() {
        String::new()
    } else {
        format!("{args}, ")
    };
    format!(
        "query($first: Int, $after: String, $last: Int, $before: String) {{
            list: {field}({extra}first: $first, after: $after, last: $last, before: $before) {{
                totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
                edges {{ cursor node {{ id }} }} }} }}"
    )
}

fn ids(data: &Value) -> Vec<String> {
    data["list"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Walks the whole list `size` at a time both ways, and checks both walks give the
/// list as one page of 100 gives it; returns that list.
async fn walk(app: &TestApp, token: &str, query: &str, size: usize) -> Vec<String> {
    let whole = ok(app, token, query, json!({ "first": 100 })).await;
    let all = ids(&whole);
    let total = whole["list"]["totalCount"].as_u64().unwrap() as usize;
    assert_eq!(all.len(), total, "{query}");
    assert!(total > size, "{query}: {total} rows cannot show paging");

    let mut forwards = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = ok(app, token, query, json!({ "first": size, "after": after })).await;
        let page = ids(&data);
        assert!(page.len() <= size);
        assert_eq!(
            data["list"]["pageInfo"]["hasPreviousPage"],
            !forwards.is_empty()
        );
        forwards.extend(page);
        let info = &data["list"]["pageInfo"];
        if info["hasNextPage"] == false {
            break;
        }
        after = info["endCursor"].as_str().map(str::to_owned);
        assert!(forwards.len() < total, "{query}: the walk does not end");
    }
    assert_eq!(forwards, all, "{query}: forwards");

    let mut backwards: Vec<String> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let data = ok(app, token, query, json!({ "last": size, "before": before })).await;
        let mut page = ids(&data);
        page.extend(backwards);
        backwards = page;
        let info = &data["list"]["pageInfo"];
        if info["hasPreviousPage"] == false {
            break;
        }
        before = info["startCursor"].as_str().map(str::to_owned);
        assert!(backwards.len() < total, "{query}: the walk does not end");
    }
    assert_eq!(backwards, all, "{query}: backwards");
    all
}

/// 23 donors: pairs with the same name, gifts of different sizes and dates (some
/// donors the same), and donors who never gave.
async fn donors_with_ties(app: &TestApp, token: &str) {
    for n in 0..23 {
        let name = format!("Donor {:02}", n / 2);
        let donor = create_donor(app, token, json!({ "displayName": name })).await;
        if n % 5 == 4 {
            continue;
        }
        let amount = 1_000 * (1 + (n % 4) as i64);
        let day = 1 + (n % 6);
        record_gift(
            app,
            token,
            check_gift(
                donor,
                json!({
                    "amount": { "amountMinor": amount, "currency": "USD" },
                    "receivedAt": format!("2026-03-{day:02}T18:00:00Z"),
                    "checkNumber": format!("{}", 5000 + n),
                }),
            ),
        )
        .await;
    }
}

async fn donors_page_by_key_in_every_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    donors_with_ties(&app, &token).await;
    for field in ["NAME", "LAST_GIFT", "LIFETIME_GIVING"] {
        for direction in ["ASC", "DESC"] {
            let order = format!("orderBy: {{ field: {field}, direction: {direction} }}");
            let query = list_query("donors", &order);
            walk(&app, &token, &query, 4).await;
        }
    }
    // Those who never gave come last whichever way the last gift runs.
    for direction in ["ASC", "DESC"] {
        let query = format!(
            "{{ donors(first: 100, orderBy: {{ field: LAST_GIFT, direction: {direction} }}) {{ nodes {{ lastGift {{ id }} }} }} }}"
        );
        let data = ok(&app, &token, &query, json!({})).await;
        let given: Vec<bool> = data["donors"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| !d["lastGift"].is_null())
            .collect();
        assert_eq!(given.iter().filter(|g| !**g).count(), 4, "{data}");
        assert!(given.windows(2).all(|w| w[0] || !w[1]), "{data}");
    }
}

async fn a_donor_added_while_staff_page_does_not_shift_the_next_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    donors_with_ties(&app, &token).await;
    let query = list_query("donors", "");
    let all = ids(&ok(&app, &token, &query, json!({ "first": 100 })).await);
    let first = ok(&app, &token, &query, json!({ "first": 5 })).await;
    assert_eq!(ids(&first), all[..5]);
    // Sorts before every page already read.
    create_donor(&app, &token, json!({ "displayName": "Aaron Aaronson" })).await;
    let after = first["list"]["pageInfo"]["endCursor"].clone();
    let next = ok(&app, &token, &query, json!({ "first": 5, "after": after })).await;
    assert_eq!(ids(&next), all[5..10]);
    assert_eq!(next["list"]["totalCount"], 24);
}

async fn a_cursor_from_another_order_or_list_is_refused_by_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    donors_with_ties(&app, &token).await;
    let by_name = ok(
        &app,
        &token,
        &list_query("donors", ""),
        json!({ "first": 2 }),
    )
    .await;
    let cursor = by_name["list"]["pageInfo"]["endCursor"].clone();
    let by_lifetime = list_query("donors", "orderBy: { field: LIFETIME_GIVING }");
    let (code, field) = fails(&app, &token, &by_lifetime, json!({ "after": cursor })).await;
    assert_eq!((code.as_str(), field.as_str()), ("BAD_USER_INPUT", "after"));
    let gifts = list_query("gifts", "");
    let (code, field) = fails(&app, &token, &gifts, json!({ "before": cursor })).await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "before")
    );
}

async fn the_office_s_lists_page_by_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let admin = admin_token(&app).await;
    for n in 0..7 {
        // Two funds named alike apart from case, and campaigns starting on the same day.
        let name = if n == 3 {
            "general fund, second".to_owned()
        } else {
            format!("Fund {}", 7 - n)
        };
        ok(
            &app,
            &admin,
            "mutation($input: CreateFundInput!) { createFund(input: $input) { id } }",
            json!({ "input": { "name": name, "code": format!("F{n}") } }),
        )
        .await;
        ok(
            &app,
            &token,
            "mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { id } }",
            json!({ "input": {
                "name": format!("Campaign {n}"),
                "goal": { "amountMinor": 100_000 },
                "startsOn": format!("2026-0{}-01", 1 + n % 3),
                "defaultFundId": "1",
            } }),
        )
        .await;
        ok(
            &app,
            &admin,
            "mutation($input: CreateTierInput!) { createTier(input: $input) { id } }",
            json!({ "input": {
                "name": format!("Tier {n}"),
                "threshold": { "amountMinor": 100_000 + 10_000 * (n % 2) },
            } }),
        )
        .await;
        ok(
            &app,
            &token,
            "mutation($input: CreateSegmentInput!) { createSegment(input: $input) { id } }",
            json!({ "input": {
                "name": format!("Segment {n}"),
                "rule": { "emailConsent": { "consented": n % 2 == 0 } },
            } }),
        )
        .await;
    }
    for (field, args) in [
        ("funds", ""),
        ("funds", "includeArchived: true"),
        ("tiers", ""),
        ("campaigns", ""),
        ("segments", ""),
        ("auditLog", ""),
    ] {
        walk(&app, &admin, &list_query(field, args), 3).await;
    }
}

on_both_backends!(
    donors_page_by_key_in_every_order,
    a_donor_added_while_staff_page_does_not_shift_the_next_page,
    a_cursor_from_another_order_or_list_is_refused_by_name,
    the_office_s_lists_page_by_key,
);
