//! Tributes: the person a gift honors is told by email in the donor's language, without
//! the amount unless the donor allowed it, once per gift; a person with only a postal
//! address is in the tribute-letter export.

use api::config::Config;
use entity::outbox;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use tests::on_both_backends;
use tests::smtp::SmtpServer;
use tests::support::{Backend, spawn_app};

use super::*;

async fn tribute_messages(app: &TestApp) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("tribute_notification"))
        .all(&app.db)
        .await
        .unwrap()
}

async fn the_person_honored_is_told_without_the_amount_unless_the_donor_allowed_it(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana García", "email": "ana@example.org", "language": "SPANISH" }),
    )
    .await;
    let ben = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ben Ortiz", "email": "ben@example.org" }),
    )
    .await;
    let private = check_gift(
        ana,
        json!({ "amount": { "amountMinor": 12_345 }, "checkNumber": "1", "idempotencyKey": "ana-1",
                "tribute": { "kind": "IN_MEMORY_OF", "name": "Rosa Martínez",
                             "notifyName": "Luis Martínez", "notifyEmail": "luis@example.org" } }),
    );
    record_gift(&app, &staff, private.clone()).await;
    // The same envelope typed twice is one gift and one notification.
    let again = record_gift(&app, &staff, private).await;
    assert_eq!(again["alreadyRecorded"], true);
    record_gift(
        &app,
        &staff,
        check_gift(
            ben,
            json!({ "amount": { "amountMinor": 5_000 }, "checkNumber": "2",
                    "tribute": { "kind": "IN_HONOR_OF", "name": "Dolores Huerta",
                                 "notifyEmail": "dolores@example.org", "showAmount": true } }),
        ),
    )
    .await;
    // No one to tell by email: no notification.
    record_gift(
        &app,
        &staff,
        check_gift(
            ben,
            json!({ "checkNumber": "3", "tribute": { "kind": "IN_HONOR_OF", "name": "Cesar" } }),
        ),
    )
    .await;
    let queued = tribute_messages(&app).await;
    assert_eq!(queued.len(), 2);

    let smtp = SmtpServer::start();
    crate::mailer::worker_for(&app, &smtp.url(), crate::mailer::quick(20, 3))
        .drain()
        .await
        .unwrap();
    let mut delivered: Vec<String> = smtp.received().iter().map(|m| m.to[0].clone()).collect();
    delivered.sort();
    assert_eq!(
        delivered,
        [
            "ana@example.org",
            "ben@example.org",
            "ben@example.org",
            "dolores@example.org",
            "luis@example.org"
        ]
    );

    let org = Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .org;
    let rendered = |address: &str| {
        let row = queued
            .iter()
            .find(|m| m.to_address == address)
            .unwrap_or_else(|| panic!("nothing queued for {address}"));
        row.clone()
    };
    let luis = rendered("luis@example.org");
    assert_eq!(luis.donor_id, Some(ana));
    let luis = mailer::templates::render(&app.db, &org, None, &luis)
        .await
        .unwrap();
    assert_eq!(luis.subject, "Una donación en memoria de Rosa Martínez");
    assert!(
        luis.text.starts_with("Estimado/a Luis Martínez:"),
        "{}",
        luis.text
    );
    assert!(
        luis.text.contains("Ana García ha hecho una donación a")
            && luis.text.contains("en memoria de Rosa Martínez."),
        "{}",
        luis.text
    );
    assert!(
        !luis.text.contains("123.45") && !luis.html.contains("123.45"),
        "{}",
        luis.text
    );
    let dolores = mailer::templates::render(&app.db, &org, None, &rendered("dolores@example.org"))
        .await
        .unwrap();
    assert_eq!(dolores.subject, "A gift in honor of Dolores Huerta");
    assert!(
        dolores.text.contains("Ben Ortiz has made a gift to"),
        "{}",
        dolores.text
    );
    assert!(
        dolores.text.contains("The gift is $50.00."),
        "{}",
        dolores.text
    );
}

async fn a_person_to_tell_by_post_is_in_the_tribute_letter_export(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana García", "email": "ana@example.org", "language": "SPANISH" }),
    )
    .await;
    let ben = create_donor(&app, &staff, json!({ "displayName": "Ben Ortiz" })).await;
    let first = record_gift(
        &app,
        &staff,
        check_gift(
            ana,
            json!({ "amount": { "amountMinor": 10_000 }, "checkNumber": "1", "receivedAt": "2026-03-01T20:00:00Z",
                    "tribute": { "kind": "IN_MEMORY_OF", "name": "Rosa Martínez", "notifyName": "Luis Martínez",
                                 "notifyAddress": "12 Oak St, Santa Ana, CA 92701" } }),
        ),
    )
    .await;
    let second = record_gift(
        &app,
        &staff,
        check_gift(
            ben,
            json!({ "amount": { "amountMinor": 7_500 }, "checkNumber": "2", "receivedAt": "2026-03-02T20:00:00Z", "anonymous": true,
                    "tribute": { "kind": "IN_HONOR_OF", "name": "Dolores", "notifyAddress": "1 Elm St, Tustin, CA", "showAmount": true } }),
        ),
    )
    .await;
    // Told by email instead: not in the letters.
    record_gift(
        &app,
        &staff,
        check_gift(
            ben,
            json!({ "checkNumber": "3", "tribute": { "kind": "IN_HONOR_OF", "name": "Cesar",
                    "notifyEmail": "cesar@example.org", "notifyAddress": "2 Elm St" } }),
        ),
    )
    .await;
    let csv = ok(&app, &staff, "query { tributeLetterCsv }", json!({})).await["tributeLetterCsv"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = |gift: &serde_json::Value| gift["gift"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        csv,
        format!(
            "gift_id,received_on,tribute,honoree,notify_name,notify_address,donor_name,language,amount\r\n\
             {},2026-03-01,in memory of,Rosa Martínez,Luis Martínez,\"12 Oak St, Santa Ana, CA 92701\",Ana García,es,\r\n\
             {},2026-03-02,in honor of,Dolores,,\"1 Elm St, Tustin, CA\",,en,$75.00\r\n",
            id(&first),
            id(&second)
        )
    );
    let only_march_2 = ok(
        &app,
        &staff,
        "query { tributeLetterCsv(from: \"2026-03-02T00:00:00Z\", to: \"2026-03-03T00:00:00Z\") }",
        json!({}),
    )
    .await["tributeLetterCsv"]
        .as_str()
        .unwrap()
        .lines()
        .count();
    assert_eq!(only_march_2, 2);
    let viewer = app.token(entity::enums::StaffRole::Viewer).await;
    let (code, _) = fails(&app, &viewer, "query { tributeLetterCsv }", json!({})).await;
    assert_eq!(code, "FORBIDDEN");
}

async fn one_donor_sends_at_most_three_tribute_notifications_a_day(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana García", "email": "ana@example.org" }),
    )
    .await;
    let ben = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ben Ortiz", "email": "ben@example.org" }),
    )
    .await;
    let tribute_gift = |donor: i64, n: u32| {
        check_gift(
            donor,
            json!({ "amount": { "amountMinor": 500 }, "checkNumber": format!("{donor}0{n}"),
                    "idempotencyKey": format!("tribute-{donor}-{n}"),
                    "tribute": { "kind": "IN_HONOR_OF", "name": "Someone",
                                 "notifyEmail": format!("stranger{n}@example.org") } }),
        )
    };
    let mut gifts = Vec::new();
    for n in 1..=4 {
        gifts.push(record_gift(&app, &staff, tribute_gift(ana, n)).await["gift"]["id"].clone());
    }
    // Another donor's allowance is their own.
    record_gift(&app, &staff, tribute_gift(ben, 1)).await;

    let queued = tribute_messages(&app).await;
    let mut to_ana: Vec<_> = queued
        .iter()
        .filter(|m| m.donor_id == Some(ana))
        .map(|m| m.to_address.as_str())
        .collect();
    to_ana.sort_unstable();
    assert_eq!(
        to_ana,
        [
            "stranger1@example.org",
            "stranger2@example.org",
            "stranger3@example.org"
        ],
        "the fourth is not queued"
    );
    assert_eq!(queued.iter().filter(|m| m.donor_id == Some(ben)).count(), 1);

    // The fourth gift is recorded as usual, and says why nobody was told.
    let fourth = ok(
        &app,
        &staff,
        "query($id: ID!) { gift(id: $id) { amount { amountMinor } notes tribute { name } } }",
        json!({ "id": gifts[3] }),
    )
    .await["gift"]
        .clone();
    assert_eq!(fourth["amount"]["amountMinor"], 500);
    assert_eq!(fourth["tribute"]["name"], "Someone");
    assert!(
        fourth["notes"]
            .as_str()
            .unwrap_or_default()
            .contains("Tribute notification not sent"),
        "{fourth}"
    );
    let third = ok(
        &app,
        &staff,
        "query($id: ID!) { gift(id: $id) { notes } }",
        json!({ "id": gifts[2] }),
    )
    .await;
    assert_eq!(third["gift"]["notes"], serde_json::Value::Null);
}

async fn the_daily_tribute_allowance_is_configurable(backend: Backend) {
    let app =
        tests::support::spawn_app_with(backend, &[("TRIBUTE_NOTIFICATIONS_PER_DAY", "1")]).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana García", "email": "ana@example.org" }),
    )
    .await;
    for n in 1..=2 {
        record_gift(
            &app,
            &staff,
            check_gift(
                ana,
                json!({ "checkNumber": format!("{n}"),
                        "tribute": { "kind": "IN_MEMORY_OF", "name": "Rosa",
                                     "notifyEmail": format!("luis{n}@example.org") } }),
            ),
        )
        .await;
    }
    assert_eq!(tribute_messages(&app).await.len(), 1);
}

on_both_backends!(
    the_person_honored_is_told_without_the_amount_unless_the_donor_allowed_it,
    a_person_to_tell_by_post_is_in_the_tribute_letter_export,
    one_donor_sends_at_most_three_tribute_notifications_a_day,
    the_daily_tribute_allowance_is_configurable,
);
