//! Giving-club tiers: levels reached by annual pledge total. Tiers are data: admins
//! add them, change thresholds and say which one is the Circle.

use chrono::Utc;
use entity::{Money, giving_tier};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, Set,
};
use serde_json::{Value, json};

use super::audit::changed_fields;
use super::club::{ClubPolicy, evaluate_all_members};
use super::keyset::{CountedPage, KeyKind, Ordering, PageRequest};
use super::text;
use super::translations::{self, TIER_FIELDS, TranslationChange};
use super::{Actor, DomainError, audit};
use crate::db::begin_write;

/// Tiers are listed lowest threshold first, ties by id.
pub fn tiers_by_threshold() -> Ordering<giving_tier::Column> {
    use giving_tier::Column::{Id, ThresholdMinor};
    Ordering::by(
        "tiers-by-threshold",
        ThresholdMinor,
        KeyKind::Integer,
        Id,
        false,
    )
}

/// One page of the tiers in [`tiers_by_threshold`], and how many there are.
pub async fn page_tiers(
    db: &impl ConnectionTrait,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<CountedPage<giving_tier::Model>, DomainError> {
    tiers_by_threshold()
        .page_counted(db, giving_tier::Entity::find(), request, size_when_unsaid)
        .await
}

/// The Circle: the tier marked as the Circle, which the public roll thanks, the
/// donation page offers and appeals invite donors into. Its members are the members of
/// that tier and of any tier above it in the same currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circle {
    pub tier: giving_tier::Model,
    /// The Circle's own id and the ids of the tiers above it.
    pub member_tier_ids: Vec<i64>,
}

impl Circle {
    /// The Circle among `tiers`, if one of them is marked as the Circle.
    pub fn among(tiers: &[giving_tier::Model]) -> Option<Circle> {
        let tier = tiers.iter().find(|t| t.is_circle)?.clone();
        let member_tier_ids = tiers
            .iter()
            .filter(|t| t.currency == tier.currency && t.threshold_minor >= tier.threshold_minor)
            .map(|t| t.id)
            .collect();
        Some(Circle {
            tier,
            member_tier_ids,
        })
    }

    /// Whether members of tier `tier_id` are in the Circle.
    pub fn includes(&self, tier_id: i64) -> bool {
        self.member_tier_ids.contains(&tier_id)
    }

    /// The monthly amount that reaches the Circle, in minor units.
    pub fn monthly_minor(&self) -> i64 {
        monthly_amount_reaching(self.tier.threshold_minor)
    }
}

/// The Circle, when a tier is marked as the Circle.
pub async fn circle(db: &impl ConnectionTrait) -> Result<Option<Circle>, DomainError> {
    let tiers = giving_tier::Entity::find().all(db).await?;
    Ok(Circle::among(&tiers))
}

/// The monthly amount, in whole major units, whose twelve installments reach an annual
/// threshold: $500 a year is reached by $42 a month ($504), not by $41 ($492).
pub fn monthly_amount_reaching(threshold_minor: i64) -> i64 {
    let monthly = threshold_minor.saturating_add(11) / 12;
    monthly.saturating_add(99) / 100 * 100
}

/// A tier as an admin describes it.
#[derive(Debug, Clone)]
pub struct TierDetails {
    pub name: String,
    pub threshold: Money,
    pub benefits: Option<String>,
    pub benefits_value_minor: i64,
    /// Make this tier the Circle, in place of the tier that was.
    pub is_circle: bool,
    /// Its name and benefits in other languages.
    pub translations: Vec<TranslationChange>,
}

/// Changes to a tier; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct TierChanges {
    pub name: Option<String>,
    pub threshold: Option<Money>,
    pub benefits: Option<Option<String>>,
    pub benefits_value_minor: Option<i64>,
    /// `Some(true)` makes this tier the Circle in place of the tier that was;
    /// `Some(false)` leaves the club without a Circle when this tier was it.
    pub is_circle: Option<bool>,
    /// Texts to set or remove in other languages; the others stay.
    pub translations: Vec<TranslationChange>,
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
        "isCircle": tier.is_circle,
        "translations": tier.translations,
    })
}

/// Takes the Circle away from whichever tier other than `except` has it, so that the
/// tier being written can take it; audited as that tier's change.
async fn release_circle(
    txn: &DatabaseTransaction,
    actor: &Actor,
    except: Option<i64>,
) -> Result<(), DomainError> {
    let mut query = giving_tier::Entity::find().filter(giving_tier::Column::IsCircle.eq(true));
    if let Some(id) = except {
        query = query.filter(giving_tier::Column::Id.ne(id));
    }
    for previous in query.all(txn).await? {
        let before = tier_snapshot(&previous);
        let mut active: giving_tier::ActiveModel = previous.into();
        active.is_circle = Set(false);
        active.updated_at = Set(Utc::now());
        let released = active.update(txn).await?;
        audit::record(
            txn,
            actor,
            "updateTier",
            "giving_tier",
            Some(released.id.to_string()),
            changed_fields(&before, &tier_snapshot(&released)),
        )
        .await?;
    }
    Ok(())
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
    let tier_translations = translations::apply(None, details.translations, TIER_FIELDS)?;
    let txn = begin_write(db).await?;
    ensure_name_free(&txn, &name, None).await?;
    if details.is_circle {
        release_circle(&txn, actor, None).await?;
    }
    let now = Utc::now();
    let tier = giving_tier::ActiveModel {
        name: Set(name),
        threshold_minor: Set(details.threshold.amount_minor()),
        currency: Set(details.threshold.currency().code().to_owned()),
        benefits: Set(details.benefits.and_then(text::non_blank)),
        benefits_value_minor: Set(details.benefits_value_minor),
        is_circle: Set(details.is_circle),
        translations: Set(tier_translations),
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
    crate::read_cache::entity_changed("giving_tier");
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
    if let Some(is_circle) = changes.is_circle {
        updated.is_circle = is_circle;
    }
    if !changes.translations.is_empty() {
        updated.translations =
            translations::apply(updated.translations, changes.translations, TIER_FIELDS)?;
    }
    check_benefits_value(updated.benefits_value_minor, updated.threshold_minor)?;
    let diff = changed_fields(&tier_snapshot(&current), &tier_snapshot(&updated));
    if diff.as_object().is_none_or(serde_json::Map::is_empty) {
        txn.rollback().await?;
        return Ok(current);
    }
    let threshold_changed =
        current.threshold_minor != updated.threshold_minor || current.currency != updated.currency;
    if updated.is_circle && !current.is_circle {
        release_circle(&txn, actor, Some(id)).await?;
    }
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
    crate::read_cache::entity_changed("giving_tier");
    Ok(tier)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(id: i64, threshold_minor: i64, is_circle: bool) -> giving_tier::Model {
        giving_tier::Model {
            id,
            name: format!("Tier {id}"),
            threshold_minor,
            currency: "USD".into(),
            benefits: None,
            benefits_value_minor: 0,
            is_circle,
            receipt_every_installment: false,
            translations: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_monthly_amount_reaching_500_dollars_a_year_is_42_dollars() {
        assert_eq!(monthly_amount_reaching(50_000), 4_200);
        assert_eq!(monthly_amount_reaching(72_000), 6_000);
        assert_eq!(monthly_amount_reaching(100_000), 8_400);
        assert_eq!(monthly_amount_reaching(120_000), 10_000);
    }

    #[test]
    fn the_circle_is_the_marked_tier_with_the_tiers_above_it() {
        let tiers = [
            tier(1, 10_000, false),
            tier(2, 50_000, true),
            tier(3, 120_000, false),
        ];
        let circle = Circle::among(&tiers);
        assert_eq!(circle.as_ref().map(|c| c.tier.id), Some(2));
        let includes = |id| circle.as_ref().is_some_and(|c| c.includes(id));
        assert!(!includes(1));
        assert!(includes(2));
        assert!(includes(3));
        assert_eq!(circle.as_ref().map(Circle::monthly_minor), Some(4_200));
        assert_eq!(Circle::among(&[tier(1, 50_000, false)]), None);
    }
}
