//! What an appeal's message may say and whom it reaches: misspelled merge fields are
//! refused by name when the appeal is created or changed, and a preview for a donor the
//! appeal would not reach says why.

use serde_json::json;
use tests::on_both_backends;
use tests::support::{Backend, spawn_app};

use super::*;

const CREATE: &str = "mutation($input: CreateAppealInput!) { createAppeal(input: $input) { id } }";
const UPDATE: &str =
    "mutation($input: UpdateAppealInput!) { updateAppeal(input: $input) { id message } }";
const PREVIEW: &str = "query($id: ID!, $donor: ID!) { appealPreview(id: $id, donorId: $donor) { __typename ... on AppealPreview { body } ... on AppealNotReceived { reason message } } }";

async fn campaign(app: &TestApp, staff: &str) -> serde_json::Value {
    ok(
        app,
        staff,
        "mutation { createCampaign(input: { name: \"Spring\", goal: { amountMinor: 100000 }, startsOn: \"2026-03-01\", defaultFundId: \"1\" }) { id } }",
        json!({}),
    )
    .await["createCampaign"]["id"]
        .clone()
}

async fn misspelled_merge_fields_are_refused_by_name_at_create_and_update(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let campaign = campaign(&app, &staff).await;
    let input = |message: &str| {
        json!({ "input": {
            "campaignId": campaign, "name": "Spring email", "channel": "EMAIL",
            "sourceCode": "SPRING-E", "subject": "Spring", "message": message,
        } })
    };
    let body = app
        .graphql(
            &staff,
            CREATE,
            input("Dear {firstname}, will you give {ask} today? {ask}"),
        )
        .await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert_eq!(error["extensions"]["field"], "message");
    let said = error["message"].as_str().unwrap();
    assert!(said.contains("{firstname}, {ask};"), "{said}");
    assert!(said.contains("{first_name}"), "{said}");

    let appeal = ok(
        &app,
        &staff,
        CREATE,
        input("Dear {first_name}, will you give {ask_amount}? {donate_link} {last_gift}"),
    )
    .await["createAppeal"]["id"]
        .clone();
    let (code, field) = fails(
        &app,
        &staff,
        UPDATE,
        json!({ "input": { "id": appeal, "subject": "{First_Name}, spring is here" } }),
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "subject")
    );
    let changed = ok(
        &app,
        &staff,
        UPDATE,
        json!({ "input": { "id": appeal, "message": "Hola {first_name} {}" } }),
    )
    .await;
    assert_eq!(changed["updateAppeal"]["message"], "Hola {first_name} {}");
}

/// The appeal goes to the "Spanish readers" segment: Ana reads Spanish and gets it;
/// Ben reads English; Carla reads Spanish but has no email address.
async fn a_preview_for_a_donor_the_appeal_misses_says_why(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana", "firstName": "Ana", "email": "ana@example.org", "emailConsent": true, "language": "SPANISH" }),
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
        json!({ "displayName": "Carla", "language": "SPANISH" }),
    )
    .await;
    let segment = ok(
        &app,
        &staff,
        "mutation { createSegment(input: { name: \"Spanish readers\", rule: { speaksLanguage: { language: SPANISH } } }) { id } }",
        json!({}),
    )
    .await["createSegment"]["id"]
        .clone();
    let campaign = campaign(&app, &staff).await;
    let appeal = ok(
        &app,
        &staff,
        CREATE,
        json!({ "input": {
            "campaignId": campaign, "name": "Primavera", "channel": "EMAIL", "sourceCode": "PRIM-E",
            "segmentId": segment, "subject": "Primavera", "message": "Hola {first_name}",
        } }),
    )
    .await["createAppeal"]["id"]
        .clone();
    let preview = |donor: i64| {
        let app = &app;
        let staff = &staff;
        let appeal = appeal.clone();
        async move {
            ok(
                app,
                staff,
                PREVIEW,
                json!({ "id": appeal, "donor": donor.to_string() }),
            )
            .await["appealPreview"]
                .clone()
        }
    };
    let received = preview(ana).await;
    assert_eq!(received["__typename"], "AppealPreview");
    assert_eq!(received["body"], "Hola Ana");
    let outside = preview(ben).await;
    assert_eq!(outside["__typename"], "AppealNotReceived");
    assert_eq!(outside["reason"], "OUTSIDE_SEGMENT");
    assert_eq!(
        outside["message"],
        "the donor is not in the appeal's segment"
    );
    assert_eq!(preview(carla).await["reason"], "NO_EMAIL_ADDRESS");
    let (code, _) = fails(
        &app,
        &staff,
        PREVIEW,
        json!({ "id": appeal, "donor": "999999" }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
}

on_both_backends!(
    misspelled_merge_fields_are_refused_by_name_at_create_and_update,
    a_preview_for_a_donor_the_appeal_misses_says_why,
);
