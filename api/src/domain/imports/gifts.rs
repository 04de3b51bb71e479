//! Importing a gift history. Each row names its donor by external id (as imported
//! with the donor list) or by email; the fund by name or code (General when blank);
//! the appeal by source code. Amounts are read as the service reads any typed amount,
//! in English style: `1,250.00`, and `25,50` as twenty-five fifty (quoted, since it
//! holds a comma); `1.000` is refused as ambiguous. Only succeeded, refunded and
//! partially refunded gifts are history; pending, failed and disputed ones are refused.
//! Receipts are not issued unless asked for, by the option or a row's `issue_receipt`.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use entity::enums::{GiftStatus, PaymentMethod, TributeKind};
use entity::{Currency, Money, NumberStyle, appeal, donor, fund, gift};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use serde_json::json;

use super::{
    ImportOptions, ImportReport, RowError, Table, finish, parse_choice, parse_flag, read_table,
};
use crate::config::Organization;
use crate::db::begin_write;
use crate::domain::exports::GIFT_COLUMNS;
use crate::domain::gifts::{Acknowledge, Benefits, NewGift, Tribute, record_gift};
use crate::domain::receipts::{hold_tax_year, on_gifts_received};
use crate::domain::{Actor, DomainError, donors};

/// Columns exports write that an import reads past, and the one only imports read.
const IGNORED: &[&str] = &["id", "donor_name", "campaign", "pledge_id"];
const ISSUE_RECEIPT: &str = "issue_receipt";

/// The statuses a history holds.
const HISTORY_STATUSES: [GiftStatus; 3] = [
    GiftStatus::Succeeded,
    GiftStatus::Refunded,
    GiftStatus::PartiallyRefunded,
];

/// The funds and appeals rows name, read once.
struct Lookups {
    /// By lower-case name and by lower-case code.
    funds: HashMap<String, fund::Model>,
    general: Option<i64>,
    /// By upper-case source code.
    appeals: HashMap<String, appeal::Model>,
}

impl Lookups {
    async fn load(db: &impl ConnectionTrait) -> Result<Lookups, DomainError> {
        let mut funds = HashMap::new();
        let mut general = None;
        for fund in fund::Entity::find().all(db).await? {
            if fund.code == "GENERAL" {
                general = Some(fund.id);
            }
            funds.insert(fund.code.to_lowercase(), fund.clone());
            funds.insert(fund.name.to_lowercase(), fund);
        }
        let appeals = appeal::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|a| (a.source_code.to_uppercase(), a))
            .collect();
        Ok(Lookups {
            funds,
            general,
            appeals,
        })
    }
}

/// Who a row says gave it.
enum DonorRef {
    External(String),
    Email(String),
}

struct GiftRow {
    row: usize,
    donor: DonorRef,
    donor_email: Option<String>,
    refunded_minor: i64,
    gift: NewGift,
}

/// An amount cell, read as the service reads typed amounts (English style).
fn parse_amount(
    row: usize,
    column: &str,
    text: &str,
    currency: Currency,
) -> Result<Money, RowError> {
    Money::parse_typed(text, currency, NumberStyle::ENGLISH)
        .map_err(|error| RowError::new(row, Some(column), error.to_string()))
}

/// An amount that may be zero (what was refunded, benefits received): blank, or zero
/// written any way (`0`, `0.00`), is zero.
fn parse_optional_amount(
    row: usize,
    column: &str,
    text: Option<String>,
    currency: Currency,
) -> Result<i64, RowError> {
    match text {
        None => Ok(0),
        Some(text) if text.chars().all(|c| matches!(c, '0' | '.' | ',')) => Ok(0),
        Some(text) => Ok(parse_amount(row, column, &text, currency)?.amount_minor()),
    }
}

/// A moment (`2026-01-05T18:00:00Z`) or a day (`2026-01-05`, noon in the organization's
/// time zone, so it falls in the right tax year).
fn parse_received_at(
    row: usize,
    org: &Organization,
    text: &str,
) -> Result<DateTime<Utc>, RowError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| {
            day.and_time(NaiveTime::MIN + chrono::Duration::hours(12))
                .and_local_timezone(org.timezone)
                .earliest()
        })
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| {
            RowError::new(
                row,
                Some("received_at"),
                format!("{text:?} is not a date (2026-01-05) or a time (2026-01-05T18:00:00Z)"),
            )
        })
}

fn parse_row(
    table: &Table,
    row: usize,
    record: &csv::StringRecord,
    org: &Organization,
    org_currency: Currency,
    lookups: &Lookups,
    options: ImportOptions,
) -> Result<GiftRow, RowError> {
    let cell = |column: &str| table.cell(row, record, column);
    let required =
        |column: &str| cell(column)?.ok_or_else(|| RowError::new(row, Some(column), "is required"));
    let donor_email = cell("donor_email")?;
    let donor = match (cell("donor_external_id")?, &donor_email) {
        (Some(external), _) => DonorRef::External(external),
        (None, Some(email)) => DonorRef::Email(email.clone()),
        (None, None) => {
            return Err(RowError::new(
                row,
                Some("donor_external_id"),
                "name the donor by donor_external_id or donor_email",
            ));
        }
    };
    let currency = match cell("currency")? {
        Some(code) => Currency::parse(&code.to_uppercase())
            .map_err(|error| RowError::new(row, Some("currency"), error.to_string()))?,
        None => org_currency,
    };
    if currency != org_currency {
        return Err(RowError::new(
            row,
            Some("currency"),
            format!("the books are kept in {}", org_currency.code()),
        ));
    }
    let amount = parse_amount(row, "amount", &required("amount")?, currency)?;
    let method = parse_choice(
        row,
        "method",
        &required("method")?,
        PaymentMethod::parse,
        PaymentMethod::VALUES,
    )?;
    let status = match cell("status")? {
        Some(text) => parse_choice(row, "status", &text, GiftStatus::parse, GiftStatus::VALUES)?,
        None => GiftStatus::Succeeded,
    };
    if !HISTORY_STATUSES.contains(&status) {
        return Err(RowError::new(
            row,
            Some("status"),
            "only succeeded, refunded and partially_refunded gifts are imported",
        ));
    }
    let refunded_minor = match (status, cell("refunded")?) {
        (GiftStatus::Refunded, None) => amount.amount_minor(),
        (_, text) => parse_optional_amount(row, "refunded", text, currency)?,
    };
    let refund_fits = match status {
        GiftStatus::Refunded => refunded_minor == amount.amount_minor(),
        GiftStatus::PartiallyRefunded => {
            refunded_minor > 0 && refunded_minor < amount.amount_minor()
        }
        _ => refunded_minor == 0,
    };
    if !refund_fits {
        return Err(RowError::new(
            row,
            Some("refunded"),
            format!("does not fit the status {status}"),
        ));
    }
    let fund_id = match cell("fund")? {
        Some(name) => lookups
            .funds
            .get(&name.to_lowercase())
            .map(|f| f.id)
            .ok_or_else(|| {
                RowError::new(
                    row,
                    Some("fund"),
                    format!("no fund is named {name:?}; create it first"),
                )
            })?,
        None => lookups.general.ok_or_else(|| {
            RowError::new(row, Some("fund"), "there is no General fund to default to")
        })?,
    };
    let appeal = match cell("appeal_code")? {
        Some(code) => Some(lookups.appeals.get(&code.to_uppercase()).ok_or_else(|| {
            RowError::new(
                row,
                Some("appeal_code"),
                format!("no appeal has the source code {code:?}; create it first"),
            )
        })?),
        None => None,
    };
    let tribute = match (cell("tribute_kind")?, cell("tribute_name")?) {
        (None, None) => None,
        (Some(kind), Some(name)) => Some(Tribute {
            kind: parse_choice(
                row,
                "tribute_kind",
                &kind,
                TributeKind::parse,
                TributeKind::VALUES,
            )?,
            name,
            notify_name: None,
            notify_email: None,
            notify_address: None,
            show_amount: false,
        }),
        (None, Some(_)) => {
            return Err(RowError::new(
                row,
                Some("tribute_kind"),
                "is required with tribute_name",
            ));
        }
        (Some(_), None) => {
            return Err(RowError::new(
                row,
                Some("tribute_name"),
                "is required with tribute_kind",
            ));
        }
    };
    let benefits_minor =
        parse_optional_amount(row, "benefits_value", cell("benefits_value")?, currency)?;
    let benefits = (benefits_minor > 0).then(|| -> Result<Benefits, RowError> {
        Ok(Benefits {
            value_minor: benefits_minor,
            description: cell("benefits_description")?.unwrap_or_default(),
        })
    });
    let acknowledge =
        parse_flag(row, ISSUE_RECEIPT, cell(ISSUE_RECEIPT)?)?.unwrap_or(options.issue_receipts);

    let mut gift = NewGift::new(
        0,
        amount,
        method,
        status,
        fund_id,
        parse_received_at(row, org, &required("received_at")?)?,
    );
    gift.appeal_id = appeal.map(|a| a.id);
    gift.campaign_id = appeal.map(|a| a.campaign_id);
    gift.check_number = cell("check_number")?;
    gift.tribute = tribute;
    gift.benefits = benefits.transpose()?;
    gift.anonymous = parse_flag(row, "anonymous", cell("anonymous")?)?.unwrap_or(false);
    gift.notes = cell("notes")?;
    gift.external_id = cell("external_id")?;
    // Each donor's statement is re-issued once, after every row (`import_gifts`).
    gift.acknowledge = if acknowledge {
        Acknowledge::NowStatementsAfter
    } else {
        Acknowledge::Never
    };
    Ok(GiftRow {
        row,
        donor,
        donor_email,
        refunded_minor,
        gift,
    })
}

/// What one row did: imported (whether a receipt was issued, and the donor and tax year
/// of a gift acknowledged, whose statement may need re-issuing), or seen before.
enum Outcome {
    Created {
        receipted: bool,
        acknowledged: Option<(i64, i32)>,
    },
    AlreadyImported,
}

async fn find_donor(
    txn: &impl ConnectionTrait,
    reference: &DonorRef,
) -> Result<donor::Model, DomainError> {
    match reference {
        DonorRef::External(external_id) => donor::Entity::find()
            .filter(donor::Column::ExternalId.eq(external_id.as_str()))
            .one(txn)
            .await?
            .ok_or_else(|| {
                DomainError::validation(
                    "donorExternalId",
                    format!("no donor has the external id {external_id:?}; import donors first"),
                )
            }),
        DonorRef::Email(text) => {
            let email = entity::EmailAddress::parse(text)
                .map_err(|error| DomainError::validation("donorEmail", error.to_string()))?;
            donors::find_by_email(txn, &email).await?.ok_or_else(|| {
                DomainError::validation(
                    "donorEmail",
                    format!(
                        "no donor has the email {:?}; import donors first",
                        email.as_str()
                    ),
                )
            })
        }
    }
}

async fn apply_row(
    txn: &sea_orm::DatabaseTransaction,
    org: &Organization,
    row: GiftRow,
) -> Result<Outcome, DomainError> {
    if let Some(external_id) = &row.gift.external_id
        && gift::Entity::find()
            .filter(gift::Column::ExternalId.eq(external_id.as_str()))
            .one(txn)
            .await?
            .is_some()
    {
        return Ok(Outcome::AlreadyImported);
    }
    // A donor named by external id who is not here yet may still be found by email.
    let donor = match (find_donor(txn, &row.donor).await, &row.donor_email) {
        (Ok(donor), _) => donor,
        (Err(DomainError::Validation { .. }), Some(email))
            if matches!(row.donor, DonorRef::External(_)) =>
        {
            find_donor(txn, &DonorRef::Email(email.clone())).await?
        }
        (Err(error), _) => return Err(error),
    };
    let mut gift = row.gift;
    gift.donor_id = donor.id;
    let acknowledged = gift.acknowledged_year(org).map(|year| (donor.id, year));
    let recorded = record_gift(txn, org, gift).await?;
    if row.refunded_minor > 0 {
        let mut refunded: gift::ActiveModel = recorded.gift.into();
        refunded.refunded_minor = Set(row.refunded_minor);
        refunded.update(txn).await?;
    }
    Ok(Outcome::Created {
        receipted: recorded.receipt.is_some(),
        acknowledged,
    })
}

/// Imports the gift history in `bytes` (see the module's rules), with one audit entry
/// for the whole file.
pub async fn import_gifts(
    db: &DatabaseConnection,
    org: &Organization,
    org_currency: Currency,
    actor: &Actor,
    bytes: &[u8],
    options: ImportOptions,
) -> Result<ImportReport, DomainError> {
    let mut report = ImportReport {
        dry_run: options.dry_run,
        ..Default::default()
    };
    let mut known: Vec<&str> = GIFT_COLUMNS.to_vec();
    known.push(ISSUE_RECEIPT);
    let table = match read_table(bytes, &known, IGNORED, &["amount", "method", "received_at"]) {
        Ok(table) => table,
        Err(errors) => {
            report.errors = errors;
            return Ok(report);
        }
    };
    report.rows = table.rows.len();
    let lookups = Lookups::load(db).await?;
    let mut rows = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (row, record) in &table.rows {
        match parse_row(&table, *row, record, org, org_currency, &lookups, options) {
            Ok(parsed) => match &parsed.gift.external_id {
                Some(id) if !seen.insert(id.clone()) => report.errors.push(RowError::new(
                    *row,
                    Some("external_id"),
                    "appears on an earlier row too",
                )),
                _ => rows.push(parsed),
            },
            Err(error) => report.errors.push(error),
        }
    }

    let txn = begin_write(db).await?;
    // Every tax year the rows receipt is held before the first row, earliest first, as
    // everything else that numbers several years holds them: two imports of the same
    // years, in any order of rows, never each hold a year the other waits for.
    let years: BTreeSet<i32> = rows
        .iter()
        .filter_map(|row| row.gift.acknowledged_year(org))
        .collect();
    for &year in &years {
        hold_tax_year(&txn, year).await?;
    }
    let mut acknowledged = BTreeSet::new();
    for row in rows {
        let number = row.row;
        // Each row in a savepoint, so a refused row leaves the others' work intact.
        let savepoint = txn.begin().await?;
        match apply_row(&savepoint, org, row).await {
            Ok(outcome) => {
                savepoint.commit().await?;
                match outcome {
                    Outcome::Created {
                        receipted,
                        acknowledged: gift,
                    } => {
                        report.created += 1;
                        report.receipts_issued += usize::from(receipted);
                        acknowledged.extend(gift);
                    }
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
    on_gifts_received(&txn, org, &acknowledged).await?;
    finish(txn, actor, "importGifts", &options, report, |report| {
        json!({
            "rows": report.rows,
            "created": report.created,
            "alreadyImported": report.already_imported,
            "receiptsIssued": report.receipts_issued,
            "skipped": report.skipped,
            "errors": report.errors,
        })
    })
    .await
}
