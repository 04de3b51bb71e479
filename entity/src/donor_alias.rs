//! Another email or Stripe customer a donor is known by, kept when donor records merge.

use sea_orm::entity::prelude::*;

use crate::enums::DonorAliasKind;

/// An email (stored lower-cased) or a Stripe customer id that belongs to `donor_id`
/// besides the donor row's own. Payments carrying it find that donor.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "donor_aliases")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub donor_id: i64,
    pub kind: DonorAliasKind,
    pub value: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
