//! The tables as sea-orm entities, and the value types their columns hold.
//!
//! Entities carry no behaviour beyond their value types; the domain lives in `api`.

pub mod email;
pub mod enums;
pub mod money;
pub mod translations;

pub mod api_token;
pub mod appeal;
pub mod audit_log;
pub mod campaign;
pub mod checkout_choices;
pub mod created_checkout_session;
pub mod donor;
pub mod donor_alias;
pub mod fund;
pub mod gift;
pub mod giving_tier;
pub mod outbox;
pub mod pledge;
pub mod pledge_change_request;
pub mod receipt;
pub mod receipt_counter;
pub mod refund_request;
pub mod segment;
pub mod stripe_dispute;
pub mod stripe_event;
pub mod stripe_refund_failure;
pub mod tier_membership;

pub use email::{EmailAddress, EmailError};
pub use money::{Currency, MAX_AMOUNT_MINOR, Money, MoneyError, NumberStyle, format_minor};
pub use translations::{DEFAULT_LANGUAGE, TranslatedField, Translations, localized};
