//! What donors see and do themselves: the Circle page, and the signed self-service link
//! that shows, changes, pauses and cancels their pledges.

use super::*;

async fn the_circle_page_thanks_members_by_name_and_hides_the_anonymous(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let open = create_donor(&app, &token, json!({ "displayName": "Zoe <script>alert(1)</script> Abara", "email": "zoe@example.org", "phone": "+1 213 555 0100" })).await;
    let hidden = create_donor(
        &app,
        &token,
        json!({ "displayName": "Yusuf Secret", "email": "yusuf@example.org", "anonymous": true }),
    )
    .await;
    let below = donor_named(&app, &token, "Xavier Small").await;
    envelope_pledge(&app, &token, open, 4_200, "MONTHLY", None).await;
    envelope_pledge(&app, &token, hidden, 5_000, "MONTHLY", None).await;
    envelope_pledge(&app, &token, below, 1_000, "MONTHLY", None).await;

    let page = app.get("/circle").await.text().await.unwrap();
    assert!(page.contains("Circle of Friends"));
    assert!(page.contains("Zoe &#60;script&#62;alert(1)&#60;/script&#62; Abara"));
    assert!(!page.contains("<script>"));
    assert!(!page.contains("Yusuf"));
    assert!(!page.contains("Xavier"));
    assert!(!page.contains("zoe@example.org"));
    let spanish = app.get("/circle?lang=es").await.text().await.unwrap();
    assert!(spanish.contains("Círculo de Amigos"));
    assert!(spanish.contains("lang=\"es\""));

    let roster = ok(
        &app,
        &token,
        "{ circleRoster(first: 100) { totalCount edges { node { donor { displayName email } tier { name } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(roster["circleRoster"]["totalCount"], 2);
    let names: Vec<&str> = roster["circleRoster"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["node"]["donor"]["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"Yusuf Secret"));

    let csv = app
        .client
        .get(app.url("/circle/roster.csv"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = csv.text().await.unwrap();
    assert!(body.starts_with("name,email,phone"));
    assert!(body.contains("yusuf@example.org"));
    assert!(body.contains("+1 213 555 0100"));
    assert_eq!(body.lines().count(), 3);

    let viewer = app.token(entity::enums::StaffRole::Viewer).await;
    let refused = app
        .client
        .get(app.url("/circle/roster.csv"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let anonymous = app.get("/circle/roster.csv").await;
    assert_eq!(anonymous.status(), 401);
}

async fn the_self_service_link_shows_the_donors_pledges_and_nothing_when_tampered_or_expired(
    backend: Backend,
) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let vera = donor_named(&app, &token, "Vera Ito").await;
    let other = donor_named(&app, &token, "Walt Ames").await;
    envelope_pledge(&app, &token, vera, 4_200, "MONTHLY", None).await;
    envelope_pledge(&app, &token, other, 9_900, "YEARLY", None).await;

    // The link in the welcome email opens the page.
    let welcome = messages(&app, "club_welcome").await;
    let mail = rendered(&app, &welcome[0]).await;
    let link = mail
        .text
        .lines()
        .find_map(|l| l.split_once(": https://give.example.org/"))
        .unwrap()
        .1
        .to_owned();
    let page = app.get(&format!("/{link}")).await;
    assert_eq!(page.status(), 200, "{link}");
    let body = page.text().await.unwrap();
    assert!(body.contains("$42.00</bdi> a month"), "{body}");
    assert!(!body.contains("$99.00"));

    let valid = mailer::links::manage_token(CLUB_LINK_KEY, vera, 0, Utc::now() + Duration::days(1));
    let tampered = valid.replacen(&format!("{vera}."), &format!("{other}."), 1);
    let response = app.get(&format!("/manage/{tampered}")).await;
    assert_eq!(response.status(), 404);
    let body = response.text().await.unwrap();
    assert!(body.contains("not valid"));
    assert!(!body.contains("$"));

    let expired =
        mailer::links::manage_token(CLUB_LINK_KEY, vera, 0, Utc::now() - Duration::minutes(1));
    let response = app.get(&format!("/manage/{expired}?lang=es")).await;
    assert_eq!(response.status(), 410);
    let body = response.text().await.unwrap();
    assert!(body.contains("ha vencido"));
    assert!(!body.contains("$"));
}

pub fn manage_link(donor: i64) -> String {
    mailer::links::manage_token(CLUB_LINK_KEY, donor, 0, Utc::now() + Duration::days(7))
}

pub async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn pledge_row(app: &TestApp, id: i64) -> pledge::Model {
    pledge::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn a_donor_changes_pauses_resumes_and_cancels_an_envelope_pledge_from_the_link(
    backend: Backend,
) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let lena = donor_named(&app, &token, "Lena Ortiz").await;
    let pledge = envelope_pledge(&app, &token, lena, 4_200, "MONTHLY", None).await;
    let link = manage_link(lena);
    let action = format!("/manage/{link}/pledges/{pledge}");

    let page = app
        .get(&format!("/manage/{link}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("action=\"{action}?lang=en\"")),
        "{page}"
    );
    assert!(page.contains("value=\"42.00\""));

    // Bad amounts and an unconfirmed cancellation change nothing.
    for amount in ["-5", "0", "abc", "99999999999"] {
        let response = post_form(
            &app,
            &action,
            &[("action", "change_amount"), ("amount", amount)],
        )
        .await;
        assert_eq!(response.status(), 422, "{amount}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("new amount in dollars")
        );
    }
    let response = post_form(&app, &action, &[("action", "cancel")]).await;
    assert_eq!(response.status(), 422);
    assert_eq!(pledge_row(&app, pledge).await.installment_minor, 4_200);
    assert_eq!(pledge_row(&app, pledge).await.status, PledgeStatus::Active);

    let response = post_form(
        &app,
        &action,
        &[("action", "change_amount"), ("amount", "50")],
    )
    .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("done=here"), "{location}");
    assert!(
        app.get(&location)
            .await
            .text()
            .await
            .unwrap()
            .contains("Your pledge is updated")
    );
    assert_eq!(pledge_row(&app, pledge).await.installment_minor, 5_000);
    assert!(in_circle(&app, lena).await);

    post_form(&app, &action, &[("action", "pause")]).await;
    assert_eq!(pledge_row(&app, pledge).await.status, PledgeStatus::Paused);
    assert!(!in_circle(&app, lena).await);
    post_form(&app, &action, &[("action", "resume")]).await;
    assert_eq!(pledge_row(&app, pledge).await.status, PledgeStatus::Active);
    assert!(in_circle(&app, lena).await);
    let response = post_form(&app, &action, &[("action", "cancel"), ("confirm", "yes")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        pledge_row(&app, pledge).await.status,
        PledgeStatus::Cancelled
    );
    assert!(!in_circle(&app, lena).await);
    assert_eq!(messages(&app, "pledge_cancelled").await.len(), 1);

    // Every change is in the audit log under the donor's own name.
    let audited = crate::staff_api::audit_entries(&app, "changePledgeAmount").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(
        audited[0].actor,
        format!("donor {lena} (self-service link)")
    );
}

async fn a_self_service_link_cannot_touch_another_donors_pledge_or_outlive_its_expiry(
    backend: Backend,
) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let lena = donor_named(&app, &token, "Lena Ortiz").await;
    let omar = donor_named(&app, &token, "Omar Haddad").await;
    let omars = envelope_pledge(&app, &token, omar, 9_000, "MONTHLY", None).await;
    let lenas = envelope_pledge(&app, &token, lena, 4_200, "MONTHLY", None).await;

    let response = post_form(
        &app,
        &format!("/manage/{}/pledges/{omars}", manage_link(lena)),
        &[("action", "cancel"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(response.status(), 404);
    assert!(!response.text().await.unwrap().contains("$"));
    assert_eq!(pledge_row(&app, omars).await.status, PledgeStatus::Active);

    let expired =
        mailer::links::manage_token(CLUB_LINK_KEY, lena, 0, Utc::now() - Duration::minutes(1));
    let response = post_form(
        &app,
        &format!("/manage/{expired}/pledges/{lenas}?lang=fr"),
        &[("action", "pause")],
    )
    .await;
    assert_eq!(response.status(), 410);
    assert!(response.text().await.unwrap().contains("a expiré"));
    let tampered = manage_link(lena).replacen(&format!("{lena}."), &format!("{omar}."), 1);
    let response = post_form(
        &app,
        &format!("/manage/{tampered}/pledges/{omars}"),
        &[("action", "pause")],
    )
    .await;
    assert_eq!(response.status(), 404);
    assert_eq!(pledge_row(&app, lenas).await.status, PledgeStatus::Active);
    assert_eq!(pledge_row(&app, omars).await.status, PledgeStatus::Active);
}

async fn a_donor_changes_a_card_pledge_through_stripe_and_updates_the_card_in_the_portal(
    backend: Backend,
) {
    let (app, stripe) = club_app(backend).await;
    let email = "tomas@example.org";
    let pledge = tomas_card_pledge(&app, email).await;
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_tomas"))
        .and(header_exists("Idempotency-Key"))
        .and(body_string_contains("pause_collection%5Bbehavior%5D=void"))
        .respond_with(ResponseTemplate::new(200).set_body_json(subscription(
            "sub_tomas",
            email,
            4_200,
            "active",
        )))
        .expect(1)
        .mount(&stripe)
        .await;
    let session = billing_portal_session("https://billing.stripe.com/p/session/test_portal");
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .and(header_exists("Idempotency-Key"))
        .and(body_string_contains("customer=cus_monthly"))
        .and(body_string_contains(
            "return_url=https%3A%2F%2Fgive.example.org%2Fmanage%2F",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(session))
        .expect(1)
        .mount(&stripe)
        .await;
    let link = manage_link(pledge.donor_id);

    let response = post_form(
        &app,
        &format!("/manage/{link}/pledges/{}?lang=es", pledge.id),
        &[("action", "pause")],
    )
    .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("lang=es&done=processor"), "{location}");
    // The pledge changes when Stripe's event says so.
    assert_eq!(
        pledge_row(&app, pledge.id).await.status,
        PledgeStatus::Active
    );

    let page = app
        .get(&format!("/manage/{link}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("action=\"/manage/{link}/card?lang=en\"")));
    let response = post_form(&app, &format!("/manage/{link}/card"), &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "https://billing.stripe.com/p/session/test_portal"
    );
}

on_both_backends!(
    the_circle_page_thanks_members_by_name_and_hides_the_anonymous,
    the_self_service_link_shows_the_donors_pledges_and_nothing_when_tampered_or_expired,
    a_donor_changes_pauses_resumes_and_cancels_an_envelope_pledge_from_the_link,
    a_self_service_link_cannot_touch_another_donors_pledge_or_outlive_its_expiry,
    a_donor_changes_a_card_pledge_through_stripe_and_updates_the_card_in_the_portal,
);
