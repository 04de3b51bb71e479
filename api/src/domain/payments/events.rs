//! Recording each processor event once, with its outcome, in the transaction of its
//! effects. Every event ends in one status: applied, duplicate (its effect was
//! recorded before, by another event), waiting (it names a payment or subscription
//! not recorded yet: it is kept and applied the moment that arrives), ignored (a type
//! the service does not use, or a subscription state older than the one its pledge
//! already holds) or failed (with its reason). A waiting or failed event is
//! tried again when Stripe delivers it again or staff reprocess it; an applied one
//! never changes again.

use chrono::{DateTime, Duration, Utc};
use entity::enums::StripeEventStatus;
use entity::{gift, pledge, stripe_event};
use sea_orm::sea_query::{Expr, ExprTrait, IntoTableRef, Query, TableRef};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, TryInsertResult,
};

use super::super::keyset::{CountedPage, KeyKind, Ordering, PageRequest};
use super::{
    ClubChange, ClubPolicy, Currency, DomainError, Organization, PaymentEffect, ProcessorEvent,
    acknowledge_last, apply_effect, begin_write, is_unique_violation, refused_currency,
};
use crate::db::WriteTransaction;

/// How applying an event's effects ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    Applied(String),
    Duplicate(String),
    /// The event names `on` (a payment intent, charge or subscription id) that is not
    /// recorded yet.
    Waiting {
        on: String,
        reason: String,
    },
    Ignored(String),
    Failed(String),
}

impl Settled {
    fn status(&self) -> StripeEventStatus {
        match self {
            Settled::Applied(_) => StripeEventStatus::Applied,
            Settled::Duplicate(_) => StripeEventStatus::Duplicate,
            Settled::Waiting { .. } => StripeEventStatus::Waiting,
            Settled::Ignored(_) => StripeEventStatus::Ignored,
            Settled::Failed(_) => StripeEventStatus::Failed,
        }
    }

    /// The outcome as the event's row states it.
    fn summary(&self) -> String {
        match self {
            Settled::Applied(text) | Settled::Duplicate(text) | Settled::Ignored(text) => {
                text.clone()
            }
            Settled::Waiting { reason, .. } => format!("waiting: {reason}"),
            Settled::Failed(reason) => format!("failed: {reason}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// The event was processed now; the summary says what it did.
    Recorded {
        status: StripeEventStatus,
        summary: String,
    },
    /// The event had been processed to its end before: nothing changed.
    AlreadyRecorded(StripeEventStatus),
}

/// Whether an event in this status is done: a redelivery or reprocessing changes
/// nothing.
pub(super) fn is_final(status: StripeEventStatus) -> bool {
    !matches!(
        status,
        StripeEventStatus::Waiting | StripeEventStatus::Failed
    )
}

/// The status of an event already recorded for good, read without taking a write turn:
/// a redelivery of it needs nothing more. `None` when the event is new, or waiting or
/// failed and so to be tried again. `SettledEvents` keeps what it finds.
pub(super) async fn settled_status(
    db: &impl ConnectionTrait,
    event_id: &str,
) -> Result<Option<StripeEventStatus>, DomainError> {
    let status = stripe_event::Entity::find()
        .select_only()
        .column(stripe_event::Column::Status)
        .filter(stripe_event::Column::EventId.eq(event_id))
        .into_tuple::<StripeEventStatus>()
        .one(db)
        .await?;
    Ok(status.filter(|status| is_final(*status)))
}

/// Records a processor event exactly once, with all its effects, in one transaction.
/// An event stored as waiting or failed is tried again. Money in another currency than
/// `org_currency` fails the event, with its reason.
///
/// An event that applies commits its effects and its outcome together. One that must
/// wait, or fails for a reason in its input (no email and no known customer, say),
/// keeps none of its effects: its transaction is rolled back, and the event alone is
/// kept with its outcome in a second one. Anything else fails the delivery, so Stripe
/// sends it again.
pub async fn record_processor_event(
    db: &DatabaseConnection,
    org: &Organization,
    org_currency: Currency,
    policy: &ClubPolicy,
    mut event: ProcessorEvent,
) -> Result<EventOutcome, DomainError> {
    let effect = std::mem::replace(&mut event.effect, PaymentEffect::Unhandled);
    let txn = begin_write(db).await?;
    let row = match claim_event(&txn, &event, StripeEventStatus::Applied).await? {
        Claim::Settled(status) => return Ok(EventOutcome::AlreadyRecorded(status)),
        Claim::Open(row) => row,
    };
    let club = club_change(policy, &event);
    let mut recorded = Vec::new();
    let applied = match refused_currency(&effect, org_currency) {
        Some(refusal) => Ok(refusal),
        None => apply_effect(&txn, org, &club, &mut recorded, effect).await,
    };
    let settled = match applied {
        Ok(settled) => settled,
        Err(DomainError::Validation { field, reason }) => {
            Settled::Failed(format!("{field}: {reason}"))
        }
        Err(error) => return Err(error),
    };
    let kept_alone = match settled {
        Settled::Waiting { .. } | Settled::Failed(_) => settled,
        settled => {
            // The outcome is written before the gifts are acknowledged, so that the
            // receipt's number is the last thing the event takes.
            write_outcome(&txn, row, &settled).await?;
            match acknowledge_last(&txn, org, recorded).await {
                Ok(()) => return commit_event(txn, &settled).await,
                Err(DomainError::Validation { field, reason }) => {
                    Settled::Failed(format!("{field}: {reason}"))
                }
                Err(error) => return Err(error),
            }
        }
    };
    txn.rollback().await?;
    let txn = begin_write(db).await?;
    let row = match claim_event(&txn, &event, kept_alone.status()).await? {
        Claim::Settled(status) => return Ok(EventOutcome::AlreadyRecorded(status)),
        Claim::Open(row) => row,
    };
    write_outcome(&txn, row, &kept_alone).await?;
    commit_event(txn, &kept_alone).await
}

/// What recording several events at once came to.
#[derive(Debug)]
pub struct RecordedTogether {
    /// Each event's outcome, in the order the events were given.
    pub outcomes: Vec<Result<EventOutcome, DomainError>>,
    /// Whether one transaction recorded them all; otherwise each was recorded alone.
    pub together: bool,
}

/// Whether an event may be recorded in one transaction with others: a checkout's or an
/// installment's gift in the organization's currency, the events that arrive in
/// numbers. Their effects take the donor's row, and the tax year's receipt counter only
/// when the gift is acknowledged, so a transaction that applies all of them before it
/// acknowledges any takes every donor it needs before any counter, in the order every
/// other writer takes them. A refund or a dispute voids and re-issues receipts as it
/// applies, and is recorded alone.
pub fn records_with_others(event: &ProcessorEvent, org_currency: Currency) -> bool {
    matches!(
        event.effect,
        PaymentEffect::CheckoutCompleted(_) | PaymentEffect::InstallmentPaid(_)
    ) && refused_currency(&event.effect, org_currency).is_none()
}

/// Records events that may go together (`records_with_others`) in one transaction,
/// with one commit, and each with the same effects and outcome as it would have alone:
/// each event is claimed and applied in turn, seeing those before it, and every gift
/// is acknowledged after all of them are applied, in the same order. When any event
/// cannot apply (it must wait, or fails, or the database refuses a statement), nothing
/// of the transaction is kept and each event is recorded alone
/// (`record_processor_event`), so one event's trouble is never another's.
pub async fn record_together(
    db: &DatabaseConnection,
    org: &Organization,
    org_currency: Currency,
    policy: &ClubPolicy,
    events: Vec<ProcessorEvent>,
) -> RecordedTogether {
    let may_go_together = events.len() > 1
        && events
            .iter()
            .all(|event| records_with_others(event, org_currency));
    tracing::debug!(
        events = events.len(),
        may_go_together,
        "recording Stripe events"
    );
    if may_go_together {
        match Box::pin(write_together(db, org, policy, &events)).await {
            Ok(Some(outcomes)) => {
                return RecordedTogether {
                    outcomes: outcomes.into_iter().map(Ok).collect(),
                    together: true,
                };
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(
                events = events.len(),
                error = format!("{:#}", anyhow::Error::from(error)),
                "cannot record Stripe events together; recording each alone"
            ),
        }
    }
    let mut outcomes = Vec::with_capacity(events.len());
    for event in events {
        outcomes.push(record_processor_event(db, org, org_currency, policy, event).await);
    }
    RecordedTogether {
        outcomes,
        together: false,
    }
}

/// Applies and acknowledges `events` in one write transaction and commits it: each
/// one's outcome, or `None` (rolled back) when one of them cannot apply.
async fn write_together(
    db: &DatabaseConnection,
    org: &Organization,
    policy: &ClubPolicy,
    events: &[ProcessorEvent],
) -> Result<Option<Vec<EventOutcome>>, DomainError> {
    let txn = begin_write(db).await?;
    match apply_together(&txn, org, policy, events).await {
        Ok(Some(outcomes)) => {
            commit_recorded(txn).await?;
            Ok(Some(outcomes))
        }
        unapplied => {
            txn.rollback().await?;
            unapplied
        }
    }
}

/// The body of `write_together`, in the caller's transaction.
async fn apply_together(
    txn: &DatabaseTransaction,
    org: &Organization,
    policy: &ClubPolicy,
    events: &[ProcessorEvent],
) -> Result<Option<Vec<EventOutcome>>, DomainError> {
    let mut outcomes = Vec::with_capacity(events.len());
    let mut recorded = Vec::new();
    for event in events {
        let row = match claim_event(txn, event, StripeEventStatus::Applied).await? {
            Claim::Settled(status) => {
                outcomes.push(EventOutcome::AlreadyRecorded(status));
                continue;
            }
            Claim::Open(row) => row,
        };
        let club = club_change(policy, event);
        let settled = match apply_effect(txn, org, &club, &mut recorded, event.effect.clone()).await
        {
            Ok(Settled::Waiting { .. } | Settled::Failed(_))
            | Err(DomainError::Validation { .. }) => return Ok(None),
            Ok(settled) => settled,
            Err(error) => return Err(error),
        };
        write_outcome(txn, row, &settled).await?;
        outcomes.push(EventOutcome::Recorded {
            status: settled.status(),
            summary: settled.summary(),
        });
    }
    match acknowledge_last(txn, org, recorded).await {
        Ok(()) => Ok(Some(outcomes)),
        Err(DomainError::Validation { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// What a change the event makes to a pledge needs to re-evaluate its donor's club
/// membership, the event named as its cause.
fn club_change<'a>(policy: &'a ClubPolicy, event: &ProcessorEvent) -> ClubChange<'a> {
    ClubChange {
        policy,
        cause: format!("stripe event {}", event.id),
    }
}

/// An event's row in the caller's transaction: settled before, or open to be applied.
enum Claim {
    Settled(StripeEventStatus),
    /// The row's id: new, or stored before as waiting or failed.
    Open(i64),
}

/// Claims an event in the caller's transaction. The unique event id is the claim: a
/// concurrent delivery of the same event waits on it until this transaction ends, then
/// finds the row this one kept (or claims the event itself if this one kept nothing).
///
/// A new row is written in the status the event is `expected` to end in, which no
/// other transaction sees: every transaction that claims an event writes its outcome
/// (`write_outcome`) before it commits. When the expectation holds, as it does for
/// most events (applied), the outcome changes no indexed column, so PostgreSQL updates
/// the row in place, and the index of statuses holds no entry `waiting` for events that
/// never waited, which the look for waiting events after each event would step over.
async fn claim_event(
    txn: &DatabaseTransaction,
    event: &ProcessorEvent,
    expected: StripeEventStatus,
) -> Result<Claim, DomainError> {
    let claim = stripe_event::ActiveModel {
        event_id: Set(event.id.clone()),
        event_type: Set(event.event_type.clone()),
        livemode: Set(event.livemode),
        stripe_created_at: Set(event.created_at),
        payload: Set(event.payload.clone()),
        outcome: Set("processing".to_owned()),
        processed_at: Set(Utc::now()),
        status: Set(expected),
        ..Default::default()
    };
    let inserted = stripe_event::Entity::insert(claim)
        .on_conflict_do_nothing_on([stripe_event::Column::EventId])
        .exec(txn)
        .await?;
    if let TryInsertResult::Inserted(row) = inserted {
        return Ok(Claim::Open(row.last_insert_id));
    }
    let (row, status) = stripe_event::Entity::find()
        .select_only()
        .columns([stripe_event::Column::Id, stripe_event::Column::Status])
        .filter(stripe_event::Column::EventId.eq(&event.id))
        .into_tuple::<(i64, StripeEventStatus)>()
        .one(txn)
        .await?
        .ok_or_else(|| {
            DomainError::Unexpected(anyhow::anyhow!(
                "event {} was neither stored nor found",
                event.id
            ))
        })?;
    Ok(if is_final(status) {
        Claim::Settled(status)
    } else {
        Claim::Open(row)
    })
}

/// Commits a transaction that recorded events, then forgets the copies kept of what
/// their pledges may have changed (`read_cache::PLEDGES`): every recorded event's
/// commit goes through here.
async fn commit_recorded(txn: WriteTransaction) -> Result<(), sea_orm::DbErr> {
    txn.commit().await?;
    crate::read_cache::PLEDGES.changed();
    Ok(())
}

/// Commits an event's transaction and says what it came to.
async fn commit_event(
    txn: WriteTransaction,
    settled: &Settled,
) -> Result<EventOutcome, DomainError> {
    match commit_recorded(txn).await {
        Ok(()) => Ok(EventOutcome::Recorded {
            status: settled.status(),
            summary: settled.summary(),
        }),
        Err(error) if is_unique_violation(&error) => {
            Ok(EventOutcome::AlreadyRecorded(StripeEventStatus::Applied))
        }
        Err(error) => Err(error.into()),
    }
}

/// Writes what an event came to on its stored row.
async fn write_outcome(
    txn: &DatabaseTransaction,
    row: i64,
    settled: &Settled,
) -> Result<(), DomainError> {
    let (reason, waiting_for) = match settled {
        Settled::Applied(_) | Settled::Duplicate(_) | Settled::Ignored(_) => (None, None),
        Settled::Waiting { on, reason } => (Some(reason.clone()), Some(on.clone())),
        Settled::Failed(reason) => (Some(reason.clone()), None),
    };
    stripe_event::Entity::update_many()
        .col_expr(
            stripe_event::Column::Outcome,
            Expr::value(settled.summary()),
        )
        .col_expr(stripe_event::Column::Status, Expr::value(settled.status()))
        .col_expr(stripe_event::Column::Reason, Expr::value(reason))
        .col_expr(stripe_event::Column::WaitingFor, Expr::value(waiting_for))
        .col_expr(stripe_event::Column::ProcessedAt, Expr::value(Utc::now()))
        .filter(stripe_event::Column::Id.eq(row))
        .exec(txn)
        .await?;
    Ok(())
}

/// Waiting events whose payment or subscription has now been recorded, oldest first:
/// what the edge applies after each event.
pub async fn waiting_events_now_ready(
    db: &impl ConnectionTrait,
) -> Result<Vec<stripe_event::Model>, DomainError> {
    Ok(waiting_events_ready().all(db).await?)
}

/// The plan the database makes now for [`waiting_events_now_ready`], one line a step
/// (PostgreSQL's `EXPLAIN`, SQLite's `EXPLAIN QUERY PLAN`). For tests and for
/// diagnosing slow webhooks.
pub async fn waiting_events_plan(db: &impl ConnectionTrait) -> Result<Vec<String>, DomainError> {
    let statement = waiting_events_ready().build(db.get_database_backend());
    Ok(mailer::database::plan_of(db, statement).await?)
}

/// Each waiting event's payment or subscription looked up by its own unique index, so
/// the cost grows with the events waiting, not with the gifts ever recorded.
fn waiting_events_ready() -> sea_orm::Select<stripe_event::Entity> {
    let waited_for = Expr::col((stripe_event::Entity, stripe_event::Column::WaitingFor));
    let recorded = |table: TableRef, column: Expr| {
        Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(table)
                .and_where(column.eq(waited_for.clone()))
                .to_owned(),
        )
    };
    let gifts_by = |column: gift::Column| {
        recorded(
            gift::Entity.into_table_ref(),
            Expr::col((gift::Entity, column)),
        )
    };
    stripe_event::Entity::find()
        .filter(stripe_event::Column::Status.eq(StripeEventStatus::Waiting))
        .filter(
            Condition::any()
                .add(gifts_by(gift::Column::StripePaymentIntentId))
                .add(gifts_by(gift::Column::StripeChargeId))
                .add(recorded(
                    pledge::Entity.into_table_ref(),
                    Expr::col((pledge::Entity, pledge::Column::StripeSubscriptionId)),
                )),
        )
        .order_by_asc(stripe_event::Column::Id)
        .limit(100)
}

/// One stored event, by its row id.
pub async fn stored_event(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<stripe_event::Model, DomainError> {
    stripe_event::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("stripe event", id))
}

/// How long an event may wait before staff are told.
pub const WAITING_TOO_LONG: Duration = Duration::hours(1);

/// Events staff should look at: every failed one, and those waiting for more than an
/// hour (by Stripe's time of the event), oldest first, at most `limit`.
pub async fn events_needing_attention(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<(u64, Vec<stripe_event::Model>), DomainError> {
    let query = stripe_event::Entity::find().filter(
        Condition::any()
            .add(stripe_event::Column::Status.eq(StripeEventStatus::Failed))
            .add(
                Condition::all()
                    .add(stripe_event::Column::Status.eq(StripeEventStatus::Waiting))
                    .add(stripe_event::Column::StripeCreatedAt.lt(now - WAITING_TOO_LONG)),
            ),
    );
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_asc(stripe_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok((total, rows))
}

/// Marks events as reported, returning those not reported before (so each is logged
/// once; an event that fails again after being mended is reported again).
pub async fn mark_reported(
    db: &DatabaseConnection,
    events: &[stripe_event::Model],
) -> Result<Vec<stripe_event::Model>, DomainError> {
    let fresh: Vec<_> = events
        .iter()
        .filter(|e| e.warned_at.is_none_or(|warned| warned < e.processed_at))
        .cloned()
        .collect();
    if fresh.is_empty() {
        return Ok(fresh);
    }
    let txn = begin_write(db).await?;
    stripe_event::Entity::update_many()
        .col_expr(stripe_event::Column::WarnedAt, Expr::value(Utc::now()))
        .filter(stripe_event::Column::Id.is_in(fresh.iter().map(|e| e.id)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(fresh)
}

/// Which stored events to list.
#[derive(Debug, Clone, Default)]
pub struct StripeEventFilter {
    pub status: Option<StripeEventStatus>,
    pub event_type: Option<String>,
    /// Stripe's time of the event, from (inclusive) and to (exclusive).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

fn filtered(filter: &StripeEventFilter) -> sea_orm::Select<stripe_event::Entity> {
    let mut query = stripe_event::Entity::find();
    if let Some(status) = filter.status {
        query = query.filter(stripe_event::Column::Status.eq(status));
    }
    if let Some(event_type) = filter.event_type.as_deref() {
        query = query.filter(stripe_event::Column::EventType.eq(event_type.trim()));
    }
    if let Some(from) = filter.from {
        query = query.filter(stripe_event::Column::StripeCreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(stripe_event::Column::StripeCreatedAt.lt(to));
    }
    query
}

/// Stored events are listed newest first by Stripe's time, ties by id.
pub fn newest_stripe_events() -> Ordering<stripe_event::Column> {
    use stripe_event::Column::{Id, StripeCreatedAt};
    Ordering::by(
        "stripe-events-newest",
        StripeCreatedAt,
        KeyKind::Time,
        Id,
        true,
    )
}

/// One page of the stored events that match, newest first, and how many match.
pub async fn page_stripe_events(
    db: &impl ConnectionTrait,
    filter: &StripeEventFilter,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<CountedPage<stripe_event::Model>, DomainError> {
    newest_stripe_events()
        .page_counted(db, filtered(filter), request, size_when_unsaid)
        .await
}

#[cfg(test)]
// A failed step should stop the test where it happened.
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::payments::PaymentEffect;

    /// The most an event's future may take. Each async call keeps the future of the
    /// call it awaits inside its own, and in a debug build each level's poll also holds
    /// copies of them on the stack: a refund found by reconciliation went from the
    /// request through the event and the gift to voiding and re-issuing its receipt and
    /// the year's statement, 17 KiB inline, and overflowed a server worker's stack. Each
    /// effect and each acknowledgment is now boxed where it starts (`apply_effect`).
    const LARGEST_EVENT_FUTURE: usize = 8 * 1024;

    #[test]
    fn an_events_future_stays_small_whatever_it_corrects() {
        let db = DatabaseConnection::default();
        let org = mailer::config::Organization {
            legal_name: String::new(),
            ein: String::new(),
            address: String::new(),
            timezone: chrono_tz::UTC,
            tribute_notifications_per_day: 0,
        };
        let event = ProcessorEvent {
            id: String::new(),
            event_type: String::new(),
            livemode: false,
            created_at: Utc::now(),
            payload: serde_json::Value::Null,
            effect: PaymentEffect::Unhandled,
        };
        let policy = ClubPolicy::default();
        let currency = Currency::parse("USD").expect("a currency");
        let future = record_processor_event(&db, &org, currency, &policy, event);
        let size = std::mem::size_of_val(&future);
        drop(future);
        assert!(
            size <= LARGEST_EVENT_FUTURE,
            "recording an event takes a future of {size} bytes, more than {LARGEST_EVENT_FUTURE}"
        );
    }
}
