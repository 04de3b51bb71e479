//! Idempotency keys mean the same request. A mutation sent with a key keeps the request
//! it came with, field by field under the API's names; a replay under the same key is
//! answered with the first result when it asks the same, and refused as a conflict
//! naming the first field that differs when it does not, so a correction sent under an
//! old key is never taken for saved.

use serde_json::Value;

use super::{DomainError, text};

/// The longest key accepted.
const MAX_KEY_CHARS: usize = 200;

/// A caller's key, trimmed; blank is no key.
pub fn clean_key(key: Option<String>) -> Result<Option<String>, DomainError> {
    match key.and_then(text::non_blank) {
        Some(key) if key.chars().count() > MAX_KEY_CHARS => Err(DomainError::validation(
            "idempotencyKey",
            format!("must be at most {MAX_KEY_CHARS} characters"),
        )),
        other => Ok(other),
    }
}

/// The first field, in the replay's order, where a replay differs from the first
/// request. Fields the first request did not keep (it was kept before they existed)
/// are not compared.
pub fn first_difference(first: &Value, replay: &Value) -> Option<String> {
    let (Some(first), Some(replay)) = (first.as_object(), replay.as_object()) else {
        return Some("input".to_owned());
    };
    replay
        .iter()
        .filter(|(field, _)| first.contains_key(field.as_str()))
        .find(|(field, value)| first.get(field.as_str()) != Some(*value))
        .map(|(field, _)| field.clone())
}

/// Checks that a replay asks what the first request under its key asked; when it does
/// not, the conflict names the field and says, through `explain`, what the key did.
pub fn ensure_same_request(
    first: &Value,
    replay: &Value,
    explain: impl FnOnce(&str) -> String,
) -> Result<(), DomainError> {
    match first_difference(first, replay) {
        Some(field) => Err(DomainError::conflict(Some(field.as_str()), explain(&field))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_request_has_no_difference() {
        let request = json!({ "id": 4, "amount": 6000, "reason": null });
        assert_eq!(first_difference(&request, &request), None);
        assert!(ensure_same_request(&request, &request, |_| String::new()).is_ok());
    }

    #[test]
    fn a_replay_that_differs_names_its_first_different_field() {
        let first = json!({ "id": 4, "amount": 6000, "reason": "moving" });
        let replay = json!({ "id": 4, "amount": 5000, "reason": "asked" });
        assert_eq!(first_difference(&first, &replay).as_deref(), Some("amount"));
        match ensure_same_request(&first, &replay, |field| format!("another {field}")) {
            Err(DomainError::Conflict { field, message, .. }) => {
                assert_eq!(field.as_deref(), Some("amount"));
                assert_eq!(message, "another amount");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn a_field_the_first_request_did_not_keep_is_not_compared() {
        let first = json!({ "id": 4 });
        let replay = json!({ "id": 4, "notes": "new" });
        assert_eq!(first_difference(&first, &replay), None);
    }

    #[test]
    fn a_blank_key_is_no_key_and_a_long_one_is_refused() {
        assert!(matches!(clean_key(Some("  ".into())), Ok(None)));
        assert!(matches!(clean_key(Some(" k-1 ".into())), Ok(Some(k)) if k == "k-1"));
        assert!(clean_key(Some("k".repeat(201))).is_err());
    }
}
