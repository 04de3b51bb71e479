//! Issuing a gift receipt: whether a gift gets one, the frozen document, and its email.

use chrono::Utc;
use entity::enums::{GiftStatus, Language, ReceiptKind, ReceiptStatus};
use entity::{Currency, EmailAddress, donor, fund, gift, giving_tier, receipt, tier_membership};
use mailer::documents::{self, Document, GiftLine, Letterhead};
use mailer::outbox::{self, Enqueued, NewMessage};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, Set,
};
use serde_json::json;

use super::super::DomainError;
use super::numbering::{WRITTEN_ACKNOWLEDGMENT_MINOR, next_receipt_number, tax_year};
use crate::config::Organization;

/// The donor's postal address as one block of lines, as it stands now.
pub fn postal_address(donor: &donor::Model) -> Option<String> {
    let city_line = [
        donor.city.as_deref(),
        donor.region.as_deref(),
        donor.postal_code.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let lines: Vec<&str> = [
        donor.address_line1.as_deref(),
        donor.address_line2.as_deref(),
        Some(city_line.as_str()),
    ]
    .into_iter()
    .flatten()
    .filter(|line| !line.trim().is_empty())
    .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Whether installments of a pledge get their own receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallmentReceipts {
    /// The first installment is receipted; the rest are acknowledged by the year-end
    /// statement (the default: not twelve emails a year).
    FirstOnly,
    /// Every installment is receipted (a tier can ask for this).
    Every,
}

/// The installment policy for a donor: their current tier's, or the default.
pub async fn installment_policy(
    db: &impl ConnectionTrait,
    donor_id: i64,
) -> Result<InstallmentReceipts, DomainError> {
    let query = Query::select()
        .column((
            giving_tier::Entity,
            giving_tier::Column::ReceiptEveryInstallment,
        ))
        .from(tier_membership::Entity)
        .inner_join(
            giving_tier::Entity,
            Expr::col((giving_tier::Entity, giving_tier::Column::Id))
                .equals((tier_membership::Entity, tier_membership::Column::TierId)),
        )
        .and_where(tier_membership::Column::DonorId.eq(donor_id))
        .and_where(tier_membership::Column::LeftAt.is_null())
        .to_owned();
    let row = db
        .query_one_raw(db.get_database_backend().build(&query))
        .await?;
    let every = match row {
        Some(row) => row.try_get_by_index::<bool>(0)?,
        None => false,
    };
    Ok(if every {
        InstallmentReceipts::Every
    } else {
        InstallmentReceipts::FirstOnly
    })
}

/// Acknowledges a newly recorded gift as policy says: every succeeded one-off gift and
/// every installment of $250 or more gets its receipt now; other installments get one
/// for the first installment of their pledge (or every one, if the donor's tier asks),
/// and the year-end statement covers the rest. `first_installment` is what the
/// processor says of an installment; without it, the first one recorded is the first.
pub async fn acknowledge_gift(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
    donor: &donor::Model,
    first_installment: Option<bool>,
) -> Result<Option<receipt::Model>, DomainError> {
    if gift.status != GiftStatus::Succeeded {
        return Ok(None);
    }
    let receipt_now = match gift.pledge_id {
        None => true,
        Some(_) if gift.amount_minor >= WRITTEN_ACKNOWLEDGMENT_MINOR => true,
        Some(pledge_id) => {
            installment_policy(txn, donor.id).await? == InstallmentReceipts::Every
                || match first_installment {
                    Some(first) => first,
                    None => {
                        gift::Entity::find()
                            .filter(gift::Column::PledgeId.eq(pledge_id))
                            .filter(gift::Column::Id.ne(gift.id))
                            .filter(gift::Column::Status.is_in([
                                GiftStatus::Succeeded,
                                GiftStatus::PartiallyRefunded,
                                GiftStatus::Refunded,
                                GiftStatus::Disputed,
                            ]))
                            .count(txn)
                            .await?
                            == 0
                    }
                }
        }
    };
    if receipt_now {
        Ok(Some(issue_gift_receipt(txn, org, gift, donor).await?))
    } else {
        Ok(None)
    }
}

/// The gift as its receipt lists it, its fund named in the receipt's `language`.
pub(super) async fn gift_line(
    db: &impl ConnectionTrait,
    gift: &gift::Model,
    language: Language,
) -> Result<GiftLine, DomainError> {
    let fund = fund::Entity::find_by_id(gift.fund_id)
        .one(db)
        .await?
        .map(|f| crate::domain::funds::name_in(&f, language).to_owned())
        .unwrap_or_default();
    Ok(line_for(gift, fund))
}

pub(super) fn line_for(gift: &gift::Model, fund: String) -> GiftLine {
    GiftLine {
        received_at: gift.received_at,
        amount_minor: gift.amount_minor,
        refunded_minor: gift.refunded_minor,
        benefits_minor: gift.benefits_minor,
        benefits_description: gift.benefits_description.clone(),
        method: gift.method,
        fund,
        tribute: gift.tribute_kind.zip(gift.tribute_name.clone()),
    }
}

/// Issues the receipt for one succeeded gift and queues its email, in the caller's
/// transaction.
pub async fn issue_gift_receipt(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
    donor: &donor::Model,
) -> Result<receipt::Model, DomainError> {
    let line = gift_line(txn, gift, donor.language).await?;
    issue(
        txn,
        org,
        donor,
        ReceiptKind::Gift,
        Some(gift),
        tax_year(org, gift.received_at),
        vec![line],
        None,
    )
    .await
}

/// Numbers, renders, stores and queues a receipt or statement. The document it states is
/// stored with it; its PDF is typeset later, outside this transaction
/// (`documents::stored_pdf`).
#[allow(clippy::too_many_arguments)]
pub(super) async fn issue(
    txn: &DatabaseTransaction,
    org: &Organization,
    donor: &donor::Model,
    kind: ReceiptKind,
    gift: Option<&gift::Model>,
    year: i32,
    lines: Vec<GiftLine>,
    replaces: Option<&receipt::Model>,
) -> Result<receipt::Model, DomainError> {
    let currency_code = gift
        .map(|g| g.currency.clone())
        .unwrap_or_else(|| "USD".to_owned());
    let currency = Currency::parse(&currency_code)?;
    let net: i64 = lines.iter().map(GiftLine::net_minor).sum();
    if net <= 0 {
        return Err(DomainError::validation(
            "amount",
            "nothing remains to acknowledge after refunds",
        ));
    }
    let (sequence, number) = next_receipt_number(txn, year).await?;
    let now = Utc::now();
    let address = postal_address(donor);
    let document = Document {
        letterhead: Letterhead::from(org),
        language: donor.language,
        kind,
        number: number.clone(),
        tax_year: year,
        issued_at: now,
        donor_name: donor.display_name.clone(),
        donor_address: address.clone(),
        currency,
        lines,
        replaces: replaces.map(|r| r.number.clone()),
    };
    let rendered = documents::render(&document).map_err(|error| {
        DomainError::Unexpected(anyhow::Error::new(error).context("rendering the receipt"))
    })?;
    let stored = document.to_json().map_err(|error| {
        DomainError::Unexpected(anyhow::Error::new(error).context("storing the receipt's document"))
    })?;
    let receipt = receipt::ActiveModel {
        number: Set(number),
        tax_year: Set(year),
        sequence: Set(sequence),
        kind: Set(kind),
        status: Set(ReceiptStatus::Issued),
        donor_id: Set(donor.id),
        gift_id: Set(gift.map(|g| g.id)),
        replaces_receipt_id: Set(replaces.map(|r| r.id)),
        language: Set(donor.language),
        donor_name: Set(donor.display_name.clone()),
        donor_address: Set(address),
        amount_minor: Set(rendered.amount_minor),
        deductible_minor: Set(rendered.deductible_minor),
        currency: Set(currency.code().to_owned()),
        content_text: Set(rendered.text),
        content_html: Set(Some(rendered.html)),
        content_pdf: Set(None),
        document: Set(Some(stored)),
        issued_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    queue_email(
        txn,
        donor,
        "receipt",
        format!("receipt:{}", receipt.id),
        json!({ "receipt_id": receipt.id }),
    )
    .await?;
    Ok(receipt)
}

/// Queues an email to the donor, when the donor has a usable address.
pub(super) async fn queue_email(
    txn: &impl ConnectionTrait,
    donor: &donor::Model,
    kind: &str,
    key: String,
    payload: serde_json::Value,
) -> Result<Option<Enqueued>, DomainError> {
    let Some(email) = donor
        .email
        .as_deref()
        .and_then(|e| EmailAddress::parse(e).ok())
    else {
        return Ok(None);
    };
    Ok(Some(
        outbox::enqueue(
            txn,
            NewMessage {
                idempotency_key: key,
                kind: kind.to_owned(),
                donor_id: Some(donor.id),
                to_address: email,
                to_name: Some(donor.display_name.clone()),
                language: donor.language,
                payload,
                not_before: None,
            },
        )
        .await?,
    ))
}

pub(super) async fn find_donor(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<donor::Model, DomainError> {
    donor::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("donor", id))
}
