//! The giving service: the staff GraphQL API, the donation pages, Stripe webhooks and
//! the command line, over one database (SQLite or PostgreSQL).

pub mod backup;
pub mod bench_data;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod graphql;
pub mod metrics;
pub mod read_cache;
pub mod server;
pub mod stripe;
pub mod telemetry;
pub mod web;
