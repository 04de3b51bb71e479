//! Numbering: the tax year a moment falls in, and the next receipt number of a
//! year, taken inside the issuing transaction so numbers have no gaps.

use std::ops::RangeInclusive;

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

/// A receipt's number: its tax year and its place in that year, "2026-000042".
pub fn receipt_number(year: i32, sequence: i32) -> String {
    format!("{year}-{sequence:06}")
}

/// Takes the next receipt number of a tax year. The counter row is updated inside the
/// caller's transaction, so the number is used if and only if that transaction commits:
/// numbers have no gaps, and concurrent issuers wait for each other. The year's row is
/// made by its first receipt; after that one statement takes the number.
pub async fn next_receipt_number(
    txn: &DatabaseTransaction,
    year: i32,
) -> Result<(i32, String), DomainError> {
    let sequence = *next_receipt_sequences(txn, year, 1).await?.start();
    Ok((sequence, receipt_number(year, sequence)))
}

/// Takes the next `count` receipt sequences of a tax year at once, in one turn of the
/// year's counter: like `next_receipt_number`, they are used if and only if the caller's
/// transaction commits, so a batch that commits whole leaves no gap.
pub async fn next_receipt_sequences(
    txn: &DatabaseTransaction,
    year: i32,
    count: i32,
) -> Result<RangeInclusive<i32>, DomainError> {
    if count < 1 {
        return Err(DomainError::Unexpected(anyhow::anyhow!(
            "{count} receipt numbers asked of {year}"
        )));
    }
    let last = turn_counter(txn, year, count).await?;
    Ok(last - count + 1..=last)
}

/// Holds the tax year's counter until the caller's transaction ends, without taking a
/// number. Whatever states a donor's giving of a year (issuing a statement) or looks
/// for a year's statement to correct it (after a refund, a reversed payment or a
/// corrected gift) holds the year first, so the two never overlap: on PostgreSQL a read
/// does not wait for a write in flight, and without the hold a statement could state
/// a gift as it was before a refund being recorded, while the refund, not yet seeing
/// the statement, left it uncorrected. On SQLite the turn to write orders them already.
pub async fn hold_tax_year(txn: &DatabaseTransaction, year: i32) -> Result<(), DomainError> {
    turn_counter(txn, year, 0).await.map(|_| ())
}

/// Adds `count` (zero to only hold it) to the year's counter, making the year's row
/// with its first turn, and returns the counter's new value.
async fn turn_counter(
    txn: &DatabaseTransaction,
    year: i32,
    count: i32,
) -> Result<i32, DomainError> {
    if let Some(last) = take_next(txn, year, count).await? {
        return Ok(last);
    }
    receipt_counter::Entity::insert(receipt_counter::ActiveModel {
        tax_year: Set(year),
        last_sequence: Set(0),
    })
    .on_conflict_do_nothing_on([receipt_counter::Column::TaxYear])
    .exec_without_returning(txn)
    .await?;
    take_next(txn, year, count)
        .await?
        .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("no receipt counter for {year}")))
}

/// Adds `count` to the year's counter and returns its new value, the last sequence
/// taken; `None` when the year has no counter.
async fn take_next(
    txn: &DatabaseTransaction,
    year: i32,
    count: i32,
) -> Result<Option<i32>, DomainError> {
    let take = Query::update()
        .table(receipt_counter::Entity)
        .value(
            receipt_counter::Column::LastSequence,
            Expr::col(receipt_counter::Column::LastSequence).add(count),
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

#[cfg(test)]
// A failed step should stop the test where it happened.
#[allow(clippy::expect_used)]
mod tests {
    use sea_orm::TransactionTrait;

    use super::*;
    use crate::db::testing::each_backend;

    #[test]
    fn a_number_is_its_year_and_its_place_in_six_digits() {
        assert_eq!(receipt_number(2026, 42), "2026-000042");
        assert_eq!(receipt_number(2027, 1), "2027-000001");
        assert_eq!(receipt_number(2026, 1_234_567), "2026-1234567");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sequences_taken_together_follow_on_without_a_gap() {
        for test in each_backend().await {
            let db = &test.db;
            let txn = db.begin().await.expect("a transaction");
            assert_eq!(
                next_receipt_number(&txn, 2026).await.expect("a number"),
                (1, "2026-000001".to_owned())
            );
            assert_eq!(
                next_receipt_sequences(&txn, 2026, 5)
                    .await
                    .expect("five numbers"),
                2..=6
            );
            // Each year counts on its own.
            assert_eq!(
                next_receipt_sequences(&txn, 2025, 3)
                    .await
                    .expect("three numbers"),
                1..=3
            );
            assert_eq!(
                next_receipt_number(&txn, 2026).await.expect("a number"),
                (7, "2026-000007".to_owned())
            );
            txn.commit().await.expect("committed");

            // Numbers taken by a transaction that does not commit are taken again.
            let txn = db.begin().await.expect("a transaction");
            assert_eq!(
                next_receipt_sequences(&txn, 2026, 50)
                    .await
                    .expect("fifty numbers"),
                8..=57
            );
            txn.rollback().await.expect("rolled back");
            let txn = db.begin().await.expect("a transaction");
            assert_eq!(
                next_receipt_sequences(&txn, 2026, 2)
                    .await
                    .expect("two numbers"),
                8..=9
            );
            for nothing in [0, -1] {
                assert!(next_receipt_sequences(&txn, 2026, nothing).await.is_err());
            }
            assert_eq!(
                next_receipt_number(&txn, 2026).await.expect("a number"),
                (10, "2026-000010".to_owned())
            );
            txn.commit().await.expect("committed");
            test.close().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn holding_a_year_takes_no_number_and_keeps_others_from_numbering_until_it_ends() {
        for test in each_backend().await {
            let db = &test.db;
            let txn = db.begin().await.expect("a transaction");
            // A year without a receipt yet gets its counter, at nothing taken.
            hold_tax_year(&txn, 2025).await.expect("held");
            let counter = receipt_counter::Entity::find_by_id(2025)
                .one(&txn)
                .await
                .expect("read");
            assert_eq!(counter.map(|c| c.last_sequence), Some(0));
            assert_eq!(
                next_receipt_number(&txn, 2025).await.expect("a number"),
                (1, "2025-000001".to_owned())
            );
            hold_tax_year(&txn, 2025).await.expect("held again");
            assert_eq!(
                next_receipt_number(&txn, 2025).await.expect("a number"),
                (2, "2025-000002".to_owned())
            );
            txn.commit().await.expect("committed");

            if db.get_database_backend() == sea_orm::DbBackend::Postgres {
                // A transaction that gives up on a held row instead of waiting for it.
                let impatient = async || {
                    let txn = db.begin().await.expect("a transaction");
                    txn.execute_unprepared("SET LOCAL lock_timeout = '200ms'")
                        .await
                        .expect("a lock timeout");
                    txn
                };
                let holder = db.begin().await.expect("a transaction");
                hold_tax_year(&holder, 2025).await.expect("held");
                let other = impatient().await;
                assert!(
                    next_receipt_number(&other, 2025).await.is_err(),
                    "the year is held by another transaction"
                );
                other.rollback().await.expect("rolled back");
                // Another year is not held.
                let other = impatient().await;
                assert_eq!(
                    next_receipt_number(&other, 2026).await.expect("a number"),
                    (1, "2026-000001".to_owned())
                );
                other.rollback().await.expect("rolled back");
                holder.commit().await.expect("committed");
            }
            test.close().await;
        }
    }
}
