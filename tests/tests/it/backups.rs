//! Backups taken while gifts are being recorded, restored into a new database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::backup::{backup, restore};
use api::config::DatabaseUrl;
use api::db::begin_write;
use api::domain::gifts::{NewGift, record_gift};
use chrono::Utc;
use entity::enums::{GiftStatus, PaymentMethod};
use entity::{Money, receipt};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::gifts::{insert_donor, organization};
use tests::on_both_backends;
use tests::support::{Backend, TestDatabase, spawn_app};

fn check_gift(cents: i64) -> NewGift {
    NewGift::new(
        1,
        Money::usd(cents).unwrap(),
        PaymentMethod::Check,
        GiftStatus::Succeeded,
        1,
        Utc::now(),
    )
}

async fn a_backup_under_write_load_restores_every_gift_committed_before_it(backend: Backend) {
    let app = spawn_app(backend).await;
    insert_donor(&app, 1, "maria@example.org").await;
    let committed: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let db = app.db.clone();
        let committed = committed.clone();
        let stop = stop.clone();
        async move {
            let org = organization();
            let mut cents = 1_000;
            while !stop.load(Ordering::SeqCst) {
                cents += 1;
                let txn = begin_write(&db).await.unwrap();
                let recorded = record_gift(&txn, &org, check_gift(cents)).await.unwrap();
                txn.commit().await.unwrap();
                let number = recorded.receipt.expect("a receipt").number;
                committed.lock().unwrap().push((recorded.gift.id, number));
            }
        }
    });
    while committed.lock().unwrap().len() < 40 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let before_backup = committed.lock().unwrap().clone();
    let file = app._database.dir().join("giving.backup");
    backup(&DatabaseUrl::new(app._database.url.clone()), &file)
        .await
        .unwrap();
    while committed.lock().unwrap().len() < before_backup.len() + 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();

    let fresh = TestDatabase::create(backend).await;
    let fresh_url = DatabaseUrl::new(fresh.url.clone());
    let check = restore(&fresh_url, &file, false).await.unwrap();
    assert!(check.is_current(), "{check}");
    assert!(check.gifts >= before_backup.len() as i64, "{check}");
    assert_eq!(check.gifts, check.receipts, "{check}");

    let restored = api::db::connect(&fresh_url).await.unwrap();
    for (gift_id, number) in &before_backup {
        let receipt = receipt::Entity::find()
            .filter(receipt::Column::GiftId.eq(*gift_id))
            .one(&restored)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("gift {gift_id} and its receipt were restored"));
        assert_eq!(&receipt.number, number);
    }
    // One consistent moment: the receipt numbers restored run without a gap.
    let sequences: Vec<i32> = receipt::Entity::find()
        .order_by_asc(receipt::Column::Sequence)
        .all(&restored)
        .await
        .unwrap()
        .into_iter()
        .map(|receipt| receipt.sequence)
        .collect();
    assert_eq!(sequences, (1..=sequences.len() as i32).collect::<Vec<_>>());
    let _ = restored.close().await;
}

async fn a_restore_refuses_a_database_that_holds_data(backend: Backend) {
    let app = spawn_app(backend).await;
    insert_donor(&app, 1, "maria@example.org").await;
    let txn = begin_write(&app.db).await.unwrap();
    record_gift(&txn, &organization(), check_gift(5_000))
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let url = DatabaseUrl::new(app._database.url.clone());
    let file = app._database.dir().join("giving.backup");
    backup(&url, &file).await.unwrap();

    let again = backup(&url, &file).await.unwrap_err();
    assert!(
        format!("{again:#}").contains("never overwrites"),
        "{again:#}"
    );

    let refused = restore(&url, &file, false).await.unwrap_err();
    assert!(format!("{refused:#}").contains("not empty"), "{refused:#}");
    assert_eq!(api::backup::check(&url).await.unwrap().gifts, 1);

    if backend == Backend::Sqlite {
        let other = TestDatabase::create(backend).await;
        let other_url = DatabaseUrl::new(other.url.clone());
        // Another database with tables, overwritten on request.
        let db = api::db::connect(&other_url).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        let _ = db.close().await;
        let refused = restore(&other_url, &file, false).await.unwrap_err();
        assert!(format!("{refused:#}").contains("--replace"), "{refused:#}");
        let check = restore(&other_url, &file, true).await.unwrap();
        assert_eq!((check.gifts, check.receipts), (1, 1), "{check}");
        assert_eq!(check.last_receipt.as_deref().map(|n| n.len()), Some(11));
    }
}

on_both_backends!(
    a_backup_under_write_load_restores_every_gift_committed_before_it,
    a_restore_refuses_a_database_that_holds_data,
);
