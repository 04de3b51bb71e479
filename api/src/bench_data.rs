//! `api seed-bench`: a large, realistic organization for load tests, deterministic from a
//! seed. N donors with five years of long-tailed giving (most give once, a few give
//! often), a tenth of them on active monthly pledges whose installments are among the
//! gifts, Circle of Friends members where the pledge reaches the tier, funds, campaigns
//! and appeals with attributed gifts, and receipts numbered without gaps per tax year
//! with the counters left where the next receipt continues.
//!
//! Rows go in as multi-row INSERTs in large batches inside one transaction, so a failed
//! run leaves nothing behind; ids are assigned here (the database is empty of donors, so
//! nothing can collide) and the PostgreSQL sequences are moved past them afterwards.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use entity::enums::{
    AppealChannel, DonorKind, GiftStatus, Language, PaymentMethod, PledgeFrequency, PledgeSource,
    PledgeStatus, ReceiptKind, ReceiptStatus,
};
use entity::{
    Currency, appeal, campaign, donor, format_minor, fund, gift, giving_tier, pledge, receipt,
    receipt_counter, tier_membership,
};
use mailer::config::Organization;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    Iterable, PaginatorTrait, QueryFilter, Set,
};

use crate::db::begin_write;
use crate::demo::{CITIES, FIRST_NAMES, FUNDS, LAST_NAMES, ORGANIZATIONS, STREETS};
use crate::domain::DomainError;
use crate::domain::donors::{fold_accents, search_text};

/// The bound parameters one statement may carry: SQLite allows 32,766 and PostgreSQL
/// 65,535; staying under the smaller keeps one batch size for both.
const MAX_PARAMETERS: usize = 32_000;
/// Larger statements stop paying off well before the parameter limit.
const MAX_ROWS_PER_STATEMENT: usize = 2_000;
/// Years of history.
const YEARS: i64 = 5;
/// Share of donors (per mille) with an active monthly pledge.
const PLEDGERS_PER_MILLE: u64 = 100;

/// Monthly pledge sizes in cents and their weights: $42 and up joins the Circle.
const MONTHLY_SIZES_MINOR: &[(i64, u64)] = &[
    (1_000, 15),
    (2_000, 20),
    (2_500, 20),
    (4_200, 15),
    (5_000, 15),
    (8_400, 5),
    (10_000, 10),
];
/// One-off gift sizes in cents and their weights: a long tail towards the rare large gift.
const GIFT_SIZES_MINOR: &[(i64, u64)] = &[
    (1_000, 8),
    (2_500, 25),
    (3_500, 6),
    (5_000, 25),
    (10_000, 18),
    (25_000, 9),
    (50_000, 5),
    (100_000, 2),
    (500_000, 1),
    (2_500_000, 1),
];
const METHODS: &[(PaymentMethod, u64)] = &[
    (PaymentMethod::Card, 62),
    (PaymentMethod::Check, 24),
    (PaymentMethod::Bank, 7),
    (PaymentMethod::Cash, 3),
    (PaymentMethod::Stock, 1),
    (PaymentMethod::Daf, 2),
    (PaymentMethod::Wire, 1),
];
const LANGUAGES: &[(Language, u64)] = &[
    (Language::English, 55),
    (Language::Spanish, 35),
    (Language::French, 5),
    (Language::Arabic, 5),
];

/// How much to generate.
#[derive(Debug, Clone, Copy)]
pub struct BenchPlan {
    pub donors: usize,
    pub seed: u64,
    /// The last day of history; the five years of gifts end the day before.
    pub as_of: NaiveDate,
}

/// What was generated, and how fast.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BenchSummary {
    pub donors: usize,
    pub gifts: usize,
    pub pledges: usize,
    pub circle_members: usize,
    pub receipts: usize,
    pub funds: usize,
    pub campaigns: usize,
    pub appeals: usize,
    pub elapsed: Duration,
}

impl BenchSummary {
    pub fn rows(&self) -> usize {
        self.donors
            + self.gifts
            + self.pledges
            + self.circle_members
            + self.receipts
            + self.funds
            + self.campaigns
            + self.appeals
    }
}

impl fmt::Display for BenchSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        write!(
            f,
            "Seeded {} donors, {} gifts, {} active monthly pledges, {} Circle of Friends members, \
             {} receipts, {} funds, {} campaigns and {} appeals: {} rows in {:.1} s ({:.0} rows/s).",
            self.donors,
            self.gifts,
            self.pledges,
            self.circle_members,
            self.receipts,
            self.funds,
            self.campaigns,
            self.appeals,
            self.rows(),
            seconds,
            self.rows() as f64 / seconds.max(1e-9)
        )
    }
}

/// SplitMix64: small, fast, and the same sequence everywhere for a seed.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1_000) < per_mille
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn weighted<T: Copy>(&mut self, items: &[(T, u64)]) -> T {
        let total: u64 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.below(total);
        for (item, weight) in items {
            if roll < *weight {
                return *item;
            }
            roll -= weight;
        }
        items[0].0
    }
}

/// Rows per multi-row INSERT for an entity: as many as the parameter limit allows.
pub fn rows_per_statement<E: EntityTrait>() -> usize {
    let columns = E::Column::iter().count().max(1);
    (MAX_PARAMETERS / columns).clamp(1, MAX_ROWS_PER_STATEMENT)
}

/// Inserts rows as multi-row INSERTs of [`rows_per_statement`] rows each. Every row must
/// set the same columns.
pub async fn insert_in_batches<A, C, I>(db: &C, rows: I) -> Result<usize, sea_orm::DbErr>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
    I: IntoIterator<Item = A>,
{
    let per_statement = rows_per_statement::<A::Entity>();
    let mut rows = rows.into_iter().peekable();
    let mut inserted = 0;
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(per_statement).collect();
        inserted += chunk.len();
        A::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(inserted)
}

fn utc(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// How many gifts a donor makes besides pledge installments: most give once, a few
/// give many times (about eight on average).
fn one_off_gift_count(rng: &mut SplitMix64) -> u64 {
    match rng.below(100) {
        0..40 => 1,
        40..65 => 2 + rng.below(3),
        65..85 => 5 + rng.below(8),
        85..97 => 13 + rng.below(18),
        _ => 31 + rng.below(90),
    }
}

struct PlannedDonor {
    kind: DonorKind,
    display_name: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: String,
    language: Language,
    address_line1: String,
    city: (&'static str, &'static str, &'static str),
    email_consent: bool,
    anonymous: bool,
    stripe_customer: bool,
    created_at: DateTime<Utc>,
}

struct PlannedGift {
    donor: usize,
    amount_minor: i64,
    method: PaymentMethod,
    status: GiftStatus,
    fund_id: i64,
    campaign_id: Option<i64>,
    appeal_id: Option<i64>,
    /// Index into the pledges, and the installment's number from 1.
    installment: Option<(usize, u32)>,
    received_at: DateTime<Utc>,
}

struct PlannedPledge {
    donor: usize,
    installment_minor: i64,
    source: PledgeSource,
    fund_id: i64,
    starts_on: NaiveDate,
}

struct Campaign {
    id: i64,
    fund_id: i64,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    appeal_ids: Vec<i64>,
}

/// Whether the database has donors already (the generator refuses to add to them).
pub async fn has_donors(db: &DatabaseConnection) -> Result<bool, DomainError> {
    Ok(donor::Entity::find().count(db).await? > 0)
}

/// Deletes the organization's data, children before parents, in one transaction:
/// donors and everything about them, campaigns, appeals, segments, the outbox, Stripe
/// events, the audit log and the funds other than General. Tiers and tokens stay.
pub async fn clear_organization(db: &DatabaseConnection) -> Result<(), DomainError> {
    let txn = begin_write(db).await?;
    for sql in [
        "DELETE FROM audit_log",
        "DELETE FROM stripe_events",
        "DELETE FROM outbox",
        "DELETE FROM receipts",
        "DELETE FROM receipt_counters",
        "DELETE FROM tier_memberships",
        "DELETE FROM gifts",
        "DELETE FROM pledges",
        "DELETE FROM appeals",
        "DELETE FROM segments",
        "DELETE FROM campaigns",
        "DELETE FROM donors",
        "DELETE FROM funds WHERE code <> 'GENERAL'",
    ] {
        txn.execute_unprepared(sql).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Generates and inserts the organization. Refuses a database that has donors.
pub async fn seed_bench(
    db: &DatabaseConnection,
    org: &Organization,
    plan: BenchPlan,
) -> Result<BenchSummary, DomainError> {
    let started = Instant::now();
    if has_donors(db).await? {
        return Err(DomainError::conflict(
            None,
            "the database already has donors; seed-bench fills an empty one \
             (run it with --fresh to delete the organization's data first)",
        ));
    }
    let mut rng = SplitMix64::new(plan.seed);
    let end = utc(plan.as_of);
    let start = end - chrono::Duration::days(365 * YEARS);
    let span_seconds = (end - start).num_seconds().max(1) as u64;
    let mut summary = BenchSummary {
        donors: plan.donors,
        ..BenchSummary::default()
    };

    let txn = begin_write(db).await?;
    let created = start - chrono::Duration::days(30);

    // Funds: General (made by the migrations) and the programs.
    let general = fund::Entity::find()
        .filter(fund::Column::Code.eq("GENERAL"))
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::not_found("fund", "GENERAL"))?
        .id;
    let mut restricted = Vec::new();
    for (code, name, description, is_restricted) in FUNDS {
        let row = fund::ActiveModel {
            name: Set((*name).to_owned()),
            code: Set((*code).to_owned()),
            description: Set(Some((*description).to_owned())),
            restricted: Set(*is_restricted),
            archived_at: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        restricted.push(row.id);
        summary.funds += 1;
    }

    // Campaigns: a spring appeal for a program and a year-end appeal each year, each
    // with an email, a letter and a social appeal.
    let mut campaigns = Vec::new();
    for year in start.year()..=end.year() {
        for (label, code, from, to, fund_id, goal) in [
            (
                "Spring for Justice",
                "SPRING",
                ymd(year, 3, 1),
                ymd(year, 5, 31),
                restricted[(year as usize) % restricted.len().max(1)],
                15_000_000i64,
            ),
            (
                "Year-End Appeal",
                "YE",
                ymd(year, 11, 15),
                ymd(year, 12, 31),
                general,
                40_000_000,
            ),
        ] {
            let (starts, ends) = (utc(from), utc(to) + chrono::Duration::days(1));
            if starts >= end || ends <= start {
                continue;
            }
            let row = campaign::ActiveModel {
                name: Set(format!("{label} {year}")),
                description: Set(Some(format!(
                    "The {year} {} appeal for representation in immigration court.",
                    label.to_lowercase()
                ))),
                goal_minor: Set(goal),
                currency: Set("USD".into()),
                starts_on: Set(from),
                ends_on: Set(Some(to)),
                default_fund_id: Set(fund_id),
                created_at: Set(starts - chrono::Duration::days(20)),
                updated_at: Set(starts - chrono::Duration::days(20)),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            summary.campaigns += 1;
            let mut appeal_ids = Vec::new();
            for (channel, suffix, cost) in [
                (AppealChannel::Email, "EMAIL", 0i64),
                (AppealChannel::Letter, "LETTER", 240_000),
                (AppealChannel::Social, "SOCIAL", 30_000),
            ] {
                let email = channel == AppealChannel::Email;
                let appeal = appeal::ActiveModel {
                    campaign_id: Set(row.id),
                    name: Set(format!("{label} {year} {}", channel.as_str())),
                    channel: Set(channel),
                    source_code: Set(format!("{code}{}-{suffix}", year % 100)),
                    segment_id: Set(None),
                    subject: Set(email.then(|| format!("{label}: stand with our clients"))),
                    message: Set(Some(
                        "Dear {first_name},\n\nYour gift of {last_gift} kept a family together. \
                         Will you give {ask_amount} today?\n\n{donate_link}"
                            .to_owned(),
                    )),
                    ask_rule: Set(None),
                    cost_minor: Set(Some(cost)),
                    currency: Set("USD".into()),
                    scheduled_at: Set(None),
                    sent_at: Set(Some(starts)),
                    created_at: Set(starts - chrono::Duration::days(10)),
                    updated_at: Set(starts),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
                appeal_ids.push(appeal.id);
                summary.appeals += 1;
            }
            campaigns.push(Campaign {
                id: row.id,
                fund_id,
                starts,
                ends,
                appeal_ids,
            });
        }
    }

    let circle = giving_tier::Entity::find()
        .filter(giving_tier::Column::IsCircle.eq(true))
        .one(&txn)
        .await?;

    // Donors, their one-off gifts and their pledges, all planned before any insert so
    // that gifts can be numbered in the order they were received.
    let mut donors = Vec::with_capacity(plan.donors);
    let mut pledges: Vec<PlannedPledge> = Vec::new();
    let mut gifts: Vec<PlannedGift> = Vec::with_capacity(plan.donors * 11);
    for index in 0..plan.donors {
        let n = index + 1;
        let organization = rng.chance(40);
        let first = *rng.pick(FIRST_NAMES);
        let last = *rng.pick(LAST_NAMES);
        let (display_name, email_local) = if organization {
            let name = *rng.pick(ORGANIZATIONS);
            (format!("{name} {n}"), format!("giving.{n}"))
        } else {
            (
                format!("{first} {last}"),
                format!("{}.{}.{n}", slug(first), slug(last)),
            )
        };
        let language = rng.weighted(LANGUAGES);
        let first_seconds = rng.below(span_seconds);
        let first_gift = start + chrono::Duration::seconds(first_seconds as i64);
        let city = *rng.pick(CITIES);
        let street = *rng.pick(STREETS);
        donors.push(PlannedDonor {
            kind: if organization {
                DonorKind::Organization
            } else {
                DonorKind::Individual
            },
            display_name,
            first_name: (!organization).then(|| first.to_owned()),
            last_name: (!organization).then(|| last.to_owned()),
            email: format!("{email_local}@bench.example.org"),
            language,
            address_line1: format!("{} {street}", 100 + rng.below(9_900)),
            city,
            email_consent: rng.chance(700),
            anonymous: rng.chance(30),
            stripe_customer: false,
            created_at: first_gift,
        });

        let count = one_off_gift_count(&mut rng);
        let remaining = span_seconds - first_seconds;
        for k in 0..count {
            let received_at = if k == 0 {
                first_gift
            } else {
                first_gift + chrono::Duration::seconds(rng.below(remaining) as i64)
            };
            let method = rng.weighted(METHODS);
            let status = match rng.below(1_000) {
                0..10 if method == PaymentMethod::Card => GiftStatus::Failed,
                10..20 => GiftStatus::Refunded,
                _ => GiftStatus::Succeeded,
            };
            let mut fund_id = if rng.chance(700) {
                general
            } else {
                *rng.pick(&restricted)
            };
            let (mut campaign_id, mut appeal_id) = (None, None);
            if let Some(c) = campaigns
                .iter()
                .find(|c| c.starts <= received_at && received_at < c.ends)
                && rng.chance(600)
            {
                campaign_id = Some(c.id);
                fund_id = c.fund_id;
                if rng.chance(700) {
                    appeal_id = Some(*rng.pick(&c.appeal_ids));
                }
            }
            gifts.push(PlannedGift {
                donor: index,
                amount_minor: rng.weighted(GIFT_SIZES_MINOR),
                method,
                status,
                fund_id,
                campaign_id,
                appeal_id,
                installment: None,
                received_at,
            });
        }

        if rng.chance(PLEDGERS_PER_MILLE) {
            let latest_start = span_seconds.saturating_sub(31 * 86_400).max(1);
            let starts_on =
                (start + chrono::Duration::seconds(rng.below(latest_start) as i64)).date_naive();
            let source = if rng.chance(850) {
                PledgeSource::StripeSubscription
            } else {
                PledgeSource::Envelope
            };
            let pledge_index = pledges.len();
            let installment_minor = rng.weighted(MONTHLY_SIZES_MINOR);
            let fund_id = if rng.chance(800) {
                general
            } else {
                *rng.pick(&restricted)
            };
            let mut number = 1u32;
            while let Some(due) = starts_on.checked_add_months(Months::new(number - 1)) {
                let received_at = utc(due) + chrono::Duration::hours(17);
                if received_at >= end {
                    break;
                }
                gifts.push(PlannedGift {
                    donor: index,
                    amount_minor: installment_minor,
                    method: match source {
                        PledgeSource::StripeSubscription => PaymentMethod::Card,
                        PledgeSource::Envelope => PaymentMethod::Check,
                    },
                    status: GiftStatus::Succeeded,
                    fund_id,
                    campaign_id: None,
                    appeal_id: None,
                    installment: Some((pledge_index, number)),
                    received_at,
                });
                number += 1;
            }
            if let Some(d) = donors.last_mut() {
                d.stripe_customer = source == PledgeSource::StripeSubscription;
                d.created_at = d.created_at.min(utc(starts_on));
            }
            pledges.push(PlannedPledge {
                donor: index,
                installment_minor,
                source,
                fund_id,
                starts_on,
            });
        }
    }
    // Received order, ties broken by the order of planning: ids follow time.
    gifts.sort_by_key(|g| g.received_at);

    let donor_id = |index: usize| index as i64 + 1;
    let mut addresses = Vec::with_capacity(donors.len());
    insert_in_batches(
        &txn,
        donors.iter().enumerate().map(|(index, d)| {
            let id = donor_id(index);
            addresses.push(format!(
                "{}\n{} {} {}",
                d.address_line1, d.city.0, d.city.1, d.city.2
            ));
            donor::ActiveModel {
                id: Set(id),
                kind: Set(d.kind),
                search_text: Set(search_text(&d.display_name, Some(&d.email))),
                display_name: Set(d.display_name.clone()),
                first_name: Set(d.first_name.clone()),
                last_name: Set(d.last_name.clone()),
                email: Set(Some(d.email.clone())),
                phone: Set(Some(format!("+1 213 555 {:04}", index % 10_000))),
                address_line1: Set(Some(d.address_line1.clone())),
                address_line2: Set(None),
                city: Set(Some(d.city.0.to_owned())),
                region: Set(Some(d.city.1.to_owned())),
                postal_code: Set(Some(d.city.2.to_owned())),
                country: Set(Some("US".into())),
                language: Set(d.language),
                email_consent: Set(d.email_consent),
                anonymous: Set(d.anonymous),
                stripe_customer_id: Set(d.stripe_customer.then(|| format!("cus_bench_{id}"))),
                appeals_unsubscribed_at: Set(None),
                email_suppressed_at: Set(None),
                email_suppressed_reason: Set(None),
                notes: Set(None),
                link_version: Set(0),
                external_id: Set(None),
                created_at: Set(d.created_at),
                updated_at: Set(d.created_at),
            }
        }),
    )
    .await?;

    let pledge_id = |index: usize| index as i64 + 1;
    summary.pledges = insert_in_batches(
        &txn,
        pledges.iter().enumerate().map(|(index, p)| {
            let id = pledge_id(index);
            let at = utc(p.starts_on);
            pledge::ActiveModel {
                id: Set(id),
                donor_id: Set(donor_id(p.donor)),
                source: Set(p.source),
                installment_minor: Set(p.installment_minor),
                currency: Set("USD".into()),
                frequency: Set(PledgeFrequency::Monthly),
                starts_on: Set(p.starts_on),
                ends_on: Set(None),
                installments_total: Set(None),
                status: Set(PledgeStatus::Active),
                fund_id: Set(p.fund_id),
                appeal_id: Set(None),
                campaign_id: Set(None),
                stripe_subscription_id: Set((p.source == PledgeSource::StripeSubscription)
                    .then(|| format!("sub_bench_{id}"))),
                past_due_since: Set(None),
                paused_at: Set(None),
                cancelled_at: Set(None),
                cancel_reason: Set(None),
                installments_skipped: Set(0),
                stripe_state_at: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
            }
        }),
    )
    .await?;

    // The Circle of Friends: every pledge whose twelve months reach the threshold.
    if let Some(tier) = &circle {
        let threshold = money_text(tier.threshold_minor, &tier.currency);
        summary.circle_members = insert_in_batches(
            &txn,
            pledges
                .iter()
                .enumerate()
                .filter(|(_, p)| p.installment_minor * 12 >= tier.threshold_minor)
                .enumerate()
                .map(|(n, (index, p))| {
                    let total = p.installment_minor * 12;
                    let at = utc(p.starts_on);
                    tier_membership::ActiveModel {
                        id: Set(n as i64 + 1),
                        donor_id: Set(donor_id(p.donor)),
                        tier_id: Set(tier.id),
                        joined_at: Set(at),
                        join_reason: Set(format!(
                            "annual pledge total {} reaches {} ({threshold})",
                            money_text(total, &tier.currency),
                            tier.name
                        )),
                        annual_pledge_total_minor: Set(total),
                        left_at: Set(None),
                        leave_reason: Set(None),
                        cause: Set(Some(format!(
                            "createPledge {} by seed-bench",
                            pledge_id(index)
                        ))),
                        created_at: Set(at),
                    }
                }),
        )
        .await?;
    }

    summary.gifts = insert_in_batches(
        &txn,
        gifts.iter().enumerate().map(|(index, g)| {
            let id = index as i64 + 1;
            let card = g.method == PaymentMethod::Card;
            let (invoice, intent) = match g.installment {
                Some(_) if card => (Some(format!("in_bench_{id}")), None),
                None if card => (None, Some(format!("pi_bench_{id}"))),
                _ => (None, None),
            };
            gift::ActiveModel {
                id: Set(id),
                donor_id: Set(donor_id(g.donor)),
                amount_minor: Set(g.amount_minor),
                currency: Set("USD".into()),
                refunded_minor: Set(if g.status == GiftStatus::Refunded {
                    g.amount_minor
                } else {
                    0
                }),
                method: Set(g.method),
                status: Set(g.status),
                fund_id: Set(g.fund_id),
                campaign_id: Set(g.campaign_id),
                appeal_id: Set(g.appeal_id),
                pledge_id: Set(g.installment.map(|(p, _)| pledge_id(p))),
                received_at: Set(g.received_at),
                check_number: Set((g.method == PaymentMethod::Check)
                    .then(|| format!("{}", 1_000 + index % 9_000))),
                tribute_kind: Set(None),
                tribute_name: Set(None),
                tribute_notify_name: Set(None),
                tribute_notify_email: Set(None),
                tribute_notify_address: Set(None),
                tribute_show_amount: Set(false),
                benefits_minor: Set(0),
                benefits_description: Set(None),
                anonymous: Set(false),
                stripe_payment_intent_id: Set(intent),
                stripe_invoice_id: Set(invoice),
                stripe_checkout_session_id: Set(None),
                stripe_charge_id: Set(None),
                idempotency_key: Set(None),
                notes: Set(None),
                processor_fee_minor: Set(None),
                refunds_as_of: Set(None),
                external_id: Set(None),
                created_at: Set(g.received_at),
                updated_at: Set(g.received_at),
            }
        }),
    )
    .await?;

    // Receipts: every received gift except later installments under $250 (the year-end
    // statement acknowledges those), numbered in the order received, per tax year.
    let mut counters: BTreeMap<i32, i32> = BTreeMap::new();
    summary.receipts = insert_in_batches(
        &txn,
        gifts
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                g.status != GiftStatus::Failed
                    && g.installment.is_none_or(|(_, number)| {
                        number == 1
                            || g.amount_minor
                                >= crate::domain::receipts::WRITTEN_ACKNOWLEDGMENT_MINOR
                    })
            })
            .enumerate()
            .map(|(n, (index, g))| {
                let year = g.received_at.with_timezone(&org.timezone).year();
                let counter = counters.entry(year).or_insert(0);
                *counter += 1;
                let sequence = *counter;
                let number = crate::domain::receipts::receipt_number(year, sequence);
                let d = &donors[g.donor];
                let amount = money_text(g.amount_minor, "USD");
                let void = g.status == GiftStatus::Refunded;
                receipt::ActiveModel {
                    id: Set(n as i64 + 1),
                    content_text: Set(format!(
                        "{}\nEIN {}\n{}\n\nReceipt {number}\n{}\n\n{}: {amount} by {}\n\
                         No goods or services were provided in exchange for this contribution.\n",
                        org.legal_name,
                        org.ein,
                        org.address,
                        d.display_name,
                        g.received_at.with_timezone(&org.timezone).date_naive(),
                        g.method.as_str(),
                    )),
                    number: Set(number),
                    tax_year: Set(year),
                    sequence: Set(sequence),
                    kind: Set(ReceiptKind::Gift),
                    status: Set(if void {
                        ReceiptStatus::Void
                    } else {
                        ReceiptStatus::Issued
                    }),
                    donor_id: Set(donor_id(g.donor)),
                    gift_id: Set(Some(index as i64 + 1)),
                    replaces_receipt_id: Set(None),
                    language: Set(d.language),
                    donor_name: Set(d.display_name.clone()),
                    donor_address: Set(addresses.get(g.donor).cloned()),
                    amount_minor: Set(g.amount_minor),
                    deductible_minor: Set(g.amount_minor),
                    currency: Set("USD".into()),
                    content_html: Set(None),
                    content_pdf: Set(None),
                    document: Set(None),
                    issued_at: Set(g.received_at),
                    voided_at: Set(void.then(|| g.received_at + chrono::Duration::days(3))),
                    void_reason: Set(void.then(|| "the gift was refunded".to_owned())),
                }
            }),
    )
    .await?;
    insert_in_batches(
        &txn,
        counters
            .iter()
            .map(|(year, last)| receipt_counter::ActiveModel {
                tax_year: Set(*year),
                last_sequence: Set(*last),
            }),
    )
    .await?;

    // Ids were given here; PostgreSQL's sequences must continue after them.
    if txn.get_database_backend() == DbBackend::Postgres {
        for table in ["donors", "pledges", "gifts", "receipts", "tier_memberships"] {
            txn.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 GREATEST((SELECT MAX(id) FROM {table}), 1))"
            ))
            .await?;
        }
    }
    txn.commit().await?;
    if db.get_database_backend() == DbBackend::Postgres {
        // Years of history are old rows autovacuum has long since visited: their pages
        // marked all-visible, so reads served by an index alone skip the table. Vacuumed
        // here rather than by autovacuum some minutes into a load test, taking a
        // processor from whatever is being measured then.
        db.execute_unprepared("VACUUM ANALYZE").await?;
    } else {
        db.execute_unprepared("PRAGMA optimize").await?;
    }
    summary.elapsed = started.elapsed();
    for entity in ["fund", "giving_tier", "campaign", "pledge"] {
        crate::read_cache::entity_changed(entity);
    }
    Ok(summary)
}

fn slug(name: &str) -> String {
    fold_accents(&name.to_lowercase())
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

fn money_text(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(currency) => format_minor(minor, currency),
        Err(_) => format!("{minor} {currency}"),
    }
}
