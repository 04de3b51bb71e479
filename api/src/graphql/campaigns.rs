//! Campaigns and their appeals. Everyone on staff may read them; staff create and
//! change them.

use async_graphql::{
    Context, Enum, ID, InputObject, Json, MaybeUndefined, Object, Result, SimpleObject,
};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{appeal, campaign};

use super::access::requires_role;
use super::context::{actor, config, db, parse_id};
use super::errors::{GqlResultExt, bad_input};
use super::money::{MoneyAmount, MoneyInput};
use super::tokens::Role;
use crate::domain::appeal_breakdown;
use crate::domain::appeal_sends::{self, LinkSettings, PersonalAppeal};
use crate::domain::campaigns::{
    self, AppealChanges, AppealDetails, AskRule, CampaignChanges, CampaignDetails, GivingTotals,
};
use crate::domain::tributes;

/// How an appeal reaches its audience.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::AppealChannel")]
pub enum AppealChannel {
    /// An email to each donor in the segment, through the outbox.
    Email,
    /// A printed letter with a reply envelope, from the mail-merge export.
    Letter,
    /// A post on social media.
    Social,
    /// An event.
    Event,
    /// Anything else.
    Other,
}

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
    async fn starts_on(&self) -> NaiveDate {
        self.0.starts_on
    }

    /// The last day, if set.
    async fn ends_on(&self) -> Option<NaiveDate> {
        self.0.ends_on
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

/// How each donor's personal ask amount is computed.
#[derive(SimpleObject, InputObject, Clone, Copy)]
#[graphql(input_name = "AskRuleInput")]
pub struct AskAmountRule {
    /// The last gift is rounded up to the next multiple of this, in minor units.
    pub step_minor: i64,
    /// The smallest ask, and the ask for donors with no gift yet, in minor units.
    pub minimum_minor: i64,
    /// Also invite donors not yet in the Circle (the tier marked `isCircle`) to the
    /// monthly amount that would bring them in.
    #[graphql(default = false)]
    pub invite_to_circle: bool,
}

impl AskAmountRule {
    fn parse(self) -> Result<AskRule> {
        AskRule::new(self.step_minor, self.minimum_minor, self.invite_to_circle).gql()
    }
}

/// One ask within a campaign through one channel, with a source code that follows
/// every gift it brings in.
pub struct Appeal(pub appeal::Model);

/// One ask within a campaign through one channel, with a source code that follows
/// every gift it brings in.
#[Object]
impl Appeal {
    /// The appeal's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The id of its campaign.
    async fn campaign_id(&self) -> ID {
        ID(self.0.campaign_id.to_string())
    }

    /// Its name ("Fall letter").
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// How it reaches donors.
    async fn channel(&self) -> AppealChannel {
        self.0.channel.into()
    }

    /// The upper-case code in its links and on its reply envelopes ("SCOMM11-EMAIL").
    async fn source_code(&self) -> &str {
        &self.0.source_code
    }

    /// The id of the segment it is sent to.
    async fn segment_id(&self) -> Option<ID> {
        self.0.segment_id.map(|id| ID(id.to_string()))
    }

    /// The email subject.
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }

    /// The message, with merge fields.
    async fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    /// How each donor's personal ask is computed.
    async fn ask_rule(&self) -> Result<Option<AskAmountRule>> {
        let Some(value) = &self.0.ask_rule else {
            return Ok(None);
        };
        let rule = AskRule::from_json(value).gql()?;
        Ok(Some(AskAmountRule {
            step_minor: rule.step_minor,
            minimum_minor: rule.minimum_minor,
            invite_to_circle: rule.invite_to_circle,
        }))
    }

    /// What it cost to make and send, for cost per dollar raised.
    async fn cost(&self) -> Option<MoneyAmount> {
        self.0
            .cost_minor
            .map(|c| MoneyAmount::from_columns(c, &self.0.currency))
    }

    /// When it is to be sent.
    async fn scheduled_at(&self) -> Option<DateTime<Utc>> {
        self.0.scheduled_at
    }

    /// When it was sent.
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }

    /// How the appeal did: recipients, gifts, response rate, club members, cost.
    async fn results(&self, ctx: &Context<'_>) -> Result<AppealResultsView> {
        let results = campaigns::appeal_results(db(ctx)?, self.0.id).await.gql()?;
        Ok(AppealResultsView(
            results,
            self.0.currency.clone(),
            self.0.id,
        ))
    }

    /// What the gifts attributed to this appeal have raised.
    async fn progress(&self, ctx: &Context<'_>) -> Result<GivingProgress> {
        let totals = campaigns::giving_totals(db(ctx)?, None, Some(self.0.id))
            .await
            .gql()?;
        Ok(GivingProgress::new(totals, 0, &self.0.currency))
    }
}

/// How an appeal did.
pub struct AppealResultsView(campaigns::AppealResults, String, i64);

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

    /// Donors who gave as a percentage of recipients; null without recipients.
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

    /// Donors who gave as a percentage of its recipients; null without recipients.
    async fn response_rate_percent(&self) -> Option<f64> {
        (self.0.recipients > 0).then(|| self.0.donors as f64 * 100.0 / self.0.recipients as f64)
    }
}

#[derive(Default)]
pub struct CampaignQuery;

#[Object]
impl CampaignQuery {
    /// One campaign.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign's id.")] id: ID,
    ) -> Result<Option<Campaign>> {
        let id = parse_id("id", &id)?;
        Ok(campaigns::find_campaign(db(ctx)?, id)
            .await
            .gql()?
            .map(Campaign))
    }

    /// Every campaign, the most recently started first.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn campaigns(&self, ctx: &Context<'_>) -> Result<Vec<Campaign>> {
        let all = campaigns::list_campaigns(db(ctx)?).await.gql()?;
        Ok(all.into_iter().map(Campaign).collect())
    }

    /// How an appeal did.
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
        let results = campaigns::appeal_results(db(ctx)?, id).await.gql()?;
        Ok(AppealResultsView(results, appeal.currency, id))
    }

    /// One appeal.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn appeal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The appeal's id.")] id: ID,
    ) -> Result<Option<Appeal>> {
        let id = parse_id("id", &id)?;
        Ok(campaigns::find_appeal(db(ctx)?, id)
            .await
            .gql()?
            .map(Appeal))
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
    pub starts_on: NaiveDate,
    /// The last day.
    pub ends_on: Option<NaiveDate>,
    /// The fund gifts go to unless they say otherwise.
    pub default_fund_id: ID,
}

/// Changes to a campaign. Leave a field out to keep it.
#[derive(InputObject, Default)]
pub struct UpdateCampaignInput {
    /// Its name.
    pub name: Option<String>,
    /// What it is for; null clears it.
    pub description: MaybeUndefined<String>,
    /// What it means to raise.
    pub goal: Option<MoneyInput>,
    /// The first day.
    pub starts_on: Option<NaiveDate>,
    /// The last day; null clears it.
    pub ends_on: MaybeUndefined<NaiveDate>,
    /// The fund gifts go to unless they say otherwise.
    pub default_fund_id: Option<ID>,
}

/// A new appeal within a campaign.
#[derive(InputObject)]
pub struct CreateAppealInput {
    /// The campaign it belongs to.
    pub campaign_id: ID,
    /// Its name.
    pub name: String,
    /// How it reaches donors.
    pub channel: AppealChannel,
    /// The code in its links and on its reply envelopes; stored in upper case, unique.
    pub source_code: String,
    /// The segment it is sent to.
    pub segment_id: Option<ID>,
    /// The email subject.
    pub subject: Option<String>,
    /// The message, with merge fields.
    pub message: Option<String>,
    /// How each donor's personal ask is computed.
    pub ask_rule: Option<AskAmountRule>,
    /// What it costs to make and send, in minor units of the campaign's currency.
    pub cost_minor: Option<i64>,
    /// When it is to be sent.
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// Changes to an appeal. Leave a field out to keep it; null clears it.
#[derive(InputObject, Default)]
pub struct UpdateAppealInput {
    /// Its name.
    pub name: Option<String>,
    /// How it reaches donors.
    pub channel: Option<AppealChannel>,
    /// The code in its links and on its reply envelopes.
    pub source_code: Option<String>,
    /// The segment it is sent to.
    pub segment_id: MaybeUndefined<ID>,
    /// The email subject.
    pub subject: MaybeUndefined<String>,
    /// The message, with merge fields.
    pub message: MaybeUndefined<String>,
    /// How each donor's personal ask is computed.
    pub ask_rule: MaybeUndefined<AskAmountRule>,
    /// What it costs, in minor units.
    pub cost_minor: MaybeUndefined<i64>,
    /// When it is to be sent.
    pub scheduled_at: MaybeUndefined<DateTime<Utc>>,
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
    /// Starts a campaign.
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
            starts_on: input.starts_on,
            ends_on: input.ends_on,
            default_fund_id: parse_id("defaultFundId", &input.default_fund_id)?,
        };
        campaigns::create_campaign(db(ctx)?, &actor(ctx)?, details)
            .await
            .gql()
            .map(Campaign)
    }

    /// Changes a campaign.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn update_campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign's id.")] id: ID,
        #[graphql(desc = "The fields to change.")] input: UpdateCampaignInput,
    ) -> Result<Campaign> {
        let id = parse_id("id", &id)?;
        let changes = CampaignChanges {
            name: input.name,
            description: change(input.description),
            goal: input.goal.map(|g| g.parse(ctx, "goal")).transpose()?,
            starts_on: input.starts_on,
            ends_on: change(input.ends_on),
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

    /// Adds an appeal to a campaign.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn create_appeal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The appeal.")] input: CreateAppealInput,
    ) -> Result<Appeal> {
        if input.cost_minor.is_some_and(|c| c < 0) {
            return Err(bad_input("costMinor", "cannot be negative"));
        }
        let details = AppealDetails {
            campaign_id: parse_id("campaignId", &input.campaign_id)?,
            name: input.name,
            channel: input.channel.into(),
            source_code: input.source_code,
            segment_id: input
                .segment_id
                .map(|s| parse_id("segmentId", &s))
                .transpose()?,
            subject: input.subject,
            message: input.message,
            ask_rule: input.ask_rule.map(AskAmountRule::parse).transpose()?,
            cost_minor: input.cost_minor,
            scheduled_at: input.scheduled_at,
        };
        campaigns::create_appeal(db(ctx)?, &actor(ctx)?, details)
            .await
            .gql()
            .map(Appeal)
    }

    /// Changes an appeal.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn update_appeal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The appeal's id.")] id: ID,
        #[graphql(desc = "The fields to change.")] input: UpdateAppealInput,
    ) -> Result<Appeal> {
        let id = parse_id("id", &id)?;
        if let MaybeUndefined::Value(c) = input.cost_minor
            && c < 0
        {
            return Err(bad_input("costMinor", "cannot be negative"));
        }
        let changes = AppealChanges {
            name: input.name,
            channel: input.channel.map(Into::into),
            source_code: input.source_code,
            segment_id: change_try(input.segment_id, |s| parse_id("segmentId", &s))?,
            subject: change(input.subject),
            message: change(input.message),
            ask_rule: change_try(input.ask_rule, AskAmountRule::parse)?,
            cost_minor: change(input.cost_minor),
            scheduled_at: change(input.scheduled_at),
        };
        campaigns::update_appeal(db(ctx)?, &actor(ctx)?, id, changes)
            .await
            .gql()
            .map(Appeal)
    }
}

fn link_settings<'a>(config: &'a crate::config::Config) -> Result<LinkSettings<'a>> {
    config
        .appeal_links()
        .ok_or_else(|| bad_input("id", "DOWNLOAD_LINK_KEY is not configured"))
}

/// One donor's email appeal as it would be sent.
pub struct AppealPreview(PersonalAppeal, String);

/// One donor's email appeal as it would be sent.
#[Object]
impl AppealPreview {
    /// The donor's id.
    async fn donor_id(&self) -> ID {
        ID(self.0.donor_id.to_string())
    }

    /// The address it goes to.
    async fn to_address(&self) -> &str {
        &self.0.to_address
    }

    /// The donor's language, in which it is written.
    async fn language(&self) -> super::donors::Language {
        self.0.language.into()
    }

    /// The subject, merged.
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The message, merged (first name, last gift, ask amount, donate link).
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// The donor's personal ask.
    async fn ask_amount(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.ask_minor, &self.1)
    }

    /// The donor's most recent gift.
    async fn last_gift(&self) -> Option<MoneyAmount> {
        self.0
            .last_gift_minor
            .map(|m| MoneyAmount::from_columns(m, &self.1))
    }

    /// The donate link in the message.
    async fn donate_url(&self) -> &str {
        &self.0.donate_url
    }

    /// The monthly amount that would bring the donor into the Circle, when invited.
    async fn club_monthly_ask(&self) -> Option<MoneyAmount> {
        self.0
            .club_monthly_ask_minor
            .map(|m| MoneyAmount::from_columns(m, &self.1))
    }

    /// The donor's one-click unsubscribe link.
    async fn unsubscribe_url(&self) -> &str {
        &self.0.unsubscribe_url
    }
}

/// What sending an appeal did.
#[derive(SimpleObject)]
pub struct SendAppealPayload {
    /// Donors the appeal reaches: in its segment, consented, not unsubscribed, not bouncing.
    pub recipients: u64,
    /// Messages newly queued; donors queued by an earlier send are not queued again.
    pub queued: u64,
}

#[derive(Default)]
pub struct AppealSendQuery;

#[Object]
impl AppealSendQuery {
    /// The mail-merge CSV for a letter appeal: donor id, name, postal address,
    /// salutation, personal ask amount and the reply code for the envelope, one row per
    /// donor in its segment with a postal address.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn appeal_letter_csv(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The appeal's id.")] id: ID,
    ) -> Result<String> {
        let id = parse_id("id", &id)?;
        appeal_sends::letter_csv(db(ctx)?, &config(ctx)?.org, id)
            .await
            .gql()
    }

    /// The tribute-letter export, as CSV: one row per succeeded gift received in
    /// `[from, to)` (all time when omitted) whose tribute names a person to notify by
    /// post and no email. Columns: gift_id, received_on (the organization's time zone),
    /// tribute, honoree, notify_name, notify_address, donor_name (empty when the gift is
    /// anonymous), language (the donor's, for the letter), amount (empty unless the donor
    /// allowed it).
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn tribute_letter_csv(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Gifts received at or after this time.")] from: Option<DateTime<Utc>>,
        #[graphql(desc = "Gifts received before this time.")] to: Option<DateTime<Utc>>,
    ) -> Result<String> {
        tributes::tribute_letter_csv(db(ctx)?, &config(ctx)?.org, from, to)
            .await
            .gql()
    }

    /// One donor's email appeal as it would be sent; null when the donor would not
    /// receive it (outside the segment, no consent, unsubscribed or bouncing).
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn appeal_preview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The appeal's id.")] id: ID,
        #[graphql(desc = "The donor's id.")] donor_id: ID,
    ) -> Result<Option<AppealPreview>> {
        let id = parse_id("id", &id)?;
        let donor_id = parse_id("donorId", &donor_id)?;
        let config = config(ctx)?;
        let preview = appeal_sends::preview_for_donor(
            db(ctx)?,
            &config.org,
            link_settings(config)?,
            id,
            donor_id,
        )
        .await
        .gql()?;
        let currency = campaigns::find_appeal(db(ctx)?, id)
            .await
            .gql()?
            .map(|a| a.currency)
            .unwrap_or_default();
        Ok(preview.map(|p| AppealPreview(p, currency)))
    }
}

#[derive(Default)]
pub struct AppealSendMutation;

#[Object]
impl AppealSendMutation {
    /// Queues an email appeal for every donor it reaches now; with a future `notBefore`,
    /// schedules it instead (`scheduledAt`), and the server queues it when that time
    /// comes, for the donors it reaches then (`queued` is 0 until then). Sending again
    /// queues only donors not queued before; the mailer sends at its own pace.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn send_appeal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The appeal's id.")] id: ID,
        #[graphql(desc = "Send no earlier than this (a scheduled appeal).")] not_before: Option<
            DateTime<Utc>,
        >,
    ) -> Result<SendAppealPayload> {
        let id = parse_id("id", &id)?;
        let config = config(ctx)?;
        let outcome = appeal_sends::send_appeal(
            db(ctx)?,
            &config.org,
            link_settings(config)?,
            &actor(ctx)?,
            id,
            not_before,
        )
        .await
        .gql()?;
        Ok(SendAppealPayload {
            recipients: outcome.recipients,
            queued: outcome.queued,
        })
    }
}
