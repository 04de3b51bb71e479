//! Recording gifts: the one path every gift takes, with its receipt and receipt email.

use api::config::Organization;
use api::db::begin_write;
use api::domain::DomainError;
use api::domain::gifts::{Benefits, NewGift, record_gift};
use chrono::{TimeZone, Utc};
use entity::enums::{GiftStatus, PaymentMethod};
use entity::{Money, gift, outbox, receipt};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};

use tests::on_both_backends;
use tests::support::{Backend, TestApp, spawn_app};

pub fn organization() -> Organization {
    api::config::Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .org
}

pub async fn insert_donor(app: &TestApp, id: i64, email: &str) {
    let sql = format!(
        "INSERT INTO donors (id, kind, display_name, email, language, email_consent, anonymous, search_text, created_at, updated_at) \
         VALUES ({id}, 'individual', 'Donor {id}', '{email}', 'en', FALSE, FALSE, '', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"
    );
    app.db
        .execute_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap();
}

fn check_gift(donor_id: i64, cents: i64) -> NewGift {
    NewGift::new(
        donor_id,
        Money::usd(cents).unwrap(),
        PaymentMethod::Check,
        GiftStatus::Succeeded,
        1,
        Utc.with_ymd_and_hms(2026, 3, 14, 18, 0, 0).unwrap(),
    )
}

async fn a_succeeded_gift_gets_a_numbered_receipt_and_one_email(backend: Backend) {
    let app = spawn_app(backend).await;
    insert_donor(&app, 1, "maria@example.org").await;
    let org = organization();

    let txn = begin_write(&app.db).await.unwrap();
    let recorded = record_gift(&txn, &org, check_gift(1, 25_000))
        .await
        .unwrap();
    txn.commit().await.unwrap();

    let receipt = recorded.receipt.expect("a receipt");
    assert_eq!(receipt.number, "2026-000001");
    assert_eq!(receipt.deductible_minor, 25_000);
    assert!(
        receipt
            .content_text
            .contains("No goods or services were provided")
    );
    assert!(receipt.content_text.contains(&org.ein));
    let messages = outbox::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].idempotency_key,
        format!("receipt:{}", receipt.id)
    );
}

async fn benefits_reduce_the_deductible_amount(backend: Backend) {
    let app = spawn_app(backend).await;
    insert_donor(&app, 1, "maria@example.org").await;
    let mut gala = check_gift(1, 20_000);
    gala.benefits = Some(Benefits {
        value_minor: 8_500,
        description: "dinner at the spring gala".into(),
    });
    let txn = begin_write(&app.db).await.unwrap();
    let receipt = record_gift(&txn, &organization(), gala)
        .await
        .unwrap()
        .receipt
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(receipt.deductible_minor, 11_500);
    assert!(receipt.content_text.contains("dinner at the spring gala"));
    assert!(receipt.content_text.contains("$85.00") && receipt.content_text.contains("$115.00"));
}

async fn a_refused_gift_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    insert_donor(&app, 1, "maria@example.org").await;
    let org = organization();
    let mut too_much_benefit = check_gift(1, 5_000);
    too_much_benefit.benefits = Some(Benefits {
        value_minor: 6_000,
        description: "a jacket".into(),
    });
    let mut unknown_fund = check_gift(1, 5_000);
    unknown_fund.fund_id = 999;
    let mut future = check_gift(1, 5_000);
    future.received_at = Utc::now() + chrono::Duration::days(30);
    for (gift, field) in [
        (check_gift(42, 5_000), "donorId"),
        (unknown_fund, "fundId"),
        (too_much_benefit, "benefitsValue"),
        (future, "receivedAt"),
    ] {
        let txn = begin_write(&app.db).await.unwrap();
        let error = record_gift(&txn, &org, gift).await.unwrap_err();
        txn.rollback().await.unwrap();
        assert!(
            matches!(error, DomainError::Validation { field: ref f, .. } if f == field),
            "{error:?}"
        );
    }
    assert_eq!(gift::Entity::find().count(&app.db).await.unwrap(), 0);
    assert_eq!(receipt::Entity::find().count(&app.db).await.unwrap(), 0);
    assert_eq!(outbox::Entity::find().count(&app.db).await.unwrap(), 0);
}

async fn receipt_numbers_stay_gapless_under_concurrent_gifts(backend: Backend) {
    let app = spawn_app(backend).await;
    insert_donor(&app, 1, "maria@example.org").await;
    let org = organization();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let db = app.db.clone();
        let org = org.clone();
        tasks.push(tokio::spawn(async move {
            let txn = begin_write(&db).await.unwrap();
            let recorded = record_gift(&txn, &org, check_gift(1, 1_000 + i))
                .await
                .unwrap();
            // Every third transaction is abandoned: its number must not be lost.
            if i % 3 == 0 {
                txn.rollback().await.unwrap();
            } else {
                txn.commit().await.unwrap();
            }
            recorded.gift.id
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut sequences: Vec<i32> = receipt::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.sequence)
        .collect();
    sequences.sort_unstable();
    let committed = (0..20).filter(|i| i % 3 != 0).count() as i32;
    assert_eq!(sequences, (1..=committed).collect::<Vec<_>>());
}

on_both_backends!(
    a_succeeded_gift_gets_a_numbered_receipt_and_one_email,
    benefits_reduce_the_deductible_amount,
    a_refused_gift_changes_nothing,
    receipt_numbers_stay_gapless_under_concurrent_gifts,
);
