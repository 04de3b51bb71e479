//! Email appeals: personal asks previewed per donor, one message per donor however often
//! it is sent, only to donors who may receive it, and a working one-click unsubscribe.

use std::time::Duration;

use api::config::{Config, WorkerSettings};
use chrono::Utc;
use entity::{donor, outbox};
use mailer::Worker;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use tests::on_both_backends;
use tests::support::{Backend, spawn_app};

use super::*;

const PREVIEW: &str = "query($id: ID!, $donor: ID!) { appealPreview(id: $id, donorId: $donor) { toAddress language subject body askAmount { amountMinor } lastGift { amountMinor } clubMonthlyAsk { amountMinor formatted } donateUrl unsubscribeUrl } }";
const SEND: &str = "mutation($id: ID!) { sendAppeal(id: $id) { recipients queued } }";

async fn mark(app: &TestApp, id: i64, change: impl FnOnce(&mut donor::ActiveModel)) {
    let found = donor::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut active: donor::ActiveModel = found.into();
    change(&mut active);
    active.update(&app.db).await.unwrap();
}

fn path_of(url: &str) -> String {
    let at = url.find("appeals/unsubscribe").unwrap();
    format!("/{}", &url[at..])
}

async fn an_email_appeal_reaches_each_consenting_donor_once_with_a_one_click_unsubscribe(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana García", "firstName": "Ana", "email": "ana@example.org", "emailConsent": true, "language": "SPANISH" }),
    )
    .await;
    let ben = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ben", "email": "ben@example.org", "emailConsent": true }),
    )
    .await;
    let carla = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Carla", "email": "carla@example.org" }),
    )
    .await;
    let dora = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Dora", "email": "dora@example.org", "emailConsent": true }),
    )
    .await;
    let eli = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Eli", "email": "eli@example.org", "emailConsent": true }),
    )
    .await;
    mark(&app, ben, |d| {
        d.appeals_unsubscribed_at = Set(Some(Utc::now()))
    })
    .await;
    mark(&app, dora, |d| {
        d.email_suppressed_at = Set(Some(Utc::now()))
    })
    .await;
    record_gift(
        &app,
        &staff,
        check_gift(ana, json!({ "amount": { "amountMinor": 6_000 } })),
    )
    .await;

    let campaign = ok(
        &app,
        &staff,
        "mutation { createCampaign(input: { name: \"Fall 2026\", goal: { amountMinor: 500000 }, startsOn: \"2026-09-01\", defaultFundId: \"1\" }) { id } }",
        json!({}),
    )
    .await["createCampaign"]["id"]
        .clone();
    let appeal = ok(
        &app,
        &staff,
        "mutation($input: CreateAppealInput!) { createAppeal(input: $input) { id } }",
        json!({ "input": {
            "campaignId": campaign,
            "name": "Fall email",
            "channel": "EMAIL",
            "sourceCode": "FALL26-EMAIL",
            "subject": "{first_name}, will you stand with families this fall?",
            "message": "Dear {first_name},\n\nYour gift of {last_gift} kept a family together. Will you give {ask_amount} today? {donate_link}",
            "askRule": { "stepMinor": 2_500, "minimumMinor": 5_000, "inviteToCircle": true },
        } }),
    )
    .await["createAppeal"]["id"]
        .clone();

    let preview = ok(
        &app,
        &staff,
        PREVIEW,
        json!({ "id": appeal, "donor": ana.to_string() }),
    )
    .await["appealPreview"]
        .clone();
    assert_eq!(preview["askAmount"]["amountMinor"], 7_500);
    assert_eq!(preview["lastGift"]["amountMinor"], 6_000);
    assert_eq!(preview["clubMonthlyAsk"]["formatted"], "$42.00");
    assert_eq!(preview["language"], "SPANISH");
    assert_eq!(
        preview["subject"],
        "Ana, will you stand with families this fall?"
    );
    let donate_url = preview["donateUrl"].as_str().unwrap();
    assert!(
        donate_url.ends_with("donate?appeal=FALL26-EMAIL"),
        "{donate_url}"
    );
    assert_eq!(
        preview["body"],
        format!(
            "Dear Ana,\n\nYour gift of $60.00 kept a family together. Will you give $75.00 today? {donate_url}"
        )
    );
    let eli_preview = ok(
        &app,
        &staff,
        PREVIEW,
        json!({ "id": appeal, "donor": eli.to_string() }),
    )
    .await;
    assert_eq!(
        eli_preview["appealPreview"]["askAmount"]["amountMinor"],
        5_000
    );
    for skipped in [ben, carla, dora] {
        let none = ok(
            &app,
            &staff,
            PREVIEW,
            json!({ "id": appeal, "donor": skipped.to_string() }),
        )
        .await;
        assert_eq!(none["appealPreview"], json!(null), "donor {skipped}");
    }

    let first = ok(&app, &staff, SEND, json!({ "id": appeal })).await;
    assert_eq!(first["sendAppeal"], json!({ "recipients": 2, "queued": 2 }));
    let second = ok(&app, &staff, SEND, json!({ "id": appeal })).await;
    assert_eq!(
        second["sendAppeal"],
        json!({ "recipients": 2, "queued": 0 })
    );
    let queued = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("appeal"))
        .all(&app.db)
        .await
        .unwrap();
    let mut keys: Vec<_> = queued.iter().map(|m| m.idempotency_key.clone()).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            format!("appeal:{appeal}:{ana}").replace('"', ""),
            format!("appeal:{appeal}:{eli}").replace('"', "")
        ]
    );

    // The worker renders them with the unsubscribe headers.
    let dir = tempfile::tempdir().unwrap();
    let mut mail = Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .mail_settings();
    mail.mail_dir = dir.path().to_path_buf();
    let settings = WorkerSettings {
        batch_size: 10,
        lease: Duration::from_secs(300),
        max_attempts: 3,
        retry_base: Duration::ZERO,
        per_minute: 100_000,
        poll_interval: Duration::from_secs(1),
    };
    let worker = Worker::new(app.db.clone(), mail, settings).unwrap();
    assert!(worker.drain().await.unwrap().sent >= 2);
    let emails: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|f| std::fs::read_to_string(f.path()).unwrap())
        .filter(|eml| eml.contains("List-Unsubscribe"))
        .collect();
    assert_eq!(emails.len(), 2);
    for eml in &emails {
        assert!(
            eml.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{eml}"
        );
        assert!(eml.contains("List-Unsubscribe: <http"), "{eml}");
    }

    // The link asks before it unsubscribes, refuses a forged signature, and keeps receipts.
    let link = path_of(preview["unsubscribeUrl"].as_str().unwrap());
    let page = app.client.get(app.url(&link)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    let unchanged = donor::Entity::find_by_id(ana)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(unchanged.appeals_unsubscribed_at.is_none());
    let forged = app
        .client
        .post(app.url(&format!(
            "/appeals/unsubscribe?donor={eli}&signature={}",
            "0".repeat(64)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let done = app
        .client
        .post(app.url(&link))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let unsubscribed = donor::Entity::find_by_id(ana)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(unsubscribed.appeals_unsubscribed_at.is_some());
    assert!(unsubscribed.email_consent);
    let after = ok(
        &app,
        &staff,
        PREVIEW,
        json!({ "id": appeal, "donor": ana.to_string() }),
    )
    .await;
    assert_eq!(after["appealPreview"], json!(null));
    // A receipt still goes out for her next gift.
    let receipts_before = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("receipt"))
        .filter(outbox::Column::DonorId.eq(ana))
        .all(&app.db)
        .await
        .unwrap()
        .len();
    record_gift(
        &app,
        &staff,
        check_gift(ana, json!({ "checkNumber": "2001" })),
    )
    .await;
    let receipts_after = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("receipt"))
        .filter(outbox::Column::DonorId.eq(ana))
        .all(&app.db)
        .await
        .unwrap()
        .len();
    assert_eq!(receipts_after, receipts_before + 1);
}

async fn a_letter_appeal_cannot_be_sent_by_email(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let campaign = ok(
        &app,
        &staff,
        "mutation { createCampaign(input: { name: \"Fall\", goal: { amountMinor: 500000 }, startsOn: \"2026-09-01\", defaultFundId: \"1\" }) { id } }",
        json!({}),
    )
    .await["createCampaign"]["id"]
        .clone();
    let appeal = ok(
        &app,
        &staff,
        "mutation($c: ID!) { createAppeal(input: { campaignId: $c, name: \"Letter\", channel: LETTER, sourceCode: \"FALL-L\" }) { id } }",
        json!({ "c": campaign }),
    )
    .await["createAppeal"]["id"]
        .clone();
    let (code, field) = fails(&app, &staff, SEND, json!({ "id": appeal })).await;
    assert_eq!((code.as_str(), field.as_str()), ("BAD_USER_INPUT", "id"));
}

async fn a_letter_appeal_exports_a_mail_merge_csv(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana García", "firstName": "Ana", "language": "SPANISH",
                "address": { "line1": "1 Main St, Apt 2", "city": "Santa Ana", "region": "CA", "postalCode": "92701", "country": "US" } }),
    )
    .await;
    let ben = create_donor(
        &app,
        &staff,
        json!({ "displayName": "=Ben Ortiz", "address": { "line1": "9 Elm St", "city": "Tustin", "postalCode": "92780", "country": "US" } }),
    )
    .await;
    create_donor(
        &app,
        &staff,
        json!({ "displayName": "No Address", "email": "x@example.org" }),
    )
    .await;
    record_gift(
        &app,
        &staff,
        check_gift(ana, json!({ "amount": { "amountMinor": 10_000 } })),
    )
    .await;
    let campaign = ok(
        &app,
        &staff,
        "mutation { createCampaign(input: { name: \"Fall\", goal: { amountMinor: 500000 }, startsOn: \"2026-09-01\", defaultFundId: \"1\" }) { id } }",
        json!({}),
    )
    .await["createCampaign"]["id"]
        .clone();
    let appeal = ok(
        &app,
        &staff,
        "mutation($c: ID!) { createAppeal(input: { campaignId: $c, name: \"Letter\", channel: LETTER, sourceCode: \"fall26-letter\", askRule: { stepMinor: 5000, minimumMinor: 3500 } }) { id } }",
        json!({ "c": campaign }),
    )
    .await["createAppeal"]["id"]
        .clone();
    let csv = ok(
        &app,
        &staff,
        "query($id: ID!) { appealLetterCsv(id: $id) }",
        json!({ "id": appeal }),
    )
    .await["appealLetterCsv"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        csv,
        format!(
            "donor_id,name,address_line1,address_line2,city,region,postal_code,country,salutation,ask_amount,reply_code\r\n\
             {ana},Ana García,\"1 Main St, Apt 2\",,Santa Ana,CA,92701,US,Estimado/a Ana:,$150.00,FALL26-LETTER\r\n\
             {ben},'=Ben Ortiz,9 Elm St,,Tustin,,92780,US,\"Dear =Ben Ortiz,\",$35.00,FALL26-LETTER\r\n"
        )
    );
}

on_both_backends!(
    a_letter_appeal_exports_a_mail_merge_csv,
    an_email_appeal_reaches_each_consenting_donor_once_with_a_one_click_unsubscribe,
    a_letter_appeal_cannot_be_sent_by_email,
);
