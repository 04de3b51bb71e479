//! A refund staff asked for, from the moment it is asked until the payment processor
//! confirms or refuses it.

use sea_orm::entity::prelude::*;

use crate::enums::RefundRequestStatus;

/// One refund asked of a gift.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "refund_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub gift_id: i64,
    pub amount_minor: i64,
    pub status: RefundRequestStatus,
    /// Sent to the payment processor as the request's idempotency key.
    #[sea_orm(unique)]
    pub request_id: String,
    /// The caller's key: a replay under it is answered with this request.
    #[sea_orm(unique)]
    pub idempotency_key: Option<String>,
    /// The request as it came, field by field, to compare a replay with.
    pub request: Json,
    #[sea_orm(unique)]
    pub stripe_refund_id: Option<String>,
    /// The processor's status for the refund: succeeded, pending, requires_action, failed.
    pub processor_status: Option<String>,
    /// Why the processor refused it.
    pub failure: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
