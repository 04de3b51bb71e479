//! A receipt or year-end statement. The receipt's content was frozen when it was issued;
//! this template only wraps it with a greeting and attaches the stored PDF (typesetting
//! it first from the frozen document if nobody has yet), so every send (and every
//! resend) carries the same document byte for byte.

use entity::enums::{ReceiptKind, ReceiptStatus};
use entity::receipt;
use sea_orm::{ConnectionTrait, EntityTrait};

use super::layout::Link;
use super::words::Words;
use super::{
    Attachment, Context, Prefetched, RenderError, Rendered, donor_link_version, payload_id,
};
use crate::bidi::Isolation;
use crate::documents::{PdfError, stored_pdf};

pub const KIND: &str = "receipt";

/// What the templates in `templates/email/receipt/` show.
struct Mail {
    subject: String,
    intro: String,
    download: Option<Link>,
    /// The document as issued: its HTML, shown as it was frozen, when it has one.
    document_html: Option<String>,
    document_text: String,
}

email_templates!(
    Mail,
    "email/receipt/subject.txt",
    "email/receipt/html.html",
    "email/receipt/text.txt"
);

/// Payload: `{ "receipt_id": 42 }`.
pub async fn render(
    db: &impl ConnectionTrait,
    context: Context<'_>,
    payload: &serde_json::Value,
) -> Result<Rendered, RenderError> {
    render_prefetched(db, context, payload, &Prefetched::default()).await
}

/// [`render`], the receipt and its donor's link version taken from `prefetched` when its
/// batch read them.
pub async fn render_prefetched(
    db: &impl ConnectionTrait,
    context: Context<'_>,
    payload: &serde_json::Value,
    prefetched: &Prefetched,
) -> Result<Rendered, RenderError> {
    let id = payload_id(KIND, payload, "receipt_id")?;
    let receipt = match prefetched.take_receipt(id) {
        Some(receipt) => receipt,
        None => receipt::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or_else(|| RenderError::Missing(format!("receipt {id}")))?,
    };
    if receipt.status == ReceiptStatus::Void {
        return Err(RenderError::Missing(format!(
            "receipt {} as issued (it was voided before it was sent)",
            receipt.number
        )));
    }
    let version = match prefetched.link_version(receipt.donor_id) {
        Some(version) => version,
        None => donor_link_version(db, receipt.donor_id)
            .await?
            .ok_or_else(|| RenderError::Missing(format!("donor {}", receipt.donor_id)))?,
    };
    let mut receipt = receipt;
    if receipt.content_pdf.is_none() {
        receipt.content_pdf = match stored_pdf(db, &receipt).await {
            Ok(pdf) => pdf,
            Err(PdfError::Database(error)) => return Err(RenderError::Database(error)),
            Err(error) => return Err(RenderError::Pdf(error.to_string())),
        };
    }
    render_receipt(context, receipt, version)
}

/// The receipt email's subject and opening line in the context's language. In Arabic the
/// number and the organization's name are isolated, so 2026-000003 keeps its order.
fn subject_and_intro(
    context: Context<'_>,
    kind: ReceiptKind,
    number: &str,
    tax_year: i32,
) -> (String, String) {
    let words = Words::new(context.language);
    let iso = Isolation::of(context.language);
    let (number, org) = (iso.ltr(number), iso.name(&context.org.legal_name));
    match kind {
        ReceiptKind::Gift => (
            words.with(
                "receipt-gift-subject",
                &[("number", &number), ("org", &org)],
            ),
            words.get("receipt-gift-intro"),
        ),
        ReceiptKind::YearEndStatement => (
            words.with(
                "receipt-statement-subject",
                &[
                    ("year", &tax_year.to_string()),
                    ("number", &number),
                    ("org", &org),
                ],
            ),
            words.get("receipt-statement-intro"),
        ),
    }
}

/// The message for an issued receipt, its link signed with the donor's link `version`.
/// The receipt's stored text, HTML and PDF move into the message, uncopied.
pub fn render_receipt(
    context: Context<'_>,
    receipt: receipt::Model,
    version: i64,
) -> Result<Rendered, RenderError> {
    let receipt::Model {
        number,
        kind,
        tax_year,
        content_html,
        content_text,
        content_pdf,
        ..
    } = receipt;
    let words = Words::new(context.language);
    let (subject, intro) = subject_and_intro(context, kind, &number, tax_year);
    let number = number.as_str();
    let download = context
        .links
        .and_then(|links| links.url_for(number, version))
        .map(|url| Link::new(context, words.get("receipt-download-link"), &url));
    let mail = Mail {
        subject,
        intro,
        download,
        document_html: content_html,
        document_text: content_text,
    };
    let mut rendered = compose(context, &mail, |_| {})?;
    rendered.attachments = content_pdf
        .into_iter()
        .map(|pdf| Attachment {
            filename: format!("{}-{number}.pdf", words.get("receipt-file-prefix")),
            content_type: "application/pdf".to_owned(),
            bytes: pdf,
        })
        .collect();
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use entity::enums::Language;

    use super::*;
    use crate::templates::placeholder_organization;

    #[test]
    fn an_arabic_subject_keeps_the_number_and_the_name_in_order() {
        let org = placeholder_organization();
        let subject = |language, kind| {
            let context = Context {
                org: &org,
                language,
                to_name: None,
                links: None,
            };
            subject_and_intro(context, kind, "2026-000003", 2026).0
        };
        let name = &org.legal_name;
        assert_eq!(
            subject(Language::Arabic, ReceiptKind::Gift),
            format!("إيصالك \u{2066}2026-000003\u{2069} من \u{2068}{name}\u{2069}")
        );
        assert_eq!(
            subject(Language::Arabic, ReceiptKind::YearEndStatement),
            format!(
                "كشف تبرعاتك لعام 2026 (\u{2066}2026-000003\u{2069}) من \u{2068}{name}\u{2069}"
            )
        );
        assert_eq!(
            subject(Language::English, ReceiptKind::YearEndStatement),
            format!("Your 2026 giving statement (2026-000003) from {name}")
        );
    }
}
