use sea_orm::entity::prelude::*;

/// A level of the Monthly Giving Club reached by annual pledge total. Tiers are data:
/// staff add them and change thresholds.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "giving_tiers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    /// The annual pledge total that reaches this tier, in minor units.
    pub threshold_minor: i64,
    pub currency: String,
    pub benefits: Option<String>,
    /// Good-faith value of the benefits, for the receipt's quid-pro-quo statement.
    pub benefits_value_minor: i64,
    /// Whether this tier is the Circle: recognized on the public roll, and offered on the
    /// donation page and in appeals. At most one tier is.
    pub is_circle: bool,
    /// Whether every installment of a member's pledge gets its own receipt, rather than
    /// the first one and the year-end statement.
    pub receipt_every_installment: bool,
    /// The texts above in the languages other than the default (see `Translations`).
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub translations: Option<crate::Translations>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
