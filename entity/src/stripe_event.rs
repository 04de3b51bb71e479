//! A Stripe event as received, with how its processing ended.

use sea_orm::entity::prelude::*;

use crate::enums::StripeEventStatus;

/// A Stripe event, recorded once in the same transaction as its effects.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub event_id: String,
    pub event_type: String,
    pub livemode: bool,
    pub stripe_created_at: DateTimeUtc,
    pub payload: Json,
    /// What processing did: "recorded gift 12", "ignored: unhandled type".
    pub outcome: String,
    pub processed_at: DateTimeUtc,
    pub status: StripeEventStatus,
    /// Why it failed, or what it waits for, in words.
    pub reason: Option<String>,
    /// The processor id it waits for: a payment intent, charge or subscription.
    pub waiting_for: Option<String>,
    /// When it was last reported as needing attention (failed, or waiting too long).
    pub warned_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
