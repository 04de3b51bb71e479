//! The staff GraphQL API: queries with filters and cursor paging, mutations with their
//! validation errors, roles, batched loading and the audit log.

mod appeal_links;
mod appeal_messages;
mod appeal_sends;
pub(crate) mod batching;
mod campaigns;
mod conventions;
mod donor_links;
mod donors;
mod gifts;
mod limits;
mod lookups;
mod merge;
mod office;
mod paging;
mod privacy;
mod projection;
mod role_matrix;
mod roles;
mod segments;
mod tributes;

use entity::enums::StaffRole;
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::{Value, json};
use tests::support::{TestApp, error_codes};

/// Runs a request that must succeed and returns its `data`.
pub async fn ok(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let body = app.graphql(token, query, variables).await;
    assert!(
        body.get("errors").is_none(),
        "unexpected errors: {}",
        body["errors"]
    );
    body["data"].clone()
}

/// Runs a request that must fail; returns the first error's code and field.
/// An update's input: `fields` with the record's `id` among them.
pub fn with_id(id: Value, fields: &Value) -> Value {
    let mut input = fields.clone();
    if let Some(object) = input.as_object_mut() {
        object.insert("id".into(), id);
    }
    input
}

pub async fn fails(app: &TestApp, token: &str, query: &str, variables: Value) -> (String, String) {
    let body = app.graphql(token, query, variables).await;
    let codes = error_codes(&body);
    assert!(!codes.is_empty(), "expected an error, got {body}");
    let field = body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (codes[0].clone(), field)
}

pub async fn staff_token(app: &TestApp) -> String {
    app.token(StaffRole::Staff).await
}

pub async fn admin_token(app: &TestApp) -> String {
    app.token(StaffRole::Admin).await
}

pub const CREATE_DONOR: &str = "mutation($input: CreateDonorInput!) { createDonor(input: $input) { id displayName email language emailConsent } }";

pub async fn create_donor(app: &TestApp, token: &str, input: Value) -> i64 {
    let data = ok(app, token, CREATE_DONOR, json!({ "input": input })).await;
    data["createDonor"]["id"].as_str().unwrap().parse().unwrap()
}

pub const RECORD_GIFT: &str = "mutation($input: RecordOfflineGiftInput!) { recordOfflineGift(input: $input) { alreadyRecorded gift { id amount { amountMinor currency formatted } status method checkNumber appealCode campaignName fund { code } tribute { kind name notifyEmail } benefitsValue { amountMinor } deductibleAmount { amountMinor } pledge { id status } } } }";

/// A $250 check to the General fund on 14 March 2026, with `extra` merged in.
pub fn check_gift(donor_id: i64, extra: Value) -> Value {
    let mut input = json!({
        "donorId": donor_id.to_string(),
        "amount": { "amountMinor": 25_000, "currency": "USD" },
        "method": "CHECK",
        "fundId": "1",
        "receivedAt": "2026-03-14T18:00:00Z",
        "checkNumber": "1042",
    });
    if let (Some(base), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            base.insert(key.clone(), value.clone());
        }
    }
    input
}

pub async fn record_gift(app: &TestApp, token: &str, input: Value) -> Value {
    ok(app, token, RECORD_GIFT, json!({ "input": input })).await["recordOfflineGift"].clone()
}

pub async fn count<E: EntityTrait>(app: &TestApp, entity: E) -> u64
where
    E::Model: Sync,
{
    let _ = entity;
    E::find().count(&app.db).await.unwrap()
}

/// The audit entries for a mutation, newest first.
pub async fn audit_entries(app: &TestApp, action: &str) -> Vec<entity::audit_log::Model> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq(action))
        .order_by_desc(entity::audit_log::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// The Fight Against S-Comm campaign with its printed-letter appeal.
pub async fn scomm_appeal(app: &TestApp) -> (i64, i64) {
    let now = chrono::Utc::now();
    let campaign = entity::campaign::ActiveModel {
        name: Set("Fight Against S-Comm 2011".into()),
        goal_minor: Set(5_000_000),
        currency: Set("USD".into()),
        starts_on: Set(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
        default_fund_id: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let appeal = entity::appeal::ActiveModel {
        campaign_id: Set(campaign.id),
        name: Set("Spring letter".into()),
        channel: Set(entity::enums::AppealChannel::Letter),
        source_code: Set("SCOMM11-LETTER".into()),
        currency: Set("USD".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    (campaign.id, appeal.id)
}
