//! Donors: one row per real person or organization.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::donor;
use entity::enums::StaffRole;

use super::context::{db, parse_id};
use super::errors::GqlResultExt;
use super::guards::{RoleGuard, staff};
use crate::domain::donors;

/// A person or organization that gives.
pub struct Donor(pub donor::Model);

impl Donor {
    /// Viewers see contact details masked.
    fn masked(ctx: &Context<'_>) -> Result<bool> {
        Ok(!staff(ctx)?.role.allows(StaffRole::Staff))
    }
}

#[Object]
impl Donor {
    /// The donor's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// How the donor is addressed ("María López", "Weingart Foundation").
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }

    /// The donor's email address; masked for viewers.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let masked = Donor::masked(ctx)?;
        Ok(self.0.email.as_deref().map(|email| {
            if masked {
                mask_email(email)
            } else {
                email.to_owned()
            }
        }))
    }

    /// The donor's phone number; masked for viewers.
    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let masked = Donor::masked(ctx)?;
        Ok(self.0.phone.as_deref().map(|phone| {
            if masked {
                mask_tail(phone, 2)
            } else {
                phone.to_owned()
            }
        }))
    }

    /// The first line of the postal address; hidden from viewers.
    async fn address_line1(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(if Donor::masked(ctx)? {
            None
        } else {
            self.0.address_line1.as_deref()
        })
    }

    /// City of the postal address.
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }

    /// State or region of the postal address.
    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }

    /// The language the donor reads (en, es, fr, ar).
    async fn language(&self) -> &str {
        self.0.language.as_str()
    }

    /// Whether the donor asked to receive updates and appeals by email.
    async fn email_consent(&self) -> bool {
        self.0.email_consent
    }

    /// Whether the donor asked not to be named in public recognition.
    async fn anonymous(&self) -> bool {
        self.0.anonymous
    }

    /// When the donor was first recorded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct DonorQuery;

#[Object]
impl DonorQuery {
    /// One donor by id.
    #[graphql(guard = "RoleGuard::new(StaffRole::Viewer)")]
    async fn donor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The donor's id.")] id: ID,
    ) -> Result<Donor> {
        let id = parse_id("id", &id)?;
        donors::find_donor(db(ctx)?, id).await.gql().map(Donor)
    }
}

/// "maria@example.org" becomes "m•••@example.org".
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_owned(),
    }
}

/// Keeps the last `keep` characters: "+1 415 555 0100" becomes "•••00".
pub fn mask_tail(text: &str, keep: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(keep)..].iter().collect();
    format!("•••{tail}")
}
