//! Privacy requests: giving a donor everything held about them, and erasing a donor
//! while keeping what the law requires of receipts already issued.
//!
//! Erasure removes contact details and notes wherever they are kept (the donor row,
//! aliases, the checkout choices, outbox messages, the tribute contact on gifts, and
//! the audit entries about the donor, and the personal fields of the Stripe events
//! about their payments), and keeps gifts and pledges (the books),
//! tier history and every receipt exactly as issued: a receipt's frozen name and
//! address are what the tax authority may ask to see.

use chrono::{DateTime, Utc};
use entity::enums::{OutboxStatus, PledgeStatus};
use entity::{
    audit_log, checkout_choices, donor, donor_alias, gift, outbox, pledge, receipt, stripe_event,
    tier_membership,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, LikeExpr, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use super::donor_aliases::aliases_of;
use super::donors::find_donor;
use super::{Actor, DomainError, audit, text};
use crate::db::begin_write;

/// The name an erased donor is listed under.
pub const ERASED_NAME: &str = "Erased donor";

/// Receipt columns left out of an export: the documents themselves, which the donor
/// was sent and can open through their receipt links.
const RECEIPT_DOCUMENT_COLUMNS: [&str; 2] = ["content_pdf", "content_html"];

/// Everything held about a donor, as one JSON document: the donor record and aliases,
/// gifts, pledges, receipts (without their PDF), tier history, checkout choices, the
/// emails queued or sent to them, and the audit entries about them.
pub async fn donor_data(db: &impl ConnectionTrait, donor_id: i64) -> Result<Value, DomainError> {
    let donor = donor::Entity::find_by_id(donor_id)
        .into_json()
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("donor", donor_id))?;
    let aliases = donor_alias::Entity::find()
        .filter(donor_alias::Column::DonorId.eq(donor_id))
        .order_by_asc(donor_alias::Column::Id)
        .into_json()
        .all(db)
        .await?;
    let gifts = gift::Entity::find()
        .filter(gift::Column::DonorId.eq(donor_id))
        .order_by_asc(gift::Column::Id)
        .into_json()
        .all(db)
        .await?;
    let pledges = pledge::Entity::find()
        .filter(pledge::Column::DonorId.eq(donor_id))
        .order_by_asc(pledge::Column::Id)
        .into_json()
        .all(db)
        .await?;
    let mut receipts = receipt::Entity::find()
        .filter(receipt::Column::DonorId.eq(donor_id))
        .order_by_asc(receipt::Column::Id)
        .into_json()
        .all(db)
        .await?;
    for receipt in &mut receipts {
        if let Some(fields) = receipt.as_object_mut() {
            for column in RECEIPT_DOCUMENT_COLUMNS {
                fields.remove(column);
            }
        }
    }
    let tier_history = tier_membership::Entity::find()
        .filter(tier_membership::Column::DonorId.eq(donor_id))
        .order_by_asc(tier_membership::Column::Id)
        .into_json()
        .all(db)
        .await?;
    let choices = checkout_choices::Entity::find()
        .filter(checkout_choices::Column::DonorId.eq(donor_id))
        .order_by_asc(checkout_choices::Column::Id)
        .into_json()
        .all(db)
        .await?;
    let emails = outbox::Entity::find()
        .filter(outbox::Column::DonorId.eq(donor_id))
        .order_by_asc(outbox::Column::Id)
        .into_json()
        .all(db)
        .await?;
    let audit_entries = audit_log::Entity::find()
        .filter(audit_log::Column::Entity.eq("donor"))
        .filter(audit_log::Column::EntityId.eq(donor_id.to_string()))
        .order_by_asc(audit_log::Column::Id)
        .into_json()
        .all(db)
        .await?;
    Ok(json!({
        "exportedAt": Utc::now(),
        "donor": donor,
        "aliases": aliases,
        "gifts": gifts,
        "pledges": pledges,
        "receipts": receipts,
        "tierHistory": tier_history,
        "checkoutChoices": choices,
        "emails": emails,
        "auditEntries": audit_entries,
    }))
}

/// Records that staff made a data-export link for the donor, and returns the donor's
/// link version to sign it with.
pub async fn record_data_export(
    db: &DatabaseConnection,
    actor: &Actor,
    donor_id: i64,
    expires: DateTime<Utc>,
) -> Result<i64, DomainError> {
    let txn = begin_write(db).await?;
    let donor = find_donor(&txn, donor_id).await?;
    audit::record_and_commit(
        txn,
        actor,
        "donorDataExport",
        "donor",
        Some(donor_id.to_string()),
        json!({ "linkExpiresAt": expires }),
    )
    .await?;
    Ok(donor.link_version)
}

/// What an erasure removed, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErasureCounts {
    pub aliases: u64,
    pub checkout_choices: u64,
    pub outbox_messages: u64,
    pub gifts_with_tribute_contact: u64,
    pub audit_entries_redacted: u64,
    pub stripe_events_redacted: u64,
}

/// Whether a key of a Stripe object holds a person's details: a name, an email, a
/// phone, an address (billing, shipping, the checkout's customer details), or what
/// the donation page wrote in the metadata about the donor or the person honored.
fn is_personal(key: &str) -> bool {
    const PERSONAL: [&str; 9] = [
        "name",
        "email",
        "phone",
        "address",
        "shipping",
        "billing_details",
        "customer_details",
        "tribute",
        "notes",
    ];
    let key = key.to_ascii_lowercase();
    PERSONAL.iter().any(|part| key.contains(part))
}

/// Blanks every personal field of a Stripe payload, at any depth, keeping its ids,
/// amounts, dates and states (what the books and reconciliation read). Answers
/// whether anything was blanked.
pub fn redact_personal(value: &mut Value) -> bool {
    let mut changed = false;
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if is_personal(key) {
                    if !Value::is_null(field) {
                        *field = Value::Null;
                        changed = true;
                    }
                } else {
                    changed |= redact_personal(field);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                changed |= redact_personal(item);
            }
        }
        _ => {}
    }
    changed
}

/// The Stripe identifiers and email addresses by which events speak of the donor.
async fn stripe_traces(
    db: &impl ConnectionTrait,
    donor: &donor::Model,
    addresses: &[String],
) -> Result<Vec<String>, DomainError> {
    let mut traces: Vec<String> = donor.stripe_customer_id.iter().cloned().collect();
    traces.extend(addresses.iter().cloned());
    for given in gift::Entity::find()
        .filter(gift::Column::DonorId.eq(donor.id))
        .all(db)
        .await?
    {
        traces.extend(
            [
                given.stripe_checkout_session_id,
                given.stripe_payment_intent_id,
                given.stripe_invoice_id,
                given.stripe_charge_id,
            ]
            .into_iter()
            .flatten(),
        );
    }
    for pledged in pledge::Entity::find()
        .filter(pledge::Column::DonorId.eq(donor.id))
        .all(db)
        .await?
    {
        traces.extend(pledged.stripe_subscription_id);
    }
    traces.retain(|trace| trace.len() >= 6);
    traces.sort();
    traces.dedup();
    Ok(traces)
}

/// Blanks the personal fields of every stored Stripe event that names one of
/// `traces`; answers how many events changed.
async fn redact_stripe_events(
    db: &impl ConnectionTrait,
    traces: &[String],
) -> Result<u64, DomainError> {
    let mut changed = 0;
    for chunk in traces.chunks(100) {
        let mut naming = sea_orm::Condition::any();
        for trace in chunk {
            let escaped = trace
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            naming = naming.add(
                Expr::expr(Func::cast_as(
                    Expr::col(stripe_event::Column::Payload),
                    Alias::new("TEXT"),
                ))
                .like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
            );
        }
        for event in stripe_event::Entity::find().filter(naming).all(db).await? {
            let mut payload = event.payload.clone();
            if redact_personal(&mut payload) {
                stripe_event::Entity::update_many()
                    .col_expr(stripe_event::Column::Payload, Expr::value(payload))
                    .filter(stripe_event::Column::Id.eq(event.id))
                    .exec(db)
                    .await?;
                changed += 1;
            }
        }
    }
    Ok(changed)
}

/// Erases a donor's contact details and notes, keeping their gifts, pledges, tier
/// history and issued receipts. A donor with a pledge still running is refused: its
/// payments would keep arriving for someone the service no longer knows.
pub async fn erase_donor(
    db: &DatabaseConnection,
    actor: &Actor,
    donor_id: i64,
    reason: &str,
) -> Result<(donor::Model, ErasureCounts), DomainError> {
    let reason = text::required_line("reason", reason, 500)?;
    let txn = begin_write(db).await?;
    let found = donor::Entity::find_by_id(donor_id)
        .lock(LockType::Update)
        .one(&*txn)
        .await?
        .ok_or_else(|| DomainError::not_found("donor", donor_id))?;
    let running = pledge::Entity::find()
        .filter(pledge::Column::DonorId.eq(donor_id))
        .filter(pledge::Column::Status.is_in([
            PledgeStatus::Active,
            PledgeStatus::Paused,
            PledgeStatus::PastDue,
        ]))
        .count(&*txn)
        .await?;
    if running > 0 {
        return Err(DomainError::conflict(
            Some("id"),
            "the donor has a pledge that is still running; cancel it before erasing the donor",
        ));
    }

    let mut addresses: Vec<String> = found.email.iter().cloned().collect();
    addresses.extend(
        aliases_of(&*txn, donor_id)
            .await?
            .into_iter()
            .filter(|alias| alias.kind == entity::enums::DonorAliasKind::Email)
            .map(|alias| alias.value),
    );
    let mut counts = ErasureCounts {
        aliases: donor_alias::Entity::delete_many()
            .filter(donor_alias::Column::DonorId.eq(donor_id))
            .exec(&*txn)
            .await?
            .rows_affected,
        checkout_choices: checkout_choices::Entity::delete_many()
            .filter(checkout_choices::Column::DonorId.eq(donor_id))
            .exec(&*txn)
            .await?
            .rows_affected,
        ..Default::default()
    };
    // Every message to the donor or their addresses, except one a worker is sending
    // this very moment (it holds no more than the email being delivered).
    let mut to_donor = sea_orm::Condition::any().add(outbox::Column::DonorId.eq(donor_id));
    if !addresses.is_empty() {
        to_donor = to_donor.add(outbox::Column::ToAddress.is_in(addresses.clone()));
    }
    counts.outbox_messages = outbox::Entity::delete_many()
        .filter(to_donor)
        .filter(outbox::Column::Status.ne(OutboxStatus::Sending))
        .exec(&*txn)
        .await?
        .rows_affected;
    counts.gifts_with_tribute_contact = gift::Entity::update_many()
        .col_expr(
            gift::Column::TributeNotifyName,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            gift::Column::TributeNotifyEmail,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            gift::Column::TributeNotifyAddress,
            Expr::value(Option::<String>::None),
        )
        .filter(gift::Column::DonorId.eq(donor_id))
        .filter(
            sea_orm::Condition::any()
                .add(gift::Column::TributeNotifyName.is_not_null())
                .add(gift::Column::TributeNotifyEmail.is_not_null())
                .add(gift::Column::TributeNotifyAddress.is_not_null()),
        )
        .exec(&*txn)
        .await?
        .rows_affected;
    gift::Entity::update_many()
        .col_expr(gift::Column::Notes, Expr::value(Option::<String>::None))
        .filter(gift::Column::DonorId.eq(donor_id))
        .exec(&*txn)
        .await?;
    // Stripe's events about her payments keep their ids and amounts, not her details.
    let traces = stripe_traces(&*txn, &found, &addresses).await?;
    counts.stripe_events_redacted = redact_stripe_events(&*txn, &traces).await?;
    // The audit entries about the donor held their details as staff typed them; the
    // entries stay (who did what, when), their contents go.
    counts.audit_entries_redacted = audit_log::Entity::update_many()
        .col_expr(
            audit_log::Column::Changes,
            Expr::value(json!({ "redacted": "the donor was erased" })),
        )
        .filter(audit_log::Column::Entity.eq("donor"))
        .filter(audit_log::Column::EntityId.eq(donor_id.to_string()))
        .exec(&*txn)
        .await?
        .rows_affected;

    let now = Utc::now();
    let none = || Expr::value(Option::<String>::None);
    donor::Entity::update_many()
        .col_expr(donor::Column::DisplayName, Expr::value(ERASED_NAME))
        .col_expr(donor::Column::FirstName, none())
        .col_expr(donor::Column::LastName, none())
        .col_expr(donor::Column::Email, none())
        .col_expr(donor::Column::Phone, none())
        .col_expr(donor::Column::AddressLine1, none())
        .col_expr(donor::Column::AddressLine2, none())
        .col_expr(donor::Column::City, none())
        .col_expr(donor::Column::Region, none())
        .col_expr(donor::Column::PostalCode, none())
        .col_expr(donor::Column::Country, none())
        .col_expr(donor::Column::Notes, none())
        .col_expr(donor::Column::StripeCustomerId, none())
        .col_expr(donor::Column::EmailSuppressedReason, none())
        .col_expr(donor::Column::SearchText, Expr::value(""))
        .col_expr(donor::Column::EmailConsent, Expr::value(false))
        // Not named in public recognition under any name.
        .col_expr(donor::Column::Anonymous, Expr::value(true))
        .col_expr(donor::Column::AppealsUnsubscribedAt, Expr::value(now))
        // Every link the donor was sent stops opening.
        .col_expr(
            donor::Column::LinkVersion,
            Expr::col(donor::Column::LinkVersion).add(1),
        )
        .col_expr(donor::Column::UpdatedAt, Expr::value(now))
        .filter(donor::Column::Id.eq(donor_id))
        .exec(&*txn)
        .await?;
    let erased = find_donor(&*txn, donor_id).await?;
    audit::record_and_commit(
        txn,
        actor,
        "eraseDonor",
        "donor",
        Some(donor_id.to_string()),
        json!({
            "reason": reason,
            "removed": {
                "aliases": counts.aliases,
                "checkoutChoices": counts.checkout_choices,
                "outboxMessages": counts.outbox_messages,
                "giftsWithTributeContact": counts.gifts_with_tribute_contact,
                "auditEntriesRedacted": counts.audit_entries_redacted,
                "stripeEventsRedacted": counts.stripe_events_redacted,
            },
        }),
    )
    .await?;
    Ok((erased, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkout_keeps_its_ids_and_amounts_and_loses_the_donor() {
        let mut payload = json!({
            "id": "evt_1",
            "data": { "object": {
                "id": "cs_1",
                "amount_total": 5_000,
                "customer": "cus_1",
                "customer_email": "ana@example.org",
                "customer_details": { "email": "ana@example.org", "name": "Ana", "address": { "city": "Oakland" } },
                "metadata": { "fund": "GENERAL", "language": "es", "donor_email": "ana@example.org", "donor_name": "Ana", "tribute_name": "Mina" },
                "payment_intent": "pi_1",
                "charges": [{ "amount": 5_000, "billing_details": { "name": "Ana" } }],
            } },
        });
        assert!(redact_personal(&mut payload));
        let object = &payload["data"]["object"];
        for (field, kept) in [
            ("id", json!("cs_1")),
            ("amount_total", json!(5_000)),
            ("customer", json!("cus_1")),
            ("payment_intent", json!("pi_1")),
        ] {
            assert_eq!(object[field], kept, "{field}");
        }
        assert_eq!(object["metadata"]["fund"], json!("GENERAL"));
        assert_eq!(object["metadata"]["language"], json!("es"));
        assert_eq!(object["charges"][0]["amount"], json!(5_000));
        let text = payload.to_string();
        for personal in ["ana@example.org", "Ana", "Mina", "Oakland"] {
            assert!(!text.contains(personal), "{personal} in {text}");
        }
        assert!(!redact_personal(&mut payload), "nothing is left to blank");
    }
}
