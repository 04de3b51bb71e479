//! The test harness shared by the integration tests (`tests/it`) and the benchmarks
//! (`benches`): it starts the real server on a random port with a fresh SQLite or
//! PostgreSQL database.
// Test support: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
pub mod fake_stripe;
pub mod pdf;
pub mod seed;
pub mod smtp;
pub mod stripe;
pub mod support;

pub use support::{
    Backend, TestApp, TestDatabase, error_codes, spawn_app, spawn_app_with, test_config,
};
