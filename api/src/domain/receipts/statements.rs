//! Year-end statements: one per donor and tax year, listing every gift that counts,
//! net of refunds.

use std::collections::HashSet;

use chrono::Utc;
use entity::enums::{Language, ReceiptKind, ReceiptStatus};
use entity::{donor, fund, gift, receipt};
use sea_orm::sea_query::LockType;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, TransactionTrait,
};
use serde_json::json;

use super::super::{Actor, DomainError, audit, gifts};
use super::issue::{Draft, find_donor, issue, issue_together, line_for};
use super::numbering::{hold_tax_year, tax_year, tax_year_bounds};
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
    let gifts = counted_gifts(db, org, &[donor.id], year).await?;
    let funds = fund::Entity::find().all(db).await?;
    Ok(lines_of(&gifts, &funds, donor.language))
}

/// The year-end statements that stand: issued and not void, of any tax year. The one
/// place that says which receipts are a donor's valid statement.
pub fn valid_statements() -> Select<receipt::Entity> {
    receipt::Entity::find()
        .filter(receipt::Column::Kind.eq(ReceiptKind::YearEndStatement))
        .filter(receipt::Column::Status.eq(ReceiptStatus::Issued))
}

/// The year-end statements of `year` that stand.
pub fn valid_statements_of(year: i32) -> Select<receipt::Entity> {
    valid_statements().filter(receipt::Column::TaxYear.eq(year))
}

/// The gifts received in tax year `year` that count: what a statement of that year
/// states.
fn counted_gifts_of(org: &Organization, year: i32) -> Result<Select<gift::Entity>, DomainError> {
    let (start, end) = tax_year_bounds(org, year)?;
    Ok(gift::Entity::find()
        .filter(gift::Column::ReceivedAt.gte(start))
        .filter(gift::Column::ReceivedAt.lt(end))
        .filter(gifts::counted()))
}

/// The gifts of a tax year that count, of the given donors, by donor, each donor's oldest
/// first.
async fn counted_gifts(
    db: &impl ConnectionTrait,
    org: &Organization,
    donors: &[i64],
    year: i32,
) -> Result<Vec<gift::Model>, DomainError> {
    Ok(counted_gifts_of(org, year)?
        .filter(gift::Column::DonorId.is_in(donors.iter().copied()))
        .order_by_asc(gift::Column::DonorId)
        .order_by_asc(gift::Column::ReceivedAt)
        .order_by_asc(gift::Column::Id)
        .all(db)
        .await?)
}

/// A statement's lines from one donor's counted gifts of the year, in their order: the
/// gifts with something left after refunds, each fund named in the donor's language.
fn lines_of(gifts: &[gift::Model], funds: &[fund::Model], language: Language) -> Vec<GiftLine> {
    let name_of = |fund_id: i64| {
        funds
            .iter()
            .find(|f| f.id == fund_id)
            .map(|f| crate::domain::funds::name_in(f, language).to_owned())
            .unwrap_or_default()
    };
    gifts
        .iter()
        .filter(|g| gifts::net_minor(g) > 0)
        .map(|g| line_for(g, name_of(g.fund_id)))
        .collect()
}

/// Reads the donors and holds their rows until the transaction ends, in donor order. A
/// statement being issued for a donor and a gift of that donor being recorded both hold
/// the donor before they read, so either the statement reads the gift or the gift finds
/// the statement (on PostgreSQL a read does not wait for a write in flight; on SQLite
/// the turn to write orders them already). Taken before the tax year's receipt counter.
/// `FOR NO KEY UPDATE`, not `FOR UPDATE`: a gift's row already holds its donor's key
/// (`FOR KEY SHARE`, by its foreign key), and two gifts of one donor recorded at once
/// would each wait for the other's.
pub(super) async fn hold_donors(
    txn: &DatabaseTransaction,
    donors: &[i64],
) -> Result<Vec<donor::Model>, DomainError> {
    Ok(donor::Entity::find()
        .filter(donor::Column::Id.is_in(donors.iter().copied()))
        .order_by_asc(donor::Column::Id)
        .lock(LockType::NoKeyUpdate)
        .all(txn)
        .await?)
}

/// [`hold_donors`] for one donor, whose row it answers with: the first read of a
/// donor that a transaction will record a gift of can be the one that holds it.
pub async fn hold_donor(txn: &DatabaseTransaction, id: i64) -> Result<donor::Model, DomainError> {
    hold_donors(txn, &[id])
        .await?
        .pop()
        .ok_or_else(|| DomainError::not_found("donor", id))
}

/// Whether the donors already have a valid statement for the year: those who do.
async fn stated_donors(
    db: &impl ConnectionTrait,
    donors: &[i64],
    year: i32,
) -> Result<HashSet<i64>, DomainError> {
    Ok(valid_statements_of(year)
        .select_only()
        .column(receipt::Column::DonorId)
        .filter(receipt::Column::DonorId.is_in(donors.iter().copied()))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Issues one donor's year-end statement in the caller's transaction, unless one is
/// already valid or nothing remains to state. The donor (`hold_donors`) and then the tax
/// year (`hold_tax_year`) are held from the start, before the gifts are read.
pub async fn issue_year_end_statement(
    txn: &DatabaseTransaction,
    org: &Organization,
    donor: &donor::Model,
    year: i32,
) -> Result<Option<receipt::Model>, DomainError> {
    hold_donors(txn, &[donor.id]).await?;
    hold_tax_year(txn, year).await?;
    if !stated_donors(txn, &[donor.id], year).await?.is_empty() {
        return Ok(None);
    }
    let lines = statement_lines(txn, org, donor, year).await?;
    match statement_draft(donor, year, lines) {
        Some(draft) => Ok(Some(issue(txn, org, draft).await?)),
        None => Ok(None),
    }
}

/// The donor's statement of the year with these lines, unless there are none.
fn statement_draft(donor: &donor::Model, year: i32, lines: Vec<GiftLine>) -> Option<Draft<'_>> {
    (!lines.is_empty()).then_some(Draft {
        donor,
        kind: ReceiptKind::YearEndStatement,
        gift: None,
        year,
        lines,
        replaces: None,
    })
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
/// none. The donors (`hold_donors`) and then the tax year (`hold_tax_year`) are held
/// before anything else is read. What the batch needs to read (its donors, which of
/// them are stated already, their gifts, the funds) is read once for all of them, and
/// its statements are numbered, stored and queued together. Each batch's reads are
/// planned for its own donors: a plan kept for the batch's gifts read every gift of the
/// year by date.
async fn issue_batch(
    db: &DatabaseConnection,
    org: &Organization,
    donors: &[i64],
    year: i32,
) -> Result<StatementRun, DomainError> {
    let txn = crate::db::begin_write(db).await?;
    mailer::database::plan_for_each_execution(&*txn).await?;
    let found = hold_donors(&txn, donors).await?;
    hold_tax_year(&txn, year).await?;
    if found.len() != donors.len() {
        // A donor of the list is gone: one by one, that donor's lookup says which.
        return Err(DomainError::not_found("donor", "of the batch"));
    }
    let stated = stated_donors(&*txn, donors, year).await?;
    let gifts = counted_gifts(&*txn, org, donors, year).await?;
    let funds = fund::Entity::find().all(&*txn).await?;
    let drafts: Vec<Draft<'_>> = found
        .iter()
        .filter(|donor| !stated.contains(&donor.id))
        .filter_map(|donor| {
            // Both lists are in donor order; this donor's gifts are one run of `gifts`.
            let first = gifts.partition_point(|g| g.donor_id < donor.id);
            let last = gifts.partition_point(|g| g.donor_id <= donor.id);
            let lines = lines_of(&gifts[first..last], &funds, donor.language);
            statement_draft(donor, year, lines)
        })
        .collect();
    let issued = issue_together(&txn, org, year, drafts).await?.len() as u64;
    txn.commit().await?;
    Ok(StatementRun {
        issued,
        already_issued: found.len() as u64 - issued,
    })
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
    let donors: Vec<i64> = counted_gifts_of(org, year)?
        .select_only()
        .column(gift::Column::DonorId)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    // Donors whose statement stands are skipped without a transaction each; the check
    // inside the transaction still guards against a run going on at the same time.
    let already: HashSet<i64> = valid_statements_of(year)
        .select_only()
        .column(receipt::Column::DonorId)
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
