use sea_orm::entity::prelude::*;

/// The last receipt number issued in a tax year; incremented inside the issuing
/// transaction so that numbers have no gaps.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "receipt_counters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tax_year: i32,
    pub last_sequence: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
