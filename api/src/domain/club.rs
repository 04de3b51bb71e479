//! The Monthly Giving Club: which tier a donor belongs to, and why. A donor's tier
//! follows their annual pledge total: the sum over their active pledges of what each
//! commits over the next twelve months (or the whole remaining pledge when its term is
//! shorter). Membership is re-evaluated inside the transaction of every change to a
//! pledge, and every change is kept as history: joined, left, moved up or down, with
//! the reason and what caused it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::enums::{PledgeFrequency, PledgeStatus};
use entity::{Currency, donor, format_minor, giving_tier, pledge, tier_membership};
use mailer::outbox;
use sea_orm::sea_query::{Alias, Expr, Func, LockType, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;

use super::DomainError;
use super::csv_export::CsvFile;
use super::keyset::{CountedPage, KeyKind, Ordering, PageRequest};
use super::partial_rows::ColumnSet;
use super::pledges::{installments_due_between, months_between_installments};
use super::tiers::Circle;
use crate::db::begin_write;
use crate::read_cache::{Expiring, PLEDGES, Topic};

/// Days a past-due pledge keeps counting toward its donor's tier, by default.
pub const DEFAULT_GRACE_DAYS: u32 = 30;

/// How the club treats pledges whose payment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClubPolicy {
    /// How long a past-due pledge keeps counting toward its donor's tier.
    pub grace: Duration,
}

impl ClubPolicy {
    pub fn with_grace_days(days: u32) -> Self {
        ClubPolicy {
            grace: Duration::days(i64::from(days)),
        }
    }
}

impl Default for ClubPolicy {
    fn default() -> Self {
        ClubPolicy::with_grace_days(DEFAULT_GRACE_DAYS)
    }
}

/// What one evaluation changed in a donor's membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipChange {
    /// The donor stays where they were.
    Unchanged,
    Joined(tier_membership::Model),
    MovedUp {
        from: tier_membership::Model,
        to: tier_membership::Model,
    },
    MovedDown {
        from: tier_membership::Model,
        to: tier_membership::Model,
    },
    Left(tier_membership::Model),
}

impl MembershipChange {
    /// The membership row a donor entered by this change, if any.
    pub fn entered(&self) -> Option<&tier_membership::Model> {
        match self {
            MembershipChange::Joined(row)
            | MembershipChange::MovedUp { to: row, .. }
            | MembershipChange::MovedDown { to: row, .. } => Some(row),
            MembershipChange::Unchanged | MembershipChange::Left(_) => None,
        }
    }
}

/// Whether a pledge counts toward its donor's tier now: active pledges do, and
/// past-due pledges while inside the grace period.
pub fn pledge_counts(pledge: &pledge::Model, policy: &ClubPolicy, now: DateTime<Utc>) -> bool {
    match pledge.status {
        PledgeStatus::Active => true,
        PledgeStatus::PastDue => pledge
            .past_due_since
            .is_none_or(|since| since + policy.grace > now),
        PledgeStatus::Paused | PledgeStatus::Cancelled | PledgeStatus::Completed => false,
    }
}

/// What a pledge commits over the twelve months from `today`, in minor units: its
/// installment times the installments in a year, or the whole remaining pledge when
/// fewer installments remain.
pub fn annual_commitment(pledge: &pledge::Model, today: NaiveDate) -> i64 {
    let per_year = i64::from(12 / months_between_installments(pledge.frequency));
    let installments = match pledge.installments_total {
        Some(total) => {
            let remaining = total - installments_due_between(pledge, pledge.starts_on, today);
            i64::from(remaining.max(0)).min(per_year)
        }
        None => per_year,
    };
    pledge.installment_minor.saturating_mul(installments)
}

/// The donor's pledges that count toward a tier now.
async fn counting_pledges(
    conn: &impl ConnectionTrait,
    donor_id: i64,
    policy: &ClubPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<pledge::Model>, DomainError> {
    let pledges = pledge::Entity::find()
        .filter(pledge::Column::DonorId.eq(donor_id))
        .filter(pledge::Column::Status.is_in([PledgeStatus::Active, PledgeStatus::PastDue]))
        .all(conn)
        .await?;
    Ok(pledges
        .into_iter()
        .filter(|p| pledge_counts(p, policy, now))
        .collect())
}

/// A donor's annual pledge total in each currency they pledge in, in minor units.
pub async fn annual_pledge_totals(
    conn: &impl ConnectionTrait,
    donor_id: i64,
    policy: &ClubPolicy,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, i64>, DomainError> {
    let today = now.date_naive();
    let mut totals = BTreeMap::new();
    for pledge in counting_pledges(conn, donor_id, policy, now).await? {
        let total: &mut i64 = totals.entry(pledge.currency.clone()).or_default();
        *total = total.saturating_add(annual_commitment(&pledge, today));
    }
    Ok(totals)
}

/// A donor's annual pledge total in one currency, in minor units.
pub async fn annual_pledge_total(
    conn: &impl ConnectionTrait,
    donor_id: i64,
    currency: Currency,
    policy: &ClubPolicy,
    now: DateTime<Utc>,
) -> Result<i64, DomainError> {
    Ok(annual_pledge_totals(conn, donor_id, policy, now)
        .await?
        .get(currency.code())
        .copied()
        .unwrap_or(0))
}

/// The highest tier the totals reach, if any.
fn tier_reached<'a>(
    tiers: &'a [giving_tier::Model],
    totals: &BTreeMap<String, i64>,
) -> Option<&'a giving_tier::Model> {
    tiers
        .iter()
        .filter(|tier| totals.get(&tier.currency).copied().unwrap_or(0) >= tier.threshold_minor)
        .max_by_key(|tier| (tier.threshold_minor, tier.id))
}

fn money_text(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(currency) => format_minor(minor, currency),
        Err(_) => format!("{minor} {currency}"),
    }
}

/// The donor's open membership, if they are in a tier now.
pub async fn open_membership(
    conn: &impl ConnectionTrait,
    donor_id: i64,
) -> Result<Option<tier_membership::Model>, DomainError> {
    Ok(tier_membership::Entity::find()
        .filter(tier_membership::Column::DonorId.eq(donor_id))
        .filter(tier_membership::Column::LeftAt.is_null())
        .one(conn)
        .await?)
}

/// Compares the donor's annual pledge total with the tiers and records what changed,
/// in the caller's transaction. `cause` names what prompted the evaluation (a
/// processor event, a staff action, the grace-period check).
pub async fn evaluate_membership(
    txn: &DatabaseTransaction,
    policy: &ClubPolicy,
    donor_id: i64,
    cause: &str,
) -> Result<MembershipChange, DomainError> {
    evaluate_membership_at(txn, policy, donor_id, cause, Utc::now(), Welcome::Send).await
}

/// Whether an entry into a tier queues its welcome email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Welcome {
    Send,
    /// For history recorded after the fact, whose welcome is long past.
    Skip,
}

/// [`evaluate_membership`] as of `now`: what the tiers make of the donor's pledges on
/// that day, with any change dated then.
pub async fn evaluate_membership_at(
    txn: &DatabaseTransaction,
    policy: &ClubPolicy,
    donor_id: i64,
    cause: &str,
    now: DateTime<Utc>,
    welcome: Welcome,
) -> Result<MembershipChange, DomainError> {
    // One evaluation per donor at a time: on PostgreSQL two changes to the same donor's
    // pledges would otherwise both find no open membership and both open one. `FOR NO
    // KEY UPDATE` does not wait on the key-share locks the caller's own inserts of the
    // donor's rows hold, so two such changes queue instead of deadlocking. (SQLite
    // already runs one write transaction at a time.)
    donor::Entity::find_by_id(donor_id)
        .lock(LockType::NoKeyUpdate)
        .one(txn)
        .await?;
    let tiers = giving_tier::Entity::find().all(txn).await?;
    let totals = annual_pledge_totals(txn, donor_id, policy, now).await?;
    let target = tier_reached(&tiers, &totals);
    let open = open_membership(txn, donor_id).await?;
    let tier_name = |id: i64| {
        tiers
            .iter()
            .find(|t| t.id == id)
            .map_or_else(|| format!("tier {id}"), |t| t.name.clone())
    };
    let total_in = |currency: &str| totals.get(currency).copied().unwrap_or(0);

    match (open, target) {
        (None, None) => Ok(MembershipChange::Unchanged),
        (Some(open), Some(target)) if open.tier_id == target.id => Ok(MembershipChange::Unchanged),
        (None, Some(target)) => {
            let total = total_in(&target.currency);
            let reason = format!(
                "annual pledge total {} reaches {} ({})",
                money_text(total, &target.currency),
                target.name,
                money_text(target.threshold_minor, &target.currency)
            );
            let row = insert_membership(txn, donor_id, target, total, reason, cause, now).await?;
            if welcome == Welcome::Send {
                queue_tier_welcome(txn, &row).await?;
            }
            Ok(MembershipChange::Joined(row))
        }
        (Some(open), None) => {
            let previous = tiers.iter().find(|t| t.id == open.tier_id);
            let reason = match previous {
                Some(tier) => format!(
                    "annual pledge total {} is below {} ({})",
                    money_text(total_in(&tier.currency), &tier.currency),
                    tier.name,
                    money_text(tier.threshold_minor, &tier.currency)
                ),
                None => "the tier no longer exists".to_owned(),
            };
            let closed = close_membership(txn, open, reason, cause, now).await?;
            Ok(MembershipChange::Left(closed))
        }
        (Some(open), Some(target)) => {
            let up = tiers
                .iter()
                .find(|t| t.id == open.tier_id)
                .is_none_or(|from| target.threshold_minor > from.threshold_minor);
            let total = total_in(&target.currency);
            let direction = if up { "up" } else { "down" };
            let from_name = tier_name(open.tier_id);
            let leave_reason = format!(
                "moved {direction} to {}: annual pledge total {}",
                target.name,
                money_text(total, &target.currency)
            );
            let closed = close_membership(txn, open, leave_reason, cause, now).await?;
            let join_reason = format!(
                "moved {direction} from {from_name}: annual pledge total {} reaches {} ({})",
                money_text(total, &target.currency),
                target.name,
                money_text(target.threshold_minor, &target.currency)
            );
            let row =
                insert_membership(txn, donor_id, target, total, join_reason, cause, now).await?;
            Ok(if up {
                if welcome == Welcome::Send {
                    queue_tier_welcome(txn, &row).await?;
                }
                MembershipChange::MovedUp {
                    from: closed,
                    to: row,
                }
            } else {
                MembershipChange::MovedDown {
                    from: closed,
                    to: row,
                }
            })
        }
    }
}

async fn insert_membership(
    txn: &DatabaseTransaction,
    donor_id: i64,
    tier: &giving_tier::Model,
    total: i64,
    reason: String,
    cause: &str,
    now: DateTime<Utc>,
) -> Result<tier_membership::Model, DomainError> {
    Ok(tier_membership::ActiveModel {
        donor_id: Set(donor_id),
        tier_id: Set(tier.id),
        joined_at: Set(now),
        join_reason: Set(reason),
        annual_pledge_total_minor: Set(total),
        cause: Set(Some(cause.to_owned())),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?)
}

async fn close_membership(
    txn: &DatabaseTransaction,
    open: tier_membership::Model,
    reason: String,
    cause: &str,
    now: DateTime<Utc>,
) -> Result<tier_membership::Model, DomainError> {
    // A membership opened and closed in the same instant still ends after it began.
    let left_at = now.max(open.joined_at);
    let mut row: tier_membership::ActiveModel = open.into();
    row.left_at = Set(Some(left_at));
    row.leave_reason = Set(Some(reason));
    row.cause = Set(Some(cause.to_owned()));
    Ok(row.update(txn).await?)
}

/// Re-evaluates every donor who is in a tier or has a pledge that could put them in
/// one, after a tier's threshold changed. Runs in the caller's transaction.
pub async fn evaluate_all_members(
    txn: &DatabaseTransaction,
    policy: &ClubPolicy,
    cause: &str,
) -> Result<Vec<(i64, MembershipChange)>, DomainError> {
    let mut donors: Vec<i64> = tier_membership::Entity::find()
        .select_only()
        .column(tier_membership::Column::DonorId)
        .filter(tier_membership::Column::LeftAt.is_null())
        .into_tuple()
        .all(txn)
        .await?;
    let pledgers: Vec<i64> = pledge::Entity::find()
        .select_only()
        .column(pledge::Column::DonorId)
        .filter(pledge::Column::Status.is_in([PledgeStatus::Active, PledgeStatus::PastDue]))
        .distinct()
        .into_tuple()
        .all(txn)
        .await?;
    donors.extend(pledgers);
    donors.sort_unstable();
    donors.dedup();
    let mut changes = Vec::new();
    for donor_id in donors {
        let change = evaluate_membership(txn, policy, donor_id, cause).await?;
        if change != MembershipChange::Unchanged {
            changes.push((donor_id, change));
        }
    }
    Ok(changes)
}

/// Removes from their tier the members whose pledge is still past due after the
/// grace period, each in its own transaction. Returns the changes made.
pub async fn end_expired_grace_periods(
    db: &DatabaseConnection,
    policy: &ClubPolicy,
) -> Result<Vec<(i64, MembershipChange)>, DomainError> {
    let cutoff = Utc::now() - policy.grace;
    let members: Vec<i64> = tier_membership::Entity::find()
        .select_only()
        .column(tier_membership::Column::DonorId)
        .filter(tier_membership::Column::LeftAt.is_null())
        .order_by_asc(tier_membership::Column::DonorId)
        .into_tuple()
        .all(db)
        .await?;
    let mut changes = Vec::new();
    for donor_id in members {
        let lapsed = pledge::Entity::find()
            .filter(pledge::Column::DonorId.eq(donor_id))
            .filter(pledge::Column::Status.eq(PledgeStatus::PastDue))
            .filter(pledge::Column::PastDueSince.lte(cutoff))
            .one(db)
            .await?
            .is_some();
        if !lapsed {
            continue;
        }
        let txn = begin_write(db).await?;
        let change = evaluate_membership(
            &txn,
            policy,
            donor_id,
            "grace period for a past-due pledge ended",
        )
        .await?;
        txn.commit().await?;
        if change != MembershipChange::Unchanged {
            changes.push((donor_id, change));
        }
    }
    Ok(changes)
}

/// Queues a club email about one of the donor's pledges, in the caller's transaction,
/// when the donor has a usable address. `key` makes it one message per purpose.
pub async fn queue_pledge_email(
    txn: &impl ConnectionTrait,
    kind: &str,
    key: String,
    pledge: &pledge::Model,
    extra: serde_json::Value,
) -> Result<(), DomainError> {
    let mut payload = json!({ "pledge_id": pledge.id, "donor_id": pledge.donor_id });
    if let (Some(payload), Some(extra)) = (payload.as_object_mut(), extra.as_object()) {
        payload.extend(extra.clone());
    }
    queue_donor_email(txn, pledge.donor_id, kind, key, payload).await
}

async fn queue_donor_email(
    txn: &impl ConnectionTrait,
    donor_id: i64,
    kind: &str,
    key: String,
    payload: serde_json::Value,
) -> Result<(), DomainError> {
    let donor = donor::Entity::find_by_id(donor_id)
        .one(txn)
        .await?
        .ok_or_else(|| DomainError::not_found("donor", donor_id))?;
    if let Some(message) = super::donors::email_to(&donor, kind, key, payload) {
        outbox::enqueue(txn, message).await?;
    }
    Ok(())
}

/// Welcomes a donor into the tier they entered, once per entry: the key is the
/// membership row.
async fn queue_tier_welcome(
    txn: &DatabaseTransaction,
    membership: &tier_membership::Model,
) -> Result<(), DomainError> {
    queue_donor_email(
        txn,
        membership.donor_id,
        "tier_welcome",
        format!("tier_welcome:{}", membership.id),
        json!({ "membership_id": membership.id, "donor_id": membership.donor_id }),
    )
    .await
}

/// Memberships listed by when they began, ties by id.
pub fn by_joining() -> Ordering<tier_membership::Column> {
    use tier_membership::Column::{Id, JoinedAt};
    Ordering::by("memberships-joined", JoinedAt, KeyKind::Time, Id, false)
}

/// Memberships listed by when they ended, ties by id.
pub fn by_leaving() -> Ordering<tier_membership::Column> {
    use tier_membership::Column::{Id, LeftAt};
    Ordering::by("memberships-left", LeftAt, KeyKind::Time, Id, false)
}

/// One page of current members, by when they joined; only one tier's when `tier_id`
/// is given. With how many there are. Only `columns` of each membership are read when
/// given (see `partial_rows`), whole rows otherwise.
pub async fn page_current_members(
    db: &impl ConnectionTrait,
    tier_id: Option<i64>,
    request: &PageRequest,
    size_when_unsaid: u64,
    columns: Option<ColumnSet>,
) -> Result<CountedPage<tier_membership::Model>, DomainError> {
    let mut query =
        tier_membership::Entity::find().filter(tier_membership::Column::LeftAt.is_null());
    if let Some(tier_id) = tier_id {
        query = query.filter(tier_membership::Column::TierId.eq(tier_id));
    }
    by_joining()
        .page_counted_in_part(db, query, request, size_when_unsaid, columns)
        .await
}

/// Which moment of a membership a list is about: when it began or when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Joined,
    Left,
}

impl Movement {
    /// The list's order: by that moment, ties by id.
    pub fn order(self) -> Ordering<tier_membership::Column> {
        match self {
            Movement::Joined => by_joining(),
            Movement::Left => by_leaving(),
        }
    }

    fn column(self) -> tier_membership::Column {
        match self {
            Movement::Joined => tier_membership::Column::JoinedAt,
            Movement::Left => tier_membership::Column::LeftAt,
        }
    }
}

/// One page of the memberships that began (or ended, by `movement`) in `[from, to)`,
/// by when they did; only `columns` of each read when given.
pub async fn page_moved_between(
    db: &impl ConnectionTrait,
    movement: Movement,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    request: &PageRequest,
    size_when_unsaid: u64,
    columns: Option<ColumnSet>,
) -> Result<CountedPage<tier_membership::Model>, DomainError> {
    let query = tier_membership::Entity::find()
        .filter(movement.column().gte(from))
        .filter(movement.column().lt(to));
    movement
        .order()
        .page_counted_in_part(db, query, request, size_when_unsaid, columns)
        .await
}

/// One page of a donor's tier history, oldest first, each membership read whole.
pub async fn page_tier_history(
    db: &impl ConnectionTrait,
    donor_id: i64,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<CountedPage<tier_membership::Model>, DomainError> {
    let query =
        tier_membership::Entity::find().filter(tier_membership::Column::DonorId.eq(donor_id));
    by_joining()
        .page_counted(db, query, request, size_when_unsaid)
        .await
}

/// The club's recurring income in one currency, in minor units: what the pledges that
/// count now bring in a month on average, and commit over twelve months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClubTotals {
    pub monthly_recurring_minor: i64,
    pub annual_pledge_total_minor: i64,
}

/// The club's income figures kept for the read cache's lifetime, by currency (see
/// `read_cache`): forgotten at once when a pledge changes through this process
/// (`read_cache::PLEDGES`), within the lifetime when another process changes one.
pub struct KeptTotals(Expiring<Currency, ClubTotals>);

impl KeptTotals {
    /// Figures kept for `lifetime` (zero keeps nothing: every request sums the pledges).
    pub fn new(lifetime: std::time::Duration) -> Self {
        Self::forgotten_on(&PLEDGES, lifetime)
    }

    /// Figures forgotten whenever `topic` changes.
    fn forgotten_on(topic: &'static Topic, lifetime: std::time::Duration) -> Self {
        KeptTotals(Expiring::new(topic, lifetime))
    }

    /// The figures in `currency`, from the kept copy when it is fresh.
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        currency: Currency,
        policy: &ClubPolicy,
    ) -> Result<ClubTotals, DomainError> {
        self.0
            .get_or_read(currency, || club_totals(db, currency, policy))
            .await
    }
}

pub async fn club_totals(
    db: &impl ConnectionTrait,
    currency: Currency,
    policy: &ClubPolicy,
) -> Result<ClubTotals, DomainError> {
    let now = Utc::now();
    let today = now.date_naive();
    // A pledge without an end commits a full year of installments, so both figures are
    // the same sum, taken by the database; only the few pledges with a set number of
    // installments are read, to count what remains of each.
    let open_ended: Option<i64> = open_ended_yearly_total(currency, policy, now)
        .into_tuple()
        .one(db)
        .await?;
    let open_ended = open_ended.unwrap_or(0);
    let mut yearly_rate = open_ended;
    let mut annual = open_ended;
    for pledge in counting_with_an_end(currency, policy, now).all(db).await? {
        let per_year = i64::from(12 / months_between_installments(pledge.frequency));
        yearly_rate = yearly_rate.saturating_add(pledge.installment_minor.saturating_mul(per_year));
        annual = annual.saturating_add(annual_commitment(&pledge, today));
    }
    Ok(ClubTotals {
        monthly_recurring_minor: yearly_rate / 12,
        annual_pledge_total_minor: annual,
    })
}

/// The pledges in `currency` that count toward a tier at `now`.
fn counting_in(
    currency: Currency,
    policy: &ClubPolicy,
    now: DateTime<Utc>,
) -> sea_orm::Select<pledge::Entity> {
    pledge::Entity::find()
        .filter(pledge::Column::Currency.eq(currency.code()))
        .filter(pledges_counting(policy, now))
}

/// Of `counting_in`, those without an end: what their installments come to in a year,
/// summed (`yearly`).
fn open_ended_yearly_total(
    currency: Currency,
    policy: &ClubPolicy,
    now: DateTime<Utc>,
) -> sea_orm::Select<pledge::Entity> {
    counting_in(currency, policy, now)
        .select_only()
        .column_as(yearly_installments_total(), "yearly")
        .filter(pledge::Column::InstallmentsTotal.is_null())
}

/// Of `counting_in`, those with a set number of installments.
fn counting_with_an_end(
    currency: Currency,
    policy: &ClubPolicy,
    now: DateTime<Utc>,
) -> sea_orm::Select<pledge::Entity> {
    counting_in(currency, policy, now).filter(pledge::Column::InstallmentsTotal.is_not_null())
}

/// In SQL, the pledges that count toward a tier at `now`: `pledge_counts` for many rows.
/// The statuses come first as a list, so that both databases seek them in
/// `ix_pledges_counting` rather than read the table once per status.
fn pledges_counting(policy: &ClubPolicy, now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(pledge::Column::Status.is_in([PledgeStatus::Active, PledgeStatus::PastDue]))
        .add(
            Condition::any()
                .add(pledge::Column::Status.eq(PledgeStatus::Active))
                .add(pledge::Column::PastDueSince.is_null())
                .add(pledge::Column::PastDueSince.gt(now - policy.grace)),
        )
}

/// In SQL, the pledges' installments over a year summed, 0 when there are none, as a
/// 64-bit integer on both databases.
fn yearly_installments_total() -> SimpleExpr {
    let per_year = |frequency| Expr::val(i64::from(12 / months_between_installments(frequency)));
    let frequency = pledge::Column::Frequency;
    let per_year: SimpleExpr = Expr::case(
        frequency.eq(PledgeFrequency::Monthly),
        per_year(PledgeFrequency::Monthly),
    )
    .case(
        frequency.eq(PledgeFrequency::Quarterly),
        per_year(PledgeFrequency::Quarterly),
    )
    .finally(per_year(PledgeFrequency::Yearly))
    .into();
    let yearly = {
        // Imported here only: its `eq`, `max` and `min` would shadow others in this file.
        use sea_orm::sea_query::ExprTrait;
        Expr::col(pledge::Column::InstallmentMinor).mul(per_year)
    };
    Func::cast_as(
        Func::coalesce([SimpleExpr::from(Func::sum(yearly)), Expr::val(0)]),
        Alias::new("BIGINT"),
    )
    .into()
}

/// One member of the Circle, with their tier and donor record.
#[derive(Debug, Clone)]
pub struct CircleMember {
    pub membership: tier_membership::Model,
    pub tier: giving_tier::Model,
    pub donor: donor::Model,
}

impl CircleMember {
    /// The member's place on the roster: by last name (the whole name when there is
    /// none), then the whole name, then the donor and the membership.
    pub fn place(&self) -> (String, String, i64, i64) {
        let sort = self
            .donor
            .last_name
            .as_deref()
            .unwrap_or(&self.donor.display_name);
        (
            sort.to_lowercase(),
            self.donor.display_name.to_lowercase(),
            self.donor.id,
            self.membership.id,
        )
    }

    /// Whether the public roll names this member: only when the donor's own record
    /// says they are not anonymous. A checkout never changes that record for an
    /// existing donor (see `checkout_choices`), so nobody typing a donor's email can
    /// put their name on the roll.
    pub fn named_publicly(&self) -> bool {
        !self.donor.anonymous
    }
}

/// The Circle and the names its public roll thanks, in roster order; `None` when no
/// tier is the Circle.
pub async fn circle_public_names(
    db: &impl ConnectionTrait,
) -> Result<Option<(Circle, Vec<String>)>, DomainError> {
    Ok(circle_roster(db).await?.map(|(circle, members)| {
        let names = members
            .into_iter()
            .filter(CircleMember::named_publicly)
            .map(|member| member.donor.display_name)
            .collect();
        (circle, names)
    }))
}

/// The Circle and its current members (of the Circle's tier and of any tier above it),
/// by name. `None` when no tier is the Circle.
pub async fn circle_roster(
    db: &impl ConnectionTrait,
) -> Result<Option<(Circle, Vec<CircleMember>)>, DomainError> {
    let tiers = giving_tier::Entity::find().all(db).await?;
    let Some(circle) = Circle::among(&tiers) else {
        return Ok(None);
    };
    let included: Vec<&giving_tier::Model> =
        tiers.iter().filter(|t| circle.includes(t.id)).collect();
    let memberships = tier_membership::Entity::find()
        .filter(tier_membership::Column::LeftAt.is_null())
        .filter(tier_membership::Column::TierId.is_in(included.iter().map(|t| t.id)))
        .all(db)
        .await?;
    let donors = donor::Entity::find()
        .filter(donor::Column::Id.is_in(memberships.iter().map(|m| m.donor_id)))
        .all(db)
        .await?;
    let mut roster: Vec<CircleMember> = memberships
        .into_iter()
        .filter_map(|membership| {
            let donor = donors.iter().find(|d| d.id == membership.donor_id)?.clone();
            let tier = (*included.iter().find(|t| t.id == membership.tier_id)?).clone();
            Some(CircleMember {
                membership,
                tier,
                donor,
            })
        })
        .collect();
    roster.sort_by_cached_key(CircleMember::place);
    Ok(Some((circle, roster)))
}

/// The roster as CSV for event invitations, one member a line.
pub fn circle_roster_csv(roster: &[CircleMember]) -> Result<String, DomainError> {
    let mut out = CsvFile::with_header(&[
        "name",
        "email",
        "phone",
        "address_line1",
        "address_line2",
        "city",
        "region",
        "postal_code",
        "country",
        "language",
        "tier",
        "member_since",
        "anonymous",
    ])?;
    for member in roster {
        let d = &member.donor;
        let fields = [
            d.display_name.clone(),
            d.email.clone().unwrap_or_default(),
            d.phone.clone().unwrap_or_default(),
            d.address_line1.clone().unwrap_or_default(),
            d.address_line2.clone().unwrap_or_default(),
            d.city.clone().unwrap_or_default(),
            d.region.clone().unwrap_or_default(),
            d.postal_code.clone().unwrap_or_default(),
            d.country.clone().unwrap_or_default(),
            d.language.as_str().to_owned(),
            member.tier.name.clone(),
            member.membership.joined_at.date_naive().to_string(),
            d.anonymous.to_string(),
        ];
        out.row(fields)?;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use sea_orm::QueryTrait;

    use super::*;
    use crate::db::testing::{each_backend, plan, planning_with_indexes};

    /// The kept figures stand while fresh, whatever the pledges become meanwhile; each
    /// currency has its own; a change of their topic, or a lifetime of zero, reads the
    /// pledges again.
    #[tokio::test]
    // A failed step should stop the test where it happened.
    #[allow(clippy::expect_used)]
    async fn kept_figures_stand_until_their_topic_changes_and_each_currency_has_its_own() {
        static TOPIC: Topic = Topic::new();
        for test in each_backend().await {
            let db = &test.db;
            let now = Utc::now();
            let new = crate::domain::donors::NewDonor {
                kind: entity::enums::DonorKind::Individual,
                display_name: "Ana Ruiz".into(),
                first_name: None,
                last_name: None,
                email: None,
                phone: None,
                address: Default::default(),
                language: entity::enums::Language::English,
                email_consent: false,
                anonymous: false,
                notes: None,
            };
            let donor = crate::domain::donors::insert_donor(db, new, None)
                .await
                .expect("a donor");
            let fund = entity::fund::Entity::find()
                .one(db)
                .await
                .expect("funds")
                .expect("a seeded fund");
            let pledge = pledge::ActiveModel {
                donor_id: Set(donor.id),
                source: Set(entity::enums::PledgeSource::Envelope),
                installment_minor: Set(4_200),
                currency: Set("USD".into()),
                frequency: Set(PledgeFrequency::Monthly),
                starts_on: Set(now.date_naive()),
                status: Set(PledgeStatus::Active),
                fund_id: Set(fund.id),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("a pledge");
            let kept = KeptTotals::forgotten_on(&TOPIC, std::time::Duration::from_secs(3_600));
            let unkept = KeptTotals::forgotten_on(&TOPIC, std::time::Duration::ZERO);
            let monthly = async |kept: &KeptTotals, currency| {
                kept.get(db, currency, &ClubPolicy::default())
                    .await
                    .expect("the figures")
                    .monthly_recurring_minor
            };
            assert_eq!(monthly(&kept, Currency::Usd).await, 4_200);
            assert_eq!(monthly(&kept, Currency::Cad).await, 0);

            let mut raised: pledge::ActiveModel = pledge.into();
            raised.installment_minor = Set(5_000);
            raised.update(db).await.expect("raised");
            assert_eq!(monthly(&kept, Currency::Usd).await, 4_200, "kept");
            assert_eq!(monthly(&unkept, Currency::Usd).await, 5_000, "nothing kept");
            assert_eq!(monthly(&kept, Currency::Cad).await, 0, "its own currency's");
            TOPIC.changed();
            assert_eq!(monthly(&kept, Currency::Usd).await, 5_000, "forgotten");
            test.close().await;
        }
    }

    /// The club's income figures are read from `ix_pledges_counting`: the open-ended
    /// pledges' sum from the index alone, the pledges with an end by seeking it, neither
    /// by reading the table of pledges.
    #[tokio::test]
    // A failed step should stop the test where it happened.
    #[allow(clippy::expect_used)]
    async fn the_club_s_income_figures_are_read_from_an_index() {
        for test in each_backend().await {
            let txn = planning_with_indexes(&test.db).await;
            let backend = txn.get_database_backend();
            let (policy, now) = (ClubPolicy::default(), Utc::now());
            let postgres = backend == sea_orm::DbBackend::Postgres;
            for (query, read) in [
                (
                    open_ended_yearly_total(Currency::Usd, &policy, now).build(backend),
                    if postgres {
                        "Index Only Scan using ix_pledges_counting"
                    } else {
                        "SEARCH pledges USING COVERING INDEX ix_pledges_counting"
                    },
                ),
                (
                    counting_with_an_end(Currency::Usd, &policy, now).build(backend),
                    if postgres {
                        "Index Scan using ix_pledges_counting"
                    } else {
                        "SEARCH pledges USING INDEX ix_pledges_counting"
                    },
                ),
            ] {
                let plan = plan(&txn, query).await;
                assert!(plan.contains(read), "{backend:?}: {plan}");
            }
            txn.rollback().await.expect("the transaction ends");
            test.close().await;
        }
    }
}
