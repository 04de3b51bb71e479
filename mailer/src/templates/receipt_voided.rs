//! Tells a donor that a receipt no longer stands: the gift was refunded in full, or the
//! receipt was corrected and a new one follows.

use entity::enums::Language;
use entity::{Currency, format_minor, receipt};
use sea_orm::{ConnectionTrait, EntityTrait};

use super::{Context, RenderError, Rendered, escape, layout, payload_id};

pub const KIND: &str = "receipt_voided";

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
    let amount = Currency::parse(&voided.currency)
        .map(|currency| format_minor(voided.amount_minor, currency))
        .unwrap_or_else(|_| format!("{} {}", voided.amount_minor, voided.currency));
    let number = voided.number.as_str();
    let reason = voided.void_reason.as_deref().unwrap_or("");
    let (subject, body, follow_up) = match context.language {
        Language::Spanish => (
            format!("El recibo {number} ha sido anulado"),
            format!("El recibo {number} por {amount} ha sido anulado. Motivo: {reason}."),
            replacement.as_ref().map(|r| {
                format!(
                    "Lo reemplaza el recibo {}, que le enviamos por separado.",
                    r.number
                )
            }),
        ),
        Language::French => (
            format!("Le reçu {number} a été annulé"),
            format!("Le reçu {number} de {amount} a été annulé. Motif : {reason}."),
            replacement.as_ref().map(|r| {
                format!(
                    "Il est remplacé par le reçu {}, envoyé séparément.",
                    r.number
                )
            }),
        ),
        Language::Arabic => (
            format!("تم إلغاء الإيصال {number}"),
            format!("تم إلغاء الإيصال {number} بمبلغ {amount}. السبب: {reason}."),
            replacement
                .as_ref()
                .map(|r| format!("يحل محله الإيصال {} الذي نرسله إليك بشكل منفصل.", r.number)),
        ),
        Language::English => (
            format!("Receipt {number} has been voided"),
            format!("Receipt {number} for {amount} has been voided. Reason: {reason}."),
            replacement.as_ref().map(|r| {
                format!(
                    "It is replaced by receipt {}, which we are sending separately.",
                    r.number
                )
            }),
        ),
    };
    let follow_up = follow_up.unwrap_or_default();
    let greeting = layout::greeting(context);
    let text = layout::text(context, &format!("{greeting}\n\n{body}\n{follow_up}"));
    let html = layout::html(
        context,
        &subject,
        &format!(
            "<p>{}</p>\n<p>{}</p>\n<p>{}</p>",
            escape(&greeting),
            escape(&body),
            escape(&follow_up)
        ),
    );
    Ok(Rendered {
        subject,
        text,
        html,
        attachments: Vec::new(),
        headers: Vec::new(),
    })
}
