//! Gifts Stripe delivers at the same moment, recorded in one transaction on SQLite.
//!
//! SQLite takes one writer at a time: recorded one transaction each, every checkout and
//! installment waited for the write turn and paid a `BEGIN` and a commit of its own.
//! Deliveries that arrive together are recorded together instead: each one queues its
//! event and waits for the one writer; whoever gets the writer records every event
//! queued by then, up to `MOST_TOGETHER`, in one transaction (`record_together`), and
//! each delivery is answered with its own event's outcome only after the commit that
//! holds it. A delivery whose event another writer took stops waiting for the writer as
//! soon as it is told, so that the next writer is always one with an event still queued.
//! One delivery at a time is recorded as before, alone. Refunds, disputes and
//! subscription changes are always recorded alone (`records_with_others`).
//!
//! On PostgreSQL every event is recorded alone as it arrives: its transactions run side
//! by side, and one transaction for several would put their statements in a row on one
//! connection (measured: fewer processor microseconds an event, fewer events a second).
//!
//! The writing runs in a task of its own, which holds the writer until it ends, so a
//! delivery whose client hangs up mid-way stops none of the events it took.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sea_orm::DatabaseConnection;
use tokio::sync::oneshot;

use super::{
    ClubPolicy, Currency, DomainError, EventOutcome, Organization, ProcessorEvent,
    record_processor_event, record_together, records_with_others,
};

/// The most events one transaction records: enough for every delivery a busy moment
/// brings at once, few enough that the rows it holds are not held for long.
const MOST_TOGETHER: usize = 32;

/// What the writer tells each delivery: its own event's outcome.
type Told = oneshot::Sender<Result<EventOutcome, DomainError>>;

/// Whose books the events are recorded in.
struct Books {
    org: Organization,
    currency: Currency,
    policy: ClubPolicy,
}

/// The events of one process waiting to be recorded, and the one writer that records
/// them.
pub struct EventWriter {
    books: Arc<Books>,
    waiting: Mutex<VecDeque<(ProcessorEvent, Told)>>,
    /// Whether events are recorded together at all (see `EventWriter::new`).
    together: bool,
    /// Held by the task recording a batch, from before it takes the batch until the
    /// batch is committed.
    writer: Arc<tokio::sync::Mutex<()>>,
    written: Arc<Written>,
}

/// How many transactions recorded more than one event, and how many events they held.
#[derive(Debug, Default)]
struct Written {
    batches: AtomicU64,
    events: AtomicU64,
}

/// What the task that recorded an event told of it.
fn told_outcome(
    told: Result<Result<EventOutcome, DomainError>, oneshot::error::RecvError>,
) -> Result<EventOutcome, DomainError> {
    told.unwrap_or_else(|_| {
        Err(DomainError::Unexpected(anyhow::anyhow!(
            "the task recording this event stopped before it said how it went"
        )))
    })
}

impl EventWriter {
    /// A writer for one process's events; with `together` false, each event is recorded
    /// alone as it arrives.
    pub fn new(org: Organization, currency: Currency, policy: ClubPolicy, together: bool) -> Self {
        EventWriter {
            books: Arc::new(Books {
                org,
                currency,
                policy,
            }),
            waiting: Mutex::default(),
            together,
            writer: Arc::default(),
            written: Arc::default(),
        }
    }

    /// Records a processor event, with every event delivered at the same moment that may
    /// go with it, and says what it came to, once the transaction that holds it has
    /// committed.
    pub async fn record(
        &self,
        db: &DatabaseConnection,
        event: ProcessorEvent,
    ) -> Result<EventOutcome, DomainError> {
        let books = &self.books;
        if !self.together || !records_with_others(&event, books.currency) {
            return record_processor_event(db, &books.org, books.currency, &books.policy, event)
                .await;
        }
        let (told, mut outcome) = oneshot::channel();
        self.lock_waiting().push_back((event, told));
        // A writer that took this delivery's event with its own tells its outcome; this
        // delivery then stops waiting for the writer, so that the next writer is one
        // with an event still queued.
        let writer = tokio::select! {
            biased;
            told = &mut outcome => return told_outcome(told),
            writer = Arc::clone(&self.writer).lock_owned() => writer,
        };
        // Empty when an earlier writer took this delivery's event with its own; then
        // its outcome comes from that writer's task.
        let mut batch: Vec<_> = {
            let mut waiting = self.lock_waiting();
            let taken = waiting.len().min(MOST_TOGETHER);
            waiting.drain(..taken).collect()
        };
        // In the order of their ids, as every process takes them: two processes given
        // the same events at once claim them in one order, so neither claims one the
        // other has claimed while holding one the other waits for.
        batch.sort_by(|(a, _), (b, _)| a.id.cmp(&b.id));
        if !batch.is_empty() {
            let db = db.clone();
            let books = Arc::clone(books);
            let written = Arc::clone(&self.written);
            tokio::spawn(async move {
                let _writer = writer;
                let (events, told): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let count = events.len() as u64;
                let recorded =
                    record_together(&db, &books.org, books.currency, &books.policy, events).await;
                if recorded.together {
                    written.batches.fetch_add(1, Ordering::Relaxed);
                    written.events.fetch_add(count, Ordering::Relaxed);
                }
                for (told, outcome) in told.into_iter().zip(recorded.outcomes) {
                    // A delivery whose client hung up is told nothing; Stripe sends the
                    // event again and finds it recorded.
                    let _ = told.send(outcome);
                }
            });
        }
        told_outcome(outcome.await)
    }

    /// How many transactions have recorded more than one event, and how many events
    /// those held, since this process started.
    pub fn written_together(&self) -> (u64, u64) {
        (
            self.written.batches.load(Ordering::Relaxed),
            self.written.events.load(Ordering::Relaxed),
        )
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, VecDeque<(ProcessorEvent, Told)>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
// A failed step should stop the test where it happened.
#[allow(clippy::expect_used)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use entity::enums::StripeEventStatus;
    use entity::{Money, donor, gift, outbox, receipt, stripe_event};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    use super::*;
    use crate::db::testing::each_backend;
    use crate::domain::payments::{CheckoutPayment, Designation, PayerDetails, PaymentEffect};

    fn organization() -> Organization {
        Organization {
            legal_name: "Casa de Derechos".to_owned(),
            ein: "12-3456789".to_owned(),
            address: "100 Main St, Springfield".to_owned(),
            timezone: chrono_tz::UTC,
            tribute_notifications_per_day: 10,
        }
    }

    fn writer() -> Arc<EventWriter> {
        Arc::new(EventWriter::new(
            organization(),
            Currency::Usd,
            ClubPolicy::default(),
            true,
        ))
    }

    /// `checkout.session.completed` of a paid one-off gift; without an email, a payer
    /// the service cannot name.
    fn checkout(tag: &str, email: Option<&str>, amount: Money) -> ProcessorEvent {
        let id = format!("evt_{tag}");
        ProcessorEvent {
            payload: serde_json::json!({ "id": id, "type": "checkout.session.completed" }),
            id,
            event_type: "checkout.session.completed".to_owned(),
            livemode: false,
            created_at: Utc::now(),
            effect: PaymentEffect::CheckoutCompleted(CheckoutPayment {
                session_id: format!("cs_{tag}"),
                payment_intent_id: Some(format!("pi_{tag}")),
                amount,
                paid: true,
                created_at: Utc::now(),
                payer: PayerDetails {
                    email: email.map(str::to_owned),
                    name: Some("Ana Ruiz".to_owned()),
                    ..PayerDetails::default()
                },
                designation: Designation::default(),
            }),
        }
    }

    fn usd(minor: i64) -> Money {
        Money::usd(minor).expect("an amount")
    }

    /// Records each event from a delivery of its own, in the order given, while the
    /// writer is held, so that all of them wait together; then lets the writer go and
    /// gives each delivery's outcome.
    async fn delivered_together(
        writer: &Arc<EventWriter>,
        db: &DatabaseConnection,
        events: Vec<ProcessorEvent>,
    ) -> Vec<Result<EventOutcome, DomainError>> {
        let held = Arc::clone(&writer.writer).lock_owned().await;
        let mut deliveries = Vec::new();
        for (n, event) in events.into_iter().enumerate() {
            let (delivering, db) = (Arc::clone(writer), db.clone());
            deliveries.push(tokio::spawn(
                async move { delivering.record(&db, event).await },
            ));
            let mut waited = 0;
            while writer.lock_waiting().len() < n + 1 {
                assert!(waited < 1_000, "delivery {n} was never queued");
                tokio::time::sleep(Duration::from_millis(10)).await;
                waited += 1;
            }
        }
        drop(held);
        let mut outcomes = Vec::new();
        for delivery in deliveries {
            outcomes.push(delivery.await.expect("the delivery ran to its end"));
        }
        outcomes
    }

    fn applied(outcome: &Result<EventOutcome, DomainError>) -> bool {
        matches!(
            outcome,
            Ok(EventOutcome::Recorded {
                status: StripeEventStatus::Applied,
                ..
            })
        )
    }

    /// Each gift's amount with its receipt's sequence number, in the order the gifts
    /// were recorded.
    async fn receipted_gifts(db: &DatabaseConnection) -> Vec<(i64, i32)> {
        let gifts = gift::Entity::find()
            .order_by_asc(gift::Column::Id)
            .all(db)
            .await
            .expect("the gifts");
        let mut receipted = Vec::new();
        for gift in gifts {
            let receipt = receipt::Entity::find()
                .filter(receipt::Column::GiftId.eq(gift.id))
                .one(db)
                .await
                .expect("a receipt")
                .expect("every gift has its receipt");
            receipted.push((gift.amount_minor, receipt.sequence));
        }
        receipted
    }

    async fn count_of<E>(db: &DatabaseConnection) -> u64
    where
        E: EntityTrait,
        E::Model: Sync,
    {
        use sea_orm::PaginatorTrait;
        E::find().count(db).await.expect("a count")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gifts_delivered_together_are_recorded_in_one_transaction_each_as_it_would_be_alone() {
        for test in each_backend().await {
            let db = &test.db;
            let writer = writer();
            let ana = Some("ana@example.org");
            let mut carla = checkout("carla", Some("carla@example.org"), usd(50_000));
            carla.livemode = true;
            let outcomes = delivered_together(
                &writer,
                db,
                vec![
                    checkout("ana_1", ana, usd(2_500)),
                    checkout("ben", Some("ben@example.org"), usd(10_000)),
                    checkout("ana_2", ana, usd(5_000)),
                    // Stripe sent the first one again before it was answered.
                    checkout("ana_1", ana, usd(2_500)),
                    carla,
                ],
            )
            .await;

            assert_eq!(writer.written_together(), (1, 5));
            for n in [0, 1, 2, 4] {
                assert!(applied(&outcomes[n]), "event {n}: {:?}", outcomes[n]);
            }
            assert!(
                matches!(
                    outcomes[3],
                    Ok(EventOutcome::AlreadyRecorded(StripeEventStatus::Applied))
                ),
                "{:?}",
                outcomes[3]
            );
            // One gift a checkout, receipted in the order of the events' ids without a
            // gap; one donor a person, one event row an event, one email a receipt.
            assert_eq!(
                receipted_gifts(db).await,
                [(2_500, 1), (5_000, 2), (10_000, 3), (50_000, 4)]
            );
            assert_eq!(count_of::<donor::Entity>(db).await, 3);
            let events = stripe_event::Entity::find()
                .all(db)
                .await
                .expect("the events");
            assert_eq!(events.len(), 4);
            let live: Vec<&str> = events
                .iter()
                .filter(|e| e.livemode)
                .map(|e| e.event_id.as_str())
                .collect();
            assert_eq!(
                live,
                ["evt_carla"],
                "each event's row says whether it was live"
            );
            assert!(
                events
                    .iter()
                    .all(|e| e.status == StripeEventStatus::Applied && e.outcome != "processing"),
                "{events:?}"
            );
            assert_eq!(count_of::<outbox::Entity>(db).await, 4);
            test.close().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_that_cannot_apply_sends_its_batch_back_to_be_recorded_one_by_one() {
        for test in each_backend().await {
            let db = &test.db;
            let writer = writer();
            let outcomes = delivered_together(
                &writer,
                db,
                vec![
                    checkout("ana", Some("ana@example.org"), usd(2_500)),
                    // No email and no customer: nobody to credit the gift to.
                    checkout("nobody", None, usd(7_500)),
                    checkout("ben", Some("ben@example.org"), usd(10_000)),
                ],
            )
            .await;

            assert_eq!(writer.written_together(), (0, 0));
            assert!(applied(&outcomes[0]), "{:?}", outcomes[0]);
            assert!(
                matches!(
                    &outcomes[1],
                    Ok(EventOutcome::Recorded {
                        status: StripeEventStatus::Failed,
                        ..
                    })
                ),
                "{:?}",
                outcomes[1]
            );
            assert!(applied(&outcomes[2]), "{:?}", outcomes[2]);
            // Nothing of the rolled-back batch stays, and nothing is recorded twice.
            assert_eq!(receipted_gifts(db).await, [(2_500, 1), (10_000, 2)]);
            assert_eq!(count_of::<stripe_event::Entity>(db).await, 3);
            assert_eq!(count_of::<outbox::Entity>(db).await, 2);
            test.close().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_recorded_alone_does_not_wait_for_the_writer() {
        for test in each_backend().await {
            let db = &test.db;
            let mut unhandled = checkout("unhandled", Some("ana@example.org"), usd(100));
            unhandled.effect = PaymentEffect::Unhandled;
            let alone = Arc::new(EventWriter::new(
                organization(),
                Currency::Usd,
                ClubPolicy::default(),
                false,
            ));
            let gift = checkout("alone", Some("ana@example.org"), usd(100));
            // An event that never goes with others; a gift, where nothing goes together.
            for (writer, event) in [(writer(), unhandled), (alone, gift)] {
                let _held = Arc::clone(&writer.writer).lock_owned().await;
                let id = event.id.clone();
                let outcome =
                    tokio::time::timeout(Duration::from_secs(30), writer.record(db, event))
                        .await
                        .expect("recorded while the writer is held");
                assert!(
                    matches!(outcome, Ok(EventOutcome::Recorded { .. })),
                    "{id}: {outcome:?}"
                );
                assert!(writer.lock_waiting().is_empty(), "{id}");
            }
            test.close().await;
        }
    }

    /// A delivery whose event a writer took with its own is answered when that writer
    /// tells its outcome, without waiting its turn for the writer: otherwise each
    /// delivery answered would still queue for the writer, every writer after it would
    /// find only the one event that arrived meanwhile, and events would never go
    /// together.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delivery_whose_event_another_writer_took_does_not_wait_for_the_writer() {
        let writer = writer();
        let held = Arc::clone(&writer.writer).lock_owned().await;
        let delivery = tokio::spawn({
            let writer = Arc::clone(&writer);
            async move {
                let db = DatabaseConnection::default();
                let event = checkout("taken", Some("ana@example.org"), usd(100));
                writer.record(&db, event).await
            }
        });
        let mut waited = 0;
        let told = loop {
            if let Some((_, told)) = writer.lock_waiting().pop_front() {
                break told;
            }
            assert!(waited < 1_000, "the delivery was never queued");
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        };
        told.send(Ok(EventOutcome::AlreadyRecorded(
            StripeEventStatus::Applied,
        )))
        .expect("the delivery waits for its outcome");

        let outcome = tokio::time::timeout(Duration::from_secs(30), delivery)
            .await
            .expect("answered while the writer is held")
            .expect("the delivery ran to its end");
        assert!(
            matches!(
                outcome,
                Ok(EventOutcome::AlreadyRecorded(StripeEventStatus::Applied))
            ),
            "{outcome:?}"
        );
        drop(held);
    }

    /// Events are recorded in one transaction only when there are several and every one
    /// of them may go with others.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_event_or_one_that_never_goes_with_others_is_recorded_alone() {
        for test in each_backend().await {
            let db = &test.db;
            let org = organization();
            let policy = ClubPolicy::default();
            let mut unhandled = checkout("unhandled", Some("ben@example.org"), usd(100));
            unhandled.effect = PaymentEffect::Unhandled;
            let batches = [
                vec![checkout("one", Some("ana@example.org"), usd(2_500))],
                vec![
                    checkout("two", Some("ana@example.org"), usd(5_000)),
                    unhandled,
                ],
            ];
            for events in batches {
                let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
                let recorded = record_together(db, &org, Currency::Usd, &policy, events).await;
                assert!(!recorded.together, "{ids:?}");
                assert_eq!(recorded.outcomes.len(), ids.len());
                for outcome in &recorded.outcomes {
                    assert!(
                        matches!(outcome, Ok(EventOutcome::Recorded { .. })),
                        "{ids:?}: {outcome:?}"
                    );
                }
            }
            assert_eq!(receipted_gifts(db).await, [(2_500, 1), (5_000, 2)]);
            test.close().await;
        }
    }

    #[test]
    fn only_gifts_in_the_organization_s_currency_go_with_others() {
        let gift = checkout("ana", Some("ana@example.org"), usd(2_500));
        assert!(records_with_others(&gift, Currency::Usd));
        let euros =
            Money::new(2_500, Currency::parse("EUR").expect("a currency")).expect("an amount");
        let abroad = checkout("eur", Some("ana@example.org"), euros);
        assert!(!records_with_others(&abroad, Currency::Usd));
        let mut unhandled = gift.clone();
        unhandled.effect = PaymentEffect::Unhandled;
        assert!(!records_with_others(&unhandled, Currency::Usd));
    }
}
