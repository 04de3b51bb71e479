//! Welcome to a giving-club tier such as the Circle of Friends, sent once per entry.

use entity::enums::Language;
use entity::{giving_tier, tier_membership};
use sea_orm::{ConnectionTrait, EntityTrait};

use super::club_mail::{finish, manage_url};
use super::{Context, RenderError, Rendered, payload_id};

pub const KIND: &str = "tier_welcome";

/// Payload: `{ "membership_id": 5, "donor_id": 3 }`.
pub async fn render(
    db: &impl ConnectionTrait,
    context: Context<'_>,
    payload: &serde_json::Value,
) -> Result<Rendered, RenderError> {
    let id = payload_id(KIND, payload, "membership_id")?;
    let membership = tier_membership::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| RenderError::Missing(format!("tier membership {id}")))?;
    let tier = giving_tier::Entity::find_by_id(membership.tier_id)
        .one(db)
        .await?
        .ok_or_else(|| RenderError::Missing(format!("tier {}", membership.tier_id)))?;
    let name = tier.name.as_str();
    let benefits = tier.benefits.clone();
    let (subject, mut paragraphs, label) = match context.language {
        Language::Spanish => (
            format!("Bienvenido/a a {name}"),
            vec![format!(
                "Con sus compromisos de donación ahora forma parte de {name}. Gracias por su generosidad."
            )],
            "Consultar sus compromisos",
        ),
        Language::French => (
            format!("Bienvenue dans le {name}"),
            vec![format!(
                "Vos engagements de don font désormais de vous un membre du {name}. Merci de votre générosité."
            )],
            "Voir vos engagements",
        ),
        Language::Arabic => (
            format!("أهلًا بك في {name}"),
            vec![format!(
                "بفضل تعهّداتك أصبحت الآن عضوًا في {name}. شكرًا لكرمك."
            )],
            "عرض تعهّداتك",
        ),
        Language::English => (
            format!("Welcome to the {name}"),
            vec![format!(
                "Your pledges now make you a member of the {name}. Thank you for your generosity."
            )],
            "See your pledges",
        ),
    };
    paragraphs.extend(benefits);
    let link = manage_url(db, context, payload)
        .await?
        .map(|url| (label, url));
    Ok(finish(context, subject, &paragraphs, link))
}
