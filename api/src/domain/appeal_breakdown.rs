//! An appeal's results by segment rule.
//!
//! The rules of a segment, for this purpose, are its **alternatives**: the rules of a
//! top-level `any`, or of the one `any` inside a top-level `all` (the rest of the `all`
//! applies to every recipient alike, so it would split nothing). Any other segment is
//! one rule, the whole of it. "Lapsed donors: LYBUNT or SYBUNT or gave over $1,000"
//! gives three rows.
//!
//! A donor belongs to an alternative when they matched it **when the appeal was queued**:
//! the email send records, in each message, which alternatives its donor matched, since
//! a rule such as LYBUNT stops matching a donor the moment they answer the appeal. An
//! appeal with nothing queued (a letter) is broken down by who matches each alternative
//! now. A donor matching several alternatives counts in each, so rows may add up to
//! more than the totals; a gift from someone the appeal did not reach counts in none.

use std::collections::{HashMap, HashSet};

use entity::{appeal, donor, gift, outbox};
use sea_orm::sea_query::{Alias, Condition, Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect};

use super::segments::{self, SegmentRule};
use super::{DomainError, gifts};
use crate::config::Organization;

/// The payload field of an appeal message that lists the alternatives its donor matched.
pub const RULES_FIELD: &str = "segmentRules";

/// How the recipients who matched one alternative of the segment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleResults {
    /// Its place among the segment's alternatives, from 0.
    pub index: usize,
    pub rule: SegmentRule,
    /// Recipients who matched it.
    pub recipients: i64,
    /// Gifts attributed to the appeal from those donors, and how many of them gave.
    pub gifts: i64,
    pub donors: i64,
    /// Net of refunds.
    pub raised_minor: i64,
}

/// The alternatives of a segment rule, as the module documentation explains.
pub fn alternatives(rule: &SegmentRule) -> Vec<SegmentRule> {
    match rule {
        SegmentRule::Any { rules } => rules.clone(),
        SegmentRule::All { rules } => {
            let mut anys = rules.iter().filter_map(|r| match r {
                SegmentRule::Any { rules } => Some(rules),
                _ => None,
            });
            match (anys.next(), anys.next()) {
                (Some(only), None) => only.clone(),
                _ => vec![rule.clone()],
            }
        }
        other => vec![other.clone()],
    }
}

async fn appeal_rule(
    db: &impl ConnectionTrait,
    appeal: &appeal::Model,
) -> Result<Option<SegmentRule>, DomainError> {
    let Some(segment_id) = appeal.segment_id else {
        return Ok(None);
    };
    let saved = entity::segment::Entity::find_by_id(segment_id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::validation("segmentId", "the segment no longer exists"))?;
    Ok(Some(segments::saved_rule(&saved)?))
}

/// For each donor in `audience`, the alternatives of the appeal's segment they match
/// now; `None` when the appeal has no segment.
pub async fn matched_alternatives(
    db: &impl ConnectionTrait,
    org: &Organization,
    appeal: &appeal::Model,
    audience: Condition,
) -> Result<Option<HashMap<i64, Vec<usize>>>, DomainError> {
    let Some(rule) = appeal_rule(db, appeal).await? else {
        return Ok(None);
    };
    let mut matched: HashMap<i64, Vec<usize>> = HashMap::new();
    for (index, alternative) in alternatives(&rule).iter().enumerate() {
        let ids: Vec<i64> = donor::Entity::find()
            .select_only()
            .column(donor::Column::Id)
            .filter(audience.clone())
            .filter(segments::condition(org, alternative)?)
            .into_tuple()
            .all(db)
            .await?;
        for id in ids {
            matched.entry(id).or_default().push(index);
        }
    }
    Ok(Some(matched))
}

/// The appeal's messages: each recipient and, when recorded, the alternatives they
/// matched when it was queued.
async fn queued_recipients(
    db: &impl ConnectionTrait,
    appeal_id: i64,
) -> Result<Vec<(i64, Option<Vec<usize>>)>, DomainError> {
    let backend = db.get_database_backend();
    let rules = match backend {
        DbBackend::Postgres => Expr::cust("CAST(payload AS jsonb) ->> 'segmentRules'"),
        _ => Expr::cust("json_extract(payload, '$.segmentRules')"),
    };
    let query = Query::select()
        .column(outbox::Column::DonorId)
        .expr_as(rules, Alias::new("rules"))
        .from(outbox::Entity)
        .and_where(outbox::Column::IdempotencyKey.like(format!("appeal:{appeal_id}:%")))
        .and_where(outbox::Column::DonorId.is_not_null())
        .to_owned();
    let rows = db.query_all_raw(backend.build(&query)).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let donor_id: i64 = row.try_get("", "donor_id")?;
        let rules: Option<String> = row.try_get("", "rules")?;
        let matched = rules.and_then(|text| serde_json::from_str::<Vec<usize>>(&text).ok());
        found.push((donor_id, matched));
    }
    Ok(found)
}

/// The appeal's results for each alternative of its segment; empty when it has no
/// segment.
pub async fn results_by_segment_rule(
    db: &impl ConnectionTrait,
    org: &Organization,
    appeal_id: i64,
) -> Result<Vec<RuleResults>, DomainError> {
    let appeal = appeal::Entity::find_by_id(appeal_id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("appeal", appeal_id))?;
    let Some(rule) = appeal_rule(db, &appeal).await? else {
        return Ok(Vec::new());
    };
    let rules = alternatives(&rule);
    let given: Vec<(i64, i64)> = gift::Entity::find()
        .select_only()
        .column(gift::Column::DonorId)
        .column_as(gifts::net_amount(), "net_minor")
        .filter(gift::Column::AppealId.eq(appeal_id))
        .filter(gifts::counted())
        .into_tuple()
        .all(db)
        .await?;

    let queued = queued_recipients(db, appeal_id).await?;
    let recorded = !queued.is_empty() && queued.iter().all(|(_, m)| m.is_some());
    let membership: HashMap<i64, Vec<usize>> = if recorded {
        queued
            .iter()
            .map(|(id, m)| (*id, m.clone().unwrap_or_default()))
            .collect()
    } else {
        // Evaluated now: among the recipients when there are any, otherwise among the
        // donors who gave through the appeal.
        let people: Vec<i64> = if queued.is_empty() {
            given.iter().map(|(id, _)| *id).collect()
        } else {
            queued.iter().map(|(id, _)| *id).collect()
        };
        let mut unique: Vec<i64> = people
            .into_iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        unique.sort_unstable();
        let mut membership = HashMap::new();
        for chunk in unique.chunks(500) {
            let among = Condition::all()
                .add(donor::Column::Id.is_in(chunk.iter().copied()))
                .add(segments::condition(org, &rule)?);
            if let Some(found) = matched_alternatives(db, org, &appeal, among).await? {
                membership.extend(found);
            }
        }
        membership
    };

    let mut results: Vec<RuleResults> = rules
        .into_iter()
        .enumerate()
        .map(|(index, rule)| RuleResults {
            index,
            rule,
            recipients: 0,
            gifts: 0,
            donors: 0,
            raised_minor: 0,
        })
        .collect();
    for (donor_id, _) in &queued {
        for index in membership.get(donor_id).into_iter().flatten() {
            if let Some(row) = results.get_mut(*index) {
                row.recipients += 1;
            }
        }
    }
    let mut givers: Vec<HashSet<i64>> = vec![HashSet::new(); results.len()];
    for (donor_id, net_minor) in &given {
        for index in membership.get(donor_id).into_iter().flatten() {
            if let Some(row) = results.get_mut(*index) {
                row.gifts += 1;
                row.raised_minor += net_minor;
                givers[*index].insert(*donor_id);
            }
        }
    }
    for (row, who) in results.iter_mut().zip(givers) {
        row.donors = i64::try_from(who.len()).unwrap_or(i64::MAX);
    }
    Ok(results)
}
