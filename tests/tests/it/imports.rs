//! Imports: a donor list or gift history as CSV through `importDonors`/`importGifts`.
//! One bad row changes nothing and is named by row, column and reason; staff may skip
//! bad rows instead; donors are matched by normalized email; a row imported before is
//! left alone; history is not receipted unless asked; hostile cells get clear errors.

use entity::enums::StaffRole;
use entity::{audit_log, donor, gift, receipt};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tests::on_both_backends;
use tests::support::{Backend, TestApp, error_codes, spawn_app};

use crate::staff_api::{create_donor, ok, staff_token};

const IMPORT_DONORS: &str = "mutation($input: ImportDonorsInput!) { importDonors(input: $input) { rows created matched alreadyImported skipped applied errors { row column reason } } }";
const IMPORT_GIFTS: &str = "mutation($input: ImportGiftsInput!) { importGifts(input: $input) { rows created alreadyImported skipped receiptsIssued applied errors { row column reason } } }";

async fn import(app: &TestApp, token: &str, mutation: &str, input: Value) -> Value {
    let data = ok(app, token, mutation, json!({ "input": input })).await;
    data.as_object()
        .and_then(|d| d.values().next())
        .cloned()
        .expect("a result")
}

async fn donors(app: &TestApp) -> u64 {
    donor::Entity::find().count(&app.db).await.unwrap()
}

async fn gifts(app: &TestApp) -> Vec<gift::Model> {
    gift::Entity::find()
        .order_by_asc(gift::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

const DONORS: &str = "external_id,display_name,email,language,email_consent\r\n\
    LGL-1,Ana López,ana@example.org,es,yes\r\n\
    LGL-2,عمر حداد,omar@example.org,ar,no\r\n\
    LGL-3,Bad Email,not-an-email,en,no\r\n\
    LGL-4,李华,li@example.org,en,true\r\n";

async fn one_bad_row_changes_nothing_and_is_named_by_row_column_and_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;

    let refused = import(&app, &staff, IMPORT_DONORS, json!({ "csv": DONORS })).await;
    assert_eq!(refused["applied"], false);
    assert_eq!(refused["rows"], 4);
    assert_eq!(refused["errors"].as_array().unwrap().len(), 1, "{refused}");
    assert_eq!(refused["errors"][0]["row"], 4);
    assert_eq!(refused["errors"][0]["column"], "email");
    assert!(
        refused["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not an email address"),
        "{refused}"
    );
    assert_eq!(donors(&app).await, 0, "nothing changed");
    assert_eq!(
        audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq("importDonors"))
            .count(&app.db)
            .await
            .unwrap(),
        0
    );

    let dry = import(
        &app,
        &staff,
        IMPORT_DONORS,
        json!({ "csv": DONORS, "dryRun": true, "skipBadRows": true }),
    )
    .await;
    assert_eq!(
        (dry["created"].clone(), dry["applied"].clone()),
        (json!(3), json!(false))
    );
    assert_eq!(donors(&app).await, 0, "a dry run changes nothing");

    let skipped = import(
        &app,
        &staff,
        IMPORT_DONORS,
        json!({ "csv": DONORS, "skipBadRows": true }),
    )
    .await;
    assert_eq!(skipped["applied"], true);
    assert_eq!(skipped["created"], 3);
    assert_eq!(skipped["skipped"], 1);
    assert_eq!(donors(&app).await, 3);
    let omar = donor::Entity::find()
        .filter(donor::Column::ExternalId.eq("LGL-2"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        omar.display_name, "عمر حداد",
        "other scripts are kept as typed"
    );
    let entry = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("importDonors"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.changes["created"], 3);
    assert!(entry.actor.starts_with("test-staff"), "{}", entry.actor);

    // The same file again, fixed: the three are left alone and the fourth is added.
    let fixed = DONORS.replace("not-an-email", "bad@example.org");
    let again = import(&app, &staff, IMPORT_DONORS, json!({ "csv": fixed })).await;
    assert_eq!(
        (again["created"].clone(), again["alreadyImported"].clone()),
        (json!(1), json!(3)),
        "{again}"
    );
    assert_eq!(donors(&app).await, 4);
}

on_both_backends!(one_bad_row_changes_nothing_and_is_named_by_row_column_and_reason);

async fn donors_are_matched_by_email_as_the_service_normalizes_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana López", "email": "ana@example.org" }),
    )
    .await;
    let result = import(
        &app,
        &staff,
        IMPORT_DONORS,
        json!({ "csv": "display_name,email,external_id\nAna Lopez,\"  ANA@Example.ORG \",CIVI-9\n" }),
    )
    .await;
    assert_eq!(result["matched"], 1, "{result}");
    assert_eq!(result["created"], 0);
    let kept = donor::Entity::find_by_id(ana)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.display_name, "Ana López", "what staff typed is kept");
    assert_eq!(kept.external_id.as_deref(), Some("CIVI-9"));
}

on_both_backends!(donors_are_matched_by_email_as_the_service_normalizes_it);

async fn hostile_cells_get_clear_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    import(
        &app,
        &staff,
        IMPORT_DONORS,
        json!({ "csv": "external_id,display_name\nD1,Ana\n" }),
    )
    .await;
    let header = "external_id,donor_external_id,amount,method,received_at,check_number,notes\n";
    let cases = [
        (
            "G1,D1,25,50,check,2026-01-05,1,\n",
            None,
            "must be in quotes",
        ),
        (
            "G1,D1,1.000,check,2026-01-05,1,\n",
            Some("amount"),
            "ambiguous",
        ),
        ("G1,D1,-5,check,2026-01-05,1,\n", Some("amount"), ""),
        ("G1,D1,abc,check,2026-01-05,1,\n", Some("amount"), ""),
        (
            "G1,D1,10,check,5 janvier,1,\n",
            Some("received_at"),
            "is not a date",
        ),
        (
            "G1,D1,10,barter,2026-01-05,1,\n",
            Some("method"),
            "card, bank, check",
        ),
        (
            "G1,D1,10,check,2026-01-05,\"1\u{7}\",\n",
            Some("check_number"),
            "control character",
        ),
        (
            "G1,D9,10,check,2026-01-05,1,\n",
            Some("donor_external_id"),
            "import donors first",
        ),
        (
            "G1,D1,10,check,2036-01-05,1,\n",
            Some("received_at"),
            "future",
        ),
    ];
    for (row, column, reason) in cases {
        let result = import(
            &app,
            &staff,
            IMPORT_GIFTS,
            json!({ "csv": format!("{header}{row}") }),
        )
        .await;
        let error = &result["errors"][0];
        assert_eq!(result["applied"], false, "{row}: {result}");
        assert_eq!(error["row"], 2, "{row}: {result}");
        assert_eq!(error["column"].as_str(), column, "{row}: {result}");
        assert!(
            error["reason"].as_str().unwrap().contains(reason),
            "{row}: {result}"
        );
    }
    assert!(gifts(&app).await.is_empty());

    let unknown = import(
        &app,
        &staff,
        IMPORT_GIFTS,
        json!({ "csv": "amout,method\n" }),
    )
    .await;
    assert_eq!(unknown["errors"][0]["row"], 1, "{unknown}");
    assert_eq!(unknown["errors"][0]["column"], "amout");

    // Quoted, `25,50` is twenty-five fifty, as the service reads typed amounts.
    let quoted = import(
        &app,
        &staff,
        IMPORT_GIFTS,
        json!({ "csv": format!("{header}G1,D1,\"25,50\",check,2026-01-05,1,\"a note\non two lines\"\n") }),
    )
    .await;
    assert_eq!(quoted["created"], 1, "{quoted}");
    assert_eq!(gifts(&app).await[0].amount_minor, 2_550);
}

on_both_backends!(hostile_cells_get_clear_errors);

async fn imported_gifts_are_receipted_only_when_asked(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    import(
        &app,
        &staff,
        IMPORT_DONORS,
        json!({ "csv": "external_id,display_name,email\nD1,Ana,ana@example.org\n" }),
    )
    .await;
    let history = "external_id,donor_email,amount,method,received_at,fund,status,refunded,issue_receipt\n\
        G1,ana@example.org,100.00,card,2025-06-01,General,succeeded,0.00,\n\
        G2,ANA@example.org,40.00,cash,2025-07-01T10:00:00Z,general,refunded,,\n\
        G3,ana@example.org,\"1,000.00\",check,2026-02-01,,partially_refunded,250.00,\n\
        G4,ana@example.org,60.00,check,2026-02-02,,succeeded,,yes\n";
    let result = import(&app, &staff, IMPORT_GIFTS, json!({ "csv": history })).await;
    assert_eq!(result["errors"], json!([]), "{result}");
    assert_eq!(result["created"], 4);
    assert_eq!(result["receiptsIssued"], 1);
    let rows = gifts(&app).await;
    let net: i64 = rows.iter().map(api::domain::gifts::net_minor).sum();
    assert_eq!(net, 10_000 + 100_000 - 25_000 + 6_000);
    assert_eq!(rows[1].refunded_minor, 4_000);
    let receipts = receipt::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].gift_id, Some(rows[3].id));

    let again = import(&app, &staff, IMPORT_GIFTS, json!({ "csv": history })).await;
    assert_eq!(again["alreadyImported"], 4, "{again}");
    assert_eq!(gifts(&app).await.len(), 4);
}

on_both_backends!(imported_gifts_are_receipted_only_when_asked);

async fn viewers_cannot_import(backend: Backend) {
    let app = spawn_app(backend).await;
    let viewer = app.token(StaffRole::Viewer).await;
    let body = app
        .graphql(
            &viewer,
            IMPORT_DONORS,
            json!({ "input": { "csv": "display_name\nAna\n" } }),
        )
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    assert_eq!(donors(&app).await, 0);
}

on_both_backends!(viewers_cannot_import);
