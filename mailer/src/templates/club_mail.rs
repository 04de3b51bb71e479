//! What the giving club's emails share: the pledge in words and the donor's signed link
//! to manage their pledges.

use entity::pledge;
use sea_orm::{ConnectionTrait, EntityTrait};

use super::words::Words;
use super::{Context, RenderError, donor_link_version, payload_id};

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

/// "$42.00 a month", "$42,00 al mes", "42,00 $ par mois": a pledge in words.
pub fn pledge_words(pledge: &pledge::Model, words: Words) -> String {
    let amount = words.stored_amount(pledge.installment_minor, &pledge.currency);
    words.pledge(&amount, pledge.frequency)
}

/// The donor's signed self-service link, signed with the donor's link version, when
/// links can be signed and the donor still exists.
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
    Ok(links.manage_url_for(donor_id, version))
}
