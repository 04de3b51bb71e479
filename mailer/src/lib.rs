//! Everything about email: the outbox that other code writes messages into (inside its
//! own transaction), the templates that render each kind of message in the donor's
//! language, the receipts' documents (text, HTML and the typeset PDF they attach), the
//! transports, and the worker that delivers them.

pub mod bidi;
pub mod config;
pub mod database;
pub mod documents;
pub mod links;
pub mod memory;
pub mod outbox;
pub mod templates;
pub mod transport;
pub mod worker;

pub use worker::{BatchReport, Worker};
