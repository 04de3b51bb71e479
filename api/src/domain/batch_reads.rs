//! Reads of many records at once, by their ids or their donors' ids, so that a page of
//! donors costs one statement per kind of record whatever its size.

use std::collections::HashMap;

use entity::enums::PledgeStatus;
use entity::{gift, pledge, receipt, tier_membership};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::DomainError;
use super::partial_rows::{ColumnSet, ReadInPart, read_in_part};

/// The rows of one table whose `id_column` is among `ids`, in no particular order.
pub async fn rows_by_id<E: EntityTrait>(
    db: &impl ConnectionTrait,
    id_column: E::Column,
    ids: &[i64],
) -> Result<Vec<E::Model>, DomainError> {
    Ok(E::find()
        .filter(id_column.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

/// [`rows_by_id`], only `columns` of each row read (see `partial_rows`).
pub async fn rows_by_id_in_part<E: ReadInPart>(
    db: &impl ConnectionTrait,
    id_column: E::Column,
    ids: &[i64],
    columns: ColumnSet,
) -> Result<Vec<E::Model>, DomainError> {
    let select = E::find().filter(id_column.is_in(ids.iter().copied()));
    Ok(read_in_part(db, select, columns).await?)
}

/// Groups rows by a key, keeping their order; every asked-for key gets a (maybe empty)
/// list.
fn group_by<T>(rows: Vec<T>, keys: &[i64], key: impl Fn(&T) -> i64) -> HashMap<i64, Vec<T>> {
    let mut groups: HashMap<i64, Vec<T>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for row in rows {
        groups.entry(key(&row)).or_default().push(row);
    }
    groups
}

/// Every gift of each donor, newest first.
pub async fn gifts_by_donor(
    db: &impl ConnectionTrait,
    donor_ids: &[i64],
) -> Result<HashMap<i64, Vec<gift::Model>>, DomainError> {
    let rows = donors_gifts(donor_ids).all(db).await?;
    Ok(group_by(rows, donor_ids, |g| g.donor_id))
}

/// [`gifts_by_donor`], only `columns` of each gift read (see `partial_rows`), and the
/// donor's id by which they are grouped.
pub async fn gifts_by_donor_in_part(
    db: &impl ConnectionTrait,
    donor_ids: &[i64],
    columns: ColumnSet,
) -> Result<HashMap<i64, Vec<gift::Model>>, DomainError> {
    let columns = columns.with(ColumnSet::of([gift::Column::DonorId]));
    let rows = read_in_part(db, donors_gifts(donor_ids), columns).await?;
    Ok(group_by(rows, donor_ids, |g| g.donor_id))
}

/// The gifts of `donor_ids`, newest first.
fn donors_gifts(donor_ids: &[i64]) -> sea_orm::Select<gift::Entity> {
    gift::Entity::find()
        .filter(gift::Column::DonorId.is_in(donor_ids.iter().copied()))
        .order_by_desc(gift::Column::ReceivedAt)
        .order_by_desc(gift::Column::Id)
}

/// Each donor's active pledges, oldest first.
pub async fn active_pledges_by_donor(
    db: &impl ConnectionTrait,
    donor_ids: &[i64],
) -> Result<HashMap<i64, Vec<pledge::Model>>, DomainError> {
    let rows = pledge::Entity::find()
        .filter(pledge::Column::DonorId.is_in(donor_ids.iter().copied()))
        .filter(pledge::Column::Status.eq(PledgeStatus::Active))
        .order_by_asc(pledge::Column::Id)
        .all(db)
        .await?;
    Ok(group_by(rows, donor_ids, |p| p.donor_id))
}

/// Each donor's open tier membership (at most one, by a unique index).
pub async fn open_membership_by_donor(
    db: &impl ConnectionTrait,
    donor_ids: &[i64],
) -> Result<HashMap<i64, tier_membership::Model>, DomainError> {
    let rows = tier_membership::Entity::find()
        .filter(tier_membership::Column::DonorId.is_in(donor_ids.iter().copied()))
        .filter(tier_membership::Column::LeftAt.is_null())
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|m| (m.donor_id, m)).collect())
}

/// Each donor's receipts, newest first.
pub async fn receipts_by_donor(
    db: &impl ConnectionTrait,
    donor_ids: &[i64],
) -> Result<HashMap<i64, Vec<receipt::Model>>, DomainError> {
    let rows = receipt::Entity::find()
        .filter(receipt::Column::DonorId.is_in(donor_ids.iter().copied()))
        .order_by_desc(receipt::Column::IssuedAt)
        .order_by_desc(receipt::Column::Id)
        .all(db)
        .await?;
    Ok(group_by(rows, donor_ids, |r| r.donor_id))
}
