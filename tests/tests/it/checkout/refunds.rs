//! Refunds and disputes of one-off gifts, from staff or from Stripe, and what they do
//! to the receipt, in whatever order their events arrive.

use super::*;

async fn partial_and_full_refunds_follow_the_charge(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_refund", "ines@example.org", 10_000, true),
    ))
    .await;
    let gift_id = gifts(&app).await[0].id;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(|request: &Request| {
            let form = form_of(request);
            let amount: i64 = form["amount"].parse().unwrap();
            ResponseTemplate::new(200).set_body_json(refund("re_1", "ch_1", amount))
        })
        .expect(1)
        .mount(&stripe)
        .await;
    let token = app.token(entity::enums::StaffRole::Staff).await;
    let mutation = "mutation($id: ID!, $amount: MoneyInput) { refundGift(input: { id: $id, amount: $amount }) { gift { status } processorRefund { stripeRefundId amount { amountMinor } status } } }";
    let vars = json!({ "id": gift_id.to_string(), "amount": { "amountMinor": 3_000 } });
    let first = app.graphql(&token, mutation, vars.clone()).await;
    let refund = &first["data"]["refundGift"];
    assert_eq!(
        refund["processorRefund"]["amount"]["amountMinor"], 3_000,
        "{first}"
    );
    assert_eq!(
        refund["gift"]["status"], "SUCCEEDED",
        "unchanged until Stripe confirms"
    );
    let requests = stripe.received_requests().await.unwrap();
    let refund_request = requests
        .iter()
        .find(|r| r.url.path() == "/v1/refunds")
        .unwrap();
    assert!(refund_request.headers.get("Idempotency-Key").is_some());
    assert_eq!(form_of(refund_request)["payment_intent"], "pi_cs_refund");
    // Nothing changes until Stripe reports the refund.
    assert_eq!(gifts(&app).await[0].refunded_minor, 0);

    app.deliver(&event(
        "evt_partial",
        "charge.refunded",
        charge("ch_refund", "pi_cs_refund", 10_000, 3_000),
    ))
    .await;
    let gift = gifts(&app).await.remove(0);
    assert_eq!(gift.status, GiftStatus::PartiallyRefunded);
    assert_eq!(gift.refunded_minor, 3_000);
    assert_eq!(gift.stripe_charge_id.as_deref(), Some("ch_refund"));

    app.deliver(&event(
        "evt_full",
        "charge.refunded",
        charge("ch_refund", "pi_cs_refund", 10_000, 10_000),
    ))
    .await;
    // An older notice arriving late does not shrink the refunded total.
    app.deliver(&event(
        "evt_partial_late",
        "charge.refunded",
        charge("ch_refund", "pi_cs_refund", 10_000, 3_000),
    ))
    .await;
    let gift = gifts(&app).await.remove(0);
    assert_eq!(gift.status, GiftStatus::Refunded);
    assert_eq!(gift.refunded_minor, 10_000);
}

async fn refunding_more_than_remains_is_refused_without_calling_stripe(backend: Backend) {
    let (app, stripe) = app_with_fake_stripe(backend).await;
    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_over", "ines@example.org", 1_000, true),
    ))
    .await;
    let gift_id = gifts(&app).await[0].id;
    let token = app.token(entity::enums::StaffRole::Staff).await;
    let body = app
        .graphql(
            &token,
            "mutation($id: ID!) { refundGift(input: { id: $id, amount: { amountMinor: 1100 } }) { gift { id } } }",
            json!({ "id": gift_id.to_string() }),
        )
        .await;
    assert_eq!(tests::error_codes(&body), ["BAD_USER_INPUT"]);
    assert!(stripe.received_requests().await.unwrap().is_empty());
}

async fn a_dispute_marks_the_gift_disputed_and_a_won_dispute_restores_it(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_dispute", "noor@example.org", 20_000, true),
    ))
    .await;
    app.deliver(&event(
        "evt_dp_1",
        "charge.dispute.created",
        dispute("dp_1", "ch_dispute", "pi_cs_dispute", "needs_response"),
    ))
    .await;
    assert_eq!(gifts(&app).await[0].status, GiftStatus::Disputed);

    app.deliver(&event(
        "evt_dp_2",
        "charge.dispute.closed",
        dispute("dp_1", "ch_dispute", "pi_cs_dispute", "won"),
    ))
    .await;
    assert_eq!(gifts(&app).await[0].status, GiftStatus::Succeeded);
    assert_eq!(count_receipts(&app).await, 1);
}

async fn valid_receipts_of(app: &TestApp) -> Vec<entity::receipt::Model> {
    entity::receipt::Entity::find()
        .filter(entity::receipt::Column::Status.eq(entity::enums::ReceiptStatus::Issued))
        .all(&app.db)
        .await
        .unwrap()
}

async fn a_refund_from_stripe_corrects_the_receipt(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_receipt", "lena@example.org", 10_000, true),
    ))
    .await;
    let original = valid_receipts_of(&app).await.remove(0);
    assert_eq!(original.amount_minor, 10_000);

    app.deliver(&event(
        "evt_partial",
        "charge.refunded",
        charge("ch_receipt", "pi_cs_receipt", 10_000, 4_000),
    ))
    .await;
    let valid = valid_receipts_of(&app).await;
    assert_eq!(valid.len(), 1);
    assert_eq!(
        valid[0].amount_minor, 6_000,
        "the new receipt states the net gift"
    );
    assert_eq!(valid[0].replaces_receipt_id, Some(original.id));

    app.deliver(&event(
        "evt_full",
        "charge.refunded",
        charge("ch_receipt", "pi_cs_receipt", 10_000, 10_000),
    ))
    .await;
    assert!(
        valid_receipts_of(&app).await.is_empty(),
        "a refunded gift has no valid receipt"
    );
    assert_eq!(
        count_receipts(&app).await,
        2,
        "void receipts are kept, never deleted"
    );
}

async fn a_lost_dispute_voids_the_receipt(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_lost", "omar@example.org", 20_000, true),
    ))
    .await;
    app.deliver(&event(
        "evt_dp_1",
        "charge.dispute.created",
        dispute("dp_1", "ch_lost", "pi_cs_lost", "needs_response"),
    ))
    .await;
    assert_eq!(
        valid_receipts_of(&app).await.len(),
        1,
        "an open dispute changes no receipt"
    );
    app.deliver(&event(
        "evt_dp_2",
        "charge.dispute.closed",
        dispute("dp_1", "ch_lost", "pi_cs_lost", "lost"),
    ))
    .await;
    assert_eq!(gifts(&app).await[0].status, GiftStatus::Disputed);
    assert!(valid_receipts_of(&app).await.is_empty());
    let notices = entity::outbox::Entity::find()
        .filter(entity::outbox::Column::Kind.eq("receipt_voided"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(notices, 1, "the donor is told once");
}

async fn event_status(app: &TestApp, event_id: &str) -> StripeEventStatus {
    stripe_event::Entity::find()
        .filter(stripe_event::Column::EventId.eq(event_id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn a_refund_and_a_dispute_before_their_checkout_wait_and_then_apply(backend: Backend) {
    let (app, _stripe) = app_with_fake_stripe(backend).await;
    let refunded = charge("ch_early", "pi_cs_early", 10_000, 2_500);
    let disputed = dispute("dp_early", "ch_early", "pi_cs_early", "needs_response");
    for (id, kind, object) in [
        ("evt_refund", "charge.refunded", refunded),
        ("evt_dispute", "charge.dispute.created", disputed),
    ] {
        assert_eq!(app.deliver(&event(id, kind, object)).await.status(), 200);
        assert_eq!(event_status(&app, id).await, StripeEventStatus::Waiting);
    }
    assert!(gifts(&app).await.is_empty());

    app.deliver(&event(
        "evt_paid",
        "checkout.session.completed",
        payment_session("cs_early", "early@example.org", 10_000, true),
    ))
    .await;

    let gifts = gifts(&app).await;
    assert_eq!(gifts.len(), 1);
    assert_eq!(gifts[0].refunded_minor, 2_500);
    assert_eq!(gifts[0].status, GiftStatus::Disputed);
    for id in ["evt_refund", "evt_dispute", "evt_paid"] {
        assert_eq!(
            event_status(&app, id).await,
            StripeEventStatus::Applied,
            "{id}"
        );
    }
}

on_both_backends!(
    partial_and_full_refunds_follow_the_charge,
    refunding_more_than_remains_is_refused_without_calling_stripe,
    a_dispute_marks_the_gift_disputed_and_a_won_dispute_restores_it,
    a_refund_from_stripe_corrects_the_receipt,
    a_lost_dispute_voids_the_receipt,
    a_refund_and_a_dispute_before_their_checkout_wait_and_then_apply,
);
