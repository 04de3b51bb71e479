//! Welcome to a giving-club tier such as the Circle of Friends, sent once per entry.

use entity::{giving_tier, tier_membership};
use sea_orm::{ConnectionTrait, EntityTrait};

use super::club_mail::manage_url;
use super::layout::Link;
use super::words::Words;
use super::{Context, RenderError, Rendered, payload_id};

pub const KIND: &str = "tier_welcome";

/// What the templates in `templates/email/tier_welcome/` show.
struct Mail {
    subject: String,
    welcome: String,
    /// The tier's benefits as staff wrote them.
    benefits: Option<String>,
    manage: Option<Link>,
}

email_templates!(
    Mail,
    "email/tier_welcome/subject.txt",
    "email/tier_welcome/html.html",
    "email/tier_welcome/text.txt"
);

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
    let words = Words::new(context.language);
    let name = super::tier_name(context.language, &tier);
    let manage = manage_url(db, context, payload)
        .await?
        .map(|url| Link::new(context, words.get("tier-welcome-link"), &url));
    let mail = Mail {
        subject: words.with("tier-welcome-subject", &[("tier", name)]),
        welcome: words.with("tier-welcome-body", &[("tier", name)]),
        benefits: super::tier_benefits(context.language, &tier).map(str::to_owned),
        manage,
    };
    compose(context, &mail, |_| {})
}
