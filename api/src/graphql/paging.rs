//! Relay cursor paging over an ordered, counted result. A cursor is the row's position
//! in the stable order; `first`/`after` page forwards, `last`/`before` backwards.

use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields};
use async_graphql::{OutputType, SimpleObject};

use super::errors::bad_input;

/// The most rows one page may hold.
pub const MAX_PAGE_SIZE: i32 = 100;
/// The page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: i32 = 20;

/// Extra fields on every connection.
#[derive(SimpleObject)]
pub struct ConnectionTotals {
    /// How many items match, across all pages.
    pub total_count: u64,
}

pub type Page<Node> = Connection<usize, Node, ConnectionTotals, EmptyFields>;

/// The paging arguments, checked.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub after: Option<String>,
    pub before: Option<String>,
    pub first: Option<i32>,
    pub last: Option<i32>,
}

/// Which rows of the ordered result a page covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: u64,
    pub limit: u64,
    pub has_previous: bool,
    pub has_next: bool,
}

impl PageArgs {
    pub fn new(
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Self {
        PageArgs {
            after,
            before,
            first,
            last,
        }
    }

    /// Checks the arguments before any query runs.
    pub fn check(&self) -> async_graphql::Result<()> {
        for (field, value) in [("first", self.first), ("last", self.last)] {
            if let Some(n) = value
                && !(0..=MAX_PAGE_SIZE).contains(&n)
            {
                return Err(bad_input(
                    field,
                    format!("must be between 0 and {MAX_PAGE_SIZE}"),
                ));
            }
        }
        for (field, value) in [("after", &self.after), ("before", &self.before)] {
            if let Some(cursor) = value {
                usize::decode_cursor(cursor)
                    .map_err(|_| bad_input(field, "is not a cursor from this list"))?;
            }
        }
        Ok(())
    }

    /// The window over `total` rows. Call `check` first.
    pub fn window(&self, total: u64) -> Window {
        let decode = |c: &Option<String>| c.as_deref().and_then(|c| usize::decode_cursor(c).ok());
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        let mut start = decode(&self.after)
            .map_or(0, |a| a.saturating_add(1))
            .min(total);
        let mut end = decode(&self.before).map_or(total, |b| b.min(total));
        if start > end {
            start = end;
        }
        let size = |n: i32| usize::try_from(n).unwrap_or(0);
        match (self.first, self.last) {
            (Some(first), _) => end = end.min(start + size(first)),
            (None, Some(last)) => start = start.max(end.saturating_sub(size(last))),
            (None, None) => end = end.min(start + size(DEFAULT_PAGE_SIZE)),
        }
        if let (Some(_), Some(last)) = (self.first, self.last) {
            start = start.max(end.saturating_sub(size(last)));
        }
        Window {
            offset: start as u64,
            limit: (end - start) as u64,
            has_previous: start > 0,
            has_next: end < total,
        }
    }
}

/// Builds the connection for a window's rows.
pub fn page<Node: OutputType>(window: Window, total: u64, nodes: Vec<Node>) -> Page<Node> {
    let mut connection = Connection::with_additional_fields(
        window.has_previous,
        window.has_next,
        ConnectionTotals { total_count: total },
    );
    let start = usize::try_from(window.offset).unwrap_or(usize::MAX);
    connection.edges.extend(
        nodes
            .into_iter()
            .enumerate()
            .map(|(i, node)| Edge::new(start + i, node)),
    );
    connection
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(
        after: Option<usize>,
        before: Option<usize>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> PageArgs {
        PageArgs::new(
            after.map(|a| a.to_string()),
            before.map(|b| b.to_string()),
            first,
            last,
        )
    }

    #[test]
    fn pages_forwards_and_backwards() {
        assert_eq!(
            args(None, None, Some(10), None).window(25),
            Window {
                offset: 0,
                limit: 10,
                has_previous: false,
                has_next: true
            }
        );
        assert_eq!(
            args(Some(19), None, Some(10), None).window(25),
            Window {
                offset: 20,
                limit: 5,
                has_previous: true,
                has_next: false
            }
        );
        assert_eq!(
            args(None, None, None, Some(10)).window(25),
            Window {
                offset: 15,
                limit: 10,
                has_previous: true,
                has_next: false
            }
        );
        assert_eq!(
            args(None, Some(15), None, Some(10)).window(25),
            Window {
                offset: 5,
                limit: 10,
                has_previous: true,
                has_next: true
            }
        );
    }
}
