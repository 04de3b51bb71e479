use sea_orm::entity::prelude::*;

use crate::enums::{DonorKind, Language};

/// A person or organization that gives. One row per real donor: web donors are
/// matched by email, so `email` is unique (it is stored lower-cased).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "donors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: DonorKind,
    /// How the donor is addressed in lists and receipts ("María López", "Weingart Foundation").
    pub display_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[sea_orm(unique)]
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub language: Language,
    /// The donor asked to receive updates and appeals by email.
    pub email_consent: bool,
    /// The donor asked not to be named in public recognition.
    pub anonymous: bool,
    /// Name and email folded to lower case without accents, for search.
    pub search_text: String,
    #[sea_orm(unique)]
    pub stripe_customer_id: Option<String>,
    pub appeals_unsubscribed_at: Option<DateTimeUtc>,
    /// Set when mail to this address failed permanently; appeals skip it.
    pub email_suppressed_at: Option<DateTimeUtc>,
    pub email_suppressed_reason: Option<String>,
    pub notes: Option<String>,
    /// Signs every link the donor is sent; raising it refuses all earlier links.
    pub link_version: i64,
    /// The donor's id in the system they were imported from; unique.
    #[sea_orm(unique)]
    pub external_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::gift::Entity")]
    Gift,
    #[sea_orm(has_many = "super::pledge::Entity")]
    Pledge,
}

impl Related<super::gift::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Gift.def()
    }
}

impl Related<super::pledge::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Pledge.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
