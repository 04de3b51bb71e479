use entity::EmailAddress;
use entity::enums::Language;
use entity::outbox;
use mailer::outbox::{Enqueued, NewMessage, claim_plan, enqueue, enqueue_many};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::json;

use tests::on_both_backends;
use tests::support::{Backend, spawn_app};

fn message(key: &str) -> NewMessage {
    NewMessage {
        idempotency_key: key.to_owned(),
        kind: "receipt".to_owned(),
        donor_id: None,
        to_address: EmailAddress::parse("maria@example.org").unwrap(),
        to_name: Some("María López".to_owned()),
        language: Language::Spanish,
        payload: json!({ "receipt_id": 1 }),
        not_before: None,
    }
}

async fn the_same_purpose_is_queued_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = enqueue(&app.db, message("receipt:1")).await.unwrap();
    let second = enqueue(&app.db, message("receipt:1")).await.unwrap();
    let other = enqueue(&app.db, message("receipt:2")).await.unwrap();
    assert!(matches!(first, Enqueued::Queued(_)));
    assert_eq!(second, Enqueued::AlreadyQueued(first.id()));
    assert_ne!(other.id(), first.id());
}

async fn messages_queued_together_are_each_queued_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = enqueue(&app.db, message("receipt:1")).await.unwrap();
    let mut again = message("receipt:1");
    again.to_name = Some("Someone Else".to_owned());
    let mut later = message("receipt:3");
    later.language = Language::French;
    let queued = enqueue_many(
        &app.db,
        vec![message("receipt:2"), again, later, message("receipt:2")],
    )
    .await
    .unwrap();
    assert_eq!(queued, 2);
    assert_eq!(enqueue_many(&app.db, Vec::new()).await.unwrap(), 0);

    let rows = outbox::Entity::find()
        .filter(outbox::Column::IdempotencyKey.starts_with("receipt:"))
        .order_by_asc(outbox::Column::IdempotencyKey)
        .all(&app.db)
        .await
        .unwrap();
    let keys: Vec<&str> = rows.iter().map(|r| r.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["receipt:1", "receipt:2", "receipt:3"]);
    // The message queued first stands as it was.
    assert_eq!(rows[0].id, first.id());
    assert_eq!(rows[0].to_name.as_deref(), Some("María López"));
    assert_eq!(rows[2].language, Language::French);
    for row in &rows {
        assert_eq!(row.status.as_str(), "pending");
        assert_eq!(row.attempts, 0);
        assert_eq!(row.to_address, "maria@example.org");
        assert_eq!(row.payload, json!({ "receipt_id": 1 }));
    }
}

/// Queues `count` messages keyed `prefix:N`, a thousand to a statement, each due at
/// some time in the last few hours, in no order of their ids (as retries are).
async fn queue(db: &sea_orm::DatabaseConnection, prefix: &str, count: usize) {
    let now = chrono::Utc::now();
    let messages: Vec<NewMessage> = (0..count)
        .map(|i| NewMessage {
            not_before: Some(now - chrono::Duration::seconds((i as i64 * 7_919) % 10_000)),
            ..message(&format!("{prefix}:{i}"))
        })
        .collect();
    for chunk in messages.chunks(1_000) {
        enqueue_many(db, chunk.to_vec()).await.unwrap();
    }
}

/// An appeal queues tens of thousands of messages at once, after the table's statistics
/// were gathered while few were due: the claim must still read its batch off
/// `ix_outbox_claim` in order and stop there, not read and sort every due message for
/// each batch. (In an outbox this small PostgreSQL prefers the index even without the
/// claim's settings; at 100,000 donors, 70,000 appeals queued, it chose a bitmap scan
/// and a sort of every due message.)
async fn a_claim_reads_its_batch_in_order_after_a_large_queueing(backend: Backend) {
    let app = spawn_app(backend).await;
    queue(&app.db, "receipt", 20_000).await;
    app.db
        .execute_unprepared("UPDATE outbox SET status = 'sent' WHERE id > 30")
        .await
        .unwrap();
    app.db.execute_unprepared("ANALYZE outbox").await.unwrap();
    queue(&app.db, "appeal:1", 10_000).await;
    let plan = claim_plan(&app.db, 50).await.unwrap().join("\n");
    assert!(plan.contains("ix_outbox_claim"), "{plan}");
    match backend {
        Backend::Postgres => {
            assert!(!plan.contains("Bitmap"), "{plan}");
            assert!(!plan.contains("Sort"), "{plan}");
        }
        Backend::Sqlite => assert!(!plan.contains("TEMP B-TREE"), "{plan}"),
    }
    // Explaining the claim claims nothing.
    let claimed = outbox::Entity::find()
        .filter(outbox::Column::Status.eq("sending"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(claimed, 0);
}

on_both_backends!(
    the_same_purpose_is_queued_once,
    messages_queued_together_are_each_queued_once,
    a_claim_reads_its_batch_in_order_after_a_large_queueing
);
