//! Relay cursor paging over an ordered, counted result; `first`/`after` page forwards,
//! `last`/`before` backwards. Every list is read by key: a cursor carries the row's
//! sort values (see `domain::keyset`), never its position.

use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields, OpaqueCursor};
use async_graphql::{OutputType, SimpleObject};
use serde::{Deserialize, Serialize};

use super::errors::bad_input;
use sea_orm::{EntityTrait, ModelTrait};

use crate::domain::keyset::{CountedPage, Key, KeyedPage, Ordering, PageRequest};

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

/// A page of a list. Each edge keeps its row's place, and its cursor is written out
/// only when the query asks for it.
pub type Page<Node> = Connection<OpaqueCursor<KeyCursor>, Node, ConnectionTotals, EmptyFields>;

/// What a keyed list's cursor carries: the order it was taken in and the row's values.
#[derive(Serialize, Deserialize)]
pub struct KeyCursor {
    order: String,
    key: Key,
}

/// The paging arguments, checked.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub after: Option<String>,
    pub before: Option<String>,
    pub first: Option<i32>,
    pub last: Option<i32>,
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

    fn check_sizes(&self) -> async_graphql::Result<()> {
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
        Ok(())
    }

    /// Checks the arguments of a keyed list taken in `order`, and reads its cursors.
    pub fn keyed(&self, order: &str) -> async_graphql::Result<PageRequest> {
        self.check_sizes()?;
        let key = |field: &str, cursor: &Option<String>| -> async_graphql::Result<Option<Key>> {
            let Some(cursor) = cursor else {
                return Ok(None);
            };
            match OpaqueCursor::<KeyCursor>::decode_cursor(cursor) {
                Ok(decoded) if decoded.0.order == order => Ok(Some(decoded.0.key)),
                _ => Err(bad_input(
                    field,
                    "is not a cursor from this list in this order",
                )),
            }
        };
        let size = |n: Option<i32>| n.map(|n| u64::try_from(n).unwrap_or(0));
        Ok(PageRequest {
            after: key("after", &self.after)?,
            before: key("before", &self.before)?,
            first: size(self.first),
            last: size(self.last),
        })
    }
}

/// Builds the connection for a page of a list read in `ordering`.
pub fn ordered_page<M, Node: OutputType>(
    ordering: &Ordering<<M::Entity as EntityTrait>::Column>,
    rows: KeyedPage<M>,
    total: u64,
    node: impl Fn(M) -> Node,
) -> Page<Node>
where
    M: ModelTrait,
{
    keyed_page(rows, total, ordering.name, |row| ordering.key(row), node)
}

/// Builds the connection for a page of a list counted and read in `ordering`.
pub fn counted_page<M, Node: OutputType>(
    ordering: &Ordering<<M::Entity as EntityTrait>::Column>,
    counted: CountedPage<M>,
    node: impl Fn(M) -> Node,
) -> Page<Node>
where
    M: ModelTrait,
{
    ordered_page(ordering, counted.page, counted.total, node)
}

/// Builds the connection for a page whose rows come with their places in `order`.
pub fn placed_page<Row, Node: OutputType>(
    rows: KeyedPage<(Row, Key)>,
    total: u64,
    order: &str,
    node: impl Fn(Row) -> Node,
) -> Page<Node> {
    keyed_page(
        rows,
        total,
        order,
        |(_, key)| key.clone(),
        |(row, _)| node(row),
    )
}

/// Builds the connection for a keyed list's page taken in `order`; `key` gives a row's
/// place in it.
pub fn keyed_page<Row, Node: OutputType>(
    rows: KeyedPage<Row>,
    total: u64,
    order: &str,
    key: impl Fn(&Row) -> Key,
    node: impl Fn(Row) -> Node,
) -> Page<Node> {
    let mut connection = Connection::with_additional_fields(
        rows.has_previous,
        rows.has_next,
        ConnectionTotals { total_count: total },
    );
    connection.edges.extend(rows.rows.into_iter().map(|row| {
        let cursor = OpaqueCursor(KeyCursor {
            order: order.to_owned(),
            key: key(&row),
        });
        Edge::new(cursor, node(row))
    }));
    connection
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_keyed_cursor_is_read_back_only_in_its_own_order() {
        let rows = KeyedPage {
            rows: vec![7_i64],
            has_previous: false,
            has_next: true,
        };
        let connection: Page<i64> = keyed_page(
            rows,
            1,
            "gifts-newest",
            |id| vec![serde_json::json!(id)],
            |id| id,
        );
        assert!(connection.has_next_page && !connection.has_previous_page);
        let cursor = connection.edges[0].cursor.encode_cursor();
        let args = PageArgs::new(Some(cursor.clone()), None, Some(5), None);
        let request = args.keyed("gifts-newest").unwrap();
        assert_eq!(request.after, Some(vec![serde_json::json!(7)]));
        assert_eq!(request.first, Some(5));
        assert!(args.keyed("gifts-largest").is_err());
        let before = PageArgs::new(None, Some(cursor), None, Some(3));
        assert_eq!(
            before.keyed("gifts-newest").unwrap().before,
            Some(vec![serde_json::json!(7)])
        );
        for refused in [
            PageArgs::new(Some("3".into()), None, None, None),
            PageArgs::new(None, Some("bm90IGpzb24".into()), None, None),
            PageArgs::new(None, None, Some(101), None),
            PageArgs::new(None, None, None, Some(-1)),
        ] {
            assert!(refused.keyed("gifts-newest").is_err());
        }
    }
}
