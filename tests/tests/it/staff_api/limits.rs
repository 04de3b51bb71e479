//! Safety limits: query depth, introspection that can be switched off, and a code on
//! every error, even those the GraphQL engine raises itself.

use serde_json::json;
use tests::on_both_backends;
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
