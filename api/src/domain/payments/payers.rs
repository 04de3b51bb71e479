//! Finding the donor a payment comes from, or making one.

#[allow(unused_imports)]
use super::*;
use crate::domain::donor_aliases::donor_with_alias;
use entity::enums::DonorAliasKind;
use sea_orm::sea_query::{LockType, SimpleExpr};

/// Finds the donor with this email (any case) or creates one, and links the
/// processor's customer. Never makes two donors for one email: a concurrent insert of
/// the same email does nothing on the unique index and then finds the winner's row.
///
/// A new donor takes the checkout's name, language, consent and anonymity. An existing
/// donor keeps their own: anyone can type an email, so what the checkout said
/// differently is for the caller to keep for staff (`checkout_choices`), never applied.
///
/// The donor's row is held until the transaction ends (`receipts::DonorHold::Held`): an
/// existing donor is read as `receipts::hold_donor` reads, and a new one is the
/// transaction's own until it commits.
pub async fn find_or_create_donor(
    txn: &DatabaseTransaction,
    payer: &PayerDetails,
) -> Result<donor::Model, DomainError> {
    let email = match payer.email.as_deref() {
        Some(text) => Some(
            EmailAddress::parse(text)
                .map_err(|e| DomainError::validation("email", e.to_string()))?,
        ),
        None => None,
    };
    if let Some(found) = find_payer(txn, email.as_ref(), payer.customer_id.as_deref()).await? {
        return update_payer_links(txn, found, payer).await;
    }
    let Some(email) = email else {
        return Err(DomainError::validation(
            "email",
            "the payment carries no email and no known customer",
        ));
    };
    let display_name = payer
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(email.as_str())
        .to_owned();
    let now = Utc::now();
    // No donor has the processor's customer either (`find_payer` looked): the new donor
    // takes it as it is made. One made at the same moment with the same email or
    // customer takes the key first, and is found below.
    let candidate = donor::ActiveModel {
        stripe_customer_id: Set(payer.customer_id.clone()),
        kind: Set(DonorKind::Individual),
        search_text: Set(donors::search_text(&display_name, Some(email.as_str()))),
        display_name: Set(display_name),
        email: Set(Some(email.as_str().to_owned())),
        language: Set(payer.language.unwrap_or(Language::English)),
        email_consent: Set(payer.email_consent),
        anonymous: Set(payer.anonymous),
        created_at: Set(now),
        updated_at: Set(now),
        link_version: Set(0),
        ..Default::default()
    };
    match insert_unless_taken(txn, candidate).await? {
        Some(created) => Ok(created),
        None => {
            let customer = payer.customer_id.as_deref();
            let found = find_payer(txn, Some(&email), customer)
                .await?
                .ok_or_else(|| {
                    DomainError::conflict(Some("email"), "the donor conflicts with another donor")
                })?;
            update_payer_links(txn, found, payer).await
        }
    }
}

/// The donor with this email (any case) or processor's customer, directly or as a
/// record merged into them, read as its row is held (`receipts::hold_donor`).
pub(super) async fn find_payer(
    txn: &DatabaseTransaction,
    email: Option<&EmailAddress>,
    customer_id: Option<&str>,
) -> Result<Option<donor::Model>, DomainError> {
    if let Some(email) = email {
        let by_email = ExprTrait::eq(
            Expr::expr(Func::lower(Expr::col(donor::Column::Email))),
            email.as_str().to_lowercase(),
        );
        if let Some(found) = held_donor_where(txn, by_email).await? {
            return Ok(Some(found));
        }
        // An email of a donor record that was merged into another.
        if let Some(id) = donor_with_alias(txn, DonorAliasKind::Email, email.as_str()).await? {
            return held_donor_where(txn, donor::Column::Id.eq(id)).await;
        }
    }
    if let Some(customer) = customer_id {
        let by_customer = donor::Column::StripeCustomerId.eq(customer);
        if let Some(found) = held_donor_where(txn, by_customer).await? {
            return Ok(Some(found));
        }
        if let Some(id) = donor_with_alias(txn, DonorAliasKind::StripeCustomer, customer).await? {
            return held_donor_where(txn, donor::Column::Id.eq(id)).await;
        }
    }
    Ok(None)
}

/// The first donor `condition` finds, its row held as `receipts::hold_donor` holds it.
async fn held_donor_where(
    txn: &DatabaseTransaction,
    condition: SimpleExpr,
) -> Result<Option<donor::Model>, DomainError> {
    Ok(donor::Entity::find()
        .filter(condition)
        .lock(LockType::NoKeyUpdate)
        .one(txn)
        .await?)
}

/// Links the processor's customer to the donor when it has none (and no other donor
/// has it). Nothing else about the donor changes here.
pub(super) async fn update_payer_links(
    txn: &DatabaseTransaction,
    donor: donor::Model,
    payer: &PayerDetails,
) -> Result<donor::Model, DomainError> {
    let Some(customer) = payer.customer_id.as_deref() else {
        return Ok(donor);
    };
    if donor.stripe_customer_id.is_some() {
        return Ok(donor);
    }
    let taken = donor::Entity::find()
        .filter(donor::Column::StripeCustomerId.eq(customer))
        .one(txn)
        .await?;
    if taken.is_some() {
        return Ok(donor);
    }
    let mut row: donor::ActiveModel = donor.into();
    row.stripe_customer_id = Set(Some(customer.to_owned()));
    row.updated_at = Set(Utc::now());
    Ok(row.update(txn).await?)
}

impl PayerDetails {
    /// What the checkout said about its donor.
    pub(super) fn choices(&self) -> DonorChoices {
        DonorChoices {
            display_name: self
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            language: self.language,
            email_consent: self.email_consent,
            anonymous: self.anonymous,
        }
    }
}
