//! A pledge was cancelled: thanks the donor and offers a way back.

use entity::enums::Language;
use sea_orm::ConnectionTrait;

use super::club_mail::{finish, load_pledge, pledge_words};
use super::{Context, RenderError, Rendered};

pub const KIND: &str = "pledge_cancelled";

/// Payload: `{ "pledge_id": 12, "donor_id": 3 }`.
pub async fn render(
    db: &impl ConnectionTrait,
    context: Context<'_>,
    payload: &serde_json::Value,
) -> Result<Rendered, RenderError> {
    let pledge = load_pledge(db, KIND, payload).await?;
    let words = pledge_words(&pledge, context.language);
    let org = &context.org.legal_name;
    let (subject, paragraphs, label) = match context.language {
        Language::Spanish => (
            "Su compromiso de donación fue cancelado".to_owned(),
            vec![
                format!(
                    "Su compromiso de {words} con {org} fue cancelado. Gracias por todo lo que ha dado."
                ),
                "Si desea volver, puede reanudar su apoyo en cualquier momento.".to_owned(),
            ],
            "Volver a donar",
        ),
        Language::French => (
            "Votre engagement de don a été annulé".to_owned(),
            vec![
                format!(
                    "Votre engagement de {words} envers {org} a été annulé. Merci pour tout ce que vous avez donné."
                ),
                "Si vous souhaitez revenir, vous pouvez reprendre à tout moment.".to_owned(),
            ],
            "Donner à nouveau",
        ),
        Language::Arabic => (
            "أُلغي تعهّدك بالتبرع".to_owned(),
            vec![
                format!("أُلغي تعهّدك بمبلغ {words} لصالح {org}. شكرًا على كل ما قدّمته."),
                "إن رغبت في العودة، يمكنك البدء من جديد في أي وقت.".to_owned(),
            ],
            "التبرع من جديد",
        ),
        Language::English => (
            "Your pledge has been cancelled".to_owned(),
            vec![
                format!(
                    "Your pledge of {words} to {org} has been cancelled. Thank you for all you have given."
                ),
                "If you would like to come back, you can start again at any time.".to_owned(),
            ],
            "Give again",
        ),
    };
    let link = context
        .links
        .and_then(|links| links.page_url("donate"))
        .map(|url| (label, url));
    Ok(finish(context, subject, &paragraphs, link))
}
