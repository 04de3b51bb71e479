use sea_orm::entity::prelude::*;

/// A designation a gift goes to: General (unrestricted) or a restricted program.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "funds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    /// A short stable code ("GENERAL", "SANTA-ANA-DDF") used in links and exports.
    #[sea_orm(unique)]
    pub code: String,
    pub description: Option<String>,
    /// Restricted funds may only be spent on their program.
    pub restricted: bool,
    /// The texts above in the languages other than the default (see `Translations`).
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub translations: Option<crate::Translations>,
    /// Archived funds keep their gifts but take no new ones.
    pub archived_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
