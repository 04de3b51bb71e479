//! Imports: a donor list or a gift history sent as CSV text (for files larger than a
//! request carries, `api import` on the server reads the same format).

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};

use super::access::requires_role;
use super::context::{actor, config, db};
use super::errors::GqlResultExt;
use super::tokens::Role;
use crate::domain::imports::{self, ImportOptions, ImportReport, RowError};

/// A donor list to import.
#[derive(InputObject)]
pub struct ImportDonorsInput {
    /// The file's text: CSV, a header line naming the columns (see the README's
    /// template), then one donor a row.
    pub csv: String,
    /// Check every row and answer what would happen; change nothing.
    #[graphql(default = false)]
    pub dry_run: bool,
    /// Import the good rows and report the bad ones. Without it, one bad row changes
    /// nothing.
    #[graphql(default = false)]
    pub skip_bad_rows: bool,
}

/// A gift history to import.
#[derive(InputObject)]
pub struct ImportGiftsInput {
    /// The file's text: CSV, a header line naming the columns (see the README's
    /// template), then one gift a row.
    pub csv: String,
    /// Check every row and answer what would happen; change nothing.
    #[graphql(default = false)]
    pub dry_run: bool,
    /// Import the good rows and report the bad ones. Without it, one bad row changes
    /// nothing.
    #[graphql(default = false)]
    pub skip_bad_rows: bool,
    /// Issue (and email) receipts for the imported succeeded gifts whose row does not
    /// say otherwise in its `issue_receipt` column. Off by default: a history was
    /// receipted by the system it comes from.
    #[graphql(default = false)]
    pub issue_receipts: bool,
}

/// A problem with one row of an imported file.
#[derive(SimpleObject)]
pub struct ImportRowError {
    /// The row as a spreadsheet numbers it: the header is row 1; 0 for the file as a
    /// whole.
    pub row: i32,
    /// The column at fault, by its header name.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl From<RowError> for ImportRowError {
    fn from(error: RowError) -> Self {
        ImportRowError {
            row: i32::try_from(error.row).unwrap_or(i32::MAX),
            column: error.column,
            reason: error.reason,
        }
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// What an import did, or in a dry run or when bad rows stopped it, would have done.
#[derive(SimpleObject)]
pub struct ImportResult {
    /// Data rows in the file.
    pub rows: i32,
    /// New donors or gifts.
    pub created: i32,
    /// Donors matched by email to a donor already here.
    pub matched: i32,
    /// Rows whose external id was imported before; left alone.
    pub already_imported: i32,
    /// Bad rows left out (with skipBadRows).
    pub skipped: i32,
    /// Receipts issued for imported gifts.
    pub receipts_issued: i32,
    /// Whether the changes were kept: false in a dry run and when bad rows stopped it.
    pub applied: bool,
    /// Every problem found, by row.
    pub errors: Vec<ImportRowError>,
}

impl From<ImportReport> for ImportResult {
    fn from(report: ImportReport) -> Self {
        ImportResult {
            rows: count(report.rows),
            created: count(report.created),
            matched: count(report.matched),
            already_imported: count(report.already_imported),
            skipped: count(report.skipped),
            receipts_issued: count(report.receipts_issued),
            applied: report.applied,
            errors: report.errors.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Imports a donor list: rows are matched by external_id, then by email; other rows
    /// become new donors. Role: staff. Audited.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn import_donors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file and how to import it.")] input: ImportDonorsInput,
    ) -> Result<ImportResult> {
        let options = ImportOptions {
            dry_run: input.dry_run,
            skip_bad_rows: input.skip_bad_rows,
            issue_receipts: false,
        };
        imports::donors::import_donors(db(ctx)?, &actor(ctx)?, input.csv.as_bytes(), options)
            .await
            .gql()
            .map(Into::into)
    }

    /// Imports a gift history: each row names its donor by donor_external_id or
    /// donor_email; rows whose external_id was imported before are left alone.
    /// Role: staff. Audited.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn import_gifts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file and how to import it.")] input: ImportGiftsInput,
    ) -> Result<ImportResult> {
        let config = config(ctx)?;
        let options = ImportOptions {
            dry_run: input.dry_run,
            skip_bad_rows: input.skip_bad_rows,
            issue_receipts: input.issue_receipts,
        };
        imports::gifts::import_gifts(
            db(ctx)?,
            &config.org,
            config.org_currency,
            &actor(ctx)?,
            input.csv.as_bytes(),
            options,
        )
        .await
        .gql()
        .map(Into::into)
    }
}
