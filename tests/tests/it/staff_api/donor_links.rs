//! The signed links a donor is sent. Revoking them: an admin's `revokeDonorLinks`
//! refuses every link the donor was sent before (self-service page, receipt download,
//! appeal unsubscribe and personal donate links) with a page that says so, and links
//! made afterwards work. Personal donate links expire after `DONATE_LINK_DAYS`.

use chrono::{Duration, Utc};
use entity::enums::Language;
use entity::{donor, outbox};
use mailer::links::{self, DonateLink};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use tests::on_both_backends;
use tests::support::{Backend, TestApp, spawn_app_with};

use super::*;
use crate::mailer::{add_donor, gift_of, give, organization};

const KEY: &str = "a-link-key-of-at-least-thirty-two-characters";

async fn fall_appeal(app: &TestApp, staff: &str) -> String {
    let campaign = ok(
        app,
        staff,
        "mutation { createCampaign(input: { name: \"Fall\", goal: { amountMinor: 500000 }, startsOn: \"2026-09-01\", defaultFundId: \"1\" }) { id } }",
        json!({}),
    )
    .await["createCampaign"]["id"]
        .clone();
    ok(
        app,
        staff,
        "mutation($c: ID!) { createAppeal(input: { campaignId: $c, name: \"Fall email\", channel: EMAIL, sourceCode: \"FALL-E\", subject: \"Stand with us\", message: \"Dear {first_name}: {donate_link}\" }) { id } }",
        json!({ "c": campaign }),
    )
    .await["createAppeal"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every kind of link a donor is sent, signed at `version`.
struct Links {
    manage: String,
    unsubscribe: String,
    receipt: String,
    donate: String,
}

fn links_at(donor_id: i64, receipt_number: &str, version: i64) -> Links {
    let token = links::appeal_donate_token(
        KEY,
        &DonateLink {
            source_code: "FALL-E",
            donor_id,
            ask_minor: 7_500,
            version,
            expires: (Utc::now() + Duration::days(1)).timestamp(),
        },
    );
    Links {
        manage: format!(
            "/manage/{}",
            links::manage_token(KEY, donor_id, version, Utc::now() + Duration::days(7))
        ),
        unsubscribe: format!("/{}", links::unsubscribe_path(KEY, donor_id, version)),
        receipt: format!(
            "/{}",
            links::path(
                KEY,
                receipt_number,
                Utc::now() + Duration::hours(1),
                version
            )
        ),
        donate: format!("/donate?appeal=FALL-E&t={token}"),
    }
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.get(path).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Whether the donation page greets the donor (their email filled in).
async fn donate_page_knows_ana(app: &TestApp, path: &str) -> bool {
    let (status, body) = page(app, path).await;
    assert_eq!(status, 200, "{path}");
    body.contains("ana@example.org")
}

async fn all_open(app: &TestApp, links: &Links) {
    assert_eq!(page(app, &links.manage).await.0, 200, "{}", links.manage);
    assert_eq!(page(app, &links.unsubscribe).await.0, 200);
    assert_eq!(page(app, &links.receipt).await.0, 200);
    assert!(donate_page_knows_ana(app, &links.donate).await);
}

async fn revoking_a_donors_links_refuses_every_earlier_link_and_not_later_ones(backend: Backend) {
    let app = spawn_app_with(backend, &[("DOWNLOAD_LINK_KEY", KEY)]).await;
    let staff = staff_token(&app).await;
    let admin = admin_token(&app).await;
    fall_appeal(&app, &staff).await;
    let ana = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let receipt = give(&app, gift_of(ana.id, 5_000)).await.receipt.unwrap();
    let before = links_at(ana.id, &receipt.number, 0);
    all_open(&app, &before).await;

    let revoke = "mutation($id: ID!) { revokeDonorLinks(input: { donorId: $id }) { id } }";
    let variables = json!({ "id": ana.id.to_string() });
    let (code, _) = fails(&app, &staff, revoke, variables.clone()).await;
    assert_eq!(code, "FORBIDDEN", "admins only");
    let revoked = ok(&app, &admin, revoke, variables).await;
    assert_eq!(revoked["revokeDonorLinks"]["id"], ana.id.to_string());
    assert_eq!(audit_entries(&app, "revokeDonorLinks").await.len(), 1);

    // Every earlier link is refused with a page that says so, never a 5xx.
    let (status, body) = page(&app, &before.manage).await;
    assert_eq!(status, 404);
    assert!(body.contains("This link is not valid"), "{body}");
    let (status, body) = page(&app, &before.unsubscribe).await;
    assert_eq!(status, 403);
    assert!(body.contains("not valid"), "{body}");
    let posted = app
        .client
        .post(app.url(&before.unsubscribe))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 403);
    let still = donor::Entity::find_by_id(ana.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.appeals_unsubscribed_at, None);
    assert_eq!(still.link_version, 1);
    let (status, body) = page(&app, &before.receipt).await;
    assert_eq!(status, 403);
    assert!(body.contains("not valid"), "{body}");
    assert!(
        !donate_page_knows_ana(&app, &before.donate).await,
        "a revoked donate link is the appeal's plain page"
    );

    // Links made after the revocation work: signed here, by the staff API and by the
    // mailer.
    all_open(&app, &links_at(ana.id, &receipt.number, 1)).await;
    let pdf_link = ok(
        &app,
        &staff,
        "query($n: String!) { receipt(number: $n) { pdfLink(hours: 2) } }",
        json!({ "n": receipt.number }),
    )
    .await["receipt"]["pdfLink"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = &pdf_link[pdf_link.find("/receipts/").unwrap()..];
    assert_eq!(page(&app, path).await.0, 200);
    let message = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("receipt"))
        .filter(outbox::Column::DonorId.eq(ana.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let signer = links::DownloadLinks {
        public_url: url::Url::parse(&app.address).unwrap(),
        key: api::config::Secret::new(KEY),
        valid_for: Duration::days(30),
    };
    let email = mailer::templates::render(&app.db, &organization(), Some(&signer), &message)
        .await
        .unwrap();
    let at = email.text.find("/receipts/").unwrap();
    let emailed = email.text[at..].split_whitespace().next().unwrap();
    assert_eq!(page(&app, emailed).await.0, 200, "{emailed}");
}

fn donate_link(donor_id: i64, expires: i64) -> String {
    let token = links::appeal_donate_token(
        KEY,
        &DonateLink {
            source_code: "FALL-E",
            donor_id,
            ask_minor: 7_500,
            version: 0,
            expires,
        },
    );
    format!("/donate?appeal=FALL-E&t={token}")
}

/// The expiry in the personal donate link an appeal preview shows.
async fn previewed_expiry(app: &TestApp, staff: &str, appeal: &str, donor_id: i64) -> i64 {
    let url = ok(
        app,
        staff,
        "query($id: ID!, $donor: ID!) { appealPreview(id: $id, donorId: $donor) { ... on AppealPreview { donateUrl } } }",
        json!({ "id": appeal, "donor": donor_id.to_string() }),
    )
    .await["appealPreview"]["donateUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = url.split("&t=").nth(1).unwrap();
    token.split('.').nth(2).unwrap().parse().unwrap()
}

async fn a_personal_donate_link_opens_until_it_expires(backend: Backend) {
    let app = spawn_app_with(backend, &[("DOWNLOAD_LINK_KEY", KEY)]).await;
    let staff = staff_token(&app).await;
    let appeal = fall_appeal(&app, &staff).await;
    let ana = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;

    let now = Utc::now().timestamp();
    assert!(donate_page_knows_ana(&app, &donate_link(ana.id, now + 30)).await);
    assert!(
        !donate_page_knows_ana(&app, &donate_link(ana.id, now - 1)).await,
        "expired a second ago: the appeal's plain page"
    );

    // Appeals sign their links for DONATE_LINK_DAYS, 90 days by default.
    let expires = previewed_expiry(&app, &staff, &appeal, ana.id).await;
    let ninety_days = 90 * 86_400;
    assert!(
        (now + ninety_days..=Utc::now().timestamp() + ninety_days).contains(&expires),
        "{expires}"
    );
}

async fn donate_link_days_sets_how_long_appeal_links_open(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[("DOWNLOAD_LINK_KEY", KEY), ("DONATE_LINK_DAYS", "7")],
    )
    .await;
    let staff = staff_token(&app).await;
    let appeal = fall_appeal(&app, &staff).await;
    let ana = add_donor(&app, "Ana Ruiz", "ana@example.org", Language::English).await;
    let now = Utc::now().timestamp();
    let expires = previewed_expiry(&app, &staff, &appeal, ana.id).await;
    assert!(
        (now + 7 * 86_400..=Utc::now().timestamp() + 7 * 86_400).contains(&expires),
        "{expires}"
    );
}

on_both_backends!(
    revoking_a_donors_links_refuses_every_earlier_link_and_not_later_ones,
    a_personal_donate_link_opens_until_it_expires,
    donate_link_days_sets_how_long_appeal_links_open,
);
