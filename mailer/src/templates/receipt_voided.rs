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

/// The notice of `voided` (its number, amount and currency) in `language`: why, and the number of
/// the receipt that replaces it. In Arabic each value is isolated, so a number such as
/// 2026-000003 keeps its order.
fn notice(
    language: Language,
    voided: (&str, i64, &str),
    replacement: Option<&str>,
    reason: &VoidReason,
) -> Mail {
    let (number, amount_minor, currency) = voided;
    let words = Words::new(language);
    let iso = Isolation::of(language);
    let amount = iso.ltr(&words.stored_amount(amount_minor, currency));
    let number = iso.ltr(number);
    Mail {
        subject: words.with("receipt-voided-subject", &[("number", &number)]),
        voided: words.with(
            "receipt-voided-body",
            &[
                ("number", &number),
                ("amount", &amount),
                ("reason", &reason.said(words)),
            ],
        ),
        replaced: replacement.map(|number| {
            words.with(
                "receipt-voided-replaced",
                &[("replacement", &iso.ltr(number))],
            )
        }),
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
    let reason = VoidReason::of_notice(payload, voided.void_reason.as_deref());
    let mail = notice(
        context.language,
        (&voided.number, voided.amount_minor, &voided.currency),
        replacement.as_ref().map(|r| r.number.as_str()),
        &reason,
    );
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
    fn an_arabic_notice_keeps_its_numbers_in_order_in_every_part() -> Result<(), RenderError> {
        let org = crate::templates::placeholder_organization();
        let render = |language| {
            let context = Context {
                org: &org,
                language,
                to_name: None,
                links: None,
            };
            let reason = VoidReason::Staff {
                text: "wrong address".to_owned(),
            };
            let mail = notice(
                language,
                ("2026-000003", 25_000, "USD"),
                Some("2026-000004"),
                &reason,
            );
            compose(context, &mail, |_| {})
        };

        let arabic = render(Language::Arabic)?;
        assert_eq!(
            arabic.subject,
            "تم إلغاء الإيصال \u{2066}2026-000003\u{2069}"
        );
        let ltr =
            |text: &str| format!("<bdi dir=\"ltr\" style=\"white-space: nowrap;\">{text}</bdi>");
        for part in [
            format!(
                "تم إلغاء الإيصال {} بمبلغ {}.",
                ltr("2026-000003"),
                ltr("250,00\u{a0}$")
            ),
            "السبب: <bdi>wrong address</bdi>.".to_owned(),
            format!("يحل محله الإيصال {} الذي", ltr("2026-000004")),
        ] {
            assert!(arabic.html.contains(&part), "{part}\n{}", arabic.html);
        }
        assert!(
            arabic.text.contains(
                "تم إلغاء الإيصال 2026-000003 بمبلغ 250,00\u{a0}$. السبب: wrong address.\n\
                 يحل محله الإيصال 2026-000004 الذي نرسله إليك بشكل منفصل."
            ),
            "{}",
            arabic.text
        );

        let english = render(Language::English)?;
        assert_eq!(english.subject, "Receipt 2026-000003 has been voided");
        assert!(english.html.contains("2026-000004"), "{}", english.html);
        assert!(
            !english.html.contains("<bdi dir=\"ltr\" style"),
            "{}",
            english.html
        );
        assert!(english.text.contains("2026-000004"), "{}", english.text);
        Ok(())
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
