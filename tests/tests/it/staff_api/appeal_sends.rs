//! Email appeals: personal asks previewed per donor, one message per donor however often
//! it is sent, only to donors who may receive it, and a working one-click unsubscribe.

use api::config::Config;
use chrono::Utc;
use entity::{donor, outbox};
use mailer::Worker;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use api::domain::appeal_sends::{self, LinkSettings, SendOutcome};
use serde_json::json;
use tests::on_both_backends;
use tests::support::{Backend, spawn_app};

use super::*;

const PREVIEW: &str = "query($id: ID!, $donor: ID!) { appealPreview(id: $id, donorId: $donor) { __typename ... on AppealPreview { toAddress language subject body askAmount { amountMinor } lastGift { amountMinor } clubMonthlyAsk { amountMinor formatted } donateUrl unsubscribeUrl } ... on AppealNotReceived { donorId reason message } } }";
const SEND: &str = "mutation($id: ID!) { sendAppeal(input: { id: $id }) { recipients queued } }";
macro_rules! result_fields {
    () => {
        "recipients gifts donors raised { amountMinor } responseRatePercent averageGift { amountMinor } pledges newClubMembers newCircleMembers cost { amountMinor } costPerDollarRaised"
    };
}
const RESULTS: &str = concat!(
    "query($id: ID!) { appealResults(id: $id) { ",
    result_fields!(),
    " } }"
);
const CAMPAIGN_APPEALS_RESULTS: &str = concat!(
    "query($id: ID!) { campaign(id: $id) { appeals { id results { ",
    result_fields!(),
    " } } } }"
);

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
            "askRule": { "step": { "amountMinor": 2_500 }, "minimum": { "amountMinor": 5_000 }, "inviteToCircle": true },
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
        donate_url.contains("donate?appeal=FALL26-EMAIL&t="),
        "{donate_url}"
    );
    assert_eq!(
        preview["body"],
        format!(
            "Dear Ana,\n\nYour gift of $60,00 kept a family together. Will you give $75,00 today? {donate_url}"
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
    for (skipped, reason) in [
        (ben, "UNSUBSCRIBED_FROM_APPEALS"),
        (carla, "NO_EMAIL_CONSENT"),
        (dora, "EMAIL_SUPPRESSED"),
    ] {
        let none = ok(
            &app,
            &staff,
            PREVIEW,
            json!({ "id": appeal, "donor": skipped.to_string() }),
        )
        .await;
        let why = &none["appealPreview"];
        assert_eq!(why["__typename"], "AppealNotReceived", "donor {skipped}");
        assert_eq!(why["donorId"], skipped.to_string());
        assert_eq!(why["reason"], reason, "donor {skipped}");
        assert!(!why["message"].as_str().unwrap().is_empty());
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
    let settings = crate::mailer::quick(10, 3);
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
    assert_eq!(
        after["appealPreview"]["reason"],
        "UNSUBSCRIBED_FROM_APPEALS"
    );
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
        "mutation($c: ID!) { createAppeal(input: { campaignId: $c, name: \"Letter\", channel: LETTER, sourceCode: \"fall26-letter\", askRule: { step: { amountMinor: 5000 }, minimum: { amountMinor: 3500 } } }) { id } }",
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
             {ana},Ana García,\"1 Main St, Apt 2\",,Santa Ana,CA,92701,US,Estimado/a Ana:,\"$150,00\",FALL26-LETTER\r\n\
             {ben},'=Ben Ortiz,9 Elm St,,Tustin,,92780,US,\"Dear =Ben Ortiz,\",$35.00,FALL26-LETTER\r\n"
        )
    );
}

/// Three recipients; Ana gives $100 and Ben $50 twice through the appeal's code, Carla
/// gives $30 without it and starts a $42 monthly pledge from the appeal that puts her in
/// the Circle. The appeal cost $50. Raised $200 in 3 gifts from 2 donors: response 2 of
/// 3 (66.67%), average $66.66, 25 cents per dollar raised.
async fn appeal_results_match_a_hand_checked_example(backend: Backend) {
    use entity::enums::{PledgeFrequency, PledgeSource, PledgeStatus};
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let mut donors = Vec::new();
    for name in ["Ana", "Ben", "Carla"] {
        donors.push(
            create_donor(
                &app,
                &staff,
                json!({ "displayName": name, "email": format!("{}@example.org", name.to_lowercase()), "emailConsent": true }),
            )
            .await,
        );
    }
    let campaign = ok(
        &app,
        &staff,
        "mutation { createCampaign(input: { name: \"Fall\", goal: { amountMinor: 100000 }, startsOn: \"2026-09-01\", defaultFundId: \"1\" }) { id } }",
        json!({}),
    )
    .await["createCampaign"]["id"]
        .clone();
    let appeal = ok(
        &app,
        &staff,
        "mutation($c: ID!) { createAppeal(input: { campaignId: $c, name: \"Email\", channel: EMAIL, sourceCode: \"FALL-E\", subject: \"Stand with us\", message: \"Dear {first_name}\", cost: { amountMinor: 5000 } }) { id } }",
        json!({ "c": campaign }),
    )
    .await["createAppeal"]["id"]
        .clone();
    // A second appeal of the same campaign that nobody was sent and nobody answered.
    let quiet = ok(
        &app,
        &staff,
        "mutation($c: ID!) { createAppeal(input: { campaignId: $c, name: \"Letter\", channel: LETTER, sourceCode: \"FALL-L\" }) { id } }",
        json!({ "c": campaign }),
    )
    .await["createAppeal"]["id"]
        .clone();
    ok(&app, &staff, SEND, json!({ "id": appeal })).await;
    for (donor, amount, number, code) in [
        (donors[0], 10_000, "1", Some("fall-e")),
        (donors[1], 5_000, "2", Some("FALL-E")),
        (donors[1], 5_000, "3", Some("FALL-E")),
        (donors[2], 3_000, "4", None),
    ] {
        let mut input = check_gift(
            donor,
            json!({ "amount": { "amountMinor": amount }, "checkNumber": number }),
        );
        if let Some(code) = code {
            input["appealCode"] = json!(code);
        }
        record_gift(&app, &staff, input).await;
    }
    let appeal_id: i64 = appeal.as_str().unwrap().parse().unwrap();
    let now = Utc::now();
    let admin = admin_token(&app).await;
    let friends: i64 = ok(
        &app,
        &admin,
        "mutation { createTier(input: { name: \"Friends\", threshold: { amountMinor: 12000 } }) { id } }",
        json!({}),
    )
    .await["createTier"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Carla pledged from the appeal and is in the Circle (tier 1); Ben pledged from it
    // and is in the club below the Circle; Ana pledged from it but has left the club.
    for (donor, tier, left_at) in [
        (donors[2], 1, None),
        (donors[1], friends, None),
        (donors[0], friends, Some(now)),
    ] {
        entity::pledge::ActiveModel {
            donor_id: Set(donor),
            source: Set(PledgeSource::Envelope),
            installment_minor: Set(4_200),
            currency: Set("USD".into()),
            frequency: Set(PledgeFrequency::Monthly),
            starts_on: Set(now.date_naive()),
            status: Set(PledgeStatus::Active),
            fund_id: Set(1),
            appeal_id: Set(Some(appeal_id)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
        entity::tier_membership::ActiveModel {
            donor_id: Set(donor),
            tier_id: Set(tier),
            joined_at: Set(now),
            join_reason: Set("pledge".into()),
            annual_pledge_total_minor: Set(50_400),
            left_at: Set(left_at),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
    }

    let results = ok(&app, &staff, RESULTS, json!({ "id": appeal })).await["appealResults"].clone();
    assert_eq!(results["recipients"], 3);
    assert_eq!(results["gifts"], 3);
    assert_eq!(results["donors"], 2);
    assert_eq!(results["raised"]["amountMinor"], 20_000);
    assert_eq!(results["responseRatePercent"], 66.7);
    assert_eq!(results["averageGift"]["amountMinor"], 6_666);
    assert_eq!(results["pledges"], 3);
    assert_eq!(results["newClubMembers"], 2);
    assert_eq!(results["newCircleMembers"], 1);
    assert_eq!(results["cost"]["amountMinor"], 5_000);
    assert_eq!(results["costPerDollarRaised"], 0.25);
    // The quiet appeal counts nothing of the other's.
    let nothing = json!({ "recipients": 0, "gifts": 0, "donors": 0, "raised": { "amountMinor": 0 }, "responseRatePercent": null, "averageGift": null, "pledges": 0, "newClubMembers": 0, "newCircleMembers": 0, "cost": null, "costPerDollarRaised": null });
    assert_eq!(
        ok(&app, &staff, RESULTS, json!({ "id": quiet })).await["appealResults"],
        nothing
    );
    // Each appeal of the campaign shows the same results as `appealResults`.
    let appeals = ok(
        &app,
        &staff,
        CAMPAIGN_APPEALS_RESULTS,
        json!({ "id": campaign }),
    )
    .await["campaign"]["appeals"]
        .clone();
    assert_eq!(
        appeals,
        json!([{ "id": appeal, "results": results }, { "id": quiet, "results": nothing }])
    );
    // The campaign's totals roll up its appeals' gifts.
    let progress = ok(&app, &staff, "query($id: ID!) { campaign(id: $id) { progress { raised { amountMinor } gifts donors percentOfGoal } } }", json!({ "id": campaign })).await;
    assert_eq!(
        progress["campaign"]["progress"],
        json!({ "raised": { "amountMinor": 20_000 }, "gifts": 3, "donors": 2, "percentOfGoal": 20 })
    );
}

/// An appeal's results cost three statements whatever they count: the appeal, the
/// tiers (which are the Circle), and one that reads its totals, recipients, pledges and
/// club members together.
async fn an_appeals_results_take_three_statements(backend: Backend) {
    let (app, statements) = super::batching::spawn_recording_app_with(backend, &[]).await;
    let staff = staff_token(&app).await;
    let appeal = email_appeal(&app, &staff, "COUNT-E").await;
    statements.lock().unwrap().clear();
    let results = ok(&app, &staff, RESULTS, json!({ "id": appeal.to_string() })).await;
    assert_eq!(results["appealResults"]["recipients"], 0);
    let ran = statements.lock().unwrap().clone();
    assert_eq!(ran.len(), 3, "{ran:#?}");
    let reading = |table: &str| {
        ran.iter()
            .filter(|sql| sql.contains(&format!("FROM \"{table}\"")))
            .count()
    };
    assert_eq!(reading("appeals"), 1, "{ran:#?}");
    assert_eq!(reading("giving_tiers"), 1, "{ran:#?}");
    assert_eq!(
        (reading("gifts"), reading("outbox"), reading("pledges")),
        (1, 1, 1),
        "{ran:#?}"
    );
}

async fn email_appeal(app: &TestApp, staff: &str, code: &str) -> i64 {
    let campaign = ok(
        app,
        staff,
        "mutation($name: String!) { createCampaign(input: { name: $name, goal: { amountMinor: 500000 }, startsOn: \"2026-09-01\", defaultFundId: \"1\" }) { id } }",
        json!({ "name": format!("Fall {code}") }),
    )
    .await["createCampaign"]["id"]
        .clone();
    ok(
        app,
        staff,
        "mutation($c: ID!, $code: String!) { createAppeal(input: { campaignId: $c, name: \"Email\", channel: EMAIL, sourceCode: $code, subject: \"Stand with us\", message: \"Dear {first_name}, {donate_link}\" }) { id } }",
        json!({ "c": campaign, "code": code }),
    )
    .await["createAppeal"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn appeal_messages(app: &TestApp, appeal: i64) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::IdempotencyKey.starts_with(format!("appeal:{appeal}:")))
        .all(&app.db)
        .await
        .unwrap()
}

/// A scheduled appeal queues nothing until it is due; the job queues the due one once,
/// for the donors it reaches then, and leaves the future one alone.
async fn a_scheduled_appeal_is_queued_by_the_job_when_due_and_not_before(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana", "email": "ana@example.org", "emailConsent": true }),
    )
    .await;
    let ben = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ben", "email": "ben@example.org", "emailConsent": true }),
    )
    .await;
    let due = email_appeal(&app, &staff, "DUE-E").await;
    let later = email_appeal(&app, &staff, "LATER-E").await;
    let soon = (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let scheduled = ok(
        &app,
        &staff,
        "mutation($id: ID!, $at: DateTime!) { sendAppeal(input: { id: $id, notBefore: $at }) { recipients queued } }",
        json!({ "id": due.to_string(), "at": soon }),
    )
    .await;
    assert_eq!(
        scheduled["sendAppeal"],
        json!({ "recipients": 2, "queued": 0 })
    );
    let next_week = (Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    ok(
        &app,
        &staff,
        "mutation($id: ID!, $at: DateTime!) { updateAppeal(input: { id: $id, scheduledAt: $at }) { scheduledAt } }",
        json!({ "id": later.to_string(), "at": next_week }),
    )
    .await;
    assert!(appeal_messages(&app, due).await.is_empty());
    // Ben unsubscribes before the appeal goes: he is not queued.
    mark(&app, ben, |d| {
        d.appeals_unsubscribed_at = Set(Some(Utc::now()))
    })
    .await;

    let config = Config::defaults_with_database("sqlite::memory:").unwrap();
    let links = LinkSettings {
        public_url: &config.public_url,
        key: "a test key that is long enough to sign links",
        donate_link_valid_for: chrono::Duration::days(90),
    };
    let before = appeal_sends::send_due_appeals(&app.db, &config.org, links, Utc::now())
        .await
        .unwrap();
    assert!(before.is_empty(), "{before:?}");

    let at = Utc::now() + chrono::Duration::seconds(3);
    let first = appeal_sends::send_due_appeals(&app.db, &config.org, links, at)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].appeal_id, due);
    assert_eq!(
        first[0].outcome,
        Ok(SendOutcome {
            recipients: 1,
            queued: 1
        })
    );
    let queued = appeal_messages(&app, due).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].donor_id, Some(ana));
    assert!(appeal_messages(&app, later).await.is_empty());
    let sent = entity::appeal::Entity::find_by_id(due)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(sent.sent_at.is_some());

    // Running it again finds nothing due, and sending by hand queues nothing new.
    let again = appeal_sends::send_due_appeals(&app.db, &config.org, links, at)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    let by_hand = ok(&app, &staff, SEND, json!({ "id": due.to_string() })).await;
    assert_eq!(
        by_hand["sendAppeal"],
        json!({ "recipients": 1, "queued": 0 })
    );
    assert_eq!(appeal_messages(&app, due).await.len(), 1);
}

/// A batch of appeals reads its donors as they are now in one statement, just before it
/// is sent, not one by one; those who opted out or moved since are still skipped.
async fn a_batch_of_appeals_reads_its_donors_in_one_statement(backend: Backend) {
    use tests::smtp::SmtpServer;
    let (app, statements) = super::batching::spawn_recording_app_with(backend, &[]).await;
    let staff = staff_token(&app).await;
    let mut donors = Vec::new();
    for name in ["Ana", "Ben", "Cruz", "Dalia", "Eli"] {
        let email = format!("{}@example.org", name.to_lowercase());
        let input = json!({ "displayName": name, "email": email, "emailConsent": true });
        donors.push(create_donor(&app, &staff, input).await);
    }
    let appeal = email_appeal(&app, &staff, "BATCH-E").await;
    let sent = ok(&app, &staff, SEND, json!({ "id": appeal.to_string() })).await;
    assert_eq!(sent["sendAppeal"], json!({ "recipients": 5, "queued": 5 }));
    mark(&app, donors[0], |d| {
        d.appeals_unsubscribed_at = Set(Some(Utc::now()))
    })
    .await;
    mark(&app, donors[1], |d| {
        d.email = Set(Some("ben@elsewhere.example.org".to_owned()))
    })
    .await;

    let smtp = SmtpServer::start();
    statements.lock().unwrap().clear();
    let report = crate::mailer::worker_for(&app, &smtp.url(), crate::mailer::quick(10, 3))
        .drain()
        .await
        .unwrap();

    assert_eq!((report.sent, report.skipped), (3, 2));
    let donor_reads: Vec<String> = statements
        .lock()
        .unwrap()
        .iter()
        .filter(|sql| sql.contains("FROM \"donors\""))
        .cloned()
        .collect();
    assert_eq!(donor_reads.len(), 1, "{donor_reads:#?}");
    let mut delivered: Vec<String> = smtp.received().iter().map(|m| m.to[0].clone()).collect();
    delivered.sort();
    assert_eq!(
        delivered,
        ["cruz@example.org", "dalia@example.org", "eli@example.org"]
    );
}

/// Appeals queued before their donor unsubscribed or withdrew consent are skipped by the
/// worker, not sent; a receipt for the same donor still goes.
async fn an_appeal_queued_before_the_donor_opted_out_is_skipped_and_receipts_still_go(
    backend: Backend,
) {
    use entity::enums::OutboxStatus;
    use tests::smtp::SmtpServer;
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana", "email": "ana@example.org", "emailConsent": true }),
    )
    .await;
    let ben = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ben", "email": "ben@example.org", "emailConsent": true }),
    )
    .await;
    let cruz = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Cruz", "email": "cruz@example.org", "emailConsent": true }),
    )
    .await;
    let appeal = email_appeal(&app, &staff, "OPTOUT-E").await;
    let sent = ok(&app, &staff, SEND, json!({ "id": appeal.to_string() })).await;
    assert_eq!(sent["sendAppeal"], json!({ "recipients": 3, "queued": 3 }));

    mark(&app, ana, |d| {
        d.appeals_unsubscribed_at = Set(Some(Utc::now()))
    })
    .await;
    mark(&app, ben, |d| d.email_consent = Set(false)).await;
    record_gift(&app, &staff, check_gift(ana, json!({}))).await;

    let smtp = SmtpServer::start();
    let report = crate::mailer::worker_for(&app, &smtp.url(), crate::mailer::quick(10, 3))
        .drain()
        .await
        .unwrap();
    assert_eq!((report.sent, report.skipped), (2, 2));

    let mut delivered: Vec<(String, bool)> = smtp
        .received()
        .iter()
        .map(|m| (m.to[0].clone(), m.header("List-Unsubscribe").is_some()))
        .collect();
    delivered.sort();
    assert_eq!(
        delivered,
        vec![
            ("ana@example.org".to_owned(), false),
            ("cruz@example.org".to_owned(), true),
        ]
    );
    for (donor, why) in [
        (ana, "skipped: the donor unsubscribed from appeals"),
        (ben, "skipped: the donor withdrew consent to email"),
    ] {
        let row = outbox::Entity::find()
            .filter(outbox::Column::IdempotencyKey.eq(format!("appeal:{appeal}:{donor}")))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status, OutboxStatus::Failed);
        assert_eq!(row.last_error.as_deref(), Some(why));
        assert!(row.sent_at.is_none());
    }
    let cruz_row = outbox::Entity::find()
        .filter(outbox::Column::IdempotencyKey.eq(format!("appeal:{appeal}:{cruz}")))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cruz_row.status, OutboxStatus::Sent);
}

/// Segment "Spanish speakers, or LYBUNT 2026". Ana (Spanish, gave in 2025) matches
/// both; Ben (gave in 2025) is LYBUNT; Carla (Spanish, never gave) speaks Spanish; Dan
/// gave in 2026 and is outside the segment. Ana gives $100 through the appeal, Ben $50
/// and $25 (after which he is no longer LYBUNT, but was when it was sent), Dan $40 with
/// the code though he was not sent it.
/// Spanish: 2 recipients (Ana, Carla), 1 gift, 1 donor, $100, 50%.
/// LYBUNT: 2 recipients (Ana, Ben), 3 gifts, 2 donors, $175, 100%.
/// Totals: 3 recipients, 4 gifts, 3 donors, $215.
async fn appeal_results_by_segment_rule_match_a_hand_checked_example(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let mut ids = Vec::new();
    for (name, language) in [
        ("Ana", "SPANISH"),
        ("Ben", "ENGLISH"),
        ("Carla", "SPANISH"),
        ("Dan", "ENGLISH"),
    ] {
        ids.push(
            create_donor(
                &app,
                &staff,
                json!({ "displayName": name, "email": format!("{}@example.org", name.to_lowercase()), "emailConsent": true, "language": language }),
            )
            .await,
        );
    }
    let (ana, ben, carla, dan) = (ids[0], ids[1], ids[2], ids[3]);
    for (donor, number, received) in [
        (ana, "1", "2025-05-01T18:00:00Z"),
        (ben, "2", "2025-06-01T18:00:00Z"),
        (dan, "3", "2026-03-14T18:00:00Z"),
    ] {
        record_gift(
            &app,
            &staff,
            check_gift(
                donor,
                json!({ "checkNumber": number, "receivedAt": received }),
            ),
        )
        .await;
    }
    let segment = ok(
        &app,
        &staff,
        "mutation($rule: JSON!) { createSegment(input: { name: \"Spanish or LYBUNT\", ruleJson: $rule }) { id donorCount } }",
        json!({ "rule": { "kind": "any", "rules": [
            { "kind": "speaksLanguage", "language": "es" },
            { "kind": "lybunt", "year": 2026 },
        ] } }),
    )
    .await["createSegment"]
        .clone();
    assert_eq!(segment["donorCount"], 3);
    let campaign = ok(
        &app,
        &staff,
        "mutation { createCampaign(input: { name: \"Winter\", goal: { amountMinor: 100000 }, startsOn: \"2026-11-01\", defaultFundId: \"1\" }) { id } }",
        json!({}),
    )
    .await["createCampaign"]["id"]
        .clone();
    let appeal = ok(
        &app,
        &staff,
        "mutation($c: ID!, $s: ID!) { createAppeal(input: { campaignId: $c, name: \"Winter email\", channel: EMAIL, sourceCode: \"WIN-E\", segmentId: $s, subject: \"Winter\", message: \"Dear {first_name}\" }) { id } }",
        json!({ "c": campaign, "s": segment["id"] }),
    )
    .await["createAppeal"]["id"]
        .clone();
    let sent = ok(&app, &staff, SEND, json!({ "id": appeal })).await;
    assert_eq!(sent["sendAppeal"], json!({ "recipients": 3, "queued": 3 }));
    for (donor, amount, number) in [
        (ana, 10_000, "10"),
        (ben, 5_000, "11"),
        (ben, 2_500, "12"),
        (dan, 4_000, "13"),
    ] {
        record_gift(
            &app,
            &staff,
            check_gift(
                donor,
                json!({ "amount": { "amountMinor": amount }, "checkNumber": number, "receivedAt": "2026-11-20T18:00:00Z", "appealCode": "WIN-E" }),
            ),
        )
        .await;
    }
    let _ = carla;

    let results = ok(
        &app,
        &staff,
        "query($id: ID!) { appealResults(id: $id) { recipients gifts donors raised { amountMinor } bySegmentRule { index rule recipients gifts donors raised { amountMinor } responseRatePercent } } }",
        json!({ "id": appeal }),
    )
    .await["appealResults"]
        .clone();
    assert_eq!(
        (
            results["recipients"].clone(),
            results["gifts"].clone(),
            results["donors"].clone(),
            results["raised"]["amountMinor"].clone()
        ),
        (json!(3), json!(4), json!(3), json!(21_500))
    );
    assert_eq!(
        results["bySegmentRule"],
        json!([
            { "index": 0, "rule": { "kind": "speaksLanguage", "language": "es" }, "recipients": 2, "gifts": 1, "donors": 1,
              "raised": { "amountMinor": 10_000 }, "responseRatePercent": 50.0 },
            { "index": 1, "rule": { "kind": "lybunt", "year": 2026 }, "recipients": 2, "gifts": 3, "donors": 2,
              "raised": { "amountMinor": 17_500 }, "responseRatePercent": 100.0 },
        ])
    );
}

/// An Arabic reader's appeal opens its pages in Arabic: the personal donate link, the
/// unsubscribe link and the `List-Unsubscribe` header all carry `lang=ar`, and the
/// header's link still unsubscribes in one click.
async fn an_arabic_donors_appeal_links_open_in_arabic_and_still_unsubscribe(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let layla = create_donor(
        &app,
        &staff,
        json!({ "displayName": "ليلى حداد", "firstName": "ليلى", "email": "layla@example.org", "emailConsent": true, "language": "ARABIC" }),
    )
    .await;
    let appeal = email_appeal(&app, &staff, "FALL-AR").await;
    ok(&app, &staff, SEND, json!({ "id": appeal.to_string() })).await;
    let queued = appeal_messages(&app, appeal).await;
    assert_eq!(queued.len(), 1);
    let org = Config::defaults_with_database("sqlite::memory:")
        .unwrap()
        .org;

    let email = mailer::templates::render(&app.db, &org, None, &queued[0])
        .await
        .unwrap();

    assert!(email.html.contains("<html lang=\"ar\" dir=\"rtl\">"));
    let links: Vec<&str> = email
        .text
        .split_whitespace()
        .filter(|word| word.starts_with("http"))
        .collect();
    assert!(
        links.iter().any(|l| l.contains("/donate?appeal=FALL-AR&")),
        "{links:?}"
    );
    assert!(
        links.iter().any(|l| l.contains("/appeals/unsubscribe?")),
        "{links:?}"
    );
    for link in &links {
        assert!(link.ends_with("&lang=ar"), "{link} in {}", email.text);
    }
    assert_eq!(
        email.html.matches("&#38;lang=ar\"").count(),
        2,
        "the donate and unsubscribe links in {}",
        email.html
    );
    let header = email
        .headers
        .iter()
        .find(|(name, _)| name == "List-Unsubscribe")
        .map(|(_, value)| value.clone())
        .unwrap();
    assert!(header.ends_with("&lang=ar>"), "{header}");
    assert!(email.headers.contains(&(
        "List-Unsubscribe-Post".to_owned(),
        "List-Unsubscribe=One-Click".to_owned()
    )));

    // A mail client's one-click POST to the header's link unsubscribes her.
    let link = path_of(header.trim_start_matches('<').trim_end_matches('>'));
    let page = app.client.get(app.url(&link)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let done = app
        .client
        .post(app.url(&link))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let unsubscribed = donor::Entity::find_by_id(layla)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(unsubscribed.appeals_unsubscribed_at.is_some());
}

/// An audience larger than one batch of personal copies: each consenting donor gets
/// exactly one, counted alike when the appeal is scheduled, sent and sent again.
async fn an_appeal_to_more_donors_than_one_batch_reaches_each_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let seeded = tests::seed::seed(
        &app.db,
        tests::seed::SeedPlan {
            donors: 1_003,
            gifts_per_donor: 0,
            funds: 0,
            pledge_every: 0,
        },
    )
    .await;
    // The seed gives every other donor email consent.
    let consenting: std::collections::BTreeSet<i64> = seeded
        .donor_ids
        .iter()
        .enumerate()
        .filter(|(i, _)| (i + 1) % 2 == 0)
        .map(|(_, id)| *id)
        .collect();
    assert_eq!(consenting.len(), 501);
    let appeal = email_appeal(&app, &staff, "BATCHES").await;
    let scheduled = ok(
        &app,
        &staff,
        "mutation($id: ID!, $at: DateTime!) { sendAppeal(input: { id: $id, notBefore: $at }) { recipients queued } }",
        json!({ "id": appeal.to_string(), "at": Utc::now() + chrono::Duration::days(7) }),
    )
    .await;
    assert_eq!(
        scheduled["sendAppeal"],
        json!({ "recipients": 501, "queued": 0 })
    );
    let sent = ok(&app, &staff, SEND, json!({ "id": appeal.to_string() })).await;
    assert_eq!(
        sent["sendAppeal"],
        json!({ "recipients": 501, "queued": 501 })
    );
    let messages = appeal_messages(&app, appeal).await;
    let reached: std::collections::BTreeSet<i64> =
        messages.iter().filter_map(|m| m.donor_id).collect();
    assert_eq!(messages.len(), 501);
    assert_eq!(reached, consenting);
    let again = ok(&app, &staff, SEND, json!({ "id": appeal.to_string() })).await;
    assert_eq!(
        again["sendAppeal"],
        json!({ "recipients": 501, "queued": 0 })
    );
}

on_both_backends!(
    an_appeal_to_more_donors_than_one_batch_reaches_each_once,
    an_arabic_donors_appeal_links_open_in_arabic_and_still_unsubscribe,
    appeal_results_by_segment_rule_match_a_hand_checked_example,
    a_scheduled_appeal_is_queued_by_the_job_when_due_and_not_before,
    an_appeal_queued_before_the_donor_opted_out_is_skipped_and_receipts_still_go,
    a_batch_of_appeals_reads_its_donors_in_one_statement,
    appeal_results_match_a_hand_checked_example,
    an_appeals_results_take_three_statements,
    a_letter_appeal_exports_a_mail_merge_csv,
    an_email_appeal_reaches_each_consenting_donor_once_with_a_one_click_unsubscribe,
    a_letter_appeal_cannot_be_sent_by_email,
);
