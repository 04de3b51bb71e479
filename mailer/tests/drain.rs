//! `mailer --drain`, the standalone worker, against a queue where one message cannot be
//! built: it fails that message for good, sends the next receipt and exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::db::begin_write;
use api::domain::gifts::{NewGift, record_gift};
use chrono::Utc;
use entity::enums::{DonorKind, GiftStatus, Language, OutboxStatus, PaymentMethod};
use entity::{Money, donor, outbox};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use tests::on_both_backends;
use tests::support::{Backend, TestApp, spawn_app};

async fn donor_with_receipt(app: &TestApp, name: &str, email: &str) -> i64 {
    let now = Utc::now();
    let donor = donor::ActiveModel {
        kind: Set(DonorKind::Individual),
        display_name: Set(name.to_owned()),
        email: Set(Some(email.to_owned())),
        language: Set(Language::English),
        email_consent: Set(true),
        anonymous: Set(false),
        search_text: Set(name.to_lowercase()),
        created_at: Set(now),
        updated_at: Set(now),
        link_version: Set(0),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let org = api::config::Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .org;
    let gift = NewGift::new(
        donor.id,
        Money::usd(5_000).unwrap(),
        PaymentMethod::Card,
        GiftStatus::Succeeded,
        1,
        now,
    );
    let txn = begin_write(&app.db).await.unwrap();
    let recorded = record_gift(&txn, &org, gift).await.unwrap();
    txn.commit().await.unwrap();
    recorded.receipt.unwrap().id
}

async fn mailer_drain_survives_a_name_with_a_line_break(backend: Backend) {
    let app = spawn_app(backend).await;
    // Written straight into the database, as no entry point would let it in.
    donor_with_receipt(
        &app,
        "Rosa\r\nBcc: everyone@example.org",
        "rosa@example.org",
    )
    .await;
    donor_with_receipt(&app, "Ana Ruiz", "ana@example.org").await;
    let mail_dir = tempfile::tempdir().unwrap();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mailer"))
        .arg("--drain")
        .env_clear()
        .env(
            "DOWNLOAD_LINK_KEY",
            "a-link-key-long-enough-to-sign-the-links",
        )
        .env("DATABASE_URL", &app._database.url)
        .env("MAIL_DIR", mail_dir.path())
        .output()
        .unwrap();

    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let files: Vec<_> = std::fs::read_dir(mail_dir.path())
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(files.len(), 1);
    let eml = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(eml.contains("ana@example.org"));
    let statuses: Vec<(String, OutboxStatus)> = outbox::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.to_address, m.status))
        .collect();
    assert!(statuses.contains(&("rosa@example.org".to_owned(), OutboxStatus::Failed)));
    assert!(statuses.contains(&("ana@example.org".to_owned(), OutboxStatus::Sent)));
}

on_both_backends!(mailer_drain_survives_a_name_with_a_line_break);

#[test]
fn a_bad_database_url_is_named_never_echoed() {
    for url in [
        "postgres://giving:hunter2#secret@127.0.0.1:1/giving",
        "postgres://giving@127.0.0.1:1/giving?password=hunter2secret",
        "postgres://giving:hunter2secret@127.0.0.1:1/giving",
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_mailer"))
            .arg("--drain")
            .env_clear()
            .env(
                "DOWNLOAD_LINK_KEY",
                "a-link-key-long-enough-to-sign-the-links",
            )
            .env("DATABASE_URL", url)
            .env("MAIL_DIR", std::env::temp_dir())
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_ne!(output.status.code(), Some(0));
        assert!(said.contains("DATABASE_URL"), "{url}: {said}");
        assert!(!said.contains("hunter2"), "{url} leaked: {said}");
    }
}
