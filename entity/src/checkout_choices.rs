//! What a checkout said about its donor that differs from the donor's own choices.

use sea_orm::entity::prelude::*;

use crate::enums::{CheckoutChoicesStatus, Language};

/// The choices a checkout made for an existing donor (name, language, email consent,
/// anonymity), kept with the gift or pledge it brought until staff accept or dismiss
/// them. The donor row itself is never changed by a checkout.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "checkout_choices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub donor_id: i64,
    /// The one-off gift the checkout made.
    #[sea_orm(unique)]
    pub gift_id: Option<i64>,
    /// The pledge a subscription checkout made.
    #[sea_orm(unique)]
    pub pledge_id: Option<i64>,
    /// The name typed at checkout, if any.
    pub display_name: Option<String>,
    /// The language of the page the checkout came from, if known.
    pub language: Option<Language>,
    pub email_consent: bool,
    pub anonymous: bool,
    pub status: CheckoutChoicesStatus,
    /// The staff member who accepted or dismissed them.
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
