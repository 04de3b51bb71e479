use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, Statement};

use tests::on_both_backends;
use tests::support::{Backend, TestDatabase};

const TABLES: [&str; 15] = [
    "donors",
    "funds",
    "campaigns",
    "segments",
    "appeals",
    "pledges",
    "gifts",
    "giving_tiers",
    "tier_memberships",
    "receipt_counters",
    "receipts",
    "outbox",
    "stripe_events",
    "api_tokens",
    "audit_log",
];

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn table_count(db: &sea_orm::DatabaseConnection, backend: Backend) -> i64 {
    let list = TABLES.map(|t| format!("'{t}'")).join(",");
    let sql = match backend {
        Backend::Sqlite => {
            format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ({list})")
        }
        Backend::Postgres => format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ({list})"
        ),
    };
    count(db, &sql).await
}

async fn migrations_go_up_down_and_up_again(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let db = Database::connect(database.url.as_str()).await.unwrap();

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(table_count(&db, backend).await, TABLES.len() as i64);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM funds WHERE code = 'GENERAL'").await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT threshold_minor FROM giving_tiers WHERE name = 'Circle of Friends'"
        )
        .await,
        50_000
    );

    Migrator::down(&db, None).await.unwrap();
    assert_eq!(table_count(&db, backend).await, 0);
    assert!(
        Migrator::get_pending_migrations(&db).await.unwrap().len() == Migrator::migrations().len()
    );

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(table_count(&db, backend).await, TABLES.len() as i64);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM giving_tiers").await,
        1,
        "the seed runs once per up"
    );
    db.close().await.unwrap();
}

async fn migrating_twice_changes_nothing(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let db = Database::connect(database.url.as_str()).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM funds").await, 1);
    db.close().await.unwrap();
}

async fn receipt_pdfs_are_stored_without_compressing_them_again(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let db = Database::connect(database.url.as_str()).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    if backend == Backend::Postgres {
        let storage = "SELECT COUNT(*) FROM pg_attribute \
             WHERE attrelid = 'receipts'::regclass AND attname = 'content_pdf' AND attstorage = 'e'";
        assert_eq!(count(&db, storage).await, 1);
        down_to_before(&db, "m20261203_010001_receipt_pdf_storage").await;
        assert_eq!(count(&db, storage).await, 0);
        Migrator::up(&db, None).await.unwrap();
        assert_eq!(count(&db, storage).await, 1);
    }
    db.close().await.unwrap();
}

/// The large values each paid event writes are compressed with LZ4 on a PostgreSQL
/// that has it (this one does: Debian's build), and go back to the server's default
/// when the migration is rolled back.
async fn large_values_each_event_writes_are_compressed_with_lz4(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let db = Database::connect(database.url.as_str()).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    if backend == Backend::Postgres {
        let with = |method: &str| {
            format!(
                "SELECT COUNT(*) FROM pg_attribute \
                 WHERE attcompression = '{method}' AND (attrelid, attname) IN ( \
                 ('stripe_events'::regclass, 'payload'), ('receipts'::regclass, 'content_text'), \
                 ('receipts'::regclass, 'content_html'), ('receipts'::regclass, 'document'), \
                 ('outbox'::regclass, 'payload'))"
            )
        };
        assert_eq!(count(&db, &with("l")).await, 5);
        down_to_before(&db, "m20261207_010001_lz4_for_written_documents").await;
        assert_eq!(count(&db, &with("l")).await, 0);
        assert_eq!(count(&db, &with("")).await, 5, "the server's default again");
        Migrator::up(&db, None).await.unwrap();
        assert_eq!(count(&db, &with("l")).await, 5);
    }
    db.close().await.unwrap();
}

/// Rolls back `name` and every migration after it.
async fn down_to_before(db: &sea_orm::DatabaseConnection, name: &str) {
    let after = Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name() == name)
        .expect("the migration exists");
    let steps = u32::try_from(after + 1).unwrap();
    Migrator::down(db, Some(steps)).await.unwrap();
}

/// A statement counting the indexes named `name` (0 or 1).
fn index_count(backend: Backend, name: &str) -> String {
    match backend {
        Backend::Sqlite => {
            format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = '{name}'")
        }
        Backend::Postgres => format!("SELECT COUNT(*) FROM pg_indexes WHERE indexname = '{name}'"),
    }
}

/// The mailer's claim reads off `ix_outbox_claim`, which replaced `ix_outbox_due`; the
/// migration goes down and up again on both databases.
async fn the_outbox_claim_index_replaces_the_due_index(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let db = Database::connect(database.url.as_str()).await.unwrap();
    let index = |name: &str| index_count(backend, name);
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(count(&db, &index("ix_outbox_claim")).await, 1);
    assert_eq!(count(&db, &index("ix_outbox_due")).await, 0);

    down_to_before(&db, "m20261204_010001_outbox_claim_order").await;
    assert_eq!(count(&db, &index("ix_outbox_claim")).await, 0);
    assert_eq!(count(&db, &index("ix_outbox_due")).await, 1);

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(count(&db, &index("ix_outbox_claim")).await, 1);
    assert_eq!(count(&db, &index("ix_outbox_due")).await, 0);
    db.close().await.unwrap();
}

/// An appeal's results read its pledges off `ix_pledges_appeal`; the migration goes down
/// and up again on both databases.
async fn the_pledges_by_appeal_index_goes_down_and_up_again(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let db = Database::connect(database.url.as_str()).await.unwrap();
    let index = index_count(backend, "ix_pledges_appeal");
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(count(&db, &index).await, 1);
    down_to_before(&db, "m20261205_010001_pledges_by_appeal").await;
    assert_eq!(count(&db, &index).await, 0);
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(count(&db, &index).await, 1);
    db.close().await.unwrap();
}

on_both_backends!(
    migrations_go_up_down_and_up_again,
    large_values_each_event_writes_are_compressed_with_lz4,
    migrating_twice_changes_nothing,
    receipt_pdfs_are_stored_without_compressing_them_again,
    the_outbox_claim_index_replaces_the_due_index,
    the_pledges_by_appeal_index_goes_down_and_up_again
);
