//! Campaigns and the appeals within them. A campaign's progress is computed from the
//! gifts attributed to it (through an appeal's link or reply code, or directly), net of
//! refunds; nothing is stored that could drift from the gifts themselves.

use chrono::{NaiveDate, Utc};
use entity::enums::AppealChannel;
use entity::{Money, TranslatedField, appeal, campaign, fund, gift, segment};
use sea_orm::sea_query::{Alias, Expr, Func, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::keyset::{CountedPage, KeyKind, Ordering, PageRequest};
use super::merge_fields::check_merge_fields;
use super::translations::{self, APPEAL_FIELDS, TranslationChange};
use super::{Actor, DomainError, audit};
use super::{gifts, text};
use crate::db::begin_write;

/// A campaign as staff describe it.
#[derive(Debug, Clone)]
pub struct CampaignDetails {
    pub name: String,
    pub description: Option<String>,
    pub goal: Money,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub default_fund_id: i64,
}

/// Changes to a campaign; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct CampaignChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub goal: Option<Money>,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<Option<NaiveDate>>,
    pub default_fund_id: Option<i64>,
}

/// Money raised and who gave it, for a campaign or an appeal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GivingTotals {
    /// Net of refunds, in minor units.
    pub raised_minor: i64,
    pub gifts: i64,
    pub donors: i64,
}

impl GivingTotals {
    /// The `raised`, `gifts` and `donors` of a row read through [`giving_totals_query`].
    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(GivingTotals {
            raised_minor: row.try_get("", "raised")?,
            gifts: row.try_get("", "gifts")?,
            donors: row.try_get("", "donors")?,
        })
    }

    /// Whole percent of `goal_minor` reached, rounded down.
    pub fn percent_of(&self, goal_minor: i64) -> i64 {
        if goal_minor <= 0 {
            return 0;
        }
        self.raised_minor.saturating_mul(100) / goal_minor
    }
}

fn check_dates(starts_on: NaiveDate, ends_on: Option<NaiveDate>) -> Result<(), DomainError> {
    match ends_on {
        Some(end) if end < starts_on => Err(DomainError::validation(
            "endsOn",
            "must not be before the start",
        )),
        _ => Ok(()),
    }
}

async fn ensure_open_fund(db: &impl ConnectionTrait, fund_id: i64) -> Result<(), DomainError> {
    match fund::Entity::find_by_id(fund_id).one(db).await? {
        Some(found) if found.archived_at.is_none() => Ok(()),
        Some(_) => Err(DomainError::validation(
            "defaultFundId",
            "the fund is archived",
        )),
        None => Err(DomainError::validation("defaultFundId", "no such fund")),
    }
}

async fn ensure_campaign_name_free(
    db: &impl ConnectionTrait,
    name: &str,
    except: Option<i64>,
) -> Result<(), DomainError> {
    let mut query = campaign::Entity::find().filter(campaign::Column::Name.eq(name));
    if let Some(id) = except {
        query = query.filter(campaign::Column::Id.ne(id));
    }
    if query.one(db).await?.is_some() {
        return Err(DomainError::conflict(
            Some("name"),
            "a campaign with this name already exists",
        ));
    }
    Ok(())
}

fn campaign_snapshot(c: &campaign::Model) -> Value {
    json!({
        "name": c.name,
        "description": c.description,
        "goalMinor": c.goal_minor,
        "currency": c.currency,
        "startsOn": c.starts_on,
        "endsOn": c.ends_on,
        "defaultFundId": c.default_fund_id,
    })
}

pub async fn create_campaign(
    db: &DatabaseConnection,
    actor: &Actor,
    details: CampaignDetails,
) -> Result<campaign::Model, DomainError> {
    let name = text::required_text("name", &details.name, 200)?;
    check_dates(details.starts_on, details.ends_on)?;
    let txn = begin_write(db).await?;
    ensure_campaign_name_free(&txn, &name, None).await?;
    ensure_open_fund(&txn, details.default_fund_id).await?;
    let now = Utc::now();
    let created = campaign::ActiveModel {
        name: Set(name),
        description: Set(details.description.and_then(text::non_blank)),
        goal_minor: Set(details.goal.amount_minor()),
        currency: Set(details.goal.currency().code().to_owned()),
        starts_on: Set(details.starts_on),
        ends_on: Set(details.ends_on),
        default_fund_id: Set(details.default_fund_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record_and_commit(
        txn,
        actor,
        "createCampaign",
        "campaign",
        Some(created.id.to_string()),
        campaign_snapshot(&created),
    )
    .await?;
    Ok(created)
}

pub async fn update_campaign(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    changes: CampaignChanges,
) -> Result<campaign::Model, DomainError> {
    let name = changes
        .name
        .as_deref()
        .map(|n| text::required_text("name", n, 200))
        .transpose()?;
    let txn = begin_write(db).await?;
    let before = campaign::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::not_found("campaign", id))?;
    let starts_on = changes.starts_on.unwrap_or(before.starts_on);
    let ends_on = changes.ends_on.unwrap_or(before.ends_on);
    check_dates(starts_on, ends_on)?;
    if let Some(name) = &name {
        ensure_campaign_name_free(&txn, name, Some(id)).await?;
    }
    if let Some(fund_id) = changes.default_fund_id {
        ensure_open_fund(&txn, fund_id).await?;
    }
    let mut active: campaign::ActiveModel = before.clone().into();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(description) = changes.description {
        active.description = Set(description.and_then(text::non_blank));
    }
    if let Some(goal) = changes.goal {
        active.goal_minor = Set(goal.amount_minor());
        active.currency = Set(goal.currency().code().to_owned());
    }
    active.starts_on = Set(starts_on);
    active.ends_on = Set(ends_on);
    if let Some(fund_id) = changes.default_fund_id {
        active.default_fund_id = Set(fund_id);
    }
    active.updated_at = Set(Utc::now());
    let after = active.update(&txn).await?;
    audit::record_and_commit(
        txn,
        actor,
        "updateCampaign",
        "campaign",
        Some(id.to_string()),
        audit::changed_fields(&campaign_snapshot(&before), &campaign_snapshot(&after)),
    )
    .await?;
    Ok(after)
}

pub async fn find_campaign(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<campaign::Model>, DomainError> {
    Ok(campaign::Entity::find_by_id(id).one(db).await?)
}

/// How many campaigns there are.
/// Campaigns are listed the most recently started first, ties by id.
pub fn newest_campaigns() -> Ordering<campaign::Column> {
    use campaign::Column::{Id, StartsOn};
    Ordering::by("campaigns-newest", StartsOn, KeyKind::Date, Id, true)
}

/// One page of campaigns in [`newest_campaigns`], and how many there are.
pub async fn page_campaigns(
    db: &impl ConnectionTrait,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<CountedPage<campaign::Model>, DomainError> {
    newest_campaigns()
        .page_counted(db, campaign::Entity::find(), request, size_when_unsaid)
        .await
}

/// What gifts to a campaign (or, with `appeal_id`, to one of its appeals) have raised.
pub async fn giving_totals(
    db: &impl ConnectionTrait,
    campaign_id: Option<i64>,
    appeal_id: Option<i64>,
) -> Result<GivingTotals, DomainError> {
    let row = db
        .query_one(&giving_totals_query(campaign_id, appeal_id))
        .await?;
    Ok(match row {
        Some(row) => GivingTotals::read(&row)?,
        None => GivingTotals::default(),
    })
}

/// The one row of `raised`, `gifts` and `donors` that [`giving_totals`] reads: the
/// counted gifts (net of refunds) to a campaign, or to one of its appeals.
fn giving_totals_query(campaign_id: Option<i64>, appeal_id: Option<i64>) -> SelectStatement {
    let mut query = gift::Entity::find()
        .select_only()
        .column_as(gifts::net_total(), "raised")
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "gifts")
        .column_as(
            Expr::cust("CAST(COUNT(DISTINCT donor_id) AS BIGINT)"),
            "donors",
        )
        .filter(gifts::counted());
    if let Some(id) = campaign_id {
        query = query.filter(gift::Column::CampaignId.eq(id));
    }
    if let Some(id) = appeal_id {
        query = query.filter(gift::Column::AppealId.eq(id));
    }
    query.into_query()
}

/// How each donor's personal ask is computed: the last gift rounded up to `step_minor`
/// (at least `minimum_minor`); and for donors not yet in the Circle, when
/// `invite_to_circle` is set, the monthly amount that would bring them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AskRule {
    pub step_minor: i64,
    pub minimum_minor: i64,
    #[serde(default)]
    pub invite_to_circle: bool,
}

impl AskRule {
    /// Checks a rule typed by staff.
    pub fn new(
        step_minor: i64,
        minimum_minor: i64,
        invite_to_circle: bool,
    ) -> Result<Self, DomainError> {
        if step_minor <= 0 {
            return Err(DomainError::validation(
                "askRule.step",
                "must be more than zero",
            ));
        }
        if minimum_minor <= 0 {
            return Err(DomainError::validation(
                "askRule.minimum",
                "must be more than zero",
            ));
        }
        Ok(AskRule {
            step_minor,
            minimum_minor,
            invite_to_circle,
        })
    }

    /// Reads a stored rule.
    pub fn from_json(value: &Value) -> Result<Self, DomainError> {
        serde_json::from_value(value.clone())
            .map_err(|error| DomainError::Unexpected(anyhow::anyhow!("stored ask rule: {error}")))
    }

    /// The one-time ask for a donor whose last gift was `last_gift_minor`: rounded up to
    /// the next step (a gift already on a step is asked for one step more), never below
    /// the minimum.
    pub fn one_time_ask(&self, last_gift_minor: Option<i64>) -> i64 {
        let Some(last) = last_gift_minor.filter(|l| *l > 0) else {
            return self.minimum_minor;
        };
        let stepped = (last / self.step_minor + 1).saturating_mul(self.step_minor);
        stepped.max(self.minimum_minor)
    }
}

/// An appeal as staff describe it.
#[derive(Debug, Clone)]
pub struct AppealDetails {
    pub campaign_id: i64,
    pub name: String,
    pub channel: AppealChannel,
    pub source_code: String,
    pub segment_id: Option<i64>,
    pub subject: Option<String>,
    pub message: Option<String>,
    pub ask_rule: Option<AskRule>,
    pub cost_minor: Option<i64>,
    pub scheduled_at: Option<chrono::DateTime<Utc>>,
    /// Its subject and message in other languages.
    pub translations: Vec<TranslationChange>,
}

/// Changes to an appeal; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct AppealChanges {
    pub name: Option<String>,
    pub channel: Option<AppealChannel>,
    pub source_code: Option<String>,
    pub segment_id: Option<Option<i64>>,
    pub subject: Option<Option<String>>,
    pub message: Option<Option<String>>,
    pub ask_rule: Option<Option<AskRule>>,
    pub cost_minor: Option<Option<i64>>,
    pub scheduled_at: Option<Option<chrono::DateTime<Utc>>>,
    /// Texts to set or remove in other languages; the others stay.
    pub translations: Vec<TranslationChange>,
}

/// Source codes are printed on reply envelopes and typed back in: letters, digits and
/// dashes, kept in upper case.
pub fn clean_source_code(code: &str) -> Result<String, DomainError> {
    let code = code.trim().to_uppercase();
    if code.is_empty() {
        return Err(DomainError::validation("sourceCode", "must not be empty"));
    }
    if code.len() > 64 {
        return Err(DomainError::validation(
            "sourceCode",
            "must be at most 64 characters",
        ));
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(DomainError::validation(
            "sourceCode",
            "may hold only letters, digits, dashes and underscores",
        ));
    }
    Ok(code)
}

fn check_cost(cost: Option<i64>) -> Result<(), DomainError> {
    match cost {
        Some(c) if c < 0 => Err(DomainError::validation("costMinor", "cannot be negative")),
        _ => Ok(()),
    }
}

async fn ensure_source_code_free(
    db: &impl ConnectionTrait,
    code: &str,
    except: Option<i64>,
) -> Result<(), DomainError> {
    let mut query = appeal::Entity::find().filter(appeal::Column::SourceCode.eq(code));
    if let Some(id) = except {
        query = query.filter(appeal::Column::Id.ne(id));
    }
    if query.one(db).await?.is_some() {
        return Err(DomainError::conflict(
            Some("sourceCode"),
            "an appeal with this source code already exists",
        ));
    }
    Ok(())
}

async fn ensure_segment(db: &impl ConnectionTrait, id: Option<i64>) -> Result<(), DomainError> {
    if let Some(id) = id
        && segment::Entity::find_by_id(id).one(db).await?.is_none()
    {
        return Err(DomainError::validation("segmentId", "no such segment"));
    }
    Ok(())
}

fn appeal_snapshot(a: &appeal::Model) -> Value {
    json!({
        "campaignId": a.campaign_id,
        "name": a.name,
        "channel": a.channel,
        "sourceCode": a.source_code,
        "segmentId": a.segment_id,
        "subject": a.subject,
        "message": a.message,
        "translations": a.translations,
        "askRule": a.ask_rule,
        "costMinor": a.cost_minor,
        "scheduledAt": a.scheduled_at,
    })
}

fn ask_rule_json(rule: Option<AskRule>) -> Result<Option<Value>, DomainError> {
    rule.map(|r| serde_json::to_value(r).map_err(|e| DomainError::Unexpected(e.into())))
        .transpose()
}

/// The merge fields of an appeal's subject and message in other languages are checked
/// like the English ones.
fn check_translated_merge_fields(changes: &[TranslationChange]) -> Result<(), DomainError> {
    changes
        .iter()
        .filter(|change| {
            matches!(
                change.field,
                TranslatedField::Subject | TranslatedField::Message
            )
        })
        .try_for_each(|change| check_merge_fields("translations", change.text.as_deref()))
}

pub async fn create_appeal(
    db: &DatabaseConnection,
    actor: &Actor,
    details: AppealDetails,
) -> Result<appeal::Model, DomainError> {
    let name = text::required_text("name", &details.name, 200)?;
    let code = clean_source_code(&details.source_code)?;
    check_cost(details.cost_minor)?;
    check_merge_fields("subject", details.subject.as_deref())?;
    check_merge_fields("message", details.message.as_deref())?;
    check_translated_merge_fields(&details.translations)?;
    let appeal_translations = translations::apply(None, details.translations, APPEAL_FIELDS)?;
    let txn = begin_write(db).await?;
    let parent = campaign::Entity::find_by_id(details.campaign_id)
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::validation("campaignId", "no such campaign"))?;
    ensure_source_code_free(&txn, &code, None).await?;
    ensure_segment(&txn, details.segment_id).await?;
    let now = Utc::now();
    let created = appeal::ActiveModel {
        campaign_id: Set(parent.id),
        name: Set(name),
        channel: Set(details.channel),
        source_code: Set(code),
        segment_id: Set(details.segment_id),
        subject: Set(details.subject.and_then(text::non_blank)),
        message: Set(details.message.and_then(text::non_blank)),
        translations: Set(appeal_translations),
        ask_rule: Set(ask_rule_json(details.ask_rule)?),
        cost_minor: Set(details.cost_minor),
        currency: Set(parent.currency.clone()),
        scheduled_at: Set(details.scheduled_at),
        sent_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record_and_commit(
        txn,
        actor,
        "createAppeal",
        "appeal",
        Some(created.id.to_string()),
        appeal_snapshot(&created),
    )
    .await?;
    Ok(created)
}

pub async fn update_appeal(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    changes: AppealChanges,
) -> Result<appeal::Model, DomainError> {
    let name = changes
        .name
        .as_deref()
        .map(|n| text::required_text("name", n, 200))
        .transpose()?;
    let code = changes
        .source_code
        .as_deref()
        .map(clean_source_code)
        .transpose()?;
    if let Some(cost) = changes.cost_minor {
        check_cost(cost)?;
    }
    if let Some(subject) = &changes.subject {
        check_merge_fields("subject", subject.as_deref())?;
    }
    if let Some(message) = &changes.message {
        check_merge_fields("message", message.as_deref())?;
    }
    let txn = begin_write(db).await?;
    let before = appeal::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::not_found("appeal", id))?;
    if let Some(code) = &code {
        ensure_source_code_free(&txn, code, Some(id)).await?;
    }
    if let Some(segment_id) = changes.segment_id {
        ensure_segment(&txn, segment_id).await?;
    }
    let mut active: appeal::ActiveModel = before.clone().into();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(channel) = changes.channel {
        active.channel = Set(channel);
    }
    if let Some(code) = code {
        active.source_code = Set(code);
    }
    if let Some(segment_id) = changes.segment_id {
        active.segment_id = Set(segment_id);
    }
    if let Some(subject) = changes.subject {
        active.subject = Set(subject.and_then(text::non_blank));
    }
    if let Some(message) = changes.message {
        active.message = Set(message.and_then(text::non_blank));
    }
    if !changes.translations.is_empty() {
        check_translated_merge_fields(&changes.translations)?;
        active.translations = Set(translations::apply(
            before.translations.clone(),
            changes.translations,
            APPEAL_FIELDS,
        )?);
    }
    if let Some(rule) = changes.ask_rule {
        active.ask_rule = Set(ask_rule_json(rule)?);
    }
    if let Some(cost) = changes.cost_minor {
        active.cost_minor = Set(cost);
    }
    if let Some(at) = changes.scheduled_at {
        active.scheduled_at = Set(at);
    }
    active.updated_at = Set(Utc::now());
    let after = active.update(&txn).await?;
    audit::record_and_commit(
        txn,
        actor,
        "updateAppeal",
        "appeal",
        Some(id.to_string()),
        audit::changed_fields(&appeal_snapshot(&before), &appeal_snapshot(&after)),
    )
    .await?;
    Ok(after)
}

pub async fn find_appeal(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<appeal::Model>, DomainError> {
    Ok(appeal::Entity::find_by_id(id).one(db).await?)
}

/// A campaign's appeals, in the order they were made.
pub async fn campaign_appeals(
    db: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<appeal::Model>, DomainError> {
    Ok(appeal::Entity::find()
        .filter(appeal::Column::CampaignId.eq(campaign_id))
        .order_by_asc(appeal::Column::Id)
        .all(db)
        .await?)
}

/// How an appeal did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AppealResults {
    /// Donors it was sent to (email appeals: messages queued).
    pub recipients: i64,
    pub totals: GivingTotals,
    /// Pledges started from it.
    pub pledges: i64,
    /// Donors with a pledge from it who are now in a giving-club tier.
    pub new_club_members: i64,
    /// Of those, the ones in the Circle.
    pub new_circle_members: i64,
    pub cost_minor: Option<i64>,
}

/// `part` as a percentage of `whole`, to one decimal place as people read it (66.7);
/// `None` when `whole` is zero.
pub fn rounded_percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

impl AppealResults {
    /// Donors who gave, as a percentage of recipients, to one decimal place.
    pub fn response_rate(&self) -> Option<f64> {
        rounded_percent(self.totals.donors, self.recipients)
    }

    /// Raised divided by gifts, rounded down to the minor unit.
    pub fn average_gift_minor(&self) -> Option<i64> {
        (self.totals.gifts > 0).then(|| self.totals.raised_minor / self.totals.gifts)
    }

    /// What each dollar raised cost, to the cent (0.25 is 25 cents per dollar).
    pub fn cost_per_dollar_raised(&self) -> Option<f64> {
        match self.cost_minor {
            Some(cost) if self.totals.raised_minor > 0 => {
                Some((cost as f64 * 100.0 / self.totals.raised_minor as f64).round() / 100.0)
            }
            _ => None,
        }
    }
}

/// Recipients, gifts, donors, money raised, pledges and club members `appeal` brought
/// in: once the tiers say which are the Circle, one statement reads its giving totals
/// (counted as [`giving_totals`] counts them), the messages queued for it, the pledges
/// started from it, and the donors with such a pledge who are in the club now, and in
/// the Circle.
pub async fn appeal_results(
    db: &impl ConnectionTrait,
    appeal: &appeal::Model,
) -> Result<AppealResults, DomainError> {
    let circle = super::tiers::circle(db).await?;
    let (t, m) = (Alias::new("t"), Alias::new("m"));
    let recipients = Query::select()
        .expr(Expr::cust("CAST(COUNT(*) AS BIGINT)"))
        .from(entity::outbox::Entity)
        .and_where(
            entity::outbox::Column::IdempotencyKey.starts_with(format!("appeal:{}:", appeal.id)),
        )
        .to_owned();
    let pledges = Query::select()
        .expr(Expr::cust("CAST(COUNT(*) AS BIGINT)"))
        .from(entity::pledge::Entity)
        .and_where(entity::pledge::Column::AppealId.eq(appeal.id))
        .to_owned();
    let query = Query::select()
        .column((t.clone(), Alias::new("raised")))
        .column((t.clone(), Alias::new("gifts")))
        .column((t.clone(), Alias::new("donors")))
        .expr_as(recipients, "recipients")
        .expr_as(pledges, "pledges")
        .column((m.clone(), Alias::new("club")))
        .column((m.clone(), Alias::new("circle")))
        .from_subquery(giving_totals_query(None, Some(appeal.id)), t)
        .from_subquery(members_who_pledged(appeal.id, circle.as_ref()), m)
        .to_owned();
    let row = db
        .query_one(&query)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the results of an appeal".into()))?;
    Ok(AppealResults {
        recipients: row.try_get("", "recipients")?,
        totals: GivingTotals::read(&row)?,
        pledges: row.try_get("", "pledges")?,
        new_club_members: row.try_get("", "club")?,
        new_circle_members: row.try_get("", "circle")?,
        cost_minor: appeal.cost_minor,
    })
}

/// The one row of `club` and `circle`: how many current club members, and how many of
/// them in the Circle, pledged from the appeal, reading its pledges once.
fn members_who_pledged(appeal_id: i64, circle: Option<&super::tiers::Circle>) -> SelectStatement {
    use entity::tier_membership::Column as Membership;
    // No tier ids is no member in the Circle: sea-query writes an empty `IN` as false.
    let in_circle = match circle {
        Some(circle) => Membership::TierId.is_in(circle.member_tier_ids.iter().copied()),
        None => Expr::cust("1 = 0"),
    };
    let in_circle_count = Expr::from(Func::cast_as(
        Func::coalesce([
            Func::sum(Expr::case(in_circle, Expr::cust("1")).finally(Expr::cust("0"))).into(),
            Expr::cust("0"),
        ]),
        "BIGINT",
    ));
    entity::tier_membership::Entity::find()
        .select_only()
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "club")
        .column_as(in_circle_count, "circle")
        .filter(Membership::LeftAt.is_null())
        .filter(
            Membership::DonorId.in_subquery(
                Query::select()
                    .column(entity::pledge::Column::DonorId)
                    .from(entity::pledge::Entity)
                    .and_where(entity::pledge::Column::AppealId.eq(appeal_id))
                    .to_owned(),
            ),
        )
        .into_query()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::testing::{each_backend, plan, planning_with_indexes};

    /// A campaign's or an appeal's totals are read from an index alone, without each
    /// gift's row (`ix_gifts_campaign_totals`, `ix_gifts_appeal_totals`). PostgreSQL is
    /// told to use no sequential or bitmap scan, so that the plan shows what the indexes
    /// allow whatever the test's few rows would make cheapest.
    #[tokio::test]
    // A failed step should stop the test where it happened.
    #[allow(clippy::expect_used)]
    async fn a_campaign_s_and_an_appeal_s_totals_are_read_from_an_index_alone() {
        for test in each_backend().await {
            let txn = planning_with_indexes(&test.db).await;
            let backend = txn.get_database_backend();
            for (query, index) in [
                (
                    giving_totals_query(Some(1), None),
                    "ix_gifts_campaign_totals",
                ),
                (giving_totals_query(None, Some(1)), "ix_gifts_appeal_totals"),
            ] {
                let plan = plan(&txn, backend.build(&query)).await;
                let index_alone = match backend {
                    sea_orm::DbBackend::Postgres => format!("Index Only Scan using {index}"),
                    _ => format!("COVERING INDEX {index}"),
                };
                assert!(plan.contains(&index_alone), "{backend:?}: {plan}");
            }
            txn.rollback().await.expect("the transaction ends");
            test.close().await;
        }
    }

    /// On PostgreSQL the index-only reads above skip the table only on pages a vacuum
    /// has marked all-visible: `gifts` is visited after inserts of a hundredth of its
    /// size, so the gifts of the campaign under way do not wait for a fifth.
    #[tokio::test]
    // A failed step should stop the test where it happened.
    #[allow(clippy::expect_used)]
    async fn gifts_recorded_since_the_last_vacuum_are_vacuumed_after_a_hundredth_of_the_table() {
        for test in each_backend().await {
            if test.db.get_database_backend() == sea_orm::DbBackend::Postgres {
                let row = test
                    .db
                    .query_one_raw(sea_orm::Statement::from_string(
                        sea_orm::DbBackend::Postgres,
                        "SELECT array_to_string(reloptions, ',') AS options FROM pg_class \
                         WHERE oid = 'gifts'::regclass",
                    ))
                    .await
                    .expect("the table's options read")
                    .expect("a row");
                let options: Option<String> = row.try_get("", "options").expect("text");
                assert_eq!(
                    options.as_deref(),
                    Some("autovacuum_vacuum_insert_scale_factor=0.01")
                );
            }
            test.close().await;
        }
    }

    #[test]
    fn a_last_gift_is_rounded_up_to_the_next_step_with_a_minimum() {
        let rule = AskRule {
            step_minor: 2_500,
            minimum_minor: 5_000,
            invite_to_circle: false,
        };
        assert_eq!(rule.one_time_ask(Some(4_000)), 5_000);
        assert_eq!(rule.one_time_ask(Some(6_000)), 7_500);
        assert_eq!(rule.one_time_ask(Some(7_500)), 10_000);
        assert_eq!(rule.one_time_ask(None), 5_000);
        assert_eq!(rule.one_time_ask(Some(1_000)), 5_000);
    }

    #[test]
    fn an_ask_rule_refuses_a_zero_step() {
        assert!(AskRule::new(0, 5_000, false).is_err());
        assert!(AskRule::new(100, 0, false).is_err());
    }

    #[test]
    fn percent_of_goal_rounds_down() {
        let totals = GivingTotals {
            raised_minor: 33_333,
            gifts: 3,
            donors: 2,
        };
        assert_eq!(totals.percent_of(100_000), 33);
        assert_eq!(totals.percent_of(0), 0);
    }
}
