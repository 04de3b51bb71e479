//! Corrections: voiding, re-issuing and re-sending a receipt, and what a refund, a
//! corrected gift or a reversed payment does to the receipts that stand.

use std::collections::BTreeSet;

use chrono::{SubsecRound, Utc};
use entity::enums::{GiftStatus, ReceiptKind, ReceiptStatus};
use entity::{Currency, donor, gift, outbox as outbox_row, receipt};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;

use super::super::{Actor, DomainError, audit, gifts};
use super::issue::{Draft, find_donor, gift_line, issue, queue_email};
use super::lookup::find_by_number;
use super::numbering::{hold_tax_year, tax_year};
use super::statements::{hold_donors, statement_lines, valid_statements_of};
use crate::config::Organization;
use mailer::documents::GiftLine;
pub use mailer::templates::receipt_voided::VoidReason;

/// Voids an issued receipt in the caller's transaction. A void receipt stays on file,
/// unchanged but for its status, and is never sent again. Only a receipt that still
/// stands is changed: one voided meanwhile by another transaction (on PostgreSQL, read
/// as issued before that transaction committed) keeps the reason it was voided for.
pub(super) async fn void(
    txn: &DatabaseTransaction,
    receipt: &receipt::Model,
    reason: &VoidReason,
) -> Result<receipt::Model, DomainError> {
    let already_void = || DomainError::Conflict {
        field: Some("number".to_owned()),
        message: format!("receipt {} is already void", receipt.number),
        existing_id: None,
    };
    if receipt.status == ReceiptStatus::Void {
        return Err(already_void());
    }
    let voided = receipt::Model {
        status: ReceiptStatus::Void,
        // As the databases keep it, so what is returned is what is read back later.
        voided_at: Some(Utc::now().trunc_subsecs(6)),
        void_reason: Some(reason.recorded()),
        ..receipt.clone()
    };
    let changed = receipt::Entity::update_many()
        .col_expr(receipt::Column::Status, Expr::value(voided.status))
        .col_expr(receipt::Column::VoidedAt, Expr::value(voided.voided_at))
        .col_expr(
            receipt::Column::VoidReason,
            Expr::value(voided.void_reason.clone()),
        )
        .filter(receipt::Column::Id.eq(receipt.id))
        .filter(receipt::Column::Status.eq(ReceiptStatus::Issued))
        .exec(txn)
        .await?;
    if changed.rows_affected == 0 {
        return Err(already_void());
    }
    Ok(voided)
}

pub(super) async fn tell_donor_voided(
    txn: &DatabaseTransaction,
    donor: &donor::Model,
    voided: &receipt::Model,
    replacement: Option<&receipt::Model>,
    reason: &VoidReason,
) -> Result<(), DomainError> {
    queue_email(
        txn,
        donor,
        mailer::templates::receipt_voided::KIND,
        format!("receipt_voided:{}", voided.id),
        json!({
            "receipt_id": voided.id,
            "replacement_receipt_id": replacement.map(|r| r.id),
            "reason": reason,
        }),
    )
    .await?;
    Ok(())
}

/// Re-creates a receipt's content from its gift (or the donor's gifts of its year) as
/// they stand now, with the donor's current name and address. A gift's receipt is
/// numbered in the tax year of the gift's date as it is now.
pub(super) async fn reissue_in(
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
            let line = gift_line(txn, &gift, donor.language).await?;
            let draft = Draft {
                donor: &donor,
                kind: ReceiptKind::Gift,
                gift: Some(&gift),
                year: tax_year(org, gift.received_at),
                lines: vec![line],
                replaces: Some(voided),
            };
            Ok(Some(issue(txn, org, draft).await?))
        }
        _ => {
            let lines = statement_lines(txn, org, &donor, voided.tax_year).await?;
            if lines.iter().map(GiftLine::net_minor).sum::<i64>() <= 0 {
                return Ok(None);
            }
            let draft = Draft {
                donor: &donor,
                kind: ReceiptKind::YearEndStatement,
                gift: None,
                year: voided.tax_year,
                lines,
                replaces: Some(voided),
            };
            Ok(Some(issue(txn, org, draft).await?))
        }
    }
}

/// The longest reason staff may give; it is read in an email, one line.
const MAX_REASON: usize = 500;

/// A reason typed by staff: one line the donor will read, naming `reason` when it is
/// missing, too long or carries a control character.
fn staff_reason(text: &str) -> Result<VoidReason, DomainError> {
    Ok(VoidReason::Staff {
        text: super::super::text::required_line("reason", text, MAX_REASON)?,
    })
}

/// The receipt numbered `number`, its tax year's counter held: a refund, a reversed
/// payment or a corrected gift holds the year before it voids the gift's receipts, so
/// staff changing a receipt wait for one being recorded (and then find the receipt
/// void, `void`) instead of holding the receipt while the other holds the year.
async fn held_by_number(
    txn: &DatabaseTransaction,
    number: &str,
) -> Result<receipt::Model, DomainError> {
    let receipt = find_by_number(txn, number).await?;
    hold_tax_year(txn, receipt.tax_year).await?;
    Ok(receipt)
}

/// Voids a receipt (staff, with a reason) and tells the donor.
pub async fn void_receipt(
    db: &DatabaseConnection,
    number: &str,
    reason: &str,
    actor: &Actor,
) -> Result<receipt::Model, DomainError> {
    let reason = staff_reason(reason)?;
    let txn = crate::db::begin_write(db).await?;
    let receipt = held_by_number(&txn, number).await?;
    let voided = void(&txn, &receipt, &reason).await?;
    let donor = find_donor(&txn, voided.donor_id).await?;
    tell_donor_voided(&txn, &donor, &voided, None, &reason).await?;
    audit::record_and_commit(
        txn,
        actor,
        "void",
        "receipt",
        Some(voided.number.clone()),
        json!({ "reason": reason.recorded() }),
    )
    .await?;
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
    let reason = staff_reason(reason)?;
    let txn = crate::db::begin_write(db).await?;
    let receipt = held_by_number(&txn, number).await?;
    let voided = void(&txn, &receipt, &reason).await?;
    let replacement = reissue_in(&txn, org, &voided).await?.ok_or_else(|| {
        DomainError::validation(
            "number",
            "nothing remains to acknowledge after refunds; void it instead",
        )
    })?;
    let donor = find_donor(&txn, voided.donor_id).await?;
    tell_donor_voided(&txn, &donor, &voided, Some(&replacement), &reason).await?;
    audit::record_and_commit(
        txn,
        actor,
        "reissue",
        "receipt",
        Some(voided.number.clone()),
        json!({ "reason": reason.recorded(), "replacement": replacement.number }),
    )
    .await?;
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
        VoidReason::RefundedInFull
    } else {
        VoidReason::RefundedInPart {
            refunded_minor: gift.refunded_minor,
            currency: Currency::parse(&gift.currency)?.code().to_owned(),
        }
    };
    Box::pin(correct_receipts(txn, org, gift, &reason)).await
}

/// After a refund of a gift fails and its money is the organization's again: its
/// receipt is voided and re-issued for what the gift now counts; a receipt voided when
/// the refund took everything is re-issued from the voided one.
pub async fn on_refund_failed(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
) -> Result<RefundOutcome, DomainError> {
    let reason = VoidReason::RefundFailed;
    if valid_gift_receipt(txn, gift.id).await?.is_some() {
        return Box::pin(correct_receipts(txn, org, gift, &reason)).await;
    }
    let donor = find_donor(txn, gift.donor_id).await?;
    Box::pin(correct_statement(txn, org, gift, &donor, &reason)).await?;
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
    match Box::pin(reissue_in(txn, org, &voided)).await? {
        Some(replacement) => Ok(RefundOutcome::Reissued {
            voided: Box::new(voided),
            replacement: Box::new(replacement),
        }),
        None => Ok(RefundOutcome::NothingIssued),
    }
}

/// After staff correct a receipted gift (its amount, date, fund, method, tribute or
/// benefits; `before` is the gift as it was): its receipt, and any statement for its
/// year, are voided and re-issued with the gift as it is now. When its date moved to
/// another tax year, the statement of the year it left is corrected too. Call it in the
/// transaction that changed the gift.
pub async fn on_gift_corrected(
    txn: &DatabaseTransaction,
    org: &Organization,
    before: &gift::Model,
    gift: &gift::Model,
) -> Result<RefundOutcome, DomainError> {
    let reason = VoidReason::GiftCorrected;
    let left = tax_year(org, before.received_at);
    let now = tax_year(org, gift.received_at);
    if left != now {
        // Both years are held in order, so two corrections moving gifts between the
        // same years in opposite directions wait for each other instead of deadlocking.
        hold_tax_year(txn, left.min(now)).await?;
        hold_tax_year(txn, left.max(now)).await?;
        let donor = find_donor(txn, before.donor_id).await?;
        Box::pin(correct_statement_of(txn, org, &donor, left, &reason)).await?;
    }
    Box::pin(correct_receipts(txn, org, gift, &reason)).await
}

/// Whether the caller's transaction already holds a donor's row (`hold_donor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DonorHold {
    /// Read with `hold_donor` or found by `payments::find_or_create_donor`: held until
    /// the transaction ends.
    Held,
    /// Read without holding it.
    NotHeld,
}

/// After a gift is recorded as succeeded (new, or a pending payment that went through):
/// a statement already issued for the donor and the gift's tax year is voided and
/// re-issued with it, and the donor told. Call it in the transaction that recorded the
/// gift, before the gift's receipt is numbered: the donor is held first
/// (`hold_donors`, unless `hold` says the transaction holds it already), as a statement
/// being issued holds it, so one sees the other.
pub async fn on_gift_received(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
    donor: &donor::Model,
    hold: DonorHold,
) -> Result<(), DomainError> {
    if hold == DonorHold::NotHeld {
        hold_donors(txn, &[donor.id]).await?;
    }
    correct_if_stated(txn, org, donor, tax_year(org, gift.received_at)).await
}

/// [`on_gift_received`] for several succeeded gifts recorded in one transaction, once
/// for each donor and tax year of `received` (donor id, year), after the last gift: a
/// donor with several gifts of a stated year gets one new statement and one notice.
/// The donors are not held: a transaction recording gifts of several donors (an import)
/// holds a year's receipt counter from its first receipt on, and holding a donor after
/// it could deadlock with a statement being issued, which holds the donor first. The
/// counters order them instead: each year's is held before its statements are looked
/// for, so a statement being issued (which holds it too) either reads the gifts or is
/// found.
pub async fn on_gifts_received(
    txn: &DatabaseTransaction,
    org: &Organization,
    received: &BTreeSet<(i64, i32)>,
) -> Result<(), DomainError> {
    let years: BTreeSet<i32> = received.iter().map(|&(_, year)| year).collect();
    for &year in &years {
        hold_tax_year(txn, year).await?;
    }
    for &(donor_id, year) in received {
        let donor = find_donor(txn, donor_id).await?;
        Box::pin(correct_if_stated(txn, org, &donor, year)).await?;
    }
    Ok(())
}

/// Re-issues the donor's statement of `year` with the gifts as they are now, when one
/// stands, telling the donor a gift was added.
async fn correct_if_stated(
    txn: &DatabaseTransaction,
    org: &Organization,
    donor: &donor::Model,
    year: i32,
) -> Result<(), DomainError> {
    let stated = valid_statements_of(year)
        .filter(receipt::Column::DonorId.eq(donor.id))
        .count(txn)
        .await?;
    if stated > 0 {
        Box::pin(correct_statement_of(
            txn,
            org,
            donor,
            year,
            &VoidReason::GiftAdded,
        ))
        .await?;
    }
    Ok(())
}

/// After the donor's bank reverses a payment for good (a lost dispute): the gift's
/// receipt is voided without a replacement, and the year's statement is re-issued
/// without the gift.
pub async fn on_payment_reversed(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
) -> Result<RefundOutcome, DomainError> {
    let reason = VoidReason::PaymentReversed;
    let donor = find_donor(txn, gift.donor_id).await?;
    Box::pin(correct_statement(txn, org, gift, &donor, &reason)).await?;
    let Some(current) = valid_gift_receipt(txn, gift.id).await? else {
        return Ok(RefundOutcome::NothingIssued);
    };
    let voided = void(txn, &current, &reason).await?;
    tell_donor_voided(txn, &donor, &voided, None, &reason).await?;
    Ok(RefundOutcome::Voided {
        voided: Box::new(voided),
    })
}

pub(super) async fn valid_gift_receipt(
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

/// Voids the donor's statement of the gift's tax year, if one stands, re-issues it from
/// the donor's gifts as they are now and tells the donor (`correct_statement_of`).
pub(super) async fn correct_statement(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
    donor: &donor::Model,
    reason: &VoidReason,
) -> Result<(), DomainError> {
    let year = tax_year(org, gift.received_at);
    correct_statement_of(txn, org, donor, year, reason).await
}

/// Voids the donor's statement of `year`, if one stands, re-issues it from the donor's
/// gifts as they are now and tells the donor. The year is held before the statement is
/// looked for (`hold_tax_year`), so a statement being issued at the same moment is
/// either issued before it, and found here, or reads the gifts as they are now.
async fn correct_statement_of(
    txn: &DatabaseTransaction,
    org: &Organization,
    donor: &donor::Model,
    year: i32,
    reason: &VoidReason,
) -> Result<(), DomainError> {
    hold_tax_year(txn, year).await?;
    let statement = valid_statements_of(year)
        .filter(receipt::Column::DonorId.eq(donor.id))
        .one(txn)
        .await?;
    if let Some(statement) = statement {
        let voided = void(txn, &statement, reason).await?;
        let replacement = reissue_in(txn, org, &voided).await?;
        tell_donor_voided(txn, donor, &voided, replacement.as_ref(), reason).await?;
    }
    Ok(())
}

/// Voids the gift's receipt and the year's statement and re-issues each with the gift
/// as it is now; a receipt with nothing left to acknowledge is voided only.
pub(super) async fn correct_receipts(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
    reason: &VoidReason,
) -> Result<RefundOutcome, DomainError> {
    let donor = find_donor(txn, gift.donor_id).await?;
    correct_statement(txn, org, gift, &donor, reason).await?;
    let Some(current) = valid_gift_receipt(txn, gift.id).await? else {
        return Ok(RefundOutcome::NothingIssued);
    };
    let voided = void(txn, &current, reason).await?;
    match reissue_in(txn, org, &voided).await? {
        None => {
            tell_donor_voided(txn, &donor, &voided, None, reason).await?;
            Ok(RefundOutcome::Voided {
                voided: Box::new(voided),
            })
        }
        Some(replacement) => {
            tell_donor_voided(txn, &donor, &voided, Some(&replacement), reason).await?;
            Ok(RefundOutcome::Reissued {
                voided: Box::new(voided),
                replacement: Box::new(replacement),
            })
        }
    }
}
