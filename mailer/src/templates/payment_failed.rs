//! A pledge installment's card payment failed: asks the donor to update their card.

use entity::enums::Language;
use sea_orm::ConnectionTrait;

use super::club_mail::{finish, load_pledge, manage_url, pledge_words};
use super::{Context, RenderError, Rendered};

pub const KIND: &str = "payment_failed";

/// Payload: `{ "pledge_id": 12, "donor_id": 3, "invoice_id": "in_..." }`.
pub async fn render(
    db: &impl ConnectionTrait,
    context: Context<'_>,
    payload: &serde_json::Value,
) -> Result<Rendered, RenderError> {
    let pledge = load_pledge(db, KIND, payload).await?;
    let words = pledge_words(&pledge, context.language);
    let (subject, paragraphs, label) = match context.language {
        Language::Spanish => (
            "No pudimos procesar su donación mensual".to_owned(),
            vec![
                format!("El cobro de su compromiso de {words} no se pudo completar."),
                "Puede actualizar su tarjeta con el enlace de abajo; volveremos a intentarlo."
                    .to_owned(),
            ],
            "Actualizar su tarjeta",
        ),
        Language::French => (
            "Nous n’avons pas pu traiter votre don mensuel".to_owned(),
            vec![
                format!("Le paiement de votre engagement de {words} n’a pas abouti."),
                "Vous pouvez mettre à jour votre carte avec le lien ci-dessous ; nous réessaierons."
                    .to_owned(),
            ],
            "Mettre à jour votre carte",
        ),
        Language::Arabic => (
            "تعذّرت معالجة تبرعك الشهري".to_owned(),
            vec![
                format!("لم تكتمل دفعة تعهّدك بمبلغ {words}."),
                "يمكنك تحديث بطاقتك من الرابط أدناه، وسنحاول مرة أخرى.".to_owned(),
            ],
            "تحديث بطاقتك",
        ),
        Language::English => (
            "We could not process your monthly gift".to_owned(),
            vec![
                format!("The payment for your pledge of {words} did not go through."),
                "You can update your card with the link below; we will try again.".to_owned(),
            ],
            "Update your card",
        ),
    };
    let link = manage_url(db, context, payload)
        .await?
        .map(|url| (label, url));
    Ok(finish(context, subject, &paragraphs, link))
}
