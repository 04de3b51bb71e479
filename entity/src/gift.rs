use sea_orm::entity::prelude::*;

use crate::enums::{GiftStatus, PaymentMethod, TributeKind};

/// One received contribution: a one-off gift or one installment of a pledge.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gifts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub donor_id: i64,
    pub amount_minor: i64,
    pub currency: String,
    /// What has been refunded so far, in minor units (0 to `amount_minor`).
    pub refunded_minor: i64,
    pub method: PaymentMethod,
    pub status: GiftStatus,
    pub fund_id: i64,
    pub campaign_id: Option<i64>,
    pub appeal_id: Option<i64>,
    pub pledge_id: Option<i64>,
    /// When the money was given (UTC); its tax year is this date in the organization's time zone.
    pub received_at: DateTimeUtc,
    pub check_number: Option<String>,
    pub tribute_kind: Option<TributeKind>,
    pub tribute_name: Option<String>,
    pub tribute_notify_name: Option<String>,
    pub tribute_notify_email: Option<String>,
    pub tribute_notify_address: Option<String>,
    /// Whether the person notified of the tribute may be told the amount.
    pub tribute_show_amount: bool,
    /// Fair market value of goods or services the donor received in return.
    pub benefits_minor: i64,
    pub benefits_description: Option<String>,
    pub anonymous: bool,
    #[sea_orm(unique)]
    pub stripe_payment_intent_id: Option<String>,
    #[sea_orm(unique)]
    pub stripe_invoice_id: Option<String>,
    #[sea_orm(unique)]
    pub stripe_checkout_session_id: Option<String>,
    #[sea_orm(unique)]
    pub stripe_charge_id: Option<String>,
    /// A client-chosen key so that the same offline gift typed twice is recorded once.
    #[sea_orm(unique)]
    pub idempotency_key: Option<String>,
    pub notes: Option<String>,
    /// Stripe's fee on the gift, in minor units, from its balance transaction; `None`
    /// until reconciliation has seen it, and for gifts not paid through Stripe.
    pub processor_fee_minor: Option<i64>,
    /// Stripe's time of the refunded total the gift shows, for card gifts: a refund that
    /// fails later is taken off only if that total counted it.
    pub refunds_as_of: Option<DateTimeUtc>,
    /// The gift's id in the system it was imported from; unique.
    #[sea_orm(unique)]
    pub external_id: Option<String>,
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
