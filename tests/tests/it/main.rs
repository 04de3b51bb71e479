//! Integration tests: every test starts the real server, and runs on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod amounts;
mod auth;
mod bench_data;
mod checkout;
mod checkout_defences;
mod club;
mod constraints;
mod demo;
mod donate_browser;
mod event_orders;
mod gifts;
mod headers;
mod health;
mod hostile;
mod hostile_names;
mod mailer;
mod migrations;
mod outbox;
mod receipts;
mod reconciliation;
mod staff_api;
mod staff_entries;
mod startup;
mod stripe_requests;
