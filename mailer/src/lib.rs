//! Everything about email: the outbox that other code writes messages into (inside its
//! own transaction), and the worker that delivers them.

pub mod outbox;
