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

mod donor_links;
mod emails;
mod pledge_changes;

pub use donor_links::{manage_link, post_form};
pub use emails::{messages, rendered, try_rendered};
pub use pledge_changes::tomas_card_pledge;

/// The key test servers sign self-service links with.
pub const CLUB_LINK_KEY: &str = "club-test-key-with-at-least-32-characters";

pub async fn club_app(backend: Backend) -> (TestApp, MockServer) {
    club_app_with(backend, &[]).await
}

/// `club_app` with `more` settings besides.
pub async fn club_app_with(backend: Backend, more: &[(&str, &str)]) -> (TestApp, MockServer) {
    let stripe = MockServer::start().await;
    tests::stripe::mount_fake_stripe(&stripe).await;
    let secrets = format!("{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}");
    let uri = stripe.uri();
    let mut settings = vec![
        ("STRIPE_SECRET_KEY", SECRET_KEY),
        ("STRIPE_API_BASE", uri.as_str()),
        ("STRIPE_WEBHOOK_SECRET", secrets.as_str()),
        ("PUBLIC_URL", "https://give.example.org"),
        ("DOWNLOAD_LINK_KEY", CLUB_LINK_KEY),
    ];
    settings.extend_from_slice(more);
    let app = spawn_app_with(backend, &settings).await;
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

pub(crate) fn subscription_event(
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
        json!({ "input": { "name": "Sustainers", "threshold": { "amountMinor": 24_000 } } }),
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
        "mutation($input: UpdateTierInput!) { updateTier(input: $input) { id } }",
        json!({ "input": { "id": "1", "threshold": { "amountMinor": 60_000 } } }),
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

const GIVING_CLUB: &str = "query($from: DateTime!, $to: DateTime!) { givingClub { members(first: 1) { totalCount edges { node { donor { displayName } tier { name } joinedAt annualPledgeTotal { amountMinor formatted } } } pageInfo { hasNextPage endCursor } } joinedBetween(from: $from, to: $to) { totalCount nodes { donor { displayName } } } leftBetween(from: $from, to: $to) { totalCount nodes { donor { displayName } leaveReason } } monthlyRecurringRevenue { amountMinor formatted } annualPledgeTotal { amountMinor } } }";

const CHANGE: &str = "mutation($input: %INPUT%!) { %ACTION%(input: $input) { requestedOfProcessor pledge { status installment { amountMinor } } } }";

const PLEDGE_FULFILMENT: &str = "query($id: ID!) { pledges(filter: { donorId: $id }) { edges { node { status fulfilment { paidSoFar { amountMinor } installmentsPaid expectedSoFar { amountMinor } installmentsExpected missedInstallments nextExpectedOn } } } } }";

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
    let cancelled = envelope_pledge(&app, &token, ana, 3_000, "MONTHLY", None).await;
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
    // An active pledge counts whatever an earlier lapse left in its past-due date; a
    // cancelled one does not, though it never lapsed.
    pledge_state(
        &app,
        three_left,
        PledgeStatus::Active,
        Some(now - Duration::days(45)),
    )
    .await;
    pledge_state(&app, cancelled, PledgeStatus::Cancelled, None).await;

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
    pledges_made_at_once_for_one_donor_leave_one_open_membership,
    a_yearly_500_dollar_card_subscription_is_a_yearly_pledge_in_the_circle,
);
