//! Email appeals: who receives one, what each donor's message says, and queueing one
//! outbox message per donor (`appeal:{appeal}:{donor}`, so sending twice sends nothing
//! new). Only donors who consented to email, have an address, have not unsubscribed
//! from appeals and whose address does not bounce receive one.

use chrono::{DateTime, Utc};
use entity::enums::{AppealChannel, Language, OutboxStatus};
use entity::{
    Currency, DEFAULT_LANGUAGE, TranslatedField, appeal, donor, format_minor, gift, outbox,
    tier_membership,
};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, OnConflict, Order, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use url::Url;

use super::campaigns::AskRule;
use super::csv_export::CsvFile;
use super::merge_fields::{self, MergeField};
use super::segments::{self, SegmentRule};
use super::tiers::{self, Circle};
use super::{Actor, DomainError, appeal_breakdown, audit, gifts};
use crate::config::Organization;
use crate::db::begin_write;

/// The outbox template appeals are rendered with.
pub const APPEAL_KIND: &str = "appeal";

/// Rows per INSERT: well under SQLite's limit on bound parameters.
const BATCH: usize = 500;

/// The ask when an appeal names no rule: the last gift rounded up to $25, at least $50.
const DEFAULT_ASK: AskRule = AskRule {
    step_minor: 2_500,
    minimum_minor: 5_000,
    invite_to_circle: false,
};

/// Where donors' links point, the key that signs them, and how long a personal donate
/// link opens the donor's page (`DONATE_LINK_DAYS`).
#[derive(Debug, Clone, Copy)]
pub struct LinkSettings<'a> {
    pub public_url: &'a Url,
    pub key: &'a str,
    pub donate_link_valid_for: chrono::Duration,
}

/// One donor's appeal, merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalAppeal {
    pub donor_id: i64,
    pub to_address: String,
    pub to_name: String,
    pub language: Language,
    /// The language the subject and message are written in: the donor's when the
    /// appeal has both in it, otherwise the default language's.
    pub content_language: Language,
    pub subject: String,
    pub body: String,
    pub ask_minor: i64,
    pub last_gift_minor: Option<i64>,
    pub donate_url: String,
    /// The monthly amount that brings the donor into the Circle, and the Circle's
    /// name, when the appeal invites them.
    pub club_monthly_ask_minor: Option<i64>,
    pub circle_name: Option<String>,
    pub unsubscribe_url: String,
}

/// id, first name, display name, email, language, link version, last gift, in the
/// Circle (0 or 1).
type RecipientRow = (
    i64,
    Option<String>,
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
    i32,
);

struct Recipient {
    id: i64,
    first_name: Option<String>,
    display_name: String,
    email: String,
    language: Language,
    link_version: i64,
    last_gift_minor: Option<i64>,
    in_circle: bool,
}

/// The amount of the donor's (a row of `donors`) last counted gift.
fn last_gift_minor() -> SimpleExpr {
    Query::select()
        .column((gift::Entity, gift::Column::AmountMinor))
        .from(gift::Entity)
        .and_where(
            Expr::col((gift::Entity, gift::Column::DonorId))
                .equals((donor::Entity, donor::Column::Id)),
        )
        .and_where(gifts::counted())
        .order_by((gift::Entity, gift::Column::ReceivedAt), Order::Desc)
        .order_by((gift::Entity, gift::Column::Id), Order::Desc)
        .limit(1)
        .to_owned()
        .into()
}

/// 1 when the donor (a row of `donors`) is in the Circle now, otherwise 0.
fn in_circle(circle: Option<&Circle>) -> SimpleExpr {
    let Some(circle) = circle else {
        return Expr::val(0i32);
    };
    let membership = Query::select()
        .expr(Expr::val(1))
        .from(tier_membership::Entity)
        .and_where(
            Expr::col((tier_membership::Entity, tier_membership::Column::DonorId))
                .equals((donor::Entity, donor::Column::Id)),
        )
        .and_where(tier_membership::Column::LeftAt.is_null())
        .and_where(tier_membership::Column::TierId.is_in(circle.member_tier_ids.iter().copied()))
        .to_owned();
    Expr::case(Expr::exists(membership), Expr::val(1i32))
        .finally(Expr::val(0i32))
        .into()
}

/// Why a donor would not receive an email appeal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReceiving {
    /// No email address on file.
    NoEmailAddress,
    /// Did not agree to email.
    NoEmailConsent,
    /// Unsubscribed from appeals.
    UnsubscribedFromAppeals,
    /// Their address bounced or complained, so email to it is suppressed.
    EmailSuppressed,
    /// Not in the appeal's segment.
    OutsideSegment,
}

impl NotReceiving {
    /// The reason, for staff.
    pub fn message(self) -> &'static str {
        match self {
            NotReceiving::NoEmailAddress => "the donor has no email address",
            NotReceiving::NoEmailConsent => "the donor has not agreed to email",
            NotReceiving::UnsubscribedFromAppeals => "the donor unsubscribed from appeals",
            NotReceiving::EmailSuppressed => {
                "email to the donor's address is suppressed after a bounce or complaint"
            }
            NotReceiving::OutsideSegment => "the donor is not in the appeal's segment",
        }
    }
}

/// What a donor needs to receive any appeal email, each with the reason given when they
/// do not, in the order staff are told.
fn email_conditions() -> [(NotReceiving, Condition); 4] {
    [
        (
            NotReceiving::NoEmailAddress,
            Condition::all().add(donor::Column::Email.is_not_null()),
        ),
        (
            NotReceiving::NoEmailConsent,
            Condition::all().add(donor::Column::EmailConsent.eq(true)),
        ),
        (
            NotReceiving::UnsubscribedFromAppeals,
            Condition::all().add(donor::Column::AppealsUnsubscribedAt.is_null()),
        ),
        (
            NotReceiving::EmailSuppressed,
            Condition::all().add(donor::Column::EmailSuppressedAt.is_null()),
        ),
    ]
}

/// The appeal's segment as a condition (everyone when it has none).
async fn segment_condition(
    db: &impl ConnectionTrait,
    org: &Organization,
    appeal: &appeal::Model,
) -> Result<Condition, DomainError> {
    let Some(segment_id) = appeal.segment_id else {
        return Ok(Condition::all());
    };
    let saved = entity::segment::Entity::find_by_id(segment_id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::validation("segmentId", "the segment no longer exists"))?;
    let rule: SegmentRule = segments::saved_rule(&saved)?;
    segments::condition(org, &rule)
}

/// Who an email appeal reaches: the segment (everyone when it has none), narrowed to
/// donors who may receive appeal email.
pub(crate) async fn email_audience(
    db: &impl ConnectionTrait,
    org: &Organization,
    appeal: &appeal::Model,
) -> Result<Condition, DomainError> {
    let audience = email_conditions()
        .into_iter()
        .fold(Condition::all(), |all, (_, condition)| all.add(condition));
    Ok(audience.add(segment_condition(db, org, appeal).await?))
}

/// The first reason a donor is outside an email appeal's audience.
async fn why_not_receiving(
    db: &impl ConnectionTrait,
    org: &Organization,
    appeal: &appeal::Model,
    donor_id: i64,
) -> Result<NotReceiving, DomainError> {
    let checks = email_conditions().into_iter().chain([(
        NotReceiving::OutsideSegment,
        segment_condition(db, org, appeal).await?,
    )]);
    for (reason, condition) in checks {
        let meets = donor::Entity::find()
            .filter(donor::Column::Id.eq(donor_id))
            .filter(condition)
            .count(db)
            .await?;
        if meets == 0 {
            return Ok(reason);
        }
    }
    Ok(NotReceiving::OutsideSegment)
}

/// Which of an appeal's recipients to read.
#[derive(Debug, Clone, Copy)]
enum Reading {
    /// Only this donor, if the appeal reaches them.
    Donor(i64),
    /// The next [`BATCH`] by id after this donor id.
    After(i64),
}

/// The audience's donors with an email address, as `reading` says, by id.
async fn recipients(
    db: &impl ConnectionTrait,
    audience: Condition,
    circle: Option<&Circle>,
    reading: Reading,
) -> Result<Vec<Recipient>, DomainError> {
    let mut query = donor::Entity::find()
        .select_only()
        .columns([
            donor::Column::Id,
            donor::Column::FirstName,
            donor::Column::DisplayName,
            donor::Column::Email,
            donor::Column::Language,
            donor::Column::LinkVersion,
        ])
        .column_as(last_gift_minor(), "last_gift_minor")
        .column_as(in_circle(circle), "in_circle")
        .filter(audience)
        .filter(donor::Column::Email.is_not_null())
        .order_by_asc(donor::Column::Id);
    query = match reading {
        Reading::Donor(id) => query.filter(donor::Column::Id.eq(id)),
        Reading::After(id) => query.filter(donor::Column::Id.gt(id)).limit(BATCH as u64),
    };
    let rows: Vec<RecipientRow> = query.into_tuple().all(db).await?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(id, first_name, display_name, email, language, link_version, last, circle)| {
                Some(Recipient {
                    id,
                    first_name,
                    display_name,
                    email: email?,
                    language: Language::parse(&language).unwrap_or(Language::English),
                    link_version,
                    last_gift_minor: last,
                    in_circle: circle != 0,
                })
            },
        )
        .collect())
}

fn money(minor: i64, currency: Currency) -> String {
    format_minor(minor, currency)
}

/// The appeal's subject and message for a reader of `language`, with the language they
/// are written in: both from the reader's language when staff wrote both in it,
/// otherwise both the appeal's own (never a subject in one language over a message in
/// another).
fn appeal_text(appeal: &appeal::Model, language: Language) -> (&str, &str, Language) {
    let translated = appeal.translations.as_ref().and_then(|t| {
        Some((
            t.get(language, TranslatedField::Subject)?,
            t.get(language, TranslatedField::Message)?,
        ))
    });
    match translated {
        Some((subject, message)) if language != DEFAULT_LANGUAGE => (subject, message, language),
        _ => (
            appeal.subject.as_deref().unwrap_or_default(),
            appeal.message.as_deref().unwrap_or_default(),
            DEFAULT_LANGUAGE,
        ),
    }
}

fn personalize(
    appeal: &appeal::Model,
    rule: AskRule,
    circle: Option<&Circle>,
    links: LinkSettings<'_>,
    recipient: Recipient,
) -> PersonalAppeal {
    let currency = Currency::parse(&appeal.currency).unwrap_or(Currency::Usd);
    let ask_minor = rule.one_time_ask(recipient.last_gift_minor);
    let token = mailer::links::appeal_donate_token(
        links.key,
        &mailer::links::DonateLink {
            source_code: &appeal.source_code,
            donor_id: recipient.id,
            ask_minor,
            version: recipient.link_version,
            expires: (Utc::now() + links.donate_link_valid_for).timestamp(),
        },
    );
    // Both links carry the donor's language, so the pages open in it.
    let donate_url = links
        .public_url
        .join(&format!("donate?appeal={}&t={token}", appeal.source_code))
        .map(|url| mailer::links::with_language(url.as_str(), recipient.language))
        .unwrap_or_default();
    let unsubscribe_url = links
        .public_url
        .join(&mailer::links::unsubscribe_path(
            links.key,
            recipient.id,
            recipient.link_version,
        ))
        .map(|url| mailer::links::with_language(url.as_str(), recipient.language))
        .unwrap_or_default();
    let invitation = circle.filter(|_| rule.invite_to_circle && !recipient.in_circle);
    let first_name = recipient
        .first_name
        .clone()
        .unwrap_or_else(|| recipient.display_name.clone());
    // Amounts are written the way the donor's language writes them ("60,00 $").
    let words = mailer::templates::words::Words::new(recipient.language);
    let last_gift = recipient
        .last_gift_minor
        .map(|m| words.amount(m, currency))
        .unwrap_or_default();
    let ask_amount = words.amount(ask_minor, currency);
    let merge = |text: &str| {
        merge_fields::merge(text, |field| {
            match field {
                MergeField::FirstName => &first_name,
                MergeField::LastGift => &last_gift,
                MergeField::AskAmount => &ask_amount,
                MergeField::DonateLink => &donate_url,
            }
            .clone()
        })
    };
    let (subject, message, content_language) = appeal_text(appeal, recipient.language);
    PersonalAppeal {
        donor_id: recipient.id,
        to_address: recipient.email,
        to_name: recipient.display_name,
        language: recipient.language,
        content_language,
        subject: merge(subject),
        body: merge(message),
        ask_minor,
        last_gift_minor: recipient.last_gift_minor,
        donate_url,
        club_monthly_ask_minor: invitation.map(Circle::monthly_minor),
        circle_name: invitation.map(|circle| {
            mailer::templates::tier_name(recipient.language, &circle.tier).to_owned()
        }),
        unsubscribe_url,
    }
}

async fn load_email_appeal(
    db: &impl ConnectionTrait,
    appeal_id: i64,
) -> Result<appeal::Model, DomainError> {
    let found = appeal::Entity::find_by_id(appeal_id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("appeal", appeal_id))?;
    if found.channel != AppealChannel::Email {
        return Err(DomainError::validation("id", "is not an email appeal"));
    }
    if found.subject.as_deref().is_none_or(str::is_empty) {
        return Err(DomainError::validation(
            "subject",
            "an email appeal needs a subject",
        ));
    }
    if found.message.as_deref().is_none_or(str::is_empty) {
        return Err(DomainError::validation(
            "message",
            "an email appeal needs a message",
        ));
    }
    Ok(found)
}

/// What every donor's copy of an appeal is made from.
struct Making {
    rule: AskRule,
    circle: Option<Circle>,
    audience: Condition,
}

impl Making {
    async fn of(
        db: &impl ConnectionTrait,
        org: &Organization,
        appeal: &appeal::Model,
    ) -> Result<Self, DomainError> {
        let rule = appeal
            .ask_rule
            .as_ref()
            .map(AskRule::from_json)
            .transpose()?
            .unwrap_or(DEFAULT_ASK);
        Ok(Making {
            rule,
            circle: tiers::circle(db).await?,
            audience: email_audience(db, org, appeal).await?,
        })
    }

    /// The personal copies for the recipients `reading` names.
    async fn personal(
        &self,
        db: &impl ConnectionTrait,
        links: LinkSettings<'_>,
        appeal: &appeal::Model,
        reading: Reading,
    ) -> Result<Vec<PersonalAppeal>, DomainError> {
        let found = recipients(db, self.audience.clone(), self.circle.as_ref(), reading).await?;
        Ok(found
            .into_iter()
            .map(|r| personalize(appeal, self.rule, self.circle.as_ref(), links, r))
            .collect())
    }

    /// How many donors the appeal reaches.
    async fn count(&self, db: &impl ConnectionTrait) -> Result<u64, DomainError> {
        Ok(donor::Entity::find()
            .filter(self.audience.clone())
            .filter(donor::Column::Email.is_not_null())
            .count(db)
            .await?)
    }
}

/// One donor's appeal as it would be sent, or why the donor would not get one.
pub async fn preview_for_donor(
    db: &impl ConnectionTrait,
    org: &Organization,
    links: LinkSettings<'_>,
    appeal_id: i64,
    donor_id: i64,
) -> Result<Result<PersonalAppeal, NotReceiving>, DomainError> {
    let appeal = load_email_appeal(db, appeal_id).await?;
    if donor::Entity::find_by_id(donor_id).one(db).await?.is_none() {
        return Err(DomainError::not_found("donor", donor_id));
    }
    let found = Making::of(db, org, &appeal)
        .await?
        .personal(db, links, &appeal, Reading::Donor(donor_id))
        .await?
        .into_iter()
        .next();
    match found {
        Some(personal) => Ok(Ok(personal)),
        None => Ok(Err(why_not_receiving(db, org, &appeal, donor_id).await?)),
    }
}

/// What sending an appeal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOutcome {
    /// Donors the appeal reaches now.
    pub recipients: u64,
    /// Messages newly queued (the rest were queued by an earlier send).
    pub queued: u64,
}

/// Sends the appeal now, or, when `not_before` is in the future, schedules it: the
/// appeal keeps `scheduled_at` and nothing is queued until [`send_due_appeals`] finds it
/// due, so donors who unsubscribe or join the segment meanwhile are counted then.
/// Sending again queues only donors who were not queued before.
pub async fn send_appeal(
    db: &DatabaseConnection,
    org: &Organization,
    links: LinkSettings<'_>,
    actor: &Actor,
    appeal_id: i64,
    not_before: Option<DateTime<Utc>>,
) -> Result<SendOutcome, DomainError> {
    let now = Utc::now();
    match not_before {
        Some(at) if at > now => schedule_appeal(db, org, actor, appeal_id, at).await,
        _ => queue_appeal(db, org, links, actor, appeal_id).await,
    }
}

async fn schedule_appeal(
    db: &DatabaseConnection,
    org: &Organization,
    actor: &Actor,
    appeal_id: i64,
    at: DateTime<Utc>,
) -> Result<SendOutcome, DomainError> {
    let txn = begin_write(db).await?;
    let appeal = load_email_appeal(&txn, appeal_id).await?;
    let recipients = Making::of(&txn, org, &appeal).await?.count(&txn).await?;
    let mut active: appeal::ActiveModel = appeal.clone().into();
    active.scheduled_at = Set(Some(at));
    active.sent_at = Set(None);
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    audit::record_and_commit(
        txn,
        actor,
        "sendAppeal",
        "appeal",
        Some(appeal.id.to_string()),
        json!({ "recipients": recipients, "queued": 0, "notBefore": at }),
    )
    .await?;
    Ok(SendOutcome {
        recipients,
        queued: 0,
    })
}

/// Queues the appeal for every donor it reaches, in one transaction, and marks it sent.
/// The personal copies are made and written a batch of donors at a time, so the memory
/// a send takes does not grow with the audience.
async fn queue_appeal(
    db: &DatabaseConnection,
    org: &Organization,
    links: LinkSettings<'_>,
    actor: &Actor,
    appeal_id: i64,
) -> Result<SendOutcome, DomainError> {
    let txn = begin_write(db).await?;
    let appeal = load_email_appeal(&txn, appeal_id).await?;
    let making = Making::of(&txn, org, &appeal).await?;
    let matched =
        appeal_breakdown::matched_alternatives(&txn, org, &appeal, making.audience.clone()).await?;
    let currency = Currency::parse(&appeal.currency).unwrap_or(Currency::Usd);
    let now = Utc::now();
    let mut recipients = 0;
    let mut queued = 0;
    let mut after = 0;
    loop {
        let chunk = making
            .personal(&txn, links, &appeal, Reading::After(after))
            .await?;
        let Some(last) = chunk.last() else {
            break;
        };
        after = last.donor_id;
        recipients += chunk.len() as u64;
        let rows = chunk.iter().map(|p| {
            let mut payload = json!({
                "appealId": appeal.id,
                "subject": p.subject,
                "body": p.body,
                "contentLanguage": p.content_language.as_str(),
                "donateUrl": p.donate_url,
                "clubMonthlyAsk": p.club_monthly_ask_minor.map(|m| money(m, currency)),
                "clubMonthlyAskMinor": p.club_monthly_ask_minor,
                "currency": currency.code(),
                "circleName": p.circle_name,
                "unsubscribeUrl": p.unsubscribe_url,
            });
            if let Some(matched) = &matched {
                payload[appeal_breakdown::RULES_FIELD] =
                    json!(matched.get(&p.donor_id).cloned().unwrap_or_default());
            }
            outbox::ActiveModel {
                idempotency_key: Set(format!("appeal:{}:{}", appeal.id, p.donor_id)),
                kind: Set(APPEAL_KIND.to_owned()),
                donor_id: Set(Some(p.donor_id)),
                to_address: Set(p.to_address.clone()),
                to_name: Set(Some(p.to_name.clone())),
                language: Set(p.language),
                payload: Set(payload),
                status: Set(OutboxStatus::Pending),
                attempts: Set(0),
                next_attempt_at: Set(now),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        });
        queued += outbox::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(outbox::Column::IdempotencyKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        if chunk.len() < BATCH {
            break;
        }
    }
    let mut active: appeal::ActiveModel = appeal.clone().into();
    active.sent_at = Set(Some(now));
    active.updated_at = Set(now);
    active.update(&txn).await?;
    audit::record_and_commit(
        txn,
        actor,
        "sendAppeal",
        "appeal",
        Some(appeal.id.to_string()),
        json!({ "recipients": recipients, "queued": queued, "scheduledAt": appeal.scheduled_at }),
    )
    .await?;
    Ok(SendOutcome { recipients, queued })
}

/// One scheduled appeal that came due, and what queueing it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueAppeal {
    pub appeal_id: i64,
    pub source_code: String,
    pub outcome: Result<SendOutcome, String>,
}

/// Queues every email appeal whose `scheduled_at` has come (at or before `now`) and
/// that has not been sent, each in its own transaction. An appeal that cannot be sent
/// (its segment was deleted, say) is reported and left scheduled; the others still go.
/// Running it again queues nothing new.
pub async fn send_due_appeals(
    db: &DatabaseConnection,
    org: &Organization,
    links: LinkSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<DueAppeal>, DomainError> {
    let due = appeal::Entity::find()
        .filter(appeal::Column::Channel.eq(AppealChannel::Email))
        .filter(appeal::Column::ScheduledAt.lte(now))
        .filter(appeal::Column::SentAt.is_null())
        .order_by_asc(appeal::Column::ScheduledAt)
        .order_by_asc(appeal::Column::Id)
        .all(db)
        .await?;
    let mut done = Vec::with_capacity(due.len());
    for appeal in due {
        let outcome = queue_appeal(db, org, links, &Actor::system(), appeal.id)
            .await
            .map_err(|error| format!("{:#}", anyhow::Error::from(error)));
        done.push(DueAppeal {
            appeal_id: appeal.id,
            source_code: appeal.source_code,
            outcome,
        });
    }
    Ok(done)
}

/// What the donation page may show a donor who opened their personal appeal link:
/// their name, their email and the ask, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkDonor {
    pub donor_id: i64,
    pub name: String,
    pub email: Option<String>,
    pub ask_minor: i64,
}

/// The donor a personal donate link (`/donate?appeal=CODE&t=TOKEN`) was signed for, if
/// the token is genuine for that source code and the donor's current link version, has
/// not expired, and the donor still exists; `None` otherwise, so an altered, expired or
/// revoked link is just the appeal's page.
pub async fn donor_for_link(
    db: &impl ConnectionTrait,
    key: &str,
    source_code: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<LinkDonor>, DomainError> {
    let Some(claimed) = mailer::links::appeal_donate_token_donor(token) else {
        return Ok(None);
    };
    let Some(found) = donor::Entity::find_by_id(claimed).one(db).await? else {
        return Ok(None);
    };
    let signed =
        mailer::links::verify_appeal_donate_token(key, source_code, token, found.link_version, now);
    Ok(signed.map(|signed| LinkDonor {
        donor_id: found.id,
        name: found.display_name,
        email: found.email,
        ask_minor: signed.ask_minor,
    }))
}

/// Stops appeal email to a donor; receipts keep coming. Unsubscribing twice is harmless.
pub async fn unsubscribe_from_appeals(
    db: &DatabaseConnection,
    donor_id: i64,
) -> Result<(), DomainError> {
    let txn = begin_write(db).await?;
    let found = donor::Entity::find_by_id(donor_id)
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::not_found("donor", donor_id))?;
    if found.appeals_unsubscribed_at.is_none() {
        let mut active: donor::ActiveModel = found.into();
        active.appeals_unsubscribed_at = Set(Some(Utc::now()));
        active.updated_at = Set(Utc::now());
        active.update(&txn).await?;
        audit::record(
            &txn,
            &Actor::system(),
            "unsubscribeFromAppeals",
            "donor",
            Some(donor_id.to_string()),
            json!({ "via": "unsubscribe link" }),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

#[derive(Debug, sea_orm::FromQueryResult)]
struct LetterRow {
    id: i64,
    first_name: Option<String>,
    display_name: String,
    language: String,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    last_gift_minor: Option<i64>,
}

/// The mail-merge file for a letter appeal: one row per donor in its segment (everyone
/// when it has none) with a postal address, with the salutation, the personal ask and
/// the reply code to print on the envelope (the appeal's source code, which staff type
/// back in with the gift).
pub async fn letter_csv(
    db: &impl ConnectionTrait,
    org: &Organization,
    appeal_id: i64,
) -> Result<String, DomainError> {
    let appeal = appeal::Entity::find_by_id(appeal_id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("appeal", appeal_id))?;
    let rule = appeal
        .ask_rule
        .as_ref()
        .map(AskRule::from_json)
        .transpose()?
        .unwrap_or(DEFAULT_ASK);
    let mut audience = segments::condition(org, &SegmentRule::HasPostalAddress)?;
    if let Some(segment_id) = appeal.segment_id {
        let saved = entity::segment::Entity::find_by_id(segment_id)
            .one(db)
            .await?
            .ok_or_else(|| DomainError::validation("segmentId", "the segment no longer exists"))?;
        audience = audience.add(segments::condition(org, &segments::saved_rule(&saved)?)?);
    }
    let rows: Vec<LetterRow> = donor::Entity::find()
        .select_only()
        .columns([
            donor::Column::Id,
            donor::Column::FirstName,
            donor::Column::DisplayName,
            donor::Column::Language,
            donor::Column::AddressLine1,
            donor::Column::AddressLine2,
            donor::Column::City,
            donor::Column::Region,
            donor::Column::PostalCode,
            donor::Column::Country,
        ])
        .column_as(last_gift_minor(), "last_gift_minor")
        .filter(audience)
        .order_by_asc(donor::Column::Id)
        .into_model()
        .all(db)
        .await?;
    let currency = Currency::parse(&appeal.currency).unwrap_or(Currency::Usd);
    let mut csv = CsvFile::with_header(&[
        "donor_id",
        "name",
        "address_line1",
        "address_line2",
        "city",
        "region",
        "postal_code",
        "country",
        "salutation",
        "ask_amount",
        "reply_code",
    ])?;
    for row in rows {
        let language = Language::parse(&row.language).unwrap_or(Language::English);
        let first = row.first_name.as_deref().unwrap_or(&row.display_name);
        // The letter's greeting and amount as the email's are written, in its language.
        let words = mailer::templates::words::Words::new(language);
        let fields = [
            row.id.to_string(),
            row.display_name.clone(),
            row.address_line1.unwrap_or_default(),
            row.address_line2.unwrap_or_default(),
            row.city.unwrap_or_default(),
            row.region.unwrap_or_default(),
            row.postal_code.unwrap_or_default(),
            row.country.unwrap_or_default(),
            words.with("greeting-named", &[("name", first)]),
            words.amount(rule.one_time_ask(row.last_gift_minor), currency),
            appeal.source_code.clone(),
        ];
        csv.row(fields)?;
    }
    csv.finish()
}
