//! Everything about email: the outbox that other code writes messages into (inside its
//! own transaction), the templates that render each kind of message in the donor's
//! language, the transports, and the worker that delivers them.

pub mod config;
pub mod links;
pub mod outbox;
pub mod templates;
pub mod transport;
pub mod worker;

pub use worker::{BatchReport, Worker};
