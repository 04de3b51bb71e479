//! Campaigns and their appeals. Everyone on staff may read them; staff create and
//! change them. Campaigns are here; appeals, their sending and previews are in
//! `appeals`; how an appeal did is in `results`.

mod appeals;
mod results;

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::campaign;

pub use self::appeals::{Appeal, AppealMutation, AppealQuery, AppealSendMutation, AppealSendQuery};
pub use self::results::AppealResultsQuery;
use super::access::requires_role;
use super::context::{actor, db, parse_id};
use super::date::Date;
use super::errors::GqlResultExt;
use super::money::{MoneyAmount, MoneyInput};
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, counted_page};
use super::tokens::Role;
use crate::domain::DomainError;
use crate::domain::campaigns::{self, CampaignChanges, CampaignDetails, GivingTotals};

/// Money raised and who gave it, net of refunds.
#[derive(SimpleObject)]
pub struct GivingProgress {
    /// Raised so far: succeeded and partially refunded gifts, net of refunds.
    pub raised: MoneyAmount,
    /// How many gifts.
    pub gifts: i64,
    /// How many different donors gave.
    pub donors: i64,
    /// Whole percent of the goal reached, rounded down (0 when there is no goal).
    pub percent_of_goal: i64,
}

impl GivingProgress {
    fn new(totals: GivingTotals, goal_minor: i64, currency: &str) -> Self {
        GivingProgress {
            raised: MoneyAmount::from_columns(totals.raised_minor, currency),
            gifts: totals.gifts,
            donors: totals.donors,
            percent_of_goal: totals.percent_of(goal_minor),
        }
    }
}

/// A fundraising effort with a goal, dates and a default fund.
pub struct Campaign(pub campaign::Model);

/// A fundraising effort with a goal, dates and a default fund.
#[Object]
impl Campaign {
    /// The campaign's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Its name ("Spring 2026 Appeal").
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What it is for.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// What it means to raise.
    async fn goal(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.goal_minor, &self.0.currency)
    }

    /// The first day.
    async fn starts_on(&self) -> Date {
        Date(self.0.starts_on)
    }

    /// The last day, if set.
    async fn ends_on(&self) -> Option<Date> {
        self.0.ends_on.map(Date)
    }

    /// The id of the fund gifts go to unless they say otherwise.
    async fn default_fund_id(&self) -> ID {
        ID(self.0.default_fund_id.to_string())
    }

    /// What the gifts attributed to the campaign have raised, across all its appeals.
    async fn progress(&self, ctx: &Context<'_>) -> Result<GivingProgress> {
        let totals = campaigns::giving_totals(db(ctx)?, Some(self.0.id), None)
            .await
            .gql()?;
        Ok(GivingProgress::new(
            totals,
            self.0.goal_minor,
            &self.0.currency,
        ))
    }

    /// The campaign's appeals, in the order they were made.
    async fn appeals(&self, ctx: &Context<'_>) -> Result<Vec<Appeal>> {
        let appeals = campaigns::campaign_appeals(db(ctx)?, self.0.id)
            .await
            .gql()?;
        Ok(appeals.into_iter().map(Appeal).collect())
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(Default)]
pub struct CampaignQuery;

#[Object]
impl CampaignQuery {
    /// One campaign; `NOT_FOUND` when there is none with this id. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign's id.")] id: ID,
    ) -> Result<Campaign> {
        let id = parse_id("id", &id)?;
        campaigns::find_campaign(db(ctx)?, id)
            .await
            .and_then(|found| found.ok_or_else(|| DomainError::not_found("campaign", id)))
            .gql()
            .map(Campaign)
    }

    /// Campaigns, the most recently started first, a page at a time (at most 100), with
    /// `totalCount`. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Campaign>> {
        let order = campaigns::newest_campaigns();
        let request = PageArgs::new(after, before, first, last).keyed(order.name)?;
        let rows = campaigns::page_campaigns(db(ctx)?, &request, DEFAULT_PAGE_SIZE as u64)
            .await
            .gql()?;
        Ok(counted_page(&order, rows, Campaign))
    }
}

/// A new campaign.
#[derive(InputObject)]
pub struct CreateCampaignInput {
    /// Its name; unique.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// What it means to raise.
    pub goal: MoneyInput,
    /// The first day.
    pub starts_on: Date,
    /// The last day.
    pub ends_on: Option<Date>,
    /// The fund gifts go to unless they say otherwise.
    pub default_fund_id: ID,
}

/// Changes to a campaign. Leave a field out to keep it.
#[derive(InputObject, Default)]
pub struct UpdateCampaignInput {
    /// The campaign's id.
    pub id: ID,
    /// Its name.
    pub name: Option<String>,
    /// What it is for; null clears it.
    pub description: MaybeUndefined<String>,
    /// What it means to raise.
    pub goal: Option<MoneyInput>,
    /// The first day.
    pub starts_on: Option<Date>,
    /// The last day; null clears it.
    pub ends_on: MaybeUndefined<Date>,
    /// The fund gifts go to unless they say otherwise.
    pub default_fund_id: Option<ID>,
}

fn change<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

fn change_try<T, U>(
    value: MaybeUndefined<T>,
    parse: impl FnOnce(T) -> Result<U>,
) -> Result<Option<Option<U>>> {
    change(value)
        .map(|inner| inner.map(parse).transpose())
        .transpose()
}

#[derive(Default)]
pub struct CampaignMutation;

#[Object]
impl CampaignMutation {
    /// Starts a campaign. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn create_campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign.")] input: CreateCampaignInput,
    ) -> Result<Campaign> {
        let details = CampaignDetails {
            name: input.name,
            description: input.description,
            goal: input.goal.parse(ctx, "goal")?,
            starts_on: input.starts_on.0,
            ends_on: input.ends_on.map(|d| d.0),
            default_fund_id: parse_id("defaultFundId", &input.default_fund_id)?,
        };
        campaigns::create_campaign(db(ctx)?, &actor(ctx)?, details)
            .await
            .gql()
            .map(Campaign)
    }

    /// Changes a campaign. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn update_campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign and the fields to change.")] input: UpdateCampaignInput,
    ) -> Result<Campaign> {
        let id = parse_id("id", &input.id)?;
        let changes = CampaignChanges {
            name: input.name,
            description: change(input.description),
            goal: input.goal.map(|g| g.parse(ctx, "goal")).transpose()?,
            starts_on: input.starts_on.map(|d| d.0),
            ends_on: change(input.ends_on.map_value(|d| d.0)),
            default_fund_id: input
                .default_fund_id
                .map(|f| parse_id("defaultFundId", &f))
                .transpose()?,
        };
        campaigns::update_campaign(db(ctx)?, &actor(ctx)?, id, changes)
            .await
            .gql()
            .map(Campaign)
    }
}
