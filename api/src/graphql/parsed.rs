//! Parsed queries kept by their text. Staff tools send the same few queries again and
//! again, and parsing one is about a tenth of the server's work for a small query. What
//! is kept is bounded: at most `MAX_KEPT` documents, each from a text of at most
//! `MAX_TEXT` bytes; a text that does not parse is never kept. Beside each document is
//! kept which of its operations the budget admitted for which role, whatever the
//! request's variables (see `budget`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;
use entity::enums::StaffRole;

/// The most documents kept.
pub const MAX_KEPT: usize = 128;
/// The longest query text whose document is kept.
pub const MAX_TEXT: usize = 16 * 1024;

/// A query's document, and the operations of it admitted for a role.
pub struct Parsed {
    pub document: ExecutableDocument,
    admitted: Mutex<Vec<(Option<String>, StaffRole)>>,
}

impl Parsed {
    fn new(document: ExecutableDocument) -> Self {
        Parsed {
            document,
            admitted: Mutex::new(Vec::new()),
        }
    }

    /// Whether `operation` was admitted for `role` whatever the variables.
    pub fn admitted(&self, operation: Option<&str>, role: StaffRole) -> bool {
        self.admitted
            .lock()
            .is_ok_and(|admitted| among(&admitted, operation, role))
    }

    /// Notes that `operation` is admitted for `role` whatever the variables.
    pub fn admit(&self, operation: Option<&str>, role: StaffRole) {
        if let Ok(mut admitted) = self.admitted.lock()
            && !among(&admitted, operation, role)
        {
            admitted.push((operation.map(str::to_owned), role));
        }
    }
}

fn among(
    admitted: &[(Option<String>, StaffRole)],
    operation: Option<&str>,
    role: StaffRole,
) -> bool {
    admitted
        .iter()
        .any(|(name, by)| name.as_deref() == operation && *by == role)
}

#[derive(Default)]
pub struct ParsedQueries {
    kept: Mutex<HashMap<Box<str>, Arc<Parsed>>>,
}

impl ParsedQueries {
    /// The document of `query`, parsed now or earlier; `None` when it does not parse
    /// (the engine parses it again and says where it fails).
    pub fn document(&self, query: &str) -> Option<Arc<Parsed>> {
        let found = self
            .kept
            .lock()
            .ok()
            .and_then(|kept| kept.get(query).cloned());
        if found.is_some() {
            return found;
        }
        let parsed = Arc::new(Parsed::new(parse_query(query).ok()?));
        if query.len() <= MAX_TEXT
            && let Ok(mut kept) = self.kept.lock()
        {
            if kept.len() >= MAX_KEPT
                && let Some(any) = kept.keys().next().cloned()
            {
                kept.remove(&any);
            }
            kept.insert(query.into(), parsed.clone());
        }
        Some(parsed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kept(parsed: &ParsedQueries) -> usize {
        parsed.kept.lock().unwrap().len()
    }

    #[test]
    fn a_query_is_parsed_once_and_given_back_whole() {
        let parsed = ParsedQueries::default();
        let query =
            "query($id: ID!) { donor(id: $id) { displayName gifts(first: 5) { totalCount } } }";
        let first = parsed.document(query).unwrap();
        assert_eq!(kept(&parsed), 1);
        let again = parsed.document(query).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let (first, again) = (&first.document, &again.document);
        assert_eq!(kept(&parsed), 1);
        assert_eq!(format!("{first:?}"), format!("{again:?}"));
        assert_eq!(
            format!("{again:?}"),
            format!("{:?}", parse_query(query).unwrap())
        );
    }

    #[test]
    fn what_does_not_parse_or_is_too_long_is_not_kept() {
        let parsed = ParsedQueries::default();
        assert!(parsed.document("{ donor(id: ").is_none());
        assert_eq!(kept(&parsed), 0);
        let padded = |len: usize| {
            let query = "{ viewer { name } }";
            format!("{query}{}", " ".repeat(len - query.len()))
        };
        assert!(parsed.document(&padded(MAX_TEXT + 1)).is_some());
        assert_eq!(kept(&parsed), 0, "longer than MAX_TEXT");
        assert!(parsed.document(&padded(MAX_TEXT)).is_some());
        assert_eq!(kept(&parsed), 1, "exactly MAX_TEXT");
        // A large staff query of ten kilobytes is kept.
        assert!(parsed.document(&padded(10_000)).is_some());
        assert_eq!(kept(&parsed), 2, "ten kilobytes");
    }

    #[test]
    fn no_more_than_the_bound_is_kept_and_each_text_gets_its_own_document() {
        let parsed = ParsedQueries::default();
        for n in 0..MAX_KEPT + 10 {
            let query = format!("{{ donors(first: {n}) {{ totalCount }} }}");
            let document = &parsed.document(&query).unwrap().document;
            assert!(format!("{document:?}").contains(&format!("Number({n})")));
            assert!(kept(&parsed) <= MAX_KEPT);
        }
        assert_eq!(kept(&parsed), MAX_KEPT);
        let query = format!("{{ donors(first: {}) {{ totalCount }} }}", MAX_KEPT + 9);
        let document = &parsed.document(&query).unwrap().document;
        assert!(format!("{document:?}").contains(&format!("Number({})", MAX_KEPT + 9)));
    }
}
