//! Issuing a gift receipt: whether a gift gets one, the frozen document, and its email.

use chrono::{DateTime, Utc};
use entity::enums::{GiftStatus, Language, ReceiptKind, ReceiptStatus};
use entity::{Currency, donor, fund, gift, giving_tier, receipt, tier_membership};
use mailer::documents::{self, Document, GiftLine, Letterhead};
use mailer::outbox::{self, Enqueued, NewMessage};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;

use super::super::DomainError;
use super::super::donors::email_to;
use super::super::gifts;
use super::numbering::{
    WRITTEN_ACKNOWLEDGMENT_MINOR, next_receipt_number, next_receipt_sequences, receipt_number,
    tax_year,
};
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
/// and the year-end statement covers the rest. A statement already issued for the
/// gift's year is the caller's to re-issue (`on_gift_received`, before this, or
/// `on_gifts_received` after several gifts). `first_installment` is what
/// the processor says of an installment; without it, the first one recorded is the
/// first.
pub async fn acknowledge_gift(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
    donor: &donor::Model,
    fund: &fund::Model,
    first_installment: Option<bool>,
) -> Result<Option<receipt::Model>, DomainError> {
    if !gifts::is_acknowledged(gift.status) {
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
        Ok(Some(issue_gift_receipt(txn, org, gift, donor, fund).await?))
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

/// [`gift_line`], with the gift's fund already read.
fn gift_line_in(gift: &gift::Model, fund: &fund::Model, language: Language) -> GiftLine {
    line_for(
        gift,
        crate::domain::funds::name_in(fund, language).to_owned(),
    )
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
    fund: &fund::Model,
) -> Result<receipt::Model, DomainError> {
    if (donor.id, fund.id) != (gift.donor_id, gift.fund_id) {
        return Err(DomainError::Unexpected(anyhow::anyhow!(
            "gift {} of donor {} and fund {} receipted as of donor {} and fund {}",
            gift.id,
            gift.donor_id,
            gift.fund_id,
            donor.id,
            fund.id
        )));
    }
    let line = gift_line_in(gift, fund, donor.language);
    issue(
        txn,
        org,
        Draft {
            donor,
            kind: ReceiptKind::Gift,
            gift: Some(gift),
            year: tax_year(org, gift.received_at),
            lines: vec![line],
            replaces: None,
        },
    )
    .await
}

/// What a receipt states before it has a number: its donor, kind, gift (for a gift
/// receipt), tax year, lines, and the receipt it replaces.
pub(super) struct Draft<'a> {
    pub donor: &'a donor::Model,
    pub kind: ReceiptKind,
    pub gift: Option<&'a gift::Model>,
    pub year: i32,
    pub lines: Vec<GiftLine>,
    pub replaces: Option<&'a receipt::Model>,
}

impl Draft<'_> {
    /// The currency it is stated in, refusing a draft with nothing left to acknowledge:
    /// checked before a number is taken.
    fn checked_currency(&self) -> Result<Currency, DomainError> {
        let code = self.gift.map_or("USD", |g| g.currency.as_str());
        let currency = Currency::parse(code)?;
        let net: i64 = self.lines.iter().map(GiftLine::net_minor).sum();
        if net <= 0 {
            return Err(DomainError::validation(
                "amount",
                "nothing remains to acknowledge after refunds",
            ));
        }
        Ok(currency)
    }

    /// The receipt's row under its number: the document it states, rendered and stored
    /// with it. Its PDF is typeset later, outside the transaction
    /// (`documents::stored_pdf`).
    fn numbered(
        self,
        org: &Organization,
        currency: Currency,
        sequence: i32,
        now: DateTime<Utc>,
    ) -> Result<receipt::ActiveModel, DomainError> {
        let number = receipt_number(self.year, sequence);
        let address = postal_address(self.donor);
        let document = Document {
            letterhead: Letterhead::from(org),
            language: self.donor.language,
            kind: self.kind,
            number: number.clone(),
            tax_year: self.year,
            issued_at: now,
            donor_name: self.donor.display_name.clone(),
            donor_address: address.clone(),
            currency,
            lines: self.lines,
            replaces: self.replaces.map(|r| r.number.clone()),
        };
        let rendered = documents::render(&document).map_err(|error| {
            DomainError::Unexpected(anyhow::Error::new(error).context("rendering the receipt"))
        })?;
        let stored = document.to_json().map_err(|error| {
            DomainError::Unexpected(
                anyhow::Error::new(error).context("storing the receipt's document"),
            )
        })?;
        Ok(receipt::ActiveModel {
            number: Set(number),
            tax_year: Set(self.year),
            sequence: Set(sequence),
            kind: Set(self.kind),
            status: Set(ReceiptStatus::Issued),
            donor_id: Set(self.donor.id),
            gift_id: Set(self.gift.map(|g| g.id)),
            replaces_receipt_id: Set(self.replaces.map(|r| r.id)),
            language: Set(self.donor.language),
            donor_name: Set(self.donor.display_name.clone()),
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
        })
    }
}

/// The email that sends a newly issued receipt.
fn receipt_email(donor: &donor::Model, receipt: &receipt::Model) -> Option<NewMessage> {
    email_to(
        donor,
        "receipt",
        format!("receipt:{}", receipt.id),
        json!({ "receipt_id": receipt.id }),
    )
}

/// Numbers, renders, stores and queues a receipt or statement, in the caller's
/// transaction.
pub(super) async fn issue(
    txn: &DatabaseTransaction,
    org: &Organization,
    draft: Draft<'_>,
) -> Result<receipt::Model, DomainError> {
    let currency = draft.checked_currency()?;
    let (sequence, _) = next_receipt_number(txn, draft.year).await?;
    let donor = draft.donor;
    let receipt = draft
        .numbered(org, currency, sequence, Utc::now())?
        .insert(txn)
        .await?;
    if let Some(message) = receipt_email(donor, &receipt) {
        outbox::enqueue(txn, message).await?;
    }
    Ok(receipt)
}

/// Issues drafts of one tax year together, in the caller's transaction and in the
/// order given: one turn of the year's counter numbers them all, one insert stores
/// them and one queues their emails. Like the transaction, it is all of them or none,
/// so the numbers stay gapless. Returns them in number order.
pub(super) async fn issue_together(
    txn: &DatabaseTransaction,
    org: &Organization,
    year: i32,
    drafts: Vec<Draft<'_>>,
) -> Result<Vec<receipt::Model>, DomainError> {
    let checked = drafts
        .into_iter()
        .map(|draft| {
            if draft.year != year {
                return Err(DomainError::Unexpected(anyhow::anyhow!(
                    "a receipt of {} issued with those of {year}",
                    draft.year
                )));
            }
            Ok((draft.checked_currency()?, draft))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Ok(count) = i32::try_from(checked.len()) else {
        return Err(DomainError::Unexpected(anyhow::anyhow!(
            "{} receipts issued at once",
            checked.len()
        )));
    };
    if count == 0 {
        return Ok(Vec::new());
    }
    let sequences = next_receipt_sequences(txn, year, count).await?;
    let now = Utc::now();
    let mut donors = Vec::with_capacity(checked.len());
    let mut rows = Vec::with_capacity(checked.len());
    for ((currency, draft), sequence) in checked.into_iter().zip(sequences.clone()) {
        donors.push(draft.donor);
        rows.push(draft.numbered(org, currency, sequence, now)?);
    }
    receipt::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    let issued = receipt::Entity::find()
        .filter(receipt::Column::TaxYear.eq(year))
        .filter(receipt::Column::Sequence.between(*sequences.start(), *sequences.end()))
        .order_by_asc(receipt::Column::Sequence)
        .all(txn)
        .await?;
    if issued.len() != donors.len() {
        return Err(DomainError::Unexpected(anyhow::anyhow!(
            "{} receipts of {year} issued, {} found under their numbers",
            donors.len(),
            issued.len()
        )));
    }
    let messages: Vec<NewMessage> = donors
        .iter()
        .zip(&issued)
        .filter_map(|(donor, receipt)| receipt_email(donor, receipt))
        .collect();
    outbox::enqueue_many(txn, messages).await?;
    Ok(issued)
}

/// Queues an email to the donor, when the donor has a usable address.
pub(super) async fn queue_email(
    txn: &impl ConnectionTrait,
    donor: &donor::Model,
    kind: &str,
    key: String,
    payload: serde_json::Value,
) -> Result<Option<Enqueued>, DomainError> {
    match email_to(donor, kind, key, payload) {
        Some(message) => Ok(Some(outbox::enqueue(txn, message).await?)),
        None => Ok(None),
    }
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
