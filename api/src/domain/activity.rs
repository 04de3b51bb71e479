//! What the shared database says about the service's work, for monitoring: messages in
//! the outbox by status and how long the oldest has waited, gifts by status with their
//! amounts, and what the organization received and kept (the counted gifts, net). Every process that reads it sees the same
//! figures, however many APIs and mailers share the database.

use chrono::{DateTime, Utc};
use entity::enums::{GiftStatus, OutboxStatus};
use entity::{gift, outbox};
use sea_orm::sea_query::{Alias, Expr, Func, SimpleExpr};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::gifts;

/// The outbox and the gifts, read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// Messages per status; a status with none is listed with 0.
    pub outbox: Vec<(OutboxStatus, i64)>,
    /// When the oldest message still waiting to be sent was queued.
    pub oldest_pending: Option<DateTime<Utc>>,
    /// Gifts per status: how many, and their amounts in minor units.
    pub gifts: Vec<(GiftStatus, i64, i64)>,
    /// What the organization received and kept: the counted gifts, net of refunds.
    pub received_net_minor: i64,
}

impl Activity {
    /// How long the oldest waiting message has waited at `now`, in whole seconds; 0
    /// when nothing waits.
    pub fn oldest_pending_seconds(&self, now: DateTime<Utc>) -> i64 {
        self.oldest_pending
            .map(|queued| (now - queued).num_seconds().max(0))
            .unwrap_or(0)
    }
}

/// Reads the outbox and the gifts, each in one grouped query.
pub async fn read(db: &DatabaseConnection) -> Result<Activity, DbErr> {
    let counted_outbox: Vec<(OutboxStatus, i64)> = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Status)
        .column_as(count_rows(), "messages")
        .group_by(outbox::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let oldest_pending: Option<DateTime<Utc>> = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::CreatedAt)
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .order_by_asc(outbox::Column::CreatedAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    let counted_gifts: Vec<(GiftStatus, i64, i64)> = gift::Entity::find()
        .select_only()
        .column(gift::Column::Status)
        .column_as(count_rows(), "gifts")
        .column_as(sum_of(gift::Column::AmountMinor), "amount")
        .group_by(gift::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let received_net_minor: Option<i64> = gift::Entity::find()
        .select_only()
        .column_as(gifts::net_total(), "net")
        .filter(gifts::counted())
        .into_tuple()
        .one(db)
        .await?;
    Ok(Activity {
        outbox: every_status(OUTBOX_STATUSES, &counted_outbox, |(s, _)| *s)
            .map(|(status, found)| (status, found.map(|(_, n)| *n).unwrap_or(0)))
            .collect(),
        oldest_pending,
        gifts: every_status(GIFT_STATUSES, &counted_gifts, |(s, _, _)| *s)
            .map(|(status, found)| {
                let (count, amount) = found.map(|(_, c, a)| (*c, *a)).unwrap_or((0, 0));
                (status, count, amount)
            })
            .collect(),
        received_net_minor: received_net_minor.unwrap_or(0),
    })
}

const OUTBOX_STATUSES: &[OutboxStatus] = &[
    OutboxStatus::Pending,
    OutboxStatus::Sending,
    OutboxStatus::Sent,
    OutboxStatus::Failed,
    OutboxStatus::Dead,
];

const GIFT_STATUSES: &[GiftStatus] = &[
    GiftStatus::Pending,
    GiftStatus::Succeeded,
    GiftStatus::Failed,
    GiftStatus::Refunded,
    GiftStatus::PartiallyRefunded,
    GiftStatus::Disputed,
];

/// Each of `statuses` beside the row found for it, so a status with no rows still
/// reads 0 rather than vanishing from the series.
fn every_status<'a, S: PartialEq + Copy, R>(
    statuses: &'a [S],
    rows: &'a [R],
    status_of: impl Fn(&R) -> S + 'a,
) -> impl Iterator<Item = (S, Option<&'a R>)> + 'a {
    statuses
        .iter()
        .map(move |status| (*status, rows.iter().find(|row| status_of(row) == *status)))
}

/// The column summed, 0 when there are no rows, as a 64-bit integer on both databases.
fn sum_of(column: gift::Column) -> SimpleExpr {
    Func::cast_as(
        Func::coalesce([SimpleExpr::from(Func::sum(Expr::col(column))), Expr::val(0)]),
        Alias::new("BIGINT"),
    )
    .into()
}

/// `COUNT(*)` as a 64-bit integer on both databases.
fn count_rows() -> SimpleExpr {
    Func::cast_as(Func::count(Expr::cust("*")), Alias::new("BIGINT")).into()
}
