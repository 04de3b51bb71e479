//! The club's emails: welcomes to the club and to the Circle, failed payments and
//! cancellations, each in the donor's language.

use super::*;

pub async fn messages(app: &TestApp, kind: &str) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::Kind.eq(kind))
        .order_by_asc(outbox::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

fn links() -> DownloadLinks {
    DownloadLinks {
        public_url: "https://give.example.org/".parse().unwrap(),
        key: Secret::new(CLUB_LINK_KEY),
        valid_for: Duration::days(30),
    }
}

pub async fn rendered(app: &TestApp, message: &outbox::Model) -> Rendered {
    try_rendered(app, message).await.unwrap()
}

/// The message as the mailer would render it, or why it would not send it.
pub async fn try_rendered(
    app: &TestApp,
    message: &outbox::Model,
) -> Result<Rendered, templates::RenderError> {
    let org = crate::mailer::organization();
    templates::render(&app.db, &org, Some(&links()), message).await
}

async fn a_new_card_pledge_is_welcomed_once_to_the_club_and_once_to_the_circle(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let email = "karim@example.org";
    let created = subscription_event(
        "evt_1",
        "customer.subscription.created",
        "sub_karim",
        email,
        5_000,
        "active",
    );
    app.deliver(&created).await;
    app.deliver(&created).await;
    app.deliver(&subscription_event(
        "evt_2",
        "customer.subscription.updated",
        "sub_karim",
        email,
        6_000,
        "active",
    ))
    .await;

    let club = messages(&app, "club_welcome").await;
    assert_eq!(club.len(), 1);
    let mail = rendered(&app, &club[0]).await;
    // The checkout's donor reads Spanish; the email shows the pledge as it stands.
    assert_eq!(mail.subject, "Bienvenido/a al Club de Donantes Mensuales");
    assert!(mail.text.contains("$60,00 al mes"), "{}", mail.text);
    assert!(
        mail.text.contains("https://give.example.org/manage/"),
        "{}",
        mail.text
    );

    let circle = messages(&app, "tier_welcome").await;
    assert_eq!(
        circle.len(),
        1,
        "a raise inside the Circle is not a new entry"
    );
    let mail = rendered(&app, &circle[0]).await;
    assert_eq!(mail.subject, "Bienvenido/a a Círculo de Amigos");
}

async fn a_second_circle_welcome_comes_only_with_a_new_entry(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let lena = donor_named(&app, &token, "Lena Fischer").await;
    let pledge = envelope_pledge(&app, &token, lena, 4_200, "MONTHLY", None).await;
    assert_eq!(messages(&app, "tier_welcome").await.len(), 1);
    let mut row: pledge::ActiveModel = pledge::Entity::find_by_id(pledge)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    row.status = Set(PledgeStatus::Cancelled);
    row.update(&app.db).await.unwrap();
    let txn = api::db::begin_write(&app.db).await.unwrap();
    club::evaluate_membership(&txn, &ClubPolicy::default(), lena, "test cancellation")
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert!(!in_circle(&app, lena).await);
    envelope_pledge(&app, &token, lena, 4_500, "MONTHLY", None).await;
    let welcomes = messages(&app, "tier_welcome").await;
    assert_eq!(welcomes.len(), 2);
    let rows = history(&app, lena).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        welcomes[1].idempotency_key,
        format!("tier_welcome:{}", rows[1].id)
    );
}

async fn a_failed_payment_asks_once_for_a_new_card_and_a_cancellation_offers_a_way_back(
    backend: Backend,
) {
    let (app, _stripe) = club_app(backend).await;
    let email = "marta@example.org";
    app.deliver(&subscription_event(
        "evt_1",
        "customer.subscription.created",
        "sub_marta",
        email,
        3_000,
        "active",
    ))
    .await;
    let failed = paid_invoice("in_9", "sub_marta", email, 3_000);
    app.deliver(&event("evt_fail", "invoice.payment_failed", failed.clone()))
        .await;
    app.deliver(&event("evt_fail_again", "invoice.payment_failed", failed))
        .await;
    let failures = messages(&app, "payment_failed").await;
    assert_eq!(failures.len(), 1);
    let mail = rendered(&app, &failures[0]).await;
    assert_eq!(mail.subject, "No pudimos procesar su donación mensual");
    assert!(mail.html.contains("Actualizar su tarjeta"));
    assert!(mail.html.contains("https://give.example.org/manage/"));

    app.deliver(&subscription_event(
        "evt_2",
        "customer.subscription.deleted",
        "sub_marta",
        email,
        3_000,
        "canceled",
    ))
    .await;
    app.deliver(&subscription_event(
        "evt_3",
        "customer.subscription.deleted",
        "sub_marta",
        email,
        3_000,
        "canceled",
    ))
    .await;
    let cancelled = messages(&app, "pledge_cancelled").await;
    assert_eq!(cancelled.len(), 1);
    let mail = rendered(&app, &cancelled[0]).await;
    assert_eq!(mail.subject, "Su compromiso de donación fue cancelado");
    assert!(
        mail.text
            .contains("Volver a donar: https://give.example.org/donate?lang=es"),
        "{}",
        mail.text
    );
}

async fn donor_speaking(app: &TestApp, token: &str, name: &str, language: &str) -> i64 {
    let email = format!(
        "{}@example.org",
        name.split(' ').next().unwrap_or("x").to_lowercase()
    );
    create_donor(
        app,
        token,
        json!({ "displayName": name, "email": email, "language": language }),
    )
    .await
}

async fn club_emails_speak_spanish_to_spanish_readers(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let nora = donor_speaking(&app, &token, "Nora <b>Ruiz</b>", "SPANISH").await;
    envelope_pledge(&app, &token, nora, 5_000, "MONTHLY", None).await;
    let mail = rendered(&app, &messages(&app, "club_welcome").await[0]).await;
    assert_eq!(mail.subject, "Bienvenido/a al Club de Donantes Mensuales");
    assert!(mail.text.contains("$50,00 al mes"), "{}", mail.text);
    assert!(mail.html.contains("Nora &#60;b&#62;Ruiz&#60;/b&#62;"));
    assert!(!mail.html.contains("<b>"));
    let mail = rendered(&app, &messages(&app, "tier_welcome").await[0]).await;
    assert_eq!(mail.subject, "Bienvenido/a a Círculo de Amigos");
}

async fn club_emails_speak_french_and_arabic_and_link_to_a_page_in_that_language(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let camille = donor_speaking(&app, &token, "Camille Diallo", "FRENCH").await;
    let layla = donor_speaking(&app, &token, "Layla Nasser", "ARABIC").await;
    envelope_pledge(&app, &token, camille, 5_000, "MONTHLY", None).await;
    envelope_pledge(&app, &token, layla, 2_000, "MONTHLY", None).await;
    let welcomes = messages(&app, "club_welcome").await;
    let french = rendered(&app, &welcomes[0]).await;
    assert_eq!(french.subject, "Bienvenue au Club des donateurs mensuels");
    assert!(
        french.text.contains("50,00\u{a0}$ par mois"),
        "{}",
        french.text
    );
    let link = french
        .text
        .lines()
        .find_map(|l| l.strip_prefix("Voir ou modifier votre engagement: https://give.example.org"))
        .unwrap()
        .to_owned();
    assert!(link.ends_with("?lang=fr"), "{link}");
    let page = app.get(&link).await.text().await.unwrap();
    assert!(page.contains("Vos engagements de don"), "{page}");
    assert!(page.contains("50,00 $</bdi> par mois"), "{page}");

    let arabic = rendered(&app, &welcomes[1]).await;
    assert_eq!(arabic.subject, "أهلًا بك في نادي التبرع الشهري");
    assert!(
        arabic.text.contains("20,00\u{a0}$ شهريًا"),
        "{}",
        arabic.text
    );
    let link = arabic
        .text
        .lines()
        .find_map(|l| l.strip_prefix("عرض تعهّدك أو تغييره: https://give.example.org"))
        .unwrap()
        .to_owned();
    let page = app.get(&link).await.text().await.unwrap();
    assert!(page.contains("dir=\"rtl\""));
    assert!(page.contains("تعهّداتكم بالتبرع"));
    let circle = rendered(&app, &messages(&app, "tier_welcome").await[0]).await;
    assert_eq!(circle.subject, "Bienvenue dans le Cercle des amis");
}

async fn club_emails_speak_english_by_default(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let omar = donor_named(&app, &token, "Omar Said").await;
    envelope_pledge(&app, &token, omar, 5_000, "MONTHLY", None).await;
    let mail = rendered(&app, &messages(&app, "club_welcome").await[0]).await;
    assert_eq!(mail.subject, "Welcome to the Monthly Giving Club");
    assert!(mail.text.contains("$50.00 a month"), "{}", mail.text);
    assert!(
        mail.text
            .contains("See or change your pledge: https://give.example.org/manage/")
    );
    let mail = rendered(&app, &messages(&app, "tier_welcome").await[0]).await;
    assert_eq!(mail.subject, "Welcome to the Circle of Friends");
}

on_both_backends!(
    a_new_card_pledge_is_welcomed_once_to_the_club_and_once_to_the_circle,
    a_second_circle_welcome_comes_only_with_a_new_entry,
    a_failed_payment_asks_once_for_a_new_card_and_a_cancellation_offers_a_way_back,
    club_emails_speak_spanish_to_spanish_readers,
    club_emails_speak_english_by_default,
    club_emails_speak_french_and_arabic_and_link_to_a_page_in_that_language,
);
