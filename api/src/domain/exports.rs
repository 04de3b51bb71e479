//! Exports: every donor, gift or pledge matching a filter, as a CSV file. Asking for one
//! is audited and answers a signed link that expires; the audit entry holds what was
//! asked, so the link carries only its id. The file is written when the link is opened,
//! a page of rows at a time read through the primary key, so memory stays the same
//! whether the organization has a hundred donors or a hundred thousand.
//!
//! The columns are the import template's (see `imports`), plus a few that say where a
//! row came from, so a file exported here imports elsewhere as it is.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use entity::enums::{
    DonorKind, GiftStatus, Language, PaymentMethod, PledgeFrequency, PledgeSource, PledgeStatus,
    TributeKind,
};
use entity::money::NumberStyle;
use entity::{appeal, audit_log, campaign, donor, fund, gift, pledge};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, QueryResult, TryGetable};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::csv_export::CsvFile;
use super::donor_search::{DonorFilter, DonorSearch};
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

/// The external id an exported record carries: the one it was imported with, or this
/// service's own id after `prefix` (`donor-12`), so the gifts file can name its donors
/// and a file imported elsewhere keeps its links.
fn external_id(prefix: &str, id: i64, imported: Option<String>) -> String {
    imported.unwrap_or_else(|| format!("{prefix}-{id}"))
}

/// An amount in minor units as exports write it and imports read it: `1,250.00`.
pub fn amount_text(amount_minor: i64) -> String {
    NumberStyle::ENGLISH.format_minor(amount_minor)
}

fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
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
        let rows = match &self.request {
            ExportRequest::Donors(filter) => {
                // One table: the filter and the columns read share one query.
                let read =
                    DonorSearch::new(db, filter)
                        .await?
                        .after(&DONOR_READ, after, PAGE_ROWS)?;
                db.query_all(&read).await?
            }
            ExportRequest::Gifts(filter) => match gift_search::condition(db, filter).await? {
                Some(condition) => {
                    let read = page_of(
                        gift::Entity,
                        &GIFT_READ,
                        gift::Column::DonorId,
                        condition,
                        after,
                    );
                    db.query_all(&read).await?
                }
                None => Vec::new(),
            },
            ExportRequest::Pledges(filter) => {
                let condition = pledges::pledge_condition(filter);
                let read = page_of(
                    pledge::Entity,
                    &PLEDGE_READ,
                    pledge::Column::DonorId,
                    condition,
                    after,
                );
                db.query_all(&read).await?
            }
        };
        if rows.len() < PAGE_ROWS as usize {
            self.done = true;
        }
        let Some(last) = rows.last() else {
            return Ok(None);
        };
        // Every page query selects the id first.
        self.after = Some(last.try_get_by_index::<i64>(0)?);
        let mut part = CsvFile::continuation();
        match &self.request {
            ExportRequest::Donors(_) => {
                for row in &rows {
                    part.row(donor_row(&mut Cells::of(row))?)?;
                }
            }
            ExportRequest::Gifts(_) => {
                let names = self.names(db).await?;
                for row in &rows {
                    part.row(gift_row(&mut Cells::of(row), names)?)?;
                }
            }
            ExportRequest::Pledges(_) => {
                let names = self.names(db).await?;
                for row in &rows {
                    part.row(pledge_row(&mut Cells::of(row), names)?)?;
                }
            }
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

/// One page of gifts or pledges: `columns` of the next [`PAGE_ROWS`] rows after id
/// `after` that meet `condition`, in id order (`columns` starts with the id), then the
/// [`DONOR_NAMED`] columns of each row's donor. The filters name their columns with their
/// table, so the join leaves them unambiguous.
fn page_of<E: EntityTrait>(
    entity: E,
    columns: &[E::Column],
    donor_id: E::Column,
    condition: Condition,
    after: i64,
) -> SelectStatement {
    let id = columns[0];
    Query::select()
        .columns(columns.iter().map(|column| (entity, *column)))
        .columns(DONOR_NAMED.map(|column| (donor::Entity, column)))
        .from(entity)
        .left_join(
            donor::Entity,
            Expr::col((donor::Entity, donor::Column::Id)).equals((entity, donor_id)),
        )
        .cond_where(condition)
        .and_where(Expr::col((entity, id)).gt(after))
        .order_by((entity, id), Order::Asc)
        .limit(PAGE_ROWS)
        .to_owned()
}

/// A row's cells, read in the order its query selected them.
struct Cells<'a> {
    row: &'a QueryResult,
    next: usize,
}

impl<'a> Cells<'a> {
    fn of(row: &'a QueryResult) -> Self {
        Cells { row, next: 0 }
    }

    fn read<T: TryGetable>(&mut self) -> Result<T, DomainError> {
        let value = self.row.try_get_by_index::<T>(self.next)?;
        self.next += 1;
        Ok(value)
    }

    fn text(&mut self) -> Result<String, DomainError> {
        Ok(self.read::<Option<String>>()?.unwrap_or_default())
    }
}

/// What the donor file reads of each donor, in the order of [`DONOR_COLUMNS`].
const DONOR_READ: [donor::Column; 19] = {
    use donor::Column::*;
    [
        Id,
        ExternalId,
        Kind,
        DisplayName,
        FirstName,
        LastName,
        Email,
        Phone,
        AddressLine1,
        AddressLine2,
        City,
        Region,
        PostalCode,
        Country,
        Language,
        EmailConsent,
        Anonymous,
        Notes,
        CreatedAt,
    ]
};

fn donor_row(cells: &mut Cells) -> Result<[String; 19], DomainError> {
    let id: i64 = cells.read()?;
    Ok([
        id.to_string(),
        external_id("donor", id, cells.read()?),
        cells.read::<DonorKind>()?.as_str().to_owned(),
        cells.read()?,
        cells.text()?,
        cells.text()?,
        cells.text()?,
        cells.text()?,
        cells.text()?,
        cells.text()?,
        cells.text()?,
        cells.text()?,
        cells.text()?,
        cells.text()?,
        cells.read::<Language>()?.as_str().to_owned(),
        cells.read::<bool>()?.to_string(),
        cells.read::<bool>()?.to_string(),
        cells.text()?,
        time_text(cells.read()?),
    ])
}

/// What a gift or pledge row reads of its donor, after its own columns: the donor's id,
/// external id, email and name.
const DONOR_NAMED: [donor::Column; 4] = [
    donor::Column::Id,
    donor::Column::ExternalId,
    donor::Column::Email,
    donor::Column::DisplayName,
];

/// Who a gift or pledge row names: external id, email, name; empty if no donor.
fn donor_named(cells: &mut Cells) -> Result<[String; 3], DomainError> {
    let Some(id) = cells.read::<Option<i64>>()? else {
        return Ok(Default::default());
    };
    Ok([
        external_id("donor", id, cells.read()?),
        cells.text()?,
        cells.read()?,
    ])
}

/// What the gift file reads of each gift, before its donor's [`DONOR_NAMED`].
const GIFT_READ: [gift::Column; 19] = {
    use gift::Column::*;
    [
        Id,
        ExternalId,
        AmountMinor,
        Currency,
        RefundedMinor,
        Status,
        Method,
        FundId,
        AppealId,
        CampaignId,
        PledgeId,
        ReceivedAt,
        CheckNumber,
        Anonymous,
        TributeKind,
        TributeName,
        BenefitsMinor,
        BenefitsDescription,
        Notes,
    ]
};

fn gift_row(cells: &mut Cells, names: &Names) -> Result<[String; 22], DomainError> {
    let id: i64 = cells.read()?;
    let external = external_id("gift", id, cells.read()?);
    let amount = amount_text(cells.read()?);
    let currency: String = cells.read()?;
    let refunded = amount_text(cells.read()?);
    let status = cells.read::<GiftStatus>()?.as_str();
    let method = cells.read::<PaymentMethod>()?.as_str();
    let fund = Names::of(&names.funds, Some(cells.read()?));
    let appeal = Names::of(&names.appeals, cells.read()?);
    let campaign = Names::of(&names.campaigns, cells.read()?);
    let pledge_id = cells.read::<Option<i64>>()?;
    let received_at = time_text(cells.read()?);
    let check_number = cells.text()?;
    let anonymous = cells.read::<bool>()?;
    let tribute_kind = cells.read::<Option<TributeKind>>()?;
    let tribute_name = cells.text()?;
    let benefits = cells.read::<i64>()?;
    let benefits_description = cells.text()?;
    let notes = cells.text()?;
    let [donor_external_id, donor_email, donor_name] = donor_named(cells)?;
    Ok([
        id.to_string(),
        external,
        donor_external_id,
        donor_email,
        donor_name,
        amount,
        currency,
        refunded,
        status.to_owned(),
        method.to_owned(),
        fund,
        appeal,
        campaign,
        pledge_id.map(|id| id.to_string()).unwrap_or_default(),
        received_at,
        check_number,
        anonymous.to_string(),
        tribute_kind
            .map(|k| k.as_str().to_owned())
            .unwrap_or_default(),
        tribute_name,
        if benefits > 0 {
            amount_text(benefits)
        } else {
            String::new()
        },
        benefits_description,
        notes,
    ])
}

/// What the pledge file reads of each pledge, before its donor's [`DONOR_NAMED`].
const PLEDGE_READ: [pledge::Column; 12] = {
    use pledge::Column::*;
    [
        Id,
        Source,
        Status,
        InstallmentMinor,
        Currency,
        Frequency,
        StartsOn,
        EndsOn,
        InstallmentsTotal,
        FundId,
        AppealId,
        CreatedAt,
    ]
};

fn pledge_row(cells: &mut Cells, names: &Names) -> Result<[String; 15], DomainError> {
    let id: i64 = cells.read()?;
    let source = cells.read::<PledgeSource>()?.as_str();
    let status = cells.read::<PledgeStatus>()?.as_str();
    let installment = amount_text(cells.read()?);
    let currency: String = cells.read()?;
    let frequency = cells.read::<PledgeFrequency>()?.as_str();
    let starts_on = cells.read::<NaiveDate>()?.to_string();
    let ends_on = cells.read::<Option<NaiveDate>>()?;
    let installments_total = cells.read::<Option<i32>>()?;
    let fund = Names::of(&names.funds, Some(cells.read()?));
    let appeal = Names::of(&names.appeals, cells.read()?);
    let created_at = time_text(cells.read()?);
    let [donor_external_id, donor_email, donor_name] = donor_named(cells)?;
    Ok([
        id.to_string(),
        donor_external_id,
        donor_email,
        donor_name,
        source.to_owned(),
        status.to_owned(),
        installment,
        currency,
        frequency.to_owned(),
        starts_on,
        ends_on.map(|d| d.to_string()).unwrap_or_default(),
        installments_total
            .map(|n| n.to_string())
            .unwrap_or_default(),
        fund,
        appeal,
        created_at,
    ])
}
