//! A Stripe refund of a gift's charge that failed after it was made.

use sea_orm::entity::prelude::*;

/// One failed refund: its amount went back to the charge. Kept so that a
/// `charge.refunded` total made while the refund still stood, delivered later, is read
/// without it. A failed refund stays failed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_refund_failures")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub refund_id: String,
    pub gift_id: i64,
    pub amount_minor: i64,
    /// When Stripe made the refund, and when it said the refund failed.
    pub refund_created_at: DateTimeUtc,
    pub failed_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
