//! A receipt or year-end statement. The receipt's content was frozen when it was issued;
//! this template only wraps it with a greeting and attaches the stored PDF (typesetting
//! it first from the frozen document if nobody has yet), so every send (and every
//! resend) carries the same document byte for byte.

use entity::enums::{Language, ReceiptKind, ReceiptStatus};
use entity::receipt;
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::documents::{PdfError, stored_pdf};

use super::{
    Attachment, Context, RenderError, Rendered, donor_link_version, escape, layout, payload_id,
};

pub const KIND: &str = "receipt";

struct Words {
    gift_subject: &'static str,
    statement_subject: &'static str,
    gift_intro: &'static str,
    statement_intro: &'static str,
    file_prefix: &'static str,
    download: &'static str,
}

fn words(language: Language) -> Words {
    match language {
        Language::Spanish => Words {
            gift_subject: "Su recibo {number} de {org}",
            statement_subject: "Su resumen de donaciones de {year} ({number}) de {org}",
            gift_intro: "Gracias por su donación. Su recibo para fines fiscales está a continuación y adjunto en PDF.",
            statement_intro: "Gracias por su generosidad este año. Su resumen anual de donaciones para fines fiscales está a continuación y adjunto en PDF.",
            file_prefix: "recibo",
            download: "Descargue el PDF (enlace válido por 30 días):",
        },
        Language::French => Words {
            gift_subject: "Votre reçu {number} de {org}",
            statement_subject: "Votre relevé de dons {year} ({number}) de {org}",
            gift_intro: "Merci pour votre don. Votre reçu fiscal figure ci-dessous et en pièce jointe (PDF).",
            statement_intro: "Merci pour votre générosité cette année. Votre relevé annuel de dons figure ci-dessous et en pièce jointe (PDF).",
            file_prefix: "recu",
            download: "Téléchargez le PDF (lien valable 30 jours) :",
        },
        Language::Arabic => Words {
            gift_subject: "إيصالك {number} من {org}",
            statement_subject: "كشف تبرعاتك لعام {year} ({number}) من {org}",
            gift_intro: "شكراً لتبرعك. تجد إيصالك الضريبي أدناه وفي الملف المرفق (PDF).",
            statement_intro: "شكراً لكرمك هذا العام. تجد كشف تبرعاتك السنوي أدناه وفي الملف المرفق (PDF).",
            file_prefix: "receipt",
            download: "نزّل ملف PDF (الرابط صالح لمدة 30 يوماً):",
        },
        Language::English => Words {
            gift_subject: "Your receipt {number} from {org}",
            statement_subject: "Your {year} giving statement ({number}) from {org}",
            gift_intro: "Thank you for your gift. Your receipt for tax purposes is below and attached as a PDF.",
            statement_intro: "Thank you for your generosity this year. Your year-end giving statement for tax purposes is below and attached as a PDF.",
            file_prefix: "receipt",
            download: "Download the PDF (link valid for 30 days):",
        },
    }
}

/// Payload: `{ "receipt_id": 42 }`.
pub async fn render(
    db: &impl ConnectionTrait,
    context: Context<'_>,
    payload: &serde_json::Value,
) -> Result<Rendered, RenderError> {
    let id = payload_id(KIND, payload, "receipt_id")?;
    let receipt = receipt::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| RenderError::Missing(format!("receipt {id}")))?;
    if receipt.status == ReceiptStatus::Void {
        return Err(RenderError::Missing(format!(
            "receipt {} as issued (it was voided before it was sent)",
            receipt.number
        )));
    }
    let version = donor_link_version(db, receipt.donor_id)
        .await?
        .ok_or_else(|| RenderError::Missing(format!("donor {}", receipt.donor_id)))?;
    let mut receipt = receipt;
    receipt.content_pdf = match stored_pdf(db, &receipt).await {
        Ok(pdf) => pdf,
        Err(PdfError::Database(error)) => return Err(RenderError::Database(error)),
        Err(error) => return Err(RenderError::Pdf(error.to_string())),
    };
    Ok(render_receipt(context, &receipt, version))
}

/// The message for an issued receipt, its link signed with the donor's link `version`.
pub fn render_receipt(context: Context<'_>, receipt: &receipt::Model, version: i64) -> Rendered {
    let words = words(context.language);
    let (subject, intro) = match receipt.kind {
        ReceiptKind::Gift => (words.gift_subject, words.gift_intro),
        ReceiptKind::YearEndStatement => (words.statement_subject, words.statement_intro),
    };
    let subject = subject
        .replace("{number}", &receipt.number)
        .replace("{year}", &receipt.tax_year.to_string())
        .replace("{org}", &context.org.legal_name);
    let greeting = layout::greeting(context);
    let link = context
        .links
        .and_then(|links| links.url_for(&receipt.number, version));
    let text = layout::text(
        context,
        &format!(
            "{greeting}\n\n{intro}\n{}\n\n{}",
            link.as_ref()
                .map(|url| format!("{} {url}", words.download))
                .unwrap_or_default(),
            receipt.content_text
        ),
    );
    let link_html = link
        .as_ref()
        .map(|url| {
            format!(
                "<p><a href=\"{}\">{}</a></p>\n",
                escape(url),
                escape(words.download.trim_end_matches([':', ' ']))
            )
        })
        .unwrap_or_default();
    let document = match &receipt.content_html {
        Some(html) => html.clone(),
        None => format!("<pre>{}</pre>", escape(&receipt.content_text)),
    };
    let html = layout::html(
        context,
        &subject,
        &format!(
            "<p>{}</p>\n<p>{}</p>\n{link_html}{document}",
            escape(&greeting),
            escape(intro)
        ),
    );
    let attachments = receipt
        .content_pdf
        .iter()
        .map(|pdf| Attachment {
            filename: format!("{}-{}.pdf", words.file_prefix, receipt.number),
            content_type: "application/pdf".to_owned(),
            bytes: pdf.clone(),
        })
        .collect();
    Rendered {
        subject,
        text,
        html,
        attachments,
        headers: Vec::new(),
    }
}
