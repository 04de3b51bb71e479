use sea_orm::entity::prelude::*;

use crate::enums::{PledgeFrequency, PledgeSource, PledgeStatus};

/// A promise to give on a schedule: a Monthly Giving Club membership paid by card
/// through a Stripe subscription, or an envelope pledge paid by check.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pledges")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub donor_id: i64,
    pub source: PledgeSource,
    pub installment_minor: i64,
    pub currency: String,
    pub frequency: PledgeFrequency,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
    /// How many installments the pledge promises; `None` is open-ended.
    pub installments_total: Option<i32>,
    pub status: PledgeStatus,
    pub fund_id: i64,
    pub appeal_id: Option<i64>,
    pub campaign_id: Option<i64>,
    #[sea_orm(unique)]
    pub stripe_subscription_id: Option<String>,
    pub past_due_since: Option<DateTimeUtc>,
    pub paused_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub cancel_reason: Option<String>,
    /// Installments that fell due while the pledge was paused, over all its pauses.
    pub installments_skipped: i32,
    /// Stripe's time of the subscription state last applied to a card pledge: an older
    /// state arriving later changes nothing.
    pub stripe_state_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::donor::Entity",
        from = "Column::DonorId",
        to = "super::donor::Column::Id"
    )]
    Donor,
}

impl Related<super::donor::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Donor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
