//! A Stripe dispute of a gift's charge, as its events last left it.

use sea_orm::entity::prelude::*;

/// One dispute: its latest status (Stripe's: `needs_response`, `under_review`, `won`,
/// `lost`, `warning_closed`, ...) and whether it has closed. A closed dispute stays
/// closed: a late "created" notice does not reopen it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_disputes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub dispute_id: String,
    pub gift_id: i64,
    pub status: String,
    pub closed: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
