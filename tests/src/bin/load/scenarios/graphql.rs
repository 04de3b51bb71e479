//! The staff GraphQL paths, each beside the same data read through hand-written SQL on
//! the same kind of pool.

use std::sync::Arc;

use chrono::{Datelike, TimeZone, Utc};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use super::{Bench, PathName, Seeded};
use crate::driver::drive;
use crate::sql::rows;

pub const SEARCH_TERMS: &[&str] = &[
    "garcia",
    "nguyen",
    "lopez",
    "haddad",
    "kim",
    "dubois",
    "smith",
    "ortiz",
    "mar",
    "jo",
    "foundation",
    "elena",
];

pub const Q_SEARCH: &str =
    "query($search: String!) { donors(filter: { search: $search }, first: 25) {
    totalCount edges { cursor node { id displayName email city lifetimeGiving { formatted }
    lastGift { receivedAt amount { formatted } } currentTier { name } } } } }";

pub const Q_DONOR: &str = "query($id: ID!) { donor(id: $id) { displayName email phone
    lifetimeGiving { formatted } thisYearGiving { formatted } lastYearGiving { formatted }
    largestGift { amount { formatted } } currentTier { name }
    activePledges { installment { formatted } frequency startsOn status }
    gifts(first: 20) { totalCount edges { node { id amount { formatted } receivedAt method status fund { name } } } } } }";

pub const Q_GIFTS_BY_FUND_MONTH: &str = "query($fund: ID!, $from: DateTime!, $to: DateTime!) {
    gifts(filter: { fundId: $fund, receivedFrom: $from, receivedTo: $to }, first: 50) {
    totalCount edges { node { id amount { amountMinor formatted } receivedAt method donor { displayName } } } } }";

pub const Q_CLUB: &str = "{ givingClub { monthlyRecurringRevenue { amountMinor formatted }
    annualPledgeTotal { amountMinor formatted }
    members(first: 50) { totalCount edges { node { joinedAt annualPledgeTotal { amountMinor }
    donor { displayName } tier { name } } } } } }";

pub const Q_CAMPAIGN: &str = "query($campaign: ID!, $appeal: ID!) {
    campaign(id: $campaign) { name goal { formatted } progress { raised { formatted } gifts donors percentOfGoal } }
    appealResults(id: $appeal) { recipients gifts donors raised { formatted } responseRatePercent
    averageGift { formatted } pledges newClubMembers newCircleMembers cost { formatted } } }";

pub const L_SEARCH: [&str; 2] = [
    "SELECT d.id, d.display_name, d.email, d.city,
       (SELECT COALESCE(SUM(g.amount_minor - g.refunded_minor), 0) FROM gifts g
         WHERE g.donor_id = d.id AND g.status IN ('succeeded', 'partially_refunded')) AS lifetime,
       (SELECT g.received_at FROM gifts g WHERE g.donor_id = d.id AND g.status = 'succeeded'
         ORDER BY g.received_at DESC LIMIT 1) AS last_at,
       (SELECT g.amount_minor FROM gifts g WHERE g.donor_id = d.id AND g.status = 'succeeded'
         ORDER BY g.received_at DESC LIMIT 1) AS last_amount,
       (SELECT t.name FROM tier_memberships m JOIN giving_tiers t ON t.id = m.tier_id
         WHERE m.donor_id = d.id AND m.left_at IS NULL) AS tier
     FROM donors d WHERE d.search_text LIKE $1 ORDER BY d.display_name, d.id LIMIT 25",
    "SELECT COUNT(*) FROM donors d WHERE d.search_text LIKE $1",
];

pub const L_DONOR: [&str; 5] = [
    "SELECT d.display_name, d.email, d.phone FROM donors d WHERE d.id = $1",
    "SELECT COALESCE(SUM(amount_minor - refunded_minor), 0),
       COALESCE(SUM(CASE WHEN received_at >= $2 THEN amount_minor - refunded_minor ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN received_at >= $3 AND received_at < $2 THEN amount_minor - refunded_minor ELSE 0 END), 0),
       MAX(amount_minor)
     FROM gifts WHERE donor_id = $1 AND status IN ('succeeded', 'partially_refunded')",
    "SELECT t.name FROM tier_memberships m JOIN giving_tiers t ON t.id = m.tier_id
     WHERE m.donor_id = $1 AND m.left_at IS NULL",
    "SELECT installment_minor, frequency, starts_on, status FROM pledges
     WHERE donor_id = $1 AND status = 'active'",
    "SELECT g.id, g.amount_minor, g.received_at, g.method, g.status, f.name,
       (SELECT COUNT(*) FROM gifts c WHERE c.donor_id = $1) AS total
     FROM gifts g JOIN funds f ON f.id = g.fund_id WHERE g.donor_id = $1
     ORDER BY g.received_at DESC, g.id DESC LIMIT 20",
];

pub const L_GIFTS_BY_FUND_MONTH: [&str; 2] = [
    "SELECT g.id, g.amount_minor, g.received_at, g.method, d.display_name
     FROM gifts g JOIN donors d ON d.id = g.donor_id
     WHERE g.fund_id = $1 AND g.received_at >= $2 AND g.received_at < $3
     ORDER BY g.received_at DESC, g.id DESC LIMIT 50",
    "SELECT COUNT(*) FROM gifts g WHERE g.fund_id = $1 AND g.received_at >= $2 AND g.received_at < $3",
];

pub const L_CLUB: [&str; 3] = [
    "SELECT m.joined_at, m.annual_pledge_total_minor, d.display_name, t.name
     FROM (SELECT id, donor_id, tier_id, joined_at, annual_pledge_total_minor FROM tier_memberships
           WHERE left_at IS NULL ORDER BY joined_at, id LIMIT 50) m
     JOIN donors d ON d.id = m.donor_id JOIN giving_tiers t ON t.id = m.tier_id
     ORDER BY m.joined_at, m.id",
    "SELECT COUNT(*) FROM tier_memberships WHERE left_at IS NULL",
    "SELECT COALESCE(SUM(installment_minor), 0), COALESCE(SUM(installment_minor * 12), 0)
     FROM pledges WHERE status IN ('active', 'past_due') AND frequency = 'monthly'",
];

pub const L_CAMPAIGN: [&str; 4] = [
    "SELECT c.name, c.goal_minor, COALESCE(SUM(g.amount_minor - g.refunded_minor), 0),
       COUNT(g.id), COUNT(DISTINCT g.donor_id)
     FROM campaigns c LEFT JOIN gifts g ON g.campaign_id = c.id
       AND g.status IN ('succeeded', 'partially_refunded')
     WHERE c.id = $1 GROUP BY c.id, c.name, c.goal_minor",
    "SELECT COUNT(*), COUNT(DISTINCT donor_id), COALESCE(SUM(amount_minor - refunded_minor), 0)
     FROM gifts WHERE appeal_id = $1 AND status IN ('succeeded', 'partially_refunded')",
    "SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'appeal:' || $1 || ':%'",
    "SELECT COUNT(*) FROM pledges WHERE appeal_id = $1",
];

/// The GraphQL paths: which `--paths` name each has, its label, query and variables.
pub fn graphql_scenarios(
    seeded: &Arc<Seeded>,
) -> Vec<(PathName, &'static str, &'static str, Variables)> {
    let s = seeded.clone();
    let donor =
        Arc::new(move |i: usize| json!({ "id": ((i * 7_919) as i64 % s.donors + 1).to_string() }));
    let s = seeded.clone();
    let by_fund = Arc::new(move |i: usize| {
        let (from, to) = s.months[i % s.months.len().max(1)];
        json!({ "fund": s.funds[i % s.funds.len().max(1)].to_string(), "from": from, "to": to })
    });
    let s = seeded.clone();
    let campaign = Arc::new(move |i: usize| {
        let (c, a) = s.campaigns[i % s.campaigns.len().max(1)];
        json!({ "campaign": c.to_string(), "appeal": a.to_string() })
    });
    vec![
        (
            PathName::Search,
            "GraphQL donor search page",
            Q_SEARCH,
            Arc::new(|i: usize| json!({ "search": SEARCH_TERMS[i % SEARCH_TERMS.len()] })),
        ),
        (
            PathName::Donor,
            "GraphQL one donor, gifts and pledges",
            Q_DONOR,
            donor,
        ),
        (
            PathName::GiftsByFund,
            "GraphQL gifts by fund and month",
            Q_GIFTS_BY_FUND_MONTH,
            by_fund,
        ),
        (
            PathName::Club,
            "GraphQL giving-club summary",
            Q_CLUB,
            Arc::new(|_| json!({})),
        ),
        (
            PathName::Campaign,
            "GraphQL campaign and appeal results",
            Q_CAMPAIGN,
            campaign,
        ),
    ]
}

/// Makes the i-th request's variables.
pub type Variables = Arc<dyn Fn(usize) -> Value + Send + Sync>;

/// The same data as each GraphQL scenario, through hand-written SQL.
pub async fn limit_query(
    db: &DatabaseConnection,
    seeded: &Seeded,
    scenario: PathName,
    i: usize,
) -> bool {
    let now = Utc::now();
    match scenario {
        PathName::Search => {
            let term = format!("%{}%", SEARCH_TERMS[i % SEARCH_TERMS.len()]);
            rows(db, L_SEARCH[0], vec![term.clone().into()]).await
                && rows(db, L_SEARCH[1], vec![term.into()]).await
        }
        PathName::Donor => {
            let id = (i * 7_919) as i64 % seeded.donors + 1;
            let this_year = Utc
                .with_ymd_and_hms(now.year(), 1, 1, 0, 0, 0)
                .single()
                .unwrap_or(now);
            let last_year = Utc
                .with_ymd_and_hms(now.year() - 1, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or(now);
            rows(db, L_DONOR[0], vec![id.into()]).await
                && rows(
                    db,
                    L_DONOR[1],
                    vec![id.into(), this_year.into(), last_year.into()],
                )
                .await
                && rows(db, L_DONOR[2], vec![id.into()]).await
                && rows(db, L_DONOR[3], vec![id.into()]).await
                && rows(db, L_DONOR[4], vec![id.into()]).await
        }
        PathName::GiftsByFund => {
            let (from, to) = seeded.months[i % seeded.months.len().max(1)];
            let fund = seeded.funds[i % seeded.funds.len().max(1)];
            rows(
                db,
                L_GIFTS_BY_FUND_MONTH[0],
                vec![fund.into(), from.into(), to.into()],
            )
            .await
                && rows(
                    db,
                    L_GIFTS_BY_FUND_MONTH[1],
                    vec![fund.into(), from.into(), to.into()],
                )
                .await
        }
        PathName::Club => {
            rows(db, L_CLUB[0], vec![]).await
                && rows(db, L_CLUB[1], vec![]).await
                && rows(db, L_CLUB[2], vec![]).await
        }
        _ => {
            let (c, a) = seeded.campaigns[i % seeded.campaigns.len().max(1)];
            rows(db, L_CAMPAIGN[0], vec![c.into()]).await
                && rows(db, L_CAMPAIGN[1], vec![a.into()]).await
                && rows(db, L_CAMPAIGN[2], vec![a.to_string().into()]).await
                && rows(db, L_CAMPAIGN[3], vec![a.into()]).await
        }
    }
}

/// Each selected GraphQL path, then its limit.
pub async fn run(bench: &mut Bench) {
    let (load, c) = (bench.load, bench.load.concurrency);
    for (path, scenario, query, variables) in graphql_scenarios(&bench.seeded) {
        if !bench.paths.runs(path) {
            continue;
        }
        let s = bench.service.clone();
        let figures = drive(load, c, move |i| {
            let s = s.clone();
            let variables = variables(i);
            async move { s.graphql(query, variables).await }
        })
        .await;
        let limit_db = bench.db.clone();
        let seeded_limit = bench.seeded.clone();
        let limit = drive(load.database_only(), c, move |i| {
            let db = limit_db.clone();
            let seeded = seeded_limit.clone();
            async move { limit_query(&db, &seeded, path, i).await }
        })
        .await;
        bench.record(
            scenario,
            "req/s",
            figures,
            Some(limit),
            "hand-written SQL, same pool kind",
        );
    }
}
