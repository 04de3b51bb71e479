use entity::EmailAddress;
use entity::enums::Language;
use entity::outbox;
use mailer::outbox::{Enqueued, NewMessage, enqueue, enqueue_many};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
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

on_both_backends!(
    the_same_purpose_is_queued_once,
    messages_queued_together_are_each_queued_once
);
