use api::bench_data::{BenchPlan, seed_bench};
use api::config::Config;
use api::domain::{Actor, DomainError, receipts};
use chrono::{NaiveDate, Utc};
use entity::enums::{DonorKind, Language};
use entity::{donor, gift, pledge, receipt, tier_membership};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait,
    QueryOrder, Set, Statement, TransactionTrait,
};

use tests::on_both_backends;
use tests::support::{Backend, spawn_app};

const DONORS: usize = 300;

fn plan(seed: u64) -> BenchPlan {
    BenchPlan {
        donors: DONORS,
        seed,
        as_of: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
    }
}

fn org() -> api::config::Organization {
    Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .org
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Everything a donor, gift and receipt is, in id order, to compare two runs.
async fn fingerprint(db: &DatabaseConnection) -> Vec<String> {
    let mut lines = Vec::new();
    for d in donor::Entity::find()
        .order_by_asc(donor::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        lines.push(format!(
            "{} {} {:?} {:?}",
            d.id, d.display_name, d.email, d.language
        ));
    }
    for g in gift::Entity::find()
        .order_by_asc(gift::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        lines.push(format!(
            "{} {} {} {} {} {:?} {:?} {:?} {}",
            g.id,
            g.donor_id,
            g.amount_minor,
            g.status,
            g.fund_id,
            g.campaign_id,
            g.appeal_id,
            g.pledge_id,
            g.received_at.timestamp()
        ));
    }
    for r in receipt::Entity::find()
        .order_by_asc(receipt::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        lines.push(format!(
            "{} {} {:?} {}",
            r.id, r.number, r.gift_id, r.status
        ));
    }
    lines
}

async fn the_bench_organization_is_realistic_and_consistent(backend: Backend) {
    let app = spawn_app(backend).await;
    let summary = seed_bench(&app.db, &org(), plan(7)).await.unwrap();
    let db = &app.db;

    assert_eq!(
        donor::Entity::find().count(db).await.unwrap() as usize,
        DONORS
    );
    assert_eq!(
        gift::Entity::find().count(db).await.unwrap() as usize,
        summary.gifts
    );
    assert_eq!(
        receipt::Entity::find().count(db).await.unwrap() as usize,
        summary.receipts
    );
    let gifts_per_donor = summary.gifts as f64 / DONORS as f64;
    assert!((6.0..16.0).contains(&gifts_per_donor), "{summary}");
    assert!(
        (15..=45).contains(&summary.pledges),
        "about a tenth pledge: {summary}"
    );
    assert!(summary.campaigns >= 10 && summary.appeals == 3 * summary.campaigns);
    assert!(count(db, "SELECT COUNT(*) FROM gifts WHERE appeal_id IS NOT NULL").await > 0);
    let one_gift = count(
        db,
        "SELECT COUNT(*) FROM (SELECT donor_id FROM gifts GROUP BY donor_id HAVING COUNT(*) = 1) t",
    )
    .await;
    let many_gifts = count(
        db,
        "SELECT COUNT(*) FROM (SELECT donor_id FROM gifts GROUP BY donor_id HAVING COUNT(*) > 30) t",
    )
    .await;
    assert!(
        one_gift > 60 && many_gifts > 3,
        "a long tail: {one_gift} once, {many_gifts} often"
    );

    // Installments are gifts of their pledge, monthly from its start.
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM gifts g JOIN pledges p ON p.id = g.pledge_id \
             WHERE g.amount_minor <> p.installment_minor OR g.donor_id <> p.donor_id",
        )
        .await,
        0
    );
    assert_eq!(
        count(db, "SELECT COUNT(DISTINCT pledge_id) FROM gifts").await as usize,
        summary.pledges
    );

    // The Circle of Friends is exactly the donors whose pledge reaches $500 a year.
    assert_eq!(
        tier_membership::Entity::find().count(db).await.unwrap() as usize,
        summary.circle_members
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM pledges WHERE status = 'active' AND installment_minor * 12 >= 50000",
        )
        .await as usize,
        summary.circle_members
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM tier_memberships t JOIN pledges p ON p.donor_id = t.donor_id \
             WHERE p.installment_minor * 12 < 50000 OR t.left_at IS NOT NULL",
        )
        .await,
        0
    );

    // Receipts: numbered 1..n without gaps in every tax year, the counter at n; one
    // per received gift (not failed ones), valid unless the gift was refunded.
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM (SELECT tax_year FROM receipts GROUP BY tax_year \
             HAVING COUNT(*) <> MAX(sequence) OR MIN(sequence) <> 1 \
             OR COUNT(DISTINCT sequence) <> COUNT(*)) t",
        )
        .await,
        0
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM receipt_counters c WHERE c.last_sequence <> \
             (SELECT MAX(sequence) FROM receipts r WHERE r.tax_year = c.tax_year)",
        )
        .await,
        0
    );
    assert!(count(db, "SELECT COUNT(*) FROM receipt_counters").await >= 5);
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM receipts r JOIN gifts g ON g.id = r.gift_id \
             WHERE g.status = 'failed' OR r.amount_minor <> g.amount_minor \
             OR r.donor_id <> g.donor_id \
             OR (r.status = 'void') <> (g.status = 'refunded')",
        )
        .await,
        0
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM gifts g WHERE g.status <> 'failed' AND g.pledge_id IS NULL \
             AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.gift_id = g.id)",
        )
        .await,
        0
    );

    // The service carries on after it: the next receipt continues the year's numbers,
    // and new rows get new ids.
    let txn = db.begin().await.unwrap();
    let last = count(
        db,
        "SELECT CAST(last_sequence AS BIGINT) FROM receipt_counters WHERE tax_year = 2026",
    )
    .await;
    let (sequence, _) = receipts::next_receipt_number(&txn, 2026).await.unwrap();
    assert_eq!(i64::from(sequence), last + 1);
    txn.rollback().await.unwrap();
    let now = Utc::now();
    let added = donor::ActiveModel {
        kind: Set(DonorKind::Individual),
        display_name: Set("New Donor".into()),
        email: Set(Some("new.donor@example.org".into())),
        language: Set(Language::English),
        email_consent: Set(false),
        anonymous: Set(false),
        search_text: Set("new donor".into()),
        created_at: Set(now),
        updated_at: Set(now),
        link_version: Set(0),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    assert_eq!(added.id as usize, DONORS + 1);
    let pledges_before = pledge::Entity::find().count(db).await.unwrap();
    assert_eq!(pledges_before as usize, summary.pledges);

    // A database with donors is refused, and nothing is added.
    let refused = seed_bench(db, &org(), plan(7)).await;
    assert!(
        matches!(refused, Err(DomainError::Conflict { .. })),
        "{refused:?}"
    );
    assert_eq!(
        donor::Entity::find().count(db).await.unwrap() as usize,
        DONORS + 1
    );
}

async fn the_same_seed_gives_the_same_organization(backend: Backend) {
    let first = spawn_app(backend).await;
    let second = spawn_app(backend).await;
    let other = spawn_app(backend).await;
    let a = seed_bench(&first.db, &org(), plan(42)).await.unwrap();
    let b = seed_bench(&second.db, &org(), plan(42)).await.unwrap();
    let c = seed_bench(&other.db, &org(), plan(43)).await.unwrap();
    assert_eq!(
        (a.gifts, a.receipts, a.pledges),
        (b.gifts, b.receipts, b.pledges)
    );
    let same = fingerprint(&first.db).await;
    assert_eq!(same, fingerprint(&second.db).await);
    assert_ne!(same, fingerprint(&other.db).await, "{c}");
}

on_both_backends!(
    the_bench_organization_is_realistic_and_consistent,
    the_same_seed_gives_the_same_organization,
);

/// PostgreSQL plans a prepared statement for its parameters five times, then may keep
/// one generic plan for it. For the year's gifts of a batch of donors that plan read
/// the whole year's gifts by date, twenty to thirty times slower than the plan made for
/// each batch's donors. Every batch of the year-end run is planned for its own values:
/// on one pooled connection, the statement that reads a batch's gifts has been planned
/// afresh each time and never generically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_batch_of_statements_reads_its_gifts_with_a_plan_made_for_it() {
    if !tests::support::postgres_available().await {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let plan = BenchPlan {
        donors: 1_000,
        ..plan(11)
    };
    seed_bench(&app.db, &org(), plan).await.unwrap();
    let url = app._database.url.clone();
    let mut options = sea_orm::ConnectOptions::new(url);
    options.max_connections(1).min_connections(1);
    let one = sea_orm::Database::connect(options).await.unwrap();

    let run = receipts::issue_year_end_statements(&one, &org(), 2025, &Actor::cli())
        .await
        .unwrap();
    assert!(run.issued >= 300, "{run:?}");

    let plans = one
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT generic_plans, custom_plans, statement FROM pg_prepared_statements
             WHERE statement LIKE '%FROM \"gifts\" WHERE \"gifts\".\"received_at\" >= $1%'
               AND statement LIKE '%\"gifts\".\"donor_id\" IN (%'
               AND statement NOT LIKE '%pg_prepared_statements%'",
        ))
        .await
        .unwrap();
    let plans: Vec<(i64, i64, String)> = plans
        .iter()
        .map(|row| {
            (
                row.try_get_by_index(0).unwrap(),
                row.try_get_by_index(1).unwrap(),
                row.try_get_by_index(2).unwrap(),
            )
        })
        .collect();
    let custom: i64 = plans.iter().map(|(_, custom, _)| custom).sum();
    assert!(custom as u64 >= run.issued / 50, "{plans:?}");
    for (generic, _, statement) in &plans {
        assert_eq!(*generic, 0, "{statement}");
    }
}
