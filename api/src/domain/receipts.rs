//! Receipts: the written acknowledgment a donor uses for taxes. Numbered without gaps
//! per tax year, frozen at issue (text, HTML and PDF are stored and re-sent as they
//! are); a correction voids and re-issues with a new number pointing back.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use entity::enums::{GiftStatus, ReceiptKind, ReceiptStatus};
use entity::{Currency, EmailAddress, donor, fund, gift, outbox as outbox_row, receipt};
use mailer::outbox::{self, Enqueued, NewMessage};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
    TransactionTrait,
};
use serde_json::json;

use super::receipt_document::{self, Document, GiftLine};
use super::{Actor, DomainError, audit, gifts};
use crate::config::Organization;

/// Single gifts of this much (in cents) need a written acknowledgment of their own, so
/// they are receipted even as installments.
pub const WRITTEN_ACKNOWLEDGMENT_MINOR: i64 = 25_000;

/// The tax year a moment falls in: the organization's calendar year.
pub fn tax_year(org: &Organization, at: DateTime<Utc>) -> i32 {
    at.with_timezone(&org.timezone).year()
}

/// The first moment of a tax year and of the next, in UTC.
pub fn tax_year_bounds(
    org: &Organization,
    year: i32,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DomainError> {
    let start = |y: i32| {
        org.timezone
            .with_ymd_and_hms(y, 1, 1, 0, 0, 0)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| DomainError::validation("year", format!("{y} is not a usable year")))
    };
    Ok((start(year)?, start(year + 1)?))
}

fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// Takes the next receipt number of a tax year. The counter row is updated inside the
/// caller's transaction, so the number is used if and only if that transaction commits:
/// numbers have no gaps, and concurrent issuers wait for each other.
pub async fn next_receipt_number(
    txn: &DatabaseTransaction,
    year: i32,
) -> Result<(i32, String), DomainError> {
    let backend = txn.get_database_backend();
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO receipt_counters (tax_year, last_sequence) VALUES ({}, 0) \
             ON CONFLICT (tax_year) DO NOTHING",
            placeholder(backend, 1)
        ),
        [year.into()],
    ))
    .await?;
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "UPDATE receipt_counters SET last_sequence = last_sequence + 1 \
                 WHERE tax_year = {} RETURNING last_sequence",
                placeholder(backend, 1)
            ),
            [year.into()],
        ))
        .await?
        .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("no receipt counter for {year}")))?;
    let sequence: i32 = row.try_get_by_index(0)?;
    Ok((sequence, format!("{year}-{sequence:06}")))
}

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
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT t.receipt_every_installment FROM tier_memberships m \
                 JOIN giving_tiers t ON t.id = m.tier_id \
                 WHERE m.donor_id = {} AND m.left_at IS NULL",
                placeholder(backend, 1)
            ),
            [donor_id.into()],
        ))
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

async fn gift_line(db: &impl ConnectionTrait, gift: &gift::Model) -> Result<GiftLine, DomainError> {
    let fund = fund::Entity::find_by_id(gift.fund_id)
        .one(db)
        .await?
        .map(|f| f.name)
        .unwrap_or_default();
    Ok(line_for(gift, fund))
}

fn line_for(gift: &gift::Model, fund: String) -> GiftLine {
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
    let line = gift_line(txn, gift).await?;
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

/// Numbers, renders, stores and queues a receipt or statement.
#[allow(clippy::too_many_arguments)]
async fn issue(
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
    let rendered = receipt_document::render(&Document {
        org,
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
    });
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
        content_pdf: Set(Some(rendered.pdf)),
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
async fn queue_email(
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

async fn find_donor(db: &impl ConnectionTrait, id: i64) -> Result<donor::Model, DomainError> {
    donor::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("donor", id))
}

/// A receipt by its number.
pub async fn find_by_number(
    db: &impl ConnectionTrait,
    number: &str,
) -> Result<receipt::Model, DomainError> {
    receipt::Entity::find()
        .filter(receipt::Column::Number.eq(number.trim()))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("receipt", number))
}

/// Voids an issued receipt in the caller's transaction. A void receipt stays on file,
/// unchanged but for its status, and is never sent again.
async fn void(
    txn: &DatabaseTransaction,
    receipt: &receipt::Model,
    reason: &str,
) -> Result<receipt::Model, DomainError> {
    if receipt.status == ReceiptStatus::Void {
        return Err(DomainError::Conflict {
            field: Some("number".to_owned()),
            message: format!("receipt {} is already void", receipt.number),
        });
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DomainError::validation(
            "reason",
            "say why the receipt is voided",
        ));
    }
    let mut active: receipt::ActiveModel = receipt.clone().into();
    active.status = Set(ReceiptStatus::Void);
    active.voided_at = Set(Some(Utc::now()));
    active.void_reason = Set(Some(reason.to_owned()));
    Ok(active.update(txn).await?)
}

async fn tell_donor_voided(
    txn: &DatabaseTransaction,
    donor: &donor::Model,
    voided: &receipt::Model,
    replacement: Option<&receipt::Model>,
) -> Result<(), DomainError> {
    queue_email(
        txn,
        donor,
        mailer::templates::receipt_voided::KIND,
        format!("receipt_voided:{}", voided.id),
        json!({ "receipt_id": voided.id, "replacement_receipt_id": replacement.map(|r| r.id) }),
    )
    .await?;
    Ok(())
}

/// Re-creates a receipt's content from its gift (or the donor's gifts of its year) as
/// they stand now, with the donor's current name and address.
async fn reissue_in(
    txn: &DatabaseTransaction,
    org: &Organization,
    voided: &receipt::Model,
) -> Result<Option<receipt::Model>, DomainError> {
    let donor = find_donor(txn, voided.donor_id).await?;
    match (voided.kind, voided.gift_id) {
        (ReceiptKind::Gift, Some(gift_id)) => {
            let gift = gift::Entity::find_by_id(gift_id)
                .one(txn)
                .await?
                .ok_or_else(|| DomainError::not_found("gift", gift_id))?;
            if gifts::net_minor(&gift) <= 0 {
                return Ok(None);
            }
            let line = gift_line(txn, &gift).await?;
            Ok(Some(
                issue(
                    txn,
                    org,
                    &donor,
                    ReceiptKind::Gift,
                    Some(&gift),
                    voided.tax_year,
                    vec![line],
                    Some(voided),
                )
                .await?,
            ))
        }
        _ => {
            let lines = statement_lines(txn, org, donor.id, voided.tax_year).await?;
            if lines.iter().map(GiftLine::net_minor).sum::<i64>() <= 0 {
                return Ok(None);
            }
            Ok(Some(
                issue(
                    txn,
                    org,
                    &donor,
                    ReceiptKind::YearEndStatement,
                    None,
                    voided.tax_year,
                    lines,
                    Some(voided),
                )
                .await?,
            ))
        }
    }
}

/// Voids a receipt (staff, with a reason) and tells the donor.
pub async fn void_receipt(
    db: &DatabaseConnection,
    number: &str,
    reason: &str,
    actor: &Actor,
) -> Result<receipt::Model, DomainError> {
    let txn = crate::db::begin_write(db).await?;
    let receipt = find_by_number(&txn, number).await?;
    let voided = void(&txn, &receipt, reason).await?;
    let donor = find_donor(&txn, voided.donor_id).await?;
    tell_donor_voided(&txn, &donor, &voided, None).await?;
    audit::record(
        &txn,
        actor,
        "void",
        "receipt",
        Some(voided.number.clone()),
        json!({ "reason": reason.trim() }),
    )
    .await?;
    txn.commit().await?;
    Ok(voided)
}

/// Corrects a receipt: voids it and issues a new number that points back to it, with
/// the gift and donor details as they are now. Both the notice and the new receipt are
/// emailed.
pub async fn reissue_receipt(
    db: &DatabaseConnection,
    org: &Organization,
    number: &str,
    reason: &str,
    actor: &Actor,
) -> Result<receipt::Model, DomainError> {
    let txn = crate::db::begin_write(db).await?;
    let receipt = find_by_number(&txn, number).await?;
    let voided = void(&txn, &receipt, reason).await?;
    let replacement = reissue_in(&txn, org, &voided).await?.ok_or_else(|| {
        DomainError::validation(
            "number",
            "nothing remains to acknowledge after refunds; void it instead",
        )
    })?;
    let donor = find_donor(&txn, voided.donor_id).await?;
    tell_donor_voided(&txn, &donor, &voided, Some(&replacement)).await?;
    audit::record(
        &txn,
        actor,
        "reissue",
        "receipt",
        Some(voided.number.clone()),
        json!({ "reason": reason.trim(), "replacement": replacement.number }),
    )
    .await?;
    txn.commit().await?;
    Ok(replacement)
}

/// Queues the stored receipt to the donor again, exactly as issued.
pub async fn resend_receipt(
    db: &DatabaseConnection,
    number: &str,
    actor: &Actor,
) -> Result<outbox_row::Model, DomainError> {
    let txn = crate::db::begin_write(db).await?;
    let receipt = find_by_number(&txn, number).await?;
    if receipt.status == ReceiptStatus::Void {
        return Err(DomainError::validation(
            "number",
            format!("receipt {} is void and cannot be sent", receipt.number),
        ));
    }
    let donor = find_donor(&txn, receipt.donor_id).await?;
    let prefix = format!("receipt:{}:resend:", receipt.id);
    let earlier = outbox_row::Entity::find()
        .filter(outbox_row::Column::IdempotencyKey.starts_with(&prefix))
        .count(&txn)
        .await?;
    let queued = queue_email(
        &txn,
        &donor,
        "receipt",
        format!("{prefix}{}", earlier + 1),
        json!({ "receipt_id": receipt.id }),
    )
    .await?
    .ok_or_else(|| DomainError::validation("number", "the donor has no usable email address"))?;
    audit::record(
        &txn,
        actor,
        "resend",
        "receipt",
        Some(receipt.number.clone()),
        json!({ "outbox_id": queued.id() }),
    )
    .await?;
    let message = outbox_row::Entity::find_by_id(queued.id())
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::not_found("outbox message", queued.id()))?;
    txn.commit().await?;
    Ok(message)
}

/// What a refund or a correction did to the donor's receipts.
#[derive(Debug, Clone, PartialEq)]
pub enum RefundOutcome {
    /// The gift had no valid receipt or statement to change.
    NothingIssued,
    /// Refunded in full: the receipt is void and the donor told.
    Voided { voided: Box<receipt::Model> },
    /// Refunded in part: the receipt is void and a new one states the net gift.
    Reissued {
        voided: Box<receipt::Model>,
        replacement: Box<receipt::Model>,
    },
}

/// After a refund: a full refund voids the gift's receipt and tells the donor; a
/// partial refund voids it and issues a new one for the net gift. A year-end statement
/// already issued for that year is corrected the same way. Call it in the transaction
/// that changed the gift's refunded amount.
pub async fn on_refund(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
) -> Result<RefundOutcome, DomainError> {
    let reason = if gift.refunded_minor >= gift.amount_minor {
        "the gift was refunded in full".to_owned()
    } else {
        format!(
            "the gift was refunded in part ({})",
            entity::format_minor(gift.refunded_minor, Currency::parse(&gift.currency)?)
        )
    };
    correct_receipts(txn, org, gift, &reason).await
}

/// After a refund of a gift fails and its money is the organization's again: its
/// receipt is voided and re-issued for what the gift now counts; a receipt voided when
/// the refund took everything is re-issued from the voided one.
pub async fn on_refund_failed(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
) -> Result<RefundOutcome, DomainError> {
    let reason = "a refund of the gift failed";
    if valid_gift_receipt(txn, gift.id).await?.is_some() {
        return correct_receipts(txn, org, gift, reason).await;
    }
    let donor = find_donor(txn, gift.donor_id).await?;
    correct_statement(txn, org, gift, &donor, reason).await?;
    // A receipt voided because the bank reversed the payment stays void.
    if gift.status == GiftStatus::Disputed {
        return Ok(RefundOutcome::NothingIssued);
    }
    let last_voided = receipt::Entity::find()
        .filter(receipt::Column::GiftId.eq(gift.id))
        .filter(receipt::Column::Kind.eq(ReceiptKind::Gift))
        .filter(receipt::Column::Status.eq(ReceiptStatus::Void))
        .order_by_desc(receipt::Column::Id)
        .one(txn)
        .await?;
    let Some(voided) = last_voided else {
        return Ok(RefundOutcome::NothingIssued);
    };
    match reissue_in(txn, org, &voided).await? {
        Some(replacement) => Ok(RefundOutcome::Reissued {
            voided: Box::new(voided),
            replacement: Box::new(replacement),
        }),
        None => Ok(RefundOutcome::NothingIssued),
    }
}

/// After staff correct a receipted gift (its amount, date, fund, method, tribute or
/// benefits): its receipt, and any statement for that year, are voided and re-issued
/// with the gift as it is now. Call it in the transaction that changed the gift.
pub async fn on_gift_corrected(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
) -> Result<RefundOutcome, DomainError> {
    correct_receipts(txn, org, gift, "the gift's details were corrected").await
}

/// After the donor's bank reverses a payment for good (a lost dispute): the gift's
/// receipt is voided without a replacement, and the year's statement is re-issued
/// without the gift.
pub async fn on_payment_reversed(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
) -> Result<RefundOutcome, DomainError> {
    let reason = "the payment was reversed by the donor's bank";
    let donor = find_donor(txn, gift.donor_id).await?;
    correct_statement(txn, org, gift, &donor, reason).await?;
    let Some(current) = valid_gift_receipt(txn, gift.id).await? else {
        return Ok(RefundOutcome::NothingIssued);
    };
    let voided = void(txn, &current, reason).await?;
    tell_donor_voided(txn, &donor, &voided, None).await?;
    Ok(RefundOutcome::Voided {
        voided: Box::new(voided),
    })
}

async fn valid_gift_receipt(
    txn: &DatabaseTransaction,
    gift_id: i64,
) -> Result<Option<receipt::Model>, DomainError> {
    Ok(receipt::Entity::find()
        .filter(receipt::Column::GiftId.eq(gift_id))
        .filter(receipt::Column::Kind.eq(ReceiptKind::Gift))
        .filter(receipt::Column::Status.eq(ReceiptStatus::Issued))
        .one(txn)
        .await?)
}

async fn correct_statement(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
    donor: &donor::Model,
    reason: &str,
) -> Result<(), DomainError> {
    let statement = receipt::Entity::find()
        .filter(receipt::Column::DonorId.eq(gift.donor_id))
        .filter(receipt::Column::Kind.eq(ReceiptKind::YearEndStatement))
        .filter(receipt::Column::Status.eq(ReceiptStatus::Issued))
        .filter(receipt::Column::TaxYear.eq(tax_year(org, gift.received_at)))
        .one(txn)
        .await?;
    if let Some(statement) = statement {
        let voided = void(txn, &statement, reason).await?;
        let replacement = reissue_in(txn, org, &voided).await?;
        tell_donor_voided(txn, donor, &voided, replacement.as_ref()).await?;
    }
    Ok(())
}

/// Voids the gift's receipt and the year's statement and re-issues each with the gift
/// as it is now; a receipt with nothing left to acknowledge is voided only.
async fn correct_receipts(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
    reason: &str,
) -> Result<RefundOutcome, DomainError> {
    let donor = find_donor(txn, gift.donor_id).await?;
    correct_statement(txn, org, gift, &donor, reason).await?;
    let Some(current) = valid_gift_receipt(txn, gift.id).await? else {
        return Ok(RefundOutcome::NothingIssued);
    };
    let voided = void(txn, &current, reason).await?;
    match reissue_in(txn, org, &voided).await? {
        None => {
            tell_donor_voided(txn, &donor, &voided, None).await?;
            Ok(RefundOutcome::Voided {
                voided: Box::new(voided),
            })
        }
        Some(replacement) => {
            tell_donor_voided(txn, &donor, &voided, Some(&replacement)).await?;
            Ok(RefundOutcome::Reissued {
                voided: Box::new(voided),
                replacement: Box::new(replacement),
            })
        }
    }
}

/// The donor's gifts of a tax year that still count, net of refunds, oldest first.
async fn statement_lines(
    db: &impl ConnectionTrait,
    org: &Organization,
    donor_id: i64,
    year: i32,
) -> Result<Vec<GiftLine>, DomainError> {
    let (start, end) = tax_year_bounds(org, year)?;
    let gifts = gift::Entity::find()
        .filter(gift::Column::DonorId.eq(donor_id))
        .filter(gift::Column::ReceivedAt.gte(start))
        .filter(gift::Column::ReceivedAt.lt(end))
        .filter(gifts::counted())
        .order_by_asc(gift::Column::ReceivedAt)
        .order_by_asc(gift::Column::Id)
        .all(db)
        .await?;
    let funds: std::collections::HashMap<i64, String> = fund::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|f| (f.id, f.name))
        .collect();
    Ok(gifts
        .iter()
        .filter(|g| gifts::net_minor(g) > 0)
        .map(|g| line_for(g, funds.get(&g.fund_id).cloned().unwrap_or_default()))
        .collect())
}

/// Issues one donor's year-end statement in the caller's transaction, unless one is
/// already valid or nothing remains to state.
pub async fn issue_year_end_statement(
    txn: &DatabaseTransaction,
    org: &Organization,
    donor: &donor::Model,
    year: i32,
) -> Result<Option<receipt::Model>, DomainError> {
    let existing = receipt::Entity::find()
        .filter(receipt::Column::DonorId.eq(donor.id))
        .filter(receipt::Column::Kind.eq(ReceiptKind::YearEndStatement))
        .filter(receipt::Column::Status.eq(ReceiptStatus::Issued))
        .filter(receipt::Column::TaxYear.eq(year))
        .count(txn)
        .await?;
    if existing > 0 {
        return Ok(None);
    }
    let lines = statement_lines(txn, org, donor.id, year).await?;
    if lines.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        issue(
            txn,
            org,
            donor,
            ReceiptKind::YearEndStatement,
            None,
            year,
            lines,
            None,
        )
        .await?,
    ))
}

/// What a run of year-end statements did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatementRun {
    /// Statements issued now.
    pub issued: u64,
    /// Donors who already had a valid statement for the year.
    pub already_issued: u64,
}

/// Issues the year-end statement of every donor who gave in `year` and has none yet, one
/// donor per transaction. Running it again issues nothing new.
pub async fn issue_year_end_statements(
    db: &DatabaseConnection,
    org: &Organization,
    year: i32,
    actor: &Actor,
) -> Result<StatementRun, DomainError> {
    let current = tax_year(org, Utc::now());
    if !(2000..=current).contains(&year) {
        return Err(DomainError::validation(
            "year",
            format!("must be a year from 2000 to {current}"),
        ));
    }
    let (start, end) = tax_year_bounds(org, year)?;
    let donors: Vec<i64> = gift::Entity::find()
        .select_only()
        .column(gift::Column::DonorId)
        .distinct()
        .filter(gift::Column::ReceivedAt.gte(start))
        .filter(gift::Column::ReceivedAt.lt(end))
        .filter(gifts::counted())
        .into_tuple()
        .all(db)
        .await?;
    // Donors whose statement stands are skipped without a transaction each; the check
    // inside the transaction still guards against a run going on at the same time.
    let already: std::collections::HashSet<i64> = receipt::Entity::find()
        .select_only()
        .column(receipt::Column::DonorId)
        .filter(receipt::Column::Kind.eq(ReceiptKind::YearEndStatement))
        .filter(receipt::Column::Status.eq(ReceiptStatus::Issued))
        .filter(receipt::Column::TaxYear.eq(year))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut run = StatementRun::default();
    let mut donors = donors;
    donors.sort_unstable();
    for donor_id in donors {
        if already.contains(&donor_id) {
            run.already_issued += 1;
            continue;
        }
        let txn = crate::db::begin_write(db).await?;
        let donor = find_donor(&txn, donor_id).await?;
        match issue_year_end_statement(&txn, org, &donor, year).await {
            Ok(Some(_)) => {
                txn.commit().await?;
                run.issued += 1;
            }
            Ok(None) => {
                txn.rollback().await?;
                run.already_issued += 1;
            }
            // Another run issued this donor's statement at the same moment.
            Err(DomainError::Conflict { .. }) => {
                txn.rollback().await?;
                run.already_issued += 1;
            }
            Err(error) => return Err(error),
        }
    }
    let txn = db.begin().await?;
    audit::record(
        &txn,
        actor,
        "issue_year_end_statements",
        "receipt",
        Some(year.to_string()),
        json!({ "issued": run.issued, "already_issued": run.already_issued }),
    )
    .await?;
    txn.commit().await?;
    Ok(run)
}

/// Gifts of at least `minimum_minor` that succeeded (or were refunded only in part) and
/// have no valid receipt of their own, oldest first.
pub async fn gifts_missing_acknowledgment(
    db: &impl ConnectionTrait,
    minimum_minor: i64,
    limit: u64,
) -> Result<Vec<gift::Model>, DomainError> {
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
    Ok(gift::Entity::find()
        .filter(gifts::counted())
        .filter(gifts::net_amount().gte(minimum_minor))
        .filter(Expr::exists(valid_receipt).not())
        .order_by_asc(gift::Column::ReceivedAt)
        .order_by_asc(gift::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The link version of the donor receipt `number` was issued to (see
/// `mailer::links`); 0 for a number no receipt has, so a genuine link to a receipt
/// that is gone is told so.
pub async fn link_version_for_receipt(
    db: &impl ConnectionTrait,
    number: &str,
) -> Result<i64, DomainError> {
    let donor_id: Option<i64> = receipt::Entity::find()
        .select_only()
        .column(receipt::Column::DonorId)
        .filter(receipt::Column::Number.eq(number))
        .into_tuple()
        .one(db)
        .await?;
    Ok(match donor_id {
        Some(donor_id) => super::donors::link_version(db, donor_id)
            .await?
            .unwrap_or(0),
        None => 0,
    })
}

/// Whether a download link's signature is right for the donor's link `version` and it
/// has not expired.
pub fn download_link_is_valid(
    key: &str,
    number: &str,
    expires: i64,
    signature: &str,
    version: i64,
    now: DateTime<Utc>,
) -> bool {
    mailer::links::is_valid(key, number, expires, signature, version, now)
}

/// The path (under PUBLIC_URL) of a signed link to a receipt's PDF, for a donor whose
/// links are at `version`.
pub fn download_path(key: &str, number: &str, expires: DateTime<Utc>, version: i64) -> String {
    mailer::links::path(key, number, expires, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_link_is_refused_when_altered_expired_or_revoked() {
        let key = "k".repeat(32);
        let now = Utc::now();
        let expires = now.timestamp() + 60;
        let signature = mailer::links::signature(&key, "2026-000001", expires, 0);
        let valid = |key: &str, number: &str, expires: i64, version: i64, now| {
            download_link_is_valid(key, number, expires, &signature, version, now)
        };
        assert!(valid(&key, "2026-000001", expires, 0, now));
        assert!(!valid(&key, "2026-000002", expires, 0, now));
        assert!(!valid(&key, "2026-000001", expires + 1, 0, now));
        assert!(!valid(&"x".repeat(32), "2026-000001", expires, 0, now));
        assert!(!valid(&key, "2026-000001", expires, 1, now));
        assert!(!valid(
            &key,
            "2026-000001",
            expires,
            0,
            now + chrono::Duration::seconds(61)
        ));
    }
}
