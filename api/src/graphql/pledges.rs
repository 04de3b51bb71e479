//! Pledges: promises to give on a schedule. Staff record envelope pledges paid by check.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use entity::pledge;

use super::access::requires_role;
use super::context::{actor, config, db, parse_id};
use super::date::Date;
use super::donors::{Donor, OrderDirection};
use super::errors::GqlResultExt;
use super::funds::Fund;
use super::loaders::loaders;
use super::money::{MoneyAmount, MoneyInput};
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, ordered_page};
use super::tokens::Role;
use crate::domain::pledges::{self, NewEnvelopePledge, PledgeFilter as SearchFilter, PledgeOrder};

/// How often installments fall due.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::PledgeFrequency")]
pub enum PledgeFrequency {
    /// Every month.
    Monthly,
    /// Every three months.
    Quarterly,
    /// Once a year.
    Yearly,
}

/// Where a pledge stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::PledgeStatus")]
pub enum PledgeStatus {
    /// Installments are expected.
    Active,
    /// The donor asked to pause.
    Paused,
    /// An installment failed and is being retried.
    PastDue,
    /// Ended before its term.
    Cancelled,
    /// Every promised installment was paid.
    Completed,
}

/// How a pledge is paid.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::PledgeSource")]
pub enum PledgeSource {
    /// By card through a Stripe subscription (the Monthly Giving Club).
    StripeSubscription,
    /// By check from a reply envelope.
    Envelope,
}

/// A promise to give on a schedule.
pub struct Pledge(pub pledge::Model);

/// A promise to give on a schedule, and how it stands.
#[Object]
impl Pledge {
    /// The pledge's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Who pledged.
    async fn donor(&self, ctx: &Context<'_>) -> Result<Option<Donor>> {
        Ok(loaders(ctx)?
            .donors
            .load_one(self.0.donor_id)
            .await?
            .map(Donor::from))
    }

    /// How it is paid.
    async fn source(&self) -> PledgeSource {
        self.0.source.into()
    }

    /// Each installment.
    async fn installment(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.installment_minor, &self.0.currency)
    }

    /// How often installments fall due.
    async fn frequency(&self) -> PledgeFrequency {
        self.0.frequency.into()
    }

    /// The first installment's date.
    async fn starts_on(&self) -> Date {
        Date(self.0.starts_on)
    }

    /// The last installment's date, when the pledge has a term.
    async fn ends_on(&self) -> Option<Date> {
        self.0.ends_on.map(Date)
    }

    /// How many installments were promised; null for an open-ended pledge.
    async fn installments_total(&self) -> Option<i32> {
        self.0.installments_total
    }

    /// Where it stands.
    async fn status(&self) -> PledgeStatus {
        self.0.status.into()
    }

    /// The fund its installments go to.
    async fn fund(&self, ctx: &Context<'_>) -> Result<Option<Fund>> {
        Ok(loaders(ctx)?
            .funds
            .load_one(self.0.fund_id)
            .await?
            .map(Fund))
    }

    /// The source code of the appeal that brought it in.
    async fn appeal_code(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let Some(id) = self.0.appeal_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)?
            .appeals
            .load_one(id)
            .await?
            .map(|a| a.source_code))
    }

    /// What the pledge commits over twelve months: installment × installments per
    /// year, or the whole pledge when its term is shorter.
    async fn annual_pledge_total(&self) -> MoneyAmount {
        let per_year = 12 / i64::from(pledges::months_between_installments(self.0.frequency));
        let count = match self.0.installments_total {
            Some(total) => per_year.min(i64::from(total)),
            None => per_year,
        };
        MoneyAmount::from_columns(self.0.installment_minor * count, &self.0.currency)
    }

    /// How the pledge stands against its schedule today: paid so far, expected so far,
    /// missed installments and the next expected date.
    async fn fulfilment(&self, ctx: &Context<'_>) -> Result<PledgeFulfilment> {
        let received = loaders(ctx)?
            .installments_by_pledge
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(PledgeFulfilment {
            figures: pledges::fulfilment(&self.0, received, org_today(ctx)?),
            currency: self.0.currency.clone(),
        })
    }

    /// When it was recorded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Today in the organization's time zone.
fn org_today(ctx: &Context<'_>) -> Result<NaiveDate> {
    Ok(Utc::now()
        .with_timezone(&config(ctx)?.org.timezone)
        .date_naive())
}

/// How a pledge stands against its schedule. An installment is expected from its due
/// date on; none for the days the pledge was paused, nor after it was cancelled.
/// Expected amounts use the installment amount as it is now.
pub struct PledgeFulfilment {
    figures: pledges::Fulfilment,
    currency: String,
}

/// How a pledge stands against its schedule.
#[Object]
impl PledgeFulfilment {
    /// Received so far from its installments, net of refunds.
    async fn paid_so_far(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.figures.paid_minor, &self.currency)
    }

    /// Installments received (not refunded in full).
    async fn installments_paid(&self) -> i64 {
        self.figures.installments_paid
    }

    /// What the installments due by today add up to.
    async fn expected_so_far(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.figures.expected_minor, &self.currency)
    }

    /// Installments due by today.
    async fn installments_expected(&self) -> i64 {
        self.figures.installments_expected
    }

    /// Installments due by today and not received.
    async fn missed_installments(&self) -> i64 {
        self.figures.missed_installments
    }

    /// The next date an installment falls due; null when none is expected (paused,
    /// cancelled, completed, or past its last installment).
    async fn next_expected_on(&self) -> Option<Date> {
        self.figures.next_expected_on.map(Date)
    }
}

/// Which pledges to list. Parts combine with AND.
#[derive(InputObject, Default)]
pub struct PledgeFilter {
    /// Pledges of this donor.
    pub donor_id: Option<ID>,
    /// In any of these statuses.
    pub statuses: Option<Vec<PledgeStatus>>,
    /// Paid this way.
    pub source: Option<PledgeSource>,
    /// To this fund.
    pub fund_id: Option<ID>,
    /// With this frequency.
    pub frequency: Option<PledgeFrequency>,
    /// Starting on or after this day.
    pub starts_from: Option<Date>,
    /// Starting on or before this day.
    pub starts_to: Option<Date>,
    /// An installment of at least this much.
    pub installment_min: Option<MoneyInput>,
    /// An installment of at most this much.
    pub installment_max: Option<MoneyInput>,
    /// Brought in by this appeal.
    pub appeal_id: Option<ID>,
}

impl PledgeFilter {
    /// The domain's filter, each id and amount checked.
    pub fn parse(self, ctx: &Context<'_>) -> Result<SearchFilter> {
        let minor = |field: &str, money: Option<MoneyInput>| {
            money
                .map(|m| m.parse(ctx, field).map(|m| m.amount_minor()))
                .transpose()
        };
        Ok(SearchFilter {
            donor_id: self
                .donor_id
                .map(|id| parse_id("filter.donorId", &id))
                .transpose()?,
            statuses: self
                .statuses
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            source: self.source.map(Into::into),
            fund_id: self
                .fund_id
                .map(|id| parse_id("filter.fundId", &id))
                .transpose()?,
            frequency: self.frequency.map(Into::into),
            starts_from: self.starts_from.map(|d| d.0),
            starts_to: self.starts_to.map(|d| d.0),
            installment_min_minor: minor("filter.installmentMin", self.installment_min)?,
            installment_max_minor: minor("filter.installmentMax", self.installment_max)?,
            appeal_id: self
                .appeal_id
                .map(|id| parse_id("filter.appealId", &id))
                .transpose()?,
        })
    }
}

#[derive(Default)]
pub struct PledgeQuery;

#[Object]
impl PledgeQuery {
    /// One pledge by id; `NOT_FOUND` when there is none. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn pledge(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The pledge's id.")] id: ID,
    ) -> Result<Pledge> {
        let id = parse_id("id", &id)?;
        crate::domain::pledge_actions::find_pledge(db(ctx)?, id)
            .await
            .gql()
            .map(Pledge)
    }

    /// Pledges matching a filter, newest first unless told, a page at a time, by key
    /// like `gifts`. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    #[allow(clippy::too_many_arguments)]
    async fn pledges(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which pledges.")] filter: Option<PledgeFilter>,
        #[graphql(desc = "In what order (newest first unless told).")] order_by: Option<
            PledgeOrderBy,
        >,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Pledge>> {
        let order = PledgeOrderBy::order(order_by);
        let name = order.ordering().name;
        let request = PageArgs::new(after, before, first, last).keyed(name)?;
        let filter = filter.unwrap_or_default().parse(ctx)?;
        let db = db(ctx)?;
        let total = pledges::count_pledges(db, &filter).await.gql()?;
        let rows = pledges::page_pledges(db, &filter, order, &request, DEFAULT_PAGE_SIZE as u64)
            .await
            .gql()?;
        Ok(ordered_page(&order.ordering(), rows, total, Pledge))
    }
}

/// What pledges can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum PledgeOrderField {
    /// When the pledge was made.
    #[default]
    CreatedAt,
    /// The installment's amount.
    Installment,
}

/// The order of a pledge list. Pledges that tie are ordered by id the same way, so
/// paging never skips or repeats.
#[derive(InputObject, Clone, Copy)]
pub struct PledgeOrderBy {
    /// What to order by.
    #[graphql(default)]
    pub field: PledgeOrderField,
    /// Which way: newest or largest first unless told.
    #[graphql(default_with = "OrderDirection::Desc")]
    pub direction: OrderDirection,
}

impl PledgeOrderBy {
    fn order(by: Option<PledgeOrderBy>) -> PledgeOrder {
        let Some(by) = by else {
            return PledgeOrder::Newest;
        };
        match (by.field, by.direction) {
            (PledgeOrderField::CreatedAt, OrderDirection::Desc) => PledgeOrder::Newest,
            (PledgeOrderField::CreatedAt, OrderDirection::Asc) => PledgeOrder::Oldest,
            (PledgeOrderField::Installment, OrderDirection::Desc) => PledgeOrder::Largest,
            (PledgeOrderField::Installment, OrderDirection::Asc) => PledgeOrder::Smallest,
        }
    }
}

/// An envelope pledge paid by check.
#[derive(InputObject)]
pub struct CreatePledgeInput {
    /// Who pledged.
    pub donor_id: ID,
    /// Each installment.
    pub installment: MoneyInput,
    /// How often installments fall due.
    pub frequency: PledgeFrequency,
    /// The first installment's date.
    pub starts_on: Date,
    /// How many installments; leave out for an open-ended pledge.
    pub installments: Option<i32>,
    /// The fund installments go to.
    pub fund_id: ID,
    /// The appeal source code from the pledge card, any case.
    pub appeal_code: Option<String>,
}

#[derive(Default)]
pub struct PledgeMutation;

#[Object]
impl PledgeMutation {
    /// Records an envelope pledge paid by check. Installments are recorded with
    /// `recordOfflineGift` and its `pledgeId`. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn create_pledge(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The pledge.")] input: CreatePledgeInput,
    ) -> Result<Pledge> {
        let new = NewEnvelopePledge {
            donor_id: parse_id("donorId", &input.donor_id)?,
            installment: input.installment.parse(ctx, "installment")?,
            frequency: input.frequency.into(),
            starts_on: input.starts_on.0,
            installments_total: input.installments,
            fund_id: parse_id("fundId", &input.fund_id)?,
            appeal_code: input.appeal_code,
        };
        pledges::create_envelope_pledge(db(ctx)?, &actor(ctx)?, &config(ctx)?.club_policy(), new)
            .await
            .gql()
            .map(Pledge)
    }
}
