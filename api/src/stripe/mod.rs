//! Stripe: the API client, Checkout Sessions, webhook verification, and reading events
//! into the domain's plain inputs. Only this module knows Stripe's types and field names.

pub mod checkout;
pub mod client;
pub mod events;
pub mod lookups;
pub mod processor;
pub mod reconcile;
pub mod refunds;
pub mod signature;
pub mod subscriptions;
pub mod webhook;

pub use client::{StripeClient, StripeFailure};
