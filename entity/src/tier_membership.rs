use sea_orm::entity::prelude::*;

/// A donor's time in a tier: joined, and left (with why). At most one open row per donor.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tier_memberships")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub donor_id: i64,
    pub tier_id: i64,
    pub joined_at: DateTimeUtc,
    pub join_reason: String,
    /// The donor's annual pledge total when they joined, in minor units.
    pub annual_pledge_total_minor: i64,
    pub left_at: Option<DateTimeUtc>,
    pub leave_reason: Option<String>,
    /// What caused the change: a Stripe event id, a mutation, a scheduled check.
    pub cause: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
