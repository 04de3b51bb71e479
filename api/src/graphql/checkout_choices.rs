//! Donors to review: what a checkout said about an existing donor that differs from
//! the donor's own choices. A payment never rewrites a donor; staff accept what the
//! checkout said (it is then applied to the donor) or dismiss it.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::access::requires_role;
use super::context::{actor, db, parse_id};
use super::donors::{Donor, Language};
use super::errors::GqlResultExt;
use super::gifts::Gift;
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, keyed_page};
use super::pledges::Pledge;
use super::tokens::Role;
use crate::domain::checkout_choices::{
    self, DonorChoice as DomainChoice, DonorToReview as Reviewed,
};

/// Where staff stand on a checkout's choices.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
#[graphql(remote = "entity::enums::CheckoutChoicesStatus")]
pub enum CheckoutChoicesStatus {
    /// Not yet reviewed.
    #[default]
    Pending,
    /// Applied to the donor.
    Accepted,
    /// Left aside; the donor kept their own choices.
    Dismissed,
}

/// One of a donor's own choices a checkout can disagree with.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DonorChoice {
    /// The donor's name.
    DisplayName,
    /// The language the donor reads.
    Language,
    /// Whether the donor may be sent updates and appeals (only a ticked box differs:
    /// an unticked one never withdraws consent).
    EmailConsent,
    /// Whether the donor is left out of public recognition.
    Anonymous,
}

impl From<DomainChoice> for DonorChoice {
    fn from(choice: DomainChoice) -> Self {
        match choice {
            DomainChoice::DisplayName => DonorChoice::DisplayName,
            DomainChoice::Language => DonorChoice::Language,
            DomainChoice::EmailConsent => DonorChoice::EmailConsent,
            DomainChoice::Anonymous => DonorChoice::Anonymous,
        }
    }
}

/// What a checkout said about its donor.
#[derive(SimpleObject)]
pub struct CheckoutChoices {
    /// The name typed at checkout, if any.
    pub display_name: Option<String>,
    /// The language of the donation page, if known.
    pub language: Option<Language>,
    /// The "email me updates and appeals" box was ticked.
    pub email_consent: bool,
    /// The "keep my gift anonymous" box was ticked.
    pub anonymous: bool,
}

/// A checkout under an existing donor's email that said something different from the
/// donor's own choices. The donor was not changed; the gift or pledge was recorded for
/// them as usual.
pub struct DonorToReview(Reviewed);

/// A checkout under an existing donor's email that said something different from the
/// donor's own choices. The donor was not changed; the gift or pledge was recorded for
/// them as usual.
#[Object]
impl DonorToReview {
    /// The id to accept or dismiss it by.
    async fn id(&self) -> ID {
        ID(self.0.choices.id.to_string())
    }

    /// Where staff stand on it.
    async fn status(&self) -> CheckoutChoicesStatus {
        self.0.choices.status.into()
    }

    /// The donor as they are now.
    async fn donor(&self) -> Donor {
        Donor::from(self.0.donor.clone())
    }

    /// The one-off gift the checkout made.
    async fn gift(&self) -> Option<Gift> {
        self.0.gift.clone().map(Gift)
    }

    /// The pledge a monthly (or quarterly, yearly) checkout made.
    async fn pledge(&self) -> Option<Pledge> {
        self.0.pledge.clone().map(Pledge)
    }

    /// What the checkout said.
    async fn checkout(&self) -> CheckoutChoices {
        let choices = self.0.checkout();
        CheckoutChoices {
            display_name: choices.display_name,
            language: choices.language.map(Into::into),
            email_consent: choices.email_consent,
            anonymous: choices.anonymous,
        }
    }

    /// Where what the checkout said still differs from the donor's own choices
    /// (empty once accepted, or when the donor has since chosen the same).
    async fn differences(&self) -> Vec<DonorChoice> {
        self.0.differences().into_iter().map(Into::into).collect()
    }

    /// When the checkout's choices were kept.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.choices.created_at
    }

    /// Who accepted or dismissed them.
    async fn reviewed_by(&self) -> Option<&str> {
        self.0.choices.reviewed_by.as_deref()
    }

    /// When they were accepted or dismissed.
    async fn reviewed_at(&self) -> Option<DateTime<Utc>> {
        self.0.choices.reviewed_at
    }
}

#[derive(Default)]
pub struct CheckoutChoicesQuery;

#[Object]
impl CheckoutChoicesQuery {
    /// Checkouts under an existing donor's email whose choices (name, language, email
    /// consent, anonymity) differ from the donor's, oldest first, a page at a time.
    /// Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn donors_to_review(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which ones: pending (the default), accepted or dismissed.")]
        status: Option<CheckoutChoicesStatus>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<DonorToReview>> {
        let order = checkout_choices::oldest_to_review();
        let request = PageArgs::new(after, before, first, last).keyed(order.name)?;
        let status = status.unwrap_or_default().into();
        let found = checkout_choices::page_donors_to_review(
            db(ctx)?,
            status,
            &request,
            DEFAULT_PAGE_SIZE as u64,
        )
        .await
        .gql()?;
        Ok(keyed_page(
            found.page,
            found.total,
            order.name,
            |review| order.key(&review.choices),
            DonorToReview,
        ))
    }
}

/// The checkout choices to apply to the donor.
#[derive(InputObject)]
pub struct AcceptCheckoutChoicesInput {
    /// The id from `donorsToReview`.
    pub id: ID,
}

/// The checkout choices to leave aside.
#[derive(InputObject)]
pub struct DismissCheckoutChoicesInput {
    /// The id from `donorsToReview`.
    pub id: ID,
}

#[derive(Default)]
pub struct CheckoutChoicesMutation;

#[Object]
impl CheckoutChoicesMutation {
    /// Applies what a checkout said to its donor, where it still differs; recorded in
    /// the audit log as a change to the donor. Accepting again changes nothing;
    /// accepting dismissed choices is a `CONFLICT`. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn accept_checkout_choices(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The checkout choices to apply to the donor.")]
        input: AcceptCheckoutChoicesInput,
    ) -> Result<DonorToReview> {
        let AcceptCheckoutChoicesInput { id } = input;
        let id = parse_id("id", &id)?;
        checkout_choices::accept_checkout_choices(db(ctx)?, &actor(ctx)?, id)
            .await
            .map(DonorToReview)
            .gql()
    }

    /// Leaves what a checkout said aside: the donor keeps their own choices.
    /// Dismissing again changes nothing; dismissing accepted choices is a `CONFLICT`.
    /// Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn dismiss_checkout_choices(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The checkout choices to leave aside.")]
        input: DismissCheckoutChoicesInput,
    ) -> Result<DonorToReview> {
        let DismissCheckoutChoicesInput { id } = input;
        let id = parse_id("id", &id)?;
        checkout_choices::dismiss_checkout_choices(db(ctx)?, &actor(ctx)?, id)
            .await
            .map(DonorToReview)
            .gql()
    }
}
