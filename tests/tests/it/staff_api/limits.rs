//! Safety limits: query depth and cost, aliases, each token's budget of requests, the
//! deadline, the largest answer, introspection that can be switched off, and a code on
//! every error, even those the GraphQL engine raises itself.

use std::sync::atomic::Ordering;

use entity::enums::StaffRole;
use serde_json::{Value, json};
use tests::on_both_backends;
use tests::seed::{SeedPlan, seed};
use tests::support::{Backend, error_codes, spawn_app, spawn_app_with};

use super::*;

async fn a_query_nested_too_deep_is_refused_with_a_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    // Twelve levels is the limit; this asks for fourteen.
    let mut deep = String::from("{ donors { edges { node { ");
    for _ in 0..5 {
        deep.push_str("lastGift { donor { ");
    }
    deep.push_str("displayName");
    deep.push_str(&" }".repeat(14));
    let body = app.graphql(&token, &deep, json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{body}"
    );
    let body = app
        .graphql(&token, "{ donors { nosuchfield } }", json!({}))
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    let body = app
        .graphql(
            &token,
            "{ donors(first: \"ten\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
}

async fn introspection_is_on_by_default_and_can_be_switched_off(backend: Backend) {
    let introspect = "{ __schema { queryType { name } } }";
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let data = ok(&app, &token, introspect, json!({})).await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    drop(app);
    let app = spawn_app_with(backend, &[("GRAPHQL_INTROSPECTION", "false")]).await;
    let token = staff_token(&app).await;
    let body = app.graphql(&token, introspect, json!({})).await;
    // The engine answers as if the schema had no introspection fields.
    assert!(body["data"]["__schema"].is_null(), "{body}");
}

on_both_backends!(
    a_query_nested_too_deep_is_refused_with_a_code,
    introspection_is_on_by_default_and_can_be_switched_off,
);

/// Twenty aliases of a page of 100 donors, each with 100 gifts, each with its donor and
/// again 100 gifts: a few kilobytes of text that asked for hundreds of megabytes.
fn the_hostile_query() -> String {
    let mut query = String::from("{ ");
    for i in 0..20 {
        query.push_str(&format!(
            "a{i}: donors(first: 100) {{ nodes {{ gifts(first: 100) {{ nodes {{ donor {{ \
             gifts(first: 100) {{ nodes {{ donor {{ displayName email }} }} }} }} }} }} }} }} "
        ));
    }
    query.push('}');
    query
}

async fn a_query_costing_more_than_the_budget_is_refused_before_any_sql_runs(backend: Backend) {
    let (app, statements) = super::batching::spawn_counting_app_with(backend, &[]).await;
    let viewer = app.token(StaffRole::Viewer).await;
    ok(&app, &viewer, "{ __typename }", json!({})).await;

    let query = the_hostile_query();
    let before = statements.load(Ordering::SeqCst);
    let body = app.graphql(&viewer, &query, json!({})).await;
    let ran = statements.load(Ordering::SeqCst) - before;

    assert_eq!(error_codes(&body), ["QUERY_TOO_COSTLY"], "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    let cost: u64 = message
        .split("would cost ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no cost in {message}"));
    // 20 × 100 donors × 100 gifts × 100 gifts, each with a few fields.
    assert!(cost > 20 * 100 * 100 * 100, "{message}");
    assert_eq!(ran, 0, "statements beyond the token check ran");
}

/// Thirty fragments, each spreading the next twice: a kilobyte of text naming one field
/// 2^30 times once spread, and nested 31 deep, inside the engine's own limits.
async fn fragments_spreading_into_a_billion_fields_are_refused_at_once(backend: Backend) {
    let (app, statements) = super::batching::spawn_counting_app_with(backend, &[]).await;
    let viewer = app.token(StaffRole::Viewer).await;
    ok(&app, &viewer, "{ __typename }", json!({})).await;
    let mut query = String::from("query { ...F0 }\n");
    for level in 0..30 {
        let next = level + 1;
        query.push_str(&format!(
            "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n"
        ));
    }
    query.push_str("fragment F30 on Query { viewer { name } }\n");

    let before = statements.load(Ordering::SeqCst);
    let body = app.graphql(&viewer, &query, json!({})).await;
    let ran = statements.load(Ordering::SeqCst) - before;

    assert_eq!(error_codes(&body), ["QUERY_TOO_COSTLY"], "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("names more than 25000 fields"),
        "{body}"
    );
    assert_eq!(ran, 0, "statements beyond the token check ran");
    // The server is still answering.
    ok(&app, &viewer, "{ viewer { name } }", json!({})).await;
}

async fn small_pages_fit_the_budget_and_big_ones_name_their_cost(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    // The variable's value is what is counted: 100 donors × (100 gifts × 5 + 2).
    let nested = "query($n: Int!) { donors(first: $n) { nodes { gifts(first: $n) { nodes { id amount { amountMinor } } } } } }";
    ok(&app, &token, nested, json!({ "n": 10 })).await;
    let body = app.graphql(&token, nested, json!({ "n": 100 })).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COSTLY"], "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("would cost 50200 "),
        "{body}"
    );
    // Without `first`, a list counts as 20 items.
    ok(
        &app,
        &token,
        "{ donors { nodes { gifts { nodes { id } } } } }",
        json!({}),
    )
    .await;
}

async fn aliases_and_repeated_fields_are_capped(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = staff_token(&app).await;
    let aliased = |n: usize| {
        let fields: Vec<String> = (0..n)
            .map(|i| format!("t{i}: tiers {{ nodes {{ name }} }}"))
            .collect();
        format!("{{ {} }}", fields.join(" "))
    };
    ok(&app, &token, &aliased(5), json!({})).await;
    let body = app.graphql(&token, &aliased(11), json!({})).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COSTLY"], "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("11 aliases"),
        "{body}"
    );
    // The same field many times without aliases is merged by the engine, but each
    // copy is still work to plan: six is too many.
    let repeated = format!("{{ {} }}", ["viewer { name }"; 6].join(" "));
    let body = app.graphql(&token, &repeated, json!({})).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COSTLY"], "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Query.viewer 6 times"),
        "{body}"
    );
}

async fn a_token_over_its_budget_gets_429_with_retry_after(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[("GRAPHQL_RATE_PER_MINUTE", "6"), ("GRAPHQL_BURST", "3")],
    )
    .await;
    let token = staff_token(&app).await;
    let other = admin_token(&app).await;
    for _ in 0..3 {
        let response = app
            .post_graphql(Some(&token), "{ viewer { name } }", json!({}))
            .await;
        assert_eq!(response.status(), 200);
    }
    let response = app
        .post_graphql(Some(&token), "{ viewer { name } }", json!({}))
        .await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // Six a minute: one every ten seconds.
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_codes(&body), ["RATE_LIMITED"]);
    // Another token has its own budget.
    let response = app
        .post_graphql(Some(&other), "{ viewer { name } }", json!({}))
        .await;
    assert_eq!(response.status(), 200);
}

async fn a_request_past_its_deadline_is_stopped(backend: Backend) {
    let app = spawn_app_with(backend, &[("GRAPHQL_DEADLINE_SECS", "0.001")]).await;
    seed(
        &app.db,
        SeedPlan {
            donors: 120,
            gifts_per_donor: 8,
            funds: 3,
            pledge_every: 3,
        },
    )
    .await;
    let token = staff_token(&app).await;
    let started = std::time::Instant::now();
    let body = app
        .graphql(
            &token,
            "{ donors(first: 100) { totalCount nodes { displayName lifetimeGiving { formatted }
                gifts(first: 20) { nodes { amount { formatted } fund { name } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&body), ["DEADLINE_EXCEEDED"], "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

async fn an_answer_larger_than_the_cap_is_not_sent(backend: Backend) {
    let app = spawn_app_with(backend, &[("GRAPHQL_MAX_RESPONSE_BYTES", "1024")]).await;
    let token = staff_token(&app).await;
    ok(&app, &token, "{ viewer { name } }", json!({})).await;
    let body = app
        .graphql(
            &token,
            "{ __schema { types { name description } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&body), ["RESPONSE_TOO_LARGE"], "{body}");
}

on_both_backends!(
    a_query_costing_more_than_the_budget_is_refused_before_any_sql_runs,
    fragments_spreading_into_a_billion_fields_are_refused_at_once,
    small_pages_fit_the_budget_and_big_ones_name_their_cost,
    aliases_and_repeated_fields_are_capped,
    a_token_over_its_budget_gets_429_with_retry_after,
    a_request_past_its_deadline_is_stopped,
    an_answer_larger_than_the_cap_is_not_sent,
);
