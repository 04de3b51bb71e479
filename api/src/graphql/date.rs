//! `Date`: a calendar day written `YYYY-MM-DD`, with no time of day and no zone.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar day written `YYYY-MM-DD` ("2026-03-14"). Where a day bounds moments (a
/// range of gifts, a reconciliation), it is the day in the organization's time zone.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .filter(|_| text.len() == "YYYY-MM-DD".len())
                .map(Date)
                .ok_or_else(|| {
                    InputValueError::custom(format!("{text:?} is not a day written YYYY-MM-DD"))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

impl From<NaiveDate> for Date {
    fn from(day: NaiveDate) -> Self {
        Date(day)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_read_and_written_as_yyyy_mm_dd_only() {
        let day = Date::parse(Value::String("2026-03-14".into())).unwrap();
        assert_eq!(day.0, NaiveDate::from_ymd_opt(2026, 3, 14).unwrap());
        assert_eq!(day.to_value(), Value::String("2026-03-14".into()));
        for refused in [
            "2026-3-14",
            "14/03/2026",
            "2026-02-30",
            "2026-03-14T00:00:00Z",
            "",
        ] {
            assert!(
                Date::parse(Value::String(refused.into())).is_err(),
                "{refused}"
            );
        }
        assert!(Date::parse(Value::Number(20260314.into())).is_err());
    }
}
