//! Importing a donor list. A row is matched to a donor already here by its external id
//! (imported before: left alone), then by email, normalized as the service stores it
//! (the donor here is kept as staff entered it, and takes the row's external id if it
//! had none); any other row becomes a new donor.

use std::collections::HashMap;

use entity::enums::{DonorKind, Language};
use entity::{EmailAddress, donor};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use serde_json::json;

use super::{
    ImportOptions, ImportReport, RowError, Table, finish, parse_choice, parse_flag, read_table,
};
use crate::db::begin_write;
use crate::domain::donors::{self, NewDonor, PostalAddress};
use crate::domain::exports::DONOR_COLUMNS;
use crate::domain::{Actor, DomainError};

/// Columns exports write that an import reads past.
const IGNORED: &[&str] = &["id", "created_at"];

/// One row, parsed.
struct DonorRow {
    row: usize,
    external_id: Option<String>,
    email: Option<EmailAddress>,
    new: NewDonor,
}

fn parse_row(table: &Table, row: usize, record: &csv::StringRecord) -> Result<DonorRow, RowError> {
    let cell = |column: &str| table.cell(row, record, column);
    let display_name = cell("display_name")?
        .ok_or_else(|| RowError::new(row, Some("display_name"), "is required"))?;
    let kind = match cell("kind")? {
        Some(text) => parse_choice(row, "kind", &text, DonorKind::parse, DonorKind::VALUES)?,
        None => DonorKind::Individual,
    };
    let language = match cell("language")? {
        Some(text) => parse_choice(row, "language", &text, Language::parse, Language::VALUES)?,
        None => Language::English,
    };
    let email = match cell("email")? {
        Some(text) => Some(
            EmailAddress::parse(&text)
                .map_err(|error| RowError::new(row, Some("email"), error.to_string()))?,
        ),
        None => None,
    };
    Ok(DonorRow {
        row,
        external_id: cell("external_id")?,
        new: NewDonor {
            kind,
            display_name,
            first_name: cell("first_name")?,
            last_name: cell("last_name")?,
            email: email.as_ref().map(|e| e.as_str().to_owned()),
            phone: cell("phone")?,
            address: PostalAddress {
                line1: cell("address_line1")?,
                line2: cell("address_line2")?,
                city: cell("city")?,
                region: cell("region")?,
                postal_code: cell("postal_code")?,
                country: cell("country")?,
            },
            language,
            email_consent: parse_flag(row, "email_consent", cell("email_consent")?)?
                .unwrap_or(false),
            anonymous: parse_flag(row, "anonymous", cell("anonymous")?)?.unwrap_or(false),
            notes: cell("notes")?,
        },
        email,
    })
}

/// What one row did.
enum Outcome {
    Created,
    Matched,
    AlreadyImported,
}

async fn apply_row(txn: &impl ConnectionTrait, row: DonorRow) -> Result<Outcome, DomainError> {
    if let Some(external_id) = &row.external_id
        && donor::Entity::find()
            .filter(donor::Column::ExternalId.eq(external_id.as_str()))
            .one(txn)
            .await?
            .is_some()
    {
        return Ok(Outcome::AlreadyImported);
    }
    if let Some(email) = &row.email
        && let Some(existing) = donors::find_by_email(txn, email).await?
    {
        match (&existing.external_id, row.external_id) {
            (Some(theirs), Some(_)) => {
                return Err(DomainError::conflict(
                    Some("email"),
                    format!(
                        "donor {} has this email and was imported with external id {theirs:?}",
                        existing.id
                    ),
                ));
            }
            (None, Some(external_id)) => {
                let mut linked: donor::ActiveModel = existing.into();
                linked.external_id = Set(Some(external_id));
                linked.update(txn).await?;
            }
            (_, None) => {}
        }
        return Ok(Outcome::Matched);
    }
    donors::insert_donor(txn, row.new, row.external_id).await?;
    Ok(Outcome::Created)
}

/// Imports the donor list in `bytes` (see the module's rules), with one audit entry for
/// the whole file.
pub async fn import_donors(
    db: &DatabaseConnection,
    actor: &Actor,
    bytes: &[u8],
    options: ImportOptions,
) -> Result<ImportReport, DomainError> {
    let mut report = ImportReport {
        dry_run: options.dry_run,
        ..Default::default()
    };
    let table = match read_table(bytes, DONOR_COLUMNS, IGNORED, &["display_name"]) {
        Ok(table) => table,
        Err(errors) => {
            report.errors = errors;
            return Ok(report);
        }
    };
    report.rows = table.rows.len();
    let mut rows = Vec::new();
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    let mut seen_emails: HashMap<String, usize> = HashMap::new();
    for (row, record) in &table.rows {
        match parse_row(&table, *row, record) {
            Ok(parsed) => {
                let repeat = |seen: &mut HashMap<String, usize>, key: Option<&str>| {
                    key.and_then(|key| seen.insert(key.to_owned(), parsed.row))
                };
                if let Some(first) = repeat(&mut seen_ids, parsed.external_id.as_deref()) {
                    report.errors.push(RowError::new(
                        *row,
                        Some("external_id"),
                        format!("is row {first}'s too"),
                    ));
                } else if let Some(first) =
                    repeat(&mut seen_emails, parsed.email.as_ref().map(|e| e.as_str()))
                {
                    report.errors.push(RowError::new(
                        *row,
                        Some("email"),
                        format!("is row {first}'s too"),
                    ));
                } else {
                    rows.push(parsed);
                }
            }
            Err(error) => report.errors.push(error),
        }
    }

    let txn = begin_write(db).await?;
    for row in rows {
        let number = row.row;
        // Each row in a savepoint, so a refused row leaves the others' work intact.
        let savepoint = txn.begin().await?;
        match apply_row(&savepoint, row).await {
            Ok(outcome) => {
                savepoint.commit().await?;
                match outcome {
                    Outcome::Created => report.created += 1,
                    Outcome::Matched => report.matched += 1,
                    Outcome::AlreadyImported => report.already_imported += 1,
                }
            }
            Err(DomainError::Unexpected(cause)) => return Err(DomainError::Unexpected(cause)),
            Err(error) => {
                savepoint.rollback().await?;
                report.errors.push(RowError::from_domain(number, error));
            }
        }
    }
    finish(txn, actor, "importDonors", &options, report, |report| {
        json!({
            "rows": report.rows,
            "created": report.created,
            "matched": report.matched,
            "alreadyImported": report.already_imported,
            "skipped": report.skipped,
            "errors": report.errors,
        })
    })
    .await
}
