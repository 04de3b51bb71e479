//! How an appeal did: its results, and the same broken down by the rules of its
//! segment.

use async_graphql::{Context, ID, Json, Object, Result};

use super::super::access::requires_role;
use super::super::context::{config, db, parse_id};
use super::super::errors::{GqlResultExt, bad_input};
use super::super::money::MoneyAmount;
use super::super::tokens::Role;
use crate::domain::appeal_breakdown;
use crate::domain::campaigns;

/// How an appeal did.
pub struct AppealResultsView(
    pub(super) campaigns::AppealResults,
    pub(super) String,
    pub(super) i64,
);

/// How an appeal did. Money is net of refunds; gifts count when succeeded or partly refunded.
#[Object(name = "AppealResults")]
impl AppealResultsView {
    /// Donors it was sent to (for email appeals, the messages queued).
    async fn recipients(&self) -> i64 {
        self.0.recipients
    }

    /// Gifts attributed to it.
    async fn gifts(&self) -> i64 {
        self.0.totals.gifts
    }

    /// Different donors who gave through it.
    async fn donors(&self) -> i64 {
        self.0.totals.donors
    }

    /// Money raised, net of refunds.
    async fn raised(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.totals.raised_minor, &self.1)
    }

    /// Donors who gave as a percentage of recipients, to one decimal place (66.7); null
    /// without recipients.
    async fn response_rate_percent(&self) -> Option<f64> {
        self.0.response_rate()
    }

    /// Raised divided by gifts; null without gifts.
    async fn average_gift(&self) -> Option<MoneyAmount> {
        self.0
            .average_gift_minor()
            .map(|m| MoneyAmount::from_columns(m, &self.1))
    }

    /// Pledges started from it.
    async fn pledges(&self) -> i64 {
        self.0.pledges
    }

    /// Donors with a pledge from it who are now in a giving-club tier.
    async fn new_club_members(&self) -> i64 {
        self.0.new_club_members
    }

    /// Of those, the ones in the Circle (the tier marked `isCircle`, or a tier above it).
    async fn new_circle_members(&self) -> i64 {
        self.0.new_circle_members
    }

    /// What it cost.
    async fn cost(&self) -> Option<MoneyAmount> {
        self.0
            .cost_minor
            .map(|c| MoneyAmount::from_columns(c, &self.1))
    }

    /// Cost divided by money raised (0.25 is 25 cents per dollar); null without a cost
    /// or without money raised.
    async fn cost_per_dollar_raised(&self) -> Option<f64> {
        self.0.cost_per_dollar_raised()
    }

    /// The same by segment rule: one row per alternative of the appeal's segment (the
    /// rules of its top-level `any`, or of the one `any` inside a top-level `all`; any
    /// other segment is one row, the whole rule). A recipient belongs to the rows of the
    /// alternatives they matched when the appeal was queued (for an appeal never sent by
    /// email, such as a letter, those they match now); gifts count in their donor's
    /// rows. A donor matching several alternatives counts in each, so rows may add up to
    /// more than the totals. Empty when the appeal has no segment.
    async fn by_segment_rule(&self, ctx: &Context<'_>) -> Result<Vec<SegmentRuleResults>> {
        let rows = appeal_breakdown::results_by_segment_rule(db(ctx)?, &config(ctx)?.org, self.2)
            .await
            .gql()?;
        Ok(rows
            .into_iter()
            .map(|row| SegmentRuleResults(row, self.1.clone()))
            .collect())
    }
}

/// How the recipients who matched one rule of the appeal's segment did.
pub struct SegmentRuleResults(appeal_breakdown::RuleResults, String);

/// How the recipients who matched one rule of the appeal's segment did. Money is net of
/// refunds.
#[Object]
impl SegmentRuleResults {
    /// The rule's place among the segment's alternatives, from 0.
    async fn index(&self) -> i64 {
        i64::try_from(self.0.index).unwrap_or(i64::MAX)
    }

    /// The rule, as JSON with a `kind`.
    async fn rule(&self) -> Result<Json<serde_json::Value>> {
        Ok(Json(serde_json::to_value(&self.0.rule)?))
    }

    /// Recipients who matched it.
    async fn recipients(&self) -> i64 {
        self.0.recipients
    }

    /// Gifts attributed to the appeal from those donors.
    async fn gifts(&self) -> i64 {
        self.0.gifts
    }

    /// How many of those donors gave.
    async fn donors(&self) -> i64 {
        self.0.donors
    }

    /// Money they gave through the appeal, net of refunds.
    async fn raised(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.raised_minor, &self.1)
    }

    /// Donors who gave as a percentage of its recipients, to one decimal place; null
    /// without recipients.
    async fn response_rate_percent(&self) -> Option<f64> {
        campaigns::rounded_percent(self.0.donors, self.0.recipients)
    }
}
#[derive(Default)]
pub struct AppealResultsQuery;

#[Object]
impl AppealResultsQuery {
    /// How an appeal did. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn appeal_results(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The appeal's id.")] id: ID,
    ) -> Result<AppealResultsView> {
        let id = parse_id("id", &id)?;
        let appeal = campaigns::find_appeal(db(ctx)?, id)
            .await
            .gql()?
            .ok_or_else(|| bad_input("id", "no such appeal"))?;
        let results = campaigns::appeal_results(db(ctx)?, &appeal).await.gql()?;
        Ok(AppealResultsView(results, appeal.currency, id))
    }
}
