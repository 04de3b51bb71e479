//! What the giving club's emails share: the pledge in words, the donor's signed link
//! to manage their pledges, and the frame around the body. Club emails are written in
//! English, Spanish, French and Arabic.

use entity::enums::{Language, PledgeFrequency};
use entity::{Currency, format_minor, pledge};
use sea_orm::{ConnectionTrait, EntityTrait};

use super::{Context, RenderError, Rendered, donor_link_version, escape, layout, payload_id};

pub async fn load_pledge(
    db: &impl ConnectionTrait,
    kind: &str,
    payload: &serde_json::Value,
) -> Result<pledge::Model, RenderError> {
    let id = payload_id(kind, payload, "pledge_id")?;
    pledge::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| RenderError::Missing(format!("pledge {id}")))
}

/// "$42.00 a month", "$42.00 al mes", "$42.00 par mois": a pledge in words.
pub fn pledge_words(pledge: &pledge::Model, language: Language) -> String {
    let amount = Currency::parse(&pledge.currency)
        .map(|currency| format_minor(pledge.installment_minor, currency))
        .unwrap_or_else(|_| format!("{} {}", pledge.installment_minor, pledge.currency));
    let every = match (language, pledge.frequency) {
        (Language::Spanish, PledgeFrequency::Monthly) => "al mes",
        (Language::Spanish, PledgeFrequency::Quarterly) => "cada trimestre",
        (Language::Spanish, PledgeFrequency::Yearly) => "al año",
        (Language::French, PledgeFrequency::Monthly) => "par mois",
        (Language::French, PledgeFrequency::Quarterly) => "par trimestre",
        (Language::French, PledgeFrequency::Yearly) => "par an",
        (Language::Arabic, PledgeFrequency::Monthly) => "شهريًا",
        (Language::Arabic, PledgeFrequency::Quarterly) => "كل ثلاثة أشهر",
        (Language::Arabic, PledgeFrequency::Yearly) => "سنويًا",
        (_, PledgeFrequency::Monthly) => "a month",
        (_, PledgeFrequency::Quarterly) => "a quarter",
        (_, PledgeFrequency::Yearly) => "a year",
    };
    format!("{amount} {every}")
}

/// The donor's signed self-service link, signed with the donor's link version, when
/// links can be signed and the donor still exists. The page opens in the donor's
/// language.
pub async fn manage_url(
    db: &impl ConnectionTrait,
    context: Context<'_>,
    payload: &serde_json::Value,
) -> Result<Option<String>, RenderError> {
    let (Some(donor_id), Some(links)) = (
        payload.get("donor_id").and_then(serde_json::Value::as_i64),
        context.links,
    ) else {
        return Ok(None);
    };
    let Some(version) = donor_link_version(db, donor_id).await? else {
        return Ok(None);
    };
    Ok(links
        .manage_url_for(donor_id, version)
        .map(|url| format!("{url}?lang={}", context.language.as_str())))
}

/// A message with a subject, paragraphs of text, and an optional link with its label.
pub fn finish(
    context: Context<'_>,
    subject: String,
    paragraphs: &[String],
    link: Option<(&str, String)>,
) -> Rendered {
    let greeting = layout::greeting(context);
    let mut text = format!("{greeting}\n");
    let mut html = format!("<p>{}</p>\n", escape(&greeting));
    for paragraph in paragraphs {
        text.push_str(&format!("\n{paragraph}\n"));
        html.push_str(&format!("<p>{}</p>\n", escape(paragraph)));
    }
    if let Some((label, url)) = link {
        text.push_str(&format!("\n{label}: {url}\n"));
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>\n",
            escape(&url),
            escape(label)
        ));
    }
    Rendered {
        text: layout::text(context, &text),
        html: layout::html(context, &subject, &html),
        subject,
        attachments: Vec::new(),
        headers: Vec::new(),
    }
}
