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
    // In Arabic the number and the name are isolated, so 2026-000003 keeps its order.
    let iso = Isolation::of(context.language);
    let (said_number, org) = (iso.ltr(&number), iso.name(&context.org.legal_name));
    let (said_number, org) = (said_number.as_str(), org.as_str());
    let number = number.as_str();
    let (subject, intro) = match kind {
        ReceiptKind::Gift => (
            words.with(
                "receipt-gift-subject",
                &[("number", said_number), ("org", org)],
            ),
            words.get("receipt-gift-intro"),
        ),
        ReceiptKind::YearEndStatement => (
            words.with(
                "receipt-statement-subject",
                &[
                    ("year", &tax_year.to_string()),
                    ("number", said_number),
                    ("org", org),
                ],
            ),
            words.get("receipt-statement-intro"),
        ),
    };
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
