//! String-backed enums stored in text columns (no database enum types, so the same
//! schema runs on SQLite and PostgreSQL).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* #[sea_orm(string_value = $value)] $variant),+
        }

        impl $name {
            /// The value stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $value),+ }
            }

            /// Every stored value, for CHECK constraints and error messages.
            pub const VALUES: &'static [&'static str] = &[$($value),+];

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($value => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// A person, or an organization such as a foundation, company or donor-advised fund.
    DonorKind { Individual = "individual", Organization = "organization" }
);

string_enum!(
    /// What a donor alias is: another email, or another Stripe customer.
    DonorAliasKind { Email = "email", StripeCustomer = "stripe_customer" }
);

string_enum!(
    /// The language a donor reads; receipts, emails and pages follow it.
    Language { English = "en", Spanish = "es", French = "fr", Arabic = "ar" }
);

string_enum!(
    /// How a gift was paid.
    PaymentMethod {
        Card = "card",
        Bank = "bank",
        Check = "check",
        Cash = "cash",
        Stock = "stock",
        Daf = "daf",
        Wire = "wire",
    }
);

string_enum!(
    /// Where a gift stands with the payment processor or the bank.
    GiftStatus {
        Pending = "pending",
        Succeeded = "succeeded",
        Failed = "failed",
        Refunded = "refunded",
        PartiallyRefunded = "partially_refunded",
        Disputed = "disputed",
    }
);

string_enum!(
    /// How the processing of a Stripe event ended: applied; a duplicate of what was
    /// recorded before; waiting for something it names to arrive; ignored (a type the
    /// service does not use); or failed, with its reason.
    StripeEventStatus {
        Applied = "applied",
        Duplicate = "duplicate",
        Waiting = "waiting",
        Ignored = "ignored",
        Failed = "failed",
    }
);

string_enum!(
    /// Where a refund staff asked for stands: asked of the payment processor and not yet
    /// confirmed by its event (what it asks for is held from what is left to refund);
    /// confirmed (the gift's refunded total counts it); or failed, its amount released.
    RefundRequestStatus {
        Requested = "requested",
        Confirmed = "confirmed",
        Failed = "failed",
    }
);

string_enum!(
    /// Whom a gift honors.
    TributeKind { InHonorOf = "in_honor_of", InMemoryOf = "in_memory_of" }
);

string_enum!(
    /// How often a pledge's installments fall due.
    PledgeFrequency { Monthly = "monthly", Quarterly = "quarterly", Yearly = "yearly" }
);

string_enum!(
    /// Where a pledge is paid: by card through a Stripe subscription, or by check from an envelope.
    PledgeSource { StripeSubscription = "stripe_subscription", Envelope = "envelope" }
);

string_enum!(
    /// Where a pledge stands.
    PledgeStatus {
        Active = "active",
        Paused = "paused",
        PastDue = "past_due",
        Cancelled = "cancelled",
        Completed = "completed",
    }
);

string_enum!(
    /// How an appeal reaches its audience.
    AppealChannel {
        Email = "email",
        Letter = "letter",
        Social = "social",
        Event = "event",
        Other = "other",
    }
);

string_enum!(
    /// A receipt for one gift, or a year-end statement consolidating a tax year.
    ReceiptKind { Gift = "gift", YearEndStatement = "year_end_statement" }
);

string_enum!(
    /// An issued receipt stays issued until it is voided; it is never edited.
    ReceiptStatus { Issued = "issued", Void = "void" }
);

string_enum!(
    /// Where an outbox message stands.
    OutboxStatus {
        Pending = "pending",
        Sending = "sending",
        Sent = "sent",
        Failed = "failed",
        Dead = "dead",
    }
);

string_enum!(
    /// What a staff API token may do: viewers read with contact details masked, staff
    /// read and write donors, gifts and pledges, admins also manage tiers, funds and tokens.
    StaffRole { Viewer = "viewer", Staff = "staff", Admin = "admin" }
);

impl StaffRole {
    /// Whether this role includes everything `needed` may do.
    pub fn allows(self, needed: StaffRole) -> bool {
        self.rank() >= needed.rank()
    }

    fn rank(self) -> u8 {
        match self {
            StaffRole::Viewer => 0,
            StaffRole::Staff => 1,
            StaffRole::Admin => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_below() {
        assert!(StaffRole::Admin.allows(StaffRole::Staff));
        assert!(StaffRole::Staff.allows(StaffRole::Viewer));
        assert!(!StaffRole::Viewer.allows(StaffRole::Staff));
        assert!(!StaffRole::Staff.allows(StaffRole::Admin));
    }

    #[test]
    fn stored_values_round_trip() {
        for value in GiftStatus::VALUES {
            assert_eq!(
                GiftStatus::parse(value).map(GiftStatus::as_str),
                Some(*value)
            );
        }
        assert_eq!(Language::parse("xx"), None);
    }
}

string_enum!(
    /// Where staff stand on what a checkout said differently about its donor: not yet
    /// seen, applied to the donor, or left aside.
    CheckoutChoicesStatus { Pending = "pending", Accepted = "accepted", Dismissed = "dismissed" }
);
