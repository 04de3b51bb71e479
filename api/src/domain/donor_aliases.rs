//! The other emails and Stripe customers a donor is known by (see the `donor_aliases`
//! table): a merged donor's email and customer keep finding the donor it was merged into.

use chrono::Utc;
use entity::donor_alias;
use entity::enums::DonorAliasKind;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::DomainError;

/// The donor known by `value` as an alias of this kind, if any. Emails are compared
/// lower-cased, as they are stored.
pub async fn donor_with_alias(
    conn: &impl ConnectionTrait,
    kind: DonorAliasKind,
    value: &str,
) -> Result<Option<i64>, DomainError> {
    let value = match kind {
        DonorAliasKind::Email => value.to_lowercase(),
        DonorAliasKind::StripeCustomer => value.to_owned(),
    };
    Ok(donor_alias::Entity::find()
        .filter(donor_alias::Column::Kind.eq(kind))
        .filter(donor_alias::Column::Value.eq(value))
        .one(conn)
        .await?
        .map(|alias| alias.donor_id))
}

/// Every alias of a donor, oldest first.
pub async fn aliases_of(
    conn: &impl ConnectionTrait,
    donor_id: i64,
) -> Result<Vec<donor_alias::Model>, DomainError> {
    use sea_orm::QueryOrder;
    Ok(donor_alias::Entity::find()
        .filter(donor_alias::Column::DonorId.eq(donor_id))
        .order_by_asc(donor_alias::Column::Id)
        .all(conn)
        .await?)
}

/// Records that `donor_id` is also known by `value`, in the caller's transaction.
pub async fn add_alias(
    conn: &impl ConnectionTrait,
    donor_id: i64,
    kind: DonorAliasKind,
    value: &str,
) -> Result<(), DomainError> {
    let value = match kind {
        DonorAliasKind::Email => value.to_lowercase(),
        DonorAliasKind::StripeCustomer => value.to_owned(),
    };
    donor_alias::ActiveModel {
        donor_id: Set(donor_id),
        kind: Set(kind),
        value: Set(value),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}
