//! Funds: the designations gifts go to.

use chrono::Utc;
use entity::enums::Language;
use entity::{TranslatedField, fund};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{Value, json};

use super::audit::changed_fields;
use super::keyset::{CountedPage, KeyKind, Ordering, PageRequest};
use super::text;
use super::translations::{self, FUND_FIELDS, TranslationChange};
use super::{Actor, DomainError, audit};
use crate::db::begin_write;

/// The fund every organization starts with; it cannot be archived.
pub const GENERAL_FUND_CODE: &str = "GENERAL";

pub async fn list_funds(
    db: &impl ConnectionTrait,
    include_archived: bool,
) -> Result<Vec<fund::Model>, DomainError> {
    let mut query = fund::Entity::find().order_by_asc(fund::Column::Name);
    if !include_archived {
        query = query.filter(fund::Column::ArchivedAt.is_null());
    }
    Ok(query.all(db).await?)
}

/// Funds are listed by name, ties by id.
pub fn funds_by_name() -> Ordering<fund::Column> {
    use fund::Column::{Id, Name};
    Ordering::by("funds-by-name", Name, KeyKind::Text, Id, false)
}

/// One page of the funds in [`funds_by_name`] (archived ones too when asked), and how
/// many there are.
pub async fn page_funds(
    db: &impl ConnectionTrait,
    include_archived: bool,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<CountedPage<fund::Model>, DomainError> {
    let mut query = fund::Entity::find();
    if !include_archived {
        query = query.filter(fund::Column::ArchivedAt.is_null());
    }
    funds_by_name()
        .page_counted(db, query, request, size_when_unsaid)
        .await
}

/// The fund's name as a reader of `language` sees it: staff's translation, otherwise
/// the fund's own name.
pub fn name_in(fund: &fund::Model, language: Language) -> &str {
    entity::localized(
        fund.translations.as_ref(),
        language,
        TranslatedField::Name,
        &fund.name,
    )
}

/// A fund as staff describe it.
#[derive(Debug, Clone)]
pub struct FundDetails {
    pub name: String,
    pub code: String,
    pub description: Option<String>,
    pub restricted: bool,
    /// Its name and description in other languages.
    pub translations: Vec<TranslationChange>,
}

/// Changes to a fund; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct FundChanges {
    pub name: Option<String>,
    pub code: Option<String>,
    pub description: Option<Option<String>>,
    pub restricted: Option<bool>,
    /// Texts to set or remove in other languages; the others stay.
    pub translations: Vec<TranslationChange>,
}

fn clean_fund_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::validation("name", "must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(DomainError::validation(
            "name",
            "must be at most 200 characters",
        ));
    }
    Ok(name.to_owned())
}

/// Codes are upper case letters, digits and hyphens ("SANTA-ANA-DDF").
fn clean_fund_code(code: &str) -> Result<String, DomainError> {
    let code = code.trim().to_ascii_uppercase();
    if code.is_empty()
        || code.len() > 40
        || !code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(DomainError::validation(
            "code",
            "must be 1 to 40 letters, digits or hyphens",
        ));
    }
    Ok(code)
}

fn fund_snapshot(fund: &fund::Model) -> Value {
    json!({
        "name": fund.name,
        "code": fund.code,
        "description": fund.description,
        "restricted": fund.restricted,
        "translations": fund.translations,
        "archivedAt": fund.archived_at.map(|at| at.to_rfc3339()),
    })
}

async fn ensure_fund_unique(
    db: &impl ConnectionTrait,
    name: Option<&str>,
    code: Option<&str>,
    except: Option<i64>,
) -> Result<(), DomainError> {
    for (field, column, value) in [
        ("name", fund::Column::Name, name),
        ("code", fund::Column::Code, code),
    ] {
        let Some(value) = value else { continue };
        let mut query = fund::Entity::find().filter(column.eq(value));
        if let Some(id) = except {
            query = query.filter(fund::Column::Id.ne(id));
        }
        if query.one(db).await?.is_some() {
            return Err(DomainError::conflict(
                Some(field),
                format!("a fund with this {field} already exists"),
            ));
        }
    }
    Ok(())
}

/// One fund by id, archived or not.
pub async fn find_fund(db: &impl ConnectionTrait, id: i64) -> Result<fund::Model, DomainError> {
    fund::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("fund", id))
}

pub async fn create_fund(
    db: &DatabaseConnection,
    actor: &Actor,
    details: FundDetails,
) -> Result<fund::Model, DomainError> {
    let name = clean_fund_name(&details.name)?;
    let code = clean_fund_code(&details.code)?;
    let fund_translations = translations::apply(None, details.translations, FUND_FIELDS)?;
    let txn = begin_write(db).await?;
    ensure_fund_unique(&txn, Some(&name), Some(&code), None).await?;
    let now = Utc::now();
    let fund = fund::ActiveModel {
        name: Set(name),
        code: Set(code),
        description: Set(details.description.and_then(text::non_blank)),
        restricted: Set(details.restricted),
        translations: Set(fund_translations),
        archived_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record_and_commit(
        txn,
        actor,
        "createFund",
        "fund",
        Some(fund.id.to_string()),
        fund_snapshot(&fund),
    )
    .await?;
    Ok(fund)
}

async fn save_fund(
    txn: crate::db::WriteTransaction,
    actor: &Actor,
    action: &str,
    current: fund::Model,
    updated: fund::Model,
) -> Result<fund::Model, DomainError> {
    let diff = changed_fields(&fund_snapshot(&current), &fund_snapshot(&updated));
    if diff.as_object().is_none_or(serde_json::Map::is_empty) {
        txn.rollback().await?;
        return Ok(current);
    }
    let mut active: fund::ActiveModel = updated.into();
    active.updated_at = Set(Utc::now());
    let fund = active.reset_all().update(&txn).await?;
    audit::record_and_commit(txn, actor, action, "fund", Some(fund.id.to_string()), diff).await?;
    Ok(fund)
}

pub async fn update_fund(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    changes: FundChanges,
) -> Result<fund::Model, DomainError> {
    let name = changes.name.as_deref().map(clean_fund_name).transpose()?;
    let code = changes.code.as_deref().map(clean_fund_code).transpose()?;
    let txn = begin_write(db).await?;
    let current = fund::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::not_found("fund", id))?;
    if current.code == GENERAL_FUND_CODE && code.as_deref().is_some_and(|c| c != GENERAL_FUND_CODE)
    {
        return Err(DomainError::validation(
            "code",
            "the General fund keeps its code",
        ));
    }
    ensure_fund_unique(&txn, name.as_deref(), code.as_deref(), Some(id)).await?;
    let mut updated = current.clone();
    if let Some(name) = name {
        updated.name = name;
    }
    if let Some(code) = code {
        updated.code = code;
    }
    if let Some(description) = changes.description {
        updated.description = description.and_then(text::non_blank);
    }
    if let Some(restricted) = changes.restricted {
        updated.restricted = restricted;
    }
    if !changes.translations.is_empty() {
        updated.translations =
            translations::apply(updated.translations, changes.translations, FUND_FIELDS)?;
    }
    save_fund(txn, actor, "updateFund", current, updated).await
}

/// Stops a fund taking new gifts; its gifts stay where they are.
pub async fn archive_fund(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
) -> Result<fund::Model, DomainError> {
    let txn = begin_write(db).await?;
    let current = fund::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::not_found("fund", id))?;
    if current.code == GENERAL_FUND_CODE {
        return Err(DomainError::conflict(
            Some("id"),
            "the General fund takes unrestricted gifts and cannot be archived",
        ));
    }
    if current.archived_at.is_some() {
        return Err(DomainError::conflict(
            Some("id"),
            "the fund is already archived",
        ));
    }
    let mut updated = current.clone();
    updated.archived_at = Some(Utc::now());
    save_fund(txn, actor, "archiveFund", current, updated).await
}
