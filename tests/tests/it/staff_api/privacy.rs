//! Privacy requests: an admin gives a donor everything held about them through a
//! signed, expiring link, and erases a donor, keeping the receipts already issued and
//! the gift totals while the contact details go from everywhere they were.

use entity::enums::ReceiptStatus;
use entity::{donor, gift, outbox, receipt, stripe_event};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tests::on_both_backends;
use tests::support::{Backend, TestApp, error_codes, spawn_app_with};

use super::*;

const KEY: &str = "privacy-test-key-with-at-least-32-characters";
const PUBLIC_URL: &str = "https://give.example.org/";

const EXPORT: &str = "query($id: ID!) { donorDataExport(id: $id) { url expiresAt } }";
const ERASE: &str = "mutation($input: EraseDonorInput!) { eraseDonor(input: $input) { donor { id displayName email lifetimeGiving { amountMinor } } outboxMessagesRemoved tributeContactsRemoved auditEntriesRedacted } }";

async fn privacy_app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        &[("DOWNLOAD_LINK_KEY", KEY), ("PUBLIC_URL", PUBLIC_URL)],
    )
    .await
}

/// Lena, with contact details, notes, and a receipted check whose tribute tells her
/// sister; the receipt and the tribute notice wait in the outbox.
async fn lena(app: &TestApp, admin: &str) -> i64 {
    let lena = create_donor(
        app,
        admin,
        json!({
            "displayName": "Lena Park",
            "firstName": "Lena",
            "email": "lena.park@example.org",
            "phone": "+1 415 555 0199",
            "address": { "line1": "12 Elm St", "city": "Oakland", "postalCode": "94607", "country": "US" },
            "notes": "Met at the spring gala",
        }),
    )
    .await;
    record_gift(
        app,
        admin,
        check_gift(
            lena,
            json!({ "tribute": { "kind": "IN_HONOR_OF", "name": "Mina Park", "notifyEmail": "mina@example.org" } }),
        ),
    )
    .await;
    lena
}

async fn download(app: &TestApp, url: &str) -> (u16, String) {
    let path = url.strip_prefix(PUBLIC_URL.trim_end_matches('/')).unwrap();
    let response = app.get(path).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn an_admin_gives_a_donor_everything_held_about_them_through_a_signed_link(backend: Backend) {
    let app = privacy_app(backend).await;
    let admin = admin_token(&app).await;
    let lena = lena(&app, &admin).await;

    let export = ok(&app, &admin, EXPORT, json!({ "id": lena.to_string() })).await;
    let url = export["donorDataExport"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with("https://give.example.org/privacy/exports/"),
        "{url}"
    );
    let (status, body) = download(&app, &url).await;
    assert_eq!(status, 200, "{body}");
    let data: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(data["donor"]["email"], json!("lena.park@example.org"));
    assert_eq!(data["donor"]["notes"], json!("Met at the spring gala"));
    assert_eq!(data["gifts"].as_array().unwrap().len(), 1);
    assert_eq!(data["receipts"].as_array().unwrap().len(), 1);
    assert!(data["receipts"][0].get("content_pdf").is_none());
    assert_eq!(data["emails"].as_array().unwrap().len(), 2);
    assert!(!data["auditEntries"].as_array().unwrap().is_empty());
    let entries = audit_entries(&app, "donorDataExport").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].entity_id, Some(lena.to_string()));

    // An altered link opens nothing; staff may not make one.
    let (status, _) = download(
        &app,
        &url.replace(
            &format!("exports/{lena}."),
            &format!("exports/{}.", lena + 1),
        ),
    )
    .await;
    assert_eq!(status, 404);
    let staff = staff_token(&app).await;
    let body = app
        .graphql(&staff, EXPORT, json!({ "id": lena.to_string() }))
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
}

async fn an_erased_donor_is_gone_everywhere_but_the_receipts_and_totals_remain(backend: Backend) {
    let app = privacy_app(backend).await;
    let admin = admin_token(&app).await;
    let lena = lena(&app, &admin).await;
    let issued = receipt::Entity::find()
        .filter(receipt::Column::DonorId.eq(lena))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let link = ok(&app, &admin, EXPORT, json!({ "id": lena.to_string() })).await["donorDataExport"]
        ["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let pending = outbox::Entity::find()
        .filter(outbox::Column::DonorId.eq(lena))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(pending, 2, "the receipt and the tribute notice wait");

    let staff = staff_token(&app).await;
    let input = json!({ "id": lena.to_string(), "reason": "erasure request by email, 28 Nov" });
    let body = app.graphql(&staff, ERASE, json!({ "input": input })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    let erased = ok(&app, &admin, ERASE, json!({ "input": input })).await["eraseDonor"].clone();
    assert_eq!(erased["donor"]["displayName"], json!("Erased donor"));
    assert_eq!(erased["donor"]["email"], Value::Null);
    assert_eq!(erased["outboxMessagesRemoved"], json!(2));
    assert_eq!(erased["tributeContactsRemoved"], json!(1));

    // The donor row keeps no contact details or notes.
    let row = donor::Entity::find_by_id(lena)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    for field in [
        &row.first_name,
        &row.email,
        &row.phone,
        &row.address_line1,
        &row.city,
        &row.postal_code,
        &row.notes,
    ] {
        assert_eq!(field, &None, "{row:?}");
    }
    assert!(!row.search_text.contains("lena"));
    // No mail waits for her, under her id or her address.
    let to_her = outbox::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(outbox::Column::DonorId.eq(lena))
                .add(outbox::Column::ToAddress.eq("lena.park@example.org")),
        )
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(to_her, 0);
    let gift = gift::Entity::find()
        .filter(gift::Column::DonorId.eq(lena))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gift.tribute_notify_email, None);
    // Search finds her by neither name nor email.
    for search in ["lena", "park", "lena.park@example.org"] {
        let found = ok(
            &app,
            &admin,
            "query($s: String!) { donors(filter: { search: $s }) { totalCount } }",
            json!({ "s": search }),
        )
        .await;
        assert_eq!(found["donors"]["totalCount"], json!(0), "{search}");
    }
    // The audit entries about her keep who and when, not what.
    let created = &audit_entries(&app, "createDonor").await[0];
    assert!(
        !created.changes.to_string().contains("lena"),
        "{}",
        created.changes
    );
    let entry = &audit_entries(&app, "eraseDonor").await[0];
    assert_eq!(
        entry.changes["reason"],
        json!("erasure request by email, 28 Nov")
    );
    // The link made before no longer opens.
    assert_eq!(download(&app, &link).await.0, 404);

    // The receipt stays as issued, and the gift still counts.
    let kept = receipt::Entity::find_by_id(issued.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.status, ReceiptStatus::Issued);
    assert_eq!(kept.donor_name, "Lena Park");
    assert_eq!(kept.donor_address, issued.donor_address);
    assert_eq!(kept.content_text, issued.content_text);
    assert_eq!(
        erased["donor"]["lifetimeGiving"]["amountMinor"],
        json!(25_000)
    );
}

async fn a_donor_with_a_running_pledge_is_not_erased(backend: Backend) {
    let app = privacy_app(backend).await;
    let admin = admin_token(&app).await;
    let donor = create_donor(&app, &admin, json!({ "displayName": "Omar Haddad" })).await;
    crate::club::envelope_pledge(&app, &admin, donor, 1_000, "MONTHLY", None).await;
    let input = json!({ "id": donor.to_string(), "reason": "request" });
    let (code, _) = fails(&app, &admin, ERASE, json!({ "input": input })).await;
    assert_eq!(code, "CONFLICT");
    let row = donor::Entity::find_by_id(donor)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.display_name, "Omar Haddad");
}

/// A donor who gave by card: the stored Stripe events about her checkout keep their
/// ids and amounts and lose her name and email; another donor's events are untouched.
async fn an_erased_card_donor_leaves_no_details_in_the_stripe_events(backend: Backend) {
    use tests::stripe::{event, payment_session};
    let (app, _stripe) = crate::checkout::app_with_fake_stripe(backend).await;
    let admin = admin_token(&app).await;
    for (id, session, email, amount) in [
        ("evt_erased", "cs_erased", "omar@example.org", 20_000),
        ("evt_kept", "cs_kept", "nadia@example.org", 5_000),
    ] {
        let paid = event(
            id,
            "checkout.session.completed",
            payment_session(session, email, amount, true),
        );
        assert_eq!(app.deliver(&paid).await.status(), 200);
    }
    let omar = donor::Entity::find()
        .filter(donor::Column::Email.eq("omar@example.org"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();

    let erased = ok(
        &app,
        &admin,
        "mutation($input: EraseDonorInput!) { eraseDonor(input: $input) { stripeEventsRedacted } }",
        json!({ "input": { "id": omar.id.to_string(), "reason": "asked by phone" } }),
    )
    .await;
    assert_eq!(erased["eraseDonor"]["stripeEventsRedacted"], json!(1));

    let stored = |id: &'static str| {
        stripe_event::Entity::find()
            .filter(stripe_event::Column::EventId.eq(id))
            .one(&app.db)
    };
    let payload = stored("evt_erased").await.unwrap().unwrap().payload;
    let text = payload.to_string();
    for personal in ["omar@example.org", "María López"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }
    let object = &payload["data"]["object"];
    assert_eq!(object["id"], json!("cs_erased"), "{text}");
    assert_eq!(object["amount_total"], json!(20_000));
    assert_eq!(object["payment_intent"], json!("pi_cs_erased"));
    let other = stored("evt_kept")
        .await
        .unwrap()
        .unwrap()
        .payload
        .to_string();
    assert!(other.contains("nadia@example.org"), "{other}");
}

on_both_backends!(
    an_admin_gives_a_donor_everything_held_about_them_through_a_signed_link,
    an_erased_donor_is_gone_everywhere_but_the_receipts_and_totals_remain,
    a_donor_with_a_running_pledge_is_not_erased,
    an_erased_card_donor_leaves_no_details_in_the_stripe_events,
);
