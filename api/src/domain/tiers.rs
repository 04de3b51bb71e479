//! Giving-club tiers: levels reached by annual pledge total. Tiers are data: admins
//! add them and change thresholds.

use chrono::Utc;
use entity::{Money, giving_tier};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{Value, json};

use super::audit::changed_fields;
use super::club::{ClubPolicy, evaluate_all_members};
use super::text;
use super::{Actor, DomainError, audit};
use crate::db::begin_write;

/// Tiers from the lowest threshold up.
pub async fn list_tiers(db: &impl ConnectionTrait) -> Result<Vec<giving_tier::Model>, DomainError> {
    Ok(giving_tier::Entity::find()
        .order_by_asc(giving_tier::Column::ThresholdMinor)
        .order_by_asc(giving_tier::Column::Id)
        .all(db)
        .await?)
}

/// A tier as an admin describes it.
#[derive(Debug, Clone)]
pub struct TierDetails {
    pub name: String,
    pub threshold: Money,
    pub benefits: Option<String>,
    pub benefits_value_minor: i64,
}

/// Changes to a tier; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct TierChanges {
    pub name: Option<String>,
    pub threshold: Option<Money>,
    pub benefits: Option<Option<String>>,
    pub benefits_value_minor: Option<i64>,
}

fn clean_tier_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::validation("name", "must not be empty"));
    }
    if name.chars().count() > 100 {
        return Err(DomainError::validation(
            "name",
            "must be at most 100 characters",
        ));
    }
    Ok(name.to_owned())
}

fn check_benefits_value(value: i64, threshold_minor: i64) -> Result<(), DomainError> {
    if value < 0 {
        return Err(DomainError::validation(
            "benefitsValue",
            "cannot be negative",
        ));
    }
    if value > threshold_minor {
        return Err(DomainError::validation(
            "benefitsValue",
            "cannot be more than the threshold",
        ));
    }
    Ok(())
}

fn tier_snapshot(tier: &giving_tier::Model) -> Value {
    json!({
        "name": tier.name,
        "thresholdMinor": tier.threshold_minor,
        "currency": tier.currency,
        "benefits": tier.benefits,
        "benefitsValueMinor": tier.benefits_value_minor,
    })
}

async fn ensure_name_free(
    db: &impl ConnectionTrait,
    name: &str,
    except: Option<i64>,
) -> Result<(), DomainError> {
    let mut query = giving_tier::Entity::find().filter(giving_tier::Column::Name.eq(name));
    if let Some(id) = except {
        query = query.filter(giving_tier::Column::Id.ne(id));
    }
    if query.one(db).await?.is_some() {
        return Err(DomainError::conflict(
            Some("name"),
            "a tier with this name already exists",
        ));
    }
    Ok(())
}

/// Adds a tier and re-evaluates the donors it may change.
pub async fn create_tier(
    db: &DatabaseConnection,
    actor: &Actor,
    policy: &ClubPolicy,
    details: TierDetails,
) -> Result<giving_tier::Model, DomainError> {
    let name = clean_tier_name(&details.name)?;
    check_benefits_value(
        details.benefits_value_minor,
        details.threshold.amount_minor(),
    )?;
    let txn = begin_write(db).await?;
    ensure_name_free(&txn, &name, None).await?;
    let now = Utc::now();
    let tier = giving_tier::ActiveModel {
        name: Set(name),
        threshold_minor: Set(details.threshold.amount_minor()),
        currency: Set(details.threshold.currency().code().to_owned()),
        benefits: Set(details.benefits.and_then(text::non_blank)),
        benefits_value_minor: Set(details.benefits_value_minor),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        "createTier",
        "giving_tier",
        Some(tier.id.to_string()),
        tier_snapshot(&tier),
    )
    .await?;
    evaluate_all_members(
        &txn,
        policy,
        &format!("createTier {} by {}", tier.id, actor.name),
    )
    .await?;
    txn.commit().await?;
    Ok(tier)
}

/// Changes a tier; a new threshold re-evaluates the donors it may move.
pub async fn update_tier(
    db: &DatabaseConnection,
    actor: &Actor,
    policy: &ClubPolicy,
    id: i64,
    changes: TierChanges,
) -> Result<giving_tier::Model, DomainError> {
    let name = changes.name.as_deref().map(clean_tier_name).transpose()?;
    let txn = begin_write(db).await?;
    let current = giving_tier::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::not_found("tier", id))?;
    let mut updated = current.clone();
    if let Some(name) = name {
        ensure_name_free(&txn, &name, Some(id)).await?;
        updated.name = name;
    }
    if let Some(threshold) = changes.threshold {
        updated.threshold_minor = threshold.amount_minor();
        updated.currency = threshold.currency().code().to_owned();
    }
    if let Some(benefits) = changes.benefits {
        updated.benefits = benefits.and_then(text::non_blank);
    }
    if let Some(value) = changes.benefits_value_minor {
        updated.benefits_value_minor = value;
    }
    check_benefits_value(updated.benefits_value_minor, updated.threshold_minor)?;
    let diff = changed_fields(&tier_snapshot(&current), &tier_snapshot(&updated));
    if diff.as_object().is_none_or(serde_json::Map::is_empty) {
        txn.rollback().await?;
        return Ok(current);
    }
    let threshold_changed =
        current.threshold_minor != updated.threshold_minor || current.currency != updated.currency;
    let mut active: giving_tier::ActiveModel = updated.into();
    active.updated_at = Set(Utc::now());
    let tier = active.reset_all().update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "updateTier",
        "giving_tier",
        Some(id.to_string()),
        diff,
    )
    .await?;
    if threshold_changed {
        evaluate_all_members(&txn, policy, &format!("updateTier {id} by {}", actor.name)).await?;
    }
    txn.commit().await?;
    Ok(tier)
}
