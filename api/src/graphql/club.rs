//! The Monthly Giving Club: members by tier, who joined and left when, recurring
//! income, and staff actions on pledges.

use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use entity::{Currency, tier_membership};

use super::access::requires_role;
use super::context::{actor, config, db, parse_id, processor};
use super::donors::Donor;
use super::errors::{GqlResultExt, bad_input};
use super::loaders::loaders;
use super::money::{MoneyAmount, MoneyInput};
use super::paging::{Page, PageArgs, page};
use super::pledges::Pledge;
use super::tiers::Tier;
use super::tokens::Role;
use crate::domain::club;
use crate::domain::pledge_actions::{PledgeAction, change_pledge};

/// A donor's time in a giving-club tier: when and why they joined, and when and why
/// they left (still open while they are a member).
pub struct ClubMembership(pub tier_membership::Model);

#[Object]
impl ClubMembership {
    /// The membership's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The member.
    async fn donor(&self, ctx: &Context<'_>) -> Result<Option<Donor>> {
        Ok(loaders(ctx)?
            .donors
            .load_one(self.0.donor_id)
            .await?
            .map(Donor))
    }

    /// The tier.
    async fn tier(&self, ctx: &Context<'_>) -> Result<Option<Tier>> {
        Ok(loaders(ctx)?
            .tiers
            .load_one(self.0.tier_id)
            .await?
            .map(Tier))
    }

    /// When the donor entered the tier.
    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.joined_at
    }

    /// Why: joined, or moved up or down from another tier, with the total.
    async fn join_reason(&self) -> &str {
        &self.0.join_reason
    }

    /// The donor's annual pledge total when they entered, in the tier's currency.
    async fn annual_pledge_total(&self, ctx: &Context<'_>) -> Result<MoneyAmount> {
        let currency = loaders(ctx)?
            .tiers
            .load_one(self.0.tier_id)
            .await?
            .map_or_else(|| "USD".to_owned(), |tier| tier.currency);
        Ok(MoneyAmount::from_columns(
            self.0.annual_pledge_total_minor,
            &currency,
        ))
    }

    /// When the donor left the tier; null while they are in it.
    async fn left_at(&self) -> Option<DateTime<Utc>> {
        self.0.left_at
    }

    /// Why they left.
    async fn leave_reason(&self) -> Option<&str> {
        self.0.leave_reason.as_deref()
    }

    /// What caused the latest change: a Stripe event, a staff action, the grace-period
    /// check.
    async fn cause(&self) -> Option<&str> {
        self.0.cause.as_deref()
    }
}

/// The Monthly Giving Club as it stands.
pub struct GivingClub {
    currency: Currency,
    /// The income figures, computed once per request whichever fields ask for them.
    totals: tokio::sync::OnceCell<club::ClubTotals>,
}

impl GivingClub {
    async fn totals(&self, ctx: &Context<'_>) -> Result<&club::ClubTotals> {
        self.totals
            .get_or_try_init(|| async {
                club::club_totals(db(ctx)?, self.currency, &config(ctx)?.club_policy())
                    .await
                    .gql()
            })
            .await
    }
}

/// Loads the donors and tiers of a list of memberships in one statement each, so that
/// their fields find them in the request's cache however long the list is.
async fn with_donors_and_tiers(
    ctx: &Context<'_>,
    rows: Vec<tier_membership::Model>,
) -> Result<Vec<ClubMembership>> {
    let wants_donor = ctx.look_ahead().field("donor").exists();
    with_donors_and_tiers_loaded(ctx, rows, wants_donor).await
}

async fn with_donors_and_tiers_loaded(
    ctx: &Context<'_>,
    rows: Vec<tier_membership::Model>,
    wants_donor: bool,
) -> Result<Vec<ClubMembership>> {
    let loaders = loaders(ctx)?;
    if wants_donor {
        loaders
            .donors
            .load_many(rows.iter().map(|m| m.donor_id))
            .await?;
    }
    loaders
        .tiers
        .load_many(rows.iter().map(|m| m.tier_id))
        .await?;
    Ok(rows.into_iter().map(ClubMembership).collect())
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
        let args = PageArgs::new(after, before, first, last);
        args.check()?;
        let tier = tier.map(|id| parse_id("tier", &id)).transpose()?;
        let db = db(ctx)?;
        let total = club::count_current_members(db, tier).await.gql()?;
        let window = args.window(total);
        let rows = if window.limit == 0 {
            Vec::new()
        } else {
            club::current_members_page(db, tier, window.offset, window.limit)
                .await
                .gql()?
        };
        let wants_donor = ctx
            .look_ahead()
            .field("edges")
            .field("node")
            .field("donor")
            .exists();
        let nodes = with_donors_and_tiers_loaded(ctx, rows, wants_donor).await?;
        Ok(page(window, total, nodes))
    }

    /// Memberships that began at or after `from` and before `to`.
    async fn joined_between(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "From this instant.")] from: DateTime<Utc>,
        #[graphql(desc = "Until just before this instant.")] to: DateTime<Utc>,
    ) -> Result<Vec<ClubMembership>> {
        let rows = club::joined_between(db(ctx)?, from, to).await.gql()?;
        with_donors_and_tiers(ctx, rows).await
    }

    /// Memberships that ended at or after `from` and before `to`.
    async fn left_between(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "From this instant.")] from: DateTime<Utc>,
        #[graphql(desc = "Until just before this instant.")] to: DateTime<Utc>,
    ) -> Result<Vec<ClubMembership>> {
        let rows = club::left_between(db(ctx)?, from, to).await.gql()?;
        with_donors_and_tiers(ctx, rows).await
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
        let args = PageArgs::new(after, before, first, last);
        args.check()?;
        let roster = club::circle_roster(db(ctx)?)
            .await
            .gql()?
            .map(|(_, members)| members)
            .unwrap_or_default();
        let total = roster.len() as u64;
        let window = args.window(total);
        let nodes = roster
            .into_iter()
            .skip(usize::try_from(window.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(window.limit).unwrap_or(0))
            .map(|member| ClubMembership(member.membership))
            .collect();
        Ok(page(window, total, nodes))
    }

    /// A donor's giving-club history: every tier they entered and left, oldest first.
    /// Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn tier_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The donor's id.")] donor_id: ID,
    ) -> Result<Vec<ClubMembership>> {
        donor_tier_history(ctx, parse_id("donorId", &donor_id)?).await
    }
}

/// A donor's memberships, oldest first.
pub async fn donor_tier_history(ctx: &Context<'_>, donor_id: i64) -> Result<Vec<ClubMembership>> {
    let rows = club::tier_history(db(ctx)?, donor_id).await.gql()?;
    Ok(rows.into_iter().map(ClubMembership).collect())
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
