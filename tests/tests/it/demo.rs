use sea_orm::{EntityTrait, PaginatorTrait};

use tests::on_both_backends;
use tests::support::{Backend, spawn_app};

async fn seed_demo_is_realistic_and_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = api::demo::seed_demo(&app.db).await.unwrap();
    assert_eq!(first.donors_added, 300);
    assert_eq!(first.funds, 4);
    assert_eq!(first.appeals, 3);
    assert!(first.pledges > 20 && first.circle_members > 5, "{first}");

    let counts = |db| async move {
        (
            entity::donor::Entity::find().count(db).await.unwrap(),
            entity::gift::Entity::find().count(db).await.unwrap(),
            entity::pledge::Entity::find().count(db).await.unwrap(),
            entity::tier_membership::Entity::find()
                .count(db)
                .await
                .unwrap(),
        )
    };
    let before = counts(&app.db).await;
    let second = api::demo::seed_demo(&app.db).await.unwrap();
    assert_eq!(second.donors_added, 0);
    assert_eq!(second.donors_already_there, 300);
    assert_eq!(
        counts(&app.db).await,
        before,
        "a second run changes nothing"
    );
    assert_eq!(before.1 as usize, first.gifts);

    // Memberships follow the club's own rule, and the demo's long-past entries send
    // no welcome now.
    let policy = api::domain::club::ClubPolicy::default();
    let circle = entity::giving_tier::Entity::find_by_id(1)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let all = api::domain::keyset::PageRequest {
        first: Some(10_000),
        ..Default::default()
    };
    let found = api::domain::club::page_current_members(&app.db, Some(circle.id), &all, 0, None)
        .await
        .unwrap();
    assert_eq!(found.total, first.circle_members as u64);
    let members = found.page.rows;
    assert_eq!(members.len(), first.circle_members);
    for member in &members {
        let total = api::domain::club::annual_pledge_total(
            &app.db,
            member.donor_id,
            entity::Currency::Usd,
            &policy,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        assert!(total >= circle.threshold_minor, "{member:?}");
    }
    assert_eq!(
        entity::outbox::Entity::find().count(&app.db).await.unwrap(),
        0
    );
}

on_both_backends!(seed_demo_is_realistic_and_idempotent);
