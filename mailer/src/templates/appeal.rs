//! An email appeal to one donor. The message and subject arrive already merged for the
//! donor (first name, last gift, ask amount, personal donate link); this template adds
//! the club invitation and the unsubscribe line in the donor's language, and the
//! `List-Unsubscribe` headers that let mail clients unsubscribe in one click.

use entity::enums::Language;
use serde::Deserialize;

use super::{CIRCLE_OF_FRIENDS, Context, RenderError, Rendered, escape, layout, tier_name};

pub const KIND: &str = "appeal";

/// What the domain queues for each donor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppealPayload {
    pub appeal_id: i64,
    pub subject: String,
    pub body: String,
    pub donate_url: String,
    /// The monthly amount that brings the donor into the Circle ("$42"), when the
    /// appeal invites donors not yet in it.
    pub club_monthly_ask: Option<String>,
    /// The name of the Circle the invitation is to; messages queued before it was
    /// written down are about the Circle of Friends.
    #[serde(default)]
    pub circle_name: Option<String>,
    pub unsubscribe_url: String,
}

fn club_invitation(language: Language, monthly: &str, circle: &str) -> String {
    let circle = tier_name(language, circle);
    match language {
        Language::Spanish => format!(
            "Únase a nuestro Club de Donantes Mensuales: con {monthly} al mes entra en nuestro {circle}."
        ),
        Language::French => format!(
            "Rejoignez notre Club des donateurs mensuels : avec {monthly} par mois, vous entrez dans notre {circle}."
        ),
        Language::Arabic => {
            format!("انضم إلى نادي العطاء الشهري: بمبلغ {monthly} شهريًا تصبح عضوًا في {circle}.")
        }
        Language::English => {
            format!("Join our Monthly Giving Club: {monthly} a month brings you into our {circle}.")
        }
    }
}

fn give_line(language: Language) -> &'static str {
    match language {
        Language::Spanish => "Done hoy:",
        Language::French => "Faites un don aujourd'hui :",
        Language::Arabic => "تبرع اليوم:",
        Language::English => "Donate today:",
    }
}

fn unsubscribe_line(language: Language) -> &'static str {
    match language {
        Language::Spanish => "Para no recibir más llamamientos (seguirá recibiendo sus recibos):",
        Language::French => "Pour ne plus recevoir d'appels (vous recevrez toujours vos reçus) :",
        Language::Arabic => "لإيقاف رسائل المناشدة (ستستمر في تلقي إيصالاتك):",
        Language::English => "To stop receiving appeals (you will still get your receipts):",
    }
}

/// Renders an appeal from its payload.
pub fn render(context: Context<'_>, payload: &serde_json::Value) -> Result<Rendered, RenderError> {
    let appeal: AppealPayload =
        serde_json::from_value(payload.clone()).map_err(|e| RenderError::BadPayload {
            kind: KIND.to_owned(),
            reason: e.to_string(),
        })?;
    let invitation = appeal.club_monthly_ask.as_deref().map(|monthly| {
        let circle = appeal.circle_name.as_deref().unwrap_or(CIRCLE_OF_FRIENDS);
        club_invitation(context.language, monthly, circle)
    });
    let mut text_body = format!(
        "{}\n\n{} {}\n",
        appeal.body.trim_end(),
        give_line(context.language),
        appeal.donate_url
    );
    if let Some(invitation) = &invitation {
        text_body.push_str(&format!("\n{invitation}\n"));
    }
    text_body.push_str(&format!(
        "\n{} {}\n",
        unsubscribe_line(context.language),
        appeal.unsubscribe_url
    ));
    let mut html_body: String = appeal
        .body
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>\n", escape(p.trim()).replace('\n', "<br>")))
        .collect();
    html_body.push_str(&format!(
        "<p><a href=\"{url}\">{give} {url}</a></p>\n",
        url = escape(&appeal.donate_url),
        give = escape(give_line(context.language)),
    ));
    if let Some(invitation) = &invitation {
        html_body.push_str(&format!("<p>{}</p>\n", escape(invitation)));
    }
    html_body.push_str(&format!(
        "<p style=\"font-size: 12px;\">{} <a href=\"{url}\">{url}</a></p>\n",
        escape(unsubscribe_line(context.language)),
        url = escape(&appeal.unsubscribe_url),
    ));
    Ok(Rendered {
        text: layout::text(context, &text_body),
        html: layout::html(context, &appeal.subject, &html_body),
        subject: appeal.subject,
        attachments: Vec::new(),
        headers: vec![
            (
                "List-Unsubscribe".to_owned(),
                format!("<{}>", appeal.unsubscribe_url),
            ),
            (
                "List-Unsubscribe-Post".to_owned(),
                "List-Unsubscribe=One-Click".to_owned(),
            ),
        ],
    })
}
