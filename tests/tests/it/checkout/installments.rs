//! Monthly gifts: one installment per invoice, invoices and installments that arrive
//! before their checkout, and refunds and disputes of installments.

use super::*;

/// A monthly gift's checkout and its subscription, as Stripe delivers them.
async fn monthly_signup(
    app: &TestApp,
    session: &str,
    subscription_id: &str,
    email: &str,
    amount: i64,
) {
    app.deliver(&event(
        "evt_session",
        "checkout.session.completed",
        subscription_session(session, subscription_id, email, amount),
    ))
    .await;
    app.deliver(&event(
        "evt_sub",
        "customer.subscription.created",
        subscription(subscription_id, email, amount, "active"),
    ))
    .await;
}

async fn a_monthly_gift_records_one_installment_per_invoice(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let email = "rosa@example.org";
    monthly_signup(&app, "cs_monthly", "sub_rosa", email, 4_200).await;
    for n in 1..=3 {
        let mut invoice = if n == 1 {
            first_invoice("in_1", "sub_rosa", email, 4_200)
        } else {
            paid_invoice(&format!("in_{n}"), "sub_rosa", email, 4_200)
        };
        invoice["parent"]["subscription_details"]["metadata"] = json!({
            "tribute_kind": "in_memory_of", "tribute_name": "Abuela Rosa"
        });
        let response = app
            .deliver(&event(&format!("evt_inv_{n}"), "invoice.paid", invoice))
            .await;
        assert_eq!(response.status(), 200);
    }

    let pledges = pledge::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(pledges.len(), 1);
    assert_eq!(pledges[0].installment_minor, 4_200);
    assert_eq!(pledges[0].status, PledgeStatus::Active);
    let gifts = gifts(&app).await;
    assert_eq!(gifts.len(), 3);
    assert!(gifts.iter().all(|g| g.pledge_id == Some(pledges[0].id)));
    let tributes: Vec<_> = gifts.iter().map(|g| g.tribute_name.as_deref()).collect();
    assert_eq!(tributes, [Some("Abuela Rosa"), None, None]);
    // The first installment gets a receipt; the year-end statement acknowledges the rest.
    assert_eq!(count_receipts(&app).await, 1);
    assert_eq!(count_donors(&app).await, 1);

    app.deliver(&event(
        "evt_fail",
        "invoice.payment_failed",
        paid_invoice("in_4", "sub_rosa", email, 4_200),
    ))
    .await;
    let pledge = pledge::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(pledge.status, PledgeStatus::PastDue);

    app.deliver(&event(
        "evt_deleted",
        "customer.subscription.deleted",
        subscription("sub_rosa", email, 4_200, "canceled"),
    ))
    .await;
    let pledge = pledge::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(pledge.status, PledgeStatus::Cancelled);
    assert!(pledge.cancelled_at.is_some());
}

async fn an_invoice_before_its_checkout_still_makes_one_donor_and_one_pledge(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    let email = "omar@example.org";
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_omar"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(subscription("sub_omar", email, 2_500, "active")),
        )
        .expect(1)
        .mount(&stripe)
        .await;

    let response = app
        .deliver(&event(
            "evt_inv",
            "invoice.paid",
            first_invoice("in_first", "sub_omar", email, 2_500),
        ))
        .await;
    assert_eq!(response.status(), 200);
    monthly_signup(&app, "cs_omar", "sub_omar", email, 2_500).await;

    assert_eq!(count_donors(&app).await, 1);
    assert_eq!(pledge::Entity::find().count(&app.db).await.unwrap(), 1);
    let gifts = gifts(&app).await;
    assert_eq!(gifts.len(), 1);
    assert!(gifts[0].pledge_id.is_some());
    assert_eq!(gifts[0].status, GiftStatus::Succeeded);
}

async fn a_subscription_with_no_known_donor_is_kept_with_its_reason_and_changes_nothing(
    backend: Backend,
) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let mut stranger = subscription("sub_dashboard", "x@example.org", 1_000, "active");
    stranger["metadata"] = json!({});
    stranger["customer"] = json!("cus_unknown");

    let response = app
        .deliver(&event(
            "evt_stranger",
            "customer.subscription.created",
            stranger,
        ))
        .await;

    assert_eq!(response.status(), 200);
    let recorded = stripe_event::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.status, StripeEventStatus::Failed);
    assert!(
        recorded
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("email: ")),
        "{recorded:?}"
    );
    assert_eq!(count_donors(&app).await, 0);
    assert_eq!(pledge::Entity::find().count(&app.db).await.unwrap(), 0);
}

/// What Stripe holds for a monthly gift made on the donation page: the checkout session
/// (with the donor's email and the page's metadata), its subscription (whose metadata
/// names no donor), and the customer. Returns the session.
fn monthly_gift_in_stripe(
    objects: &StripeObjects,
    session_id: &str,
    subscription_id: &str,
    email: &str,
    amount: i64,
) -> serde_json::Value {
    let customer_id = format!("cus_{subscription_id}");
    let mut session = subscription_session(session_id, subscription_id, email, amount);
    session["customer"] = json!(customer_id);
    session["metadata"]["donor_name"] = json!("Amina Diallo");
    session["metadata"]["language"] = json!("fr");
    let mut stripe_subscription = subscription(subscription_id, email, amount, "active");
    stripe_subscription["customer"] = json!(customer_id);
    stripe_subscription["metadata"] = json!({ "fund": "GENERAL" });
    objects.put(session.clone());
    objects.put(stripe_subscription);
    objects.put(customer(&customer_id, email, "A. Diallo"));
    session
}

async fn a_first_installment_before_its_checkout_becomes_a_gift_with_its_receipt(backend: Backend) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    let email = "amina@example.org";
    let session = monthly_gift_in_stripe(&objects, "cs_amina", "sub_amina", email, 4_200);
    let mut stripe_subscription = subscription("sub_amina", email, 4_200, "active");
    stripe_subscription["customer"] = json!("cus_sub_amina");
    stripe_subscription["metadata"] = json!({ "fund": "GENERAL" });
    // Stripe's invoice often lacks the email; it never carries the payment intent.
    let invoice = first_invoice("in_amina_1", "sub_amina", "", 4_200);

    let response = app
        .deliver(&event("evt_inv", "invoice.paid", invoice.clone()))
        .await;
    assert_eq!(response.status(), 200);
    for (id, kind, object) in [
        ("evt_session", "checkout.session.completed", session),
        (
            "evt_sub",
            "customer.subscription.created",
            stripe_subscription,
        ),
        ("evt_inv", "invoice.paid", invoice),
    ] {
        assert_eq!(app.deliver(&event(id, kind, object)).await.status(), 200);
    }

    let gifts = gifts(&app).await;
    assert_eq!(gifts.len(), 1, "{gifts:?}");
    assert_eq!(gifts[0].status, GiftStatus::Succeeded);
    assert_eq!(gifts[0].amount_minor, 4_200);
    assert_eq!(
        gifts[0].stripe_payment_intent_id.as_deref(),
        Some(invoice_payment_intent("in_amina_1").as_str())
    );
    assert_eq!(count_receipts(&app).await, 1);
    assert_eq!(count_donors(&app).await, 1);
    let donor = donor::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(donor.email.as_deref(), Some(email));
    assert_eq!(donor.display_name, "Amina Diallo", "the checkout's name");
    assert_eq!(donor.language, entity::enums::Language::French);
    let pledges = pledge::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(pledges.len(), 1);
    assert_eq!(gifts[0].pledge_id, Some(pledges[0].id));
}

/// A monthly gift with two paid installments, delivered in order.
async fn two_installments(app: &TestApp, objects: &StripeObjects, email: &str) -> Vec<gift::Model> {
    let session = monthly_gift_in_stripe(objects, "cs_two", "sub_two", email, 5_000);
    app.deliver(&event("evt_session", "checkout.session.completed", session))
        .await;
    for n in 1..=2 {
        let invoice = if n == 1 {
            first_invoice("in_two_1", "sub_two", email, 5_000)
        } else {
            paid_invoice("in_two_2", "sub_two", email, 5_000)
        };
        let response = app
            .deliver(&event(&format!("evt_inv_{n}"), "invoice.paid", invoice))
            .await;
        assert_eq!(response.status(), 200);
    }
    let gifts = gifts(app).await;
    assert_eq!(gifts.len(), 2);
    gifts
}

async fn a_refund_and_a_dispute_of_installments_reach_their_gifts(backend: Backend) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    two_installments(&app, &objects, "bea@example.org").await;

    // The pinned version's charge names its payment intent, not its invoice.
    let refunded = charge(
        "ch_two_1",
        &invoice_payment_intent("in_two_1"),
        5_000,
        5_000,
    );
    let response = app
        .deliver(&event("evt_refund", "charge.refunded", refunded))
        .await;
    assert_eq!(response.status(), 200);
    let disputed = dispute(
        "dp_two_2",
        "ch_two_2",
        &invoice_payment_intent("in_two_2"),
        "needs_response",
    );
    let response = app
        .deliver(&event("evt_dispute", "charge.dispute.created", disputed))
        .await;
    assert_eq!(response.status(), 200);

    let gifts = gifts(&app).await;
    assert_eq!(gifts[0].status, GiftStatus::Refunded);
    assert_eq!(gifts[0].refunded_minor, 5_000);
    assert_eq!(gifts[0].stripe_charge_id.as_deref(), Some("ch_two_1"));
    assert_eq!(gifts[1].status, GiftStatus::Disputed);
}

async fn staff_refund_an_installment_gift_through_stripe(backend: Backend) {
    let (app, stripe, objects) = app_with_stripe_objects(backend).await;
    let gifts = two_installments(&app, &objects, "cleo@example.org").await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(|request: &Request| {
            let amount: i64 = form_of(request)["amount"].parse().unwrap();
            ResponseTemplate::new(200).set_body_json(refund("re_inst", "ch_inst", amount))
        })
        .expect(1)
        .mount(&stripe)
        .await;
    let token = app.token(entity::enums::StaffRole::Staff).await;

    let body = app
        .graphql(
            &token,
            "mutation($id: ID!) { refundGift(input: { id: $id }) { processorRefund { amount { amountMinor } } } }",
            json!({ "id": gifts[1].id.to_string() }),
        )
        .await;

    assert_eq!(
        body["data"]["refundGift"]["processorRefund"]["amount"]["amountMinor"], 5_000,
        "{body}"
    );
    let requests = stripe.received_requests().await.unwrap();
    let sent = requests
        .iter()
        .find(|r| r.url.path() == "/v1/refunds")
        .unwrap();
    assert_eq!(
        form_of(sent)["payment_intent"],
        invoice_payment_intent("in_two_2")
    );
}

async fn an_installment_stripe_cannot_complete_is_refused_so_stripe_sends_it_again(
    backend: Backend,
) {
    let (app, _stripe, objects) = app_with_stripe_objects(backend).await;
    monthly_gift_in_stripe(&objects, "cs_down", "sub_down", "dan@example.org", 4_200);
    let delivery = event(
        "evt_inv_down",
        "invoice.paid",
        first_invoice("in_down", "sub_down", "", 4_200),
    );
    objects.set_unreachable(true);

    let response = app.deliver(&delivery).await;

    assert!(response.status().is_server_error(), "{}", response.status());
    assert!(gifts(&app).await.is_empty());
    assert_eq!(count_events(&app).await, 0);
    objects.set_unreachable(false);
    assert_eq!(app.deliver(&delivery).await.status(), 200);
    assert_eq!(gifts(&app).await.len(), 1);
}

async fn a_new_subscription_s_events_at_once_make_one_pledge_and_one_welcome(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let email = "omar@example.org";
    let mut deliveries = vec![event(
        "evt_omar_session",
        "checkout.session.completed",
        subscription_session("cs_omar", "sub_omar", email, 4_200),
    )];
    deliveries.extend((0..5).map(|i| {
        event(
            &format!("evt_omar_sub_{i}"),
            "customer.subscription.created",
            subscription("sub_omar", email, 4_200, "active"),
        )
    }));
    let responses = futures_util::future::join_all(deliveries.iter().map(|e| app.deliver(e))).await;
    assert!(responses.iter().all(|r| r.status() == 200));

    let pledges = pledge::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(pledges.len(), 1);
    assert_eq!(pledges[0].status, PledgeStatus::Active);
    assert_eq!(count_donors(&app).await, 1);
    let welcomes = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("club_welcome"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(welcomes, 1);
}

on_both_backends!(
    a_new_subscription_s_events_at_once_make_one_pledge_and_one_welcome,
    a_monthly_gift_records_one_installment_per_invoice,
    an_invoice_before_its_checkout_still_makes_one_donor_and_one_pledge,
    a_subscription_with_no_known_donor_is_kept_with_its_reason_and_changes_nothing,
    an_installment_stripe_cannot_complete_is_refused_so_stripe_sends_it_again,
    a_first_installment_before_its_checkout_becomes_a_gift_with_its_receipt,
    a_refund_and_a_dispute_of_installments_reach_their_gifts,
    staff_refund_an_installment_gift_through_stripe,
);
