//! Tells the person a gift honors about it, in the donor's language. The amount appears
//! only when the donor allowed it (the domain leaves it out of the payload otherwise).

use entity::enums::Language;
use serde::Deserialize;

use super::{Context, RenderError, Rendered, escape, layout};

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
    /// The amount, formatted, when the donor allowed it.
    pub amount: Option<String>,
}

struct Words {
    subject: String,
    gift: String,
    amount: Option<String>,
    closing: &'static str,
}

fn words(language: Language, p: &TributePayload, org: &str) -> Words {
    let memory = p.tribute_kind == "in_memory_of";
    let honoree = p.honoree.as_str();
    let amount = p.amount.as_deref();
    match language {
        Language::Spanish => {
            let who = p.donor_name.as_deref().unwrap_or("Una persona amiga");
            let tribute = if memory {
                "en memoria de"
            } else {
                "en honor de"
            };
            Words {
                subject: format!("Una donación {tribute} {honoree}"),
                gift: format!("{who} ha hecho una donación a {org} {tribute} {honoree}."),
                amount: amount.map(|a| format!("El monto de la donación es {a}.")),
                closing: "Con gratitud, le compartimos este gesto de cariño.",
            }
        }
        Language::French => {
            let who = p.donor_name.as_deref().unwrap_or("Une personne amie");
            let tribute = if memory {
                "à la mémoire de"
            } else {
                "en l'honneur de"
            };
            Words {
                subject: format!("Un don {tribute} {honoree}"),
                gift: format!("{who} a fait un don à {org} {tribute} {honoree}."),
                amount: amount.map(|a| format!("Le montant du don est de {a}.")),
                closing: "Avec gratitude, nous tenions à vous faire part de ce geste.",
            }
        }
        Language::Arabic => {
            let who = p.donor_name.as_deref().unwrap_or("أحد الأصدقاء");
            let tribute = if memory {
                "تخليدًا لذكرى"
            } else {
                "تكريمًا لـ"
            };
            Words {
                subject: format!("تبرع {tribute} {honoree}"),
                gift: format!("قدّم {who} تبرعًا إلى {org} {tribute} {honoree}."),
                amount: amount.map(|a| format!("قيمة التبرع {a}.")),
                closing: "بكل امتنان، أردنا أن نشارككم هذه اللفتة.",
            }
        }
        Language::English => {
            let who = p.donor_name.as_deref().unwrap_or("A friend");
            let tribute = if memory {
                "in memory of"
            } else {
                "in honor of"
            };
            Words {
                subject: format!("A gift {tribute} {honoree}"),
                gift: format!("{who} has made a gift to {org} {tribute} {honoree}."),
                amount: amount.map(|a| format!("The gift is {a}.")),
                closing: "With gratitude, we wanted you to know of this kindness.",
            }
        }
    }
}

/// Renders a tribute notification from its payload.
pub fn render(context: Context<'_>, payload: &serde_json::Value) -> Result<Rendered, RenderError> {
    let tribute: TributePayload =
        serde_json::from_value(payload.clone()).map_err(|e| RenderError::BadPayload {
            kind: KIND.to_owned(),
            reason: e.to_string(),
        })?;
    let w = words(context.language, &tribute, &context.org.legal_name);
    let greeting = layout::greeting(context);
    let mut paragraphs = vec![w.gift];
    paragraphs.extend(w.amount);
    paragraphs.push(w.closing.to_owned());
    let mut text = format!("{greeting}\n");
    let mut html = format!("<p>{}</p>\n", escape(&greeting));
    for paragraph in &paragraphs {
        text.push_str(&format!("\n{paragraph}\n"));
        html.push_str(&format!("<p>{}</p>\n", escape(paragraph)));
    }
    Ok(Rendered {
        text: layout::text(context, &text),
        html: layout::html(context, &w.subject, &html),
        subject: w.subject,
        attachments: Vec::new(),
        headers: Vec::new(),
    })
}
