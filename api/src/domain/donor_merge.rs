//! Merging two records of one donor: everything that points at the merged record moves
//! to the kept one (gifts, pledges, receipts, tier history, checkout choices, outbox
//! messages including appeal sends, audit entries, aliases), the merged record's email
//! and Stripe customer stay reachable through the kept donor, the tier is evaluated
//! again on the combined pledges, and the merged record is deleted, all in one
//! transaction. Issued receipts move as issued: their frozen name and address stay as
//! they were printed.

use chrono::Utc;
use entity::enums::DonorAliasKind;
use entity::{
    audit_log, checkout_choices, donor, donor_alias, gift, outbox, pledge, receipt, tier_membership,
};
use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set,
};
use serde_json::json;

use super::appeal_sends::APPEAL_KIND;
use super::club::{self, ClubPolicy, MembershipChange, Welcome};
use super::donor_aliases::add_alias;
use super::donors::{find_donor, search_text};
use super::{Actor, DomainError, audit};
use crate::db::begin_write;

/// How many rows of each kind point at the merged donor: what a merge moves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeCounts {
    pub gifts: u64,
    pub pledges: u64,
    pub receipts: u64,
    pub tier_memberships: u64,
    pub checkout_choices: u64,
    pub appeal_sends: u64,
    /// Outbox messages other than appeal sends (receipts, club emails).
    pub outbox_messages: u64,
    pub audit_entries: u64,
    pub aliases: u64,
}

/// What a merge did, or would do.
#[derive(Debug, Clone)]
pub struct MergeOutcome {
    /// The kept donor, as it is after the merge (unchanged by a dry run).
    pub kept: donor::Model,
    pub moved: MergeCounts,
    /// Every email the kept donor is reached by after the merge, its own first.
    pub emails: Vec<String>,
    /// Whether the merged donor's Stripe customer becomes the kept donor's (or an alias
    /// of it).
    pub stripe_customer_moved: bool,
    /// What the evaluation of the combined pledges changed in the tier; `Unchanged`
    /// for a dry run.
    pub tier_change: MembershipChange,
}

async fn count_moving(
    conn: &impl ConnectionTrait,
    merge_id: i64,
) -> Result<MergeCounts, DomainError> {
    Ok(MergeCounts {
        gifts: gift::Entity::find()
            .filter(gift::Column::DonorId.eq(merge_id))
            .count(conn)
            .await?,
        pledges: pledge::Entity::find()
            .filter(pledge::Column::DonorId.eq(merge_id))
            .count(conn)
            .await?,
        receipts: receipt::Entity::find()
            .filter(receipt::Column::DonorId.eq(merge_id))
            .count(conn)
            .await?,
        tier_memberships: tier_membership::Entity::find()
            .filter(tier_membership::Column::DonorId.eq(merge_id))
            .count(conn)
            .await?,
        checkout_choices: checkout_choices::Entity::find()
            .filter(checkout_choices::Column::DonorId.eq(merge_id))
            .count(conn)
            .await?,
        appeal_sends: outbox::Entity::find()
            .filter(outbox::Column::DonorId.eq(merge_id))
            .filter(outbox::Column::Kind.eq(APPEAL_KIND))
            .count(conn)
            .await?,
        outbox_messages: outbox::Entity::find()
            .filter(outbox::Column::DonorId.eq(merge_id))
            .filter(outbox::Column::Kind.ne(APPEAL_KIND))
            .count(conn)
            .await?,
        audit_entries: audit_log::Entity::find()
            .filter(audit_log::Column::Entity.eq("donor"))
            .filter(audit_log::Column::EntityId.eq(merge_id.to_string()))
            .count(conn)
            .await?,
        aliases: donor_alias::Entity::find()
            .filter(donor_alias::Column::DonorId.eq(merge_id))
            .count(conn)
            .await?,
    })
}

/// Refuses a merge that would leave the kept donor with two issued year-end statements
/// for one tax year: one of them must be voided first.
async fn ensure_one_statement_per_year(
    conn: &impl ConnectionTrait,
    keep_id: i64,
    merge_id: i64,
) -> Result<(), DomainError> {
    let years = |donor_id: i64| {
        super::receipts::valid_statements()
            .select_only()
            .column(receipt::Column::TaxYear)
            .filter(receipt::Column::DonorId.eq(donor_id))
            .into_tuple::<i32>()
            .all(conn)
    };
    let kept = years(keep_id).await?;
    if let Some(year) = years(merge_id)
        .await?
        .into_iter()
        .find(|y| kept.contains(y))
    {
        return Err(DomainError::conflict(
            Some("merge"),
            format!(
                "both donors have an issued year-end statement for {year}; void one of them \
                 before merging"
            ),
        ));
    }
    Ok(())
}

fn emails_after(keep: &donor::Model, merge: &donor::Model, aliases: &[String]) -> Vec<String> {
    let mut emails: Vec<String> = keep.email.iter().cloned().collect();
    for email in merge.email.iter().chain(aliases) {
        if !emails.contains(email) {
            emails.push(email.clone());
        }
    }
    emails
}

/// Merges donor `merge_id` into donor `keep_id`, or with `dry_run` only says what would
/// move and changes nothing.
pub async fn merge_donors(
    db: &DatabaseConnection,
    actor: &Actor,
    policy: &ClubPolicy,
    keep_id: i64,
    merge_id: i64,
    dry_run: bool,
) -> Result<MergeOutcome, DomainError> {
    if keep_id == merge_id {
        return Err(DomainError::validation(
            "merge",
            "a donor cannot be merged into itself",
        ));
    }
    let txn = begin_write(db).await?;
    // Hold both rows until the end: a payment landing on the merged donor meanwhile
    // waits and then finds it gone, or finds the kept one by the moved email.
    let keep = donor::Entity::find_by_id(keep_id)
        .lock(LockType::Update)
        .one(&*txn)
        .await?
        .ok_or_else(|| DomainError::not_found("donor", keep_id))?;
    let merge = donor::Entity::find_by_id(merge_id)
        .lock(LockType::Update)
        .one(&*txn)
        .await?
        .ok_or_else(|| DomainError::not_found("donor", merge_id))?;
    ensure_one_statement_per_year(&*txn, keep_id, merge_id).await?;
    let moved = count_moving(&*txn, merge_id).await?;
    let merged_aliases: Vec<String> = super::donor_aliases::aliases_of(&*txn, merge_id)
        .await?
        .into_iter()
        .filter(|alias| alias.kind == DonorAliasKind::Email)
        .map(|alias| alias.value)
        .collect();
    let emails = emails_after(&keep, &merge, &merged_aliases);
    let stripe_customer_moved = merge.stripe_customer_id.is_some();
    if dry_run {
        txn.rollback().await?;
        return Ok(MergeOutcome {
            kept: keep,
            moved,
            emails,
            stripe_customer_moved,
            tier_change: MembershipChange::Unchanged,
        });
    }

    let now = Utc::now();
    let cause = format!("mergeDonors: donor {merge_id} merged into donor {keep_id}");
    let was_member = club::open_membership(&*txn, keep_id).await?.is_some()
        || club::open_membership(&*txn, merge_id).await?.is_some();
    // One open membership per donor: the merged record's ends here, and the kept
    // donor's tier is evaluated again below on the combined pledges.
    if let Some(open) = club::open_membership(&*txn, merge_id).await? {
        let left_at = now.max(open.joined_at);
        let mut row: tier_membership::ActiveModel = open.into();
        row.left_at = Set(Some(left_at));
        row.leave_reason = Set(Some(format!("merged into donor {keep_id}")));
        row.cause = Set(Some(cause.clone()));
        row.update(&*txn).await?;
    }
    gift::Entity::update_many()
        .col_expr(gift::Column::DonorId, Expr::value(keep_id))
        .filter(gift::Column::DonorId.eq(merge_id))
        .exec(&*txn)
        .await?;
    pledge::Entity::update_many()
        .col_expr(pledge::Column::DonorId, Expr::value(keep_id))
        .filter(pledge::Column::DonorId.eq(merge_id))
        .exec(&*txn)
        .await?;
    receipt::Entity::update_many()
        .col_expr(receipt::Column::DonorId, Expr::value(keep_id))
        .filter(receipt::Column::DonorId.eq(merge_id))
        .exec(&*txn)
        .await?;
    tier_membership::Entity::update_many()
        .col_expr(tier_membership::Column::DonorId, Expr::value(keep_id))
        .filter(tier_membership::Column::DonorId.eq(merge_id))
        .exec(&*txn)
        .await?;
    checkout_choices::Entity::update_many()
        .col_expr(checkout_choices::Column::DonorId, Expr::value(keep_id))
        .filter(checkout_choices::Column::DonorId.eq(merge_id))
        .exec(&*txn)
        .await?;
    outbox::Entity::update_many()
        .col_expr(outbox::Column::DonorId, Expr::value(keep_id))
        .filter(outbox::Column::DonorId.eq(merge_id))
        .exec(&*txn)
        .await?;
    audit_log::Entity::update_many()
        .col_expr(
            audit_log::Column::EntityId,
            Expr::value(keep_id.to_string()),
        )
        .filter(audit_log::Column::Entity.eq("donor"))
        .filter(audit_log::Column::EntityId.eq(merge_id.to_string()))
        .exec(&*txn)
        .await?;
    donor_alias::Entity::update_many()
        .col_expr(donor_alias::Column::DonorId, Expr::value(keep_id))
        .filter(donor_alias::Column::DonorId.eq(merge_id))
        .exec(&*txn)
        .await?;

    // The merged row goes before its email and customer are given to the kept donor:
    // both are unique among donors.
    donor::Entity::delete_by_id(merge_id).exec(&*txn).await?;
    let mut kept = keep.clone();
    match (&kept.email, &merge.email) {
        (None, Some(email)) => kept.email = Some(email.clone()),
        (Some(_), Some(email)) => {
            add_alias(&*txn, keep_id, DonorAliasKind::Email, email).await?;
        }
        _ => {}
    }
    match (&kept.stripe_customer_id, &merge.stripe_customer_id) {
        (None, Some(customer)) => kept.stripe_customer_id = Some(customer.clone()),
        (Some(_), Some(customer)) => {
            add_alias(&*txn, keep_id, DonorAliasKind::StripeCustomer, customer).await?;
        }
        _ => {}
    }
    fill_blanks(&mut kept, &merge);
    let mut active: donor::ActiveModel = kept.clone().into();
    active.search_text = Set(search_text(&kept.display_name, kept.email.as_deref()));
    active.updated_at = Set(now);
    let mut active = active.reset_all();
    active.link_version = sea_orm::ActiveValue::NotSet;
    active.update(&*txn).await?;

    let welcome = if was_member {
        Welcome::Skip
    } else {
        Welcome::Send
    };
    let tier_change =
        club::evaluate_membership_at(&txn, policy, keep_id, &cause, now, welcome).await?;
    let kept = find_donor(&*txn, keep_id).await?;
    audit::record_and_commit(
        txn,
        actor,
        "mergeDonors",
        "donor",
        Some(keep_id.to_string()),
        json!({
            "mergedDonorId": merge_id,
            "mergedDonor": {
                "displayName": merge.display_name,
                "email": merge.email,
                "phone": merge.phone,
                "stripeCustomerId": merge.stripe_customer_id,
            },
            "moved": counts_json(&moved),
            "emails": emails,
            "tierChanged": tier_change != MembershipChange::Unchanged,
        }),
    )
    .await?;
    Ok(MergeOutcome {
        kept,
        moved,
        emails,
        stripe_customer_moved,
        tier_change,
    })
}

fn counts_json(counts: &MergeCounts) -> serde_json::Value {
    json!({
        "gifts": counts.gifts,
        "pledges": counts.pledges,
        "receipts": counts.receipts,
        "tierMemberships": counts.tier_memberships,
        "checkoutChoices": counts.checkout_choices,
        "appealSends": counts.appeal_sends,
        "outboxMessages": counts.outbox_messages,
        "auditEntries": counts.audit_entries,
        "aliases": counts.aliases,
    })
}

/// Fills what the kept donor lacks from the merged record: names and phone one by one,
/// the postal address only whole (lines of two addresses do not mix), and notes joined.
fn fill_blanks(kept: &mut donor::Model, merged: &donor::Model) {
    for (slot, other) in [
        (&mut kept.first_name, &merged.first_name),
        (&mut kept.last_name, &merged.last_name),
        (&mut kept.phone, &merged.phone),
    ] {
        if slot.is_none() {
            slot.clone_from(other);
        }
    }
    let has_address = [
        &kept.address_line1,
        &kept.address_line2,
        &kept.city,
        &kept.region,
        &kept.postal_code,
        &kept.country,
    ]
    .iter()
    .any(|line| line.is_some());
    if !has_address {
        kept.address_line1.clone_from(&merged.address_line1);
        kept.address_line2.clone_from(&merged.address_line2);
        kept.city.clone_from(&merged.city);
        kept.region.clone_from(&merged.region);
        kept.postal_code.clone_from(&merged.postal_code);
        kept.country.clone_from(&merged.country);
    }
    kept.notes = match (kept.notes.take(), &merged.notes) {
        (Some(own), Some(other)) => Some(format!("{own}\n\n{other}")),
        (own, other) => own.or_else(|| other.clone()),
    };
}
