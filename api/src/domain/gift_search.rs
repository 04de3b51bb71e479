//! Finding gifts: by date, fund, campaign, appeal code, method, status, amount and a
//! searched text (the check number, or words of the notes), newest, oldest, largest or
//! smallest first (ties broken by id, so paging is stable), a page at a time by key.

use chrono::{DateTime, Utc};
use entity::enums::{GiftStatus, PaymentMethod};
use entity::gift;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use serde::{Deserialize, Serialize};

use super::DomainError;
use super::keyset::{KeyKind, KeyedPage, Ordering, PageRequest};
use super::offline_gifts::find_appeal_by_code;
use super::partial_rows::ColumnSet;

/// What to look for; parts combine with AND.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GiftFilter {
    pub donor_id: Option<i64>,
    pub received_from: Option<DateTime<Utc>>,
    pub received_to: Option<DateTime<Utc>>,
    pub fund_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub appeal_code: Option<String>,
    pub pledge_id: Option<i64>,
    pub methods: Vec<PaymentMethod>,
    pub statuses: Vec<GiftStatus>,
    pub amount_min_minor: Option<i64>,
    pub amount_max_minor: Option<i64>,
    /// A check number (exactly), or, with `text_in_notes`, part of the notes (any case).
    #[serde(default)]
    pub text: Option<String>,
    /// Search the notes too: only for those who may read them.
    #[serde(default)]
    pub text_in_notes: bool,
}

/// What `filter` asks of a gift, its columns named with their table, so the condition
/// holds in a query that joins other tables too; `None` when no gift can match.
pub async fn condition(
    db: &impl ConnectionTrait,
    filter: &GiftFilter,
) -> Result<Option<Condition>, DomainError> {
    let mut condition = Condition::all();
    if let Some(id) = filter.donor_id {
        condition = condition.add(gift::Column::DonorId.eq(id));
    }
    if let Some(from) = filter.received_from {
        condition = condition.add(gift::Column::ReceivedAt.gte(from));
    }
    if let Some(to) = filter.received_to {
        condition = condition.add(gift::Column::ReceivedAt.lt(to));
    }
    if let Some(id) = filter.fund_id {
        condition = condition.add(gift::Column::FundId.eq(id));
    }
    if let Some(id) = filter.campaign_id {
        condition = condition.add(gift::Column::CampaignId.eq(id));
    }
    if let Some(id) = filter.pledge_id {
        condition = condition.add(gift::Column::PledgeId.eq(id));
    }
    if let Some(code) = filter
        .appeal_code
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        // An unknown source code matches no gift.
        match find_appeal_by_code(db, code).await? {
            Some(appeal) => condition = condition.add(gift::Column::AppealId.eq(appeal.id)),
            None => return Ok(None),
        }
    }
    if !filter.methods.is_empty() {
        condition = condition.add(gift::Column::Method.is_in(filter.methods.clone()));
    }
    if !filter.statuses.is_empty() {
        condition = condition.add(gift::Column::Status.is_in(filter.statuses.clone()));
    }
    if let Some(min) = filter.amount_min_minor {
        condition = condition.add(gift::Column::AmountMinor.gte(min));
    }
    if let Some(max) = filter.amount_max_minor {
        condition = condition.add(gift::Column::AmountMinor.lte(max));
    }
    if let Some(text) = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let mut either = Condition::any().add(gift::Column::CheckNumber.eq(text));
        if filter.text_in_notes {
            let escaped = text
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            either = either.add(
                Expr::expr(Func::lower(Expr::col((gift::Entity, gift::Column::Notes))))
                    .like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
            );
        }
        condition = condition.add(either);
    }
    Ok(Some(condition))
}

/// How many gifts match.
pub async fn count_gifts(
    db: &impl ConnectionTrait,
    filter: &GiftFilter,
) -> Result<u64, DomainError> {
    match condition(db, filter).await? {
        Some(condition) => Ok(gift::Entity::find().filter(condition).count(db).await?),
        None => Ok(0),
    }
}

/// The orders gifts are listed in; gifts that tie are ordered by id the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GiftOrder {
    #[default]
    Newest,
    Oldest,
    Largest,
    Smallest,
}

impl GiftOrder {
    pub fn ordering(self) -> Ordering<gift::Column> {
        use gift::Column::{AmountMinor, Id, ReceivedAt};
        match self {
            GiftOrder::Newest => Ordering::by("gifts-newest", ReceivedAt, KeyKind::Time, Id, true),
            GiftOrder::Oldest => Ordering::by("gifts-oldest", ReceivedAt, KeyKind::Time, Id, false),
            GiftOrder::Largest => {
                Ordering::by("gifts-largest", AmountMinor, KeyKind::Integer, Id, true)
            }
            GiftOrder::Smallest => {
                Ordering::by("gifts-smallest", AmountMinor, KeyKind::Integer, Id, false)
            }
        }
    }
}

/// One page of matching gifts in `order`: whole rows, or only `columns` (and the
/// order's keys) of each.
pub async fn page_gifts(
    db: &impl ConnectionTrait,
    filter: &GiftFilter,
    order: GiftOrder,
    request: &PageRequest,
    size_when_unsaid: u64,
    columns: Option<ColumnSet>,
) -> Result<KeyedPage<gift::Model>, DomainError> {
    let Some(condition) = condition(db, filter).await? else {
        return Ok(KeyedPage::empty());
    };
    let select = gift::Entity::find().filter(condition);
    let ordering = order.ordering();
    match columns {
        Some(columns) => {
            ordering
                .page_in_part(db, select, request, size_when_unsaid, columns)
                .await
        }
        None => ordering.page(db, select, request, size_when_unsaid).await,
    }
}

/// One gift by id.
pub async fn find_gift(db: &impl ConnectionTrait, id: i64) -> Result<gift::Model, DomainError> {
    gift::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("gift", id))
}
