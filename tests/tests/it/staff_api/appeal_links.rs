//! The personal donate link in an email appeal: a signed token that lets the donation
//! page greet the donor with their name, email and ask, and a gift or a monthly pledge
//! through it that is attributed to the appeal; envelope pledges with the reply code
//! count too.

use std::collections::HashMap;

use entity::{gift, pledge};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tests::on_both_backends;
use tests::stripe::{
    SECRET_KEY, WEBHOOK_SECRET, event, first_invoice, payment_session, subscription,
    subscription_session,
};
use tests::support::{Backend, TestApp, spawn_app_with};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::*;

async fn app_with_fake_stripe(backend: Backend) -> (TestApp, MockServer) {
    let stripe = MockServer::start().await;
    tests::stripe::mount_fake_stripe(&stripe).await;
    let app = spawn_app_with(
        backend,
        &[
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_API_BASE", &stripe.uri()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("PUBLIC_URL", "https://give.example.org"),
        ],
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(|_: &Request| {
            ResponseTemplate::new(200).set_body_json(json!({
                "id": "cs_test_link",
                "object": "checkout.session",
                "url": "https://checkout.stripe.test/c/pay/cs_test_link",
            }))
        })
        .mount(&stripe)
        .await;
    (app, stripe)
}

/// An email appeal asking the last gift rounded up to $25 (at least $50).
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
        "mutation($c: ID!) { createAppeal(input: { campaignId: $c, name: \"Fall email\", channel: EMAIL, sourceCode: \"FALL-E\", subject: \"Stand with us\", message: \"Dear {first_name}, give {ask_amount}: {donate_link}\", askRule: { step: { amountMinor: 2500 }, minimum: { amountMinor: 5000 } } }) { id } }",
        json!({ "c": campaign }),
    )
    .await["createAppeal"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Ana (phone and address on file) gave $60, so her ask is $75.
async fn ana(app: &TestApp, staff: &str) -> i64 {
    let ana = create_donor(
        app,
        staff,
        json!({ "displayName": "Ana García", "firstName": "Ana", "email": "ana@example.org", "emailConsent": true,
                "phone": "+1 714 555 0199", "address": { "line1": "77 Secret Lane", "city": "Santa Ana", "postalCode": "92701", "country": "US" } }),
    )
    .await;
    record_gift(
        app,
        staff,
        check_gift(ana, json!({ "amount": { "amountMinor": 6_000 } })),
    )
    .await;
    ana
}

async fn donate_path(app: &TestApp, staff: &str, appeal: &str, donor: i64) -> String {
    let preview = ok(
        app,
        staff,
        "query($id: ID!, $donor: ID!) { appealPreview(id: $id, donorId: $donor) { ... on AppealPreview { donateUrl body } } }",
        json!({ "id": appeal, "donor": donor.to_string() }),
    )
    .await["appealPreview"]
        .clone();
    let url = preview["donateUrl"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("https://give.example.org/donate?appeal=FALL-E&t="),
        "{url}"
    );
    assert!(preview["body"].as_str().unwrap().ends_with(&url));
    url.trim_start_matches("https://give.example.org")
        .to_owned()
}

fn input_value(page: &str, id: &str) -> Option<String> {
    let at = page.find(&format!("id=\"{id}\""))?;
    let tag_start = page[..at].rfind('<')?;
    let tag_end = at + page[at..].find('>')?;
    let tag = &page[tag_start..tag_end];
    let value = tag.split("value=\"").nth(1)?;
    Some(value[..value.find('"')?].to_owned())
}

fn is_checked(page: &str, id: &str) -> bool {
    page.find(&format!("id=\"{id}\""))
        .and_then(|at| page[at..].find('>').map(|end| &page[at..at + end]))
        .is_some_and(|tag| tag.contains(" checked"))
}

async fn a_personal_donate_link_prefills_the_donor_and_its_gift_is_attributed(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let staff = staff_token(&app).await;
    let appeal = fall_appeal(&app, &staff).await;
    let ana = ana(&app, &staff).await;
    let link = donate_path(&app, &staff, &appeal, ana).await;

    let page = app.get(&link).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert_eq!(input_value(&page, "name").as_deref(), Some("Ana García"));
    assert_eq!(
        input_value(&page, "email").as_deref(),
        Some("ana@example.org")
    );
    assert!(is_checked(&page, "amount-other"));
    assert_eq!(input_value(&page, "amount_other").as_deref(), Some("75"));
    assert!(page.contains("name=\"appeal\" value=\"FALL-E\""));
    for private in ["555 0199", "Secret Lane", "92701", "$60"] {
        assert!(!page.contains(private), "the page shows {private}");
    }

    // The donor sends the form as it was filled in; the session names the appeal.
    let attempt = page
        .split("name=\"attempt\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let form = [
        ("attempt", attempt.as_str()),
        ("lang", "en"),
        ("appeal", "FALL-E"),
        ("frequency", "once"),
        ("amount", "other"),
        ("amount_other", "75"),
        ("fund", "GENERAL"),
        ("name", "Ana García"),
        ("email", "ana@example.org"),
    ];
    let sent = app
        .client
        .post(app.url("/donate"))
        .header("Origin", "https://give.example.org")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 303);
    let requests = stripe.received_requests().await.unwrap();
    let session: HashMap<String, String> = url::form_urlencoded::parse(&requests[0].body)
        .into_owned()
        .collect();
    assert_eq!(session["metadata[appeal]"], "FALL-E");
    assert_eq!(session["metadata[donor_email]"], "ana@example.org");
    assert_eq!(session["line_items[0][price_data][unit_amount]"], "7500");

    // Stripe reports the payment with the session's metadata: the gift is Ana's, and the appeal's.
    let mut paid = payment_session("cs_test_link", "ana@example.org", 7_500, true);
    paid["metadata"] = metadata_of(&session, "metadata");
    assert_eq!(
        app.deliver(&event("evt_link", "checkout.session.completed", paid))
            .await
            .status(),
        200
    );
    let through_link = gift::Entity::find()
        .filter(gift::Column::StripeCheckoutSessionId.eq("cs_test_link"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(through_link.donor_id, ana);
    assert_eq!(
        through_link.appeal_id.map(|id| id.to_string()),
        Some(appeal.clone())
    );
    assert_eq!(through_link.amount_minor, 7_500);
    let results = ok(
        &app,
        &staff,
        "query($id: ID!) { appealResults(id: $id) { gifts donors raised { amountMinor } } }",
        json!({ "id": appeal }),
    )
    .await;
    assert_eq!(
        results["appealResults"],
        json!({ "gifts": 1, "donors": 1, "raised": { "amountMinor": 7_500 } })
    );
}

/// The `prefix[key]` fields of a Stripe form, as a JSON object.
fn metadata_of(form: &HashMap<String, String>, prefix: &str) -> Value {
    let start = format!("{prefix}[");
    let fields: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(key, value)| {
            let name = key.strip_prefix(&start)?.strip_suffix(']')?;
            (!name.contains('[')).then(|| (name.to_owned(), json!(value)))
        })
        .collect();
    Value::Object(fields)
}

async fn a_tampered_donate_link_prefills_nothing_and_still_names_the_appeal(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let staff = staff_token(&app).await;
    let appeal = fall_appeal(&app, &staff).await;
    let ana = ana(&app, &staff).await;
    let ben = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ben Ortiz", "email": "ben@example.org", "emailConsent": true }),
    )
    .await;
    let link = donate_path(&app, &staff, &appeal, ana).await;
    // The token is the `t` parameter; the donor's language follows it.
    let token = link
        .split("&t=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .unwrap()
        .to_owned();

    let mut altered_signature = token.clone();
    let last = altered_signature.pop().unwrap();
    altered_signature.push(if last == '0' { '1' } else { '0' });
    let other_donor = token.replacen(&format!("{ana}."), &format!("{ben}."), 1);
    let bigger_ask = token.replacen(".7500.", ".750000.", 1);
    for bad in [
        format!("/donate?appeal=FALL-E&t={altered_signature}"),
        format!("/donate?appeal=FALL-E&t={other_donor}"),
        format!("/donate?appeal=FALL-E&t={bigger_ask}"),
        "/donate?appeal=FALL-E&t=garbage".to_owned(),
    ] {
        let page = app.get(&bad).await;
        assert_eq!(page.status(), 200, "{bad}");
        let page = page.text().await.unwrap();
        assert_eq!(input_value(&page, "name").as_deref(), Some(""), "{bad}");
        assert_eq!(input_value(&page, "email").as_deref(), Some(""), "{bad}");
        assert!(!page.contains("Ben Ortiz") && !page.contains("ben@example.org"));
        assert_eq!(input_value(&page, "amount_other").as_deref(), Some(""));
        assert!(page.contains("name=\"appeal\" value=\"FALL-E\""), "{bad}");
    }
    // A token signed for this appeal opens nothing under another code.
    let page = app
        .get(&format!("/donate?appeal=NOPE&t={token}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(input_value(&page, "email").as_deref(), Some(""));
    assert!(page.contains("name=\"appeal\" value=\"\""));
}

/// Rosa starts a $42 monthly pledge from the appeal's link (into the Circle); Tomás
/// sends back the pledge card with the reply code, $20 a month (no tier); Uma's pledge
/// card has no code. Two pledges, one new club member, who is in the Circle.
async fn pledges_from_the_link_and_the_envelope_count_in_the_appeal_results(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let staff = staff_token(&app).await;
    let appeal = fall_appeal(&app, &staff).await;
    let email = "rosa@example.org";
    let mut metadata = tests::stripe::donation_metadata(email, "GENERAL");
    metadata["appeal"] = json!("FALL-E");
    let mut session = subscription_session("cs_rosa", "sub_rosa", email, 4_200);
    session["metadata"] = metadata.clone();
    app.deliver(&event("evt_session", "checkout.session.completed", session))
        .await;
    let mut created = subscription("sub_rosa", email, 4_200, "active");
    created["metadata"] = metadata.clone();
    assert_eq!(
        app.deliver(&event("evt_sub", "customer.subscription.created", created))
            .await
            .status(),
        200
    );
    let mut invoice = first_invoice("in_rosa_1", "sub_rosa", email, 4_200);
    invoice["parent"]["subscription_details"]["metadata"] = metadata;
    app.deliver(&event("evt_inv", "invoice.paid", invoice))
        .await;

    let tomas = create_donor(&app, &staff, json!({ "displayName": "Tomás" })).await;
    let uma = create_donor(&app, &staff, json!({ "displayName": "Uma" })).await;
    for (donor, amount, code) in [(tomas, 2_000, Some("fall-e")), (uma, 5_000, None)] {
        let mut input = json!({ "donorId": donor.to_string(), "installment": { "amountMinor": amount, "currency": "USD" },
                                "frequency": "MONTHLY", "startsOn": "2026-10-01", "fundId": "1" });
        if let Some(code) = code {
            input["appealCode"] = json!(code);
        }
        ok(
            &app,
            &staff,
            "mutation($input: CreatePledgeInput!) { createPledge(input: $input) { id appealCode } }",
            json!({ "input": input }),
        )
        .await;
    }

    let appeal_id: i64 = appeal.parse().unwrap();
    let attributed = pledge::Entity::find()
        .filter(pledge::Column::AppealId.eq(appeal_id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(attributed.len(), 2);
    assert!(
        attributed
            .iter()
            .any(|p| p.stripe_subscription_id.as_deref() == Some("sub_rosa"))
    );
    assert!(attributed.iter().any(|p| p.donor_id == tomas));
    let installment = gift::Entity::find()
        .filter(gift::Column::StripeInvoiceId.eq("in_rosa_1"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(installment.appeal_id, Some(appeal_id));

    let results = ok(
        &app,
        &staff,
        "query($id: ID!) { appealResults(id: $id) { pledges newClubMembers newCircleMembers gifts raised { amountMinor } } }",
        json!({ "id": appeal }),
    )
    .await;
    assert_eq!(
        results["appealResults"],
        json!({ "pledges": 2, "newClubMembers": 1, "newCircleMembers": 1, "gifts": 1, "raised": { "amountMinor": 4_200 } })
    );
}

on_both_backends!(
    a_personal_donate_link_prefills_the_donor_and_its_gift_is_attributed,
    a_tampered_donate_link_prefills_nothing_and_still_names_the_appeal,
    pledges_from_the_link_and_the_envelope_count_in_the_appeal_results,
);
