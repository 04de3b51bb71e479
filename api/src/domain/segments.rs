//! Segments: saved, named audience rules. A rule is stored as JSON and read into
//! [`SegmentRule`] at the edge; it is evaluated in SQL as a condition on donors, so a
//! segment of fifty thousand donors is counted and paged without loading them.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use entity::enums::{Language, PledgeStatus};
use entity::{donor, gift, pledge, segment, tier_membership};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::keyset::{CountedPage, KeyKind, KeyedPage, Ordering, PageRequest};
use super::{Actor, DomainError, audit};
use super::{gifts, text};
use crate::config::Organization;
use crate::db::begin_write;
use chrono_tz::Tz;

/// An audience rule. Dates are days in the organization's time zone, both ends
/// included; amounts are minor units, net of refunds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum SegmentRule {
    /// Donors every rule matches.
    All { rules: Vec<SegmentRule> },
    /// Donors any rule matches.
    Any { rules: Vec<SegmentRule> },
    /// Donors the rule does not match.
    Not { rule: Box<SegmentRule> },
    /// Gave at least once between the two days.
    #[serde(rename_all = "camelCase")]
    GaveBetween { from: NaiveDate, to: NaiveDate },
    /// Did not give between the two days.
    #[serde(rename_all = "camelCase")]
    DidNotGiveBetween { from: NaiveDate, to: NaiveDate },
    /// Gave Last Year But Unfortunately Not This year: gave in `year - 1`, not in `year`.
    Lybunt { year: i32 },
    /// Gave Some Year But Unfortunately Not This year: gave before `year - 1` at least
    /// once, but neither last year nor this one.
    Sybunt { year: i32 },
    /// Lifetime giving within a range (either end may be left out).
    #[serde(rename_all = "camelCase")]
    LifetimeGiving {
        min_minor: Option<i64>,
        max_minor: Option<i64>,
    },
    /// Giving in one calendar year within a range.
    #[serde(rename_all = "camelCase")]
    YearGiving {
        year: i32,
        min_minor: Option<i64>,
        max_minor: Option<i64>,
    },
    /// A current member of a giving-club tier.
    #[serde(rename_all = "camelCase")]
    InTier { tier_id: i64 },
    /// Has (or, with `has: false`, has not) an active or past-due pledge.
    ActivePledge { has: bool },
    /// Has a pledge whose payments are past due.
    PledgePastDue,
    /// Has a pledge in this status (`active`, `paused`, `past_due`, `cancelled`,
    /// `completed`).
    #[serde(rename = "pledgeStatus")]
    PledgeInStatus { status: PledgeStatus },
    /// Gave to a fund.
    #[serde(rename_all = "camelCase")]
    GaveToFund { fund_id: i64 },
    /// Gave through an appeal.
    #[serde(rename_all = "camelCase")]
    AttributedToAppeal { appeal_id: i64 },
    /// Made their first gift ever between the two days.
    #[serde(rename_all = "camelCase")]
    FirstGiftBetween { from: NaiveDate, to: NaiveDate },
    /// Reads in a language, by its code ("es").
    SpeaksLanguage { language: String },
    /// Agreed (or not) to email.
    EmailConsent { consented: bool },
    /// Has a postal address we can mail a letter to.
    HasPostalAddress,
}

/// The deepest nesting of all/any/not a rule may use.
const MAX_DEPTH: usize = 8;

/// The most conditions a rule may hold: each becomes a clause of one statement, and
/// the databases refuse statements past a size (SQLite's expression depth among them).
pub const MAX_RULES: usize = 200;

impl SegmentRule {
    /// Reads a rule stored in `segments.rule`.
    pub fn parse(value: &Value) -> Result<Self, DomainError> {
        Self::parse_at(value, "rule")
    }

    /// Reads a rule typed by staff as JSON; a refusal names the part of it at fault,
    /// starting from `root` (`ruleJson.rules[1].year`).
    pub fn parse_at(value: &Value, root: &str) -> Result<Self, DomainError> {
        let rule: SegmentRule = serde_json::from_value(value.clone()).map_err(|error| {
            explain_refusal(value, root.to_owned())
                .unwrap_or_else(|| DomainError::validation(root, error.to_string()))
        })?;
        rule.checked(root)
    }

    /// Checks a rule built in code or from typed input: its size, nesting, ranges.
    /// A refusal names `root`.
    pub fn checked(self, root: &str) -> Result<Self, DomainError> {
        if self.size() > MAX_RULES {
            return Err(DomainError::validation(
                root,
                format!("holds more than {MAX_RULES} conditions"),
            ));
        }
        self.check(0, root)?;
        Ok(self)
    }

    /// How many conditions, all/any/not included, the rule holds.
    fn size(&self) -> usize {
        match self {
            SegmentRule::All { rules } | SegmentRule::Any { rules } => {
                1 + rules.iter().map(SegmentRule::size).sum::<usize>()
            }
            SegmentRule::Not { rule } => 1 + rule.size(),
            _ => 1,
        }
    }

    fn check(&self, depth: usize, root: &str) -> Result<(), DomainError> {
        if depth > MAX_DEPTH {
            return Err(DomainError::validation(root, "is nested too deeply"));
        }
        let range = |from: &NaiveDate, to: &NaiveDate| {
            if to < from {
                Err(DomainError::validation(
                    root,
                    "a range ends before it starts",
                ))
            } else {
                Ok(())
            }
        };
        let amounts = |min: &Option<i64>, max: &Option<i64>| match (min, max) {
            (None, None) => Err(DomainError::validation(root, "a giving range needs an end")),
            (Some(a), Some(b)) if b < a => Err(DomainError::validation(
                root,
                "a giving range ends below its start",
            )),
            _ => Ok(()),
        };
        match self {
            SegmentRule::All { rules } | SegmentRule::Any { rules } => {
                if rules.is_empty() {
                    return Err(DomainError::validation(
                        root,
                        "all/any needs at least one rule",
                    ));
                }
                rules.iter().try_for_each(|r| r.check(depth + 1, root))
            }
            SegmentRule::Not { rule } => rule.check(depth + 1, root),
            SegmentRule::SpeaksLanguage { language } => Language::parse(language)
                .map(|_| ())
                .ok_or_else(|| DomainError::validation(root, format!("no language {language:?}"))),
            SegmentRule::GaveBetween { from, to }
            | SegmentRule::DidNotGiveBetween { from, to }
            | SegmentRule::FirstGiftBetween { from, to } => range(from, to),
            SegmentRule::LifetimeGiving {
                min_minor,
                max_minor,
            }
            | SegmentRule::YearGiving {
                min_minor,
                max_minor,
                ..
            } => amounts(min_minor, max_minor),
            _ => Ok(()),
        }
    }

    fn to_json(&self) -> Result<Value, DomainError> {
        serde_json::to_value(self).map_err(|e| DomainError::Unexpected(e.into()))
    }
}

/// Finds the innermost part of a JSON rule that does not read, and says what it lacks.
fn explain_refusal(value: &Value, path: String) -> Option<DomainError> {
    let kind = value.get("kind").and_then(Value::as_str);
    let inner = match kind {
        Some("all" | "any") => value
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .find_map(|(i, rule)| explain_refusal(rule, format!("{path}.rules[{i}]"))),
        Some("not") => value
            .get("rule")
            .and_then(|rule| explain_refusal(rule, format!("{path}.rule"))),
        _ => None,
    };
    if inner.is_some() {
        return inner;
    }
    let error = serde_json::from_value::<SegmentRule>(value.clone()).err()?;
    let message = error.to_string();
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    let kind = kind.unwrap_or("rule");
    Some(if let Some(name) = quoted("missing field `") {
        let reason = if name == "kind" {
            "every rule needs a `kind`".to_owned()
        } else {
            format!("a `{kind}` rule needs `{name}`")
        };
        DomainError::validation(format!("{path}.{name}"), reason)
    } else if quoted("unknown variant `").is_some() {
        DomainError::validation(format!("{path}.kind"), message)
    } else if let Some(name) = quoted("unknown field `") {
        DomainError::validation(format!("{path}.{name}"), message)
    } else {
        DomainError::validation(path, message)
    })
}

/// The first moment of a day in the organization's time zone, in UTC.
fn start_of_day(zone: Tz, day: NaiveDate) -> Result<DateTime<Utc>, DomainError> {
    zone.with_ymd_and_hms(day.year(), day.month(), day.day(), 0, 0, 0)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| DomainError::validation("rule", format!("{day} is not a usable day")))
}

/// `[from, to]` in local days as a half-open UTC range.
fn day_bounds(
    zone: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DomainError> {
    let next = to
        .succ_opt()
        .ok_or_else(|| DomainError::validation("rule", "a range ends too late"))?;
    Ok((start_of_day(zone, from)?, start_of_day(zone, next)?))
}

fn year_days(year: i32) -> Result<(NaiveDate, NaiveDate), DomainError> {
    match (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year, 12, 31),
    ) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(DomainError::validation(
            "rule",
            format!("{year} is not a usable year"),
        )),
    }
}

/// Donor ids with a counted gift (succeeded or partly refunded).
fn givers() -> SelectStatement {
    Query::select()
        .column(gift::Column::DonorId)
        .from(gift::Entity)
        .and_where(gifts::counted())
        .to_owned()
}

fn givers_between(start: DateTime<Utc>, end: DateTime<Utc>) -> SelectStatement {
    givers()
        .and_where(gift::Column::ReceivedAt.gte(start))
        .and_where(gift::Column::ReceivedAt.lt(end))
        .to_owned()
}

fn donor_in(query: SelectStatement) -> Condition {
    Condition::all().add(Expr::col((donor::Entity, donor::Column::Id)).in_subquery(query))
}

fn donor_not_in(query: SelectStatement) -> Condition {
    Condition::all().add(Expr::col((donor::Entity, donor::Column::Id)).not_in_subquery(query))
}

/// Donors whose net giving (in `window`, or ever) is within `[min, max]`.
fn giving_range(
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    min: Option<i64>,
    max: Option<i64>,
) -> Condition {
    let total = || Expr::from(Func::sum(gifts::net_amount()));
    let mut totals = givers();
    if let Some((start, end)) = window {
        totals
            .and_where(gift::Column::ReceivedAt.gte(start))
            .and_where(gift::Column::ReceivedAt.lt(end));
    }
    totals.group_by_col(gift::Column::DonorId);
    match min.filter(|m| *m > 0) {
        Some(min) => {
            totals.and_having(total().gte(min));
            if let Some(max) = max {
                totals.and_having(total().lte(max));
            }
            donor_in(totals)
        }
        // With no lower bound, donors who gave nothing are in the range too.
        None => {
            totals.and_having(total().gt(max.unwrap_or(i64::MAX)));
            donor_not_in(totals)
        }
    }
}

/// The rule as a SQL condition on `donors`, its days in the organization's time zone.
pub fn condition(org: &Organization, rule: &SegmentRule) -> Result<Condition, DomainError> {
    condition_in(org.timezone, rule)
}

/// The rule as a SQL condition on `donors`, its days in `zone`.
pub fn condition_in(zone: Tz, rule: &SegmentRule) -> Result<Condition, DomainError> {
    Ok(match rule {
        SegmentRule::All { rules } => rules.iter().try_fold(Condition::all(), |c, r| {
            Ok::<_, DomainError>(c.add(condition_in(zone, r)?))
        })?,
        SegmentRule::Any { rules } => rules.iter().try_fold(Condition::any(), |c, r| {
            Ok::<_, DomainError>(c.add(condition_in(zone, r)?))
        })?,
        SegmentRule::Not { rule } => condition_in(zone, rule)?.not(),
        SegmentRule::GaveBetween { from, to } => {
            let (start, end) = day_bounds(zone, *from, *to)?;
            donor_in(givers_between(start, end))
        }
        SegmentRule::DidNotGiveBetween { from, to } => {
            let (start, end) = day_bounds(zone, *from, *to)?;
            donor_not_in(givers_between(start, end))
        }
        SegmentRule::Lybunt { year } => {
            let (last_from, last_to) = year_days(year - 1)?;
            let (this_from, this_to) = year_days(*year)?;
            condition_in(
                zone,
                &SegmentRule::All {
                    rules: vec![
                        SegmentRule::GaveBetween {
                            from: last_from,
                            to: last_to,
                        },
                        SegmentRule::DidNotGiveBetween {
                            from: this_from,
                            to: this_to,
                        },
                    ],
                },
            )?
        }
        SegmentRule::Sybunt { year } => {
            let (last_from, _) = year_days(year - 1)?;
            let (_, this_to) = year_days(*year)?;
            let before_last = start_of_day(zone, last_from)?;
            let (start, end) = day_bounds(zone, last_from, this_to)?;
            Condition::all()
                .add(donor_in(
                    givers()
                        .and_where(gift::Column::ReceivedAt.lt(before_last))
                        .to_owned(),
                ))
                .add(donor_not_in(givers_between(start, end)))
        }
        SegmentRule::LifetimeGiving {
            min_minor,
            max_minor,
        } => giving_range(None, *min_minor, *max_minor),
        SegmentRule::YearGiving {
            year,
            min_minor,
            max_minor,
        } => {
            let (from, to) = year_days(*year)?;
            giving_range(Some(day_bounds(zone, from, to)?), *min_minor, *max_minor)
        }
        SegmentRule::InTier { tier_id } => donor_in(
            Query::select()
                .column(tier_membership::Column::DonorId)
                .from(tier_membership::Entity)
                .and_where(tier_membership::Column::TierId.eq(*tier_id))
                .and_where(tier_membership::Column::LeftAt.is_null())
                .to_owned(),
        ),
        SegmentRule::ActivePledge { has } => {
            let pledgers = Query::select()
                .column(pledge::Column::DonorId)
                .from(pledge::Entity)
                .and_where(
                    pledge::Column::Status.is_in([PledgeStatus::Active, PledgeStatus::PastDue]),
                )
                .to_owned();
            if *has {
                donor_in(pledgers)
            } else {
                donor_not_in(pledgers)
            }
        }
        SegmentRule::PledgePastDue => donor_in(
            Query::select()
                .column(pledge::Column::DonorId)
                .from(pledge::Entity)
                .and_where(pledge::Column::Status.eq(PledgeStatus::PastDue))
                .to_owned(),
        ),
        SegmentRule::PledgeInStatus { status } => donor_in(
            Query::select()
                .column(pledge::Column::DonorId)
                .from(pledge::Entity)
                .and_where(pledge::Column::Status.eq(*status))
                .to_owned(),
        ),
        SegmentRule::GaveToFund { fund_id } => donor_in(
            givers()
                .and_where(gift::Column::FundId.eq(*fund_id))
                .to_owned(),
        ),
        SegmentRule::AttributedToAppeal { appeal_id } => donor_in(
            givers()
                .and_where(gift::Column::AppealId.eq(*appeal_id))
                .to_owned(),
        ),
        SegmentRule::FirstGiftBetween { from, to } => {
            let (start, end) = day_bounds(zone, *from, *to)?;
            let mut first = givers();
            first
                .group_by_col(gift::Column::DonorId)
                .and_having(Expr::cust("MIN(received_at)").gte(start))
                .and_having(Expr::cust("MIN(received_at)").lt(end));
            donor_in(first)
        }
        SegmentRule::SpeaksLanguage { language } => {
            let language = Language::parse(language).ok_or_else(|| {
                DomainError::validation("rule", format!("no language {language:?}"))
            })?;
            Condition::all().add(donor::Column::Language.eq(language))
        }
        SegmentRule::EmailConsent { consented } => Condition::all()
            .add(donor::Column::EmailConsent.eq(*consented))
            .add_option(consented.then(|| donor::Column::Email.is_not_null())),
        SegmentRule::HasPostalAddress => Condition::all()
            .add(donor::Column::AddressLine1.is_not_null())
            .add(donor::Column::AddressLine1.ne(""))
            .add(donor::Column::City.is_not_null())
            .add(donor::Column::PostalCode.is_not_null()),
    })
}

/// How many donors a rule matches, and the first `first` of them by id.
pub async fn preview(
    db: &impl ConnectionTrait,
    org: &Organization,
    rule: &SegmentRule,
    first: u64,
) -> Result<(u64, Vec<donor::Model>), DomainError> {
    let count = count_members(db, org, rule).await?;
    let request = PageRequest {
        first: Some(first),
        ..Default::default()
    };
    let donors = members_page(db, org, rule, &request, first).await?.rows;
    Ok((count, donors))
}

/// How many donors a rule matches now.
pub async fn count_members(
    db: &impl ConnectionTrait,
    org: &Organization,
    rule: &SegmentRule,
) -> Result<u64, DomainError> {
    Ok(donor::Entity::find()
        .filter(condition(org, rule)?)
        .count(db)
        .await?)
}

/// A segment's members are listed by id.
pub fn members_by_id() -> Ordering<donor::Column> {
    Ordering::by_id("segment-members", donor::Column::Id, false)
}

/// One page of the donors a rule matches, by id.
pub async fn members_page(
    db: &impl ConnectionTrait,
    org: &Organization,
    rule: &SegmentRule,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<KeyedPage<donor::Model>, DomainError> {
    members_by_id()
        .page(
            db,
            donor::Entity::find().filter(condition(org, rule)?),
            request,
            size_when_unsaid,
        )
        .await
}

/// A segment as staff describe it.
#[derive(Debug, Clone)]
pub struct SegmentDetails {
    pub name: String,
    pub description: Option<String>,
    pub rule: SegmentRule,
}

fn segment_snapshot(s: &segment::Model) -> Value {
    json!({ "name": s.name, "description": s.description, "rule": s.rule })
}

/// Saves a named rule.
pub async fn create_segment(
    db: &DatabaseConnection,
    actor: &Actor,
    details: SegmentDetails,
) -> Result<segment::Model, DomainError> {
    let name = details.name.trim().to_owned();
    if name.is_empty() {
        return Err(DomainError::validation("name", "must not be empty"));
    }
    let txn = begin_write(db).await?;
    if segment::Entity::find()
        .filter(segment::Column::Name.eq(&name))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(DomainError::conflict(
            Some("name"),
            "a segment with this name already exists",
        ));
    }
    let now = Utc::now();
    let created = segment::ActiveModel {
        name: Set(name),
        description: Set(details.description.and_then(text::non_blank)),
        rule: Set(details.rule.to_json()?),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record_and_commit(
        txn,
        actor,
        "createSegment",
        "segment",
        Some(created.id.to_string()),
        segment_snapshot(&created),
    )
    .await?;
    Ok(created)
}

/// Changes a segment's rule (and name or description).
pub async fn update_segment(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    name: Option<String>,
    rule: Option<SegmentRule>,
) -> Result<segment::Model, DomainError> {
    let txn = begin_write(db).await?;
    let before = segment::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::not_found("segment", id))?;
    let mut active: segment::ActiveModel = before.clone().into();
    if let Some(name) = name {
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(DomainError::validation("name", "must not be empty"));
        }
        active.name = Set(name);
    }
    if let Some(rule) = rule {
        active.rule = Set(rule.to_json()?);
    }
    active.updated_at = Set(Utc::now());
    let after = active.update(&txn).await?;
    audit::record_and_commit(
        txn,
        actor,
        "updateSegment",
        "segment",
        Some(id.to_string()),
        audit::changed_fields(&segment_snapshot(&before), &segment_snapshot(&after)),
    )
    .await?;
    Ok(after)
}

/// Saved segments are listed by name, ties by id.
pub fn segments_by_name() -> Ordering<segment::Column> {
    use segment::Column::{Id, Name};
    Ordering::by("segments-by-name", Name, KeyKind::Text, Id, false)
}

/// One page of the saved segments in [`segments_by_name`], and how many there are.
pub async fn page_segments(
    db: &impl ConnectionTrait,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<CountedPage<segment::Model>, DomainError> {
    segments_by_name()
        .page_counted(db, segment::Entity::find(), request, size_when_unsaid)
        .await
}

/// One saved segment.
pub async fn find_segment(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<segment::Model, DomainError> {
    segment::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("segment", id))
}

/// A saved segment's rule.
pub fn saved_rule(segment: &segment::Model) -> Result<SegmentRule, DomainError> {
    SegmentRule::parse(&segment.rule)
}
