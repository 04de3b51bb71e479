//! Tributes: a gift made in honor or in memory of someone can name a person to tell.
//! With an email, that person gets a notification written in the donor's language, in
//! the transaction that records the gift; with only a postal address, they appear in
//! the tribute-letter export staff print from. Neither states the amount unless the
//! donor allowed it.

use chrono::{DateTime, Duration, Utc};
use entity::enums::TributeKind;
use entity::{Currency, EmailAddress, donor, format_minor, gift, outbox as outbox_row};
use mailer::outbox::{self, NewMessage};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;

use super::csv_export::CsvFile;
use super::{DomainError, gifts};
use crate::config::Organization;

/// The outbox template tribute notifications are rendered with.
pub const TRIBUTE_KIND: &str = "tribute_notification";

/// The outbox key of a gift's tribute notification. A pledge's installments all carry
/// its tribute; the person is told once, when the first one is paid.
fn notification_key(gift: &gift::Model) -> String {
    match gift.pledge_id {
        Some(pledge_id) => format!("tribute:pledge:{pledge_id}"),
        None => format!("tribute:{}", gift.id),
    }
}

/// The donor as the honoree reads it: their name, or "a friend" for an anonymous gift.
fn donor_name(gift: &gift::Model, donor: &donor::Model) -> Option<String> {
    (!gift.anonymous).then(|| donor.display_name.clone())
}

fn amount_text(gift: &gift::Model) -> Option<String> {
    gift.tribute_show_amount.then(|| {
        Currency::parse(&gift.currency)
            .map(|currency| format_minor(gift.amount_minor, currency))
            .unwrap_or_else(|_| format!("{} {}", gift.amount_minor, gift.currency))
    })
}

/// Queues, in the caller's transaction, the email that tells the person a succeeded
/// gift honors about it, when the gift names an email to notify. Queueing twice for the
/// same gift (or pledge) queues nothing new. The amount is in the payload only when the
/// donor allowed it, so no template can show it otherwise.
///
/// One donor's gifts queue at most `org.tribute_notifications_per_day` notifications
/// in 24 hours (`TRIBUTE_NOTIFICATIONS_PER_DAY`): anyone who pays the minimum could
/// otherwise make the organization email any address. Beyond it the gift stands as
/// recorded, nothing is queued, and the gift's notes and the log say so.
pub async fn notify_honoree(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
    donor: &donor::Model,
) -> Result<(), DomainError> {
    if !gifts::is_acknowledged(gift.status) {
        return Ok(());
    }
    let (Some(kind), Some(honoree)) = (gift.tribute_kind, gift.tribute_name.as_deref()) else {
        return Ok(());
    };
    let Some(address) = gift
        .tribute_notify_email
        .as_deref()
        .and_then(|e| EmailAddress::parse(e).ok())
    else {
        return Ok(());
    };
    let key = notification_key(gift);
    let already_queued = outbox_row::Entity::find()
        .filter(outbox_row::Column::IdempotencyKey.eq(key.as_str()))
        .count(txn)
        .await?
        > 0;
    if already_queued {
        return Ok(());
    }
    let cap = org.tribute_notifications_per_day;
    let queued_today = outbox_row::Entity::find()
        .filter(outbox_row::Column::Kind.eq(TRIBUTE_KIND))
        .filter(outbox_row::Column::DonorId.eq(donor.id))
        .filter(outbox_row::Column::CreatedAt.gte(Utc::now() - Duration::hours(24)))
        .count(txn)
        .await?;
    if queued_today >= u64::from(cap) {
        tracing::warn!(
            gift = gift.id,
            donor = donor.id,
            cap,
            "tribute notification not queued: the donor's gifts reached \
             TRIBUTE_NOTIFICATIONS_PER_DAY in the last 24 hours"
        );
        let note = format!(
            "Tribute notification not sent: this donor's gifts already sent {cap} in 24 hours \
             (TRIBUTE_NOTIFICATIONS_PER_DAY)."
        );
        let notes = match gift.notes.as_deref().map(str::trim) {
            Some(earlier) if !earlier.is_empty() => format!("{earlier}\n{note}"),
            _ => note,
        };
        gift::Entity::update_many()
            .col_expr(gift::Column::Notes, Expr::value(notes))
            .filter(gift::Column::Id.eq(gift.id))
            .exec(txn)
            .await?;
        return Ok(());
    }
    outbox::enqueue(
        txn,
        NewMessage {
            idempotency_key: key,
            kind: TRIBUTE_KIND.to_owned(),
            donor_id: Some(donor.id),
            to_address: address,
            to_name: gift.tribute_notify_name.clone(),
            language: donor.language,
            payload: json!({
                "giftId": gift.id,
                "tributeKind": kind.as_str(),
                "honoree": honoree,
                "donorName": donor_name(gift, donor),
                "amount": amount_text(gift),
                // The template writes the amount the way the reader's language does.
                "amountMinor": gift.tribute_show_amount.then_some(gift.amount_minor),
                "currency": gift.currency,
                "receivedOn": gift.received_at.with_timezone(&org.timezone).date_naive(),
            }),
            not_before: None,
        },
    )
    .await?;
    Ok(())
}

/// The CSV header of the tribute-letter export.
const LETTER_HEADER: [&str; 9] = [
    "gift_id",
    "received_on",
    "tribute",
    "honoree",
    "notify_name",
    "notify_address",
    "donor_name",
    "language",
    "amount",
];

/// The tribute-letter export: one row per succeeded (or partly refunded) gift received
/// in `[from, to)` whose tribute names a person to notify by post and no email, oldest
/// first. `amount` is empty unless the donor allowed it; `donor_name` is empty for an
/// anonymous gift.
pub async fn tribute_letter_csv(
    db: &impl ConnectionTrait,
    org: &Organization,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<String, DomainError> {
    let mut query = gift::Entity::find()
        .filter(gift::Column::TributeKind.is_not_null())
        .filter(gift::Column::TributeNotifyAddress.is_not_null())
        .filter(Expr::cust("TRIM(gifts.tribute_notify_address) <> ''"))
        .filter(
            sea_orm::Condition::any()
                .add(gift::Column::TributeNotifyEmail.is_null())
                .add(gift::Column::TributeNotifyEmail.eq("")),
        )
        .filter(gifts::counted())
        .order_by_asc(gift::Column::ReceivedAt)
        .order_by_asc(gift::Column::Id);
    if let Some(from) = from {
        query = query.filter(gift::Column::ReceivedAt.gte(from));
    }
    if let Some(to) = to {
        query = query.filter(gift::Column::ReceivedAt.lt(to));
    }
    let rows: Vec<(gift::Model, Option<donor::Model>)> = query
        .find_also_related(donor::Entity)
        .limit(None)
        .all(db)
        .await?;
    let mut csv = CsvFile::with_header(&LETTER_HEADER)?;
    for (gift, donor) in rows {
        let Some(donor) = donor else { continue };
        let kind = match gift.tribute_kind {
            Some(TributeKind::InMemoryOf) => "in memory of",
            _ => "in honor of",
        };
        let fields = [
            gift.id.to_string(),
            gift.received_at
                .with_timezone(&org.timezone)
                .date_naive()
                .to_string(),
            kind.to_owned(),
            gift.tribute_name.clone().unwrap_or_default(),
            gift.tribute_notify_name.clone().unwrap_or_default(),
            gift.tribute_notify_address.clone().unwrap_or_default(),
            donor_name(&gift, &donor).unwrap_or_default(),
            donor.language.as_str().to_owned(),
            amount_text(&gift).unwrap_or_default(),
        ];
        csv.row(fields)?;
    }
    csv.finish()
}
