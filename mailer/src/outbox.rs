//! The outbox: whatever causes an email writes a row here in the same transaction as
//! the change that caused it. One purpose, one message: the idempotency key is unique.

use chrono::{DateTime, Utc};
use entity::EmailAddress;
use entity::enums::{Language, OutboxStatus};
use entity::outbox;
use sea_orm::sea_query::{
    CaseStatement, Expr, ExprTrait, LockBehavior, LockType, Order, Query, SimpleExpr,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, Set, Statement, TransactionTrait, TryInsertResult, UpdateMany,
};

/// An email to queue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// What the message is for, unique across all messages: "receipt:42", "appeal:7:1234".
    pub idempotency_key: String,
    /// The template that renders it: "receipt", "club_welcome", ...
    pub kind: String,
    pub donor_id: Option<i64>,
    pub to_address: EmailAddress,
    pub to_name: Option<String>,
    pub language: Language,
    /// What the template needs.
    pub payload: serde_json::Value,
    /// Do not send before this time (a scheduled appeal); now when `None`.
    pub not_before: Option<DateTime<Utc>>,
}

/// Whether `enqueue` added a message or found one already queued for the same purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Queued(i64),
    AlreadyQueued(i64),
}

impl Enqueued {
    pub fn id(self) -> i64 {
        match self {
            Enqueued::Queued(id) | Enqueued::AlreadyQueued(id) => id,
        }
    }
}

/// The outbox row of a message queued at `now`: pending, never tried, due at once or at
/// its `not_before`.
fn pending(message: NewMessage, now: chrono::DateTime<Utc>) -> outbox::ActiveModel {
    outbox::ActiveModel {
        idempotency_key: Set(message.idempotency_key),
        kind: Set(message.kind),
        donor_id: Set(message.donor_id),
        to_address: Set(message.to_address.into()),
        to_name: Set(message.to_name),
        language: Set(message.language),
        payload: Set(message.payload),
        status: Set(OutboxStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(message.not_before.unwrap_or(now)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Queues a message, or does nothing if one with the same idempotency key exists.
/// Call it with the transaction of the change that causes the email.
pub async fn enqueue(db: &impl ConnectionTrait, message: NewMessage) -> Result<Enqueued, DbErr> {
    let key = message.idempotency_key.clone();
    let inserted = outbox::Entity::insert(pending(message, Utc::now()))
        .on_conflict_do_nothing_on([outbox::Column::IdempotencyKey])
        .exec(db)
        .await?;
    match inserted {
        TryInsertResult::Inserted(made) => Ok(Enqueued::Queued(made.last_insert_id)),
        TryInsertResult::Conflicted | TryInsertResult::Empty => {
            let existing = outbox::Entity::find()
                .filter(outbox::Column::IdempotencyKey.eq(&key))
                .one(db)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound(format!("outbox message {key}")))?;
            Ok(Enqueued::AlreadyQueued(existing.id))
        }
    }
}

/// Queues messages in one statement, skipping any whose idempotency key is queued
/// already; returns how many were queued now. Call it with the transaction of the change
/// that causes the emails.
pub async fn enqueue_many(
    db: &impl ConnectionTrait,
    messages: Vec<NewMessage>,
) -> Result<u64, DbErr> {
    if messages.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    let rows = messages.into_iter().map(|message| pending(message, now));
    match outbox::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([outbox::Column::IdempotencyKey])
        .exec_without_returning(db)
        .await?
    {
        TryInsertResult::Inserted(count) => Ok(count),
        TryInsertResult::Conflicted | TryInsertResult::Empty => Ok(0),
    }
}

/// Claims up to `batch_size` due messages for `worker` until `lease` has passed: first
/// messages whose previous worker's lease expired (it died mid-batch), then pending
/// messages whose time has come, each kind in the order of `(next_attempt_at, id)`. Each
/// claim counts as an attempt. On PostgreSQL the candidate rows are locked with
/// `FOR UPDATE SKIP LOCKED`, so workers on several machines never claim the same message;
/// on SQLite each `UPDATE … RETURNING` statement holds the database's only write lock and
/// is atomic on its own, and the claim waits for this process's turn to write
/// ([`crate::database::write_turn`]). Each kind is claimed by its own statement so that both read
/// their batch off `ix_outbox_claim` in order: one statement for both would sort every due
/// message for each batch.
pub async fn claim_due(
    db: &DatabaseConnection,
    worker: &str,
    batch_size: u32,
    lease: std::time::Duration,
) -> Result<Vec<outbox::Model>, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        let _turn = crate::database::write_turn(db).await?;
        return claim_due_on(db, worker, batch_size, lease).await;
    }
    // The outbox swings from empty to tens of thousands of due messages and back, and
    // the claim is a prepared statement: PostgreSQL may keep one generic plan for it,
    // made while the outbox was nearly empty, which then cost seconds a claim (the load
    // suite's statement run after its other paths). Each claim is planned for the rows
    // there are now.
    let txn = begin_claim(db).await?;
    let claimed = claim_due_on(&txn, worker, batch_size, lease).await?;
    txn.commit().await?;
    Ok(claimed)
}

/// Begins a claim's transaction on PostgreSQL: each statement planned for the rows
/// there are now, and read off `ix_outbox_claim` in order. Right after an appeal or a
/// year-end run queues tens of thousands of messages, the table's statistics, gathered
/// while few were due, still say about a hundred are; PostgreSQL then prefers a bitmap
/// scan that reads every due message and sorts them all, for each batch (17 ms a claim
/// with 27,000 due, so an appeal to 70,000 donors waited on its claims rather than on
/// its sending). Without bitmap scans it reads the index in order and stops at the
/// batch, whatever the statistics say.
async fn begin_claim(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    crate::database::plan_for_each_execution(&txn).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL enable_bitmapscan = off")
            .await?;
    }
    Ok(txn)
}

/// The plan the database makes now for claiming `batch_size` pending messages, with the
/// claim's own settings, one line a step (PostgreSQL's `EXPLAIN`, SQLite's `EXPLAIN
/// QUERY PLAN`); nothing is claimed. For tests and for diagnosing a slow mailer.
pub async fn claim_plan(db: &DatabaseConnection, batch_size: u32) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let now = Utc::now();
    let claim = Claim {
        worker: "plan",
        now,
        lease_expires_at: now,
        status: OutboxStatus::Pending,
        due: outbox::Column::NextAttemptAt.lte(now),
        limit: batch_size,
    }
    .statement(backend);
    let txn = begin_claim(db).await?;
    let plan = crate::database::plan_of(&txn, claim).await?;
    txn.rollback().await?;
    Ok(plan)
}

/// [`claim_due`] on `db`, the connection itself or a transaction.
async fn claim_due_on(
    db: &impl ConnectionTrait,
    worker: &str,
    batch_size: u32,
    lease: std::time::Duration,
) -> Result<Vec<outbox::Model>, DbErr> {
    let now = Utc::now();
    let lease_expires_at =
        now + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::hours(1));
    let claim = |status: OutboxStatus, due: SimpleExpr, limit: u32| Claim {
        worker,
        now,
        lease_expires_at,
        status,
        due,
        limit,
    };
    let expired = outbox::Column::LeaseExpiresAt.lte(now);
    let mut claimed = claim(OutboxStatus::Sending, expired, batch_size)
        .run(db)
        .await?;
    let left = batch_size.saturating_sub(u32::try_from(claimed.len()).unwrap_or(u32::MAX));
    if left > 0 {
        let time_has_come = outbox::Column::NextAttemptAt.lte(now);
        claimed.extend(
            claim(OutboxStatus::Pending, time_has_come, left)
                .run(db)
                .await?,
        );
    }
    claimed.sort_by_key(|m| (m.next_attempt_at, m.id));
    Ok(claimed)
}

/// One claiming statement: up to `limit` messages in `status` for which `due` holds.
struct Claim<'a> {
    worker: &'a str,
    now: DateTime<Utc>,
    lease_expires_at: DateTime<Utc>,
    status: OutboxStatus,
    due: SimpleExpr,
    limit: u32,
}

impl Claim<'_> {
    async fn run(self, db: &impl ConnectionTrait) -> Result<Vec<outbox::Model>, DbErr> {
        let claim = self.statement(db.get_database_backend());
        outbox::Entity::find().from_raw_sql(claim).all(db).await
    }

    /// The claiming `UPDATE … RETURNING` for `backend`.
    fn statement(self, backend: DbBackend) -> Statement {
        let mut due = Query::select();
        due.column(outbox::Column::Id)
            .from(outbox::Entity)
            .and_where(outbox::Column::Status.eq(self.status.as_str()))
            .and_where(self.due)
            .order_by(outbox::Column::NextAttemptAt, Order::Asc)
            .order_by(outbox::Column::Id, Order::Asc)
            .limit(u64::from(self.limit));
        if backend == DbBackend::Postgres {
            due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let claim = Query::update()
            .table(outbox::Entity)
            .values([
                (
                    outbox::Column::Status,
                    Expr::val(OutboxStatus::Sending.as_str()),
                ),
                (outbox::Column::LeasedBy, Expr::val(self.worker)),
                (
                    outbox::Column::LeaseExpiresAt,
                    Expr::val(self.lease_expires_at),
                ),
                (
                    outbox::Column::Attempts,
                    Expr::col(outbox::Column::Attempts).add(1),
                ),
                (outbox::Column::UpdatedAt, Expr::val(self.now)),
            ])
            .and_where(outbox::Column::Id.in_subquery(due))
            .returning_all()
            .to_owned();
        backend.build(&claim)
    }
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        message_id: String,
    },
    /// Try again at `retry_at`.
    Retry {
        reason: String,
        retry_at: DateTime<Utc>,
    },
    /// The server refused for good (a 5xx reply) or the message cannot be built.
    Failed {
        reason: String,
    },
    /// Temporary failures went on until the attempts ran out.
    Dead {
        reason: String,
    },
    /// Not sent because it is no longer wanted (an appeal to a donor who unsubscribed
    /// after it was queued). Stored as failed, its reason starting with "skipped:", so
    /// staff see why it did not go.
    Skipped {
        reason: String,
    },
}

/// An update of messages `worker` still holds: its lease ends whatever the outcome. A
/// worker whose lease ran out and was taken over changes nothing.
fn leased_by(ids: impl IntoIterator<Item = i64>, worker: &str) -> UpdateMany<outbox::Entity> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::UpdatedAt, Expr::value(Utc::now()))
        .col_expr(
            outbox::Column::LeasedBy,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            outbox::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(outbox::Column::Id.is_in(ids))
        .filter(outbox::Column::Status.eq(OutboxStatus::Sending.as_str()))
        .filter(outbox::Column::LeasedBy.eq(worker))
}

/// Marks messages sent, each with its own Message-ID, in one statement.
async fn mark_sent(
    db: &impl ConnectionTrait,
    worker: &str,
    sent: &[(i64, &str)],
) -> Result<u64, DbErr> {
    if sent.is_empty() {
        return Ok(0);
    }
    let message_ids = sent
        .iter()
        .fold(CaseStatement::new(), |case, (id, message_id)| {
            case.case(
                outbox::Column::Id.eq(*id),
                Expr::value((*message_id).to_owned()),
            )
        })
        .finally(Expr::col(outbox::Column::MessageId));
    let marked = leased_by(sent.iter().map(|(id, _)| *id), worker)
        .col_expr(
            outbox::Column::Status,
            Expr::value(OutboxStatus::Sent.as_str()),
        )
        .col_expr(outbox::Column::MessageId, message_ids.into())
        .col_expr(outbox::Column::SentAt, Expr::value(Utc::now()))
        .col_expr(
            outbox::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .exec(db)
        .await?;
    Ok(marked.rows_affected)
}

/// Records the outcome of a claimed message, if `worker` still holds its lease (a
/// worker whose lease ran out and was taken over records nothing).
pub async fn record_outcome(
    db: &impl ConnectionTrait,
    id: i64,
    worker: &str,
    outcome: &Outcome,
) -> Result<bool, DbErr> {
    let update = leased_by([id], worker);
    let update = match outcome {
        Outcome::Sent { message_id } => {
            return Ok(mark_sent(db, worker, &[(id, message_id.as_str())]).await? == 1);
        }
        Outcome::Retry { reason, retry_at } => update
            .col_expr(
                outbox::Column::Status,
                Expr::value(OutboxStatus::Pending.as_str()),
            )
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(*retry_at))
            .col_expr(outbox::Column::LastError, Expr::value(reason.clone())),
        Outcome::Failed { reason } => update
            .col_expr(
                outbox::Column::Status,
                Expr::value(OutboxStatus::Failed.as_str()),
            )
            .col_expr(outbox::Column::LastError, Expr::value(reason.clone())),
        Outcome::Skipped { reason } => update
            .col_expr(
                outbox::Column::Status,
                Expr::value(OutboxStatus::Failed.as_str()),
            )
            .col_expr(
                outbox::Column::LastError,
                Expr::value(format!("skipped: {reason}")),
            ),
        Outcome::Dead { reason } => update
            .col_expr(
                outbox::Column::Status,
                Expr::value(OutboxStatus::Dead.as_str()),
            )
            .col_expr(outbox::Column::LastError, Expr::value(reason.clone())),
    };
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Records the outcomes of a worker's batch: the messages sent in one statement, the
/// rest (retries and failures, which are rare) one by one, each only where `worker`
/// still holds the lease. Returns how many were recorded.
pub async fn record_outcomes(
    db: &impl ConnectionTrait,
    worker: &str,
    outcomes: &[(i64, Outcome)],
) -> Result<usize, DbErr> {
    let sent: Vec<(i64, &str)> = outcomes
        .iter()
        .filter_map(|(id, outcome)| match outcome {
            Outcome::Sent { message_id } => Some((*id, message_id.as_str())),
            _ => None,
        })
        .collect();
    let mut recorded = usize::try_from(mark_sent(db, worker, &sent).await?).unwrap_or(usize::MAX);
    for (id, outcome) in outcomes {
        if !matches!(outcome, Outcome::Sent { .. })
            && record_outcome(db, *id, worker, outcome).await?
        {
            recorded += 1;
        }
    }
    Ok(recorded)
}

/// Puts a failed or dead message back in the queue, due now, with a fresh count of
/// attempts. Returns `None` when no such message exists; a message that is still
/// pending, sending or already sent is returned unchanged.
pub async fn retry_message(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<outbox::Model>, DbErr> {
    let now = Utc::now();
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Status,
            Expr::value(OutboxStatus::Pending.as_str()),
        )
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now))
        .col_expr(outbox::Column::UpdatedAt, Expr::value(now))
        .filter(outbox::Column::Id.eq(id))
        .filter(
            outbox::Column::Status
                .is_in([OutboxStatus::Failed.as_str(), OutboxStatus::Dead.as_str()]),
        )
        .exec(db)
        .await?;
    outbox::Entity::find_by_id(id).one(db).await
}

/// Hands claimed messages back unsent (a worker stopping mid-batch), due now, without
/// counting the attempt.
pub async fn release(db: &impl ConnectionTrait, ids: &[i64], worker: &str) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let result = leased_by(ids.iter().copied(), worker)
        .col_expr(
            outbox::Column::Status,
            Expr::value(OutboxStatus::Pending.as_str()),
        )
        .col_expr(
            outbox::Column::Attempts,
            Expr::col(outbox::Column::Attempts).sub(1),
        )
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
