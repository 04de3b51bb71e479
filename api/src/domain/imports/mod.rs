//! Imports: a donor list or a gift history as CSV, from a spreadsheet or another donor
//! system (the columns are the exports', see the README's template). Columns are found
//! by their header, in any order; every row is checked first, and each problem is
//! reported with its row (as a spreadsheet numbers it: the header is row 1), column and
//! reason. All or nothing: one bad row changes nothing, unless staff choose to skip bad
//! rows. A row whose external id was imported before is left alone, so importing a file
//! twice adds nothing the second time.

pub mod donors;
pub mod gifts;

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use super::DomainError;
use super::csv_export;

/// The largest file an import reads: a hundred thousand donors with full addresses fit.
pub const MAX_IMPORT_BYTES: usize = 20 * 1024 * 1024;

/// The most rows an import reads.
pub const MAX_IMPORT_ROWS: usize = 200_000;

/// How an import runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Check everything, report what would happen, change nothing.
    pub dry_run: bool,
    /// Import the good rows and report the bad ones, instead of changing nothing.
    pub skip_bad_rows: bool,
    /// Gifts only: issue receipts (and send them) for imported gifts whose row does not
    /// say otherwise in `issue_receipt`. Off by default: a history was acknowledged by
    /// the system it comes from.
    pub issue_receipts: bool,
}

/// A problem with one row (or, at row 1, with the header; at row 0, with the file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub row: usize,
    /// The column at fault, by its header name, when one is.
    pub column: Option<String>,
    pub reason: String,
}

impl RowError {
    fn new(row: usize, column: Option<&str>, reason: impl Into<String>) -> Self {
        RowError {
            row,
            column: column.map(str::to_owned),
            reason: reason.into(),
        }
    }

    /// A domain check's error on a row, its field named by the file's column.
    fn from_domain(row: usize, error: DomainError) -> Self {
        match error {
            DomainError::Validation { field, reason } => RowError {
                row,
                column: Some(column_of(&field)),
                reason,
            },
            DomainError::Conflict { field, message, .. } => RowError {
                row,
                column: field.as_deref().map(column_of),
                reason: message,
            },
            other => RowError {
                row,
                column: None,
                reason: other.to_string(),
            },
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.column, self.row) {
            (Some(column), 0) => write!(f, "{column}: {}", self.reason),
            (None, 0) => f.write_str(&self.reason),
            (Some(column), row) => write!(f, "row {row}, {column}: {}", self.reason),
            (None, row) => write!(f, "row {row}: {}", self.reason),
        }
    }
}

/// The file's column for a domain field name: `postalCode` is `postal_code`,
/// `tribute.name` is `tribute_name`, `fundId` is `fund`.
fn column_of(field: &str) -> String {
    if field == "fundId" {
        return "fund".to_owned();
    }
    let mut column = String::with_capacity(field.len() + 4);
    for ch in field.chars() {
        if ch.is_ascii_uppercase() {
            column.push('_');
            column.push(ch.to_ascii_lowercase());
        } else if ch == '.' {
            column.push('_');
        } else {
            column.push(ch);
        }
    }
    column
}

/// What an import did (or, in a dry run or when it was refused, would have done).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Data rows in the file.
    pub rows: usize,
    /// New records.
    pub created: usize,
    /// Donors only: rows that matched a donor already here by email.
    pub matched: usize,
    /// Rows whose external id was imported before; left alone.
    pub already_imported: usize,
    /// Bad rows left out (with skip-bad-rows).
    pub skipped: usize,
    /// Receipts issued (gifts only).
    pub receipts_issued: usize,
    /// Every problem found.
    pub errors: Vec<RowError>,
    pub dry_run: bool,
    /// Whether the changes were kept: false in a dry run and when bad rows stopped it.
    pub applied: bool,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for error in &self.errors {
            writeln!(f, "{error}")?;
        }
        let verb = if self.applied {
            "imported"
        } else if self.dry_run {
            "dry run, nothing changed"
        } else {
            "refused, nothing changed"
        };
        write!(
            f,
            "{} rows ({verb}): {} new, {} matched by email, {} already imported, {} skipped, {} receipts issued, {} errors",
            self.rows,
            self.created,
            self.matched,
            self.already_imported,
            self.skipped,
            self.receipts_issued,
            self.errors.len()
        )
    }
}

/// A CSV file read and checked as text: its columns by header name and its data rows
/// with their spreadsheet row numbers.
struct Table {
    columns: HashMap<String, usize>,
    rows: Vec<(usize, csv::StringRecord)>,
}

/// Control characters a cell may hold: line breaks and tabs, inside quotes.
fn allowed_control(ch: char) -> bool {
    matches!(ch, '\n' | '\r' | '\t')
}

/// Reads `bytes` as a CSV file whose columns are among `known` (`ignored` ones, which
/// exports write for reading, are read past) and include `required`. A file that cannot
/// be read at all is refused with one error.
fn read_table(
    bytes: &[u8],
    known: &[&str],
    ignored: &[&str],
    required: &[&str],
) -> Result<Table, Vec<RowError>> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(vec![RowError::new(
            0,
            None,
            format!(
                "the file is {} bytes; an import reads at most {MAX_IMPORT_BYTES} (split it)",
                bytes.len()
            ),
        )]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let row = bytes[..error.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            return Err(vec![RowError::new(
                row,
                None,
                "is not UTF-8 text; save the file as CSV UTF-8",
            )]);
        }
    };
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(error)) => return Err(vec![RowError::new(1, None, error.to_string())]),
        None => return Err(vec![RowError::new(0, None, "the file is empty")]),
    };
    let mut errors = Vec::new();
    let mut columns = HashMap::new();
    for (index, name) in header.iter().enumerate() {
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            errors.push(RowError::new(
                1,
                None,
                format!("column {} has no name", index + 1),
            ));
        } else if !known.contains(&name.as_str()) && !ignored.contains(&name.as_str()) {
            errors.push(RowError::new(
                1,
                Some(&name),
                format!("is not a column this import reads ({})", known.join(", ")),
            ));
        } else if columns.insert(name.clone(), index).is_some() {
            errors.push(RowError::new(1, Some(&name), "appears twice"));
        }
    }
    for name in required {
        if !columns.contains_key(*name) {
            errors.push(RowError::new(1, Some(name), "is required and missing"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    for (index, record) in records.enumerate() {
        let row = index + 2;
        if rows.len() >= MAX_IMPORT_ROWS {
            return Err(vec![RowError::new(
                row,
                None,
                format!("an import reads at most {MAX_IMPORT_ROWS} rows (split the file)"),
            )]);
        }
        match record {
            Ok(record) if record.len() == header.len() => rows.push((row, record)),
            Ok(record) if record.iter().all(|cell| cell.trim().is_empty()) => {}
            Ok(record) => errors.push(RowError::new(
                row,
                None,
                format!(
                    "has {} cells where the header has {}; a cell holding a comma (such as the amount 25,50) must be in quotes",
                    record.len(),
                    header.len()
                ),
            )),
            Err(error) => errors.push(RowError::new(row, None, error.to_string())),
        }
    }
    if errors.is_empty() {
        Ok(Table { columns, rows })
    } else {
        Err(errors)
    }
}

impl Table {
    /// A cell's text as it was typed (exports' formula guard taken off, spaces trimmed);
    /// `None` when the column is absent or the cell blank. A control character other
    /// than a line break or tab is an error naming the column.
    fn cell(
        &self,
        row: usize,
        record: &csv::StringRecord,
        column: &str,
    ) -> Result<Option<String>, RowError> {
        let Some(text) = self.columns.get(column).and_then(|i| record.get(*i)) else {
            return Ok(None);
        };
        let text = csv_export::restore(text.trim()).trim();
        if let Some(ch) = text
            .chars()
            .find(|c| c.is_control() && !allowed_control(*c))
        {
            return Err(RowError::new(
                row,
                Some(column),
                format!("holds a control character (U+{:04X})", u32::from(ch)),
            ));
        }
        Ok((!text.is_empty()).then(|| text.to_owned()))
    }
}

/// A yes/no cell: `true`/`false`, `yes`/`no`, `y`/`n`, `1`/`0`, any case.
fn parse_flag(row: usize, column: &str, text: Option<String>) -> Result<Option<bool>, RowError> {
    match text.as_deref().map(str::to_lowercase).as_deref() {
        None => Ok(None),
        Some("true" | "yes" | "y" | "1") => Ok(Some(true)),
        Some("false" | "no" | "n" | "0") => Ok(Some(false)),
        Some(_) => Err(RowError::new(
            row,
            Some(column),
            "must be true or false (or yes/no, 1/0)",
        )),
    }
}

/// A closed set's value, as stored (`check`, `en`), naming the values allowed.
fn parse_choice<T>(
    row: usize,
    column: &str,
    text: &str,
    parse: impl Fn(&str) -> Option<T>,
    values: &[&str],
) -> Result<T, RowError> {
    parse(&text.to_lowercase()).ok_or_else(|| {
        RowError::new(
            row,
            Some(column),
            format!("{text:?} is not one of {}", values.join(", ")),
        )
    })
}

/// Ends an import in its one transaction: a dry run, or a file with a bad row that staff
/// did not choose to skip, changes nothing; otherwise the rows are committed with one
/// audit entry, `details` of the settled report.
pub(super) async fn finish(
    txn: crate::db::WriteTransaction,
    actor: &super::Actor,
    action: &str,
    options: &ImportOptions,
    mut report: ImportReport,
    details: impl FnOnce(&ImportReport) -> serde_json::Value,
) -> Result<ImportReport, DomainError> {
    report.errors.sort_by_key(|e| e.row);
    report.skipped = if options.skip_bad_rows {
        report.errors.len()
    } else {
        0
    };
    if options.dry_run || (!report.errors.is_empty() && !options.skip_bad_rows) {
        txn.rollback().await?;
        return Ok(report);
    }
    report.applied = true;
    let changes = details(&report);
    super::audit::record_and_commit(txn, actor, action, "import", None, changes).await?;
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn domain_fields_are_named_by_their_columns() {
        assert_eq!(column_of("postalCode"), "postal_code");
        assert_eq!(column_of("addressLine1"), "address_line1");
        assert_eq!(column_of("tribute.name"), "tribute_name");
    }

    #[test]
    fn an_unquoted_comma_amount_is_a_clear_error() {
        let errors = read_table(b"name,amount\nAna,25,50\n", &["name", "amount"], &[], &[])
            .err()
            .expect("refused");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].row, 2);
        assert!(errors[0].reason.contains("must be in quotes"), "{errors:?}");
    }

    #[test]
    fn an_unknown_column_is_named() {
        let errors = read_table(b"name,amout\n", &["name", "amount"], &[], &[])
            .err()
            .expect("refused");
        assert_eq!(errors[0].column.as_deref(), Some("amout"));
    }

    #[test]
    fn a_control_character_in_a_cell_is_named() {
        let table = read_table(b"name\n\"A\x07na\"\n", &["name"], &[], &[]).expect("read");
        let (row, record) = &table.rows[0];
        let error = table.cell(*row, record, "name").expect_err("refused");
        assert_eq!(
            error.to_string(),
            "row 2, name: holds a control character (U+0007)"
        );
    }

    #[test]
    fn a_file_that_is_not_utf8_is_refused_at_its_row() {
        let errors = read_table(b"name\nAna\n\xff\n", &["name"], &[], &[])
            .err()
            .expect("refused");
        assert_eq!(errors[0].row, 3);
    }
}
