//! Finding donors: search by name or email, filters on giving history, and stable
//! ordering by name, last gift or lifetime giving.

use chrono::{DateTime, Utc};
use entity::enums::Language;
use entity::{donor, gift};
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, Func, PostgresQueryBuilder, Query, SelectStatement, SqliteQueryBuilder,
};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, Statement, Value};
use serde::{Deserialize, Serialize};

use super::donors::fold_accents;
use super::{DomainError, gifts};

/// The currency giving totals are kept in.
pub const TOTALS_CURRENCY: &str = "USD";

/// What to look for; every part is optional and parts combine with AND.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DonorFilter {
    /// Part of a name or email, any case, accents ignored.
    pub text: Option<String>,
    /// Match `text` against names only: for searchers who see emails masked, so that
    /// a search cannot spell a masked address back one letter at a time.
    pub text_in_names_only: bool,
    /// Donors currently in this giving-club tier.
    pub tier_id: Option<i64>,
    /// Donors who have given to this fund.
    pub fund_id: Option<i64>,
    pub lifetime_min_minor: Option<i64>,
    pub lifetime_max_minor: Option<i64>,
    pub last_gift_from: Option<DateTime<Utc>>,
    pub last_gift_to: Option<DateTime<Utc>>,
    pub has_active_pledge: Option<bool>,
    pub language: Option<Language>,
    pub email_consent: Option<bool>,
}

/// How to order donors. Ties are broken by id, so every order is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DonorOrder {
    Name,
    LastGift,
    LifetimeGiving,
}

/// Collects bound values and writes the placeholder each backend expects.
struct Binder {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Binder {
    fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }
}

/// The gifts of a donor's history that count toward their giving totals (lifetime
/// giving, this year's and last year's): counted gifts in the totals currency, in the
/// history's order. The same rule as the search's lifetime giving.
pub fn counted_toward_totals(history: &[gift::Model]) -> impl Iterator<Item = &gift::Model> {
    history
        .iter()
        .filter(|gift| gifts::counts(gift.status) && gift.currency == TOTALS_CURRENCY)
}

/// What gifts add up to, net of refunds, in minor units.
pub fn net_total<'a>(given: impl IntoIterator<Item = &'a gift::Model>) -> i64 {
    given.into_iter().map(gifts::net_minor).sum()
}

/// A subquery written out for `backend`, its values inlined (they are ours, never
/// the searcher's text).
fn subquery_sql(query: &SelectStatement, backend: DbBackend) -> String {
    match backend {
        DbBackend::Postgres => query.to_string(PostgresQueryBuilder),
        _ => query.to_string(SqliteQueryBuilder),
    }
}

/// Each donor's lifetime giving and last gift: their counted gifts, net of refunds, in
/// the totals currency.
fn giving_totals(backend: DbBackend) -> String {
    let query = Query::select()
        .column(gift::Column::DonorId)
        .expr_as(Func::sum(gifts::net_amount()), Alias::new("lifetime_minor"))
        .expr_as(
            Func::max(Expr::col((gift::Entity, gift::Column::ReceivedAt))),
            Alias::new("last_gift_at"),
        )
        .from(gift::Entity)
        .and_where(gifts::counted())
        .and_where(gift::Column::Currency.eq(TOTALS_CURRENCY))
        .group_by_col(gift::Column::DonorId)
        .to_owned();
    subquery_sql(&query, backend)
}

/// Whether the donor `d` has a counted gift to the fund.
fn gave_to_fund(fund_id: i64, backend: DbBackend) -> String {
    let query = Query::select()
        .expr(Expr::val(1))
        .from(gift::Entity)
        .and_where(
            Expr::col((gift::Entity, gift::Column::DonorId))
                .equals((Alias::new("d"), Alias::new("id"))),
        )
        .and_where(gift::Column::FundId.eq(fund_id))
        .and_where(gifts::counted())
        .to_owned();
    format!("EXISTS ({})", subquery_sql(&query, backend))
}

/// Escapes LIKE wildcards in user text.
fn like_pattern(text: &str) -> String {
    let folded = fold_accents(&text.trim().to_lowercase());
    let escaped = folded
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl DonorFilter {
    fn needs_totals(&self) -> bool {
        self.lifetime_min_minor.is_some()
            || self.lifetime_max_minor.is_some()
            || self.last_gift_from.is_some()
            || self.last_gift_to.is_some()
    }
}

/// The FROM and WHERE clauses. Each donor's giving totals are joined only when a filter
/// or the order needs them: they aggregate every counted gift.
fn from_and_where(filter: &DonorFilter, with_totals: bool, binder: &mut Binder) -> String {
    let mut sql = if with_totals {
        format!(
            "FROM donors d LEFT JOIN ({}) a ON a.donor_id = d.id WHERE 1 = 1",
            giving_totals(binder.backend)
        )
    } else {
        "FROM donors d WHERE 1 = 1".to_owned()
    };
    if let Some(text) = filter.text.as_deref().filter(|t| !t.trim().is_empty()) {
        let p = binder.bind(like_pattern(text));
        // The search text is the name, then a space and the email when there is one.
        let searched = if filter.text_in_names_only {
            "substr(d.search_text, 1, length(d.search_text) - COALESCE(length(d.email) + 1, 0))"
        } else {
            "d.search_text"
        };
        sql.push_str(&format!(" AND {searched} LIKE {p} ESCAPE '\\'"));
    }
    if let Some(tier_id) = filter.tier_id {
        let p = binder.bind(tier_id);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM tier_memberships tm WHERE tm.donor_id = d.id \
             AND tm.left_at IS NULL AND tm.tier_id = {p})"
        ));
    }
    if let Some(fund_id) = filter.fund_id {
        sql.push_str(&format!(" AND {}", gave_to_fund(fund_id, binder.backend)));
    }
    if let Some(min) = filter.lifetime_min_minor {
        let p = binder.bind(min);
        sql.push_str(&format!(" AND COALESCE(a.lifetime_minor, 0) >= {p}"));
    }
    if let Some(max) = filter.lifetime_max_minor {
        let p = binder.bind(max);
        sql.push_str(&format!(" AND COALESCE(a.lifetime_minor, 0) <= {p}"));
    }
    if let Some(from) = filter.last_gift_from {
        let p = binder.bind(from);
        sql.push_str(&format!(" AND a.last_gift_at >= {p}"));
    }
    if let Some(to) = filter.last_gift_to {
        let p = binder.bind(to);
        sql.push_str(&format!(" AND a.last_gift_at < {p}"));
    }
    if let Some(has) = filter.has_active_pledge {
        sql.push_str(&format!(
            " AND {}EXISTS (SELECT 1 FROM pledges p WHERE p.donor_id = d.id AND p.status = 'active')",
            if has { "" } else { "NOT " }
        ));
    }
    if let Some(language) = filter.language {
        let p = binder.bind(language.as_str());
        sql.push_str(&format!(" AND d.language = {p}"));
    }
    if let Some(consent) = filter.email_consent {
        let p = binder.bind(consent);
        sql.push_str(&format!(" AND d.email_consent = {p}"));
    }
    sql
}

/// How many donors match.
pub async fn count_donors(
    db: &impl ConnectionTrait,
    filter: &DonorFilter,
) -> Result<u64, DomainError> {
    let mut binder = Binder {
        backend: db.get_database_backend(),
        values: Vec::new(),
    };
    let sql = format!(
        "SELECT COUNT(*) AS n {}",
        from_and_where(filter, filter.needs_totals(), &mut binder)
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            binder.backend,
            sql,
            binder.values,
        ))
        .await?;
    let count: i64 = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(u64::try_from(count).unwrap_or(0))
}

/// One page of matching donors, `offset` rows in, at most `limit` long.
pub async fn search_donors(
    db: &impl ConnectionTrait,
    filter: &DonorFilter,
    order: DonorOrder,
    descending: bool,
    offset: u64,
    limit: u64,
) -> Result<Vec<donor::Model>, DomainError> {
    let mut binder = Binder {
        backend: db.get_database_backend(),
        values: Vec::new(),
    };
    let direction = if descending { "DESC" } else { "ASC" };
    // Donors who never gave sort last either way, the same on both databases.
    let order_by = match order {
        DonorOrder::Name => format!("LOWER(d.display_name) {direction}, d.id {direction}"),
        DonorOrder::LastGift => format!(
            "CASE WHEN a.last_gift_at IS NULL THEN 1 ELSE 0 END, a.last_gift_at {direction}, d.id {direction}"
        ),
        DonorOrder::LifetimeGiving => {
            format!("COALESCE(a.lifetime_minor, 0) {direction}, d.id {direction}")
        }
    };
    let with_totals = filter.needs_totals() || order != DonorOrder::Name;
    let sql = format!(
        "SELECT d.* {} ORDER BY {order_by} LIMIT {limit} OFFSET {offset}",
        from_and_where(filter, with_totals, &mut binder)
    );
    Ok(donor::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            binder.backend,
            sql,
            binder.values,
        ))
        .all(db)
        .await?)
}

/// The next `limit` matching donors after the donor with id `after`, in id order: how
/// an export reads every match a page at a time, each page found through the primary
/// key however deep it is (an offset would read all the pages before it again).
pub async fn donors_after(
    db: &impl ConnectionTrait,
    filter: &DonorFilter,
    after: i64,
    limit: u64,
) -> Result<Vec<donor::Model>, DomainError> {
    let mut binder = Binder {
        backend: db.get_database_backend(),
        values: Vec::new(),
    };
    let from_and_where = from_and_where(filter, filter.needs_totals(), &mut binder);
    let p = binder.bind(after);
    let sql = format!("SELECT d.* {from_and_where} AND d.id > {p} ORDER BY d.id LIMIT {limit}");
    Ok(donor::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            binder.backend,
            sql,
            binder.values,
        ))
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_fold_accents_and_escape_wildcards() {
        assert_eq!(like_pattern(" José "), "%jose%");
        assert_eq!(like_pattern("50%_"), "%50\\%\\_%");
    }
}
