//! Finding receipts: by number or id, listed by filter, and the gifts still waiting
//! for a written acknowledgment.

use entity::enums::{ReceiptKind, ReceiptStatus};
use entity::{gift, receipt};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Select};

use super::super::gift_search::GiftOrder;
use super::super::keyset::{CountedPage, KeyKind, KeyedPage, Ordering, PageRequest};
use super::super::{DomainError, gifts};

/// A receipt by its number.
pub async fn find_by_number(
    db: &impl ConnectionTrait,
    number: &str,
) -> Result<receipt::Model, DomainError> {
    receipt::Entity::find()
        .filter(receipt::Column::Number.eq(as_typed(number)))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("receipt", number))
}

/// A receipt number as typed or pasted: without the spaces around it, and without the
/// invisible marks an Arabic subject sets around it (`mailer::bidi`), which come along
/// when it is copied from there.
fn as_typed(number: &str) -> String {
    mailer::bidi::without_direction_marks(number)
        .trim()
        .to_owned()
}

/// A receipt by its number, or `None` when no receipt has it.
pub async fn find_receipt_by_number(
    db: &impl ConnectionTrait,
    number: &str,
) -> Result<Option<receipt::Model>, DomainError> {
    Ok(receipt::Entity::find()
        .filter(receipt::Column::Number.eq(as_typed(number)))
        .one(db)
        .await?)
}

/// The receipt's PDF, the bytes that were (or will be) sent: typeset from its frozen
/// document by the first reader and stored. `None` for an old receipt that has none.
pub async fn receipt_pdf(
    db: &impl ConnectionTrait,
    receipt: &receipt::Model,
) -> Result<Option<Vec<u8>>, DomainError> {
    mailer::documents::stored_pdf(db, receipt)
        .await
        .map_err(|error| {
            DomainError::Unexpected(
                anyhow::Error::new(error).context("typesetting the receipt PDF"),
            )
        })
}

/// A receipt by its id, or `None`.
pub async fn find_receipt(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<receipt::Model>, DomainError> {
    Ok(receipt::Entity::find_by_id(id).one(db).await?)
}

/// Which receipts to list; parts combine with AND.
#[derive(Debug, Clone, Default)]
pub struct ReceiptFilter {
    pub donor_id: Option<i64>,
    pub tax_year: Option<i32>,
    pub kind: Option<ReceiptKind>,
    pub status: Option<ReceiptStatus>,
}

fn matching(filter: &ReceiptFilter) -> Select<receipt::Entity> {
    let mut query = receipt::Entity::find();
    if let Some(donor_id) = filter.donor_id {
        query = query.filter(receipt::Column::DonorId.eq(donor_id));
    }
    if let Some(year) = filter.tax_year {
        query = query.filter(receipt::Column::TaxYear.eq(year));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(receipt::Column::Kind.eq(kind));
    }
    if let Some(status) = filter.status {
        query = query.filter(receipt::Column::Status.eq(status));
    }
    query
}

/// How many receipts match.
pub async fn count_receipts(
    db: &impl ConnectionTrait,
    filter: &ReceiptFilter,
) -> Result<u64, DomainError> {
    Ok(matching(filter).count(db).await?)
}

/// Receipts are listed newest issued first, ties by id.
pub fn newest_receipts() -> Ordering<receipt::Column> {
    use receipt::Column::{Id, IssuedAt};
    Ordering::by("receipts-newest", IssuedAt, KeyKind::Time, Id, true)
}

/// One page of matching receipts, newest first.
pub async fn page_receipts(
    db: &impl ConnectionTrait,
    filter: &ReceiptFilter,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<KeyedPage<receipt::Model>, DomainError> {
    newest_receipts()
        .page(db, matching(filter), request, size_when_unsaid)
        .await
}

/// One page of the gifts of at least `minimum_minor` that succeeded (or were refunded
/// only in part) and have no valid receipt of their own, oldest first; and how many
/// there are.
pub async fn gifts_missing_acknowledgment(
    db: &impl ConnectionTrait,
    minimum_minor: i64,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<CountedPage<gift::Model>, DomainError> {
    let valid_receipt = Query::select()
        .expr(Expr::val(1))
        .from(receipt::Entity)
        .and_where(
            Expr::col((receipt::Entity, receipt::Column::GiftId))
                .equals((gift::Entity, gift::Column::Id)),
        )
        .and_where(receipt::Column::Kind.eq(ReceiptKind::Gift))
        .and_where(receipt::Column::Status.eq(ReceiptStatus::Issued))
        .to_owned();
    let query = gift::Entity::find()
        .filter(gifts::counted())
        .filter(gifts::net_amount().gte(minimum_minor))
        .filter(Expr::exists(valid_receipt).not());
    GiftOrder::Oldest
        .ordering()
        .page_counted(db, query, request, size_when_unsaid)
        .await
}
