//! Start-up refuses bad configuration with a message naming what is wrong.

use api::config::Config;
use api::server::Application;

use tests::on_both_backends;
use tests::support::{Backend, TestDatabase, test_config};

#[test]
fn a_bad_setting_names_its_variable() {
    let result = Config::from_sources(None, |name| (name == "ORG_EIN").then(|| "12345".to_owned()));
    let error = result.expect_err("a malformed EIN is refused");
    assert_eq!(error.variable, "ORG_EIN");
    assert!(error.to_string().contains("ORG_EIN"));
}

#[test]
fn a_config_file_that_cannot_be_read_names_the_file() {
    let error = Config::load(Some("/nonexistent/giving.toml".into())).expect_err("missing file");
    assert_eq!(error.variable, "CONFIG_FILE");
    assert!(error.reason.contains("/nonexistent/giving.toml"));
}

/// The start-up message for a database URL: it must name the setting and never echo a
/// credential.
async fn start_up_message(database_url: &str) -> String {
    let url = database_url.to_owned();
    let config = Config::from_sources(None, move |name| match name {
        "DATABASE_URL" => Some(url.clone()),
        "LISTEN_ADDR" => Some("127.0.0.1:0".to_owned()),
        _ => None,
    })
    .unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("hunter2"),
        "no credentials in the configuration: {debug}"
    );
    let error = Application::build(config)
        .await
        .err()
        .expect("start-up fails");
    format!("{error:#}")
}

#[tokio::test]
async fn an_unreachable_database_stops_start_up_with_a_clear_message() {
    let message = start_up_message("postgres://giving:hunter2secret@127.0.0.1:1/giving").await;
    assert!(
        message.contains("cannot connect to the database"),
        "{message}"
    );
    assert!(message.contains("DATABASE_URL"), "{message}");
    assert!(
        !message.contains("hunter2secret"),
        "no credentials in the message: {message}"
    );
}

#[tokio::test]
async fn a_database_url_that_cannot_be_read_is_named_never_echoed() {
    for url in [
        // An unescaped `#` ends the authority: the URL cannot be parsed.
        "postgres://giving:hunter2#secret@127.0.0.1:1/giving",
        "postgres://giving@127.0.0.1:1/giving?password=hunter2secret",
        "postgres://giving:hun/ter2secret@127.0.0.1:1/giving",
    ] {
        let message = start_up_message(url).await;
        assert!(message.contains("DATABASE_URL"), "{message}");
        assert!(!message.contains("hunter2"), "{url} leaked: {message}");
        assert!(!message.contains("secret"), "{url} leaked: {message}");
    }
}

async fn a_port_already_in_use_names_listen_addr(backend: Backend) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let database = TestDatabase::create(backend).await;
    let config = test_config(&database, &[("LISTEN_ADDR", &address)]);
    let error = Application::build(config)
        .await
        .err()
        .expect("start-up fails");
    assert!(format!("{error:#}").contains("LISTEN_ADDR"));
}

on_both_backends!(a_port_already_in_use_names_listen_addr);

/// The load suite answers `--help` and `--version` without seeding or serving anything.
#[test]
fn the_load_suite_answers_help_and_version_without_side_effects() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("must-not-exist.db");
    for (arg, expected) in [
        ("--help", "Usage: load"),
        ("--version", concat!("load ", env!("CARGO_PKG_VERSION"))),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_load"))
            .arg(arg)
            .env_clear()
            .env(
                "DATABASE_URL",
                format!("sqlite://{}?mode=rwc", database.display()),
            )
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{arg}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains(expected),
            "{arg}"
        );
        assert!(!database.exists(), "{arg} opened a database");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{arg} wrote files"
        );
    }
}
