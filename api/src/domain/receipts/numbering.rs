//! Numbering: the tax year a moment falls in, and the next receipt number of a
//! year, taken inside the issuing transaction so numbers have no gaps.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use entity::receipt_counter;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, Set};

use super::super::DomainError;
use crate::config::Organization;

/// Single gifts of this much (in cents) need a written acknowledgment of their own, so
/// they are receipted even as installments.
pub const WRITTEN_ACKNOWLEDGMENT_MINOR: i64 = 25_000;

/// The tax year a moment falls in: the organization's calendar year.
pub fn tax_year(org: &Organization, at: DateTime<Utc>) -> i32 {
    at.with_timezone(&org.timezone).year()
}

/// The first moment of a tax year and of the next, in UTC.
pub fn tax_year_bounds(
    org: &Organization,
    year: i32,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DomainError> {
    let start = |y: i32| {
        org.timezone
            .with_ymd_and_hms(y, 1, 1, 0, 0, 0)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| DomainError::validation("year", format!("{y} is not a usable year")))
    };
    Ok((start(year)?, start(year + 1)?))
}

/// Takes the next receipt number of a tax year. The counter row is updated inside the
/// caller's transaction, so the number is used if and only if that transaction commits:
/// numbers have no gaps, and concurrent issuers wait for each other. The year's row is
/// made by its first receipt; after that one statement takes the number.
pub async fn next_receipt_number(
    txn: &DatabaseTransaction,
    year: i32,
) -> Result<(i32, String), DomainError> {
    let sequence = match take_next(txn, year).await? {
        Some(sequence) => sequence,
        None => {
            receipt_counter::Entity::insert(receipt_counter::ActiveModel {
                tax_year: Set(year),
                last_sequence: Set(0),
            })
            .on_conflict_do_nothing_on([receipt_counter::Column::TaxYear])
            .exec_without_returning(txn)
            .await?;
            take_next(txn, year).await?.ok_or_else(|| {
                DomainError::Unexpected(anyhow::anyhow!("no receipt counter for {year}"))
            })?
        }
    };
    Ok((sequence, format!("{year}-{sequence:06}")))
}

/// Adds one to the year's counter and returns it; `None` when the year has no counter.
async fn take_next(txn: &DatabaseTransaction, year: i32) -> Result<Option<i32>, DomainError> {
    let take = Query::update()
        .table(receipt_counter::Entity)
        .value(
            receipt_counter::Column::LastSequence,
            Expr::col(receipt_counter::Column::LastSequence).add(1),
        )
        .and_where(receipt_counter::Column::TaxYear.eq(year))
        .returning_col(receipt_counter::Column::LastSequence)
        .to_owned();
    let row = txn
        .query_one_raw(txn.get_database_backend().build(&take))
        .await?;
    Ok(match row {
        Some(row) => Some(row.try_get_by_index(0)?),
        None => None,
    })
}
