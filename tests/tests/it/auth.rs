use api::domain::{Actor, tokens};
use entity::api_token;
use entity::enums::StaffRole;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use tests::on_both_backends;
use tests::support::{Backend, TestApp, error_codes, spawn_app, spawn_app_with};

const VIEWER_QUERY: &str = "{ viewer { name role } }";

async fn assert_unauthenticated(response: reqwest::Response) {
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    assert!(
        body.get("data").is_none(),
        "no data without a token: {body}"
    );
}

async fn graphql_without_a_token_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_unauthenticated(app.post_graphql(None, VIEWER_QUERY, json!({})).await).await;
}

async fn graphql_with_an_unknown_or_malformed_token_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    for token in [
        "gvt_0000000000000000000000000000000000000000000000000000000000000000",
        "nonsense",
        "",
    ] {
        assert_unauthenticated(app.post_graphql(Some(token), VIEWER_QUERY, json!({})).await).await;
    }
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .json(&json!({ "query": VIEWER_QUERY }))
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
}

async fn a_created_token_works_and_is_stored_only_as_a_hash(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = tokens::create_token(
        &app.db,
        "maria-development",
        StaffRole::Staff,
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert!(created.secret.starts_with("gvt_"));

    let body = app.graphql(&created.secret, VIEWER_QUERY, json!({})).await;
    assert_eq!(
        body["data"]["viewer"],
        json!({ "name": "maria-development", "role": "STAFF" })
    );

    let stored = api_token::Entity::find_by_id(created.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.token_hash, created.secret);
    assert_eq!(stored.token_hash, tokens::hash_token(&created.secret));
    assert!(stored.last_used_at.is_some(), "use is recorded");
}

async fn a_revoked_token_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = tokens::create_token(&app.db, "temp", StaffRole::Admin, &Actor::cli())
        .await
        .unwrap();
    app.graphql(&created.secret, VIEWER_QUERY, json!({})).await;

    tokens::revoke_token(&app.db, created.id, &Actor::cli())
        .await
        .unwrap();
    assert_unauthenticated(
        app.post_graphql(Some(&created.secret), VIEWER_QUERY, json!({}))
            .await,
    )
    .await;

    let again = tokens::revoke_token(&app.db, created.id, &Actor::cli()).await;
    assert!(again.is_err(), "revoking twice is refused");
}

async fn a_token_revoked_through_the_api_is_refused_at_once(backend: Backend) {
    // A cache lifetime far longer than the test: only the eviction can refuse it.
    let app = spawn_app_with(backend, &[("READ_CACHE_SECS", "60")]).await;
    let admin = app.token(StaffRole::Admin).await;
    let created = tokens::create_token(&app.db, "temp", StaffRole::Staff, &Actor::cli())
        .await
        .unwrap();
    app.graphql(&created.secret, VIEWER_QUERY, json!({})).await;

    let body = app
        .graphql(
            &admin,
            "mutation($id: ID!) { revokeToken(input: { id: $id }) { id } }",
            json!({ "id": created.id.to_string() }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");

    assert_unauthenticated(
        app.post_graphql(Some(&created.secret), VIEWER_QUERY, json!({}))
            .await,
    )
    .await;
}

/// What another process sharing the database (the command line) does to a token: it
/// sends this server no word of it.
async fn revoke_elsewhere(app: &TestApp, token_id: i64) {
    api_token::Entity::update_many()
        .col_expr(
            api_token::Column::RevokedAt,
            Expr::value(chrono::Utc::now()),
        )
        .filter(api_token::Column::Id.eq(token_id))
        .exec(&app.db)
        .await
        .unwrap();
}

/// Within a lifetime a revocation made elsewhere is not seen: that bound is a unit test of
/// `read_cache` with the clock passed in (a copy is fresh until its lifetime has passed).
async fn a_revocation_by_another_process_is_seen_within_the_cache_lifetime(backend: Backend) {
    // With no lifetime, the server checks the database on every request.
    let app = spawn_app_with(backend, &[("READ_CACHE_SECS", "0")]).await;
    let created = tokens::create_token(&app.db, "temp", StaffRole::Staff, &Actor::cli())
        .await
        .unwrap();
    app.graphql(&created.secret, VIEWER_QUERY, json!({})).await;
    revoke_elsewhere(&app, created.id).await;
    assert_unauthenticated(
        app.post_graphql(Some(&created.secret), VIEWER_QUERY, json!({}))
            .await,
    )
    .await;
}

async fn a_token_needs_a_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let result = tokens::create_token(&app.db, "   ", StaffRole::Viewer, &Actor::cli()).await;
    assert!(
        matches!(result, Err(api::domain::DomainError::Validation { ref field, .. }) if field == "name")
    );
}

async fn viewers_see_donor_contact_details_masked(backend: Backend) {
    let app = spawn_app(backend).await;
    api::demo::seed_demo(&app.db).await.unwrap();
    let query = r#"{ donor(id: "2") { displayName email addressLine1 } }"#;

    let staff = app
        .graphql(&app.token(StaffRole::Staff).await, query, json!({}))
        .await;
    let viewer = app
        .graphql(&app.token(StaffRole::Viewer).await, query, json!({}))
        .await;

    let full_email = staff["data"]["donor"]["email"].as_str().unwrap();
    let masked_email = viewer["data"]["donor"]["email"].as_str().unwrap();
    assert!(full_email.ends_with("@demo.example.org"));
    assert!(
        masked_email.contains('•')
            && !masked_email.contains(&full_email[1..full_email.find('@').unwrap()])
    );
    assert!(staff["data"]["donor"]["addressLine1"].is_string());
    assert!(viewer["data"]["donor"]["addressLine1"].is_null());
    assert_eq!(
        staff["data"]["donor"]["displayName"],
        viewer["data"]["donor"]["displayName"]
    );
}

async fn bad_ids_and_unknown_donors_get_coded_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token(StaffRole::Staff).await;
    let body = app
        .graphql(&token, r#"{ a: donor(id: "abc") { id } b: donor(id: "-4") { id } c: donor(id: "999999") { id } }"#, json!({}))
        .await;
    assert_eq!(
        error_codes(&body),
        ["BAD_USER_INPUT", "BAD_USER_INPUT", "NOT_FOUND"]
    );
    assert_eq!(body["errors"][0]["extensions"]["field"], "id");
}

async fn batched_and_oversized_requests_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token(StaffRole::Viewer).await;
    let batch = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&json!([{ "query": VIEWER_QUERY }, { "query": VIEWER_QUERY }]))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), 400);

    let huge = "x".repeat(api::server::MAX_BODY_BYTES + 1);
    let oversized = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": huge }))
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), 413);
}

async fn the_console_loads_without_a_token_and_without_outside_scripts(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/graphql").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<textarea"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no outside assets"
    );
    // The query the console opens with runs as it stands, for the lowest role.
    let opening = "<textarea id=\"query\" spellcheck=\"false\">";
    let start = html.find(opening).unwrap() + opening.len();
    let sample = &html[start..start + html[start..].find("</textarea>").unwrap()];
    let viewer = app.token(StaffRole::Viewer).await;
    let body = app.graphql(&viewer, sample, json!({})).await;
    assert!(body.get("errors").is_none(), "{sample}\n{body}");
}

on_both_backends!(
    graphql_without_a_token_is_401,
    graphql_with_an_unknown_or_malformed_token_is_401,
    a_created_token_works_and_is_stored_only_as_a_hash,
    a_revoked_token_is_401,
    a_token_revoked_through_the_api_is_refused_at_once,
    a_revocation_by_another_process_is_seen_within_the_cache_lifetime,
    a_token_needs_a_name,
    viewers_see_donor_contact_details_masked,
    bad_ids_and_unknown_donors_get_coded_errors,
    batched_and_oversized_requests_are_refused,
    the_console_loads_without_a_token_and_without_outside_scripts,
);
