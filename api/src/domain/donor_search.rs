//! Finding donors: search by name or email, filters on giving history, and stable
//! ordering by name, last gift or lifetime giving.

use chrono::{DateTime, Utc};
use entity::enums::DonorAliasKind;
use entity::enums::Language;
use entity::enums::PledgeStatus;
use entity::{donor, donor_alias, gift, pledge, tier_membership};
use sea_orm::sea_query::{
    Alias, Asterisk, Condition, Expr, ExprTrait, Func, FunctionCall, JoinType, LikeExpr, Order,
    Query, SelectStatement, SimpleExpr,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use serde::{Deserialize, Serialize};

use super::donors::fold_accents;
use super::keyset::{ExprKey, ExprOrdering, Key, KeyKind, KeyedPage, PageRequest};
use super::segments::{self, SegmentRule};
use super::{DomainError, gifts};
use chrono_tz::Tz;

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
    /// Donors a saved segment's rule matches at the time of the search.
    #[serde(default)]
    pub segment: Option<SegmentScope>,
}

/// A segment's rule with the time zone its days are read in, so that a filter kept for
/// later (an export) matches as it would have at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SegmentScope {
    pub rule: SegmentRule,
    /// The IANA name of the zone ("America/Los_Angeles").
    pub zone: String,
}

impl SegmentScope {
    pub fn new(rule: SegmentRule, zone: Tz) -> Self {
        SegmentScope {
            rule,
            zone: zone.name().to_owned(),
        }
    }

    /// The ids of the donors the rule matches.
    fn members(&self) -> Result<SelectStatement, DomainError> {
        let zone: Tz = self.zone.parse().map_err(|_| {
            DomainError::validation("filter.segmentId", "the segment's time zone is unknown")
        })?;
        Ok(donor::Entity::find()
            .select_only()
            .column(donor::Column::Id)
            .filter(segments::condition_in(zone, &self.rule)?)
            .into_query())
    }
}

/// How to order donors. Ties are broken by id, so every order is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DonorOrder {
    Name,
    LastGift,
    LifetimeGiving,
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

/// `length(text)` in characters, on both databases.
fn length(text: impl Into<SimpleExpr>) -> FunctionCall {
    Func::cust(Alias::new("length")).arg(text)
}

fn d() -> Alias {
    Alias::new("d")
}

fn a() -> Alias {
    Alias::new("a")
}

/// Each donor's lifetime giving and last gift: their counted gifts, net of refunds, in
/// the totals currency.
fn giving_totals() -> SelectStatement {
    Query::select()
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
        .to_owned()
}

/// Whether the donor `d` has a counted gift to the fund.
fn gave_to_fund(fund_id: i64) -> SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(gift::Entity)
            .and_where(
                Expr::col((gift::Entity, gift::Column::DonorId)).equals((d(), donor::Column::Id)),
            )
            .and_where(gift::Column::FundId.eq(fund_id))
            .and_where(gifts::counted())
            .to_owned(),
    )
}

/// Whether the donor `d` is currently in the tier.
fn in_tier(tier_id: i64) -> SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(tier_membership::Entity)
            .and_where(
                Expr::col((tier_membership::Entity, tier_membership::Column::DonorId))
                    .equals((d(), donor::Column::Id)),
            )
            .and_where(tier_membership::Column::LeftAt.is_null())
            .and_where(tier_membership::Column::TierId.eq(tier_id))
            .to_owned(),
    )
}

/// Whether the donor `d` has an active pledge.
fn has_active_pledge() -> SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(pledge::Entity)
            .and_where(
                Expr::col((pledge::Entity, pledge::Column::DonorId))
                    .equals((d(), donor::Column::Id)),
            )
            .and_where(pledge::Column::Status.eq(PledgeStatus::Active))
            .to_owned(),
    )
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

/// At most this many donors found by another email they are known by are named in a
/// search's statement; past it the statement looks those emails up itself.
const NAMED_ALIAS_DONORS: u64 = 100;

/// The donors whose other emails (kept when records merge) match a search's text.
#[derive(Debug, PartialEq)]
enum AliasMatches {
    /// No text to match emails, or no other email matches it.
    None,
    /// These donors, at most `NAMED_ALIAS_DONORS`.
    Donors(Vec<i64>),
    /// More than `NAMED_ALIAS_DONORS`.
    Many,
}

/// Looks up, before the search's statement, which donors another email of theirs
/// brings into the search. Most searches match none, and a statement that names the
/// few that do is planned for what it finds: asked inside it, PostgreSQL's planner
/// takes the lookup to match half of all donors and, at 100,000, shares the scan
/// among parallel workers that double its work.
async fn alias_matches(
    db: &impl ConnectionTrait,
    filter: &DonorFilter,
) -> Result<AliasMatches, DomainError> {
    let Some(text) = searched_text(filter) else {
        return Ok(AliasMatches::None);
    };
    if filter.text_in_names_only {
        return Ok(AliasMatches::None);
    }
    let donors: Vec<i64> = donor_alias::Entity::find()
        .select_only()
        .column(donor_alias::Column::DonorId)
        .distinct()
        .filter(other_emails_matching(text))
        .order_by_asc(donor_alias::Column::DonorId)
        .limit(NAMED_ALIAS_DONORS + 1)
        .into_tuple()
        .all(db)
        .await?;
    Ok(match donors.len() as u64 {
        0 => AliasMatches::None,
        n if n > NAMED_ALIAS_DONORS => AliasMatches::Many,
        _ => AliasMatches::Donors(donors),
    })
}

/// The search's text, when it has one.
fn searched_text(filter: &DonorFilter) -> Option<&str> {
    filter.text.as_deref().filter(|t| !t.trim().is_empty())
}

fn text_pattern(text: &str) -> LikeExpr {
    LikeExpr::new(like_pattern(text)).escape('\\')
}

/// The other emails a donor is known by (stored lower-cased) that match `text`.
fn other_emails_matching(text: &str) -> Condition {
    Condition::all()
        .add(donor_alias::Column::Kind.eq(DonorAliasKind::Email))
        .add(Expr::col(donor_alias::Column::Value).like(text_pattern(text)))
}

/// The donors `d` that match, with each one's giving totals `a` joined only when a
/// filter or the order needs them (they aggregate every counted gift); `aliases` are
/// what [`alias_matches`] found for the filter.
fn matching(
    filter: &DonorFilter,
    with_totals: bool,
    aliases: &AliasMatches,
) -> Result<SelectStatement, DomainError> {
    let mut query = Query::select();
    query.from_as(donor::Entity, d());
    if with_totals {
        query.join_subquery(
            JoinType::LeftJoin,
            giving_totals(),
            a(),
            Expr::col((a(), gift::Column::DonorId)).equals((d(), donor::Column::Id)),
        );
    }
    let lifetime =
        || Func::coalesce([Expr::col((a(), Alias::new("lifetime_minor"))), Expr::val(0)]);
    let last_gift_at = || Expr::col((a(), Alias::new("last_gift_at")));
    if let Some(text) = searched_text(filter) {
        let search_text = Expr::col((d(), donor::Column::SearchText));
        // The search text is the name, then a space and the email when there is one.
        let searched: SimpleExpr = if filter.text_in_names_only {
            let email_part = Func::coalesce([
                Expr::expr(length(Expr::col((d(), donor::Column::Email)))).add(1),
                Expr::val(0),
            ]);
            Func::cust(Alias::new("substr"))
                .arg(search_text.clone())
                .arg(1)
                .arg(Expr::expr(length(search_text)).sub(email_part))
                .into()
        } else {
            search_text
        };
        let mut found = Condition::any().add(searched.like(text_pattern(text)));
        let id = || Expr::col((d(), donor::Column::Id));
        match aliases {
            AliasMatches::None => {}
            AliasMatches::Donors(donors) => found = found.add(id().is_in(donors.iter().copied())),
            AliasMatches::Many => {
                found = found.add(
                    id().in_subquery(
                        Query::select()
                            .column(donor_alias::Column::DonorId)
                            .from(donor_alias::Entity)
                            .cond_where(other_emails_matching(text))
                            .to_owned(),
                    ),
                )
            }
        }
        query.cond_where(found);
    }
    if let Some(tier_id) = filter.tier_id {
        query.and_where(in_tier(tier_id));
    }
    if let Some(fund_id) = filter.fund_id {
        query.and_where(gave_to_fund(fund_id));
    }
    if let Some(min) = filter.lifetime_min_minor {
        query.and_where(Expr::expr(lifetime()).gte(min));
    }
    if let Some(max) = filter.lifetime_max_minor {
        query.and_where(Expr::expr(lifetime()).lte(max));
    }
    if let Some(from) = filter.last_gift_from {
        query.and_where(last_gift_at().gte(from));
    }
    if let Some(to) = filter.last_gift_to {
        query.and_where(last_gift_at().lt(to));
    }
    if let Some(has) = filter.has_active_pledge {
        query.and_where(if has {
            has_active_pledge()
        } else {
            has_active_pledge().not()
        });
    }
    if let Some(language) = filter.language {
        query.and_where(Expr::col((d(), donor::Column::Language)).eq(language.as_str()));
    }
    if let Some(consent) = filter.email_consent {
        query.and_where(Expr::col((d(), donor::Column::EmailConsent)).eq(consent));
    }
    if let Some(scope) = &filter.segment {
        query.and_where(Expr::col((d(), donor::Column::Id)).in_subquery(scope.members()?));
    }
    Ok(query)
}

impl DonorOrder {
    /// This order, ascending or descending, as a keyed order over the search's rows:
    /// the donor `d` and their giving totals `a`.
    pub fn ordering(self, descending: bool) -> ExprOrdering {
        let key = |expr: SimpleExpr, kind: KeyKind, descending: bool| ExprKey {
            expr,
            kind,
            descending,
        };
        let id = key(
            Expr::col((d(), donor::Column::Id)),
            KeyKind::Integer,
            descending,
        );
        let name = match (self, descending) {
            (DonorOrder::Name, false) => "donors-name",
            (DonorOrder::Name, true) => "donors-name-desc",
            (DonorOrder::LastGift, false) => "donors-last-gift",
            (DonorOrder::LastGift, true) => "donors-last-gift-desc",
            (DonorOrder::LifetimeGiving, false) => "donors-lifetime",
            (DonorOrder::LifetimeGiving, true) => "donors-lifetime-desc",
        };
        let mut keys = Vec::with_capacity(3);
        match self {
            DonorOrder::Name => keys.push(key(
                Func::lower(Expr::col((d(), donor::Column::DisplayName))).into(),
                KeyKind::Text,
                descending,
            )),
            DonorOrder::LastGift => {
                let last_gift_at = Expr::col((a(), Alias::new("last_gift_at")));
                // Donors who never gave come last either way, in id order among
                // themselves; the date stands in for their missing last gift.
                keys.push(key(
                    Func::cast_as(
                        Expr::case(last_gift_at.clone().is_null(), 1).finally(0),
                        Alias::new("BIGINT"),
                    )
                    .into(),
                    KeyKind::Integer,
                    false,
                ));
                keys.push(key(
                    Func::coalesce([last_gift_at, Expr::val(DateTime::<Utc>::UNIX_EPOCH)]).into(),
                    KeyKind::Time,
                    descending,
                ));
            }
            DonorOrder::LifetimeGiving => keys.push(key(
                Func::cast_as(
                    Func::coalesce([Expr::col((a(), Alias::new("lifetime_minor"))), Expr::val(0)]),
                    Alias::new("BIGINT"),
                )
                .into(),
                KeyKind::Integer,
                descending,
            )),
        }
        keys.push(id);
        ExprOrdering { name, keys }
    }
}

/// A search: its filter, and the donors its text brings in by other emails, looked up
/// once so that its count and its page read the same donors.
pub struct DonorSearch<'a> {
    filter: &'a DonorFilter,
    aliases: AliasMatches,
}

impl<'a> DonorSearch<'a> {
    pub async fn new(
        db: &impl ConnectionTrait,
        filter: &'a DonorFilter,
    ) -> Result<DonorSearch<'a>, DomainError> {
        Ok(DonorSearch {
            filter,
            aliases: alias_matches(db, filter).await?,
        })
    }

    /// How many donors match.
    pub async fn count(&self, db: &impl ConnectionTrait) -> Result<u64, DomainError> {
        let query = matching(self.filter, self.filter.needs_totals(), &self.aliases)?
            .expr(Expr::col(Asterisk).count())
            .to_owned();
        let row = db
            .query_one_raw(db.get_database_backend().build(&query))
            .await?;
        let count: i64 = match row {
            Some(row) => row.try_get_by_index(0)?,
            None => 0,
        };
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// One page of matching donors in `ordering` (from [`DonorOrder::ordering`]), each
    /// with its place in it.
    pub async fn page(
        &self,
        db: &impl ConnectionTrait,
        order: DonorOrder,
        ordering: &ExprOrdering,
        request: &PageRequest,
        size_when_unsaid: u64,
    ) -> Result<KeyedPage<(donor::Model, Key)>, DomainError> {
        let with_totals = self.filter.needs_totals() || order != DonorOrder::Name;
        let mut query = matching(self.filter, with_totals, &self.aliases)?;
        query.column((d(), Asterisk));
        ordering
            .page(db, query, request, size_when_unsaid, |row| {
                Ok(donor::Model::from_query_result(row, "")?)
            })
            .await
    }

    /// The given `columns` of the next `limit` matching donors after the donor with id
    /// `after`, in id order: how an export reads every match a page at a time, each page
    /// found through the primary key however deep it is (an offset would read all the
    /// pages before it again).
    pub fn after(
        &self,
        columns: &[donor::Column],
        after: i64,
        limit: u64,
    ) -> Result<SelectStatement, DomainError> {
        Ok(
            matching(self.filter, self.filter.needs_totals(), &self.aliases)?
                .columns(columns.iter().map(|column| (d(), *column)))
                .and_where(Expr::col((d(), donor::Column::Id)).gt(after))
                .order_by((d(), donor::Column::Id), Order::Asc)
                .limit(limit)
                .to_owned(),
        )
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // A failed step should stop the test where it happened.
mod tests {
    use super::*;

    #[test]
    fn like_patterns_fold_accents_and_escape_wildcards() {
        assert_eq!(like_pattern(" José "), "%jose%");
        assert_eq!(like_pattern("50%_"), "%50\\%\\_%");
    }

    async fn donor(db: &impl ConnectionTrait, name: &str, email: &str) -> donor::Model {
        let new = crate::domain::donors::NewDonor {
            kind: entity::enums::DonorKind::Individual,
            display_name: name.to_owned(),
            first_name: None,
            last_name: None,
            email: Some(email.to_owned()),
            phone: None,
            address: Default::default(),
            language: Language::English,
            email_consent: false,
            anonymous: false,
            notes: None,
        };
        crate::domain::donors::insert_donor(db, new, None)
            .await
            .expect("the donor is added")
    }

    async fn other_email(db: &impl ConnectionTrait, donor_id: i64, email: &str) {
        use sea_orm::{ActiveModelTrait, Set};
        donor_alias::ActiveModel {
            donor_id: Set(donor_id),
            kind: Set(DonorAliasKind::Email),
            value: Set(email.to_owned()),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("the other email is kept");
    }

    /// The `n`th donor known by another email at lindqvist.example.org.
    async fn known_by_lindqvist(db: &impl ConnectionTrait, n: u64) {
        let known = donor(db, &format!("Donor {n}"), &format!("d{n}@example.org")).await;
        other_email(db, known.id, &format!("d{n}@lindqvist.example.org")).await;
    }

    async fn count(db: &impl ConnectionTrait, filter: &DonorFilter) -> u64 {
        DonorSearch::new(db, filter)
            .await
            .expect("the lookup")
            .count(db)
            .await
            .expect("a count")
    }

    fn searching(text: &str, names_only: bool) -> DonorFilter {
        DonorFilter {
            text: Some(text.to_owned()),
            text_in_names_only: names_only,
            ..Default::default()
        }
    }

    /// The plan of the count of `filter`'s matches, as the search builds it.
    async fn count_plan(db: &impl ConnectionTrait, filter: &DonorFilter) -> String {
        let search = DonorSearch::new(db, filter).await.expect("the lookup");
        let query = matching(filter, false, &search.aliases)
            .expect("a statement")
            .expr(Expr::col(Asterisk).count())
            .to_owned();
        crate::db::testing::plan(db, db.get_database_backend().build(&query)).await
    }

    #[tokio::test]
    async fn other_emails_are_looked_up_first_and_the_donors_they_bring_named_in_the_search() {
        for test in crate::db::testing::each_backend().await {
            let db = &test.db;
            let ana = donor(db, "Ana Garcia", "ana@example.org").await;
            let bo = donor(db, "Bo Smith", "bo@example.org").await;
            let cy = donor(db, "Cy Jones", "cy@example.org").await;
            other_email(db, bo.id, "bo.garcia@example.org").await;
            other_email(db, cy.id, "cy@old.example.org").await;

            let garcia = searching("García", false);
            assert_eq!(
                alias_matches(db, &garcia).await.expect("the lookup"),
                AliasMatches::Donors(vec![bo.id])
            );
            assert_eq!(count(db, &garcia).await, 2);
            let ordering = DonorOrder::Name.ordering(false);
            let page = DonorSearch::new(db, &garcia)
                .await
                .expect("the lookup")
                .page(db, DonorOrder::Name, &ordering, &PageRequest::default(), 25)
                .await
                .expect("a page");
            let found: Vec<i64> = page.rows.iter().map(|(donor, _)| donor.id).collect();
            assert_eq!(found, vec![ana.id, bo.id]);
            let export = DonorSearch::new(db, &garcia)
                .await
                .expect("the lookup")
                .after(&[donor::Column::Id], 0, 10)
                .expect("an export's part");
            assert_eq!(db.query_all(&export).await.expect("the part").len(), 2);
            let plan = count_plan(db, &garcia).await;
            assert!(!plan.contains("donor_aliases"), "{plan}");

            // Searching names only never reads other emails; nor does a search that
            // matches none.
            let names = searching("garcia", true);
            assert_eq!(
                alias_matches(db, &names).await.expect("the lookup"),
                AliasMatches::None
            );
            assert_eq!(count(db, &names).await, 1);
            let ana_only = searching("ana", false);
            assert_eq!(
                alias_matches(db, &ana_only).await.expect("the lookup"),
                AliasMatches::None
            );
            assert_eq!(count(db, &ana_only).await, 1);
            assert_eq!(
                alias_matches(db, &DonorFilter::default())
                    .await
                    .expect("the lookup"),
                AliasMatches::None
            );

            // Up to the bound the donors are named; past it the statement looks the
            // other emails up itself, and still finds every donor they bring.
            let lindqvist = searching("lindqvist", false);
            for n in 0..NAMED_ALIAS_DONORS {
                known_by_lindqvist(db, n).await;
            }
            let named = alias_matches(db, &lindqvist).await.expect("the lookup");
            assert!(
                matches!(&named, AliasMatches::Donors(d) if d.len() as u64 == NAMED_ALIAS_DONORS),
                "{named:?}"
            );
            known_by_lindqvist(db, NAMED_ALIAS_DONORS).await;
            assert_eq!(
                alias_matches(db, &lindqvist).await.expect("the lookup"),
                AliasMatches::Many
            );
            assert_eq!(count(db, &lindqvist).await, NAMED_ALIAS_DONORS + 1);
            let plan = count_plan(db, &lindqvist).await;
            assert!(plan.contains("donor_aliases"), "{plan}");
            test.close().await;
        }
    }
}
