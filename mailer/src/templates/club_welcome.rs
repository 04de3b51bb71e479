//! Welcome to the Monthly Giving Club, sent when a donor's new pledge begins.

use entity::enums::Language;
use sea_orm::ConnectionTrait;

use super::club_mail::{finish, load_pledge, manage_url, pledge_words};
use super::{Context, RenderError, Rendered};

pub const KIND: &str = "club_welcome";

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
            "Bienvenido/a al Club de Donantes Mensuales".to_owned(),
            vec![
                format!("Gracias por su compromiso de {words} con {org}."),
                "Su apoyo constante nos permite planificar y defender a más familias.".to_owned(),
            ],
            "Consultar o cambiar su compromiso",
        ),
        Language::French => (
            "Bienvenue au Club des donateurs mensuels".to_owned(),
            vec![
                format!("Merci de votre engagement de {words} envers {org}."),
                "Votre soutien régulier nous permet de prévoir et de défendre plus de familles."
                    .to_owned(),
            ],
            "Voir ou modifier votre engagement",
        ),
        Language::Arabic => (
            "أهلًا بك في نادي التبرع الشهري".to_owned(),
            vec![
                format!("شكرًا لتعهّدك بمبلغ {words} لصالح {org}."),
                "دعمك المنتظم يتيح لنا التخطيط مسبقًا والوقوف إلى جانب مزيد من العائلات.".to_owned(),
            ],
            "عرض تعهّدك أو تغييره",
        ),
        Language::English => (
            "Welcome to the Monthly Giving Club".to_owned(),
            vec![
                format!("Thank you for pledging {words} to {org}."),
                "Steady support lets us plan ahead and stand with more families.".to_owned(),
            ],
            "See or change your pledge",
        ),
    };
    let link = manage_url(db, context, payload)
        .await?
        .map(|url| (label, url));
    Ok(finish(context, subject, &paragraphs, link))
}
