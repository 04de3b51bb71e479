//! `api seed-demo`: a realistic small organization drawn from the texts the product grew
//! from: its programs as funds, the 2011 S-Comm appeal as a campaign with an email and
//! a letter appeal, and a few hundred donors with gifts, monthly pledges and Circle of
//! Friends members. Deterministic, and safe to run twice: everything is keyed (funds by
//! code, campaigns by name, appeals by source code, donors by email), and what exists
//! is left alone.

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use entity::enums::{
    AppealChannel, DonorKind, GiftStatus, Language, PaymentMethod, PledgeFrequency, PledgeSource,
    PledgeStatus, TributeKind,
};
use entity::{appeal, campaign, donor, fund, gift, pledge};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, Set,
};

use crate::db::begin_write;
use crate::domain::DomainError;
use crate::domain::club::{ClubPolicy, Welcome, evaluate_membership_at};
use crate::domain::donors::{fold_accents, search_text};

const DONORS: usize = 300;
/// The demo's history ends here, so every run produces the same data.
const HISTORY_END: (i32, u32, u32) = (2026, 10, 31);

pub(crate) const FUNDS: &[(&str, &str, &str, bool)] = &[
    (
        "SANTA-ANA-DDF",
        "Santa Ana Deportation Defense Fund",
        "Deportation defense for people who live or work in Santa Ana, with the City of Santa Ana.",
        true,
    ),
    (
        "REPRESENT-LA",
        "REPRESENT LA (Los Angeles Justice Fund)",
        "Legal representation for immigrant Angelenos facing deportation, with the City and County of Los Angeles.",
        true,
    ),
    (
        "LONG-BEACH",
        "Long Beach Justice Fund",
        "Universal representation for Long Beach residents in immigration court.",
        true,
    ),
    (
        "COMMUNITY-DEFENSE",
        "Community Defense Program",
        "Organizing for publicly funded deportation defense across the region.",
        true,
    ),
];

pub(crate) const FIRST_NAMES: &[&str] = &[
    "María",
    "José",
    "Guadalupe",
    "Isaura",
    "Juan",
    "Rosa",
    "Luis",
    "Ana",
    "Carlos",
    "Lucía",
    "Fatima",
    "Omar",
    "Layla",
    "Youssef",
    "Amina",
    "Hassan",
    "Claire",
    "Étienne",
    "Amélie",
    "Jean",
    "Sarah",
    "David",
    "Emily",
    "Michael",
    "Grace",
    "Daniel",
    "Linh",
    "Minh",
    "Priya",
    "Arjun",
    "Nadia",
    "Samuel",
    "Teresa",
    "Francisco",
    "Mónica",
    "Jesús",
    "Ruth",
    "Elena",
];
pub(crate) const LAST_NAMES: &[&str] = &[
    "García",
    "Hernández",
    "López",
    "Martínez",
    "González",
    "Rodríguez",
    "Pérez",
    "Sánchez",
    "Ramírez",
    "Flores",
    "Núñez",
    "Haddad",
    "Khalil",
    "Mansour",
    "Saleh",
    "Dubois",
    "Moreau",
    "Lefèvre",
    "Nguyen",
    "Tran",
    "Patel",
    "Kim",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Cohen",
    "O'Brien",
    "Okafor",
    "Mensah",
    "Castillo",
    "Ortiz",
    "Morales",
    "Reyes",
];
pub(crate) const ORGANIZATIONS: &[&str] = &[
    "Weingart Foundation",
    "California Community Foundation",
    "Friends of Boyle Heights Giving Circle",
    "Santa Ana Faith Coalition",
    "Long Beach Community Fund (DAF)",
    "Echo Park Lawyers Guild",
    "Orange County Labor Council",
    "Justice Bakery Co-op",
];
pub(crate) const CITIES: &[(&str, &str, &str)] = &[
    ("Los Angeles", "CA", "90033"),
    ("Santa Ana", "CA", "92701"),
    ("Long Beach", "CA", "90813"),
    ("Anaheim", "CA", "92805"),
    ("Pasadena", "CA", "91101"),
    ("San Francisco", "CA", "94103"),
    ("Oakland", "CA", "94612"),
    ("Riverside", "CA", "92501"),
];
pub(crate) const STREETS: &[&str] = &[
    "Cesar E Chavez Ave",
    "W 1st St",
    "Pine Ave",
    "Main St",
    "Broadway",
    "Mission St",
    "Bristol St",
    "Atlantic Ave",
];
/// One-off gift sizes, most common first: a long tail towards the rare large gift.
const GIFT_SIZES_MINOR: &[(i64, u32)] = &[
    (2_500, 30),
    (5_000, 30),
    (10_000, 20),
    (25_000, 10),
    (50_000, 5),
    (100_000, 3),
    (500_000, 1),
    (2_500_000, 1),
];
const MONTHLY_SIZES_MINOR: &[i64] = &[1_000, 1_500, 2_000, 2_500, 4_100, 4_200, 5_000, 10_000];

/// What a run added.
#[derive(Debug, Default)]
pub struct DemoSummary {
    pub funds: usize,
    pub campaigns: usize,
    pub appeals: usize,
    pub donors_added: usize,
    pub donors_already_there: usize,
    pub gifts: usize,
    pub pledges: usize,
    pub circle_members: usize,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Demo data: {} funds, {} campaigns and {} appeals added; {} donors added ({} already there) \
             with {} gifts and {} monthly pledges; {} joined the Circle of Friends.",
            self.funds,
            self.campaigns,
            self.appeals,
            self.donors_added,
            self.donors_already_there,
            self.gifts,
            self.pledges,
            self.circle_members
        )
    }
}

fn utc(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(hour, 0, 0).unwrap_or_default())
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn weighted_gift(rng: &mut StdRng) -> i64 {
    let total: u32 = GIFT_SIZES_MINOR.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for (amount, weight) in GIFT_SIZES_MINOR {
        if roll < *weight {
            return *amount;
        }
        roll -= weight;
    }
    2_500
}

pub async fn seed_demo(db: &DatabaseConnection) -> Result<DemoSummary, DomainError> {
    let txn = begin_write(db).await?;
    let mut summary = DemoSummary::default();
    let now = Utc::now();

    let mut fund_ids = vec![ensure_general_fund(&txn).await?];
    for (code, name, description, restricted) in FUNDS {
        let (id, added) = ensure_fund(&txn, code, name, description, *restricted, now).await?;
        fund_ids.push(id);
        summary.funds += usize::from(added);
    }

    let (scomm, added) = ensure_campaign(
        &txn,
        "Fight Against S-Comm 2011",
        "Support the fight against ICE enforcement efforts like Secure Communities (S-Comm).",
        7_500_000,
        date(2011, 11, 30),
        Some(date(2012, 1, 31)),
        fund_ids[0],
        now,
    )
    .await?;
    summary.campaigns += usize::from(added);
    let (wdsj, added) = ensure_campaign(
        &txn,
        "World Day of Social Justice 2026",
        "Share our clients' stories and ask for support on February 20.",
        5_000_000,
        date(2026, 2, 1),
        Some(date(2026, 3, 31)),
        fund_ids[0],
        now,
    )
    .await?;
    summary.campaigns += usize::from(added);

    let scomm_message = "Dear {first_name},\n\nEarlier this year, Los Angeles resident Isaura Garcia made a \
        9-1-1 call that changed her life, and did not result in the help she desperately sought. \
        Now, more than ever, we need your continued support. Please consider a tax-deductible gift \
        of {ask_amount} to support the fight against ICE enforcement efforts like S-Comm.\n\n\
        {donate_link}\n\nJoin our Monthly Giving Club: any total pledge of $500 or more \
        automatically includes you in our Circle of Friends' special events, updates and recognition.";
    let mut appeals = Vec::new();
    for (campaign_id, code, name, channel, subject, cost) in [
        (
            scomm,
            "SCOMM11-EMAIL",
            "S-Comm email appeal",
            AppealChannel::Email,
            Some("Join the fight against S-Comm"),
            0,
        ),
        (
            scomm,
            "SCOMM11-LETTER",
            "S-Comm letter with pledge envelope",
            AppealChannel::Letter,
            None,
            180_000,
        ),
        (
            wdsj,
            "WDSJ26-EMAIL",
            "World Day of Social Justice email",
            AppealChannel::Email,
            Some("Justice for every family"),
            0,
        ),
    ] {
        let (id, added) = ensure_appeal(
            &txn,
            campaign_id,
            code,
            name,
            channel,
            subject,
            scomm_message,
            cost,
            now,
        )
        .await?;
        appeals.push((id, campaign_id, code));
        summary.appeals += usize::from(added);
    }

    // Memberships come from the club's own rule, dated when each pledge began.
    let policy = ClubPolicy::default();

    let existing: HashSet<String> = donor::Entity::find()
        .filter(donor::Column::Email.like("%@demo.example.org"))
        .all(&txn)
        .await?
        .into_iter()
        .filter_map(|d| d.email)
        .collect();

    let mut rng = StdRng::seed_from_u64(20_111_130);
    let history_end = date(HISTORY_END.0, HISTORY_END.1, HISTORY_END.2);
    for n in 0..DONORS {
        // Draw everything for this donor before deciding whether to insert, so that the
        // random stream, and so the data, is the same whichever donors already exist.
        let plan = DonorPlan::draw(&mut rng, n, history_end);
        if existing.contains(&plan.email) {
            summary.donors_already_there += 1;
            continue;
        }
        let donor = plan.insert_donor(&txn, now).await?;
        summary.donors_added += 1;

        for (i, (amount, received, method, fund_pick, appeal_pick, tribute)) in
            plan.gifts.iter().enumerate()
        {
            let received_at = utc(*received, 18);
            let attributed = appeal_pick.map(|a| appeals[a % appeals.len()]);
            gift::ActiveModel {
                donor_id: Set(donor.id),
                amount_minor: Set(*amount),
                currency: Set("USD".to_owned()),
                refunded_minor: Set(0),
                method: Set(*method),
                status: Set(GiftStatus::Succeeded),
                fund_id: Set(fund_ids[fund_pick % fund_ids.len()]),
                campaign_id: Set(attributed.map(|(_, c, _)| c)),
                appeal_id: Set(attributed.map(|(a, _, _)| a)),
                received_at: Set(received_at),
                check_number: Set(
                    (*method == PaymentMethod::Check).then(|| format!("{}", 1000 + n * 7 + i))
                ),
                tribute_kind: Set(tribute.map(|_| TributeKind::InMemoryOf)),
                tribute_name: Set(tribute.map(|t| t.to_owned())),
                benefits_minor: Set(0),
                anonymous: Set(plan.anonymous),
                idempotency_key: Set(Some(format!("demo-gift-{n}-{i}"))),
                created_at: Set(received_at),
                updated_at: Set(received_at),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            summary.gifts += 1;
        }

        if let Some((monthly, start, via_card)) = plan.pledge {
            let pledge = pledge::ActiveModel {
                donor_id: Set(donor.id),
                source: Set(if via_card {
                    PledgeSource::StripeSubscription
                } else {
                    PledgeSource::Envelope
                }),
                installment_minor: Set(monthly),
                currency: Set("USD".to_owned()),
                frequency: Set(PledgeFrequency::Monthly),
                starts_on: Set(start),
                status: Set(PledgeStatus::Active),
                fund_id: Set(fund_ids[0]),
                stripe_subscription_id: Set(via_card.then(|| format!("sub_demo_{n:04}"))),
                created_at: Set(utc(start, 17)),
                updated_at: Set(utc(start, 17)),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            summary.pledges += 1;
            let mut due = start;
            let mut installment = 0;
            while due <= history_end {
                let received_at = utc(due, 12);
                gift::ActiveModel {
                    donor_id: Set(donor.id),
                    amount_minor: Set(monthly),
                    currency: Set("USD".to_owned()),
                    refunded_minor: Set(0),
                    method: Set(if via_card {
                        PaymentMethod::Card
                    } else {
                        PaymentMethod::Check
                    }),
                    status: Set(GiftStatus::Succeeded),
                    fund_id: Set(fund_ids[0]),
                    pledge_id: Set(Some(pledge.id)),
                    received_at: Set(received_at),
                    benefits_minor: Set(0),
                    anonymous: Set(plan.anonymous),
                    stripe_invoice_id: Set(
                        via_card.then(|| format!("in_demo_{n:04}_{installment:03}"))
                    ),
                    idempotency_key: Set(
                        (!via_card).then(|| format!("demo-installment-{n}-{installment}"))
                    ),
                    created_at: Set(received_at),
                    updated_at: Set(received_at),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
                summary.gifts += 1;
                installment += 1;
                due = due
                    .checked_add_months(Months::new(1))
                    .unwrap_or(history_end.succ_opt().unwrap_or(history_end));
            }
            let joined = evaluate_membership_at(
                &txn,
                &policy,
                donor.id,
                &format!("pledge {} (demo data)", pledge.id),
                utc(start, 17),
                Welcome::Skip,
            )
            .await?;
            if joined.entered().is_some() {
                summary.circle_members += 1;
            }
        }
    }
    txn.commit().await?;
    for entity in ["fund", "giving_tier", "campaign", "pledge"] {
        crate::read_cache::entity_changed(entity);
    }
    Ok(summary)
}

type PlannedGift = (
    i64,
    NaiveDate,
    PaymentMethod,
    usize,
    Option<usize>,
    Option<&'static str>,
);

struct DonorPlan {
    kind: DonorKind,
    display_name: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: String,
    language: Language,
    city: (&'static str, &'static str, &'static str),
    street: String,
    email_consent: bool,
    anonymous: bool,
    gifts: Vec<PlannedGift>,
    /// Monthly amount, start, and whether it is paid by card.
    pledge: Option<(i64, NaiveDate, bool)>,
}

impl DonorPlan {
    fn draw(rng: &mut StdRng, n: usize, history_end: NaiveDate) -> DonorPlan {
        let is_org = n % 37 == 5;
        let (kind, display_name, first_name, last_name) = if is_org {
            let name = ORGANIZATIONS[(n / 37) % ORGANIZATIONS.len()].to_owned();
            (DonorKind::Organization, name, None, None)
        } else {
            let first = (*pick(rng, FIRST_NAMES)).to_owned();
            let last = (*pick(rng, LAST_NAMES)).to_owned();
            (
                DonorKind::Individual,
                format!("{first} {last}"),
                Some(first),
                Some(last),
            )
        };
        let local: String = fold_accents(&display_name.to_lowercase())
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '.' })
            .collect::<String>()
            .split('.')
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(".");
        let email = format!("{local}.{n}@demo.example.org");
        let language = match rng.random_range(0..20) {
            0..=12 => Language::English,
            13..=17 => Language::Spanish,
            18 => Language::French,
            _ => Language::Arabic,
        };
        let city = *pick(rng, CITIES);
        let street = format!("{} {}", rng.random_range(100..9999), pick(rng, STREETS));
        let email_consent = rng.random_bool(0.7);
        let anonymous = rng.random_bool(0.08);

        let first_year = rng.random_range(2011..=2026);
        let gift_count = rng.random_range(1..=6);
        let mut gifts = Vec::with_capacity(gift_count);
        for _ in 0..gift_count {
            let year = rng.random_range(first_year..=2026);
            let month = rng.random_range(1..=12);
            let day = rng.random_range(1..=28);
            let mut received = date(year, month, day);
            if received > history_end {
                received = history_end;
            }
            let mut amount = weighted_gift(rng);
            if is_org {
                amount *= 10;
            }
            let method = match rng.random_range(0..10) {
                0..=5 => PaymentMethod::Card,
                6..=8 => PaymentMethod::Check,
                _ => {
                    if is_org {
                        PaymentMethod::Wire
                    } else {
                        PaymentMethod::Daf
                    }
                }
            };
            // Gifts in the S-Comm campaign's window answer its appeals; some February 2026
            // gifts answer the World Day of Social Justice email.
            let in_scomm = received >= date(2011, 11, 30) && received <= date(2012, 1, 31);
            let in_wdsj = received.year() == 2026 && received.month() == 2;
            let appeal = if in_scomm {
                Some(rng.random_range(0..2))
            } else if in_wdsj && rng.random_bool(0.5) {
                Some(2)
            } else {
                None
            };
            let tribute = rng
                .random_bool(0.04)
                .then_some("Isaura's grandmother, Rosa Garcia");
            gifts.push((
                amount,
                received,
                method,
                rng.random_range(0..5),
                appeal,
                tribute,
            ));
        }
        gifts.sort_by_key(|g| g.1);

        let pledge = (!is_org && rng.random_bool(0.2)).then(|| {
            let monthly = *pick(rng, MONTHLY_SIZES_MINOR);
            let start = date(rng.random_range(2022..=2026), rng.random_range(1..=10), 1);
            (monthly, start, rng.random_bool(0.75))
        });

        DonorPlan {
            kind,
            display_name,
            first_name,
            last_name,
            email,
            language,
            city,
            street,
            email_consent,
            anonymous,
            gifts,
            pledge,
        }
    }

    async fn insert_donor(
        &self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
    ) -> Result<donor::Model, DomainError> {
        let created = self.gifts.first().map(|g| utc(g.1, 9)).unwrap_or(now);
        Ok(donor::ActiveModel {
            kind: Set(self.kind),
            display_name: Set(self.display_name.clone()),
            first_name: Set(self.first_name.clone()),
            last_name: Set(self.last_name.clone()),
            email: Set(Some(self.email.clone())),
            address_line1: Set(Some(self.street.clone())),
            city: Set(Some(self.city.0.to_owned())),
            region: Set(Some(self.city.1.to_owned())),
            postal_code: Set(Some(self.city.2.to_owned())),
            country: Set(Some("US".to_owned())),
            language: Set(self.language),
            email_consent: Set(self.email_consent),
            anonymous: Set(self.anonymous),
            search_text: Set(search_text(&self.display_name, Some(&self.email))),
            created_at: Set(created),
            updated_at: Set(created),
            link_version: Set(0),
            ..Default::default()
        }
        .insert(txn)
        .await?)
    }
}

async fn ensure_general_fund(txn: &DatabaseTransaction) -> Result<i64, DomainError> {
    fund::Entity::find()
        .filter(fund::Column::Code.eq("GENERAL"))
        .one(txn)
        .await?
        .map(|f| f.id)
        .ok_or_else(|| {
            DomainError::conflict(None, "the General fund is missing; run migrations first")
        })
}

async fn ensure_fund(
    txn: &DatabaseTransaction,
    code: &str,
    name: &str,
    description: &str,
    restricted: bool,
    now: DateTime<Utc>,
) -> Result<(i64, bool), DomainError> {
    if let Some(existing) = fund::Entity::find()
        .filter(fund::Column::Code.eq(code))
        .one(txn)
        .await?
    {
        return Ok((existing.id, false));
    }
    let model = fund::ActiveModel {
        name: Set(name.to_owned()),
        code: Set(code.to_owned()),
        description: Set(Some(description.to_owned())),
        restricted: Set(restricted),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok((model.id, true))
}

#[allow(clippy::too_many_arguments)]
async fn ensure_campaign(
    txn: &DatabaseTransaction,
    name: &str,
    description: &str,
    goal_minor: i64,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    default_fund_id: i64,
    now: DateTime<Utc>,
) -> Result<(i64, bool), DomainError> {
    if let Some(existing) = campaign::Entity::find()
        .filter(campaign::Column::Name.eq(name))
        .one(txn)
        .await?
    {
        return Ok((existing.id, false));
    }
    let model = campaign::ActiveModel {
        name: Set(name.to_owned()),
        description: Set(Some(description.to_owned())),
        goal_minor: Set(goal_minor),
        currency: Set("USD".to_owned()),
        starts_on: Set(starts_on),
        ends_on: Set(ends_on),
        default_fund_id: Set(default_fund_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok((model.id, true))
}

#[allow(clippy::too_many_arguments)]
async fn ensure_appeal(
    txn: &DatabaseTransaction,
    campaign_id: i64,
    source_code: &str,
    name: &str,
    channel: AppealChannel,
    subject: Option<&str>,
    message: &str,
    cost_minor: i64,
    now: DateTime<Utc>,
) -> Result<(i64, bool), DomainError> {
    if let Some(existing) = appeal::Entity::find()
        .filter(appeal::Column::SourceCode.eq(source_code))
        .one(txn)
        .await?
    {
        return Ok((existing.id, false));
    }
    let model = appeal::ActiveModel {
        campaign_id: Set(campaign_id),
        name: Set(name.to_owned()),
        channel: Set(channel),
        source_code: Set(source_code.to_owned()),
        subject: Set(subject.map(str::to_owned)),
        message: Set(Some(message.to_owned())),
        cost_minor: Set(Some(cost_minor)),
        currency: Set("USD".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok((model.id, true))
}
