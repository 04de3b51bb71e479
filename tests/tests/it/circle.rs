//! The Circle is the tier marked as the Circle, whatever its name and threshold: the
//! recognition page, the donation page's preset and note, appeal invitations and appeal
//! results all follow the tier when staff rename it or change what it takes.

use serde_json::{Value, json};

use crate::club::{club_app, envelope_pledge, messages, rendered};
use crate::staff_api::{admin_token, create_donor, fails, ok};
use crate::translations::send_appeal;
use tests::on_both_backends;
use tests::support::{Backend, TestApp};

const TIERS: &str = "{ tiers { nodes { id name isCircle threshold { amountMinor } } } }";
const PREVIEW: &str = "query($id: ID!, $donor: ID!) { appealPreview(id: $id, donorId: $donor) { ... on AppealPreview { clubMonthlyAsk { amountMinor formatted } } } }";
const RESULTS: &str =
    "query($id: ID!) { appealResults(id: $id) { pledges newClubMembers newCircleMembers } }";

async fn tiers(app: &TestApp, token: &str) -> Vec<Value> {
    ok(app, token, TIERS, json!({})).await["tiers"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

async fn circle_tier_id(app: &TestApp, token: &str) -> String {
    let all = tiers(app, token).await;
    let circles: Vec<&Value> = all.iter().filter(|t| t["isCircle"] == true).collect();
    assert_eq!(circles.len(), 1, "{all:?}");
    circles[0]["id"].as_str().unwrap().to_owned()
}

/// An email appeal that invites donors not yet in the Circle.
async fn inviting_appeal(app: &TestApp, token: &str, code: &str) -> Value {
    let campaign = ok(
        app,
        token,
        "mutation { createCampaign(input: { name: \"Amigos 2026\", goal: { amountMinor: 500000 }, startsOn: \"2026-09-01\", defaultFundId: \"1\" }) { id } }",
        json!({}),
    )
    .await["createCampaign"]["id"]
        .clone();
    ok(
        app,
        token,
        "mutation($input: CreateAppealInput!) { createAppeal(input: $input) { id } }",
        json!({ "input": {
            "campaignId": campaign,
            "name": "Amigos email",
            "channel": "EMAIL",
            "sourceCode": code,
            "subject": "{first_name}, join us",
            "message": "Dear {first_name}, {donate_link}",
            "askRule": { "step": { "amountMinor": 2_500 }, "minimum": { "amountMinor": 5_000 }, "inviteToCircle": true },
        } }),
    )
    .await["createAppeal"]["id"]
        .clone()
}

async fn pledge_from_appeal(app: &TestApp, token: &str, donor: i64, amount_minor: i64, code: &str) {
    ok(
        app,
        token,
        "mutation($input: CreatePledgeInput!) { createPledge(input: $input) { id } }",
        json!({ "input": {
            "donorId": donor.to_string(),
            "installment": { "amountMinor": amount_minor },
            "frequency": "MONTHLY",
            "startsOn": chrono::Utc::now().date_naive().to_string(),
            "fundId": "1",
            "appealCode": code,
        } }),
    )
    .await;
}

async fn page(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

async fn the_circle_follows_its_tier_through_a_new_name_and_threshold(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let admin = admin_token(&app).await;
    // A tier above the Circle that is not the Circle.
    ok(
        &app,
        &admin,
        "mutation { createTier(input: { name: \"Patrons\", threshold: { amountMinor: 120000 } }) { id } }",
        json!({}),
    )
    .await;
    let circle = circle_tier_id(&app, &admin).await;
    let renamed = ok(
        &app,
        &admin,
        "mutation($id: ID!) { updateTier(input: { id: $id, name: \"Amigos Club\", threshold: { amountMinor: 72000 } }) { name isCircle threshold { amountMinor } } }",
        json!({ "id": circle }),
    )
    .await["updateTier"]
        .clone();
    assert_eq!(
        renamed,
        json!({ "name": "Amigos Club", "isCircle": true, "threshold": { "amountMinor": 72_000 } })
    );

    let appeal = inviting_appeal(&app, &admin, "AMIGOS-EMAIL").await;
    let rosa = create_donor(
        &app,
        &admin,
        json!({ "displayName": "Rosa Amigo", "email": "rosa@example.org", "emailConsent": true }),
    )
    .await;
    let sam = create_donor(
        &app,
        &admin,
        json!({ "displayName": "Sam Below", "email": "sam@example.org", "emailConsent": true }),
    )
    .await;
    // $60 a month is $720 a year: the Circle. $42 a month no longer reaches it.
    pledge_from_appeal(&app, &admin, rosa, 6_000, "AMIGOS-EMAIL").await;
    envelope_pledge(&app, &admin, sam, 4_200, "MONTHLY", None).await;

    let circle_page = page(&app, "/circle").await;
    assert!(circle_page.contains("Amigos Club"), "{circle_page}");
    assert!(circle_page.contains("Rosa Amigo"), "{circle_page}");
    assert!(!circle_page.contains("Sam Below"));
    assert!(circle_page.contains("$720 or more a year"), "{circle_page}");
    assert!(!circle_page.contains("$500"));
    let french = page(&app, "/circle?lang=fr").await;
    assert!(french.contains("720 $"), "{french}");
    assert!(french.contains("Rosa Amigo"));

    let donate = page(&app, "/donate").await;
    assert!(donate.contains("id=\"amount-60\""), "{donate}");
    assert!(!donate.contains("id=\"amount-42\""), "{donate}");
    assert!(
        donate.contains("$60 a month joins the Amigos Club, for gifts of $720 or more a year."),
        "{donate}"
    );
    assert!(!donate.contains("$500"));
    let spanish = page(&app, "/donate?lang=es").await;
    assert!(
        spanish.contains("$60 al mes le une al Amigos Club, para donaciones de $720 o más al año."),
        "{spanish}"
    );

    let invited = ok(
        &app,
        &admin,
        PREVIEW,
        json!({ "id": appeal, "donor": sam.to_string() }),
    )
    .await["appealPreview"]["clubMonthlyAsk"]
        .clone();
    assert_eq!(invited["amountMinor"], 6_000);
    let member = ok(
        &app,
        &admin,
        PREVIEW,
        json!({ "id": appeal, "donor": rosa.to_string() }),
    )
    .await["appealPreview"]["clubMonthlyAsk"]
        .clone();
    assert!(member.is_null(), "a member is not invited: {member}");
    send_appeal(&app, &admin, appeal.as_str().expect("an id")).await;
    let sent = messages(&app, "appeal").await;
    let to = |donor: i64| sent.iter().find(|m| m.donor_id == Some(donor)).unwrap();
    let invitation = rendered(&app, to(sam)).await.text;
    assert!(
        invitation.contains("$60.00 a month brings you into our Amigos Club."),
        "{invitation}"
    );
    assert!(
        !rendered(&app, to(rosa))
            .await
            .text
            .contains("brings you into")
    );

    let results = ok(&app, &admin, RESULTS, json!({ "id": appeal })).await["appealResults"].clone();
    assert_eq!(
        results,
        json!({ "pledges": 1, "newClubMembers": 1, "newCircleMembers": 1 })
    );
}

async fn marking_another_tier_as_the_circle_moves_the_circle(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let admin = admin_token(&app).await;
    let before = circle_tier_id(&app, &admin).await;
    // Each language's page is kept as it was read; the change must reach every one.
    for (lang, note) in [
        ("en", "$42 a month joins the Circle of Friends"),
        ("es", "$42 al mes le une al Círculo de Amigos"),
    ] {
        let donate = page(&app, &format!("/donate?lang={lang}")).await;
        assert!(donate.contains(note), "{donate}");
    }
    let created = ok(
        &app,
        &admin,
        "mutation { createTier(input: { name: \"Inner Circle\", threshold: { amountMinor: 100000 }, isCircle: true }) { id isCircle } }",
        json!({}),
    )
    .await["createTier"]
        .clone();
    assert_eq!(created["isCircle"], true);
    let after = circle_tier_id(&app, &admin).await;
    assert_eq!(after, created["id"].as_str().unwrap());
    assert_ne!(after, before);

    // $100,000 a year is $83.34 a month, offered as $84.
    let donate = page(&app, "/donate").await;
    assert!(donate.contains("id=\"amount-84\""), "{donate}");
    assert!(
        donate.contains("$84 a month joins the Inner Circle, for gifts of $1,000 or more a year.")
    );
    let spanish = page(&app, "/donate?lang=es").await;
    assert!(
        spanish.contains("$84 al mes le une al Inner Circle"),
        "{spanish}"
    );
    assert!(!spanish.contains("amount-42"), "{spanish}");

    ok(
        &app,
        &admin,
        "mutation($id: ID!) { updateTier(input: { id: $id, isCircle: true }) { isCircle } }",
        json!({ "id": before }),
    )
    .await;
    assert_eq!(circle_tier_id(&app, &admin).await, before);

    let staff = app.token(entity::enums::StaffRole::Staff).await;
    let (code, _) = fails(
        &app,
        &staff,
        "mutation($id: ID!) { updateTier(input: { id: $id, isCircle: true }) { isCircle } }",
        json!({ "id": after }),
    )
    .await;
    assert_eq!(code, "FORBIDDEN");
    assert_eq!(circle_tier_id(&app, &admin).await, before);
}

/// An organization keeping its books in Canadian dollars, its Circle too, offers the
/// Circle's monthly amount on its donation page; a Circle kept in another currency is
/// not offered, since the page asks in the organization's.
async fn the_donation_page_offers_the_circle_in_the_organization_s_currency(backend: Backend) {
    // The tier's currency is changed behind the service's back below, so the page's
    // reads are not kept between requests.
    let app = tests::spawn_app_with(
        backend,
        &[("ORG_CURRENCY", "CAD"), ("READ_CACHE_SECS", "0")],
    )
    .await;
    let page = |app: &TestApp| {
        let url = format!("{}/donate", app.address);
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let usd_circle = page(&app).await;
    assert!(!usd_circle.contains("id=\"amount-42\""), "{usd_circle}");

    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("UPDATE giving_tiers SET currency = 'CAD'")
        .await
        .unwrap();
    let cad_circle = page(&app).await;
    assert!(cad_circle.contains("id=\"amount-42\""), "{cad_circle}");
}

on_both_backends!(
    the_circle_follows_its_tier_through_a_new_name_and_threshold,
    marking_another_tier_as_the_circle_moves_the_circle,
    the_donation_page_offers_the_circle_in_the_organization_s_currency,
);
