//! The Checkout Sessions the donation page created, remembered so that the thank-you
//! page asks the processor only about its own.
//!
//! Each donation writes one row before the donor is sent to Stripe. Written one
//! statement each, every donation paid a commit of its own (on SQLite an fsync, under
//! this process's write turn). Donations that arrive together are written together
//! instead: each one queues its session and waits for the one writer; whoever gets the
//! writer writes every session queued by then in one statement, and tells each donation
//! how it went. No session is answered before its row has committed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use entity::created_checkout_session;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use tokio::sync::oneshot;

use crate::db::write_turn;
use crate::domain::DomainError;

/// How long the thank-you page remembers a session it created (Stripe's sessions
/// expire after a day).
const CREATED_SESSIONS_KEPT_DAYS: i64 = 3;

/// How often a process forgets the sessions past their use, at most.
const FORGET_EVERY_SECS: i64 = 60;

/// The most sessions one statement writes (two values each, well under SQLite's limit
/// of bound values).
const MOST_IN_ONE_STATEMENT: usize = 500;

/// What the writer tells each session it wrote: done, or why not.
type Written = Result<(), String>;

/// The donation page's memory of the sessions it created, for one database.
#[derive(Default)]
pub struct CreatedSessions {
    /// Sessions waiting to be written, each with the way to tell its donation.
    waiting: Mutex<Vec<(String, oneshot::Sender<Written>)>>,
    /// Held by the one donation writing the waiting sessions.
    writer: tokio::sync::Mutex<()>,
    /// When the sessions past their use were last forgotten, in seconds since the epoch.
    forgotten_at: AtomicI64,
}

impl CreatedSessions {
    /// Remembers a session the donation page created; returns once its row has
    /// committed. About once a minute, also forgets those past their use.
    pub async fn remember(
        &self,
        db: &DatabaseConnection,
        session_id: &str,
    ) -> Result<(), DomainError> {
        self.remember_at(db, session_id, Utc::now()).await
    }

    async fn remember_at(
        &self,
        db: &DatabaseConnection,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        loop {
            let (sender, mut told) = oneshot::channel();
            self.lock_waiting().push((session_id.to_owned(), sender));
            let _writer = self.writer.lock().await;
            match told.try_recv() {
                // An earlier writer wrote this session with its own.
                Ok(written) => return written.map_err(unexpected),
                // Still waiting, so still queued (a writer that took it would have told
                // it or dropped its sender): this donation writes everything waiting,
                // its own session among them.
                Err(oneshot::error::TryRecvError::Empty) => {
                    let batch = std::mem::take(&mut *self.lock_waiting());
                    let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
                    let written = self.write(db, &ids, now).await.map_err(|e| e.to_string());
                    for (_, sender) in batch {
                        let _ = sender.send(written.clone());
                    }
                    return written.map_err(unexpected);
                }
                // The writer that took it stopped before writing (its request was
                // dropped): queue it again.
                Err(oneshot::error::TryRecvError::Closed) => continue,
            }
        }
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, Vec<(String, oneshot::Sender<Written>)>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes the sessions, each once, in as few statements as it can.
    async fn write(
        &self,
        db: &DatabaseConnection,
        session_ids: &[&str],
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let _turn = write_turn(db).await?;
        let last = self.forgotten_at.load(Ordering::Relaxed);
        if now.timestamp() - last >= FORGET_EVERY_SECS {
            self.forgotten_at.store(now.timestamp(), Ordering::Relaxed);
            created_checkout_session::Entity::delete_many()
                .filter(
                    created_checkout_session::Column::CreatedAt
                        .lt(now - chrono::Duration::days(CREATED_SESSIONS_KEPT_DAYS)),
                )
                .exec(db)
                .await?;
        }
        let mut ids = session_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(MOST_IN_ONE_STATEMENT) {
            let rows = chunk
                .iter()
                .map(|id| created_checkout_session::ActiveModel {
                    session_id: Set((*id).to_owned()),
                    created_at: Set(now),
                });
            created_checkout_session::Entity::insert_many(rows)
                .on_conflict_do_nothing_on([created_checkout_session::Column::SessionId])
                .exec(db)
                .await?;
        }
        Ok(())
    }
}

fn unexpected(reason: String) -> DomainError {
    DomainError::Unexpected(anyhow::anyhow!(
        "cannot remember a created Checkout Session: {reason}"
    ))
}

/// Whether the donation page created this Checkout Session.
pub async fn created_checkout_session(
    db: &impl ConnectionTrait,
    session_id: &str,
) -> Result<bool, DomainError> {
    Ok(
        created_checkout_session::Entity::find_by_id(session_id.to_owned())
            .one(db)
            .await?
            .is_some(),
    )
}

#[cfg(test)]
// A failed step should stop the test where it happened.
#[allow(clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::db::testing::each_backend;

    async fn remembered(db: &DatabaseConnection) -> Vec<String> {
        let mut ids: Vec<String> = created_checkout_session::Entity::find()
            .all(db)
            .await
            .expect("the sessions")
            .into_iter()
            .map(|s| s.session_id)
            .collect();
        ids.sort();
        ids
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sessions_are_remembered_once_and_forgotten_after_three_days_about_once_a_minute() {
        for test in each_backend().await {
            let db = &test.db;
            let sessions = CreatedSessions::default();
            let start = Utc::now();
            let days = chrono::Duration::days;
            let secs = chrono::Duration::seconds;
            let remember = |id: &'static str, at: DateTime<Utc>| {
                let sessions = &sessions;
                async move { sessions.remember_at(db, id, at).await.expect("remembered") }
            };
            remember("cs_old", start - days(3) - secs(1)).await;
            remember("cs_recent", start - days(3) + secs(5)).await;
            assert_eq!(remembered(db).await, ["cs_old", "cs_recent"]);

            // The first session created now forgets what is over three days old.
            remember("cs_new", start).await;
            assert_eq!(remembered(db).await, ["cs_new", "cs_recent"]);
            assert_eq!(
                sessions.forgotten_at.load(Ordering::Relaxed),
                start.timestamp()
            );

            // Within the minute nothing more is forgotten; a session remembered twice
            // stays one row.
            remember("cs_new", start + secs(59)).await;
            remember("cs_next", start + secs(59)).await;
            assert_eq!(remembered(db).await, ["cs_new", "cs_next", "cs_recent"]);

            // A minute on, what has since passed three days is forgotten.
            remember("cs_later", start + secs(60)).await;
            assert_eq!(remembered(db).await, ["cs_later", "cs_new", "cs_next"]);
            assert_eq!(
                sessions.forgotten_at.load(Ordering::Relaxed),
                (start + secs(60)).timestamp()
            );
            assert!(
                created_checkout_session(db, "cs_next")
                    .await
                    .expect("a lookup")
            );
            assert!(
                !created_checkout_session(db, "cs_recent")
                    .await
                    .expect("a lookup")
            );

            // The donation page's entry point remembers on the process's own clock.
            sessions
                .remember(db, "cs_from_the_page")
                .await
                .expect("remembered");
            assert!(
                created_checkout_session(db, "cs_from_the_page")
                    .await
                    .expect("a lookup")
            );
            test.close().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sessions_created_together_are_each_remembered_before_their_donation_goes_on() {
        for test in each_backend().await {
            let db = &test.db;
            let sessions = Arc::new(CreatedSessions::default());
            // More at once than one statement writes, some of them twice.
            let ids: Vec<String> = (0..MOST_IN_ONE_STATEMENT + 40)
                .map(|i| format!("cs_together_{:04}", i % (MOST_IN_ONE_STATEMENT + 20)))
                .collect();
            let donations: Vec<_> = ids
                .iter()
                .map(|id| {
                    let (sessions, db, id) = (sessions.clone(), db.clone(), id.clone());
                    tokio::spawn(async move {
                        sessions.remember(&db, &id).await.expect("remembered");
                        // Answered only once its own row is there.
                        assert!(
                            created_checkout_session(&db, &id).await.expect("a lookup"),
                            "{id} answered before it was written"
                        );
                    })
                })
                .collect();
            for donation in donations {
                donation.await.expect("the donation's task");
            }
            let mut expected = ids.clone();
            expected.sort();
            expected.dedup();
            assert_eq!(expected.len(), MOST_IN_ONE_STATEMENT + 20);
            assert_eq!(remembered(db).await, expected);
            assert!(sessions.lock_waiting().is_empty());
            test.close().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_session_whose_writer_stopped_before_writing_is_written_all_the_same() {
        for test in each_backend().await {
            let db = &test.db;
            let sessions = Arc::new(CreatedSessions::default());
            // Another donation holds the writer while this one queues its session.
            let writer = sessions.writer.lock().await;
            let donation = {
                let (sessions, db) = (sessions.clone(), db.clone());
                tokio::spawn(async move { sessions.remember(&db, "cs_queued").await })
            };
            let queued = async {
                while sessions.lock_waiting().is_empty() {
                    tokio::task::yield_now().await;
                }
            };
            tokio::time::timeout(std::time::Duration::from_secs(10), queued)
                .await
                .expect("the donation queues its session while the writer is held");
            // That writer takes what is waiting, then its request is dropped before it
            // writes.
            drop(std::mem::take(&mut *sessions.lock_waiting()));
            drop(writer);
            donation
                .await
                .expect("the donation's task")
                .expect("remembered");
            assert_eq!(remembered(db).await, ["cs_queued"]);

            // A session left waiting by a donation that went away is written by the
            // next donation to write.
            let (waiting, mut waiting_told) = oneshot::channel();
            sessions
                .lock_waiting()
                .push(("cs_left_waiting".to_owned(), waiting));
            sessions
                .remember(db, "cs_next_one")
                .await
                .expect("remembered");
            assert_eq!(waiting_told.try_recv(), Ok(Ok(())));
            assert_eq!(
                remembered(db).await,
                ["cs_left_waiting", "cs_next_one", "cs_queued"]
            );
            test.close().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_is_told_to_every_session_in_it() {
        for test in each_backend().await {
            let db = test.db.clone();
            let sessions = CreatedSessions::default();
            let (waiting, mut waiting_told) = oneshot::channel();
            sessions
                .lock_waiting()
                .push(("cs_other".to_owned(), waiting));
            test.close().await;
            let error = sessions
                .remember(&db, "cs_after_close")
                .await
                .expect_err("a closed database remembers nothing");
            let said = format!("{:#}", anyhow::Error::from(error));
            assert!(
                said.contains("cannot remember a created Checkout Session"),
                "{said}"
            );
            assert!(matches!(waiting_told.try_recv(), Ok(Err(_))));
        }
    }
}
