//! Pledges: promises to give on a schedule. Staff record envelope pledges paid by
//! check; club memberships paid by card come from Stripe subscriptions.

use std::collections::HashMap;

use chrono::{Months, NaiveDate, Utc};
use entity::enums::{PledgeFrequency, PledgeSource, PledgeStatus};
use entity::{Money, donor, fund, gift, pledge};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set,
};
use serde_json::json;

use super::club::{ClubPolicy, evaluate_membership, queue_pledge_email};
use super::keyset::{KeyKind, KeyedPage, Ordering, PageRequest};
use super::offline_gifts::find_appeal_by_code;
use super::{Actor, DomainError, audit, gifts};
use crate::db::begin_write;

/// The most installments one pledge may promise (fifty years of monthly checks).
pub const MAX_INSTALLMENTS: i32 = 600;

/// An envelope pledge as staff enter it.
#[derive(Debug, Clone)]
pub struct NewEnvelopePledge {
    pub donor_id: i64,
    pub installment: Money,
    pub frequency: PledgeFrequency,
    pub starts_on: NaiveDate,
    /// `None` is open-ended.
    pub installments_total: Option<i32>,
    pub fund_id: i64,
    pub appeal_code: Option<String>,
}

/// Months between installments.
pub fn months_between_installments(frequency: PledgeFrequency) -> u32 {
    match frequency {
        PledgeFrequency::Monthly => 1,
        PledgeFrequency::Quarterly => 3,
        PledgeFrequency::Yearly => 12,
    }
}

/// The date the last installment falls due.
pub fn last_installment_on(
    starts_on: NaiveDate,
    frequency: PledgeFrequency,
    installments: i32,
) -> Option<NaiveDate> {
    let steps = u32::try_from(installments.checked_sub(1)?).ok()?;
    starts_on.checked_add_months(Months::new(steps * months_between_installments(frequency)))
}

/// The date installment `index` (0 for the first) falls due. Each date is counted from
/// the start, so a pledge begun on the 31st falls due on the last day of shorter months
/// and on the 31st again after them.
pub fn installment_due_on(
    starts_on: NaiveDate,
    frequency: PledgeFrequency,
    index: u32,
) -> Option<NaiveDate> {
    let months = index.checked_mul(months_between_installments(frequency))?;
    starts_on.checked_add_months(Months::new(months))
}

/// What a pledge's installments have brought in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstallmentsReceived {
    /// Installments received and not refunded in full.
    pub count: i64,
    /// What they brought in, net of refunds, in minor units.
    pub amount_minor: i64,
}

/// How a pledge stands against its schedule: what was paid, what was expected by
/// `today`, how many installments are missing, and when the next one falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fulfilment {
    pub paid_minor: i64,
    pub installments_paid: i64,
    pub expected_minor: i64,
    pub installments_expected: i64,
    pub missed_installments: i64,
    /// The next date on the schedule after `today`, while installments are still
    /// expected (not for a paused, cancelled or completed pledge).
    pub next_expected_on: Option<NaiveDate>,
}

/// The due dates of a pledge's installments, in order, for as long as the pledge
/// promises them.
fn due_dates(pledge: &pledge::Model) -> impl Iterator<Item = NaiveDate> + '_ {
    let limit = pledge
        .installments_total
        .and_then(|total| u32::try_from(total).ok())
        .unwrap_or(u32::MAX);
    (0..limit).map_while(|index| installment_due_on(pledge.starts_on, pledge.frequency, index))
}

/// How many installments fall due from `from` up to, not including, `until`: those a
/// pause skipped when it ran over those days.
pub fn installments_due_between(pledge: &pledge::Model, from: NaiveDate, until: NaiveDate) -> i32 {
    let count = due_dates(pledge)
        .take_while(|date| *date < until)
        .filter(|date| *date >= from)
        .count();
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// The pledge's skipped installments once a pause ends on `resumed_on`: those before
/// it, and those that fell due while it was paused.
pub fn installments_skipped_when_resumed(pledge: &pledge::Model, resumed_on: NaiveDate) -> i32 {
    let during_pause = match (pledge.status, pledge.paused_at) {
        (PledgeStatus::Paused, Some(paused_at)) => {
            installments_due_between(pledge, paused_at.date_naive(), resumed_on)
        }
        _ => 0,
    };
    pledge.installments_skipped.saturating_add(during_pause)
}

/// The pledge's fulfilment on `today` (a day in the organization's time zone).
///
/// An installment is expected from its due date on, up to the last one the pledge
/// promises. None is expected for the days a pledge was paused (those of past pauses
/// are kept in `installments_skipped`), nor from the day it was cancelled. What is
/// expected uses the installment amount as it is now.
pub fn fulfilment(
    pledge: &pledge::Model,
    received: InstallmentsReceived,
    today: NaiveDate,
) -> Fulfilment {
    let stops_before = match pledge.status {
        PledgeStatus::Paused => pledge.paused_at.map(|at| at.date_naive()),
        PledgeStatus::Cancelled => pledge.cancelled_at.map(|at| at.date_naive()),
        PledgeStatus::Active | PledgeStatus::PastDue | PledgeStatus::Completed => None,
    };
    let mut scheduled: i64 = 0;
    let mut next_expected_on = None;
    for date in due_dates(pledge) {
        if date > today {
            next_expected_on = Some(date);
            break;
        }
        if stops_before.is_some_and(|stop| date >= stop) {
            break;
        }
        scheduled += 1;
    }
    if !matches!(pledge.status, PledgeStatus::Active | PledgeStatus::PastDue) {
        next_expected_on = None;
    }
    let installments_expected = (scheduled - i64::from(pledge.installments_skipped)).max(0);
    Fulfilment {
        paid_minor: received.amount_minor,
        installments_paid: received.count,
        expected_minor: pledge
            .installment_minor
            .saturating_mul(installments_expected),
        installments_expected,
        missed_installments: (installments_expected - received.count).max(0),
        next_expected_on,
    }
}

/// What each pledge's installments have brought in, in one statement.
pub async fn installments_received(
    db: &impl ConnectionTrait,
    pledge_ids: &[i64],
) -> Result<HashMap<i64, InstallmentsReceived>, DomainError> {
    let rows: Vec<(Option<i64>, i64, i64)> = gift::Entity::find()
        .select_only()
        .column(gift::Column::PledgeId)
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "count")
        .column_as(gifts::net_total(), "amount")
        .filter(gift::Column::PledgeId.is_in(pledge_ids.iter().copied()))
        .filter(gifts::counted())
        .group_by(gift::Column::PledgeId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, count, amount)| {
            Some((
                id?,
                InstallmentsReceived {
                    count,
                    amount_minor: amount,
                },
            ))
        })
        .collect())
}

/// Records an envelope pledge paid by check, with its audit entry, and re-evaluates
/// the donor's club membership.
pub async fn create_envelope_pledge(
    db: &DatabaseConnection,
    actor: &Actor,
    policy: &ClubPolicy,
    new: NewEnvelopePledge,
) -> Result<pledge::Model, DomainError> {
    if let Some(total) = new.installments_total
        && !(1..=MAX_INSTALLMENTS).contains(&total)
    {
        return Err(DomainError::validation(
            "installments",
            format!(
                "must be between 1 and {MAX_INSTALLMENTS}, or left out for an open-ended pledge"
            ),
        ));
    }
    let today = Utc::now().date_naive();
    if new.starts_on < today - chrono::Duration::days(366) {
        return Err(DomainError::validation(
            "startsOn",
            "is more than a year ago",
        ));
    }
    let txn = begin_write(db).await?;
    donor::Entity::find_by_id(new.donor_id)
        .one(&txn)
        .await?
        .ok_or_else(|| {
            DomainError::validation("donorId", format!("no donor has id {}", new.donor_id))
        })?;
    let fund = fund::Entity::find_by_id(new.fund_id)
        .one(&txn)
        .await?
        .ok_or_else(|| {
            DomainError::validation("fundId", format!("no fund has id {}", new.fund_id))
        })?;
    if fund.archived_at.is_some() {
        return Err(DomainError::validation(
            "fundId",
            format!(
                "the fund {:?} is archived and takes no new gifts",
                fund.name
            ),
        ));
    }
    let appeal = match new.appeal_code.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(code) => Some(find_appeal_by_code(&txn, code).await?.ok_or_else(|| {
            DomainError::validation(
                "appealCode",
                format!(
                    "no appeal has the source code {:?}",
                    code.trim().to_uppercase()
                ),
            )
        })?),
        None => None,
    };
    let ends_on = new
        .installments_total
        .and_then(|n| last_installment_on(new.starts_on, new.frequency, n));
    let now = Utc::now();
    let pledge = pledge::ActiveModel {
        donor_id: Set(new.donor_id),
        source: Set(PledgeSource::Envelope),
        installment_minor: Set(new.installment.amount_minor()),
        currency: Set(new.installment.currency().code().to_owned()),
        frequency: Set(new.frequency),
        starts_on: Set(new.starts_on),
        ends_on: Set(ends_on),
        installments_total: Set(new.installments_total),
        status: Set(PledgeStatus::Active),
        fund_id: Set(fund.id),
        appeal_id: Set(appeal.as_ref().map(|a| a.id)),
        campaign_id: Set(appeal.as_ref().map(|a| a.campaign_id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        "createPledge",
        "pledge",
        Some(pledge.id.to_string()),
        json!({
            "donorId": pledge.donor_id,
            "source": pledge.source.as_str(),
            "installmentMinor": pledge.installment_minor,
            "currency": pledge.currency,
            "frequency": pledge.frequency.as_str(),
            "startsOn": pledge.starts_on.to_string(),
            "endsOn": pledge.ends_on.map(|d| d.to_string()),
            "installmentsTotal": pledge.installments_total,
            "fundId": pledge.fund_id,
            "appealId": pledge.appeal_id,
        }),
    )
    .await?;
    queue_pledge_email(
        &txn,
        "club_welcome",
        format!("club_welcome:{}", pledge.id),
        &pledge,
        serde_json::Value::Null,
    )
    .await?;
    evaluate_membership(
        &txn,
        policy,
        pledge.donor_id,
        &format!("createPledge {} by {}", pledge.id, actor.name),
    )
    .await?;
    txn.commit().await?;
    crate::read_cache::PLEDGES.changed();
    Ok(pledge)
}

/// What to look for among pledges.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct PledgeFilter {
    pub donor_id: Option<i64>,
    pub statuses: Vec<PledgeStatus>,
    pub source: Option<PledgeSource>,
    pub fund_id: Option<i64>,
    pub frequency: Option<PledgeFrequency>,
    /// Starting on or after this day.
    #[serde(default)]
    pub starts_from: Option<NaiveDate>,
    /// Starting on or before this day.
    #[serde(default)]
    pub starts_to: Option<NaiveDate>,
    /// An installment of at least this many minor units.
    #[serde(default)]
    pub installment_min_minor: Option<i64>,
    /// An installment of at most this many minor units.
    #[serde(default)]
    pub installment_max_minor: Option<i64>,
    /// Brought in by this appeal.
    #[serde(default)]
    pub appeal_id: Option<i64>,
}

/// What `filter` asks of a pledge, its columns named with their table, so the condition
/// holds in a query that joins other tables too.
pub fn pledge_condition(filter: &PledgeFilter) -> Condition {
    let mut condition = Condition::all();
    if let Some(id) = filter.donor_id {
        condition = condition.add(pledge::Column::DonorId.eq(id));
    }
    if !filter.statuses.is_empty() {
        condition = condition.add(pledge::Column::Status.is_in(filter.statuses.clone()));
    }
    if let Some(source) = filter.source {
        condition = condition.add(pledge::Column::Source.eq(source));
    }
    if let Some(id) = filter.fund_id {
        condition = condition.add(pledge::Column::FundId.eq(id));
    }
    if let Some(frequency) = filter.frequency {
        condition = condition.add(pledge::Column::Frequency.eq(frequency));
    }
    if let Some(from) = filter.starts_from {
        condition = condition.add(pledge::Column::StartsOn.gte(from));
    }
    if let Some(to) = filter.starts_to {
        condition = condition.add(pledge::Column::StartsOn.lte(to));
    }
    if let Some(min) = filter.installment_min_minor {
        condition = condition.add(pledge::Column::InstallmentMinor.gte(min));
    }
    if let Some(max) = filter.installment_max_minor {
        condition = condition.add(pledge::Column::InstallmentMinor.lte(max));
    }
    if let Some(id) = filter.appeal_id {
        condition = condition.add(pledge::Column::AppealId.eq(id));
    }
    condition
}

pub async fn count_pledges(
    db: &impl ConnectionTrait,
    filter: &PledgeFilter,
) -> Result<u64, DomainError> {
    Ok(pledge::Entity::find()
        .filter(pledge_condition(filter))
        .count(db)
        .await?)
}

/// The orders pledges are listed in; pledges that tie are ordered by id the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PledgeOrder {
    /// Newest made first.
    #[default]
    Newest,
    Oldest,
    /// Largest installment first.
    Largest,
    Smallest,
}

impl PledgeOrder {
    pub fn ordering(self) -> Ordering<pledge::Column> {
        use pledge::Column::{CreatedAt, Id, InstallmentMinor};
        match self {
            PledgeOrder::Newest => {
                Ordering::by("pledges-newest", CreatedAt, KeyKind::Time, Id, true)
            }
            PledgeOrder::Oldest => {
                Ordering::by("pledges-oldest", CreatedAt, KeyKind::Time, Id, false)
            }
            PledgeOrder::Largest => Ordering::by(
                "pledges-largest",
                InstallmentMinor,
                KeyKind::Integer,
                Id,
                true,
            ),
            PledgeOrder::Smallest => Ordering::by(
                "pledges-smallest",
                InstallmentMinor,
                KeyKind::Integer,
                Id,
                false,
            ),
        }
    }
}

/// One page of matching pledges in `order`.
pub async fn page_pledges(
    db: &impl ConnectionTrait,
    filter: &PledgeFilter,
    order: PledgeOrder,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<KeyedPage<pledge::Model>, DomainError> {
    order
        .ordering()
        .page(
            db,
            pledge::Entity::find().filter(pledge_condition(filter)),
            request,
            size_when_unsaid,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_monthly_installments_end_eleven_months_on() {
        let start = NaiveDate::from_ymd_opt(2026, 1, 31);
        let end = start.and_then(|s| last_installment_on(s, PledgeFrequency::Monthly, 12));
        assert_eq!(end, NaiveDate::from_ymd_opt(2026, 12, 31));
        let quarterly = start.and_then(|s| last_installment_on(s, PledgeFrequency::Quarterly, 4));
        assert_eq!(quarterly, NaiveDate::from_ymd_opt(2026, 10, 31));
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn monthly(starts_on: NaiveDate, status: PledgeStatus) -> pledge::Model {
        let at = Utc::now();
        pledge::Model {
            id: 1,
            donor_id: 1,
            source: PledgeSource::Envelope,
            installment_minor: 5_000,
            currency: "USD".into(),
            frequency: PledgeFrequency::Monthly,
            starts_on,
            ends_on: None,
            installments_total: None,
            status,
            fund_id: 1,
            appeal_id: None,
            campaign_id: None,
            stripe_subscription_id: None,
            past_due_since: None,
            paused_at: None,
            cancelled_at: None,
            cancel_reason: None,
            installments_skipped: 0,
            stripe_state_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn received(count: i64, amount_minor: i64) -> InstallmentsReceived {
        InstallmentsReceived {
            count,
            amount_minor,
        }
    }

    #[test]
    fn a_pledge_with_two_missed_installments_says_so_and_when_the_next_falls_due() {
        let pledge = monthly(day(2026, 1, 15), PledgeStatus::Active);
        let figures = fulfilment(&pledge, received(3, 15_000), day(2026, 5, 20));
        assert_eq!(figures.installments_expected, 5);
        assert_eq!(figures.expected_minor, 25_000);
        assert_eq!(figures.installments_paid, 3);
        assert_eq!(figures.paid_minor, 15_000);
        assert_eq!(figures.missed_installments, 2);
        assert_eq!(figures.next_expected_on, Some(day(2026, 6, 15)));
    }

    #[test]
    fn an_installment_is_expected_on_its_due_day_and_a_term_caps_what_is_expected() {
        let mut pledge = monthly(day(2026, 1, 31), PledgeStatus::Active);
        let on_due_day = fulfilment(&pledge, received(0, 0), day(2026, 2, 28));
        assert_eq!(on_due_day.installments_expected, 2);
        assert_eq!(on_due_day.next_expected_on, Some(day(2026, 3, 31)));
        pledge.installments_total = Some(3);
        let after_term = fulfilment(&pledge, received(3, 15_000), day(2026, 11, 1));
        assert_eq!(after_term.installments_expected, 3);
        assert_eq!(after_term.missed_installments, 0);
        assert_eq!(after_term.next_expected_on, None);
    }

    #[test]
    fn a_paused_or_cancelled_pledge_expects_nothing_from_that_day() {
        let mut pledge = monthly(day(2026, 1, 10), PledgeStatus::Paused);
        pledge.paused_at = day(2026, 3, 10).and_hms_opt(9, 0, 0).map(|t| t.and_utc());
        let paused = fulfilment(&pledge, received(2, 10_000), day(2026, 8, 1));
        assert_eq!(paused.installments_expected, 2);
        assert_eq!(paused.missed_installments, 0);
        assert_eq!(paused.next_expected_on, None);
        pledge.status = PledgeStatus::Cancelled;
        pledge.cancelled_at = day(2026, 4, 11).and_hms_opt(9, 0, 0).map(|t| t.and_utc());
        let cancelled = fulfilment(&pledge, received(2, 10_000), day(2026, 8, 1));
        assert_eq!(cancelled.installments_expected, 4);
        assert_eq!(cancelled.missed_installments, 2);
    }

    #[test]
    fn installments_skipped_by_a_past_pause_are_not_missed() {
        let mut pledge = monthly(day(2026, 1, 10), PledgeStatus::Active);
        pledge.installments_skipped =
            installments_due_between(&pledge, day(2026, 3, 1), day(2026, 5, 1));
        assert_eq!(pledge.installments_skipped, 2);
        let figures = fulfilment(&pledge, received(3, 15_000), day(2026, 6, 1));
        assert_eq!(figures.installments_expected, 3);
        assert_eq!(figures.missed_installments, 0);
        assert_eq!(figures.next_expected_on, Some(day(2026, 6, 10)));
    }

    #[test]
    fn each_frequency_has_its_months_and_due_dates() {
        assert_eq!(months_between_installments(PledgeFrequency::Monthly), 1);
        assert_eq!(months_between_installments(PledgeFrequency::Quarterly), 3);
        assert_eq!(months_between_installments(PledgeFrequency::Yearly), 12);
        let start = day(2026, 1, 31);
        assert_eq!(
            installment_due_on(start, PledgeFrequency::Quarterly, 2),
            Some(day(2026, 7, 31))
        );
        assert_eq!(
            last_installment_on(start, PledgeFrequency::Yearly, 3),
            Some(day(2028, 1, 31))
        );
        assert_eq!(
            last_installment_on(start, PledgeFrequency::Monthly, 0),
            None
        );
    }

    #[test]
    fn resuming_a_pause_adds_the_installments_it_ran_over_to_those_skipped_before() {
        let mut pledge = monthly(day(2026, 1, 10), PledgeStatus::Paused);
        pledge.installments_skipped = 1;
        pledge.paused_at = day(2026, 3, 10).and_hms_opt(9, 0, 0).map(|t| t.and_utc());
        // Due 10 March, 10 April and 10 May fall in the pause; 10 June is the day back.
        assert_eq!(
            installments_skipped_when_resumed(&pledge, day(2026, 6, 10)),
            4
        );
        assert_eq!(
            installments_due_between(&pledge, day(2026, 3, 10), day(2026, 3, 10)),
            0
        );
        assert_eq!(
            installments_due_between(&pledge, day(2026, 3, 10), day(2026, 3, 11)),
            1
        );
        pledge.status = PledgeStatus::Active;
        assert_eq!(
            installments_skipped_when_resumed(&pledge, day(2026, 6, 10)),
            1
        );
    }

    #[test]
    fn a_past_due_pledge_still_expects_its_next_installment_and_a_completed_one_does_not() {
        let mut pledge = monthly(day(2026, 1, 15), PledgeStatus::PastDue);
        let past_due = fulfilment(&pledge, received(1, 5_000), day(2026, 3, 1));
        assert_eq!(past_due.installments_expected, 2);
        assert_eq!(past_due.expected_minor, 10_000);
        assert_eq!(past_due.missed_installments, 1);
        assert_eq!(past_due.next_expected_on, Some(day(2026, 3, 15)));
        pledge.status = PledgeStatus::Completed;
        let completed = fulfilment(&pledge, received(2, 10_000), day(2026, 3, 1));
        assert_eq!(completed.next_expected_on, None);
        assert_eq!(completed.missed_installments, 0);
    }

    #[test]
    fn a_pledge_paid_ahead_misses_nothing() {
        let pledge = monthly(day(2026, 5, 1), PledgeStatus::Active);
        let figures = fulfilment(&pledge, received(4, 20_000), day(2026, 6, 2));
        assert_eq!(figures.installments_expected, 2);
        assert_eq!(figures.missed_installments, 0);
    }

    /// The domain's database functions, on each backend.
    // Test setup: a failed step should stop the test where it happened.
    #[allow(clippy::expect_used, clippy::panic)]
    mod with_a_database {
        use entity::Currency;
        use entity::enums::{AppealChannel, DonorKind, GiftStatus, Language, PaymentMethod};
        use entity::{appeal, audit_log, campaign, giving_tier, outbox, tier_membership};
        use sea_orm::{DatabaseConnection, PaginatorTrait};

        use super::*;
        use crate::db::testing::each_backend;

        async fn donor(db: &DatabaseConnection, email: &str) -> donor::Model {
            let now = Utc::now();
            donor::ActiveModel {
                kind: Set(DonorKind::Individual),
                display_name: Set(email.to_owned()),
                email: Set(Some(email.to_owned())),
                language: Set(Language::English),
                email_consent: Set(false),
                anonymous: Set(false),
                search_text: Set(email.to_owned()),
                link_version: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("a donor")
        }

        async fn general_fund(db: &DatabaseConnection) -> fund::Model {
            fund::Entity::find()
                .filter(fund::Column::Code.eq("GENERAL"))
                .one(db)
                .await
                .expect("funds")
                .expect("the seeded General fund")
        }

        async fn archived_fund(db: &DatabaseConnection) -> fund::Model {
            let now = Utc::now();
            fund::ActiveModel {
                name: Set("Closed program".into()),
                code: Set("CLOSED".into()),
                restricted: Set(false),
                archived_at: Set(Some(now)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("a fund")
        }

        async fn appeal(db: &DatabaseConnection, fund_id: i64) -> appeal::Model {
            let now = Utc::now();
            let campaign = campaign::ActiveModel {
                name: Set("Spring".into()),
                goal_minor: Set(1_000_000),
                currency: Set("USD".into()),
                starts_on: Set(now.date_naive()),
                default_fund_id: Set(fund_id),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("a campaign");
            appeal::ActiveModel {
                campaign_id: Set(campaign.id),
                name: Set("Spring letter".into()),
                channel: Set(AppealChannel::Letter),
                source_code: Set("SPRING26".into()),
                currency: Set("USD".into()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("an appeal")
        }

        fn envelope(donor_id: i64, fund_id: i64, installment_minor: i64) -> NewEnvelopePledge {
            NewEnvelopePledge {
                donor_id,
                installment: Money::usd(installment_minor).expect("an amount"),
                frequency: PledgeFrequency::Monthly,
                starts_on: Utc::now().date_naive(),
                installments_total: Some(12),
                fund_id,
                appeal_code: None,
            }
        }

        async fn create(
            db: &DatabaseConnection,
            new: NewEnvelopePledge,
        ) -> Result<pledge::Model, DomainError> {
            create_envelope_pledge(db, &Actor::cli(), &ClubPolicy::with_grace_days(30), new).await
        }

        fn refused_field(result: Result<pledge::Model, DomainError>) -> String {
            match result {
                Err(DomainError::Validation { field, .. }) => field,
                other => panic!("expected a refusal, got {other:?}"),
            }
        }

        async fn gift(
            db: &DatabaseConnection,
            donor_id: i64,
            fund_id: i64,
            pledge_id: Option<i64>,
            amount_minor: i64,
            refunded_minor: i64,
            status: GiftStatus,
        ) {
            let now = Utc::now();
            gift::ActiveModel {
                donor_id: Set(donor_id),
                amount_minor: Set(amount_minor),
                currency: Set("USD".into()),
                refunded_minor: Set(refunded_minor),
                method: Set(PaymentMethod::Check),
                status: Set(status),
                fund_id: Set(fund_id),
                pledge_id: Set(pledge_id),
                received_at: Set(now),
                tribute_show_amount: Set(false),
                benefits_minor: Set(0),
                anonymous: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("a gift");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_envelope_pledge_is_recorded_audited_welcomed_and_counted_for_the_circle() {
            for test in each_backend().await {
                let db = &test.db;
                let fund = general_fund(db).await;
                let giver = donor(db, "ana@example.org").await;
                let appeal = appeal(db, fund.id).await;
                let mut new = envelope(giver.id, fund.id, 4_200);
                new.appeal_code = Some(" spring26 ".into());
                let today = new.starts_on;
                let pledge = create(db, new).await.expect("the pledge is recorded");
                assert_eq!(pledge.source, PledgeSource::Envelope);
                assert_eq!(pledge.status, PledgeStatus::Active);
                assert_eq!(pledge.installment_minor, 4_200);
                assert_eq!(pledge.currency, "USD");
                assert_eq!(pledge.ends_on, today.checked_add_months(Months::new(11)));
                assert_eq!(pledge.installments_total, Some(12));
                assert_eq!(pledge.appeal_id, Some(appeal.id));
                assert_eq!(pledge.campaign_id, Some(appeal.campaign_id));

                let audit = audit_log::Entity::find()
                    .filter(audit_log::Column::Action.eq("createPledge"))
                    .all(db)
                    .await
                    .expect("audit");
                assert_eq!(audit.len(), 1);
                assert_eq!(audit[0].entity_id, Some(pledge.id.to_string()));
                assert_eq!(audit[0].actor, "cli");
                assert_eq!(audit[0].changes["installmentMinor"], 4_200);

                let welcome = outbox::Entity::find()
                    .filter(
                        outbox::Column::IdempotencyKey.eq(format!("club_welcome:{}", pledge.id)),
                    )
                    .one(db)
                    .await
                    .expect("outbox");
                assert!(welcome.is_some(), "the club welcome is queued");

                let circle = crate::domain::tiers::circle(db)
                    .await
                    .expect("tiers")
                    .expect("the seeded Circle");
                let member = tier_membership::Entity::find()
                    .filter(tier_membership::Column::DonorId.eq(giver.id))
                    .filter(tier_membership::Column::TierId.eq(circle.tier.id))
                    .one(db)
                    .await
                    .expect("memberships");
                assert!(member.is_some(), "$42 a month joins the Circle");
                test.close().await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_envelope_pledge_is_refused_for_each_bad_field_and_nothing_is_written() {
            for test in each_backend().await {
                let db = &test.db;
                let fund = general_fund(db).await;
                let closed = archived_fund(db).await;
                let giver = donor(db, "ben@example.org").await;
                let with_total = |total| NewEnvelopePledge {
                    installments_total: total,
                    ..envelope(giver.id, fund.id, 1_000)
                };
                assert_eq!(
                    refused_field(create(db, with_total(Some(0))).await),
                    "installments"
                );
                assert_eq!(
                    refused_field(create(db, with_total(Some(MAX_INSTALLMENTS + 1))).await),
                    "installments"
                );
                let mut long_ago = envelope(giver.id, fund.id, 1_000);
                long_ago.starts_on = Utc::now().date_naive() - chrono::Duration::days(367);
                assert_eq!(refused_field(create(db, long_ago).await), "startsOn");
                assert_eq!(
                    refused_field(create(db, envelope(giver.id + 1_000, fund.id, 1_000)).await),
                    "donorId"
                );
                assert_eq!(
                    refused_field(create(db, envelope(giver.id, fund.id + 1_000, 1_000)).await),
                    "fundId"
                );
                assert_eq!(
                    refused_field(create(db, envelope(giver.id, closed.id, 1_000)).await),
                    "fundId"
                );
                let mut unknown_appeal = envelope(giver.id, fund.id, 1_000);
                unknown_appeal.appeal_code = Some("NOPE".into());
                assert_eq!(
                    refused_field(create(db, unknown_appeal).await),
                    "appealCode"
                );
                assert_eq!(pledge::Entity::find().count(db).await.expect("count"), 0);
                assert_eq!(outbox::Entity::find().count(db).await.expect("count"), 0);
                assert_eq!(audit_log::Entity::find().count(db).await.expect("count"), 0);

                let one = create(db, with_total(Some(1)))
                    .await
                    .expect("one installment");
                assert_eq!(one.ends_on, Some(one.starts_on));
                create(db, with_total(Some(MAX_INSTALLMENTS)))
                    .await
                    .expect("the most installments");
                let open = create(db, with_total(None)).await.expect("open-ended");
                assert_eq!(open.ends_on, None);
                let mut a_year_ago = envelope(giver.id, fund.id, 1_000);
                a_year_ago.starts_on = Utc::now().date_naive() - chrono::Duration::days(365);
                a_year_ago.appeal_code = Some("   ".into());
                let blank_code = create(db, a_year_ago).await.expect("a year ago");
                assert_eq!(blank_code.appeal_id, None);
                let small = giving_tier::Entity::find().count(db).await.expect("tiers");
                assert!(small >= 1);
                assert_eq!(
                    tier_membership::Entity::find()
                        .count(db)
                        .await
                        .expect("count"),
                    0,
                    "$10 a month joins no tier"
                );
                test.close().await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn installments_received_count_what_counts_net_of_refunds_per_pledge() {
            for test in each_backend().await {
                let db = &test.db;
                let fund = general_fund(db).await;
                let giver = donor(db, "cy@example.org").await;
                let first = create(db, envelope(giver.id, fund.id, 5_000))
                    .await
                    .expect("pledge");
                let second = create(db, envelope(giver.id, fund.id, 2_500))
                    .await
                    .expect("pledge");
                let (d, f) = (giver.id, fund.id);
                gift(db, d, f, Some(first.id), 5_000, 0, GiftStatus::Succeeded).await;
                gift(
                    db,
                    d,
                    f,
                    Some(first.id),
                    5_000,
                    1_000,
                    GiftStatus::PartiallyRefunded,
                )
                .await;
                gift(db, d, f, Some(first.id), 5_000, 5_000, GiftStatus::Refunded).await;
                gift(db, d, f, Some(first.id), 5_000, 0, GiftStatus::Failed).await;
                gift(db, d, f, Some(second.id), 2_500, 0, GiftStatus::Succeeded).await;
                gift(db, d, f, None, 9_900, 0, GiftStatus::Succeeded).await;
                let received = installments_received(db, &[first.id, second.id])
                    .await
                    .expect("received");
                assert_eq!(received.len(), 2);
                assert_eq!(
                    received[&first.id],
                    InstallmentsReceived {
                        count: 2,
                        amount_minor: 9_000
                    }
                );
                assert_eq!(
                    received[&second.id],
                    InstallmentsReceived {
                        count: 1,
                        amount_minor: 2_500
                    }
                );
                let only_second = installments_received(db, &[second.id]).await.expect("one");
                assert_eq!(only_second.len(), 1);
                assert!(
                    installments_received(db, &[])
                        .await
                        .expect("none")
                        .is_empty()
                );
                test.close().await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn pledges_are_found_by_each_filter_newest_first_a_page_at_a_time() {
            for test in each_backend().await {
                let db = &test.db;
                let fund = general_fund(db).await;
                let other_fund = fund::ActiveModel {
                    name: Set("Detention visits".into()),
                    code: Set("VISITS".into()),
                    restricted: Set(true),
                    created_at: Set(Utc::now()),
                    updated_at: Set(Utc::now()),
                    ..Default::default()
                }
                .insert(db)
                .await
                .expect("a fund");
                let ana = donor(db, "ana@example.org").await;
                let ben = donor(db, "ben@example.org").await;
                let a1 = create(db, envelope(ana.id, fund.id, 1_000))
                    .await
                    .expect("pledge");
                let mut quarterly = envelope(ana.id, other_fund.id, 3_000);
                quarterly.frequency = PledgeFrequency::Quarterly;
                let a2 = create(db, quarterly).await.expect("pledge");
                let b1 = create(db, envelope(ben.id, fund.id, 2_000))
                    .await
                    .expect("pledge");
                let mut paused: pledge::ActiveModel = b1.clone().into();
                paused.status = Set(PledgeStatus::Paused);
                paused.update(db).await.expect("paused");

                let ids = |pledges: Vec<pledge::Model>| -> Vec<i64> {
                    pledges.into_iter().map(|p| p.id).collect()
                };
                let all = PledgeFilter::default();
                assert_eq!(count_pledges(db, &all).await.expect("count"), 3);
                let page = |request: PageRequest, order: PledgeOrder| {
                    let all = &all;
                    async move {
                        page_pledges(db, all, order, &request, 10)
                            .await
                            .expect("page")
                    }
                };
                let newest = page(PageRequest::default(), PledgeOrder::Newest).await;
                assert_eq!(ids(newest.rows), vec![b1.id, a2.id, a1.id]);
                assert!(!newest.has_previous && !newest.has_next);
                let second = page(
                    PageRequest {
                        after: Some(PledgeOrder::Newest.ordering().key(&b1)),
                        first: Some(1),
                        ..Default::default()
                    },
                    PledgeOrder::Newest,
                )
                .await;
                assert_eq!(ids(second.rows), vec![a2.id]);
                assert!(second.has_previous && second.has_next);
                let last = page(
                    PageRequest {
                        last: Some(2),
                        ..Default::default()
                    },
                    PledgeOrder::Newest,
                )
                .await;
                assert_eq!(ids(last.rows), vec![a2.id, a1.id]);
                assert!(last.has_previous && !last.has_next);
                let before = page(
                    PageRequest {
                        before: Some(PledgeOrder::Smallest.ordering().key(&a2)),
                        last: Some(1),
                        ..Default::default()
                    },
                    PledgeOrder::Smallest,
                )
                .await;
                assert_eq!(ids(before.rows), vec![b1.id], "$20 comes before $30");
                assert!(before.has_previous && before.has_next);
                assert_eq!(
                    ids(page(PageRequest::default(), PledgeOrder::Largest)
                        .await
                        .rows),
                    vec![a2.id, b1.id, a1.id]
                );
                let filters = [
                    (
                        PledgeFilter {
                            donor_id: Some(ana.id),
                            ..Default::default()
                        },
                        vec![a2.id, a1.id],
                    ),
                    (
                        PledgeFilter {
                            statuses: vec![PledgeStatus::Paused],
                            ..Default::default()
                        },
                        vec![b1.id],
                    ),
                    (
                        PledgeFilter {
                            source: Some(PledgeSource::StripeSubscription),
                            ..Default::default()
                        },
                        vec![],
                    ),
                    (
                        PledgeFilter {
                            source: Some(PledgeSource::Envelope),
                            fund_id: Some(other_fund.id),
                            ..Default::default()
                        },
                        vec![a2.id],
                    ),
                    (
                        PledgeFilter {
                            frequency: Some(PledgeFrequency::Monthly),
                            ..Default::default()
                        },
                        vec![b1.id, a1.id],
                    ),
                ];
                for (filter, expected) in filters {
                    let found = ids(page_pledges(
                        db,
                        &filter,
                        PledgeOrder::Newest,
                        &PageRequest::default(),
                        10,
                    )
                    .await
                    .expect("page")
                    .rows);
                    assert_eq!(found, expected, "{filter:?}");
                    let counted = count_pledges(db, &filter).await.expect("count");
                    assert_eq!(counted, expected.len() as u64, "{filter:?}");
                }
                test.close().await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_pledge_may_start_366_days_back_and_not_a_day_more() {
            for test in each_backend().await {
                let db = &test.db;
                let fund = general_fund(db).await;
                let giver = donor(db, "dee@example.org").await;
                let starting = |days_back| NewEnvelopePledge {
                    starts_on: Utc::now().date_naive() - chrono::Duration::days(days_back),
                    ..envelope(giver.id, fund.id, 1_000)
                };
                let oldest = create(db, starting(366)).await.expect("366 days back");
                assert_eq!(
                    oldest.starts_on,
                    Utc::now().date_naive() - chrono::Duration::days(366)
                );
                assert_eq!(refused_field(create(db, starting(367)).await), "startsOn");
                test.close().await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_envelope_pledge_is_kept_in_the_currency_it_was_made_in() {
            for test in each_backend().await {
                let db = &test.db;
                let fund = general_fund(db).await;
                let giver = donor(db, "eve@example.org").await;
                let new = NewEnvelopePledge {
                    installment: Money::new(4_200, Currency::Cad).expect("an amount"),
                    ..envelope(giver.id, fund.id, 4_200)
                };
                let pledge = create(db, new).await.expect("the pledge is recorded");
                let stored = pledge::Entity::find_by_id(pledge.id)
                    .one(db)
                    .await
                    .expect("pledges")
                    .expect("the pledge");
                assert_eq!(stored.currency, "CAD");
                assert_eq!(stored.installment_minor, 4_200);
                test.close().await;
            }
        }
    }
}
