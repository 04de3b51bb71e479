//! Keyset paging: a page begins after (or ends before) the row a cursor names by its
//! sort values, never by its position. A deep page costs what the first does (the
//! database seeks to the key through the list's index), and rows added or removed
//! meanwhile neither repeat nor vanish from the pages still to come.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{
    Alias, ExprTrait, Order as SqlOrder, SelectStatement, SimpleExpr, Value, ValueType,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoSimpleExpr, ModelTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, Select,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use super::DomainError;
use super::partial_rows::{ColumnSet, ReadInPart, read_in_part};

/// What a sort column holds, so a cursor's value can be read back as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Integer,
    Time,
    Date,
    Text,
}

impl KeyKind {
    /// A cursor's value as this kind, or `None` when it is not one.
    fn read(self, value: &Json) -> Option<Value> {
        match self {
            KeyKind::Integer => value.as_i64().map(Value::from),
            KeyKind::Time => value
                .as_str()
                .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                .map(|at| Value::from(at.with_timezone(&Utc))),
            KeyKind::Date => value
                .as_str()
                .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
                .map(Value::from),
            KeyKind::Text => value.as_str().map(|text| Value::from(text.to_owned())),
        }
    }

    /// A row's value as a cursor carries it.
    fn write(self, value: Value) -> Json {
        match self {
            KeyKind::Integer => <i64 as ValueType>::try_from(value.clone())
                .or_else(|_| <i32 as ValueType>::try_from(value).map(i64::from))
                .map_or(Json::Null, Json::from),
            KeyKind::Time => {
                <DateTime<Utc> as ValueType>::try_from(value).map_or(Json::Null, time_value)
            }
            KeyKind::Date => <NaiveDate as ValueType>::try_from(value)
                .map_or(Json::Null, |date| Json::from(date.to_string())),
            KeyKind::Text => <String as ValueType>::try_from(value).map_or(Json::Null, Json::from),
        }
    }

    /// The value of the key column `column` of a row read by [`ExprOrdering::page`].
    fn get(self, row: &QueryResult, column: &str) -> Result<Json, DomainError> {
        Ok(match self {
            KeyKind::Integer => Json::from(row.try_get::<i64>("", column)?),
            KeyKind::Time => time_value(row.try_get::<DateTime<Utc>>("", column)?),
            KeyKind::Date => Json::from(row.try_get::<NaiveDate>("", column)?.to_string()),
            KeyKind::Text => Json::from(row.try_get::<String>("", column)?),
        })
    }
}

/// Reads a cursor's values back as `kinds`, refusing (naming `field`) one that does not
/// fit.
fn read_key(
    kinds: impl ExactSizeIterator<Item = KeyKind>,
    field: &str,
    key: &Key,
) -> Result<Vec<Value>, DomainError> {
    let refused = || DomainError::validation(field, "is not a cursor from this list");
    if key.len() != kinds.len() {
        return Err(refused());
    }
    kinds
        .zip(key)
        .map(|(kind, value)| kind.read(value).ok_or_else(refused))
        .collect()
}

/// The rows strictly later than `values` in the order of `keys` (each an expression and
/// whether it runs descending), or with `later` false strictly earlier: for some key,
/// every key before it equal and it beyond.
fn beyond_keys(keys: &[(SimpleExpr, bool)], values: &[Value], later: bool) -> Condition {
    let mut any = Condition::any();
    for (i, (expr, descending)) in keys.iter().enumerate() {
        let mut this = Condition::all();
        for ((equal, _), value) in keys[..i].iter().zip(values) {
            this = this.add(equal.clone().eq(value.clone()));
        }
        let value = values[i].clone();
        this = this.add(if later != *descending {
            expr.clone().gt(value)
        } else {
            expr.clone().lt(value)
        });
        any = any.add(this);
    }
    any
}

/// How many rows to read for `request`, and whether they are read from the end.
fn reading(request: &PageRequest, size_when_unsaid: u64) -> (u64, bool) {
    // `last` alone reads backwards from the end (or from `before`).
    let backwards = request.first.is_none() && request.last.is_some();
    let size = if backwards {
        request.last.unwrap_or(size_when_unsaid)
    } else {
        request.first.unwrap_or(size_when_unsaid)
    };
    (size, backwards)
}

/// Cuts the rows read (one more than `size` when there are more) to the page.
fn cut<M>(mut rows: Vec<M>, request: &PageRequest, size: u64, backwards: bool) -> KeyedPage<M> {
    let more = rows.len() as u64 > size;
    rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    if backwards {
        rows.reverse();
        return KeyedPage {
            rows,
            has_previous: more || request.after.is_some(),
            has_next: request.before.is_some(),
        };
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
    KeyedPage {
        rows,
        has_previous,
        has_next: more || request.before.is_some(),
    }
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

/// A page of a list and how many rows the whole list holds.
pub struct CountedPage<M> {
    pub page: KeyedPage<M>,
    pub total: u64,
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

    /// By `id` alone.
    pub fn by_id(name: &'static str, id: C, descending: bool) -> Self {
        Ordering::new(
            name,
            vec![SortKey {
                column: id,
                kind: KeyKind::Integer,
                descending,
            }],
        )
    }

    /// Reads a cursor's values back, refusing (naming `field`) one that does not fit
    /// this order.
    pub fn values(&self, field: &str, key: &Key) -> Result<Vec<Value>, DomainError> {
        read_key(self.keys.iter().map(|sort| sort.kind), field, key)
    }

    /// A row's place in this order, as its cursor carries it.
    pub fn key<M>(&self, row: &M) -> Key
    where
        M: ModelTrait,
        M::Entity: EntityTrait<Column = C>,
    {
        self.keys
            .iter()
            .map(|sort| sort.kind.write(row.get(sort.column)))
            .collect()
    }

    /// The rows strictly later than `values` in this order (or, with `later` false,
    /// strictly earlier).
    pub fn beyond(&self, values: &[Value], later: bool) -> Condition {
        let keys: Vec<(SimpleExpr, bool)> = self
            .keys
            .iter()
            .map(|sort| (sort.column.into_simple_expr(), sort.descending))
            .collect();
        beyond_keys(&keys, values, later)
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
        let (select, size, backwards) = self.paged(select, request, size_when_unsaid)?;
        let rows = select.all(db).await?;
        Ok(cut(rows, request, size, backwards))
    }

    /// [`Ordering::page`], each row read in part: `columns` and this order's keys.
    pub async fn page_in_part<E>(
        &self,
        db: &impl ConnectionTrait,
        select: Select<E>,
        request: &PageRequest,
        size_when_unsaid: u64,
        columns: ColumnSet,
    ) -> Result<KeyedPage<E::Model>, DomainError>
    where
        E: ReadInPart<Column = C>,
    {
        let keys = ColumnSet::of(self.keys.iter().map(|sort| sort.column));
        let (select, size, backwards) = self.paged(select, request, size_when_unsaid)?;
        let rows = read_in_part(db, select, columns.with(keys)).await?;
        Ok(cut(rows, request, size, backwards))
    }

    /// `select` narrowed to the rows past the request's cursors, in this order (reversed
    /// when reading backwards), one row more than the page; with the page's size and
    /// direction.
    fn paged<E>(
        &self,
        select: Select<E>,
        request: &PageRequest,
        size_when_unsaid: u64,
    ) -> Result<(Select<E>, u64, bool), DomainError>
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
        let (size, backwards) = reading(request, size_when_unsaid);
        let select = self.order(select, backwards).limit(size.saturating_add(1));
        Ok((select, size, backwards))
    }

    /// One page of `select`'s rows in this order, and how many rows `select` holds.
    pub async fn page_counted<E>(
        &self,
        db: &impl ConnectionTrait,
        select: Select<E>,
        request: &PageRequest,
        size_when_unsaid: u64,
    ) -> Result<CountedPage<E::Model>, DomainError>
    where
        E: EntityTrait<Column = C>,
        E::Model: Sync,
    {
        let total = select.clone().count(db).await?;
        let page = self.page(db, select, request, size_when_unsaid).await?;
        Ok(CountedPage { page, total })
    }

    /// [`Ordering::page_counted`], each row read in part (see [`Ordering::page_in_part`])
    /// when `columns` are given, whole otherwise.
    pub async fn page_counted_in_part<E>(
        &self,
        db: &impl ConnectionTrait,
        select: Select<E>,
        request: &PageRequest,
        size_when_unsaid: u64,
        columns: Option<ColumnSet>,
    ) -> Result<CountedPage<E::Model>, DomainError>
    where
        E: ReadInPart<Column = C>,
        E::Model: Sync,
    {
        let Some(columns) = columns else {
            return self
                .page_counted(db, select, request, size_when_unsaid)
                .await;
        };
        let total = select.clone().count(db).await?;
        let page = self
            .page_in_part(db, select, request, size_when_unsaid, columns)
            .await?;
        Ok(CountedPage { page, total })
    }
}

/// One part of an order computed by the query rather than stored in a column.
#[derive(Debug, Clone)]
pub struct ExprKey {
    pub expr: SimpleExpr,
    pub kind: KeyKind,
    pub descending: bool,
}

/// An order over computed values (a lower-cased name, a total), for lists read with
/// sea-query statements. Its last key is unique.
#[derive(Debug, Clone)]
pub struct ExprOrdering {
    /// Named in cursors, so a cursor taken in one order is refused in another.
    pub name: &'static str,
    pub keys: Vec<ExprKey>,
}

impl ExprOrdering {
    /// Reads a cursor's values back, refusing (naming `field`) one that does not fit
    /// this order.
    pub fn values(&self, field: &str, key: &Key) -> Result<Vec<Value>, DomainError> {
        read_key(self.keys.iter().map(|sort| sort.kind), field, key)
    }

    fn beyond(&self, values: &[Value], later: bool) -> Condition {
        let keys: Vec<(SimpleExpr, bool)> = self
            .keys
            .iter()
            .map(|sort| (sort.expr.clone(), sort.descending))
            .collect();
        beyond_keys(&keys, values, later)
    }

    fn key_column(i: usize) -> String {
        format!("sort_key_{i}")
    }

    /// Reads one page of `query`'s rows in this order, each with its place in it.
    /// The query's own columns are read by `row`; the sort values are added to them.
    pub async fn page<M>(
        &self,
        db: &impl ConnectionTrait,
        mut query: SelectStatement,
        request: &PageRequest,
        size_when_unsaid: u64,
        row: impl Fn(&QueryResult) -> Result<M, DomainError>,
    ) -> Result<KeyedPage<(M, Key)>, DomainError> {
        if let Some(after) = &request.after {
            query.cond_where(self.beyond(&self.values("after", after)?, true));
        }
        if let Some(before) = &request.before {
            query.cond_where(self.beyond(&self.values("before", before)?, false));
        }
        let (size, backwards) = reading(request, size_when_unsaid);
        for (i, sort) in self.keys.iter().enumerate() {
            query.expr_as(sort.expr.clone(), Alias::new(Self::key_column(i)));
            let order = if sort.descending != backwards {
                SqlOrder::Desc
            } else {
                SqlOrder::Asc
            };
            query.order_by_expr(sort.expr.clone(), order);
        }
        query.limit(size.saturating_add(1));
        let found = db
            .query_all_raw(db.get_database_backend().build(&query))
            .await?;
        let mut rows = Vec::with_capacity(found.len());
        for result in &found {
            let key = self
                .keys
                .iter()
                .enumerate()
                .map(|(i, sort)| sort.kind.get(result, &Self::key_column(i)))
                .collect::<Result<Key, DomainError>>()?;
            rows.push((row(result)?, key));
        }
        Ok(cut(rows, request, size, backwards))
    }
}

/// Pages a list held in memory: rows are ordered by their place, `place(row)`, which
/// their cursors carry, so a page still begins where the last one ended when rows
/// were added or removed meanwhile.
pub fn page_in_memory<T, P>(
    rows: Vec<T>,
    place: impl Fn(&T) -> P,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<KeyedPage<(T, Key)>, DomainError>
where
    P: Ord + Serialize + DeserializeOwned,
{
    let read = |field: &str, key: &Option<Key>| -> Result<Option<P>, DomainError> {
        let Some(key) = key else {
            return Ok(None);
        };
        match key.as_slice() {
            [value] => serde_json::from_value(value.clone())
                .map(Some)
                .map_err(|_| DomainError::validation(field, "is not a cursor from this list")),
            _ => Err(DomainError::validation(
                field,
                "is not a cursor from this list",
            )),
        }
    };
    let after = read("after", &request.after)?;
    let before = read("before", &request.before)?;
    let mut placed: Vec<(P, T)> = rows
        .into_iter()
        .map(|row| (place(&row), row))
        .filter(|(p, _)| after.as_ref().is_none_or(|after| p > after))
        .filter(|(p, _)| before.as_ref().is_none_or(|before| p < before))
        .collect();
    placed.sort_by(|a, b| a.0.cmp(&b.0));
    let (size, backwards) = reading(request, size_when_unsaid);
    if backwards {
        placed.reverse();
    }
    placed.truncate(usize::try_from(size.saturating_add(1)).unwrap_or(usize::MAX));
    let rows = placed
        .into_iter()
        .map(|(p, row)| {
            let key = vec![serde_json::to_value(p).unwrap_or(Json::Null)];
            (row, key)
        })
        .collect();
    Ok(cut(rows, request, size, backwards))
}

/// A time as a cursor carries it.
pub fn time_value(at: DateTime<Utc>) -> Json {
    Json::String(at.to_rfc3339())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use entity::{campaign, gift};
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

    fn request(
        after: Option<i64>,
        before: Option<i64>,
        first: Option<u64>,
        last: Option<u64>,
    ) -> PageRequest {
        let key = |id: i64| vec![Json::from(id)];
        PageRequest {
            after: after.map(key),
            before: before.map(key),
            first,
            last,
        }
    }

    /// Pages of the ids 1 to 25 held out of order: the ids each page holds, and
    /// whether there are rows before and after it.
    fn page_of(request: &PageRequest) -> (Vec<i64>, bool, bool) {
        let mut rows: Vec<i64> = (1..=25).collect();
        rows.reverse();
        let page = page_in_memory(rows, |id| *id, request, 20).unwrap();
        for (id, key) in &page.rows {
            assert_eq!(key, &vec![Json::from(*id)]);
        }
        let ids = page.rows.into_iter().map(|(id, _)| id).collect();
        (ids, page.has_previous, page.has_next)
    }

    #[test]
    fn a_list_in_memory_pages_forwards_and_backwards_by_key() {
        assert_eq!(
            page_of(&request(None, None, Some(10), None)),
            ((1..=10).collect(), false, true)
        );
        assert_eq!(
            page_of(&request(Some(20), None, Some(10), None)),
            ((21..=25).collect(), true, false)
        );
        assert_eq!(
            page_of(&request(None, None, None, Some(10))),
            ((16..=25).collect(), true, false)
        );
        assert_eq!(
            page_of(&request(None, Some(16), None, Some(10))),
            ((6..=15).collect(), true, true)
        );
        assert_eq!(
            page_of(&request(None, None, None, None)),
            ((1..=20).collect(), false, true)
        );
        assert_eq!(
            page_of(&request(None, None, Some(5), Some(2))),
            (vec![4, 5], true, true)
        );
        assert_eq!(
            page_of(&request(Some(3), Some(7), None, None)),
            (vec![4, 5, 6], true, true)
        );
        assert_eq!(
            page_of(&request(None, None, Some(0), None)),
            (vec![], false, true)
        );
        assert_eq!(
            page_of(&request(None, None, Some(25), None)),
            ((1..=25).collect(), false, false)
        );
    }

    #[test]
    fn a_cursor_that_does_not_fit_a_list_in_memory_is_refused_by_name() {
        for (field, key) in [
            ("after", vec![Json::from("7")]),
            ("before", vec![Json::from(7), Json::from(8)]),
            ("after", vec![]),
        ] {
            let request = if field == "after" {
                PageRequest {
                    after: Some(key),
                    ..PageRequest::default()
                }
            } else {
                PageRequest {
                    before: Some(key),
                    ..PageRequest::default()
                }
            };
            let Err(DomainError::Validation { field: named, .. }) =
                page_in_memory(vec![1_i64], |id| *id, &request, 20)
            else {
                panic!("{request:?} was accepted");
            };
            assert_eq!(named, field);
        }
    }

    #[test]
    fn a_row_s_key_is_read_from_its_columns_and_back() {
        let at = DateTime::parse_from_rfc3339("2026-03-14T18:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let campaign = campaign::Model {
            id: 42,
            name: "Spring appeal".into(),
            description: None,
            goal_minor: 2550,
            currency: "USD".into(),
            starts_on: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            ends_on: None,
            default_fund_id: 1,
            created_at: at,
            updated_at: at,
        };
        use campaign::Column::{CreatedAt, GoalMinor, Id, Name, StartsOn};
        let orders = [
            (
                StartsOn,
                KeyKind::Date,
                Json::from("2026-03-01"),
                Value::from(campaign.starts_on),
            ),
            (
                Name,
                KeyKind::Text,
                Json::from("Spring appeal"),
                Value::from("Spring appeal"),
            ),
            (
                GoalMinor,
                KeyKind::Integer,
                Json::from(2550),
                Value::from(2550_i64),
            ),
            (
                CreatedAt,
                KeyKind::Time,
                Json::from("2026-03-14T18:00:00+00:00"),
                Value::from(at),
            ),
        ];
        for (column, kind, carried, value) in orders {
            let order = Ordering::by("campaigns", column, kind, Id, false);
            let key = order.key(&campaign);
            assert_eq!(key, vec![carried, Json::from(42)]);
            assert_eq!(
                order.values("after", &key).unwrap(),
                vec![value, Value::from(42_i64)]
            );
        }
    }
}
