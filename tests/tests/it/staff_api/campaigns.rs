//! Campaigns and appeals: staff build them, and progress comes from attributed gifts.

use serde_json::json;
use tests::on_both_backends;
use tests::support::{Backend, spawn_app};

use super::*;

const CREATE_CAMPAIGN: &str = "mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { id name goal { amountMinor formatted } startsOn endsOn defaultFundId } }";
const UPDATE_CAMPAIGN: &str = "mutation($input: UpdateCampaignInput!) { updateCampaign(input: $input) { id name description endsOn } }";
const CREATE_APPEAL: &str = "mutation($input: CreateAppealInput!) { createAppeal(input: $input) { id sourceCode channel askRule { step { amountMinor } minimum { amountMinor } inviteToCircle } cost { amountMinor } } }";
const UPDATE_APPEAL: &str = "mutation($input: UpdateAppealInput!) { updateAppeal(input: $input) { id sourceCode message cost { amountMinor } askRule { step { amountMinor } } } }";
const REFUND: &str = "mutation($id: ID!, $amount: MoneyInput) { refundGift(input: { id: $id, amount: $amount }) { gift { status } } }";
const PROGRESS: &str = "query($id: ID!) { campaign(id: $id) { name progress { raised { amountMinor } gifts donors percentOfGoal } appeals { sourceCode progress { raised { amountMinor } gifts donors } } } }";

async fn create_spring_campaign(app: &TestApp, token: &str) -> serde_json::Value {
    ok(
        app,
        token,
        CREATE_CAMPAIGN,
        json!({ "input": {
            "name": "Spring 2026 Appeal",
            "description": "Defense for families facing removal",
            "goal": { "amountMinor": 100_000 },
            "startsOn": "2026-03-01",
            "endsOn": "2026-06-30",
            "defaultFundId": "1",
        } }),
    )
    .await["createCampaign"]
        .clone()
}

async fn staff_build_a_campaign_and_its_appeals(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let campaign = create_spring_campaign(&app, &staff).await;
    assert_eq!(campaign["goal"]["formatted"], "$1,000.00");
    let id = campaign["id"].clone();
    let updated = ok(
        &app,
        &staff,
        UPDATE_CAMPAIGN,
        json!({ "input": { "id": id, "description": null, "endsOn": "2026-07-31" } }),
    )
    .await;
    assert_eq!(updated["updateCampaign"]["description"], json!(null));
    assert_eq!(updated["updateCampaign"]["endsOn"], "2026-07-31");

    let appeal = ok(
        &app,
        &staff,
        CREATE_APPEAL,
        json!({ "input": {
            "campaignId": id,
            "name": "Spring email",
            "channel": "EMAIL",
            "sourceCode": " scomm26-email ",
            "askRule": { "step": { "amountMinor": 2_500 }, "minimum": { "amountMinor": 5_000 }, "inviteToCircle": true },
            "cost": { "amountMinor": 15_000 },
        } }),
    )
    .await["createAppeal"]
        .clone();
    assert_eq!(appeal["sourceCode"], "SCOMM26-EMAIL");
    assert_eq!(appeal["channel"], "EMAIL");
    assert_eq!(
        appeal["askRule"],
        json!({ "step": { "amountMinor": 2_500 }, "minimum": { "amountMinor": 5_000 }, "inviteToCircle": true })
    );
    let changed = ok(
        &app,
        &staff,
        UPDATE_APPEAL,
        json!({ "input": { "id": appeal["id"], "message": "Dear {first_name}", "cost": null, "askRule": null } }),
    )
    .await;
    assert_eq!(changed["updateAppeal"]["message"], "Dear {first_name}");
    assert_eq!(changed["updateAppeal"]["cost"], json!(null));
    assert_eq!(changed["updateAppeal"]["askRule"], json!(null));
    let listed = ok(
        &app,
        &staff,
        "{ campaigns(first: 10) { totalCount edges { node { name appeals { sourceCode } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        listed["campaigns"],
        json!({ "totalCount": 1, "edges": [{ "node": { "name": "Spring 2026 Appeal", "appeals": [{ "sourceCode": "SCOMM26-EMAIL" }] } }] })
    );
    for action in [
        "createCampaign",
        "updateCampaign",
        "createAppeal",
        "updateAppeal",
    ] {
        assert_eq!(audit_entries(&app, action).await.len(), 1, "{action}");
    }
}

async fn a_refused_campaign_or_appeal_names_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let campaign = create_spring_campaign(&app, &staff).await;
    let id = campaign["id"].clone();
    for (input, code, field) in [
        (
            json!({ "name": " ", "goal": { "amountMinor": 100 }, "startsOn": "2026-01-01", "defaultFundId": "1" }),
            "BAD_USER_INPUT",
            "name",
        ),
        (
            json!({ "name": "Spring 2026 Appeal", "goal": { "amountMinor": 100 }, "startsOn": "2026-01-01", "defaultFundId": "1" }),
            "CONFLICT",
            "name",
        ),
        (
            json!({ "name": "Fall", "goal": { "amountMinor": 0 }, "startsOn": "2026-01-01", "defaultFundId": "1" }),
            "BAD_USER_INPUT",
            "goal",
        ),
        (
            json!({ "name": "Fall", "goal": { "amountMinor": 100 }, "startsOn": "2026-09-01", "endsOn": "2026-08-01", "defaultFundId": "1" }),
            "BAD_USER_INPUT",
            "endsOn",
        ),
        (
            json!({ "name": "Fall", "goal": { "amountMinor": 100 }, "startsOn": "2026-09-01", "defaultFundId": "99" }),
            "BAD_USER_INPUT",
            "defaultFundId",
        ),
    ] {
        let (got_code, got_field) =
            fails(&app, &staff, CREATE_CAMPAIGN, json!({ "input": input })).await;
        assert_eq!(
            (got_code.as_str(), got_field.as_str()),
            (code, field),
            "{input}"
        );
    }
    let appeal = json!({ "campaignId": id, "name": "Letter", "channel": "LETTER", "sourceCode": "SCOMM26-LETTER" });
    ok(&app, &staff, CREATE_APPEAL, json!({ "input": appeal })).await;
    for (extra, code, field) in [
        (
            json!({ "sourceCode": "scomm26-letter" }),
            "CONFLICT",
            "sourceCode",
        ),
        (
            json!({ "sourceCode": "has space" }),
            "BAD_USER_INPUT",
            "sourceCode",
        ),
        (
            json!({ "sourceCode": "X1", "cost": { "amountMinor": -1 } }),
            "BAD_USER_INPUT",
            "cost",
        ),
        (
            json!({ "sourceCode": "X2", "campaignId": "999" }),
            "BAD_USER_INPUT",
            "campaignId",
        ),
        (
            json!({ "sourceCode": "X3", "segmentId": "999" }),
            "BAD_USER_INPUT",
            "segmentId",
        ),
        (
            json!({ "sourceCode": "X4", "askRule": { "step": { "amountMinor": 0 }, "minimum": { "amountMinor": 100 } } }),
            "BAD_USER_INPUT",
            "askRule.step",
        ),
    ] {
        let mut input = appeal.clone();
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        let (got_code, got_field) =
            fails(&app, &staff, CREATE_APPEAL, json!({ "input": input })).await;
        assert_eq!(
            (got_code.as_str(), got_field.as_str()),
            (code, field),
            "{extra}"
        );
    }
    assert_eq!(count(&app, entity::appeal::Entity).await, 1);
}

async fn campaign_progress_counts_attributed_gifts_net_of_refunds(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let campaign = create_spring_campaign(&app, &staff).await;
    let id = campaign["id"].clone();
    for code in ["SPRING-EMAIL", "SPRING-LETTER"] {
        ok(
            &app,
            &staff,
            CREATE_APPEAL,
            json!({ "input": { "campaignId": id, "name": code, "channel": "OTHER", "sourceCode": code } }),
        )
        .await;
    }
    let ana = create_donor(&app, &staff, json!({ "displayName": "Ana García" })).await;
    let luis = create_donor(&app, &staff, json!({ "displayName": "Luis Pérez" })).await;
    // Ana gives $250 and $100 by email link code, Luis $300 by reply envelope, of which
    // $50 is refunded; a gift without a code is not the campaign's.
    record_gift(
        &app,
        &staff,
        check_gift(ana, json!({ "appealCode": "spring-email" })),
    )
    .await;
    record_gift(
        &app,
        &staff,
        check_gift(ana, json!({ "appealCode": "SPRING-EMAIL", "amount": { "amountMinor": 10_000 }, "checkNumber": "1043" })),
    )
    .await;
    let luis_gift = record_gift(
        &app,
        &staff,
        check_gift(luis, json!({ "appealCode": "SPRING-LETTER", "amount": { "amountMinor": 30_000 }, "checkNumber": "77" })),
    )
    .await;
    record_gift(
        &app,
        &staff,
        check_gift(luis, json!({ "checkNumber": "78" })),
    )
    .await;
    ok(
        &app,
        &staff,
        REFUND,
        json!({ "id": luis_gift["gift"]["id"], "amount": { "amountMinor": 5_000 } }),
    )
    .await;

    let progress = ok(&app, &staff, PROGRESS, json!({ "id": id })).await["campaign"].clone();
    assert_eq!(
        progress["progress"],
        json!({ "raised": { "amountMinor": 60_000 }, "gifts": 3, "donors": 2, "percentOfGoal": 60 })
    );
    assert_eq!(
        progress["appeals"],
        json!([
            { "sourceCode": "SPRING-EMAIL", "progress": { "raised": { "amountMinor": 35_000 }, "gifts": 2, "donors": 1 } },
            { "sourceCode": "SPRING-LETTER", "progress": { "raised": { "amountMinor": 25_000 }, "gifts": 1, "donors": 1 } },
        ])
    );
    let (code, _) = fails(&app, &staff, PROGRESS, json!({ "id": "999" })).await;
    assert_eq!(code, "NOT_FOUND");
    let (code, _) = fails(
        &app,
        &staff,
        "query { appeal(id: \"999\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
}

on_both_backends!(
    staff_build_a_campaign_and_its_appeals,
    a_refused_campaign_or_appeal_names_the_field,
    campaign_progress_counts_attributed_gifts_net_of_refunds,
);
