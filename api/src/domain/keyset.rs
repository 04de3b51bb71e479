//! Keyset paging: a page begins after (or ends before) the row a cursor names by its
//! sort values, never by its position. A deep page costs what the first does (the
//! database seeks to the key through the list's index), and rows added or removed
//! meanwhile neither repeat nor vanish from the pages still to come.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Value;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use serde_json::Value as Json;

use super::DomainError;

/// What a sort column holds, so a cursor's value can be read back as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Integer,
    Time,
}

/// One column of a list's order.
#[derive(Debug, Clone, Copy)]
pub struct SortKey<C> {
    pub column: C,
    pub kind: KeyKind,
    pub descending: bool,
}

/// A row's place in an order: one value per sort key, as a cursor carries it.
pub type Key = Vec<Json>;

/// An order a list can be read in. Its last key is unique (the id), so no two rows
/// share a place and paging never skips or repeats.
#[derive(Debug, Clone)]
pub struct Ordering<C> {
    /// Named in cursors, so a cursor taken in one order is refused in another.
    pub name: &'static str,
    pub keys: Vec<SortKey<C>>,
}

/// Which rows a page holds: after `after`, before `before`, the first `first` of them
/// (or, reading backwards, the last `last`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageRequest {
    pub after: Option<Key>,
    pub before: Option<Key>,
    pub first: Option<u64>,
    pub last: Option<u64>,
}

/// One page of rows in order, and whether rows lie beyond it on either side.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedPage<M> {
    pub rows: Vec<M>,
    pub has_previous: bool,
    pub has_next: bool,
}

impl<M> KeyedPage<M> {
    pub fn empty() -> Self {
        KeyedPage {
            rows: Vec::new(),
            has_previous: false,
            has_next: false,
        }
    }
}

impl<C: ColumnTrait + Copy> Ordering<C> {
    pub fn new(name: &'static str, keys: Vec<SortKey<C>>) -> Self {
        Ordering { name, keys }
    }

    /// By `column`, then by `id`, both the same way.
    pub fn by(name: &'static str, column: C, kind: KeyKind, id: C, descending: bool) -> Self {
        Ordering::new(
            name,
            vec![
                SortKey {
                    column,
                    kind,
                    descending,
                },
                SortKey {
                    column: id,
                    kind: KeyKind::Integer,
                    descending,
                },
            ],
        )
    }

    /// Reads a cursor's values back, refusing (naming `field`) one that does not fit
    /// this order.
    pub fn values(&self, field: &str, key: &Key) -> Result<Vec<Value>, DomainError> {
        let refused = || DomainError::validation(field, "is not a cursor from this list");
        if key.len() != self.keys.len() {
            return Err(refused());
        }
        self.keys
            .iter()
            .zip(key)
            .map(|(sort, value)| match sort.kind {
                KeyKind::Integer => value.as_i64().map(Value::from).ok_or_else(refused),
                KeyKind::Time => value
                    .as_str()
                    .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                    .map(|at| Value::from(at.with_timezone(&Utc)))
                    .ok_or_else(refused),
            })
            .collect()
    }

    /// The rows strictly later than `values` in this order (or, with `later` false,
    /// strictly earlier): for some key, every key before it equal and it beyond.
    pub fn beyond(&self, values: &[Value], later: bool) -> Condition {
        let mut any = Condition::any();
        for (i, sort) in self.keys.iter().enumerate() {
            let mut this = Condition::all();
            for (equal, value) in self.keys[..i].iter().zip(values) {
                this = this.add(equal.column.eq(value.clone()));
            }
            let value = values[i].clone();
            this = this.add(if later != sort.descending {
                sort.column.gt(value)
            } else {
                sort.column.lt(value)
            });
            any = any.add(this);
        }
        any
    }

    /// Orders `select` this way, or the reverse way.
    fn order<E: EntityTrait<Column = C>>(&self, mut select: Select<E>, reverse: bool) -> Select<E> {
        for sort in &self.keys {
            let order = if sort.descending != reverse {
                Order::Desc
            } else {
                Order::Asc
            };
            select = select.order_by(sort.column, order);
        }
        select
    }

    /// Reads one page of `select`'s rows in this order; `size_when_unsaid` rows when
    /// neither `first` nor `last` is given.
    pub async fn page<E>(
        &self,
        db: &impl ConnectionTrait,
        select: Select<E>,
        request: &PageRequest,
        size_when_unsaid: u64,
    ) -> Result<KeyedPage<E::Model>, DomainError>
    where
        E: EntityTrait<Column = C>,
    {
        let mut select = select;
        if let Some(after) = &request.after {
            select = select.filter(self.beyond(&self.values("after", after)?, true));
        }
        if let Some(before) = &request.before {
            select = select.filter(self.beyond(&self.values("before", before)?, false));
        }
        // `last` alone reads backwards from the end (or from `before`).
        let backwards = request.first.is_none() && request.last.is_some();
        let size = if backwards {
            request.last.unwrap_or(size_when_unsaid)
        } else {
            request.first.unwrap_or(size_when_unsaid)
        };
        let mut rows = self
            .order(select, backwards)
            .limit(size.saturating_add(1))
            .all(db)
            .await?;
        let more = rows.len() as u64 > size;
        rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        if backwards {
            rows.reverse();
            return Ok(KeyedPage {
                rows,
                has_previous: more || request.after.is_some(),
                has_next: request.before.is_some(),
            });
        }
        let mut has_previous = request.after.is_some();
        // `first` and `last` together: the last `last` of the first `first`.
        if let Some(last) = request.last {
            let keep = usize::try_from(last).unwrap_or(usize::MAX);
            if rows.len() > keep {
                rows.drain(..rows.len() - keep);
                has_previous = true;
            }
        }
        Ok(KeyedPage {
            rows,
            has_previous,
            has_next: more || request.before.is_some(),
        })
    }
}

/// A time as a cursor carries it.
pub fn time_value(at: DateTime<Utc>) -> Json {
    Json::String(at.to_rfc3339())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use entity::gift;
    use sea_orm::{DbBackend, QueryTrait};

    use super::*;

    fn newest_first() -> Ordering<gift::Column> {
        Ordering::by(
            "received_at_desc",
            gift::Column::ReceivedAt,
            KeyKind::Time,
            gift::Column::Id,
            true,
        )
    }

    fn sql(condition: Condition) -> String {
        gift::Entity::find()
            .filter(condition)
            .build(DbBackend::Postgres)
            .to_string()
    }

    #[test]
    fn later_in_a_descending_order_means_smaller_values() {
        let order = newest_first();
        let values = order
            .values(
                "after",
                &vec![Json::from("2026-03-14T18:00:00Z"), Json::from(42)],
            )
            .unwrap();
        let later = sql(order.beyond(&values, true));
        assert!(
            later.ends_with(
                r#"WHERE "gifts"."received_at" < '2026-03-14 18:00:00.000000 +00:00' OR ("gifts"."received_at" = '2026-03-14 18:00:00.000000 +00:00' AND "gifts"."id" < 42)"#
            ),
            "{later}"
        );
        let earlier = sql(order.beyond(&values, false));
        assert!(
            earlier.ends_with(
                r#"WHERE "gifts"."received_at" > '2026-03-14 18:00:00.000000 +00:00' OR ("gifts"."received_at" = '2026-03-14 18:00:00.000000 +00:00' AND "gifts"."id" > 42)"#
            ),
            "{earlier}"
        );
    }

    #[test]
    fn a_cursor_that_does_not_fit_the_order_is_refused_by_name() {
        let order = newest_first();
        for key in [
            vec![Json::from(42)],
            vec![Json::from(42), Json::from(42)],
            vec![Json::from("yesterday"), Json::from(42)],
            vec![Json::from("2026-03-14T18:00:00Z"), Json::from("42")],
            vec![
                Json::from("2026-03-14T18:00:00Z"),
                Json::from(42),
                Json::from(1),
            ],
        ] {
            let Err(DomainError::Validation { field, .. }) = order.values("before", &key) else {
                panic!("{key:?} was accepted");
            };
            assert_eq!(field, "before");
        }
    }
}
