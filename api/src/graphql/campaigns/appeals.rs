//! Appeals within a campaign: reading and changing them, previewing one donor's email,
//! the letter and tribute mail-merge files, and sending.

use async_graphql::{
    Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject, Union,
};
use chrono::{DateTime, Utc};
use entity::appeal;

use super::super::access::requires_role;
use super::super::context::{actor, config, db, parse_id};
use super::super::errors::{GqlResultExt, bad_input};
use super::super::money::{MoneyAmount, MoneyInput};
use super::super::tokens::Role;
use super::super::translations::{self, Translation, TranslationInput};
use super::results::AppealResultsView;
use super::{GivingProgress, change, change_try};
use crate::domain::DomainError;
use crate::domain::appeal_sends::{self, LinkSettings, PersonalAppeal};
use crate::domain::campaigns::{self, AppealChanges, AppealDetails, AskRule};
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

/// How each donor's personal ask amount is computed.
#[derive(SimpleObject, Clone)]
pub struct AskAmountRule {
    /// The last gift is rounded up to the next multiple of this.
    pub step: MoneyAmount,
    /// The smallest ask, and the ask for donors with no gift yet.
    pub minimum: MoneyAmount,
    /// Also invite donors not yet in the Circle (the tier marked `isCircle`) to the
    /// monthly amount that would bring them in.
    pub invite_to_circle: bool,
}

/// How each donor's personal ask amount is computed.
#[derive(InputObject, Clone)]
pub struct AskRuleInput {
    /// The last gift is rounded up to the next multiple of this.
    pub step: MoneyInput,
    /// The smallest ask, and the ask for donors with no gift yet.
    pub minimum: MoneyInput,
    /// Also invite donors not yet in the Circle (the tier marked `isCircle`) to the
    /// monthly amount that would bring them in.
    #[graphql(default = false)]
    pub invite_to_circle: bool,
}

impl AskRuleInput {
    fn parse(self, ctx: &Context<'_>) -> Result<AskRule> {
        let step = self.step.parse(ctx, "askRule.step")?;
        let minimum = self.minimum.parse(ctx, "askRule.minimum")?;
        AskRule::new(
            step.amount_minor(),
            minimum.amount_minor(),
            self.invite_to_circle,
        )
        .gql()
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

    /// Its subject and message in the other languages donors read. A donor whose
    /// language has both gets them; any other donor gets the English ones.
    async fn translations(&self) -> Vec<Translation> {
        translations::listed(self.0.translations.as_ref())
    }

    /// How each donor's personal ask is computed.
    async fn ask_rule(&self) -> Result<Option<AskAmountRule>> {
        let Some(value) = &self.0.ask_rule else {
            return Ok(None);
        };
        let rule = AskRule::from_json(value).gql()?;
        Ok(Some(AskAmountRule {
            step: MoneyAmount::from_columns(rule.step_minor, &self.0.currency),
            minimum: MoneyAmount::from_columns(rule.minimum_minor, &self.0.currency),
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
        let results = campaigns::appeal_results(db(ctx)?, &self.0).await.gql()?;
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

#[derive(Default)]
pub struct AppealQuery;

#[Object]
impl AppealQuery {
    /// One appeal; `NOT_FOUND` when there is none with this id. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn appeal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The appeal's id.")] id: ID,
    ) -> Result<Appeal> {
        let id = parse_id("id", &id)?;
        campaigns::find_appeal(db(ctx)?, id)
            .await
            .and_then(|found| found.ok_or_else(|| DomainError::not_found("appeal", id)))
            .gql()
            .map(Appeal)
    }
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
    pub ask_rule: Option<AskRuleInput>,
    /// What it costs to make and send, in the campaign's currency.
    pub cost: Option<MoneyInput>,
    /// When it is to be sent.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Its subject and message in Spanish, French or Arabic.
    pub translations: Option<Vec<TranslationInput>>,
}

/// Changes to an appeal. Leave a field out to keep it; null clears it.
#[derive(InputObject, Default)]
pub struct UpdateAppealInput {
    /// The appeal's id.
    pub id: ID,
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
    pub ask_rule: MaybeUndefined<AskRuleInput>,
    /// What it costs to make and send.
    pub cost: MaybeUndefined<MoneyInput>,
    /// When it is to be sent.
    pub scheduled_at: MaybeUndefined<DateTime<Utc>>,
    /// Subjects and messages to set or remove in Spanish, French or Arabic; the others
    /// stay.
    pub translations: Option<Vec<TranslationInput>>,
}

#[derive(Default)]
pub struct AppealMutation;

#[Object]
impl AppealMutation {
    /// Adds an appeal to a campaign. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn create_appeal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The appeal.")] input: CreateAppealInput,
    ) -> Result<Appeal> {
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
            ask_rule: input.ask_rule.map(|r| r.parse(ctx)).transpose()?,
            cost_minor: input
                .cost
                .map(|c| c.parse(ctx, "cost").map(|m| m.amount_minor()))
                .transpose()?,
            scheduled_at: input.scheduled_at,
            translations: translations::changes(input.translations),
        };
        campaigns::create_appeal(db(ctx)?, &actor(ctx)?, details)
            .await
            .gql()
            .map(Appeal)
    }

    /// Changes an appeal. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn update_appeal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The appeal and the fields to change.")] input: UpdateAppealInput,
    ) -> Result<Appeal> {
        let id = parse_id("id", &input.id)?;
        let changes = AppealChanges {
            name: input.name,
            channel: input.channel.map(Into::into),
            source_code: input.source_code,
            segment_id: change_try(input.segment_id, |s| parse_id("segmentId", &s))?,
            subject: change(input.subject),
            message: change(input.message),
            ask_rule: change_try(input.ask_rule, |r| r.parse(ctx))?,
            cost_minor: change_try(input.cost, |c| {
                c.parse(ctx, "cost").map(|m| m.amount_minor())
            })?,
            scheduled_at: change(input.scheduled_at),
            translations: translations::changes(input.translations),
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
    async fn language(&self) -> super::super::donors::Language {
        self.0.language.into()
    }

    /// The language the subject and message are written in: the donor's when the
    /// appeal has both in it, otherwise English.
    async fn content_language(&self) -> super::super::donors::Language {
        self.0.content_language.into()
    }

    /// True when the appeal has no subject and message in the donor's language, so the
    /// donor would get the English ones inside an email otherwise in their language.
    async fn fell_back(&self) -> bool {
        self.0.content_language != self.0.language
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

/// Why a donor would not receive an email appeal.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::appeal_sends::NotReceiving")]
pub enum AppealExclusionReason {
    /// No email address on file.
    NoEmailAddress,
    /// The donor has not agreed to email.
    NoEmailConsent,
    /// The donor unsubscribed from appeals.
    UnsubscribedFromAppeals,
    /// Email to the donor's address is suppressed after a bounce or complaint.
    EmailSuppressed,
    /// The donor is not in the appeal's segment.
    OutsideSegment,
}

/// A donor an email appeal would not reach, and why (the first reason that applies, in
/// the order of `AppealExclusionReason`).
#[derive(SimpleObject)]
pub struct AppealNotReceived {
    /// The donor's id.
    pub donor_id: ID,
    /// Why, for code.
    pub reason: AppealExclusionReason,
    /// Why, for people.
    pub message: String,
}

/// One donor's email appeal as it would be sent, or why the donor would not receive it.
#[derive(Union)]
pub enum AppealPreviewResult {
    /// The donor would receive this message.
    Email(AppealPreview),
    /// The donor would not receive the appeal.
    NotReceived(AppealNotReceived),
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
    /// donor in its segment with a postal address. Role: staff.
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
    /// allowed it). Role: staff.
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

    /// One donor's email appeal as it would be sent (`AppealPreview`), or why the donor
    /// would not receive it (`AppealNotReceived`: no address, no consent, unsubscribed,
    /// suppressed, or outside the segment). `NOT_FOUND` when the appeal or donor does not
    /// exist. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn appeal_preview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The appeal's id.")] id: ID,
        #[graphql(desc = "The donor's id.")] donor_id: ID,
    ) -> Result<AppealPreviewResult> {
        let id = parse_id("id", &id)?;
        let donor = parse_id("donorId", &donor_id)?;
        let config = config(ctx)?;
        let preview = appeal_sends::preview_for_donor(
            db(ctx)?,
            &config.org,
            link_settings(config)?,
            id,
            donor,
        )
        .await
        .gql()?;
        Ok(match preview {
            Ok(personal) => {
                let currency = campaigns::find_appeal(db(ctx)?, id)
                    .await
                    .gql()?
                    .map(|a| a.currency)
                    .unwrap_or_default();
                AppealPreviewResult::Email(AppealPreview(personal, currency))
            }
            Err(reason) => AppealPreviewResult::NotReceived(AppealNotReceived {
                donor_id,
                reason: reason.into(),
                message: reason.message().to_owned(),
            }),
        })
    }
}

/// The email appeal to queue, and when.
#[derive(InputObject)]
pub struct SendAppealInput {
    /// The appeal's id.
    pub id: ID,
    /// Send no earlier than this (a scheduled appeal).
    pub not_before: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct AppealSendMutation;

#[Object]
impl AppealSendMutation {
    /// Queues an email appeal for every donor it reaches now; with a future `notBefore`,
    /// schedules it instead (`scheduledAt`), and the server queues it when that time
    /// comes, for the donors it reaches then (`queued` is 0 until then). Sending again
    /// queues only donors not queued before; the mailer sends at its own pace. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn send_appeal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The email appeal to queue, and when.")] input: SendAppealInput,
    ) -> Result<SendAppealPayload> {
        let SendAppealInput { id, not_before } = input;
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
