//! The Monthly Giving Club: members by tier, who joined and left when, recurring
//! income, and staff actions on pledges.

use std::collections::HashMap;

use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use entity::{Currency, donor, giving_tier, tier_membership};

use super::access::requires_role;
use super::context::{actor, config, db, parse_id, processor};
use super::donors::Donor;
use super::errors::{GqlResultExt, bad_input};
use super::loaders::{donor_for, loaders, prime, prime_nodes_donors};
use super::money::{MoneyAmount, MoneyInput};
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, counted_page, placed_page};
use super::pledges::Pledge;
use super::projection::{self, node_fields, object_fields};
use super::tiers::Tier;
use super::tokens::Role;
use crate::domain::club;
use crate::domain::keyset::{CountedPage, Ordering, page_in_memory};
use crate::domain::partial_rows::ColumnSet;
use crate::domain::pledge_actions::{PledgeAction, change_pledge};

/// A donor's time in a giving-club tier: when and why they joined, and when and why
/// they left (still open while they are a member).
pub struct ClubMembership {
    row: tier_membership::Model,
    /// The member, when the list this membership is in has read it.
    donor: Option<donor::Model>,
    /// The tier, when the list this membership is in has read it.
    tier: Option<giving_tier::Model>,
}

impl ClubMembership {
    /// A membership with its donor and tier already read, when `donors` and `tiers`
    /// hold them.
    fn with(
        row: tier_membership::Model,
        donors: &HashMap<i64, donor::Model>,
        tiers: &HashMap<i64, giving_tier::Model>,
    ) -> Self {
        ClubMembership {
            donor: donors.get(&row.donor_id).cloned(),
            tier: tiers.get(&row.tier_id).cloned(),
            row,
        }
    }

    /// The tier, from the list's read or the request's loader.
    async fn find_tier(&self, ctx: &Context<'_>) -> Result<Option<giving_tier::Model>> {
        match &self.tier {
            Some(tier) => Ok(Some(tier.clone())),
            None => Ok(loaders(ctx)?.tiers.load_one(self.row.tier_id).await?),
        }
    }
}

#[Object]
impl ClubMembership {
    /// The membership's id.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// The member.
    async fn donor(&self, ctx: &Context<'_>) -> Result<Option<Donor>> {
        if let Some(donor) = &self.donor {
            return Ok(Some(Donor::from(donor.clone())));
        }
        let selected = object_fields(&ctx.look_ahead());
        Ok(donor_for(loaders(ctx)?, self.row.donor_id, selected)
            .await?
            .map(Donor::from))
    }

    /// The tier.
    async fn tier(&self, ctx: &Context<'_>) -> Result<Option<Tier>> {
        Ok(self.find_tier(ctx).await?.map(Tier))
    }

    /// When the donor entered the tier.
    async fn joined_at(&self) -> DateTime<Utc> {
        self.row.joined_at
    }

    /// Why: joined, or moved up or down from another tier, with the total.
    async fn join_reason(&self) -> &str {
        &self.row.join_reason
    }

    /// The donor's annual pledge total when they entered, in the tier's currency.
    async fn annual_pledge_total(&self, ctx: &Context<'_>) -> Result<MoneyAmount> {
        let currency = self
            .find_tier(ctx)
            .await?
            .map_or_else(|| "USD".to_owned(), |tier| tier.currency);
        Ok(MoneyAmount::from_columns(
            self.row.annual_pledge_total_minor,
            &currency,
        ))
    }

    /// When the donor left the tier; null while they are in it.
    async fn left_at(&self) -> Option<DateTime<Utc>> {
        self.row.left_at
    }

    /// Why they left.
    async fn leave_reason(&self) -> Option<&str> {
        self.row.leave_reason.as_deref()
    }

    /// What caused the latest change: a Stripe event, a staff action, the grace-period
    /// check.
    async fn cause(&self) -> Option<&str> {
        self.row.cause.as_deref()
    }
}

/// The Monthly Giving Club as it stands.
pub struct GivingClub {
    currency: Currency,
    /// The income figures, taken once per request whichever fields ask for them, from
    /// the copy the server keeps (`club::KeptTotals`).
    totals: tokio::sync::OnceCell<club::ClubTotals>,
}

impl GivingClub {
    async fn totals(&self, ctx: &Context<'_>) -> Result<&club::ClubTotals> {
        self.totals
            .get_or_try_init(|| async {
                ctx.data::<club::KeptTotals>()?
                    .get(db(ctx)?, self.currency, &config(ctx)?.club_policy())
                    .await
                    .gql()
            })
            .await
    }
}

/// The connection for a page of memberships read in `order`, their donors (when the
/// query asks for them) and tiers read in one statement each and handed to the nodes.
async fn membership_page(
    ctx: &Context<'_>,
    order: &Ordering<tier_membership::Column>,
    found: CountedPage<tier_membership::Model>,
) -> Result<Page<ClubMembership>> {
    let rows = &found.page.rows;
    let loaders = loaders(ctx)?;
    let donors = prime_nodes_donors(
        loaders,
        &ctx.look_ahead(),
        rows.iter().map(|m| m.donor_id).collect(),
    )
    .await?;
    let tiers = prime(&loaders.tiers, rows.iter().map(|m| m.tier_id)).await?;
    Ok(counted_page(order, found, |row| {
        ClubMembership::with(row, &donors, &tiers)
    }))
}

/// A page of the memberships that began (or ended) in `[from, to)`.
async fn moved_between(
    ctx: &Context<'_>,
    movement: club::Movement,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    args: PageArgs,
) -> Result<Page<ClubMembership>> {
    let order = movement.order();
    let request = args.keyed(order.name)?;
    let found = club::page_moved_between(
        db(ctx)?,
        movement,
        from,
        to,
        &request,
        DEFAULT_PAGE_SIZE as u64,
        membership_columns(ctx),
    )
    .await
    .gql()?;
    membership_page(ctx, &order, found).await
}

/// The columns of a membership the nodes of the page being resolved ask for (see
/// `projection::MEMBERSHIP`); `None`: read whole rows.
fn membership_columns(ctx: &Context<'_>) -> Option<ColumnSet> {
    projection::MEMBERSHIP.columns(node_fields(&ctx.look_ahead()))
}

#[Object]
impl GivingClub {
    /// Current members, oldest membership first, a page at a time (at most 100); only
    /// one tier's when `tier` is given.
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only members of this tier.")] tier: Option<ID>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<ClubMembership>> {
        let order = club::by_joining();
        let request = PageArgs::new(after, before, first, last).keyed(order.name)?;
        let tier = tier.map(|id| parse_id("tier", &id)).transpose()?;
        let found = club::page_current_members(
            db(ctx)?,
            tier,
            &request,
            DEFAULT_PAGE_SIZE as u64,
            membership_columns(ctx),
        )
        .await
        .gql()?;
        membership_page(ctx, &order, found).await
    }

    /// Memberships that began at or after `from` and before `to`, by when they began,
    /// a page at a time (at most 100), with `totalCount`.
    #[allow(clippy::too_many_arguments)]
    async fn joined_between(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "From this instant.")] from: DateTime<Utc>,
        #[graphql(desc = "Until just before this instant.")] to: DateTime<Utc>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<ClubMembership>> {
        let args = PageArgs::new(after, before, first, last);
        moved_between(ctx, club::Movement::Joined, from, to, args).await
    }

    /// Memberships that ended at or after `from` and before `to`, by when they ended,
    /// a page at a time (at most 100), with `totalCount`.
    #[allow(clippy::too_many_arguments)]
    async fn left_between(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "From this instant.")] from: DateTime<Utc>,
        #[graphql(desc = "Until just before this instant.")] to: DateTime<Utc>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<ClubMembership>> {
        let args = PageArgs::new(after, before, first, last);
        moved_between(ctx, club::Movement::Left, from, to, args).await
    }

    /// What the pledges that count now bring in a month on average (yearly and
    /// quarterly pledges spread over their months).
    async fn monthly_recurring_revenue(&self, ctx: &Context<'_>) -> Result<MoneyAmount> {
        let totals = self.totals(ctx).await?;
        Ok(MoneyAmount::from_columns(
            totals.monthly_recurring_minor,
            self.currency.code(),
        ))
    }

    /// What the pledges that count now commit over the next twelve months (the whole
    /// remaining pledge when its term is shorter).
    async fn annual_pledge_total(&self, ctx: &Context<'_>) -> Result<MoneyAmount> {
        let totals = self.totals(ctx).await?;
        Ok(MoneyAmount::from_columns(
            totals.annual_pledge_total_minor,
            self.currency.code(),
        ))
    }
}

#[derive(Default)]
pub struct ClubQuery;

#[Object]
impl ClubQuery {
    /// The Monthly Giving Club: members, movements and recurring income. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn giving_club(
        &self,
        #[graphql(desc = "The currency of the income figures (USD by default).")] currency: Option<
            String,
        >,
    ) -> Result<GivingClub> {
        let currency = match currency {
            Some(code) => Currency::parse(&code).map_err(|e| bad_input("currency", e))?,
            None => Currency::Usd,
        };
        Ok(GivingClub {
            currency,
            totals: tokio::sync::OnceCell::new(),
        })
    }

    /// The members of the Circle (the tier marked `isCircle`, and any higher tier) by
    /// name, with each member's donor record and contact details for event invitations,
    /// anonymous members included; empty when no tier is the Circle. Staff only; also
    /// at `GET /circle/roster.csv`.
    /// A page at a time (at most 100), with `totalCount`. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn circle_roster(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<ClubMembership>> {
        const ORDER: &str = "circle-roster";
        let request = PageArgs::new(after, before, first, last).keyed(ORDER)?;
        let roster = club::circle_roster(db(ctx)?)
            .await
            .gql()?
            .map(|(_, members)| members)
            .unwrap_or_default();
        let total = roster.len() as u64;
        let rows = page_in_memory(
            roster,
            club::CircleMember::place,
            &request,
            DEFAULT_PAGE_SIZE as u64,
        )
        .gql()?;
        Ok(placed_page(rows, total, ORDER, |member| ClubMembership {
            row: member.membership,
            donor: Some(member.donor),
            tier: Some(member.tier),
        }))
    }

    /// A donor's giving-club history: every tier they entered and left, oldest first.
    /// Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn tier_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The donor's id.")] donor_id: ID,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<ClubMembership>> {
        let donor_id = parse_id("donorId", &donor_id)?;
        donor_tier_history(ctx, donor_id, PageArgs::new(after, before, first, last)).await
    }
}

/// A page of a donor's memberships, oldest first.
pub async fn donor_tier_history(
    ctx: &Context<'_>,
    donor_id: i64,
    args: PageArgs,
) -> Result<Page<ClubMembership>> {
    let order = club::by_joining();
    let request = args.keyed(order.name)?;
    let found = club::page_tier_history(db(ctx)?, donor_id, &request, DEFAULT_PAGE_SIZE as u64)
        .await
        .gql()?;
    membership_page(ctx, &order, found).await
}

/// A change to a pledge.
#[derive(InputObject)]
pub struct PledgeChangeInput {
    /// The pledge's id.
    pub id: ID,
    /// A key of your choosing: the same change sent again with it answers the first
    /// change; another change with it is a conflict naming the field that differs.
    pub idempotency_key: Option<String>,
}

/// A pledge to cancel.
#[derive(InputObject)]
pub struct CancelPledgeInput {
    /// The pledge's id.
    pub id: ID,
    /// A key of your choosing: the same change sent again with it answers the first
    /// change; another change with it is a conflict naming the field that differs.
    pub idempotency_key: Option<String>,
    /// Why, for the record.
    pub reason: Option<String>,
}

/// A pledge's new installment amount.
#[derive(InputObject)]
pub struct ChangePledgeAmountInput {
    /// The pledge's id.
    pub id: ID,
    /// A key of your choosing: the same change sent again with it answers the first
    /// change; another change with it is a conflict naming the field that differs.
    pub idempotency_key: Option<String>,
    /// The new installment amount.
    pub amount: MoneyInput,
}

/// What a pledge action did.
pub struct PledgeChange {
    pledge: Pledge,
    requested_of_processor: bool,
}

#[Object]
impl PledgeChange {
    /// The pledge as it stands now. A card pledge changes when Stripe confirms the
    /// change, so it may still show the state before.
    async fn pledge(&self) -> &Pledge {
        &self.pledge
    }

    /// True when the change was asked of Stripe (a card pledge) rather than made here.
    async fn requested_of_processor(&self) -> bool {
        self.requested_of_processor
    }
}

async fn apply(
    ctx: &Context<'_>,
    input: PledgeChangeInput,
    action: PledgeAction,
) -> Result<PledgeChange> {
    let id = parse_id("id", &input.id)?;
    let outcome = change_pledge(
        db(ctx)?,
        processor(ctx)?,
        &config(ctx)?.club_policy(),
        &actor(ctx)?,
        id,
        action,
        input.idempotency_key.as_deref(),
    )
    .await
    .gql()?;
    Ok(PledgeChange {
        pledge: Pledge(outcome.pledge),
        requested_of_processor: outcome.requested_of_processor,
    })
}

#[derive(Default)]
pub struct ClubMutation;

#[Object]
impl ClubMutation {
    /// Pauses a pledge: no installments are expected while it is paused. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn pause_pledge(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which pledge.")] input: PledgeChangeInput,
    ) -> Result<PledgeChange> {
        apply(ctx, input, PledgeAction::Pause).await
    }

    /// Resumes a paused pledge. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn resume_pledge(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which pledge.")] input: PledgeChangeInput,
    ) -> Result<PledgeChange> {
        apply(ctx, input, PledgeAction::Resume).await
    }

    /// Cancels a pledge for good; the donor is thanked and offered a way back. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn cancel_pledge(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which pledge, and why.")] input: CancelPledgeInput,
    ) -> Result<PledgeChange> {
        let CancelPledgeInput {
            id,
            idempotency_key,
            reason,
        } = input;
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        let pledge = PledgeChangeInput {
            id,
            idempotency_key,
        };
        apply(ctx, pledge, PledgeAction::Cancel { reason }).await
    }

    /// Changes a pledge's installment amount. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn change_pledge_amount(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which pledge, and its new amount.")] input: ChangePledgeAmountInput,
    ) -> Result<PledgeChange> {
        let ChangePledgeAmountInput {
            id,
            idempotency_key,
            amount,
        } = input;
        let amount = amount.parse(ctx, "amount")?;
        let pledge = PledgeChangeInput {
            id,
            idempotency_key,
        };
        apply(ctx, pledge, PledgeAction::ChangeAmount(amount)).await
    }
}
