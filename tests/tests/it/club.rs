//! The Monthly Giving Club: tier membership follows the annual pledge total, with its
//! history, through envelope pledges, Stripe subscriptions and the grace period.

use api::domain::club::{self, ClubPolicy};
use chrono::{Duration, Utc};
use entity::enums::PledgeStatus;
use entity::{outbox, pledge, tier_membership};
use mailer::config::Secret;
use mailer::links::DownloadLinks;
use mailer::templates::{self, Rendered};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::staff_api::{admin_token, check_gift, create_donor, ok, record_gift, staff_token};
use tests::on_both_backends;
use tests::stripe::{
    OLD_WEBHOOK_SECRET, SECRET_KEY, WEBHOOK_SECRET, billing_portal_session, event, paid_invoice,
    subscription,
};
use tests::support::{Backend, TestApp, spawn_app_with};

/// The key test servers sign self-service links with.
pub const CLUB_LINK_KEY: &str = "club-test-key-with-at-least-32-characters";

pub async fn club_app(backend: Backend) -> (TestApp, MockServer) {
    let stripe = MockServer::start().await;
    tests::stripe::mount_fake_stripe(&stripe).await;
    let secrets = format!("{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}");
    let app = spawn_app_with(
        backend,
        &[
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_API_BASE", &stripe.uri()),
            ("STRIPE_WEBHOOK_SECRET", &secrets),
            ("PUBLIC_URL", "https://give.example.org"),
            ("DOWNLOAD_LINK_KEY", CLUB_LINK_KEY),
        ],
    )
    .await;
    (app, stripe)
}

const CREATE_PLEDGE: &str =
    "mutation($input: CreatePledgeInput!) { createPledge(input: $input) { id } }";

/// An envelope pledge starting today.
pub async fn envelope_pledge(
    app: &TestApp,
    token: &str,
    donor: i64,
    amount_minor: i64,
    frequency: &str,
    installments: Option<i32>,
) -> i64 {
    let data = ok(
        app,
        token,
        CREATE_PLEDGE,
        json!({ "input": {
            "donorId": donor.to_string(),
            "installment": { "amountMinor": amount_minor },
            "frequency": frequency,
            "startsOn": Utc::now().date_naive().to_string(),
            "installments": installments,
            "fundId": "1",
        } }),
    )
    .await;
    data["createPledge"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

pub async fn history(app: &TestApp, donor: i64) -> Vec<tier_membership::Model> {
    tier_membership::Entity::find()
        .filter(tier_membership::Column::DonorId.eq(donor))
        .order_by_asc(tier_membership::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

async fn donor_named(app: &TestApp, token: &str, name: &str) -> i64 {
    let email = format!("{}@example.org", name.to_lowercase().replace(' ', "."));
    create_donor(app, token, json!({ "displayName": name, "email": email })).await
}

async fn in_circle(app: &TestApp, donor: i64) -> bool {
    history(app, donor)
        .await
        .iter()
        .any(|m| m.left_at.is_none())
}

async fn a_42_dollar_monthly_pledge_joins_the_circle_and_41_does_not(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let ana = donor_named(&app, &token, "Ana Lopez").await;
    let ben = donor_named(&app, &token, "Ben Ortiz").await;
    envelope_pledge(&app, &token, ana, 4_200, "MONTHLY", None).await;
    envelope_pledge(&app, &token, ben, 4_100, "MONTHLY", None).await;

    let joined = history(&app, ana).await;
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0].annual_pledge_total_minor, 50_400);
    assert!(joined[0].left_at.is_none());
    assert!(
        joined[0].join_reason.contains("$504.00"),
        "{}",
        joined[0].join_reason
    );
    assert!(
        joined[0]
            .cause
            .as_deref()
            .unwrap()
            .starts_with("createPledge")
    );
    assert!(history(&app, ben).await.is_empty());
}

async fn two_25_dollar_monthly_pledges_together_qualify(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let carla = donor_named(&app, &token, "Carla Diaz").await;
    envelope_pledge(&app, &token, carla, 2_500, "MONTHLY", None).await;
    assert!(!in_circle(&app, carla).await);
    envelope_pledge(&app, &token, carla, 2_500, "MONTHLY", None).await;
    let rows = history(&app, carla).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].annual_pledge_total_minor, 60_000);
}

async fn a_six_month_100_dollar_pledge_counts_600_and_a_yearly_500_pledge_qualifies(
    backend: Backend,
) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let dana = donor_named(&app, &token, "Dana Kim").await;
    let eli = donor_named(&app, &token, "Eli Haddad").await;
    let fay = donor_named(&app, &token, "Fay Moreno").await;
    envelope_pledge(&app, &token, dana, 10_000, "MONTHLY", Some(6)).await;
    envelope_pledge(&app, &token, eli, 50_000, "YEARLY", None).await;
    envelope_pledge(&app, &token, fay, 12_400, "QUARTERLY", Some(4)).await;

    assert_eq!(
        history(&app, dana).await[0].annual_pledge_total_minor,
        60_000
    );
    assert_eq!(
        history(&app, eli).await[0].annual_pledge_total_minor,
        50_000
    );
    // Four quarterly installments of $124 make $496: below the threshold.
    assert!(history(&app, fay).await.is_empty());
}

fn subscription_event(
    id: &str,
    kind: &str,
    sub: &str,
    email: &str,
    amount: i64,
    status: &str,
) -> Value {
    event(id, kind, subscription(sub, email, amount, status))
}

async fn a_card_pledge_moves_up_and_down_with_its_amount(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let admin = admin_token(&app).await;
    ok(
        &app,
        &admin,
        "mutation($input: CreateTierInput!) { createTier(input: $input) { id } }",
        json!({ "input": { "name": "Sustainers", "threshold": { "amountMinor": 24_000 }, "benefitsValueMinor": 0 } }),
    )
    .await;
    let email = "gabi@example.org";
    let created = subscription_event(
        "evt_1",
        "customer.subscription.created",
        "sub_gabi",
        email,
        2_000,
        "active",
    );
    assert_eq!(app.deliver(&created).await.status(), 200);
    let donor = pledge::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .donor_id;
    let rows = history(&app, donor).await;
    assert_eq!(rows.len(), 1, "a $240 year joins Sustainers");

    app.deliver(&subscription_event(
        "evt_2",
        "customer.subscription.updated",
        "sub_gabi",
        email,
        5_000,
        "active",
    ))
    .await;
    let rows = history(&app, donor).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0]
            .leave_reason
            .as_deref()
            .unwrap()
            .starts_with("moved up to Circle of Friends")
    );
    assert_eq!(rows[0].cause.as_deref(), Some("stripe event evt_2"));
    assert!(rows[1].join_reason.starts_with("moved up from Sustainers"));
    assert_eq!(rows[1].annual_pledge_total_minor, 60_000);

    app.deliver(&subscription_event(
        "evt_3",
        "customer.subscription.updated",
        "sub_gabi",
        email,
        2_500,
        "active",
    ))
    .await;
    let rows = history(&app, donor).await;
    assert_eq!(rows.len(), 3);
    assert!(
        rows[1]
            .leave_reason
            .as_deref()
            .unwrap()
            .starts_with("moved down to Sustainers")
    );
    assert!(
        rows[2]
            .join_reason
            .starts_with("moved down from Circle of Friends")
    );
    assert!(rows[2].left_at.is_none());
}

async fn a_past_due_pledge_keeps_its_tier_through_the_grace_period_then_leaves(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let email = "hana@example.org";
    app.deliver(&subscription_event(
        "evt_1",
        "customer.subscription.created",
        "sub_hana",
        email,
        4_200,
        "active",
    ))
    .await;
    app.deliver(&event(
        "evt_fail",
        "invoice.payment_failed",
        paid_invoice("in_1", "sub_hana", email, 4_200),
    ))
    .await;
    let pledge = pledge::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(pledge.status, PledgeStatus::PastDue);
    assert!(
        in_circle(&app, pledge.donor_id).await,
        "past due, inside the grace period"
    );

    let policy = ClubPolicy::default();
    assert!(
        club::end_expired_grace_periods(&app.db, &policy)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(in_circle(&app, pledge.donor_id).await);

    let mut row: pledge::ActiveModel = pledge.clone().into();
    row.past_due_since = Set(Some(Utc::now() - Duration::days(31)));
    row.update(&app.db).await.unwrap();
    let changes = club::end_expired_grace_periods(&app.db, &policy)
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    let rows = history(&app, pledge.donor_id).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].left_at.is_some());
    assert_eq!(
        rows[0].cause.as_deref(),
        Some("grace period for a past-due pledge ended")
    );
    // Running the check again changes nothing.
    assert!(
        club::end_expired_grace_periods(&app.db, &policy)
            .await
            .unwrap()
            .is_empty()
    );

    // A paid invoice brings the pledge back, and the donor re-enters with a new row.
    app.deliver(&event(
        "evt_paid",
        "invoice.paid",
        paid_invoice("in_2", "sub_hana", email, 4_200),
    ))
    .await;
    let rows = history(&app, pledge.donor_id).await;
    assert_eq!(rows.len(), 2);
    assert!(rows[1].left_at.is_none());
}

async fn a_cancelled_pledge_leaves_the_circle_and_a_new_pledge_re_enters(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let email = "ines@example.org";
    app.deliver(&subscription_event(
        "evt_1",
        "customer.subscription.created",
        "sub_ines",
        email,
        5_000,
        "active",
    ))
    .await;
    let donor = pledge::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .donor_id;
    app.deliver(&subscription_event(
        "evt_2",
        "customer.subscription.deleted",
        "sub_ines",
        email,
        5_000,
        "canceled",
    ))
    .await;
    let rows = history(&app, donor).await;
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0]
            .leave_reason
            .as_deref()
            .unwrap()
            .contains("is below Circle of Friends")
    );
    assert_eq!(rows[0].cause.as_deref(), Some("stripe event evt_2"));

    envelope_pledge(&app, &token, donor, 4_500, "MONTHLY", None).await;
    let rows = history(&app, donor).await;
    assert_eq!(rows.len(), 2);
    assert!(rows[1].left_at.is_none());
    assert_eq!(rows[1].annual_pledge_total_minor, 54_000);
}

async fn raising_a_threshold_moves_members_out_in_the_same_change(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let admin = admin_token(&app).await;
    let jo = donor_named(&app, &token, "Jo Park").await;
    envelope_pledge(&app, &token, jo, 4_200, "MONTHLY", None).await;
    assert!(in_circle(&app, jo).await);
    ok(
        &app,
        &admin,
        "mutation($input: UpdateTierInput!) { updateTier(id: \"1\", input: $input) { id } }",
        json!({ "input": { "threshold": { "amountMinor": 60_000 } } }),
    )
    .await;
    let rows = history(&app, jo).await;
    assert!(rows[0].left_at.is_some());
    assert!(
        rows[0]
            .cause
            .as_deref()
            .unwrap()
            .starts_with("updateTier 1")
    );
}

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
    let org = crate::mailer::organization();
    templates::render(&app.db, &org, Some(&links()), message)
        .await
        .unwrap()
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

const GIVING_CLUB: &str = "query($from: DateTime!, $to: DateTime!) { givingClub { members(first: 1) { totalCount edges { node { donor { displayName } tier { name } joinedAt annualPledgeTotal { amountMinor formatted } } } pageInfo { hasNextPage endCursor } } joinedBetween(from: $from, to: $to) { donor { displayName } } leftBetween(from: $from, to: $to) { donor { displayName } leaveReason } monthlyRecurringRevenue { amountMinor formatted } annualPledgeTotal { amountMinor } } }";

fn window() -> Value {
    json!({
        "from": (Utc::now() - Duration::hours(1)).to_rfc3339(),
        "to": (Utc::now() + Duration::hours(1)).to_rfc3339(),
    })
}

async fn staff_see_the_club_its_movements_and_its_recurring_income(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let viewer = app.token(entity::enums::StaffRole::Viewer).await;
    let pia = donor_named(&app, &token, "Pia Novak").await;
    let raul = donor_named(&app, &token, "Raul Vega").await;
    envelope_pledge(&app, &token, pia, 4_200, "MONTHLY", None).await;
    envelope_pledge(&app, &token, raul, 3_000, "MONTHLY", None).await;
    envelope_pledge(&app, &token, raul, 60_000, "YEARLY", None).await;
    let pledge = envelope_pledge(&app, &token, raul, 1_000, "MONTHLY", None).await;
    ok(&app, &token, "mutation($input: PledgeChangeInput!) { cancelPledge(input: $input, reason: \"moved away\") { requestedOfProcessor } }", json!({ "input": { "id": pledge.to_string() } })).await;

    let data = ok(&app, &viewer, GIVING_CLUB, window()).await["givingClub"].clone();
    let members = data["members"]["edges"].as_array().unwrap();
    assert_eq!(data["members"]["totalCount"], 2);
    assert_eq!(data["members"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["node"]["donor"]["displayName"], "Pia Novak");
    assert_eq!(members[0]["node"]["tier"]["name"], "Circle of Friends");
    assert_eq!(
        members[0]["node"]["annualPledgeTotal"]["formatted"],
        "$504.00"
    );
    let next = ok(
        &app,
        &viewer,
        "query($after: String!) { givingClub { members(first: 5, after: $after) { edges { node { donor { displayName } } } pageInfo { hasNextPage } } } }",
        json!({ "after": data["members"]["pageInfo"]["endCursor"] }),
    )
    .await;
    let rest = next["givingClub"]["members"]["edges"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0]["node"]["donor"]["displayName"], "Pia Novak");
    assert_eq!(
        next["givingClub"]["members"]["pageInfo"]["hasNextPage"],
        false
    );
    assert_eq!(data["joinedBetween"].as_array().unwrap().len(), 2);
    assert_eq!(data["leftBetween"].as_array().unwrap().len(), 0);
    // $42 + $30 a month, and $600 a year spread over its months.
    assert_eq!(data["monthlyRecurringRevenue"]["amountMinor"], 12_200);
    assert_eq!(
        data["annualPledgeTotal"]["amountMinor"],
        50_400 + 36_000 + 60_000
    );

    let history = ok(&app, &viewer, "query($id: ID!) { donor(id: $id) { tierHistory { tier { name } joinReason leftAt cause } } }", json!({ "id": pia.to_string() })).await;
    let rows = history["donor"]["tierHistory"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["leftAt"].is_null());
    assert!(
        rows[0]["cause"]
            .as_str()
            .unwrap()
            .starts_with("createPledge")
    );
}

const CHANGE: &str = "mutation($input: PledgeChangeInput!) { %ACTION%(input: $input) { requestedOfProcessor pledge { status installment { amountMinor } } } }";

async fn change(
    app: &TestApp,
    token: &str,
    action: &str,
    pledge: i64,
    amount: Option<i64>,
) -> Value {
    let query = if let Some(amount) = amount {
        format!(
            "mutation($input: PledgeChangeInput!) {{ {action}(input: $input, amount: {{ amountMinor: {amount} }}) {{ requestedOfProcessor pledge {{ status installment {{ amountMinor }} }} }} }}"
        )
    } else {
        CHANGE.replace("%ACTION%", action)
    };
    ok(
        app,
        token,
        &query,
        json!({ "input": { "id": pledge.to_string() } }),
    )
    .await[action]
        .clone()
}

async fn staff_pause_resume_change_and_cancel_an_envelope_pledge_with_audit(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let sara = donor_named(&app, &token, "Sara Cohen").await;
    let pledge = envelope_pledge(&app, &token, sara, 4_200, "MONTHLY", None).await;

    let paused = change(&app, &token, "pausePledge", pledge, None).await;
    assert_eq!(paused["requestedOfProcessor"], false);
    assert_eq!(paused["pledge"]["status"], "PAUSED");
    assert!(!in_circle(&app, sara).await);
    let (code, field) = crate::staff_api::fails(
        &app,
        &token,
        &CHANGE.replace("%ACTION%", "pausePledge"),
        json!({ "input": { "id": pledge.to_string() } }),
    )
    .await;
    assert_eq!((code.as_str(), field.as_str()), ("BAD_USER_INPUT", "id"));

    change(&app, &token, "resumePledge", pledge, None).await;
    assert!(in_circle(&app, sara).await);
    assert_eq!(
        messages(&app, "tier_welcome").await.len(),
        2,
        "a new entry is welcomed"
    );

    let changed = change(&app, &token, "changePledgeAmount", pledge, Some(4_100)).await;
    assert_eq!(changed["pledge"]["installment"]["amountMinor"], 4_100);
    assert!(!in_circle(&app, sara).await);
    change(&app, &token, "changePledgeAmount", pledge, Some(5_000)).await;
    assert!(in_circle(&app, sara).await);

    change(&app, &token, "cancelPledge", pledge, None).await;
    assert!(!in_circle(&app, sara).await);
    assert_eq!(messages(&app, "pledge_cancelled").await.len(), 1);
    let rows = history(&app, sara).await;
    assert!(
        rows.last()
            .unwrap()
            .cause
            .as_deref()
            .unwrap()
            .starts_with(&format!("cancelPledge {pledge}"))
    );

    let actions: Vec<String> = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Entity.eq("pledge"))
        .order_by_asc(entity::audit_log::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(
        actions,
        [
            "createPledge",
            "pausePledge",
            "resumePledge",
            "changePledgeAmount",
            "changePledgeAmount",
            "cancelPledge"
        ]
    );
}

/// A $42 monthly card pledge, as Stripe's first subscription event brings it in.
pub async fn tomas_card_pledge(app: &TestApp, email: &str) -> pledge::Model {
    app.deliver(&subscription_event(
        "evt_1",
        "customer.subscription.created",
        "sub_tomas",
        email,
        4_200,
        "active",
    ))
    .await;
    pledge::Entity::find().one(&app.db).await.unwrap().unwrap()
}

async fn a_card_pledge_changes_through_stripe_and_follows_its_webhooks(backend: Backend) {
    let (app, stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let email = "tomas@example.org";
    let pledge = tomas_card_pledge(&app, email).await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_tomas"))
        .respond_with(ResponseTemplate::new(200).set_body_json(subscription(
            "sub_tomas",
            email,
            4_200,
            "active",
        )))
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_tomas"))
        .and(header_exists("Idempotency-Key"))
        .and(body_string_contains("unit_amount%5D=3000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(subscription(
            "sub_tomas",
            email,
            3_000,
            "active",
        )))
        .expect(1)
        .mount(&stripe)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/subscriptions/sub_tomas"))
        .and(header_exists("Idempotency-Key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(subscription(
            "sub_tomas",
            email,
            3_000,
            "canceled",
        )))
        .expect(1)
        .mount(&stripe)
        .await;

    let changed = change(&app, &token, "changePledgeAmount", pledge.id, Some(3_000)).await;
    assert_eq!(changed["requestedOfProcessor"], true);
    // The pledge changes when Stripe says so.
    assert_eq!(changed["pledge"]["installment"]["amountMinor"], 4_200);
    assert!(in_circle(&app, pledge.donor_id).await);
    app.deliver(&subscription_event(
        "evt_2",
        "customer.subscription.updated",
        "sub_tomas",
        email,
        3_000,
        "active",
    ))
    .await;
    let updated = pledge::Entity::find_by_id(pledge.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.installment_minor, 3_000);
    assert!(!in_circle(&app, pledge.donor_id).await);

    change(&app, &token, "cancelPledge", pledge.id, None).await;
    app.deliver(&subscription_event(
        "evt_3",
        "customer.subscription.deleted",
        "sub_tomas",
        email,
        3_000,
        "canceled",
    ))
    .await;
    let cancelled = pledge::Entity::find_by_id(pledge.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.status, PledgeStatus::Cancelled);

    let requested = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Entity.eq("pledge"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(requested.len(), 2);
    assert!(
        requested
            .iter()
            .all(|e| e.changes["requestedOfProcessor"] == true)
    );
}

async fn a_paused_subscription_pauses_its_pledge(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let email = "uma@example.org";
    app.deliver(&subscription_event(
        "evt_1",
        "customer.subscription.created",
        "sub_uma",
        email,
        4_200,
        "active",
    ))
    .await;
    let mut paused = subscription("sub_uma", email, 4_200, "active");
    paused["pause_collection"] = json!({ "behavior": "void", "resumes_at": null });
    app.deliver(&event("evt_2", "customer.subscription.updated", paused))
        .await;
    let pledge = pledge::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(pledge.status, PledgeStatus::Paused);
    assert!(!in_circle(&app, pledge.donor_id).await);
    app.deliver(&subscription_event(
        "evt_3",
        "customer.subscription.updated",
        "sub_uma",
        email,
        4_200,
        "active",
    ))
    .await;
    let pledge = pledge::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(pledge.status, PledgeStatus::Active);
    assert!(in_circle(&app, pledge.donor_id).await);
}

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

const PLEDGE_FULFILMENT: &str = "query($id: ID!) { pledges(filter: { donorId: $id }) { edges { node { status fulfilment { paidSoFar { amountMinor } installmentsPaid expectedSoFar { amountMinor } installmentsExpected missedInstallments nextExpectedOn } } } } }";

async fn fulfilment_of_only_pledge(app: &TestApp, token: &str, donor: i64) -> Value {
    let data = ok(
        app,
        token,
        PLEDGE_FULFILMENT,
        json!({ "id": donor.to_string() }),
    )
    .await;
    data["pledges"]["edges"][0]["node"]["fulfilment"].clone()
}

async fn a_pledge_with_missed_installments_shows_paid_expected_missed_and_next(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let donor = donor_named(&app, &token, "Rosa Mendez").await;
    // Five monthly installments have fallen due (a few days' margin keeps the count
    // the same in any time zone); two checks came in.
    let starts_on = (Utc::now().date_naive() - Duration::days(3))
        .checked_sub_months(chrono::Months::new(4))
        .unwrap();
    let data = ok(
        &app,
        &token,
        CREATE_PLEDGE,
        json!({ "input": {
            "donorId": donor.to_string(),
            "installment": { "amountMinor": 5_000 },
            "frequency": "MONTHLY",
            "startsOn": starts_on.to_string(),
            "fundId": "1",
        } }),
    )
    .await;
    let pledge: i64 = data["createPledge"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for (check, days_after_start) in [("2001", 1), ("2002", 32)] {
        let received = (starts_on + Duration::days(days_after_start))
            .and_hms_opt(17, 0, 0)
            .unwrap()
            .and_utc();
        record_gift(
            &app,
            &token,
            check_gift(
                donor,
                json!({
                    "pledgeId": pledge.to_string(),
                    "amount": { "amountMinor": 5_000 },
                    "checkNumber": check,
                    "receivedAt": received.to_rfc3339(),
                }),
            ),
        )
        .await;
    }

    let figures = fulfilment_of_only_pledge(&app, &token, donor).await;

    assert_eq!(figures["installmentsExpected"], 5);
    assert_eq!(figures["expectedSoFar"]["amountMinor"], 25_000);
    assert_eq!(figures["installmentsPaid"], 2);
    assert_eq!(figures["paidSoFar"]["amountMinor"], 10_000);
    assert_eq!(figures["missedInstallments"], 3);
    let next = starts_on
        .checked_add_months(chrono::Months::new(5))
        .unwrap();
    assert_eq!(figures["nextExpectedOn"], next.to_string());

    // Paused, it expects nothing more and names no next date.
    change(&app, &token, "pausePledge", pledge, None).await;
    let paused = fulfilment_of_only_pledge(&app, &token, donor).await;
    assert_eq!(paused["installmentsExpected"], 5);
    assert_eq!(paused["nextExpectedOn"], Value::Null);
}

async fn pledges_made_at_once_for_one_donor_leave_one_open_membership(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let ines = donor_named(&app, &token, "Ines Farah").await;
    let app = std::sync::Arc::new(app);
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            let token = token.clone();
            tokio::spawn(async move {
                envelope_pledge(&app, &token, ines, 4_200, "MONTHLY", None).await
            })
        })
        .collect();
    for attempt in attempts {
        attempt.await.unwrap();
    }
    let rows = history(&app, ines).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].left_at.is_none());
    assert_eq!(messages(&app, "tier_welcome").await.len(), 1);
}

async fn a_yearly_500_dollar_card_subscription_is_a_yearly_pledge_in_the_circle(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let mut yearly = subscription("sub_yearly", "yara@example.org", 50_000, "active");
    yearly["items"]["data"][0]["price"]["recurring"]["interval"] = json!("year");
    app.deliver(&event(
        "evt_yearly",
        "customer.subscription.created",
        yearly,
    ))
    .await;
    let pledge = pledge::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(pledge.frequency, entity::enums::PledgeFrequency::Yearly);
    assert!(in_circle(&app, pledge.donor_id).await);

    // A weekly subscription has no pledge frequency: it is recorded as unreadable and
    // changes nothing.
    let mut weekly = subscription("sub_weekly", "wes@example.org", 1_000, "active");
    weekly["items"]["data"][0]["price"]["recurring"]["interval"] = json!("week");
    let response = app
        .deliver(&event(
            "evt_weekly",
            "customer.subscription.created",
            weekly,
        ))
        .await;
    assert!(response.status().is_success());
    assert_eq!(pledge::Entity::find().all(&app.db).await.unwrap().len(), 1);
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

/// Sets a pledge's status and, for a past-due one, since when.
async fn pledge_state(
    app: &TestApp,
    id: i64,
    status: PledgeStatus,
    since: Option<chrono::DateTime<Utc>>,
) {
    let row = pledge::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut row: pledge::ActiveModel = row.into();
    row.status = Set(status);
    row.past_due_since = Set(since);
    row.update(&app.db).await.unwrap();
}

async fn the_club_totals_count_each_pledge_as_its_donor_s_tier_does(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let ana = donor_named(&app, &token, "Ana Ruiz").await;
    let ben = donor_named(&app, &token, "Ben Okafor").await;
    envelope_pledge(&app, &token, ana, 4_200, "MONTHLY", None).await;
    let quarterly = envelope_pledge(&app, &token, ana, 10_000, "QUARTERLY", None).await;
    let lapsed = envelope_pledge(&app, &token, ben, 60_000, "YEARLY", None).await;
    let three_left = envelope_pledge(&app, &token, ben, 1_000, "MONTHLY", Some(3)).await;
    let never_paid = envelope_pledge(&app, &token, ben, 7_000, "MONTHLY", None).await;
    let now = Utc::now();
    pledge_state(
        &app,
        quarterly,
        PledgeStatus::PastDue,
        Some(now - Duration::days(3)),
    )
    .await;
    pledge_state(
        &app,
        lapsed,
        PledgeStatus::PastDue,
        Some(now - Duration::days(45)),
    )
    .await;
    pledge_state(&app, never_paid, PledgeStatus::PastDue, None).await;
    pledge_state(&app, three_left, PledgeStatus::Active, None).await;

    let policy = ClubPolicy::default();
    let totals = club::club_totals(&app.db, entity::Currency::Usd, &policy)
        .await
        .unwrap();

    // The same figures pledge by pledge, by the rules a donor's tier follows.
    let today = now.date_naive();
    let (mut yearly, mut annual) = (0, 0);
    for pledge in pledge::Entity::find().all(&app.db).await.unwrap() {
        if club::pledge_counts(&pledge, &policy, now) {
            let per_year = 12 / api::domain::pledges::months_between_installments(pledge.frequency);
            yearly += pledge.installment_minor * i64::from(per_year);
            annual += club::annual_commitment(&pledge, today);
        }
    }
    assert_eq!(totals.monthly_recurring_minor, yearly / 12);
    assert_eq!(totals.annual_pledge_total_minor, annual);
    // $42, $70 and $10 a month and $100 a quarter; the yearly pledge past its grace is out,
    // and the three-installment pledge commits only what remains of it.
    assert_eq!(yearly, (4_200 + 7_000 + 1_000) * 12 + 10_000 * 4);
    assert!(annual < yearly && annual >= (4_200 + 7_000) * 12 + 10_000 * 4);
}

on_both_backends!(
    the_club_totals_count_each_pledge_as_its_donor_s_tier_does,
    a_42_dollar_monthly_pledge_joins_the_circle_and_41_does_not,
    two_25_dollar_monthly_pledges_together_qualify,
    a_six_month_100_dollar_pledge_counts_600_and_a_yearly_500_pledge_qualifies,
    a_card_pledge_moves_up_and_down_with_its_amount,
    a_past_due_pledge_keeps_its_tier_through_the_grace_period_then_leaves,
    a_cancelled_pledge_leaves_the_circle_and_a_new_pledge_re_enters,
    raising_a_threshold_moves_members_out_in_the_same_change,
    a_new_card_pledge_is_welcomed_once_to_the_club_and_once_to_the_circle,
    a_second_circle_welcome_comes_only_with_a_new_entry,
    a_failed_payment_asks_once_for_a_new_card_and_a_cancellation_offers_a_way_back,
    club_emails_speak_spanish_to_spanish_readers,
    club_emails_speak_english_by_default,
    club_emails_speak_french_and_arabic_and_link_to_a_page_in_that_language,
    staff_see_the_club_its_movements_and_its_recurring_income,
    staff_pause_resume_change_and_cancel_an_envelope_pledge_with_audit,
    a_card_pledge_changes_through_stripe_and_follows_its_webhooks,
    a_paused_subscription_pauses_its_pledge,
    the_circle_page_thanks_members_by_name_and_hides_the_anonymous,
    the_self_service_link_shows_the_donors_pledges_and_nothing_when_tampered_or_expired,
    a_pledge_with_missed_installments_shows_paid_expected_missed_and_next,
    pledges_made_at_once_for_one_donor_leave_one_open_membership,
    a_yearly_500_dollar_card_subscription_is_a_yearly_pledge_in_the_circle,
    a_donor_changes_pauses_resumes_and_cancels_an_envelope_pledge_from_the_link,
    a_self_service_link_cannot_touch_another_donors_pledge_or_outlive_its_expiry,
    a_donor_changes_a_card_pledge_through_stripe_and_updates_the_card_in_the_portal,
);
