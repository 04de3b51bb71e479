//! Tells the person a gift honors about it, in the donor's language. The amount appears
//! only when the donor allowed it (the domain leaves it out of the payload otherwise).

use serde::Deserialize;

use super::words::Words;
use super::{Context, RenderError, Rendered};

pub const KIND: &str = "tribute_notification";

/// What the domain queues.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TributePayload {
    pub gift_id: i64,
    /// "in_honor_of" or "in_memory_of".
    pub tribute_kind: String,
    pub honoree: String,
    /// The donor's name; absent for an anonymous gift.
    pub donor_name: Option<String>,
    /// The amount, formatted in English, when the donor allowed it; kept for messages
    /// queued before `amount_minor` was.
    pub amount: Option<String>,
    /// The amount in minor units with its currency, when the donor allowed it, written
    /// the way the reader's language writes amounts.
    #[serde(default)]
    pub amount_minor: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// What the templates in `templates/email/tribute/` show.
struct Mail {
    subject: String,
    gift: String,
    amount: Option<String>,
    closing: String,
}

email_templates!(
    Mail,
    "email/tribute/subject.txt",
    "email/tribute/html.html",
    "email/tribute/text.txt"
);

/// Renders a tribute notification from its payload.
pub fn render(context: Context<'_>, payload: &serde_json::Value) -> Result<Rendered, RenderError> {
    let tribute: TributePayload =
        serde_json::from_value(payload.clone()).map_err(|e| RenderError::BadPayload {
            kind: KIND.to_owned(),
            reason: e.to_string(),
        })?;
    let words = Words::new(context.language);
    let kind = if tribute.tribute_kind == "in_memory_of" {
        "memory"
    } else {
        "honor"
    };
    let who = tribute
        .donor_name
        .clone()
        .unwrap_or_else(|| words.get("tribute-anonymous"));
    let honoree = tribute.honoree.as_str();
    let mail = Mail {
        subject: words.with("tribute-subject", &[("kind", kind), ("honoree", honoree)]),
        gift: words.with(
            "tribute-gift",
            &[
                ("kind", kind),
                ("who", &who),
                ("org", &context.org.legal_name),
                ("honoree", honoree),
            ],
        ),
        amount: match (tribute.amount_minor, tribute.currency.as_deref()) {
            (Some(minor), Some(currency)) => Some(words.stored_amount(minor, currency)),
            _ => tribute.amount.clone(),
        }
        .map(|amount| words.with("tribute-amount", &[("amount", &amount)])),
        closing: words.get("tribute-closing"),
    };
    compose(context, &mail, |_| {})
}

#[cfg(test)]
mod tests {
    use entity::enums::Language;

    use super::*;
    use crate::templates::placeholder_organization as organization;

    fn rendered(language: Language, payload: serde_json::Value) -> Rendered {
        let org = organization();
        let context = Context {
            org: &org,
            language,
            to_name: Some("Dolores"),
            links: None,
        };
        render(context, &payload).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_amount_is_written_the_way_the_readers_language_writes_it() {
        let payload = serde_json::json!({
            "giftId": 1,
            "tributeKind": "in_honor_of",
            "honoree": "Dolores",
            "donorName": "Ana",
            "amount": "$1,234.56",
            "amountMinor": 123_456,
            "currency": "USD",
        });

        let spanish = rendered(Language::Spanish, payload.clone());
        let french = rendered(Language::French, payload);

        assert!(spanish.text.contains("$1.234,56"), "{}", spanish.text);
        assert!(!spanish.text.contains("$1,234.56"), "{}", spanish.text);
        assert!(
            french.text.contains("1\u{202f}234,56\u{a0}$"),
            "{}",
            french.text
        );
    }
}
