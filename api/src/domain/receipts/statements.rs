//! Year-end statements: one per donor and tax year, listing every gift that counts,
//! net of refunds.

use chrono::Utc;
use entity::enums::{ReceiptKind, ReceiptStatus};
use entity::{donor, fund, gift, receipt};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::json;

use super::super::{Actor, DomainError, audit, gifts};
use super::issue::{find_donor, issue, line_for};
use super::numbering::{tax_year, tax_year_bounds};
use crate::config::Organization;
use mailer::documents::GiftLine;

/// The donor's gifts of a tax year that still count, net of refunds, oldest first, each
/// fund named in the donor's language.
pub(super) async fn statement_lines(
    db: &impl ConnectionTrait,
    org: &Organization,
    donor: &donor::Model,
    year: i32,
) -> Result<Vec<GiftLine>, DomainError> {
    let (start, end) = tax_year_bounds(org, year)?;
    let gifts = gift::Entity::find()
        .filter(gift::Column::DonorId.eq(donor.id))
        .filter(gift::Column::ReceivedAt.gte(start))
        .filter(gift::Column::ReceivedAt.lt(end))
        .filter(gifts::counted())
        .order_by_asc(gift::Column::ReceivedAt)
        .order_by_asc(gift::Column::Id)
        .all(db)
        .await?;
    let funds: std::collections::HashMap<i64, String> = fund::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|f| {
            (
                f.id,
                crate::domain::funds::name_in(&f, donor.language).to_owned(),
            )
        })
        .collect();
    Ok(gifts
        .iter()
        .filter(|g| gifts::net_minor(g) > 0)
        .map(|g| line_for(g, funds.get(&g.fund_id).cloned().unwrap_or_default()))
        .collect())
}

/// Issues one donor's year-end statement in the caller's transaction, unless one is
/// already valid or nothing remains to state.
pub async fn issue_year_end_statement(
    txn: &DatabaseTransaction,
    org: &Organization,
    donor: &donor::Model,
    year: i32,
) -> Result<Option<receipt::Model>, DomainError> {
    let existing = receipt::Entity::find()
        .filter(receipt::Column::DonorId.eq(donor.id))
        .filter(receipt::Column::Kind.eq(ReceiptKind::YearEndStatement))
        .filter(receipt::Column::Status.eq(ReceiptStatus::Issued))
        .filter(receipt::Column::TaxYear.eq(year))
        .count(txn)
        .await?;
    if existing > 0 {
        return Ok(None);
    }
    let lines = statement_lines(txn, org, donor, year).await?;
    if lines.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        issue(
            txn,
            org,
            donor,
            ReceiptKind::YearEndStatement,
            None,
            year,
            lines,
            None,
        )
        .await?,
    ))
}

/// What a run of year-end statements did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatementRun {
    /// Statements issued now.
    pub issued: u64,
    /// Donors who already had a valid statement for the year.
    pub already_issued: u64,
}

/// How many statements one transaction issues. Each commit costs a round trip and a
/// flush to disk; a batch shares them. Kept small because the batch holds the write
/// turn (on SQLite, the database's; on PostgreSQL, the tax year's receipt counter).
const STATEMENTS_PER_TRANSACTION: usize = 50;

/// Issues the statements of `donors` in one transaction: all of them or, on any error,
/// none.
async fn issue_batch(
    db: &DatabaseConnection,
    org: &Organization,
    donors: &[i64],
    year: i32,
) -> Result<StatementRun, DomainError> {
    let txn = crate::db::begin_write(db).await?;
    let found = donor::Entity::find()
        .filter(donor::Column::Id.is_in(donors.iter().copied()))
        .order_by_asc(donor::Column::Id)
        .all(&*txn)
        .await?;
    if found.len() != donors.len() {
        // A donor of the list is gone: one by one, that donor's lookup says which.
        return Err(DomainError::not_found("donor", "of the batch"));
    }
    let mut run = StatementRun::default();
    for donor in &found {
        match issue_year_end_statement(&txn, org, donor, year).await? {
            Some(_) => run.issued += 1,
            None => run.already_issued += 1,
        }
    }
    txn.commit().await?;
    Ok(run)
}

/// Issues one donor's statement in a transaction of its own.
async fn issue_one(
    db: &DatabaseConnection,
    org: &Organization,
    donor_id: i64,
    year: i32,
) -> Result<StatementRun, DomainError> {
    let txn = crate::db::begin_write(db).await?;
    let donor = find_donor(&*txn, donor_id).await?;
    match issue_year_end_statement(&txn, org, &donor, year).await {
        Ok(Some(_)) => {
            txn.commit().await?;
            Ok(StatementRun {
                issued: 1,
                already_issued: 0,
            })
        }
        // Nothing to state, or another run issued this donor's statement at the same
        // moment.
        Ok(None) | Err(DomainError::Conflict { .. }) => {
            txn.rollback().await?;
            Ok(StatementRun {
                issued: 0,
                already_issued: 1,
            })
        }
        Err(error) => Err(error),
    }
}

/// Issues the year-end statement of every donor who gave in `year` and has none yet, a
/// batch of donors per transaction. Running it again issues nothing new.
pub async fn issue_year_end_statements(
    db: &DatabaseConnection,
    org: &Organization,
    year: i32,
    actor: &Actor,
) -> Result<StatementRun, DomainError> {
    let current = tax_year(org, Utc::now());
    if !(2000..=current).contains(&year) {
        return Err(DomainError::validation(
            "year",
            format!("must be a year from 2000 to {current}"),
        ));
    }
    let (start, end) = tax_year_bounds(org, year)?;
    let donors: Vec<i64> = gift::Entity::find()
        .select_only()
        .column(gift::Column::DonorId)
        .distinct()
        .filter(gift::Column::ReceivedAt.gte(start))
        .filter(gift::Column::ReceivedAt.lt(end))
        .filter(gifts::counted())
        .into_tuple()
        .all(db)
        .await?;
    // Donors whose statement stands are skipped without a transaction each; the check
    // inside the transaction still guards against a run going on at the same time.
    let already: std::collections::HashSet<i64> = receipt::Entity::find()
        .select_only()
        .column(receipt::Column::DonorId)
        .filter(receipt::Column::Kind.eq(ReceiptKind::YearEndStatement))
        .filter(receipt::Column::Status.eq(ReceiptStatus::Issued))
        .filter(receipt::Column::TaxYear.eq(year))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut run = StatementRun::default();
    let mut donors = donors;
    donors.sort_unstable();
    let (skipped, to_issue): (Vec<i64>, Vec<i64>) =
        donors.into_iter().partition(|id| already.contains(id));
    run.already_issued += skipped.len() as u64;
    for batch in to_issue.chunks(STATEMENTS_PER_TRANSACTION) {
        match issue_batch(db, org, batch, year).await {
            Ok(done) => {
                run.issued += done.issued;
                run.already_issued += done.already_issued;
            }
            // One donor's trouble must not hold back the rest of the batch: it is
            // issued again one donor per transaction, where that donor fails alone.
            Err(error) => {
                tracing::warn!(%error, donors = batch.len(), "a batch of statements is issued again one by one");
                for &donor_id in batch {
                    let done = issue_one(db, org, donor_id, year).await?;
                    run.issued += done.issued;
                    run.already_issued += done.already_issued;
                }
            }
        }
    }
    let txn = db.begin().await?;
    audit::record(
        &txn,
        actor,
        "issue_year_end_statements",
        "receipt",
        Some(year.to_string()),
        json!({ "issued": run.issued, "already_issued": run.already_issued }),
    )
    .await?;
    txn.commit().await?;
    Ok(run)
}
