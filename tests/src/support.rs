//! The test harness: each test starts the real server on a random port with a fresh
//! database, either a new SQLite file in a temporary folder or a new PostgreSQL
//! database (uniquely named, dropped afterwards).

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use api::config::Config;
use api::domain::{Actor, tokens};
use api::server::Application;
use entity::enums::StaffRole;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

/// Runs an `async fn(Backend)` test once on SQLite and once on PostgreSQL, as
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::support::postgres_available().await {
                        super::$name($crate::support::Backend::Postgres).await
                    }
                }
            }
        )+
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether PostgreSQL answers. Without it, PostgreSQL runs are skipped with a visible
/// line, except under `CI=true`, where that is a failure.
pub async fn postgres_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    if let Some(available) = AVAILABLE.get() {
        return *available;
    }
    let url = postgres_admin_url();
    let reachable = match Database::connect(url.as_str()).await {
        Ok(db) => {
            let ok = db.execute_unprepared("SELECT 1").await.is_ok();
            let _ = db.close().await;
            ok
        }
        Err(_) => false,
    };
    if !reachable {
        assert!(
            !in_ci(),
            "PostgreSQL is not reachable at {url} and CI=true: PostgreSQL runs are required in CI"
        );
    }
    if AVAILABLE.set(reachable).is_ok() && !reachable {
        // Written straight to the terminal: the test harness captures print! output.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** PostgreSQL is not reachable at {url}: the PostgreSQL runs of the integration tests were SKIPPED. Set TEST_POSTGRES_URL to run them. ***\n"
        );
    }
    reachable
}

/// While one transaction is open, another is given this long to run until it ends or
/// waits for the first.
pub const OTHER_TRANSACTION_RUNS: std::time::Duration = std::time::Duration::from_millis(300);

/// Gives `task`, just started beside an open transaction that writes, time to run until
/// it ends or waits for that transaction, so that what it waits for is decided before the
/// test goes on. PostgreSQL is asked until it shows a session of the test's database
/// waiting on a lock, however long a busy machine takes to get there; on SQLite the
/// writers of one process wait for their turn in the order they asked, and `task` is given
/// a moment to ask.
pub async fn until_finished_or_waiting<T>(
    db: &DatabaseConnection,
    task: &tokio::task::JoinHandle<T>,
) {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        tokio::time::sleep(OTHER_TRANSACTION_RUNS).await;
        return;
    }
    for _ in 0..1_200 {
        if task.is_finished() || lock_waiters(db).await > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the task neither finished nor waited on a lock within a minute");
}

/// How many sessions of the test's PostgreSQL database wait on a lock.
pub async fn lock_waiters(db: &DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS waiting FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        ))
        .await
        .expect("pg_stat_activity reads")
        .expect("a count");
    row.try_get("", "waiting").expect("a count of sessions")
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    postgres_name: Option<String>,
    _dir: tempfile::TempDir,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> TestDatabase {
        let dir = tempfile::tempdir().expect("temporary folder");
        match backend {
            Backend::Sqlite => TestDatabase {
                url: format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("giving.db").display()
                ),
                postgres_name: None,
                _dir: dir,
            },
            Backend::Postgres => {
                let name = format!("giving_test_{}", uuid::Uuid::new_v4().simple());
                let admin_url = postgres_admin_url();
                let admin = Database::connect(admin_url.as_str())
                    .await
                    .expect("connect to PostgreSQL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create the test database");
                let _ = admin.close().await;
                let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
                url.set_path(&name);
                TestDatabase {
                    url: url.to_string(),
                    postgres_name: Some(name),
                    _dir: dir,
                }
            }
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread
        // with its own runtime drops the database.
        let admin_url = postgres_admin_url();
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(admin) = Database::connect(admin_url.as_str()).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// The running server and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub db: DatabaseConnection,
    pub client: reqwest::Client,
    /// Kept so that the database lives as long as the server.
    pub _database: TestDatabase,
}

/// Builds the configuration a test server runs with: every default, a fresh database,
/// a random port, mail into the test's folder, and no mailer thread (tests drive it).
pub fn test_config(database: &TestDatabase, overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DATABASE_URL".into(), database.url.clone());
    vars.insert("LISTEN_ADDR".into(), "127.0.0.1:0".into());
    vars.insert(
        "MAIL_DIR".into(),
        database.dir().join("mail").display().to_string(),
    );
    vars.insert("MAILER_IN_PROCESS".into(), "false".into());
    // Tests send many requests with one token; the budget test sets its own.
    vars.insert("GRAPHQL_RATE_PER_MINUTE".into(), "1000000".into());
    vars.insert("GRAPHQL_BURST".into(), "1000000".into());
    for (key, value) in overrides {
        vars.insert((*key).to_owned(), (*value).to_owned());
    }
    Config::from_sources(None, move |name| vars.get(name).cloned()).expect("test configuration")
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

pub async fn spawn_app_with(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    let database = TestDatabase::create(backend).await;
    let config = test_config(&database, overrides);
    let application = Application::build(config).await.expect("the server starts");
    let port = application.port();
    let db = application.db().clone();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        db,
        client: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client"),
        _database: database,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a token the way `api token create` does and returns its secret.
    pub async fn token(&self, role: StaffRole) -> String {
        self.named_token(role, &format!("test-{role}")).await
    }

    pub async fn named_token(&self, role: StaffRole, name: &str) -> String {
        tokens::create_token(&self.db, name, role, &Actor::cli())
            .await
            .expect("token created")
            .secret
    }

    /// Posts a GraphQL request with a bearer token; returns the HTTP response.
    pub async fn post_graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    /// Runs a GraphQL request that must be answered with 200 and returns its JSON body.
    pub async fn graphql(&self, token: &str, query: &str, variables: Value) -> Value {
        let response = self.post_graphql(Some(token), query, variables).await;
        assert_eq!(
            response.status(),
            200,
            "GraphQL answered with HTTP {}",
            response.status()
        );
        response.json().await.expect("a JSON body")
    }
}

/// The `extensions.code` of each error in a GraphQL response.
pub fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["extensions"]["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
