//! The `api` program as an operator runs it: `--help` and `--version` touch nothing,
//! `check-config` names what production still lacks, and `serve` warns while receipts
//! are samples and stops cleanly on SIGTERM and SIGINT; it allocates through jemalloc,
//! its C code included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A fresh, empty folder for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("api-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `api` with only the given variables, and DATABASE_URL at a file that must not be
/// made unless the command needs a database.
fn api(scratch: &Scratch, args: &[&str], variables: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_api"));
    command
        .args(args)
        .env_clear()
        .env("DATABASE_URL", database_url(scratch))
        .env("MAIL_DIR", scratch.path().join("mail"));
    for (name, value) in variables {
        command.env(name, value);
    }
    command
}

fn database_url(scratch: &Scratch) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        scratch.path().join("giving.db").display()
    )
}

fn untouched(scratch: &Scratch) -> bool {
    !scratch.path().join("giving.db").exists() && !scratch.path().join("mail").exists()
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const PRODUCTION: &[(&str, &str)] = &[
    ("STRIPE_SECRET_KEY", "sk_live_0123456789"),
    ("STRIPE_WEBHOOK_SECRET", "whsec_0123456789"),
    ("SMTP_URL", "smtp://mail.example.org:587?tls=required"),
    (
        "DOWNLOAD_LINK_KEY",
        "a-link-key-long-enough-to-sign-the-links-0123",
    ),
    ("ORG_LEGAL_NAME", "Coalition for Humane Immigrant Rights"),
    ("ORG_EIN", "95-4123456"),
    ("ORG_ADDRESS", "2533 W. 3rd Street, Los Angeles, CA 90057"),
];

#[test]
fn help_and_version_touch_nothing() {
    let scratch = Scratch::new();
    for (args, expected) in [
        (&["--help"][..], "Usage: api"),
        (&["-h"][..], "Usage: api"),
        (&["serve", "--help"][..], "Usage: api serve"),
        (&["check-config", "--help"][..], "Usage: api check-config"),
        (
            &["--version"][..],
            concat!("api ", env!("CARGO_PKG_VERSION")),
        ),
        (&["-V"][..], concat!("api ", env!("CARGO_PKG_VERSION"))),
    ] {
        let output = api(&scratch, args, &[]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", said(&output));
        assert!(
            said(&output).contains(expected),
            "{args:?}: {}",
            said(&output)
        );
        assert!(untouched(&scratch), "{args:?} opened the database");
    }
}

#[test]
fn check_config_names_each_missing_production_setting() {
    let scratch = Scratch::new();

    let output = api(&scratch, &["check-config"], &[]).output().unwrap();

    assert_eq!(output.status.code(), Some(1), "{}", said(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for variable in [
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "SMTP_URL",
        "DOWNLOAD_LINK_KEY",
        "ORG_LEGAL_NAME",
        "ORG_EIN",
        "ORG_ADDRESS",
    ] {
        assert!(
            stdout.contains(&format!("missing {variable}")),
            "{variable}: {stdout}"
        );
    }
    assert!(untouched(&scratch));
}

#[test]
fn check_config_names_only_what_is_missing() {
    let scratch = Scratch::new();
    let without_smtp: Vec<(&str, &str)> = PRODUCTION
        .iter()
        .copied()
        .filter(|(name, _)| *name != "SMTP_URL")
        .collect();

    let output = api(&scratch, &["check-config"], &without_smtp)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1), "{}", said(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("missing SMTP_URL"), "{stdout}");
}

#[test]
fn check_config_passes_when_everything_is_set() {
    let scratch = Scratch::new();

    let output = api(&scratch, &["check-config"], PRODUCTION)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert!(!said(&output).contains("missing"), "{}", said(&output));
    assert!(untouched(&scratch));
}

/// Starts `api serve` on a free port, waits until it serves, stops it with `signal`,
/// and returns its exit code and everything it logged.
fn serve_then_stop(variables: &[(&str, &str)], signal: &str) -> (Option<i32>, String) {
    let scratch = Scratch::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = scratch.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut child = api(&scratch, &["serve"], variables)
        .env("LISTEN_ADDR", &listen)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(&listen).is_err() {
        if started.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("api serve did not start: {}", read(&log_path));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut health = std::net::TcpStream::connect(&listen).unwrap();
    health
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = health.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let stopping = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if stopping.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("api serve did not stop on SIG{signal}: {}", read(&log_path));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (code, read(&log_path))
}

fn read(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

#[test]
fn serve_warns_that_receipts_are_samples_until_the_organization_is_named() {
    let (code, log) = serve_then_stop(&[], "TERM");

    assert_eq!(code, Some(0), "{log}");
    let warning = log
        .lines()
        .find(|line| line.contains("WARN") && line.contains("marked as a sample"))
        .unwrap_or_else(|| panic!("a warning at start-up: {log}"));
    for variable in ["ORG_LEGAL_NAME", "ORG_EIN", "ORG_ADDRESS"] {
        assert!(warning.contains(variable), "{warning}");
    }
}

#[test]
fn serve_with_the_organization_named_does_not_warn_and_stops_on_sigint() {
    let (code, log) = serve_then_stop(PRODUCTION, "INT");

    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("marked as a sample"), "{log}");
    let lines: Vec<&str> = log.lines().collect();
    let answered = lines
        .iter()
        .position(|line| line.contains("/healthz") && line.contains("status=200"))
        .unwrap_or_else(|| panic!("the request's line: {log}"));
    let stopped = lines
        .iter()
        .position(|line| line.contains("stopped"))
        .unwrap_or_else(|| panic!("the last line, written out as the program ends: {log}"));
    assert!(answered < stopped, "{log}");
}

#[test]
fn api_and_its_c_code_allocate_through_jemalloc() {
    // Only a jemalloc that answers to `malloc` itself (so serves SQLite too) reads
    // MALLOC_CONF and, asked to, prints its statistics at exit, the settings built into
    // it among them; glibc's ignores the variable.
    let scratch = Scratch::new();
    let output = api(
        &scratch,
        &["--version"],
        &[("MALLOC_CONF", "stats_print:true")],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    let statistics = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "Begin jemalloc statistics",
        "opt.narenas: 2\n",
        "opt.dirty_decay_ms: 1000 ",
        "opt.muzzy_decay_ms: 0 ",
    ] {
        assert!(statistics.contains(expected), "{expected}: {statistics}");
    }
}
