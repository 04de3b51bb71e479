//! What a checkout said about an existing donor that differs from the donor's own
//! choices. An email links a payment to its donor, but anyone can type an email: so a
//! checkout never changes an existing donor's name, language, email consent or
//! anonymity. What it said differently is kept with the gift or pledge it made, listed
//! for staff (`donorsToReview`), and applied to the donor only when staff accept it.

use chrono::Utc;
use entity::checkout_choices;
use entity::enums::{CheckoutChoicesStatus, Language};
use entity::{donor, gift, pledge};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};

use super::donors::{self, DonorChanges};
use super::keyset::{CountedPage, KeyedPage, Ordering, PageRequest};
use super::{Actor, DomainError, audit};
use crate::db::begin_write;

/// The choices a checkout made about its donor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DonorChoices {
    /// The name typed, trimmed; `None` when none was typed.
    pub display_name: Option<String>,
    /// The language of the page the checkout came from.
    pub language: Option<Language>,
    /// The "email me updates and appeals" box was ticked.
    pub email_consent: bool,
    /// The "keep my gift anonymous" box was ticked.
    pub anonymous: bool,
}

/// One of a donor's own choices a checkout can disagree with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DonorChoice {
    DisplayName,
    Language,
    EmailConsent,
    Anonymous,
}

/// What a checkout made for its donor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MadeByCheckout {
    Gift(i64),
    Pledge(i64),
}

impl DonorChoices {
    /// Where these choices differ from the donor's, in a fixed order. An unticked
    /// consent box is not a withdrawal (withdrawing is the unsubscribe link's job), so
    /// only a ticked one can differ; anonymity differs either way.
    pub fn differences(&self, donor: &donor::Model) -> Vec<DonorChoice> {
        let mut differences = Vec::new();
        if self
            .display_name
            .as_deref()
            .is_some_and(|name| name != donor.display_name)
        {
            differences.push(DonorChoice::DisplayName);
        }
        if self.language.is_some_and(|l| l != donor.language) {
            differences.push(DonorChoice::Language);
        }
        if self.email_consent && !donor.email_consent {
            differences.push(DonorChoice::EmailConsent);
        }
        if self.anonymous != donor.anonymous {
            differences.push(DonorChoice::Anonymous);
        }
        differences
    }

    fn of(row: &checkout_choices::Model) -> Self {
        DonorChoices {
            display_name: row.display_name.clone(),
            language: row.language,
            email_consent: row.email_consent,
            anonymous: row.anonymous,
        }
    }

    /// The donor changes that apply these choices where they differ.
    fn changes_for(&self, donor: &donor::Model) -> DonorChanges {
        let mut changes = DonorChanges::default();
        for difference in self.differences(donor) {
            match difference {
                DonorChoice::DisplayName => changes.display_name = self.display_name.clone(),
                DonorChoice::Language => changes.language = self.language,
                DonorChoice::EmailConsent => changes.email_consent = Some(self.email_consent),
                DonorChoice::Anonymous => changes.anonymous = Some(self.anonymous),
            }
        }
        changes
    }
}

/// Keeps what a checkout said about an existing donor when it differs from the donor's
/// own choices, with the gift or pledge the checkout made. Nothing is kept when they
/// agree (always the case for a donor the checkout itself created).
pub async fn keep_checkout_choices(
    db: &impl ConnectionTrait,
    donor: &donor::Model,
    choices: &DonorChoices,
    made: MadeByCheckout,
) -> Result<(), DomainError> {
    if choices.differences(donor).is_empty() {
        return Ok(());
    }
    let (gift_id, pledge_id) = match made {
        MadeByCheckout::Gift(id) => (Some(id), None),
        MadeByCheckout::Pledge(id) => (None, Some(id)),
    };
    checkout_choices::ActiveModel {
        donor_id: Set(donor.id),
        gift_id: Set(gift_id),
        pledge_id: Set(pledge_id),
        display_name: Set(choices.display_name.clone()),
        language: Set(choices.language),
        email_consent: Set(choices.email_consent),
        anonymous: Set(choices.anonymous),
        status: Set(CheckoutChoicesStatus::Pending),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A checkout's choices for staff to review, with the donor as they are now and the
/// gift or pledge the checkout made.
#[derive(Debug, Clone)]
pub struct DonorToReview {
    pub choices: checkout_choices::Model,
    pub donor: donor::Model,
    pub gift: Option<gift::Model>,
    pub pledge: Option<pledge::Model>,
}

impl DonorToReview {
    /// What the checkout said.
    pub fn checkout(&self) -> DonorChoices {
        DonorChoices::of(&self.choices)
    }

    /// Where the checkout's choices still differ from the donor's.
    pub fn differences(&self) -> Vec<DonorChoice> {
        self.checkout().differences(&self.donor)
    }
}

/// Checkout choices to review are listed oldest first, by id.
pub fn oldest_to_review() -> Ordering<checkout_choices::Column> {
    Ordering::by_id(
        "donors-to-review-oldest",
        checkout_choices::Column::Id,
        false,
    )
}

/// One page of the checkout choices in this status, oldest first, with their donors,
/// gifts and pledges loaded in one query each; and how many are in this status.
pub async fn page_donors_to_review(
    db: &impl ConnectionTrait,
    status: CheckoutChoicesStatus,
    request: &PageRequest,
    size_when_unsaid: u64,
) -> Result<CountedPage<DonorToReview>, DomainError> {
    let found = oldest_to_review()
        .page_counted(
            db,
            checkout_choices::Entity::find().filter(checkout_choices::Column::Status.eq(status)),
            request,
            size_when_unsaid,
        )
        .await?;
    let rows = with_records(db, found.page.rows).await?;
    Ok(CountedPage {
        page: KeyedPage {
            rows,
            has_previous: found.page.has_previous,
            has_next: found.page.has_next,
        },
        total: found.total,
    })
}

async fn with_records(
    db: &impl ConnectionTrait,
    rows: Vec<checkout_choices::Model>,
) -> Result<Vec<DonorToReview>, DomainError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let donors = donor::Entity::find()
        .filter(donor::Column::Id.is_in(rows.iter().map(|r| r.donor_id)))
        .all(db)
        .await?;
    let gifts = gift::Entity::find()
        .filter(gift::Column::Id.is_in(rows.iter().filter_map(|r| r.gift_id)))
        .all(db)
        .await?;
    let pledges = pledge::Entity::find()
        .filter(pledge::Column::Id.is_in(rows.iter().filter_map(|r| r.pledge_id)))
        .all(db)
        .await?;
    rows.into_iter()
        .map(|choices| {
            let donor = donors
                .iter()
                .find(|d| d.id == choices.donor_id)
                .cloned()
                .ok_or_else(|| DomainError::not_found("donor", choices.donor_id))?;
            let gift = choices
                .gift_id
                .and_then(|id| gifts.iter().find(|g| g.id == id).cloned());
            let pledge = choices
                .pledge_id
                .and_then(|id| pledges.iter().find(|p| p.id == id).cloned());
            Ok(DonorToReview {
                choices,
                donor,
                gift,
                pledge,
            })
        })
        .collect()
}

async fn donor_to_review(db: &impl ConnectionTrait, id: i64) -> Result<DonorToReview, DomainError> {
    let row = checkout_choices::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("checkoutChoices", id))?;
    with_records(db, vec![row])
        .await?
        .pop()
        .ok_or_else(|| DomainError::not_found("checkoutChoices", id))
}

/// Moves pending choices to `to`, in the caller's transaction. Returns false when they
/// are no longer pending (another request decided first).
async fn decide(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: i64,
    to: CheckoutChoicesStatus,
) -> Result<bool, DomainError> {
    let moved = checkout_choices::Entity::update_many()
        .col_expr(checkout_choices::Column::Status, Expr::value(to))
        .col_expr(
            checkout_choices::Column::ReviewedBy,
            Expr::value(actor.name.clone()),
        )
        .col_expr(
            checkout_choices::Column::ReviewedAt,
            Expr::value(Utc::now()),
        )
        .filter(checkout_choices::Column::Id.eq(id))
        .filter(checkout_choices::Column::Status.eq(CheckoutChoicesStatus::Pending))
        .exec(db)
        .await?;
    Ok(moved.rows_affected == 1)
}

/// Whether choices already in `status` answer a request for `wanted` (the same
/// decision again) or conflict with it (the other decision was made).
fn already_decided(
    id: i64,
    status: CheckoutChoicesStatus,
    wanted: CheckoutChoicesStatus,
) -> Result<(), DomainError> {
    if status == wanted {
        return Ok(());
    }
    Err(DomainError::conflict(
        Some("id"),
        format!("checkout choices {id} were already {status}"),
    ))
}

/// Applies a checkout's choices to its donor where they still differ, audited like
/// any change staff make to a donor. Accepting again changes nothing; accepting
/// dismissed choices is a conflict.
pub async fn accept_checkout_choices(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
) -> Result<DonorToReview, DomainError> {
    let txn = begin_write(db).await?;
    let current = donor_to_review(&*txn, id).await?;
    if !decide(&*txn, actor, id, CheckoutChoicesStatus::Accepted).await? {
        txn.rollback().await?;
        let decided = donor_to_review(db, id).await?;
        already_decided(id, decided.choices.status, CheckoutChoicesStatus::Accepted)?;
        return Ok(decided);
    }
    let changes = current.checkout().changes_for(&current.donor);
    donors::apply_donor_changes(
        &*txn,
        actor,
        "acceptCheckoutChoices",
        current.donor.id,
        changes,
    )
    .await?;
    let accepted = donor_to_review(&*txn, id).await?;
    txn.commit().await?;
    Ok(accepted)
}

/// Leaves a checkout's choices aside: the donor stays as they are. Dismissing again
/// changes nothing; dismissing accepted choices is a conflict.
pub async fn dismiss_checkout_choices(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
) -> Result<DonorToReview, DomainError> {
    let txn = begin_write(db).await?;
    let current = donor_to_review(&*txn, id).await?;
    if !decide(&*txn, actor, id, CheckoutChoicesStatus::Dismissed).await? {
        txn.rollback().await?;
        let decided = donor_to_review(db, id).await?;
        already_decided(id, decided.choices.status, CheckoutChoicesStatus::Dismissed)?;
        return Ok(decided);
    }
    audit::record(
        &*txn,
        actor,
        "dismissCheckoutChoices",
        "checkoutChoices",
        Some(id.to_string()),
        serde_json::json!({
            "donorId": current.donor.id,
            "giftId": current.choices.gift_id,
            "pledgeId": current.choices.pledge_id,
        }),
    )
    .await?;
    let dismissed = donor_to_review(&*txn, id).await?;
    txn.commit().await?;
    Ok(dismissed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::enums::DonorKind;

    fn donor() -> donor::Model {
        let now = Utc::now();
        donor::Model {
            id: 1,
            kind: DonorKind::Individual,
            display_name: "Yusuf Haddad".into(),
            first_name: None,
            last_name: None,
            email: Some("yusuf@example.org".into()),
            phone: None,
            address_line1: None,
            address_line2: None,
            city: None,
            region: None,
            postal_code: None,
            country: None,
            language: Language::Arabic,
            email_consent: true,
            anonymous: true,
            search_text: String::new(),
            stripe_customer_id: None,
            appeals_unsubscribed_at: None,
            email_suppressed_at: None,
            email_suppressed_reason: None,
            notes: None,
            link_version: 0,
            external_id: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn an_unticked_consent_box_is_not_a_difference_but_anonymity_is_either_way() {
        let same = DonorChoices {
            display_name: None,
            language: None,
            email_consent: false,
            anonymous: true,
        };
        assert!(same.differences(&donor()).is_empty());
        let named = DonorChoices {
            anonymous: false,
            ..same.clone()
        };
        assert_eq!(named.differences(&donor()), [DonorChoice::Anonymous]);
        let mut private = donor();
        private.anonymous = false;
        private.email_consent = false;
        let asks = DonorChoices {
            display_name: Some("Yusuf Haddad".into()),
            language: Some(Language::Arabic),
            email_consent: true,
            anonymous: true,
        };
        assert_eq!(
            asks.differences(&private),
            [DonorChoice::EmailConsent, DonorChoice::Anonymous]
        );
        let changes = asks.changes_for(&private);
        assert_eq!(changes.email_consent, Some(true));
        assert_eq!(changes.anonymous, Some(true));
        assert_eq!(changes.display_name, None);
        assert_eq!(changes.language, None);
    }
}
