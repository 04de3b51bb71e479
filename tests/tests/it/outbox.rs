use entity::EmailAddress;
use entity::enums::Language;
use mailer::outbox::{Enqueued, NewMessage, enqueue};
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

on_both_backends!(the_same_purpose_is_queued_once);
