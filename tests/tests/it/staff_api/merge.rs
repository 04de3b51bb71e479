//! Duplicate donors: the pairs staff are shown with their reasons, and merging two
//! records of one donor (dry run first), after which payments from either email land
//! on the kept donor and the tier follows the combined pledges.

use entity::enums::ReceiptStatus;
use entity::{donor, gift, pledge, receipt};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tests::on_both_backends;
use tests::stripe::{event, payment_session, subscription};
use tests::support::{Backend, TestApp, error_codes};

use super::*;
use crate::club::{club_app, envelope_pledge, history};

const DUPLICATES: &str = "{ possibleDuplicates(first: 50) { totalCount edges { node { first { id displayName } second { id displayName } reasons } } } }";

const MERGE: &str = "mutation($input: MergeDonorsInput!) { mergeDonors(input: $input) { dryRun donor { id displayName email currentTier { name } } moved { gifts pledges receipts tierMemberships checkoutChoices appealSends outboxMessages auditEntries aliases } emails stripeCustomerMoved tierChanged } }";

fn pair_reasons(data: &Value, a: i64, b: i64) -> Option<Vec<String>> {
    let (low, high) = (a.min(b).to_string(), a.max(b).to_string());
    data["possibleDuplicates"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| &edge["node"])
        .find(|node| node["first"]["id"] == json!(low) && node["second"]["id"] == json!(high))
        .map(|node| {
            node["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect()
        })
}

async fn staff_see_possible_duplicates_with_their_reasons(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let staff = staff_token(&app).await;
    let with_zip = |name: &str, email: &str, phone: Option<&str>, zip: Option<&str>| json!({ "displayName": name, "email": email, "phone": phone, "address": { "postalCode": zip } });
    let ana = create_donor(
        &app,
        &staff,
        with_zip(
            "Ana María López",
            "ana.lopez@gmail.com",
            Some("+1 (415) 555-0100"),
            Some("94110"),
        ),
    )
    .await;
    let ana_again = create_donor(
        &app,
        &staff,
        with_zip(
            "ANA MARIA LOPEZ",
            "analopez+gala@gmail.com",
            None,
            Some("94110-2231"),
        ),
    )
    .await;
    let ana_work = create_donor(
        &app,
        &staff,
        with_zip(
            "A. López",
            "ana.lopez@clinic.org",
            Some("415.555.0100"),
            None,
        ),
    )
    .await;
    let ben = create_donor(
        &app,
        &staff,
        with_zip("Ben Ortiz", "ben@example.org", None, Some("94110")),
    )
    .await;

    let data = ok(&app, &staff, DUPLICATES, json!({})).await;
    assert_eq!(
        pair_reasons(&data, ana, ana_again),
        Some(vec![
            "SAME_NAME_AND_POSTAL_CODE".to_owned(),
            "SAME_MAILBOX".to_owned()
        ])
    );
    assert_eq!(
        pair_reasons(&data, ana, ana_work),
        Some(vec![
            "SAME_PHONE".to_owned(),
            "SAME_EMAIL_LOCAL_PART".to_owned()
        ])
    );
    assert_eq!(
        pair_reasons(&data, ana_again, ana_work),
        Some(vec!["SAME_EMAIL_LOCAL_PART".to_owned()])
    );
    assert_eq!(pair_reasons(&data, ana, ben), None);
    assert_eq!(data["possibleDuplicates"]["totalCount"], json!(3));

    let viewer = app.token(entity::enums::StaffRole::Viewer).await;
    let body = app.graphql(&viewer, DUPLICATES, json!({})).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
}

async fn donors_count(app: &TestApp) -> u64 {
    donor::Entity::find().count(&app.db).await.unwrap()
}

/// Two records of Rosa: a $25 monthly envelope pledge under her work email, and a $20
/// monthly card pledge with a receipted check under her Gmail address. Neither reaches
/// the Circle ($500 a year) alone; together ($540) they do.
async fn merging_moves_a_card_pledge_and_a_receipt_and_the_combined_pledges_reach_the_circle(
    backend: Backend,
) {
    let (app, _stripe) = club_app(backend).await;
    let staff = staff_token(&app).await;
    let kept = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Rosa Vega", "email": "rosa.vega@clinic.org" }),
    )
    .await;
    envelope_pledge(&app, &staff, kept, 2_500, "MONTHLY", None).await;
    app.deliver(&event(
        "evt_rosa_sub",
        "customer.subscription.created",
        subscription("sub_rosa", "rosa.vega@gmail.com", 2_000, "active"),
    ))
    .await;
    let card_pledge = pledge::Entity::find()
        .filter(pledge::Column::StripeSubscriptionId.eq("sub_rosa"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let merged = card_pledge.donor_id;
    assert_ne!(merged, kept);
    let check = record_gift(&app, &staff, check_gift(merged, json!({}))).await;
    let check_id: i64 = check["gift"]["id"].as_str().unwrap().parse().unwrap();
    let issued = receipt::Entity::find()
        .filter(receipt::Column::GiftId.eq(check_id))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the check was receipted");
    assert!(history(&app, kept).await.is_empty());
    assert!(history(&app, merged).await.is_empty());

    let duplicates = ok(&app, &staff, DUPLICATES, json!({})).await;
    assert_eq!(
        pair_reasons(&duplicates, kept, merged),
        Some(vec!["SAME_EMAIL_LOCAL_PART".to_owned()])
    );

    // The dry run says what would move and changes nothing.
    let input = json!({ "keep": kept.to_string(), "merge": merged.to_string(), "dryRun": true });
    let dry = ok(&app, &staff, MERGE, json!({ "input": input })).await["mergeDonors"].clone();
    assert_eq!(dry["dryRun"], json!(true));
    assert_eq!(dry["moved"]["pledges"], json!(1));
    assert_eq!(dry["moved"]["gifts"], json!(1));
    assert_eq!(dry["moved"]["receipts"], json!(1));
    assert_eq!(dry["moved"]["tierMemberships"], json!(0));
    assert_eq!(
        dry["emails"],
        json!(["rosa.vega@clinic.org", "rosa.vega@gmail.com"])
    );
    assert_eq!(dry["stripeCustomerMoved"], json!(true));
    assert_eq!(dry["donor"]["currentTier"], Value::Null);
    assert_eq!(donors_count(&app).await, 2);
    let unmoved = pledge::Entity::find_by_id(card_pledge.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unmoved.donor_id, merged);
    assert!(audit_entries(&app, "mergeDonors").await.is_empty());

    let input = json!({ "keep": kept.to_string(), "merge": merged.to_string() });
    let done = ok(&app, &staff, MERGE, json!({ "input": input })).await["mergeDonors"].clone();
    assert_eq!(done["dryRun"], json!(false));
    assert_eq!(done["moved"], dry["moved"]);
    assert_eq!(done["tierChanged"], json!(true));
    assert_eq!(
        done["donor"]["currentTier"]["name"],
        json!("Circle of Friends")
    );

    assert_eq!(donors_count(&app).await, 1);
    let moved_pledge = pledge::Entity::find_by_id(card_pledge.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved_pledge.donor_id, kept);
    let moved_receipt = receipt::Entity::find_by_id(issued.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved_receipt.donor_id, kept);
    assert_eq!(moved_receipt.status, ReceiptStatus::Issued);
    assert_eq!(moved_receipt.number, issued.number);
    assert_eq!(moved_receipt.donor_name, issued.donor_name);
    assert_eq!(moved_receipt.content_text, issued.content_text);
    let tiers = history(&app, kept).await;
    assert_eq!(tiers.len(), 1);
    assert!(tiers[0].left_at.is_none());
    assert_eq!(tiers[0].annual_pledge_total_minor, 54_000);
    let kept_row = donor::Entity::find_by_id(kept)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept_row.email.as_deref(), Some("rosa.vega@clinic.org"));
    assert_eq!(kept_row.stripe_customer_id.as_deref(), Some("cus_monthly"));
    let entry = &audit_entries(&app, "mergeDonors").await[0];
    assert_eq!(entry.entity_id.as_deref(), Some(kept.to_string().as_str()));
    assert_eq!(entry.changes["mergedDonorId"], json!(merged));

    // A later checkout with the merged record's email, however written, is Rosa's.
    app.deliver(&event(
        "evt_rosa_gift",
        "checkout.session.completed",
        payment_session("cs_rosa", "Rosa.Vega@Gmail.com", 5_000, true),
    ))
    .await;
    assert_eq!(donors_count(&app).await, 1);
    let later = gift::Entity::find()
        .filter(gift::Column::StripeCheckoutSessionId.eq("cs_rosa"))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the checkout was recorded");
    assert_eq!(later.donor_id, kept);

    // Nobody can take the merged email for a new donor record.
    let body = app
        .graphql(
            &staff,
            CREATE_DONOR,
            json!({ "input": { "displayName": "Someone", "email": "rosa.vega@gmail.com" } }),
        )
        .await;
    assert_eq!(error_codes(&body), ["CONFLICT"]);

    // Staff searching the merged email find Rosa; a viewer, who sees emails masked,
    // searches names only and does not.
    let search = "query($s: String!) { donors(filter: { search: $s }) { nodes { id } } }";
    let found = ok(&app, &staff, search, json!({ "s": "Vega@GMAIL" })).await;
    assert_eq!(
        found["donors"]["nodes"],
        json!([{ "id": kept.to_string() }])
    );
    let viewer = app.token(entity::enums::StaffRole::Viewer).await;
    let masked = ok(&app, &viewer, search, json!({ "s": "vega@gmail" })).await;
    assert_eq!(masked["donors"]["nodes"], json!([]));
}

/// The reverse: a donor in the Circle alone is merged into one who is not; the kept
/// donor enters the Circle and the merged record's membership ends, kept as history.
async fn a_merged_circle_membership_ends_and_the_kept_donor_enters(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let staff = staff_token(&app).await;
    let kept = create_donor(&app, &staff, json!({ "displayName": "Tomás Ruiz" })).await;
    let merged = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Tomas Ruiz", "email": "tomas@example.org", "notes": "Prefers calls" }),
    )
    .await;
    envelope_pledge(&app, &staff, merged, 4_200, "MONTHLY", None).await;
    assert!(history(&app, merged).await[0].left_at.is_none());

    let input = json!({ "keep": kept.to_string(), "merge": merged.to_string() });
    let done = ok(&app, &staff, MERGE, json!({ "input": input })).await["mergeDonors"].clone();
    assert_eq!(done["moved"]["tierMemberships"], json!(1));
    assert_eq!(done["donor"]["email"], json!("tomas@example.org"));
    let tiers = history(&app, kept).await;
    assert_eq!(tiers.len(), 2, "{tiers:?}");
    assert!(tiers[0].left_at.is_some());
    assert!(tiers[1].left_at.is_none());
    assert_eq!(tiers[1].annual_pledge_total_minor, 50_400);
    let kept_row = donor::Entity::find_by_id(kept)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept_row.notes.as_deref(), Some("Prefers calls"));

    let same = json!({ "keep": kept.to_string(), "merge": kept.to_string() });
    let (code, _) = fails(&app, &staff, MERGE, json!({ "input": same })).await;
    assert_eq!(code, "BAD_USER_INPUT");
    let gone = json!({ "keep": kept.to_string(), "merge": merged.to_string() });
    let (code, _) = fails(&app, &staff, MERGE, json!({ "input": gone })).await;
    assert_eq!(code, "NOT_FOUND");
}

on_both_backends!(
    staff_see_possible_duplicates_with_their_reasons,
    merging_moves_a_card_pledge_and_a_receipt_and_the_combined_pledges_reach_the_circle,
    a_merged_circle_membership_ends_and_the_kept_donor_enters,
);
