//! The API's conventions where they were once broken: a check is dated by its day, a
//! rate reads as people read it, amounts in are `Money`.

use chrono::{DateTime, Utc};
use serde_json::json;
use tests::on_both_backends;
use tests::support::{Backend, spawn_app};

use super::*;

/// A check dated 14 March 2026 is recorded at noon that day in Los Angeles (the tests'
/// time zone, on daylight time then: 19:00 UTC); a gift needs one date, not two.
async fn a_check_is_recorded_by_its_date(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = staff_token(&app).await;
    let donor = create_donor(&app, &staff, json!({ "displayName": "Ana" })).await;
    let mut input = check_gift(donor, json!({ "receivedOn": "2026-03-14" }));
    input.as_object_mut().unwrap().remove("receivedAt");
    let data = ok(
        &app,
        &staff,
        "mutation($input: RecordOfflineGiftInput!) { recordOfflineGift(input: $input) { gift { receivedAt } } }",
        json!({ "input": input }),
    )
    .await;
    let at: DateTime<Utc> = data["recordOfflineGift"]["gift"]["receivedAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(at.to_rfc3339(), "2026-03-14T19:00:00+00:00");

    let both = check_gift(
        donor,
        json!({ "receivedOn": "2026-03-14", "checkNumber": "77" }),
    );
    let (code, field) = fails(&app, &staff, RECORD_GIFT, json!({ "input": both })).await;
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("BAD_USER_INPUT", "receivedOn")
    );
}

on_both_backends!(a_check_is_recorded_by_its_date);
