//! The one way this service writes CSV for staff: the `csv` crate does the quoting, and
//! every cell that a spreadsheet would read as a formula is neutralized first, because
//! donors type the names and addresses these files carry. A large file is written in
//! parts (a header, then rows a page at a time) so it can be streamed; imports undo the
//! neutralization with [`restore`], so a file exported here reads back as it was.

use std::borrow::Cow;

use super::DomainError;

/// The leading characters that make a spreadsheet evaluate a cell (or, for tab and
/// carriage return, that some spreadsheets strip before checking for one).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell as a spreadsheet will show it: text that could start a formula gets a leading
/// `'`, which spreadsheets read as "this is text".
pub fn neutralize(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A cell read back from a file this service wrote: the `'` that [`neutralize`] put in
/// front of a formula start is taken off again. Any other text is left as it is.
pub fn restore(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => text,
    }
}

/// A CSV file being written in memory: a header, then rows, lines ending in CRLF.
pub struct CsvFile {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvFile {
    /// A file whose first line names its columns.
    pub fn with_header(columns: &[&str]) -> Result<Self, DomainError> {
        let mut file = CsvFile::continuation();
        file.row(columns.iter().copied())?;
        Ok(file)
    }

    /// More rows of a file whose header was written before: one part of a file
    /// streamed a page at a time.
    pub fn continuation() -> Self {
        CsvFile {
            writer: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::new()),
        }
    }

    /// One row, each cell neutralized.
    pub fn row<I, S>(&mut self, cells: I) -> Result<(), DomainError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for cell in cells {
            match neutralize(cell.as_ref()) {
                Cow::Borrowed(text) => self.writer.write_field(text),
                Cow::Owned(text) => self.writer.write_field(text),
            }
            .map_err(unexpected)?;
        }
        // An empty record after its fields ends the row.
        self.writer
            .write_record(std::iter::empty::<&[u8]>())
            .map_err(unexpected)
    }

    /// The bytes written so far, for a part of a streamed file.
    pub fn into_bytes(self) -> Result<Vec<u8>, DomainError> {
        self.writer
            .into_inner()
            .map_err(|error| unexpected(error.into_error()))
    }

    /// The whole file as text.
    pub fn finish(self) -> Result<String, DomainError> {
        let bytes = self
            .writer
            .into_inner()
            .map_err(|error| unexpected(error.into_error()))?;
        String::from_utf8(bytes).map_err(unexpected)
    }
}

fn unexpected(error: impl std::error::Error + Send + Sync + 'static) -> DomainError {
    DomainError::Unexpected(anyhow::Error::new(error))
}

#[cfg(test)]
// A test that cannot write its file should stop where it failed.
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn one_cell(text: &str) -> String {
        let mut file = CsvFile::with_header(&["cell"]).expect("a header");
        file.row([text]).expect("a row");
        file.finish().expect("a file")
    }

    #[test]
    fn a_leading_equals_sign_is_written_as_text() {
        assert_eq!(one_cell("=HYPERLINK(1)"), "cell\r\n'=HYPERLINK(1)\r\n");
    }

    #[test]
    fn a_leading_plus_sign_is_written_as_text() {
        assert_eq!(one_cell("+1 555 0100"), "cell\r\n'+1 555 0100\r\n");
    }

    #[test]
    fn a_leading_minus_sign_is_written_as_text() {
        assert_eq!(one_cell("-2+3"), "cell\r\n'-2+3\r\n");
    }

    #[test]
    fn a_leading_at_sign_is_written_as_text() {
        assert_eq!(one_cell("@SUM(A1)"), "cell\r\n'@SUM(A1)\r\n");
    }

    #[test]
    fn a_leading_tab_is_written_as_text() {
        assert_eq!(one_cell("\t=1+1"), "cell\r\n'\t=1+1\r\n");
    }

    #[test]
    fn a_leading_carriage_return_is_written_as_text() {
        assert_eq!(one_cell("\r=1+1"), "cell\r\n\"'\r=1+1\"\r\n");
    }

    #[test]
    fn a_sign_inside_the_text_is_left_alone() {
        assert_eq!(one_cell("Ana-María"), "cell\r\nAna-María\r\n");
    }

    #[test]
    fn a_neutralized_cell_reads_back_as_it_was_typed() {
        for typed in [
            "=HYPERLINK(1)",
            "+1 555 0100",
            "-2",
            "@x",
            "'quoted'",
            "Ana",
        ] {
            assert_eq!(restore(&neutralize(typed)), typed);
        }
    }

    #[test]
    fn a_continuation_has_no_header() {
        let mut part = CsvFile::continuation();
        part.row(["=1", "Ana"]).expect("a row");
        assert_eq!(part.into_bytes().expect("bytes"), b"'=1,Ana\r\n");
    }

    #[test]
    fn commas_and_quotes_are_quoted() {
        let mut file = CsvFile::with_header(&["name", "note"]).expect("a header");
        file.row(["López, Ana", "say \"hi\""]).expect("a row");
        assert_eq!(
            file.finish().expect("a file"),
            "name,note\r\n\"López, Ana\",\"say \"\"hi\"\"\"\r\n"
        );
    }
}
