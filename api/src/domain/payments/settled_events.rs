//! The events this process has seen settled, kept by Stripe's id so that a redelivery of
//! one is answered without reading the database.
//!
//! A settled event never changes status again (see `events`), so a copy here never goes
//! stale, whoever else shares the database. What is not here is read from the
//! database, and kept if it is settled. The memory is bounded: two generations of at
//! most `per_generation` ids each; when the newer one fills, the older is dropped and
//! the newer takes its place, so an id delivered again lately stays, and a flood of
//! distinct ids cannot grow it.

use std::collections::HashMap;
use std::sync::Mutex;

use entity::enums::StripeEventStatus;
use sea_orm::ConnectionTrait;

use super::DomainError;
use super::events::{is_final, settled_status};

/// How many ids each generation holds by default: far more than the events a small
/// organization receives in the days Stripe keeps redelivering one.
const PER_GENERATION: usize = 10_000;

pub struct SettledEvents {
    per_generation: usize,
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    newer: HashMap<Box<str>, StripeEventStatus>,
    older: HashMap<Box<str>, StripeEventStatus>,
}

impl Generations {
    fn insert(&mut self, event_id: Box<str>, status: StripeEventStatus, per_generation: usize) {
        if self.newer.len() >= per_generation {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(event_id, status);
    }
}

impl Default for SettledEvents {
    fn default() -> SettledEvents {
        SettledEvents::new(PER_GENERATION)
    }
}

impl SettledEvents {
    pub fn new(per_generation: usize) -> SettledEvents {
        SettledEvents {
            per_generation: per_generation.max(1),
            generations: Mutex::new(Generations::default()),
        }
    }

    /// The status of an event settled for good, from memory or else from the database;
    /// `None` when the event is new, or waiting or failed and so to be tried again.
    pub async fn status(
        &self,
        db: &impl ConnectionTrait,
        event_id: &str,
    ) -> Result<Option<StripeEventStatus>, DomainError> {
        if let Some(status) = self.remembered(event_id) {
            return Ok(Some(status));
        }
        let status = settled_status(db, event_id).await?;
        if let Some(status) = status {
            self.remember(event_id, status);
        }
        Ok(status)
    }

    /// Keeps an event's status once it is committed, if that status is final.
    pub fn remember(&self, event_id: &str, status: StripeEventStatus) {
        if !is_final(status) {
            return;
        }
        let mut generations = self.lock();
        generations.insert(event_id.into(), status, self.per_generation);
    }

    /// The status kept for an event, if any. One found only in the older generation is
    /// moved into the newer, so that what is asked for again stays.
    fn remembered(&self, event_id: &str) -> Option<StripeEventStatus> {
        let mut generations = self.lock();
        if let Some(status) = generations.newer.get(event_id) {
            return Some(*status);
        }
        let (event_id, status) = generations.older.remove_entry(event_id)?;
        generations.insert(event_id, status, self.per_generation);
        Some(status)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // The maps hold plain values: one left by a panicking holder is still whole.
        self.generations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let generations = self.lock();
        generations.newer.len() + generations.older.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::Utc;
    use entity::stripe_event;
    use sea_orm::{ActiveModelTrait, Set};

    use super::*;
    use crate::db::testing::each_backend;

    const EVERY_STATUS: [StripeEventStatus; 5] = [
        StripeEventStatus::Applied,
        StripeEventStatus::Duplicate,
        StripeEventStatus::Ignored,
        StripeEventStatus::Waiting,
        StripeEventStatus::Failed,
    ];

    fn id(status: StripeEventStatus) -> String {
        format!("evt_{}", status.as_str())
    }

    #[test]
    fn keeps_only_the_statuses_that_never_change() {
        let settled = SettledEvents::new(16);
        for status in EVERY_STATUS {
            settled.remember(&id(status), status);
        }
        for status in EVERY_STATUS {
            let kept = settled.remembered(&id(status));
            assert_eq!(kept.is_some(), is_final(status), "{status:?}");
            if let Some(kept) = kept {
                assert_eq!(kept, status);
            }
        }
        assert_eq!(settled.remembered("evt_never_seen"), None);
    }

    #[test]
    fn holds_at_most_two_generations_and_keeps_what_was_asked_for_lately() {
        let settled = SettledEvents::new(3);
        for n in 0..3 {
            settled.remember(&format!("evt_{n}"), StripeEventStatus::Applied);
        }
        assert_eq!(settled.len(), 3);
        // The fourth starts a new generation; the first three become the older one.
        settled.remember("evt_3", StripeEventStatus::Applied);
        assert_eq!(settled.len(), 4);
        // Asked for again, evt_0 moves into the newer generation.
        assert_eq!(
            settled.remembered("evt_0"),
            Some(StripeEventStatus::Applied)
        );
        assert_eq!(settled.len(), 4);
        settled.remember("evt_4", StripeEventStatus::Applied);
        assert_eq!(settled.len(), 5);
        // The newer generation is full (evt_3, evt_0, evt_4): one more drops the older
        // one, which holds only what was not asked for again.
        settled.remember("evt_5", StripeEventStatus::Applied);
        assert_eq!(settled.len(), 4);
        for n in [0, 3, 4, 5] {
            assert!(settled.remembered(&format!("evt_{n}")).is_some(), "evt_{n}");
        }
        for n in [1, 2] {
            assert_eq!(settled.remembered(&format!("evt_{n}")), None, "evt_{n}");
        }
        for n in 6..100 {
            settled.remember(&format!("evt_{n}"), StripeEventStatus::Ignored);
            assert!(settled.len() <= 6, "{} ids kept", settled.len());
        }
    }

    #[test]
    fn a_generation_of_none_still_holds_one() {
        let settled = SettledEvents::new(0);
        settled.remember("evt_a", StripeEventStatus::Applied);
        assert_eq!(
            settled.remembered("evt_a"),
            Some(StripeEventStatus::Applied)
        );
    }

    #[tokio::test]
    async fn reads_the_database_once_for_a_settled_event_and_every_time_for_an_open_one() {
        for test_db in each_backend().await {
            let mut db = test_db.db.clone();
            for status in EVERY_STATUS {
                stripe_event::ActiveModel {
                    event_id: Set(id(status)),
                    event_type: Set("checkout.session.completed".to_owned()),
                    livemode: Set(false),
                    stripe_created_at: Set(Utc::now()),
                    payload: Set(serde_json::json!({})),
                    outcome: Set("stored by the test".to_owned()),
                    processed_at: Set(Utc::now()),
                    status: Set(status),
                    ..Default::default()
                }
                .insert(&db)
                .await
                .unwrap();
            }
            let statements = Arc::new(AtomicUsize::new(0));
            let counter = statements.clone();
            db.set_metric_callback(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            });
            let settled = SettledEvents::new(16);
            for status in EVERY_STATUS {
                let expected = is_final(status).then_some(status);
                for _ in 0..2 {
                    assert_eq!(
                        settled.status(&db, &id(status)).await.unwrap(),
                        expected,
                        "{status:?}"
                    );
                }
            }
            assert_eq!(settled.status(&db, "evt_new").await.unwrap(), None);
            // Three settled events read once each; waiting, failed and new read each time.
            assert_eq!(statements.load(Ordering::SeqCst), 3 + 2 * 2 + 1);
            test_db.close().await;
        }
    }
}
