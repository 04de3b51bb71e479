//! Tells a donor that a receipt no longer stands: the gift was refunded in full, or the
//! receipt was corrected and a new one follows.

use entity::enums::Language;
use entity::receipt;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};

use super::words::Words;
use super::{Context, RenderError, Rendered, payload_id};
use crate::bidi::{Isolation, Piece, pieces, without_direction_marks};

pub const KIND: &str = "receipt_voided";

/// Why a receipt no longer stands. The service's own reasons travel to the mailer as
/// codes, so each donor reads them in their language; staff's reasons are their words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum VoidReason {
    /// Typed by staff when voiding or correcting a receipt, shown as written.
    Staff {
        text: String,
    },
    RefundedInFull,
    /// `refunded_minor` is everything refunded so far, in the gift's currency.
    RefundedInPart {
        refunded_minor: i64,
        currency: String,
    },
    /// A refund failed, so the money counts as given again.
    RefundFailed,
    /// Staff corrected the gift's amount, date, fund, method, tribute or benefits.
    GiftCorrected,
    /// The donor's bank reversed the payment for good (a lost dispute).
    PaymentReversed,
    /// A gift of the statement's year was recorded after the statement was issued.
    GiftAdded,
}

impl VoidReason {
    /// As the receipt's record keeps it for staff, in English.
    pub fn recorded(&self) -> String {
        match self {
            VoidReason::Staff { text } => text.trim().to_owned(),
            VoidReason::RefundedInFull => "the gift was refunded in full".to_owned(),
            VoidReason::RefundedInPart {
                refunded_minor,
                currency,
            } => format!(
                "the gift was refunded in part ({})",
                Words::new(Language::English).stored_amount(*refunded_minor, currency)
            ),
            VoidReason::RefundFailed => "a refund of the gift failed".to_owned(),
            VoidReason::GiftCorrected => "the gift's details were corrected".to_owned(),
            VoidReason::PaymentReversed => {
                "the payment was reversed by the donor's bank".to_owned()
            }
            VoidReason::GiftAdded => {
                "a gift of that year was recorded after the statement was issued".to_owned()
            }
        }
    }

    /// As the donor reads it, addressed to them, in `words`' language; in Arabic the
    /// amount and staff's words are isolated (`crate::bidi`).
    pub fn said(&self, words: Words) -> String {
        let iso = Isolation::of(words.language());
        match self {
            VoidReason::Staff { text } => iso.name(text.trim()),
            VoidReason::RefundedInFull => words.get("receipt-void-reason-refunded-in-full"),
            VoidReason::RefundedInPart {
                refunded_minor,
                currency,
            } => words.with(
                "receipt-void-reason-refunded-in-part",
                &[(
                    "amount",
                    &iso.ltr(&words.stored_amount(*refunded_minor, currency)),
                )],
            ),
            VoidReason::RefundFailed => words.get("receipt-void-reason-refund-failed"),
            VoidReason::GiftCorrected => words.get("receipt-void-reason-gift-corrected"),
            VoidReason::PaymentReversed => words.get("receipt-void-reason-payment-reversed"),
            VoidReason::GiftAdded => words.get("receipt-void-reason-gift-added"),
        }
    }

    /// The reason a queued notice carries; a notice queued without one (before reasons
    /// were coded) shows what the receipt's record says.
    fn of_notice(payload: &serde_json::Value, recorded: Option<&str>) -> VoidReason {
        payload
            .get("reason")
            .and_then(|reason| serde_json::from_value(reason.clone()).ok())
            .unwrap_or_else(|| VoidReason::Staff {
                text: recorded.unwrap_or_default().to_owned(),
            })
    }
}

/// What the templates in `templates/email/receipt_voided/` show: sentences whose values
/// carry isolate marks in Arabic (`crate::bidi`), as the subject shows them; the HTML
/// sets each isolated value in a `<bdi>`, and the text leaves the marks out, as a
/// receipt's text does.
struct Mail {
    subject: String,
    voided: String,
    /// Names the receipt that replaces it, when one does.
    replaced: Option<String>,
}

impl Mail {
    fn voided_text(&self) -> String {
        without_direction_marks(&self.voided)
    }

    fn replaced_text(&self) -> Option<String> {
        self.replaced.as_deref().map(without_direction_marks)
    }

    fn voided_html(&self) -> Vec<Piece> {
        pieces(&self.voided)
    }

    fn replaced_html(&self) -> Option<Vec<Piece>> {
        self.replaced.as_deref().map(pieces)
    }
}

email_templates!(
    Mail,
    "email/receipt_voided/subject.txt",
    "email/receipt_voided/html.html",
    "email/receipt_voided/text.txt"
);

/// The receipt that replaces the voided one, when the notice names one.
fn replacement_id(payload: &serde_json::Value) -> Result<Option<i64>, RenderError> {
    match payload.get("replacement_receipt_id") {
        Some(value) if !value.is_null() => {
            payload_id(KIND, payload, "replacement_receipt_id").map(Some)
        }
        _ => Ok(None),
    }
}

/// Payload: `{ "receipt_id": 42, "replacement_receipt_id": 43, "reason": { "code":
/// "refunded_in_full" } }` (the replacement is absent when nothing replaces the receipt,
/// as after a full refund; the reason is a [`VoidReason`]).
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
    let replacement = match replacement_id(payload)? {
        Some(replacement_id) => receipt::Entity::find_by_id(replacement_id).one(db).await?,
        None => None,
    };
    let words = Words::new(context.language);
    // In Arabic each value is isolated, so a number such as 2026-000003 keeps its order.
    let iso = Isolation::of(context.language);
    let amount = iso.ltr(&words.stored_amount(voided.amount_minor, &voided.currency));
    let number = iso.ltr(&voided.number);
    let reason = VoidReason::of_notice(payload, voided.void_reason.as_deref()).said(words);
    let mail = Mail {
        subject: words.with("receipt-voided-subject", &[("number", &number)]),
        voided: words.with(
            "receipt-voided-body",
            &[
                ("number", &number),
                ("amount", &amount),
                ("reason", &reason),
            ],
        ),
        replaced: replacement.map(|r| {
            words.with(
                "receipt-voided-replaced",
                &[("replacement", &iso.ltr(&r.number))],
            )
        }),
    };
    compose(context, &mail, |_| {})
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn part() -> VoidReason {
        VoidReason::RefundedInPart {
            refunded_minor: 125_050,
            currency: "USD".to_owned(),
        }
    }

    #[test]
    fn a_reason_travels_as_its_code_and_comes_back_whole() {
        let value = serde_json::to_value(part()).unwrap();
        assert_eq!(
            value,
            json!({ "code": "refunded_in_part", "refunded_minor": 125_050, "currency": "USD" })
        );
        assert_eq!(serde_json::from_value::<VoidReason>(value).unwrap(), part());
        assert_eq!(
            serde_json::to_value(VoidReason::PaymentReversed).unwrap(),
            json!({ "code": "payment_reversed" })
        );
    }

    #[test]
    fn staff_keep_the_reason_in_english_and_each_donor_reads_it_in_their_language() {
        let spanish = Words::new(Language::Spanish);
        let arabic = Words::new(Language::Arabic);
        let cases = [
            (
                VoidReason::RefundedInFull,
                "the gift was refunded in full",
                "su donación fue reembolsada en su totalidad",
            ),
            (
                part(),
                "the gift was refunded in part ($1,250.50)",
                "se le reembolsaron $1.250,50 de su donación",
            ),
            (
                VoidReason::RefundFailed,
                "a refund of the gift failed",
                "un reembolso de su donación no se completó, así que la donación vuelve a contar",
            ),
            (
                VoidReason::GiftCorrected,
                "the gift's details were corrected",
                "se corrigieron los datos de su donación",
            ),
            (
                VoidReason::PaymentReversed,
                "the payment was reversed by the donor's bank",
                "su banco revirtió el pago",
            ),
            (
                VoidReason::GiftAdded,
                "a gift of that year was recorded after the statement was issued",
                "recibimos una donación suya de ese año después de emitir este resumen",
            ),
            (
                VoidReason::Staff {
                    text: "  nombre mal escrito ".to_owned(),
                },
                "nombre mal escrito",
                "nombre mal escrito",
            ),
        ];
        for (reason, recorded, said) in cases {
            assert_eq!(reason.recorded(), recorded);
            assert_eq!(reason.said(spanish), said);
        }
        assert_eq!(
            part().said(arabic),
            "تم رد \u{2066}1.250,50\u{a0}$\u{2069} من تبرعك إليك"
        );
        assert_eq!(
            VoidReason::Staff {
                text: " wrong address ".to_owned()
            }
            .said(arabic),
            "\u{2068}wrong address\u{2069}"
        );
        assert_eq!(
            part().said(Words::new(Language::English)),
            "$1,250.50 of your gift was refunded to you"
        );
    }

    #[test]
    fn a_notice_names_its_replacement_only_when_there_is_one() {
        assert_eq!(replacement_id(&json!({ "receipt_id": 42 })).unwrap(), None);
        assert_eq!(
            replacement_id(&json!({ "receipt_id": 42, "replacement_receipt_id": null })).unwrap(),
            None
        );
        assert_eq!(
            replacement_id(&json!({ "receipt_id": 42, "replacement_receipt_id": 43 })).unwrap(),
            Some(43)
        );
        assert!(replacement_id(&json!({ "replacement_receipt_id": "43" })).is_err());
    }

    #[test]
    fn a_notice_queued_without_a_code_shows_the_receipts_record() {
        let recorded = Some("the gift was refunded in full");
        assert_eq!(
            VoidReason::of_notice(&json!({ "receipt_id": 1 }), recorded),
            VoidReason::Staff {
                text: "the gift was refunded in full".to_owned()
            }
        );
        assert_eq!(
            VoidReason::of_notice(&json!({ "reason": { "code": "no_such_code" } }), recorded),
            VoidReason::Staff {
                text: "the gift was refunded in full".to_owned()
            }
        );
        assert_eq!(
            VoidReason::of_notice(
                &json!({ "reason": { "code": "refunded_in_full" } }),
                Some("anything")
            ),
            VoidReason::RefundedInFull
        );
    }
}
