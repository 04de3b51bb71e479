//! Exports: every donor, gift or pledge matching a filter, as a CSV file. Asking for one
//! is audited and answers a signed link that expires; the audit entry holds what was
//! asked, so the link carries only its id. The file is written when the link is opened,
//! a page of rows at a time read through the primary key, so memory stays the same
//! whether the organization has a hundred donors or a hundred thousand.
//!
//! The columns are the import template's (see `imports`), plus a few that say where a
//! row came from, so a file exported here imports elsewhere as it is.

use std::collections::HashMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use entity::money::NumberStyle;
use entity::{appeal, audit_log, campaign, donor, fund, gift, pledge};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::batch_reads::rows_by_id;
use super::csv_export::CsvFile;
use super::donor_search::{self, DonorFilter};
use super::gift_search::{self, GiftFilter};
use super::pledges::{self, PledgeFilter};
use super::{Actor, DomainError, audit};
use crate::db::begin_write;

/// How many hours an export link opens after it is made.
pub const LINK_VALID_HOURS: i64 = 1;

/// Rows read and written at a time.
const PAGE_ROWS: u64 = 500;

/// The audit entity of an export asked for.
const AUDIT_ENTITY: &str = "export";

/// The donor file's columns, in order.
pub const DONOR_COLUMNS: &[&str] = &[
    "id",
    "external_id",
    "kind",
    "display_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "language",
    "email_consent",
    "anonymous",
    "notes",
    "created_at",
];

/// The gift file's columns, in order.
pub const GIFT_COLUMNS: &[&str] = &[
    "id",
    "external_id",
    "donor_external_id",
    "donor_email",
    "donor_name",
    "amount",
    "currency",
    "refunded",
    "status",
    "method",
    "fund",
    "appeal_code",
    "campaign",
    "pledge_id",
    "received_at",
    "check_number",
    "anonymous",
    "tribute_kind",
    "tribute_name",
    "benefits_value",
    "benefits_description",
    "notes",
];

/// The pledge file's columns, in order.
pub const PLEDGE_COLUMNS: &[&str] = &[
    "id",
    "donor_external_id",
    "donor_email",
    "donor_name",
    "source",
    "status",
    "installment",
    "currency",
    "frequency",
    "starts_on",
    "ends_on",
    "installments_total",
    "fund",
    "appeal_code",
    "created_at",
];

/// What an export holds: one kind of record and the filter it was asked with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "filter", rename_all = "snake_case")]
pub enum ExportRequest {
    Donors(DonorFilter),
    Gifts(GiftFilter),
    Pledges(PledgeFilter),
}

impl ExportRequest {
    /// The mutation that asks for it, as the audit log names it.
    fn action(&self) -> &'static str {
        match self {
            ExportRequest::Donors(_) => "exportDonors",
            ExportRequest::Gifts(_) => "exportGifts",
            ExportRequest::Pledges(_) => "exportPledges",
        }
    }

    fn columns(&self) -> &'static [&'static str] {
        match self {
            ExportRequest::Donors(_) => DONOR_COLUMNS,
            ExportRequest::Gifts(_) => GIFT_COLUMNS,
            ExportRequest::Pledges(_) => PLEDGE_COLUMNS,
        }
    }

    fn noun(&self) -> &'static str {
        match self {
            ExportRequest::Donors(_) => "donors",
            ExportRequest::Gifts(_) => "gifts",
            ExportRequest::Pledges(_) => "pledges",
        }
    }
}

/// An export asked for: its link (relative to the public URL) and when it stops opening.
#[derive(Debug, Clone)]
pub struct ExportLink {
    pub path: String,
    pub expires_at: DateTime<Utc>,
}

/// The subject an export's link signs.
fn link_subject(id: i64) -> String {
    format!("export:{id}")
}

/// Records that `actor` asked for an export (the audit entry keeps the filter) and
/// answers its signed link, valid for [`LINK_VALID_HOURS`].
pub async fn request_export(
    db: &DatabaseConnection,
    actor: &Actor,
    key: &str,
    request: ExportRequest,
) -> Result<ExportLink, DomainError> {
    let txn = begin_write(db).await?;
    let entry = audit::record_entry(
        &txn,
        actor,
        request.action(),
        AUDIT_ENTITY,
        None,
        json!({ "request": request }),
    )
    .await?;
    txn.commit().await?;
    let expires_at = Utc::now() + Duration::hours(LINK_VALID_HOURS);
    let expires = expires_at.timestamp();
    let signature = mailer::links::staff_link_signature(key, &link_subject(entry.id), expires);
    Ok(ExportLink {
        path: format!(
            "exports/{}.csv?expires={expires}&signature={signature}",
            entry.id
        ),
        expires_at,
    })
}

/// Why an export link does not open.
#[derive(Debug)]
pub enum ExportLinkRefused {
    /// Altered, expired, or for no export.
    NotValid,
    Failed(DomainError),
}

/// The export a link names, if its signature is right and it has not expired.
pub async fn open_export(
    db: &impl ConnectionTrait,
    key: &str,
    id: &str,
    expires: &str,
    signature: &str,
    now: DateTime<Utc>,
) -> Result<(i64, ExportRequest), ExportLinkRefused> {
    let (Some(id), Some(expires)) = (
        mailer::links::parse_number(id),
        mailer::links::parse_number(expires),
    ) else {
        return Err(ExportLinkRefused::NotValid);
    };
    if !mailer::links::staff_link_is_valid(key, &link_subject(id), expires, signature, now) {
        return Err(ExportLinkRefused::NotValid);
    }
    let entry = audit_log::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(|error| ExportLinkRefused::Failed(error.into()))?
        .filter(|entry| entry.entity == AUDIT_ENTITY)
        .ok_or(ExportLinkRefused::NotValid)?;
    let request = serde_json::from_value(entry.changes["request"].clone()).map_err(|error| {
        ExportLinkRefused::Failed(DomainError::Unexpected(anyhow::Error::new(error)))
    })?;
    Ok((id, request))
}

/// The file name a browser saves an export as.
pub fn file_name(id: i64, request: &ExportRequest) -> String {
    format!("{}-export-{id}.csv", request.noun())
}

/// The external id an exported donor carries: the one they were imported with, or this
/// service's own id, so the gifts file can name its donors and a file imported
/// elsewhere keeps its links.
pub fn donor_external_id(donor: &donor::Model) -> String {
    donor
        .external_id
        .clone()
        .unwrap_or_else(|| format!("donor-{}", donor.id))
}

/// The external id an exported gift carries, as for donors.
pub fn gift_external_id(gift: &gift::Model) -> String {
    gift.external_id
        .clone()
        .unwrap_or_else(|| format!("gift-{}", gift.id))
}

/// An amount in minor units as exports write it and imports read it: `1,250.00`.
pub fn amount_text(amount_minor: i64) -> String {
    NumberStyle::ENGLISH.format_minor(amount_minor)
}

fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// Names of the small tables a gift or pledge row refers to, read once per file.
struct Names {
    funds: HashMap<i64, String>,
    appeals: HashMap<i64, String>,
    campaigns: HashMap<i64, String>,
}

impl Names {
    async fn load(db: &impl ConnectionTrait) -> Result<Names, DomainError> {
        Ok(Names {
            funds: fund::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|f| (f.id, f.name))
                .collect(),
            appeals: appeal::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|a| (a.id, a.source_code))
                .collect(),
            campaigns: campaign::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|c| (c.id, c.name))
                .collect(),
        })
    }

    fn of(map: &HashMap<i64, String>, id: Option<i64>) -> String {
        id.and_then(|id| map.get(&id).cloned()).unwrap_or_default()
    }
}

/// An export being written: the next part is the header, then each page of rows.
pub struct ExportCursor {
    request: ExportRequest,
    after: Option<i64>,
    names: Option<Names>,
    done: bool,
}

impl ExportCursor {
    pub fn new(request: ExportRequest) -> Self {
        ExportCursor {
            request,
            after: None,
            names: None,
            done: false,
        }
    }

    /// The next part of the file, or `None` when it is all written.
    pub async fn next_part(
        &mut self,
        db: &impl ConnectionTrait,
    ) -> Result<Option<Vec<u8>>, DomainError> {
        if self.done {
            return Ok(None);
        }
        let Some(after) = self.after else {
            self.after = Some(0);
            let header = CsvFile::with_header(self.request.columns())?;
            return Ok(Some(header.finish()?.into_bytes()));
        };
        let mut part = CsvFile::continuation();
        let (rows, last) = match &self.request {
            ExportRequest::Donors(filter) => {
                let donors = donor_search::donors_after(db, filter, after, PAGE_ROWS).await?;
                for donor in &donors {
                    part.row(donor_row(donor))?;
                }
                (donors.len(), donors.last().map(|d| d.id))
            }
            ExportRequest::Gifts(filter) => {
                let gifts = gift_search::gifts_after(db, filter, after, PAGE_ROWS).await?;
                let donors = donors_of(db, gifts.iter().map(|g| g.donor_id)).await?;
                let names = self.names(db).await?;
                for gift in &gifts {
                    part.row(gift_row(gift, donors.get(&gift.donor_id), names))?;
                }
                (gifts.len(), gifts.last().map(|g| g.id))
            }
            ExportRequest::Pledges(filter) => {
                let pledges = pledges::pledges_after(db, filter, after, PAGE_ROWS).await?;
                let donors = donors_of(db, pledges.iter().map(|p| p.donor_id)).await?;
                let names = self.names(db).await?;
                for pledge in &pledges {
                    part.row(pledge_row(pledge, donors.get(&pledge.donor_id), names))?;
                }
                (pledges.len(), pledges.last().map(|p| p.id))
            }
        };
        if rows < PAGE_ROWS as usize {
            self.done = true;
        }
        self.after = last.or(self.after);
        if rows == 0 {
            return Ok(None);
        }
        Ok(Some(part.into_bytes()?))
    }

    async fn names(&mut self, db: &impl ConnectionTrait) -> Result<&Names, DomainError> {
        if self.names.is_none() {
            self.names = Some(Names::load(db).await?);
        }
        self.names
            .as_ref()
            .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("names were just loaded")))
    }
}

async fn donors_of(
    db: &impl ConnectionTrait,
    ids: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, donor::Model>, DomainError> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(rows_by_id::<donor::Entity>(db, donor::Column::Id, &ids)
        .await?
        .into_iter()
        .map(|d| (d.id, d))
        .collect())
}

fn donor_row(donor: &donor::Model) -> Vec<String> {
    vec![
        donor.id.to_string(),
        donor_external_id(donor),
        donor.kind.as_str().to_owned(),
        donor.display_name.clone(),
        text(&donor.first_name),
        text(&donor.last_name),
        text(&donor.email),
        text(&donor.phone),
        text(&donor.address_line1),
        text(&donor.address_line2),
        text(&donor.city),
        text(&donor.region),
        text(&donor.postal_code),
        text(&donor.country),
        donor.language.as_str().to_owned(),
        donor.email_consent.to_string(),
        donor.anonymous.to_string(),
        text(&donor.notes),
        time_text(donor.created_at),
    ]
}

/// Who a gift or pledge row names: external id, email, name.
fn donor_columns(donor: Option<&donor::Model>) -> [String; 3] {
    match donor {
        Some(donor) => [
            donor_external_id(donor),
            text(&donor.email),
            donor.display_name.clone(),
        ],
        None => Default::default(),
    }
}

fn gift_row(gift: &gift::Model, donor: Option<&donor::Model>, names: &Names) -> Vec<String> {
    let [donor_external_id, donor_email, donor_name] = donor_columns(donor);
    vec![
        gift.id.to_string(),
        gift_external_id(gift),
        donor_external_id,
        donor_email,
        donor_name,
        amount_text(gift.amount_minor),
        gift.currency.clone(),
        amount_text(gift.refunded_minor),
        gift.status.as_str().to_owned(),
        gift.method.as_str().to_owned(),
        Names::of(&names.funds, Some(gift.fund_id)),
        Names::of(&names.appeals, gift.appeal_id),
        Names::of(&names.campaigns, gift.campaign_id),
        gift.pledge_id.map(|id| id.to_string()).unwrap_or_default(),
        time_text(gift.received_at),
        text(&gift.check_number),
        gift.anonymous.to_string(),
        gift.tribute_kind
            .map(|k| k.as_str().to_owned())
            .unwrap_or_default(),
        text(&gift.tribute_name),
        if gift.benefits_minor > 0 {
            amount_text(gift.benefits_minor)
        } else {
            String::new()
        },
        text(&gift.benefits_description),
        text(&gift.notes),
    ]
}

fn pledge_row(pledge: &pledge::Model, donor: Option<&donor::Model>, names: &Names) -> Vec<String> {
    let [donor_external_id, donor_email, donor_name] = donor_columns(donor);
    vec![
        pledge.id.to_string(),
        donor_external_id,
        donor_email,
        donor_name,
        pledge.source.as_str().to_owned(),
        pledge.status.as_str().to_owned(),
        amount_text(pledge.installment_minor),
        pledge.currency.clone(),
        pledge.frequency.as_str().to_owned(),
        pledge.starts_on.to_string(),
        pledge.ends_on.map(|d| d.to_string()).unwrap_or_default(),
        pledge
            .installments_total
            .map(|n| n.to_string())
            .unwrap_or_default(),
        Names::of(&names.funds, Some(pledge.fund_id)),
        Names::of(&names.appeals, pledge.appeal_id),
        time_text(pledge.created_at),
    ]
}
