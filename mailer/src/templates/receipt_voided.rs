//! Tells a donor that a receipt no longer stands: the gift was refunded in full, or the
//! receipt was corrected and a new one follows.

use entity::receipt;
use sea_orm::{ConnectionTrait, EntityTrait};

use super::words::Words;
use super::{Context, RenderError, Rendered, payload_id};

pub const KIND: &str = "receipt_voided";

/// What the templates in `templates/email/receipt_voided/` show.
struct Mail {
    subject: String,
    voided: String,
    /// Names the receipt that replaces it, when one does.
    replaced: Option<String>,
}

email_templates!(
    Mail,
    "email/receipt_voided/subject.txt",
    "email/receipt_voided/html.html",
    "email/receipt_voided/text.txt"
);

/// Payload: `{ "receipt_id": 42, "replacement_receipt_id": 43 }` (the replacement is
/// absent when nothing replaces the receipt, as after a full refund).
pub async fn render(
    db: &impl ConnectionTrait,
    context: Context<'_>,
    payload: &serde_json::Value,
) -> Result<Rendered, RenderError> {
    let id = payload_id(KIND, payload, "receipt_id")?;
    let voided = receipt::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| RenderError::Missing(format!("receipt {id}")))?;
    let replacement = match payload.get("replacement_receipt_id") {
        Some(value) if !value.is_null() => {
            let replacement_id = payload_id(KIND, payload, "replacement_receipt_id")?;
            receipt::Entity::find_by_id(replacement_id).one(db).await?
        }
        _ => None,
    };
    let words = Words::new(context.language);
    let amount = words.stored_amount(voided.amount_minor, &voided.currency);
    let number = voided.number.as_str();
    let mail = Mail {
        subject: words.with("receipt-voided-subject", &[("number", number)]),
        voided: words.with(
            "receipt-voided-body",
            &[
                ("number", number),
                ("amount", &amount),
                ("reason", voided.void_reason.as_deref().unwrap_or("")),
            ],
        ),
        replaced: replacement
            .map(|r| words.with("receipt-voided-replaced", &[("replacement", &r.number)])),
    };
    compose(context, &mail, |_| {})
}
