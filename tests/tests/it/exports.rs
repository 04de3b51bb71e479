//! Exports: staff ask for donors, gifts or pledges and get a signed link that streams a
//! CSV file (formula cells neutralized, every matching row, audited), and the demo
//! organization exported and imported into an empty database comes back whole.

use std::collections::HashMap;

use chrono::{NaiveDate, TimeZone, Utc};
use entity::enums::{
    DonorKind, GiftStatus, Language, PaymentMethod, PledgeFrequency, PledgeSource, PledgeStatus,
    StaffRole, TributeKind,
};
use entity::{appeal, audit_log, campaign, donor, fund, gift, pledge};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, NotSet, PaginatorTrait, QueryFilter, Set,
};
use serde_json::{Value, json};
use tests::on_both_backends;
use tests::support::{Backend, TestApp, error_codes, spawn_app_with};

use crate::staff_api::{admin_token, check_gift, create_donor, ok, scomm_appeal, staff_token};

const LINK_KEY: &str = "export-links-are-signed-with-this-key-0123456789";

async fn spawn(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[("DOWNLOAD_LINK_KEY", LINK_KEY)]).await
}

const EXPORT_DONORS: &str =
    "mutation($filter: DonorFilter) { exportDonors(filter: $filter) { url expiresAt } }";
const EXPORT_GIFTS: &str =
    "mutation($filter: GiftFilter) { exportGifts(filter: $filter) { url expiresAt } }";
const EXPORT_PLEDGES: &str =
    "mutation($filter: PledgeFilter) { exportPledges(filter: $filter) { url expiresAt } }";

/// Asks for an export and answers its link, made relative to the test server.
async fn export_link(app: &TestApp, token: &str, mutation: &str, filter: Value) -> String {
    let data = ok(app, token, mutation, json!({ "filter": filter })).await;
    let link = data
        .as_object()
        .and_then(|d| d.values().next())
        .and_then(|e| e["url"].as_str())
        .expect("a link")
        .to_owned();
    let at = link.find("/exports/").expect("an export path");
    link[at..].to_owned()
}

async fn download(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    response.text().await.unwrap()
}

/// The rows of a CSV file as maps from header to cell.
fn rows(csv_text: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|record| {
            header
                .iter()
                .cloned()
                .zip(record.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

async fn an_export_link_streams_the_matching_donors_with_formulas_neutralized(backend: Backend) {
    let app = spawn(backend).await;
    let staff = staff_token(&app).await;
    create_donor(
        &app,
        &staff,
        json!({ "displayName": "=HYPERLINK(\"http://x\")", "lastName": "Export", "email": "formula@example.org" }),
    )
    .await;
    create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana Export", "email": "ana@example.org", "language": "SPANISH" }),
    )
    .await;
    create_donor(&app, &staff, json!({ "displayName": "Someone Else" })).await;

    let path = export_link(
        &app,
        &staff,
        EXPORT_DONORS,
        json!({ "search": "example.org" }),
    )
    .await;
    let file = download(&app, &path).await;
    assert!(
        file.starts_with("id,external_id,kind,display_name,"),
        "{file}"
    );
    let donors = rows(&file);
    assert_eq!(donors.len(), 2, "{file}");
    assert_eq!(donors[0]["display_name"], "'=HYPERLINK(\"http://x\")");
    assert_eq!(donors[1]["display_name"], "Ana Export");
    assert_eq!(donors[1]["language"], "es");
    assert_eq!(donors[1]["email"], "ana@example.org");
    assert_eq!(
        donors[1]["external_id"],
        format!("donor-{}", donors[1]["id"])
    );

    let asked = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("exportDonors"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].changes["request"]["filter"]["text"], "example.org");

    // An altered link, or another export's number, opens nothing.
    // The signature's first character changed to another one.
    let at = path.find("signature=").unwrap() + "signature=".len();
    let other = if path[at..].starts_with('0') {
        "1"
    } else {
        "0"
    };
    let forged = format!("{}{other}{}", &path[..at], &path[at + 1..]);
    let tampered = path.replacen(".csv", "1.csv", 1);
    for bad in [
        forged,
        tampered,
        "/exports/1.csv?expires=1&signature=x".to_owned(),
    ] {
        assert_eq!(app.get(&bad).await.status(), 403, "{bad}");
    }
}

on_both_backends!(an_export_link_streams_the_matching_donors_with_formulas_neutralized);

async fn viewers_cannot_export(backend: Backend) {
    let app = spawn(backend).await;
    let viewer = app.token(StaffRole::Viewer).await;
    for mutation in [EXPORT_DONORS, EXPORT_GIFTS, EXPORT_PLEDGES] {
        let body = app.graphql(&viewer, mutation, json!({})).await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{mutation}: {body}");
    }
    assert_eq!(
        audit_log::Entity::find()
            .filter(audit_log::Column::Entity.eq("export"))
            .count(&app.db)
            .await
            .unwrap(),
        0,
        "a refused export is not recorded as asked"
    );
}

on_both_backends!(viewers_cannot_export);

async fn a_gift_export_filters_and_names_each_gifts_donor_and_fund(backend: Backend) {
    let app = spawn(backend).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana López", "email": "ana@example.org" }),
    )
    .await;
    let ben = create_donor(&app, &staff, json!({ "displayName": "Ben" })).await;
    for (donor, cents) in [(ana, 4_200), (ana, 125_050), (ben, 1_000)] {
        ok(
            &app,
            &staff,
            crate::staff_api::RECORD_GIFT,
            json!({ "input": check_gift(donor, json!({ "amount": { "amountMinor": cents } })) }),
        )
        .await;
    }
    let path = export_link(
        &app,
        &staff,
        EXPORT_GIFTS,
        json!({ "donorId": ana.to_string() }),
    )
    .await;
    let gifts = rows(&download(&app, &path).await);
    assert_eq!(gifts.len(), 2);
    assert_eq!(gifts[0]["amount"], "42.00");
    assert_eq!(gifts[1]["amount"], "1,250.50");
    assert_eq!(gifts[1]["donor_email"], "ana@example.org");
    assert_eq!(gifts[1]["donor_external_id"], format!("donor-{ana}"));
    assert_eq!(gifts[1]["fund"], "General Fund");
    assert_eq!(gifts[1]["method"], "check");
    assert_eq!(gifts[1]["status"], "succeeded");
    // A gift that brought no benefits says nothing of them, rather than "0.00".
    assert_eq!(gifts[1]["benefits_value"], "");

    let pledges = rows(
        &download(
            &app,
            &export_link(&app, &staff, EXPORT_PLEDGES, json!({})).await,
        )
        .await,
    );
    assert!(pledges.is_empty());
}

on_both_backends!(a_gift_export_filters_and_names_each_gifts_donor_and_fund);

/// The one row a file has, as a map from header to cell.
async fn only_row(
    app: &TestApp,
    token: &str,
    mutation: &str,
    filter: Value,
) -> HashMap<String, String> {
    let file = download(app, &export_link(app, token, mutation, filter).await).await;
    let mut found = rows(&file);
    assert_eq!(found.len(), 1, "{file}");
    found.remove(0)
}

/// Asserts each named cell, and that the file has no column left unchecked.
fn assert_cells(row: &HashMap<String, String>, expected: &[(&str, String)]) {
    for (column, value) in expected {
        assert_eq!(&row[*column], value, "column {column}");
    }
    let mut checked: Vec<&str> = expected.iter().map(|(column, _)| *column).collect();
    let mut columns: Vec<&str> = row.keys().map(String::as_str).collect();
    checked.sort_unstable();
    columns.sort_unstable();
    assert_eq!(checked, columns, "every column checked once");
}

async fn every_column_of_each_export_says_what_its_record_holds(backend: Backend) {
    let app = spawn(backend).await;
    let staff = staff_token(&app).await;
    let created = Utc.with_ymd_and_hms(2025, 11, 2, 3, 4, 5).unwrap();
    let donor = donor::ActiveModel {
        external_id: Set(Some("CRM-7".into())),
        kind: Set(DonorKind::Organization),
        display_name: Set("Fundación Ríos".into()),
        first_name: Set(Some("Lucía".into())),
        last_name: Set(Some("Ríos".into())),
        email: Set(Some("lucia@example.org".into())),
        phone: Set(Some("+1 213 555 0100".into())),
        address_line1: Set(Some("2130 W. 6th Street".into())),
        address_line2: Set(Some("Suite 4".into())),
        city: Set(Some("Los Angeles".into())),
        region: Set(Some("CA".into())),
        postal_code: Set(Some("90057".into())),
        country: Set(Some("US".into())),
        language: Set(Language::French),
        email_consent: Set(true),
        anonymous: Set(false),
        notes: Set(Some(
            "met at the \"Know your rights\" night, 2nd row".into(),
        )),
        search_text: Set("fundacion rios lucia@example.org".into()),
        link_version: Set(0),
        created_at: Set(created),
        updated_at: Set(created),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let (campaign_id, appeal_id) = scomm_appeal(&app).await;
    let fund = fund::ActiveModel {
        name: Set("Santa Ana Deportation Defense Fund".into()),
        code: Set("SANTA-ANA".into()),
        restricted: Set(true),
        created_at: Set(created),
        updated_at: Set(created),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let pledge = pledge::ActiveModel {
        donor_id: Set(donor.id),
        source: Set(PledgeSource::Envelope),
        status: Set(PledgeStatus::Paused),
        installment_minor: Set(125_050),
        currency: Set("USD".into()),
        frequency: Set(PledgeFrequency::Quarterly),
        starts_on: Set(NaiveDate::from_ymd_opt(2026, 2, 3).unwrap()),
        ends_on: Set(Some(NaiveDate::from_ymd_opt(2027, 8, 9).unwrap())),
        installments_total: Set(Some(7)),
        fund_id: Set(fund.id),
        appeal_id: Set(Some(appeal_id)),
        campaign_id: Set(Some(campaign_id)),
        created_at: Set(created),
        updated_at: Set(created),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let received = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
    let gift = gift::ActiveModel {
        external_id: Set(Some("OLD-GIFT-9".into())),
        donor_id: Set(donor.id),
        amount_minor: Set(250_075),
        currency: Set("USD".into()),
        refunded_minor: Set(1_025),
        method: Set(PaymentMethod::Check),
        status: Set(GiftStatus::PartiallyRefunded),
        fund_id: Set(fund.id),
        campaign_id: Set(Some(campaign_id)),
        appeal_id: Set(Some(appeal_id)),
        pledge_id: Set(Some(pledge.id)),
        received_at: Set(received),
        check_number: Set(Some("00417".into())),
        tribute_kind: Set(Some(TributeKind::InHonorOf)),
        tribute_name: Set(Some("Abuela Rosa".into())),
        benefits_minor: Set(4_500),
        benefits_description: Set(Some("two gala tickets".into())),
        anonymous: Set(true),
        notes: Set(Some("=not a formula".into())),
        created_at: Set(received),
        updated_at: Set(received),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();

    let exported = only_row(&app, &staff, EXPORT_DONORS, json!({ "search": "Ríos" })).await;
    assert_cells(
        &exported,
        &[
            ("id", donor.id.to_string()),
            ("external_id", "CRM-7".into()),
            ("kind", "organization".into()),
            ("display_name", "Fundación Ríos".into()),
            ("first_name", "Lucía".into()),
            ("last_name", "Ríos".into()),
            ("email", "lucia@example.org".into()),
            ("phone", "'+1 213 555 0100".into()),
            ("address_line1", "2130 W. 6th Street".into()),
            ("address_line2", "Suite 4".into()),
            ("city", "Los Angeles".into()),
            ("region", "CA".into()),
            ("postal_code", "90057".into()),
            ("country", "US".into()),
            ("language", "fr".into()),
            ("email_consent", "true".into()),
            ("anonymous", "false".into()),
            (
                "notes",
                "met at the \"Know your rights\" night, 2nd row".into(),
            ),
            ("created_at", "2025-11-02T03:04:05Z".into()),
        ],
    );

    // Words of the notes find it too: the gifts' filter holds beside the join with donors,
    // whose table has notes of its own.
    let by_notes = only_row(
        &app,
        &staff,
        EXPORT_GIFTS,
        json!({ "search": "NOT A FORMULA" }),
    )
    .await;
    assert_eq!(by_notes["id"], gift.id.to_string());
    let exported = only_row(
        &app,
        &staff,
        EXPORT_GIFTS,
        json!({ "donorId": donor.id.to_string() }),
    )
    .await;
    // How a gift or pledge names its donor.
    let named = |mut cells: Vec<(&'static str, String)>| {
        cells.extend([
            ("donor_external_id", "CRM-7".to_owned()),
            ("donor_email", "lucia@example.org".to_owned()),
            ("donor_name", "Fundación Ríos".to_owned()),
        ]);
        cells
    };
    assert_cells(
        &exported,
        &named(vec![
            ("id", gift.id.to_string()),
            ("external_id", "OLD-GIFT-9".into()),
            ("amount", "2,500.75".into()),
            ("currency", "USD".into()),
            ("refunded", "10.25".into()),
            ("status", "partially_refunded".into()),
            ("method", "check".into()),
            ("fund", fund.name.clone()),
            ("appeal_code", "SCOMM11-LETTER".into()),
            ("campaign", "Fight Against S-Comm 2011".into()),
            ("pledge_id", pledge.id.to_string()),
            ("received_at", "2026-03-04T05:06:07Z".into()),
            ("check_number", "00417".into()),
            ("anonymous", "true".into()),
            ("tribute_kind", "in_honor_of".into()),
            ("tribute_name", "Abuela Rosa".into()),
            ("benefits_value", "45.00".into()),
            ("benefits_description", "two gala tickets".into()),
            ("notes", "'=not a formula".into()),
        ]),
    );

    let exported = only_row(
        &app,
        &staff,
        EXPORT_PLEDGES,
        json!({ "donorId": donor.id.to_string(), "statuses": ["PAUSED"] }),
    )
    .await;
    assert_cells(
        &exported,
        &named(vec![
            ("id", pledge.id.to_string()),
            ("source", "envelope".into()),
            ("status", "paused".into()),
            ("installment", "1,250.50".into()),
            ("currency", "USD".into()),
            ("frequency", "quarterly".into()),
            ("starts_on", "2026-02-03".into()),
            ("ends_on", "2027-08-09".into()),
            ("installments_total", "7".into()),
            ("fund", fund.name.clone()),
            ("appeal_code", "SCOMM11-LETTER".into()),
            ("created_at", "2025-11-02T03:04:05Z".into()),
        ]),
    );
}

on_both_backends!(every_column_of_each_export_says_what_its_record_holds);

/// Pages of an export follow one another through the primary key: every row once, in
/// id order, whatever page it falls on.
async fn an_export_longer_than_a_page_has_every_row_once_in_order(backend: Backend) {
    let app = spawn(backend).await;
    let staff = staff_token(&app).await;
    let now = Utc::now();
    let donors = (0..1_203).map(|n| donor::ActiveModel {
        kind: Set(DonorKind::Individual),
        display_name: Set(format!("Paged Donor {n:04}")),
        language: Set(Language::English),
        email_consent: Set(false),
        anonymous: Set(false),
        search_text: Set(format!("paged donor {n:04}")),
        link_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    });
    for chunk in donors.collect::<Vec<_>>().chunks(200) {
        donor::Entity::insert_many(chunk.to_vec())
            .exec(&app.db)
            .await
            .unwrap();
    }
    let file = download(
        &app,
        &export_link(
            &app,
            &staff,
            EXPORT_DONORS,
            json!({ "search": "paged donor" }),
        )
        .await,
    )
    .await;
    let names: Vec<String> = rows(&file)
        .into_iter()
        .map(|row| row["display_name"].clone())
        .collect();
    let expected: Vec<String> = (0..1_203).map(|n| format!("Paged Donor {n:04}")).collect();
    assert_eq!(names, expected);
}

on_both_backends!(an_export_longer_than_a_page_has_every_row_once_in_order);

/// Copies the funds, campaigns and appeals of `from` into `to`, which the gift history
/// names: an organization sets these up before it imports its history.
async fn copy_reference_data(from: &TestApp, to: &TestApp) {
    let mut funds = HashMap::new();
    for row in fund::Entity::find().all(&from.db).await.unwrap() {
        let existing = fund::Entity::find()
            .filter(fund::Column::Code.eq(row.code.as_str()))
            .one(&to.db)
            .await
            .unwrap();
        let id = match existing {
            Some(existing) => existing.id,
            None => {
                let mut copy: fund::ActiveModel = row.clone().into();
                copy.id = NotSet;
                copy.reset_all().insert(&to.db).await.unwrap().id
            }
        };
        funds.insert(row.id, id);
    }
    let mut campaigns = HashMap::new();
    for row in campaign::Entity::find().all(&from.db).await.unwrap() {
        let mut copy: campaign::ActiveModel = row.clone().into();
        copy.id = NotSet;
        copy.default_fund_id = Set(funds[&row.default_fund_id]);
        campaigns.insert(row.id, copy.reset_all().insert(&to.db).await.unwrap().id);
    }
    for row in appeal::Entity::find().all(&from.db).await.unwrap() {
        let mut copy: appeal::ActiveModel = row.clone().into();
        copy.id = NotSet;
        copy.campaign_id = Set(campaigns[&row.campaign_id]);
        copy.segment_id = Set(None);
        copy.reset_all().insert(&to.db).await.unwrap();
    }
}

/// Donors, gifts, and what the gifts add up to net of refunds.
async fn books(app: &TestApp) -> (u64, u64, i64) {
    let gifts = gift::Entity::find().all(&app.db).await.unwrap();
    (
        donor::Entity::find().count(&app.db).await.unwrap(),
        gifts.len() as u64,
        gifts.iter().map(api::domain::gifts::net_minor).sum(),
    )
}

async fn the_demo_exported_and_imported_into_an_empty_database_keeps_its_donors_and_totals(
    backend: Backend,
) {
    let source = spawn(backend).await;
    api::demo::seed_demo(&source.db).await.unwrap();
    let staff = staff_token(&source).await;
    let donors_file = download(
        &source,
        &export_link(&source, &staff, EXPORT_DONORS, json!({})).await,
    )
    .await;
    let gifts_file = download(
        &source,
        &export_link(&source, &staff, EXPORT_GIFTS, json!({})).await,
    )
    .await;
    let expected = books(&source).await;
    assert_eq!(rows(&donors_file).len() as u64, expected.0);
    assert_eq!(
        rows(&gifts_file).len() as u64,
        expected.1,
        "every gift, past the first page"
    );

    let target = spawn(backend).await;
    copy_reference_data(&source, &target).await;
    let admin = admin_token(&target).await;
    let imported = ok(
        &target,
        &admin,
        "mutation($input: ImportDonorsInput!) { importDonors(input: $input) { rows created applied errors { row column reason } } }",
        json!({ "input": { "csv": donors_file } }),
    )
    .await;
    assert_eq!(imported["importDonors"]["errors"], json!([]));
    assert_eq!(imported["importDonors"]["created"], expected.0);
    // The gift history is larger than a request carries: `api import gifts` reads it.
    let options = api::domain::imports::ImportOptions::default();
    let org = api::config::Config::from_sources(None, |_| None)
        .unwrap()
        .org;
    let report = api::domain::imports::gifts::import_gifts(
        &target.db,
        &org,
        entity::Currency::Usd,
        &api::domain::Actor::cli(),
        gifts_file.as_bytes(),
        options,
    )
    .await
    .unwrap();
    assert!(report.errors.is_empty(), "{report}");
    assert!(report.applied);
    assert_eq!(
        report.receipts_issued, 0,
        "a history is not receipted again"
    );
    assert_eq!(books(&target).await, expected);
    assert_eq!(
        entity::receipt::Entity::find()
            .count(&target.db)
            .await
            .unwrap(),
        0
    );

    // The same files again add nothing.
    let again = api::domain::imports::gifts::import_gifts(
        &target.db,
        &org,
        entity::Currency::Usd,
        &api::domain::Actor::cli(),
        gifts_file.as_bytes(),
        options,
    )
    .await
    .unwrap();
    assert_eq!(again.already_imported as u64, expected.1, "{again}");
    let donors_again = api::domain::imports::donors::import_donors(
        &target.db,
        &api::domain::Actor::cli(),
        donors_file.as_bytes(),
        options,
    )
    .await
    .unwrap();
    assert_eq!(
        donors_again.already_imported as u64, expected.0,
        "{donors_again}"
    );
    assert_eq!(books(&target).await, expected);
}

on_both_backends!(
    the_demo_exported_and_imported_into_an_empty_database_keeps_its_donors_and_totals
);
