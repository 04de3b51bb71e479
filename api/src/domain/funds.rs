//! Funds: the designations gifts go to.

use entity::fund;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::DomainError;

pub async fn list_funds(
    db: &impl ConnectionTrait,
    include_archived: bool,
) -> Result<Vec<fund::Model>, DomainError> {
    let mut query = fund::Entity::find().order_by_asc(fund::Column::Name);
    if !include_archived {
        query = query.filter(fund::Column::ArchivedAt.is_null());
    }
    Ok(query.all(db).await?)
}
