//! Donors: one row per real person or organization.

use chrono::Utc;
use entity::enums::{DonorAliasKind, DonorKind, Language};
use entity::{EmailAddress, donor};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, Set,
};
use serde_json::{Map, Value, json};

use super::audit::changed_fields;
use super::donor_aliases::donor_with_alias;
use super::text;
use super::{Actor, DomainError, audit};
use crate::db::begin_write;

pub async fn find_donor(db: &impl ConnectionTrait, id: i64) -> Result<donor::Model, DomainError> {
    donor::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("donor", id))
}

/// The email of `kind` to the donor, when the donor has a usable address.
pub fn email_to(
    donor: &donor::Model,
    kind: &str,
    key: String,
    payload: serde_json::Value,
) -> Option<mailer::outbox::NewMessage> {
    let email = donor
        .email
        .as_deref()
        .and_then(|e| EmailAddress::parse(e).ok())?;
    Some(mailer::outbox::NewMessage {
        idempotency_key: key,
        kind: kind.to_owned(),
        donor_id: Some(donor.id),
        to_address: email,
        to_name: Some(donor.display_name.clone()),
        language: donor.language,
        payload,
        not_before: None,
    })
}

/// Name and email folded for search: lower case, accents removed ("José" finds "jose").
pub fn search_text(display_name: &str, email: Option<&str>) -> String {
    let mut text = fold_accents(&display_name.to_lowercase());
    if let Some(email) = email {
        text.push(' ');
        text.push_str(&fold_accents(&email.to_lowercase()));
    }
    text
}

/// Replaces the accented Latin letters donors' names commonly carry with their base letter.
pub fn fold_accents(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ā' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'ē' | 'ę' => 'e',
            'í' | 'ì' | 'î' | 'ï' | 'ī' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ō' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'ū' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            'ý' | 'ÿ' => 'y',
            other => other,
        })
        .collect()
}

/// A new donor's details, parsed at the edge except for the checks below.
#[derive(Debug, Clone)]
pub struct NewDonor {
    pub kind: DonorKind,
    pub display_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: PostalAddress,
    pub language: Language,
    pub email_consent: bool,
    pub anonymous: bool,
    pub notes: Option<String>,
}

/// A postal address as typed; every line optional.
#[derive(Debug, Clone, Default)]
pub struct PostalAddress {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// Changes to a donor. `None` leaves a field alone; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct DonorChanges {
    pub kind: Option<DonorKind>,
    pub display_name: Option<String>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub address_line1: Option<Option<String>>,
    pub address_line2: Option<Option<String>>,
    pub city: Option<Option<String>>,
    pub region: Option<Option<String>>,
    pub postal_code: Option<Option<String>>,
    pub country: Option<Option<String>>,
    pub language: Option<Language>,
    pub email_consent: Option<bool>,
    pub anonymous: Option<bool>,
    pub notes: Option<Option<String>>,
}

const MAX_TEXT: usize = 200;

fn clean_name(field: &str, text: &str) -> Result<String, DomainError> {
    text::required_line(field, text, MAX_TEXT)
}

/// Trims optional one-line text; blank becomes `None`.
fn clean_optional(field: &str, text: Option<String>) -> Result<Option<String>, DomainError> {
    text::optional_line(field, text, MAX_TEXT)
}

fn clean_email(text: Option<String>) -> Result<Option<String>, DomainError> {
    match clean_optional("email", text)? {
        Some(text) => EmailAddress::parse(&text)
            .map(|email| Some(email.as_str().to_owned()))
            .map_err(|error| DomainError::validation("email", error.to_string())),
        None => Ok(None),
    }
}

fn clean_country(text: Option<String>) -> Result<Option<String>, DomainError> {
    match clean_optional("country", text)? {
        Some(code) if code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()) => {
            Ok(Some(code.to_ascii_uppercase()))
        }
        Some(_) => Err(DomainError::validation(
            "country",
            "must be a two-letter ISO country code such as US or MX",
        )),
        None => Ok(None),
    }
}

/// Refuses an email another donor already has, whatever its capitalisation.
async fn ensure_email_free(
    db: &impl ConnectionTrait,
    email: &str,
    except: Option<i64>,
) -> Result<(), DomainError> {
    let mut query = donor::Entity::find()
        .filter(Expr::expr(Func::lower(Expr::col(donor::Column::Email))).eq(email));
    if let Some(id) = except {
        query = query.filter(donor::Column::Id.ne(id));
    }
    let alias_owner = donor_with_alias(db, DonorAliasKind::Email, email)
        .await?
        .filter(|owner| Some(*owner) != except);
    let holder = match query.one(db).await? {
        Some(found) => Some(found.id),
        None => alias_owner,
    };
    match holder {
        Some(existing) => Err(DomainError::conflict_with(
            "email",
            "a donor with this email already exists",
            existing,
        )),
        None => Ok(()),
    }
}

/// Checks a new donor's details and inserts the donor in the caller's transaction:
/// the one way a donor row is made from typed details (staff, imports). An email
/// another donor has is a conflict.
pub async fn insert_donor(
    txn: &impl ConnectionTrait,
    new: NewDonor,
    external_id: Option<String>,
) -> Result<donor::Model, DomainError> {
    let display_name = clean_name("displayName", &new.display_name)?;
    let email = clean_email(new.email)?;
    let first_name = clean_optional("firstName", new.first_name)?;
    let last_name = clean_optional("lastName", new.last_name)?;
    let phone = clean_optional("phone", new.phone)?;
    let country = clean_country(new.address.country)?;
    let notes = new.notes.and_then(text::non_blank);
    let external_id = clean_optional("externalId", external_id)?;

    if let Some(email) = &email {
        ensure_email_free(txn, email, None).await?;
    }
    let now = Utc::now();
    Ok(donor::ActiveModel {
        kind: Set(new.kind),
        search_text: Set(search_text(&display_name, email.as_deref())),
        display_name: Set(display_name),
        first_name: Set(first_name),
        last_name: Set(last_name),
        email: Set(email),
        phone: Set(phone),
        address_line1: Set(clean_optional("addressLine1", new.address.line1)?),
        address_line2: Set(clean_optional("addressLine2", new.address.line2)?),
        city: Set(clean_optional("city", new.address.city)?),
        region: Set(clean_optional("region", new.address.region)?),
        postal_code: Set(clean_optional("postalCode", new.address.postal_code)?),
        country: Set(country),
        language: Set(new.language),
        email_consent: Set(new.email_consent),
        anonymous: Set(new.anonymous),
        notes: Set(notes),
        external_id: Set(external_id),
        created_at: Set(now),
        updated_at: Set(now),
        link_version: Set(0),
        ..Default::default()
    }
    .insert(txn)
    .await?)
}

/// The donor with this email, compared as the service stores emails (normalized,
/// any capitalisation).
pub async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &EmailAddress,
) -> Result<Option<donor::Model>, DomainError> {
    Ok(donor::Entity::find()
        .filter(Expr::expr(Func::lower(Expr::col(donor::Column::Email))).eq(email.as_str()))
        .one(db)
        .await?)
}

/// Records a new donor and the audit entry for it.
pub async fn create_donor(
    db: &DatabaseConnection,
    actor: &Actor,
    new: NewDonor,
) -> Result<donor::Model, DomainError> {
    let txn = begin_write(db).await?;
    let donor = insert_donor(&*txn, new, None).await?;
    audit::record_and_commit(
        txn,
        actor,
        "createDonor",
        "donor",
        Some(donor.id.to_string()),
        donor_snapshot(&donor),
    )
    .await?;
    Ok(donor)
}

/// The fields staff set, as the audit log keeps them.
fn donor_snapshot(donor: &donor::Model) -> Value {
    json!({
        "kind": donor.kind.as_str(),
        "displayName": donor.display_name,
        "firstName": donor.first_name,
        "lastName": donor.last_name,
        "email": donor.email,
        "phone": donor.phone,
        "addressLine1": donor.address_line1,
        "addressLine2": donor.address_line2,
        "city": donor.city,
        "region": donor.region,
        "postalCode": donor.postal_code,
        "country": donor.country,
        "language": donor.language.as_str(),
        "emailConsent": donor.email_consent,
        "anonymous": donor.anonymous,
        "notes": donor.notes,
    })
}

/// Applies changes to a donor; the audit entry lists the fields that changed.
pub async fn update_donor(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    changes: DonorChanges,
) -> Result<donor::Model, DomainError> {
    let txn = begin_write(db).await?;
    let donor = apply_donor_changes(&*txn, actor, "updateDonor", id, changes).await?;
    txn.commit().await?;
    Ok(donor)
}

/// Applies changes to a donor in the caller's transaction, recording them in the audit
/// log under `action` with the fields that changed; changes nothing (and records
/// nothing) when no field differs.
pub async fn apply_donor_changes(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    id: i64,
    changes: DonorChanges,
) -> Result<donor::Model, DomainError> {
    let display_name = changes
        .display_name
        .map(|name| clean_name("displayName", &name))
        .transpose()?;
    let email = changes.email.map(clean_email).transpose()?;
    let country = changes.country.map(clean_country).transpose()?;
    let optional = |field: &str, value: Option<Option<String>>| {
        value.map(|v| clean_optional(field, v)).transpose()
    };
    let first_name = optional("firstName", changes.first_name)?;
    let last_name = optional("lastName", changes.last_name)?;
    let phone = optional("phone", changes.phone)?;
    let line1 = optional("addressLine1", changes.address_line1)?;
    let line2 = optional("addressLine2", changes.address_line2)?;
    let city = optional("city", changes.city)?;
    let region = optional("region", changes.region)?;
    let postal_code = optional("postalCode", changes.postal_code)?;
    let notes = changes.notes.map(|n| n.and_then(text::non_blank));

    let current = donor::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| DomainError::not_found("donor", id))?;
    if let Some(Some(email)) = &email {
        ensure_email_free(txn, email, Some(id)).await?;
    }
    let before = donor_snapshot(&current);
    let mut updated = current.clone();
    if let Some(kind) = changes.kind {
        updated.kind = kind;
    }
    if let Some(name) = display_name {
        updated.display_name = name;
    }
    if let Some(email) = email {
        updated.email = email;
    }
    if let Some(country) = country {
        updated.country = country;
    }
    for (slot, value) in [
        (&mut updated.first_name, first_name),
        (&mut updated.last_name, last_name),
        (&mut updated.phone, phone),
        (&mut updated.address_line1, line1),
        (&mut updated.address_line2, line2),
        (&mut updated.city, city),
        (&mut updated.region, region),
        (&mut updated.postal_code, postal_code),
        (&mut updated.notes, notes),
    ] {
        if let Some(value) = value {
            *slot = value;
        }
    }
    if let Some(language) = changes.language {
        updated.language = language;
    }
    if let Some(consent) = changes.email_consent {
        updated.email_consent = consent;
    }
    if let Some(anonymous) = changes.anonymous {
        updated.anonymous = anonymous;
    }
    let diff = changed_fields(&before, &donor_snapshot(&updated));
    if diff.as_object().is_none_or(Map::is_empty) {
        return Ok(current);
    }
    let mut active: donor::ActiveModel = updated.clone().into();
    active.search_text = Set(search_text(&updated.display_name, updated.email.as_deref()));
    active.updated_at = Set(Utc::now());
    // Every column is written from `updated`, so mark them all as changed, except the
    // link version, which only revoking links changes.
    let mut active = active.reset_all();
    active.link_version = sea_orm::ActiveValue::NotSet;
    let donor = active.update(txn).await?;
    audit::record(txn, actor, action, "donor", Some(id.to_string()), diff).await?;
    Ok(donor)
}

/// The version every link of the donor is signed with now; `None` when there is no
/// such donor.
pub async fn link_version(
    db: &impl ConnectionTrait,
    donor_id: i64,
) -> Result<Option<i64>, DomainError> {
    Ok(donor::Entity::find_by_id(donor_id)
        .select_only()
        .column(donor::Column::LinkVersion)
        .into_tuple::<i64>()
        .one(db)
        .await?)
}

/// Refuses every signed link the donor was sent until now (self-service page, receipt
/// downloads, appeal unsubscribe and personal donate links) by raising the version they
/// are signed with; links made afterwards carry the new version and work. For a donor
/// whose email was read by someone else, or who forwarded a link they should not have.
pub async fn revoke_donor_links(
    db: &DatabaseConnection,
    actor: &Actor,
    donor_id: i64,
) -> Result<donor::Model, DomainError> {
    let txn = begin_write(db).await?;
    let found = find_donor(&txn, donor_id).await?;
    donor::Entity::update_many()
        .col_expr(
            donor::Column::LinkVersion,
            Expr::col(donor::Column::LinkVersion).add(1),
        )
        .col_expr(donor::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(donor::Column::Id.eq(donor_id))
        .exec(&txn)
        .await?;
    let revoked = find_donor(&txn, donor_id).await?;
    audit::record_and_commit(
        txn,
        actor,
        "revokeDonorLinks",
        "donor",
        Some(donor_id.to_string()),
        json!({ "linkVersion": { "from": found.link_version, "to": revoked.link_version } }),
    )
    .await?;
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_ignores_case_and_accents() {
        assert_eq!(
            search_text("José Núñez", Some("jose@example.org")),
            "jose nunez jose@example.org"
        );
    }
}
