//! Object types shared by the queries.

use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::enums::StaffRole;
use entity::{donor, fund};

use super::guards::staff;

/// A staff role.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::StaffRole")]
pub enum Role {
    /// Reads aggregates and gifts; donor contact details are masked.
    Viewer,
    /// Reads and writes donors, gifts and pledges.
    Staff,
    /// Also manages tiers, funds and tokens.
    Admin,
}

/// The token making this request.
pub struct Viewer {
    pub name: String,
    pub role: StaffRole,
}

#[Object]
impl Viewer {
    /// The token's name, as shown in the audit log.
    async fn name(&self) -> &str {
        &self.name
    }

    /// What the token may do.
    async fn role(&self) -> Role {
        self.role.into()
    }
}

/// A designation a gift goes to: the General fund or a restricted program.
pub struct Fund(pub fund::Model);

#[Object]
impl Fund {
    /// The fund's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The fund's name, as donors see it.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// A short stable code used in links and exports.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// What the fund pays for.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Whether gifts to this fund may only be spent on its program.
    async fn restricted(&self) -> bool {
        self.0.restricted
    }

    /// When the fund stopped taking gifts, if it has.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }
}

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
