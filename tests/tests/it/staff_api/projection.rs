//! Lists read only the columns their nodes' fields need (`api::graphql::projection`).
//! Driven by the schema's introspection: every field of `Gift` and of `Donor` is asked
//! alone through a list that reads its rows in part (a page of gifts, each gift's donor,
//! a donor's gift history) and through a query that reads the whole row (`gift(id)`,
//! `donor(id)`, whose history fields a gift's donor answers from whole rows), over records
//! whose every column holds a value of its own, and the answers must be the same. A
//! field listed with too few columns answers a placeholder and fails here; a field
//! added later is walked without any change here. The giving club's lists of
//! memberships are checked the same way against a donor's tier history, which reads
//! its memberships whole.

use chrono::{Duration, Utc};
use entity::enums::{DonorKind, GiftStatus, Language, PaymentMethod, StaffRole, TributeKind};
use entity::{donor, gift, tier_membership};
use sea_orm::{ActiveModelTrait, ActiveValue, IntoActiveModel};
use serde_json::{Value, json};
use tests::on_both_backends;
use tests::support::{Backend, TestApp, spawn_app};

use super::*;

const FIELDS: &str = "query($name: String!) { __type(name: $name) { fields { name
    args { name defaultValue type { kind } }
    type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }";

/// The named type under a field's list and non-null wrappers, with its kind.
fn named(ty: &Value) -> (String, String) {
    match ty["ofType"].is_null() {
        true => (
            ty["kind"].as_str().unwrap_or_default().to_owned(),
            ty["name"].as_str().unwrap_or_default().to_owned(),
        ),
        false => named(&ty["ofType"]),
    }
}

/// A type's fields as introspection lists them.
async fn fields_of(app: &TestApp, token: &str, name: &str) -> Vec<Value> {
    let data = ok(app, token, FIELDS, json!({ "name": name })).await;
    data["__type"]["fields"].as_array().unwrap().clone()
}

/// Whether a field can be asked without arguments.
fn askable(field: &Value) -> bool {
    field["args"]
        .as_array()
        .unwrap()
        .iter()
        .all(|arg| arg["type"]["kind"] != "NON_NULL" || !arg["defaultValue"].is_null())
}

/// Each askable field of `name` with a selection that asks it: a scalar as itself, an
/// object with every askable scalar field of its own.
async fn selections(app: &TestApp, token: &str, name: &str) -> Vec<(String, String)> {
    let mut selections = Vec::new();
    for field in fields_of(app, token, name).await {
        if !askable(&field) {
            continue;
        }
        let field_name = field["name"].as_str().unwrap().to_owned();
        let (kind, type_name) = named(&field["type"]);
        let selection = if kind == "OBJECT" {
            let mut inner = vec!["__typename".to_owned()];
            for sub in fields_of(app, token, &type_name).await {
                let (sub_kind, _) = named(&sub["type"]);
                if askable(&sub) && (sub_kind == "SCALAR" || sub_kind == "ENUM") {
                    inner.push(sub["name"].as_str().unwrap().to_owned());
                }
            }
            format!("{field_name} {{ {} }}", inner.join(" "))
        } else {
            field_name.clone()
        };
        selections.push((field_name, selection));
    }
    selections
}

fn day(days: i64) -> chrono::DateTime<Utc> {
    chrono::DateTime::UNIX_EPOCH + Duration::days(20_000 + days)
}

/// A donor whose every column holds a value of its own, `n` telling donors apart.
async fn full_donor(app: &TestApp, n: i64) -> i64 {
    let mut donor = donor::Model {
        id: 0,
        kind: DonorKind::Organization,
        display_name: format!("Weingart Foundation {n}"),
        first_name: Some(format!("First {n}")),
        last_name: Some(format!("Last {n}")),
        email: Some(format!("grants{n}@weingart.example.org")),
        phone: Some(format!("+1 213 555 01{n:02}")),
        address_line1: Some(format!("{n} Grand Ave")),
        address_line2: Some(format!("Suite {n}")),
        city: Some("Los Angeles".into()),
        region: Some("CA".into()),
        postal_code: Some("90017".into()),
        country: Some("US".into()),
        language: Language::Arabic,
        email_consent: true,
        anonymous: true,
        search_text: format!("weingart foundation {n}"),
        stripe_customer_id: Some(format!("cus_{n}")),
        appeals_unsubscribed_at: Some(day(1)),
        email_suppressed_at: Some(day(2)),
        email_suppressed_reason: Some("bounced".into()),
        notes: Some(format!("Donor notes {n}")),
        link_version: 7,
        external_id: Some(format!("ext-d{n}")),
        created_at: day(3 + n),
        updated_at: day(4 + n),
    }
    .into_active_model();
    donor.id = ActiveValue::NotSet;
    donor.insert(&app.db).await.unwrap().id
}

/// A gift whose every column but its pledge holds a value of its own.
async fn full_gift(app: &TestApp, donor_id: i64, campaign: i64, appeal: i64, n: i64) {
    let mut gift = gift::Model {
        id: 0,
        donor_id,
        amount_minor: 2_550 + n,
        currency: "USD".into(),
        refunded_minor: 1_000 + n,
        method: PaymentMethod::Check,
        status: GiftStatus::PartiallyRefunded,
        fund_id: 1,
        campaign_id: Some(campaign),
        appeal_id: Some(appeal),
        pledge_id: None,
        received_at: day(10 + n),
        check_number: Some(format!("10{n}")),
        tribute_kind: Some(TributeKind::InMemoryOf),
        tribute_name: Some(format!("Rosa {n}")),
        tribute_notify_name: Some(format!("Ana {n}")),
        tribute_notify_email: Some(format!("ana{n}@example.org")),
        tribute_notify_address: Some(format!("{n} Main St")),
        tribute_show_amount: true,
        benefits_minor: 500 + n,
        benefits_description: Some(format!("Dinner {n}")),
        anonymous: true,
        stripe_payment_intent_id: Some(format!("pi_{n}")),
        stripe_invoice_id: Some(format!("in_{n}")),
        stripe_checkout_session_id: Some(format!("cs_{n}")),
        stripe_charge_id: Some(format!("ch_{n}")),
        idempotency_key: Some(format!("key-{n}")),
        notes: Some(format!("Gift notes {n}")),
        processor_fee_minor: Some(105 + n),
        refunds_as_of: Some(day(11 + n)),
        external_id: Some(format!("ext-g{n}")),
        created_at: day(12 + n),
        updated_at: day(13 + n),
    }
    .into_active_model();
    gift.id = ActiveValue::NotSet;
    gift.insert(&app.db).await.unwrap();
}

async fn a_list_read_in_part_answers_every_field_as_the_whole_row_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token(StaffRole::Admin).await;
    let (campaign, appeal) = scomm_appeal(&app).await;
    let first = full_donor(&app, 1).await;
    let second = full_donor(&app, 2).await;
    for (n, donor) in [(1, first), (2, second), (3, first)] {
        full_gift(&app, donor, campaign, appeal, n).await;
    }
    // A gift with every optional column empty.
    record_gift(&app, &token, check_gift(second, json!({}))).await;

    let gift_fields = selections(&app, &token, "Gift").await;
    let donor_fields = selections(&app, &token, "Donor").await;
    for (type_name, walked, table) in [
        (
            "Gift",
            &gift_fields,
            &api::graphql::projection::GIFT as &dyn Lists,
        ),
        ("Donor", &donor_fields, &api::graphql::projection::DONOR),
    ] {
        let listed = walked.iter().filter(|(name, _)| table.lists(name)).count();
        assert_eq!(
            listed,
            table.size(),
            "every field the table lists for {type_name} is one of its fields"
        );
    }

    for (name, selection) in &gift_fields {
        let page = ok(
            &app,
            &token,
            &format!("{{ gifts(first: 10) {{ edges {{ node {{ id {selection} }} }} }} }}"),
            json!({}),
        )
        .await;
        let nodes = page["gifts"]["edges"].as_array().unwrap();
        assert_eq!(nodes.len(), 4);
        for edge in nodes {
            let node = &edge["node"];
            let whole = ok(
                &app,
                &token,
                &format!("query($id: ID!) {{ gift(id: $id) {{ id {selection} }} }}"),
                json!({ "id": node["id"] }),
            )
            .await;
            assert_eq!(node, &whole["gift"], "Gift.{name}");
        }
    }

    // A donor's gift history read in part: every field of `Gift` through each field of
    // `Donor` that shows gifts, asked alone, against the gift read whole.
    for (name, selection) in &gift_fields {
        let shown = format!("id {selection}");
        let mut compared = 0;
        for (through, asked) in [
            (
                "edges",
                format!("gifts(first: 10) {{ edges {{ node {{ {shown} }} }} }}"),
            ),
            (
                "nodes",
                format!("gifts(first: 10) {{ nodes {{ {shown} }} }}"),
            ),
            (
                "recentGifts",
                format!("recentGifts(count: 10) {{ {shown} }}"),
            ),
            ("firstGift", format!("firstGift {{ {shown} }}")),
            ("lastGift", format!("lastGift {{ {shown} }}")),
            ("largestGift", format!("largestGift {{ {shown} }}")),
        ] {
            for donor in [first, second] {
                let data = ok(
                    &app,
                    &token,
                    &format!("query($id: ID!) {{ donor(id: $id) {{ {asked} }} }}"),
                    json!({ "id": donor.to_string() }),
                )
                .await;
                let history = &data["donor"];
                let gifts: Vec<&Value> = match through {
                    "edges" => history["gifts"]["edges"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|edge| &edge["node"])
                        .collect(),
                    "nodes" => history["gifts"]["nodes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .collect(),
                    "recentGifts" => history[through].as_array().unwrap().iter().collect(),
                    _ => vec![&history[through]],
                };
                for gift in gifts {
                    let whole = ok(
                        &app,
                        &token,
                        &format!("query($id: ID!) {{ gift(id: $id) {{ {shown} }} }}"),
                        json!({ "id": gift["id"] }),
                    )
                    .await;
                    assert_eq!(gift, &whole["gift"], "Gift.{name} through Donor.{through}");
                    compared += 1;
                }
            }
        }
        // Each donor's two gifts through the three lists, and its one first, last and
        // largest gift.
        assert_eq!(
            compared,
            2 * (3 * 2 + 3),
            "Gift.{name}: every gift compared"
        );
    }

    for (name, selection) in &donor_fields {
        let page = ok(
            &app,
            &token,
            &format!(
                "{{ gifts(first: 10) {{ edges {{ node {{ donor {{ id {selection} }} }} }} }} }}"
            ),
            json!({}),
        )
        .await;
        let nodes = page["gifts"]["edges"].as_array().unwrap();
        assert_eq!(nodes.len(), 4);
        for edge in nodes {
            let donor = &edge["node"]["donor"];
            let whole = ok(
                &app,
                &token,
                &format!("query($id: ID!) {{ donor(id: $id) {{ id {selection} }} }}"),
                json!({ "id": donor["id"] }),
            )
            .await;
            assert_eq!(donor, &whole["donor"], "Donor.{name}");
        }
    }
}

/// A membership in the first tier whose every column holds a value of its own; it has
/// ended when `left` is given.
async fn full_membership(app: &TestApp, donor_id: i64, n: i64, left: Option<i64>) -> i64 {
    let mut membership = tier_membership::Model {
        id: 0,
        donor_id,
        tier_id: 1,
        joined_at: day(30 + n),
        join_reason: format!("moved up with {n}"),
        annual_pledge_total_minor: 60_000 + n,
        left_at: left.map(day),
        leave_reason: left.map(|_| format!("cancelled {n}")),
        cause: Some(format!("evt_{n}")),
        created_at: day(40 + n),
    }
    .into_active_model();
    membership.id = ActiveValue::NotSet;
    membership.insert(&app.db).await.unwrap().id
}

async fn a_page_of_memberships_read_in_part_answers_every_field_as_the_whole_row_does(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let token = app.token(StaffRole::Admin).await;
    let first = full_donor(&app, 1).await;
    let second = full_donor(&app, 2).await;
    let ended = full_membership(&app, first, 1, Some(50)).await;
    let current = full_membership(&app, first, 2, None).await;
    let other = full_membership(&app, second, 3, None).await;

    let fields = selections(&app, &token, "ClubMembership").await;
    let table = &api::graphql::projection::MEMBERSHIP;
    let listed = fields.iter().filter(|(name, _)| table.lists(name)).count();
    assert_eq!(
        listed,
        table.size(),
        "every field the table lists for ClubMembership is one of its fields"
    );

    for (name, selection) in &fields {
        // Each donor's history reads its memberships whole.
        let mut whole = std::collections::HashMap::new();
        for donor in [first, second] {
            let data = ok(
                &app,
                &token,
                &format!(
                    "query($id: ID!) {{ donor(id: $id) {{ tierHistory(first: 10) {{
                        nodes {{ id {selection} }} }} }} }}"
                ),
                json!({ "id": donor.to_string() }),
            )
            .await;
            for node in data["donor"]["tierHistory"]["nodes"].as_array().unwrap() {
                whole.insert(node["id"].as_str().unwrap().to_owned(), node.clone());
            }
        }
        assert_eq!(whole.len(), 3, "ClubMembership.{name}: every membership");

        let shown = format!("id {selection}");
        let data = ok(
            &app,
            &token,
            &format!(
                "query($from: DateTime!, $to: DateTime!) {{ givingClub {{
                    members(first: 10) {{ edges {{ node {{ {shown} }} }} }}
                    joinedBetween(from: $from, to: $to, first: 10) {{ nodes {{ {shown} }} }}
                    leftBetween(from: $from, to: $to, first: 10) {{
                        edges {{ node {{ {shown} }} }} }} }} }}"
            ),
            json!({ "from": day(0).to_rfc3339(), "to": day(100).to_rfc3339() }),
        )
        .await;
        let club = &data["givingClub"];
        let mut compared = Vec::new();
        for (list, nodes) in [
            (
                "members",
                club["members"]["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|edge| &edge["node"])
                    .collect::<Vec<_>>(),
            ),
            (
                "joinedBetween",
                club["joinedBetween"]["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .collect(),
            ),
            (
                "leftBetween",
                club["leftBetween"]["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|edge| &edge["node"])
                    .collect(),
            ),
        ] {
            for node in nodes {
                let id = node["id"].as_str().unwrap();
                assert_eq!(
                    Some(node),
                    whole.get(id),
                    "ClubMembership.{name} through GivingClub.{list}"
                );
                compared.push((list, id.parse::<i64>().unwrap()));
            }
        }
        assert_eq!(
            compared,
            [
                ("members", current),
                ("members", other),
                ("joinedBetween", ended),
                ("joinedBetween", current),
                ("joinedBetween", other),
                ("leftBetween", ended),
            ],
            "ClubMembership.{name}: every membership of each list compared"
        );
    }
}

/// What the test asks of a projection table, whatever its entity.
trait Lists {
    fn lists(&self, field: &str) -> bool;
    fn size(&self) -> usize;
}

impl<C: sea_orm::ColumnTrait> Lists for api::graphql::projection::FieldColumns<C> {
    fn lists(&self, field: &str) -> bool {
        api::graphql::projection::FieldColumns::lists(self, field)
    }

    fn size(&self) -> usize {
        self.listed().count()
    }
}

on_both_backends!(a_list_read_in_part_answers_every_field_as_the_whole_row_does);
on_both_backends!(a_page_of_memberships_read_in_part_answers_every_field_as_the_whole_row_does);
