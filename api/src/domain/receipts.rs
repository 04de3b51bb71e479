//! Receipts: the written acknowledgment a donor uses for taxes. Numbered without gaps
//! per tax year, frozen at issue; a correction voids and re-issues.

use chrono::{DateTime, Datelike, Utc};
use entity::enums::{ReceiptKind, ReceiptStatus};
use entity::{Currency, EmailAddress, donor, format_minor, gift, receipt};
use mailer::outbox::{self, NewMessage};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend, Set, Statement};
use serde_json::json;

use super::DomainError;
use crate::config::Organization;

/// The tax year a moment falls in: the organization's calendar year.
pub fn tax_year(org: &Organization, at: DateTime<Utc>) -> i32 {
    at.with_timezone(&org.timezone).year()
}

/// Takes the next receipt number of a tax year. The counter row is updated inside the
/// caller's transaction, so the number is used if and only if that transaction commits:
/// numbers have no gaps, and concurrent issuers wait for each other.
pub async fn next_receipt_number(
    txn: &DatabaseTransaction,
    year: i32,
) -> Result<(i32, String), DomainError> {
    let backend = txn.get_database_backend();
    let placeholder = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO receipt_counters (tax_year, last_sequence) VALUES ({}, 0) \
             ON CONFLICT (tax_year) DO NOTHING",
            placeholder(1)
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
                placeholder(1)
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

/// Issues the receipt for one succeeded gift and queues its email, in the caller's
/// transaction.
pub async fn issue_gift_receipt(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
    donor: &donor::Model,
) -> Result<receipt::Model, DomainError> {
    let currency = Currency::parse(&gift.currency)?;
    let year = tax_year(org, gift.received_at);
    let (sequence, number) = next_receipt_number(txn, year).await?;
    let deductible = gift.amount_minor - gift.benefits_minor;
    let address = postal_address(donor);
    let date = gift
        .received_at
        .with_timezone(&org.timezone)
        .format("%B %-d, %Y");
    let benefits = if gift.benefits_minor == 0 {
        "No goods or services were provided in exchange for this contribution.".to_owned()
    } else {
        format!(
            "In exchange for this contribution you received {}, with a good-faith estimated value of {}. \
             The amount deductible for federal income tax purposes is {}.",
            gift.benefits_description
                .as_deref()
                .unwrap_or("goods or services"),
            format_minor(gift.benefits_minor, currency),
            format_minor(deductible, currency),
        )
    };
    let content_text = format!(
        "{org_name}\nEIN {ein}\n{org_address}\n\nReceipt {number}\n\n{donor_name}\n{address}\n\n\
         Thank you for your gift of {amount} on {date} by {method}.\n\n{benefits}\n\n\
         {org_name} is a tax-exempt organization under section 501(c)(3) of the Internal Revenue Code.\n",
        org_name = org.legal_name,
        ein = org.ein,
        org_address = org.address,
        donor_name = donor.display_name,
        address = address.as_deref().unwrap_or(""),
        amount = format_minor(gift.amount_minor, currency),
        method = gift.method,
    );
    let now = Utc::now();
    let receipt = receipt::ActiveModel {
        number: Set(number),
        tax_year: Set(year),
        sequence: Set(sequence),
        kind: Set(ReceiptKind::Gift),
        status: Set(ReceiptStatus::Issued),
        donor_id: Set(donor.id),
        gift_id: Set(Some(gift.id)),
        language: Set(donor.language),
        donor_name: Set(donor.display_name.clone()),
        donor_address: Set(address),
        amount_minor: Set(gift.amount_minor),
        deductible_minor: Set(deductible),
        currency: Set(gift.currency.clone()),
        content_text: Set(content_text),
        issued_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    if let Some(email) = donor
        .email
        .as_deref()
        .and_then(|e| EmailAddress::parse(e).ok())
    {
        outbox::enqueue(
            txn,
            NewMessage {
                idempotency_key: format!("receipt:{}", receipt.id),
                kind: "receipt".to_owned(),
                donor_id: Some(donor.id),
                to_address: email,
                to_name: Some(donor.display_name.clone()),
                language: donor.language,
                payload: json!({ "receipt_id": receipt.id }),
                not_before: None,
            },
        )
        .await?;
    }
    Ok(receipt)
}
