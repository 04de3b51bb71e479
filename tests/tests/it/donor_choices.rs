//! A payment never rewrites who a donor is: a checkout under an existing donor's email
//! links its gift to that donor and leaves their name, language, consent and anonymity
//! alone; what it said differently waits in `donorsToReview` for staff to accept or
//! dismiss.

use entity::enums::Language;
use entity::{audit_log, donor, gift, receipt};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::checkout::app_with_fake_stripe;
use crate::staff_api::{audit_entries, create_donor, fails, ok, staff_token};
use tests::on_both_backends;
use tests::stripe::{event, paid_invoice, payment_session, subscription, subscription_session};
use tests::support::{Backend, TestApp};

const TO_REVIEW: &str = "query($status: CheckoutChoicesStatus) { donorsToReview(first: 10, status: $status) { totalCount edges { node { id status differences donor { id displayName } gift { id } pledge { id } checkout { displayName language emailConsent anonymous } reviewedBy } } } }";

const ACCEPT: &str =
    "mutation($id: ID!) { acceptCheckoutChoices(input: { id: $id }) { id status } }";
const DISMISS: &str =
    "mutation($id: ID!) { dismissCheckoutChoices(input: { id: $id }) { id status } }";

/// A donor who keeps to themselves: no appeals, not named, reads Arabic.
async fn private_donor(app: &TestApp, token: &str) -> i64 {
    create_donor(
        app,
        token,
        json!({
            "displayName": "Yusuf Haddad",
            "email": "yusuf@example.org",
            "language": "ARABIC",
            "emailConsent": false,
            "anonymous": true,
        }),
    )
    .await
}

/// A checkout typed by someone else with the donor's email: another name, Spanish,
/// appeals wanted, not anonymous.
fn strangers_checkout(session_id: &str) -> Value {
    let mut session = payment_session(session_id, "Yusuf@Example.org", 5_000, true);
    session["metadata"]["donor_name"] = json!("María López");
    session["metadata"]["language"] = json!("es");
    session["metadata"]["email_consent"] = json!("true");
    session["metadata"]["anonymous"] = json!("false");
    session
}

async fn donor_row(app: &TestApp, id: i64) -> donor::Model {
    donor::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

fn assert_untouched(donor: &donor::Model) {
    assert_eq!(donor.display_name, "Yusuf Haddad");
    assert_eq!(donor.language, Language::Arabic);
    assert!(!donor.email_consent);
    assert!(donor.anonymous);
}

async fn to_review(app: &TestApp, token: &str, status: Option<&str>) -> Value {
    ok(app, token, TO_REVIEW, json!({ "status": status })).await["donorsToReview"].clone()
}

async fn a_checkout_under_an_existing_donors_email_leaves_their_choices_for_staff(
    backend: Backend,
) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let token = staff_token(&app).await;
    let yusuf = private_donor(&app, &token).await;

    let response = app
        .deliver(&event(
            "evt_stranger",
            "checkout.session.completed",
            strangers_checkout("cs_stranger"),
        ))
        .await;

    assert_eq!(response.status(), 200);
    let donor = donor_row(&app, yusuf).await;
    assert_untouched(&donor);
    assert_eq!(donor.stripe_customer_id.as_deref(), Some("cus_cs_stranger"));
    assert_eq!(donor::Entity::find().count(&app.db).await.unwrap(), 1);
    let gift = gift::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(gift.donor_id, yusuf);
    assert!(gift.anonymous, "an anonymous donor's gift stays anonymous");
    let receipts = receipt::Entity::find()
        .filter(receipt::Column::GiftId.eq(gift.id))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(receipts, 1);

    let listed = to_review(&app, &token, None).await;
    assert_eq!(listed["totalCount"], 1);
    let node = &listed["edges"][0]["node"];
    assert_eq!(node["status"], "PENDING");
    assert_eq!(node["donor"]["id"], yusuf.to_string());
    assert_eq!(node["gift"]["id"], gift.id.to_string());
    assert_eq!(node["pledge"], Value::Null);
    assert_eq!(
        node["checkout"],
        json!({ "displayName": "María López", "language": "SPANISH", "emailConsent": true, "anonymous": false })
    );
    assert_eq!(
        node["differences"],
        json!(["DISPLAY_NAME", "LANGUAGE", "EMAIL_CONSENT", "ANONYMOUS"])
    );

    let id = node["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let accepted = ok(&app, &token, ACCEPT, json!({ "id": id })).await;
        assert_eq!(accepted["acceptCheckoutChoices"]["status"], "ACCEPTED");
    }

    let donor = donor_row(&app, yusuf).await;
    assert_eq!(donor.display_name, "María López");
    assert_eq!(donor.language, Language::Spanish);
    assert!(donor.email_consent);
    assert!(!donor.anonymous);
    let audited = audit_entries(&app, "acceptCheckoutChoices").await;
    assert_eq!(audited.len(), 1, "accepting twice changes the donor once");
    assert_eq!(audited[0].entity, "donor");
    assert_eq!(
        audited[0].entity_id.as_deref(),
        Some(yusuf.to_string().as_str())
    );
    assert_eq!(audited[0].actor, "test-staff");
    assert_eq!(
        audited[0].changes["anonymous"],
        json!({ "from": true, "to": false })
    );
    assert_eq!(to_review(&app, &token, None).await["totalCount"], 0);
    let done = to_review(&app, &token, Some("ACCEPTED")).await;
    assert_eq!(done["totalCount"], 1);
    assert_eq!(done["edges"][0]["node"]["reviewedBy"], "test-staff");
    assert_eq!(done["edges"][0]["node"]["differences"], json!([]));
}

async fn dismissing_checkout_choices_leaves_the_donor_as_they_were(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let token = staff_token(&app).await;
    let yusuf = private_donor(&app, &token).await;
    app.deliver(&event(
        "evt_stranger",
        "checkout.session.completed",
        strangers_checkout("cs_stranger"),
    ))
    .await;
    let listed = to_review(&app, &token, None).await;
    let id = listed["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for _ in 0..2 {
        let dismissed = ok(&app, &token, DISMISS, json!({ "id": id })).await;
        assert_eq!(dismissed["dismissCheckoutChoices"]["status"], "DISMISSED");
    }

    assert_untouched(&donor_row(&app, yusuf).await);
    assert_eq!(to_review(&app, &token, None).await["totalCount"], 0);
    assert_eq!(audit_entries(&app, "dismissCheckoutChoices").await.len(), 1);
    let (code, _) = fails(&app, &token, ACCEPT, json!({ "id": id })).await;
    assert_eq!(code, "CONFLICT");
    assert_untouched(&donor_row(&app, yusuf).await);
    let (code, _) = fails(&app, &token, DISMISS, json!({ "id": "999999" })).await;
    assert_eq!(code, "NOT_FOUND");
}

async fn a_strangers_monthly_checkout_does_not_name_an_anonymous_donor_on_the_circle(
    backend: Backend,
) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let token = staff_token(&app).await;
    let yusuf = private_donor(&app, &token).await;
    let email = "yusuf@example.org";
    let typed = |mut object: Value| {
        object["metadata"]["donor_name"] = json!("Yusuf Haddad");
        object["metadata"]["anonymous"] = json!("false");
        object["metadata"]["email_consent"] = json!("true");
        object
    };

    app.deliver(&event(
        "evt_session",
        "checkout.session.completed",
        typed(subscription_session(
            "cs_monthly",
            "sub_yusuf",
            email,
            5_000,
        )),
    ))
    .await;
    app.deliver(&event(
        "evt_sub",
        "customer.subscription.created",
        typed(subscription("sub_yusuf", email, 5_000, "active")),
    ))
    .await;
    app.deliver(&event(
        "evt_inv",
        "invoice.paid",
        paid_invoice("in_yusuf", "sub_yusuf", email, 5_000),
    ))
    .await;

    let donor = donor_row(&app, yusuf).await;
    assert!(donor.anonymous);
    assert!(!donor.email_consent);
    let roster = ok(
        &app,
        &token,
        "{ circleRoster { edges { node { donor { id } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        roster["circleRoster"]["edges"][0]["node"]["donor"]["id"],
        yusuf.to_string()
    );
    let page = app.get("/circle").await.text().await.unwrap();
    assert!(!page.contains("Yusuf"), "{page}");
    let installment = gift::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert!(installment.anonymous);

    let listed = to_review(&app, &token, None).await;
    assert_eq!(listed["totalCount"], 1);
    let node = &listed["edges"][0]["node"];
    assert_eq!(node["gift"], Value::Null);
    assert!(node["pledge"]["id"].is_string());
    assert_eq!(
        node["differences"],
        json!(["LANGUAGE", "EMAIL_CONSENT", "ANONYMOUS"])
    );
}

async fn a_new_donor_takes_the_checkout_choices(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let token = staff_token(&app).await;
    let mut session = payment_session("cs_new", "Ines@Example.org", 2_500, true);
    session["metadata"]["donor_name"] = json!("Inès Dupont");
    session["metadata"]["language"] = json!("fr");
    session["metadata"]["email_consent"] = json!("true");
    session["metadata"]["anonymous"] = json!("true");

    app.deliver(&event("evt_new", "checkout.session.completed", session))
        .await;

    let donor = donor::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(donor.display_name, "Inès Dupont");
    assert_eq!(donor.email.as_deref(), Some("ines@example.org"));
    assert_eq!(donor.language, Language::French);
    assert!(donor.email_consent);
    assert!(donor.anonymous);
    assert_eq!(to_review(&app, &token, None).await["totalCount"], 0);
    assert_eq!(
        audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq("acceptCheckoutChoices"))
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
}

on_both_backends!(
    a_checkout_under_an_existing_donors_email_leaves_their_choices_for_staff,
    dismissing_checkout_choices_leaves_the_donor_as_they_were,
    a_strangers_monthly_checkout_does_not_name_an_anonymous_donor_on_the_circle,
    a_new_donor_takes_the_checkout_choices,
);
