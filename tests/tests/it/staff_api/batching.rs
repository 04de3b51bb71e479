//! Batched loading: a page of donors with their tier, recent gifts and active pledges
//! costs the same few SQL statements whatever the page size.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use api::server::Application;
use entity::enums::StaffRole;
use migration::{Migrator, MigratorTrait};
use serde_json::json;
use tests::on_both_backends;
use tests::seed::{SeedPlan, seed};
use tests::support::{Backend, TestApp, TestDatabase, test_config};

/// Starts the server on a connection that counts every statement it runs.
async fn spawn_counting_app(backend: Backend) -> (TestApp, Arc<AtomicUsize>) {
    spawn_counting_app_with(backend, &[]).await
}

/// The same, with settings of the test's own. The counter counts every statement but
/// the staff token check.
pub(crate) async fn spawn_counting_app_with(
    backend: Backend,
    overrides: &[(&str, &str)],
) -> (TestApp, Arc<AtomicUsize>) {
    let statements = Arc::new(AtomicUsize::new(0));
    let counter = statements.clone();
    let app = spawn_observed_app(backend, overrides, move |sql| {
        counter.fetch_add(1, Ordering::SeqCst);
        if std::env::var("SHOW_SQL").is_ok() {
            eprintln!("SQL {}", sql.chars().take(150).collect::<String>());
        }
    })
    .await;
    (app, statements)
}

/// Starts the server on a connection that keeps the text of every statement it runs
/// (but the staff token check), in the order they ran.
pub(crate) async fn spawn_recording_app_with(
    backend: Backend,
    overrides: &[(&str, &str)],
) -> (TestApp, Arc<Mutex<Vec<String>>>) {
    let statements = Arc::new(Mutex::new(Vec::new()));
    let recorder = statements.clone();
    let app = spawn_observed_app(backend, overrides, move |sql| {
        recorder.lock().unwrap().push(sql.to_owned());
    })
    .await;
    (app, statements)
}

/// Starts the server on a connection that hands `observe` every statement it runs but
/// the staff token check.
async fn spawn_observed_app(
    backend: Backend,
    overrides: &[(&str, &str)],
    observe: impl Fn(&str) + Send + Sync + 'static,
) -> TestApp {
    let database = TestDatabase::create(backend).await;
    let config = test_config(&database, overrides);
    let mut db = api::db::connect(&config.database_url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    db.set_metric_callback(move |info| {
        // The token check is left out: whether a request looks its token up depends on a
        // cache that other tests in this process can clear at any moment.
        if info.statement.sql.contains("api_tokens") {
            return;
        }
        observe(&info.statement.sql);
    });
    let application = Application::build_with_db(config, db.clone()).unwrap();
    let port = application.port();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        db,
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        _database: database,
    }
}

const PAGE: &str = "query($first: Int!) { donors(first: $first, orderBy: { field: LIFETIME_GIVING, direction: DESC }) {
    totalCount edges { node { displayName email lifetimeGiving { formatted } thisYearGiving { amountMinor }
        currentTier { name threshold { formatted } }
        recentGifts(count: 5) { amount { formatted } receivedAt fund { name } }
        activePledges { installment { formatted } frequency fund { name } } } } } }";

async fn statements_for_a_page(
    app: &TestApp,
    statements: &AtomicUsize,
    token: &str,
    size: usize,
) -> usize {
    let before = statements.load(Ordering::SeqCst);
    let body = app.graphql(token, PAGE, json!({ "first": size })).await;
    assert!(body.get("errors").is_none(), "{}", body["errors"]);
    let edges = body["data"]["donors"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), size);
    let with_tier = edges
        .iter()
        .filter(|e| !e["node"]["currentTier"].is_null())
        .count();
    assert!(with_tier > 0);
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["recentGifts"].as_array().unwrap().len() == 5)
    );
    statements.load(Ordering::SeqCst) - before
}

/// A counting server with `plan` seeded, and a staff token.
async fn seeded_counting_app(
    backend: Backend,
    plan: SeedPlan,
) -> (TestApp, Arc<AtomicUsize>, String) {
    let (app, statements) = spawn_counting_app(backend).await;
    seed(&app.db, plan).await;
    let token = app.token(StaffRole::Staff).await;
    (app, statements, token)
}

/// A page of 100 takes at most `most` statements, and no more than a page of 10.
fn assert_page_cost(what: &str, ten: usize, hundred: usize, most: usize) {
    assert!(hundred <= most, "100 {what} took {hundred} statements");
    assert!(
        hundred <= ten,
        "10 {what} took {ten} statements, 100 took {hundred}"
    );
}

async fn a_page_of_100_donors_runs_a_small_constant_number_of_statements(backend: Backend) {
    let plan = SeedPlan {
        donors: 150,
        gifts_per_donor: 8,
        funds: 4,
        pledge_every: 3,
    };
    let (app, statements, token) = seeded_counting_app(backend, plan).await;
    let ten = statements_for_a_page(&app, &statements, &token, 10).await;
    let hundred = statements_for_a_page(&app, &statements, &token, 100).await;
    // The token check, the count, the page, then one statement per loader: gifts,
    // tier memberships, tiers, active pledges, funds. (The first request may also
    // note when the token was last used.)
    assert_page_cost("donors", ten, hundred, 8);
}

on_both_backends!(a_page_of_100_donors_runs_a_small_constant_number_of_statements);

const GIFTS: &str = "query($first: Int!) { gifts(first: $first) {
    edges { node { amount { formatted } donor { id displayName } fund { name } } }
    nodes { donor { displayName } } } }";

/// Reads a page of gifts with their donors and funds, and returns the statements it took.
async fn statements_for_gifts(
    app: &TestApp,
    statements: &AtomicUsize,
    token: &str,
    size: usize,
) -> usize {
    let before = statements.load(Ordering::SeqCst);
    let body = app.graphql(token, GIFTS, json!({ "first": size })).await;
    assert!(body.get("errors").is_none(), "{}", body["errors"]);
    let edges = body["data"]["gifts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), size);
    for edge in edges {
        assert!(edge["node"]["donor"]["displayName"].is_string(), "{edge}");
        assert!(edge["node"]["fund"]["name"].is_string(), "{edge}");
    }
    let donors: std::collections::HashSet<_> = edges
        .iter()
        .map(|e| e["node"]["donor"]["id"].clone())
        .collect();
    assert!(donors.len() > 1, "the page should span several donors");
    statements.load(Ordering::SeqCst) - before
}

async fn a_page_of_gifts_with_their_donors_and_funds_runs_one_statement_per_kind(backend: Backend) {
    let plan = SeedPlan {
        donors: 60,
        gifts_per_donor: 3,
        funds: 4,
        pledge_every: 3,
    };
    let (app, statements, token) = seeded_counting_app(backend, plan).await;
    let ten = statements_for_gifts(&app, &statements, &token, 10).await;
    let hundred = statements_for_gifts(&app, &statements, &token, 100).await;
    // The count, the page, the donors, the funds (and, the first time, when the token
    // was last used).
    assert_page_cost("gifts", ten, hundred, 4);
}

on_both_backends!(a_page_of_gifts_with_their_donors_and_funds_runs_one_statement_per_kind);

const ONE_DONOR: &str = "query($id: ID!) { donor(id: $id) { displayName
    lifetimeGiving { amountMinor } largestGift { amount { amountMinor } } currentTier { name }
    activePledges { installment { formatted } fund { name } }
    gifts(first: 20) { totalCount edges { node { amount { amountMinor } fund { name } } } } } }";

async fn one_donor_with_history_tier_and_pledges_runs_one_statement_per_kind(backend: Backend) {
    let plan = SeedPlan {
        donors: 30,
        gifts_per_donor: 6,
        funds: 4,
        pledge_every: 1,
    };
    let (app, statements, token) = seeded_counting_app(backend, plan).await;
    let listed = app
        .graphql(
            &token,
            "{ donors(first: 30) { edges { node { id lifetimeGiving { amountMinor } currentTier { name } } } } }",
            json!({}),
        )
        .await;
    let edges = listed["data"]["donors"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 30, "{listed}");
    for edge in edges {
        let id = edge["node"]["id"].clone();
        let before = statements.load(Ordering::SeqCst);
        let body = app.graphql(&token, ONE_DONOR, json!({ "id": id })).await;
        let taken = statements.load(Ordering::SeqCst) - before;
        assert!(body.get("errors").is_none(), "{}", body["errors"]);
        let donor = &body["data"]["donor"];
        // The donor, its gifts, its open membership, the tier, its pledges, the funds.
        assert!(taken <= 6, "one donor took {taken} statements");
        assert_eq!(donor["lifetimeGiving"], edge["node"]["lifetimeGiving"]);
        assert_eq!(donor["currentTier"], edge["node"]["currentTier"]);
        let gifts = donor["gifts"]["edges"].as_array().unwrap();
        assert_eq!(donor["gifts"]["totalCount"], 6);
        assert_eq!(gifts.len(), 6);
        assert!(gifts.iter().all(|g| g["node"]["fund"]["name"].is_string()));
        let largest = gifts
            .iter()
            .map(|g| g["node"]["amount"]["amountMinor"].as_i64().unwrap())
            .max();
        assert_eq!(
            donor["largestGift"]["amount"]["amountMinor"].as_i64(),
            largest,
            "{donor}"
        );
        let pledges = donor["activePledges"].as_array().unwrap();
        assert!(pledges.iter().all(|p| p["fund"]["name"].is_string()));
    }
}

on_both_backends!(one_donor_with_history_tier_and_pledges_runs_one_statement_per_kind);
