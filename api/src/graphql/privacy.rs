//! Privacy requests: a donor's data as a signed download, and erasing a donor.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Duration, Utc};

use super::access::requires_role;
use super::context::{actor, config, db, parse_id};
use super::donors::Donor;
use super::errors::{CONFLICT, GqlResultExt, bad_input, coded};
use super::tokens::Role;
use crate::domain::privacy;

/// A signed link to everything held about a donor, as JSON.
#[derive(SimpleObject)]
pub struct DonorDataExport {
    /// The link; anyone holding it can download the data until it expires, so send it
    /// only to the donor.
    pub url: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct PrivacyQuery;

#[Object]
impl PrivacyQuery {
    /// A signed, expiring link to everything held about a donor as one JSON file: the
    /// donor record, other emails, gifts, pledges, receipts (without their PDFs), tier
    /// history, checkout choices, emails sent or queued and the audit entries about
    /// them. Admins only; every link made is audited. Revoking the donor's links
    /// (`revokeDonorLinks`) also revokes it. Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn donor_data_export(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The donor's id.")] id: ID,
        #[graphql(
            desc = "How long the link stays valid, in hours (1 to 168).",
            default = 72
        )]
        hours: i32,
    ) -> Result<DonorDataExport> {
        let id = parse_id("id", &id)?;
        if !(1..=168).contains(&hours) {
            return Err(bad_input("hours", "must be from 1 to 168"));
        }
        let config = config(ctx)?;
        let Some(key) = &config.download_link_key else {
            return Err(coded(
                "links cannot be signed: DOWNLOAD_LINK_KEY is not set",
                CONFLICT,
            ));
        };
        let expires_at = Utc::now() + Duration::hours(i64::from(hours));
        let version = privacy::record_data_export(db(ctx)?, &actor(ctx)?, id, expires_at)
            .await
            .gql()?;
        let token = mailer::links::data_export_token(key.expose(), id, version, expires_at);
        let url = config
            .public_url
            .join(&format!("privacy/exports/{token}"))
            .map_err(|e| bad_input("id", e))?
            .to_string();
        Ok(DonorDataExport { url, expires_at })
    }
}

/// A donor to erase, and why.
#[derive(InputObject)]
pub struct EraseDonorInput {
    /// The donor's id.
    pub id: ID,
    /// Why (the request it answers, say "erasure request by email of 3 March"); kept
    /// in the audit log.
    pub reason: String,
}

/// What an erasure removed besides the donor's own contact details and notes.
#[derive(SimpleObject)]
pub struct EraseDonorResult {
    /// The donor as it is now: listed as "Erased donor", with gifts, pledges, tier
    /// history and receipts kept.
    pub donor: Donor,
    /// Other emails and Stripe customers removed.
    pub aliases_removed: u64,
    /// Checkout choices removed.
    pub checkout_choices_removed: u64,
    /// Emails to the donor removed from the outbox, queued or sent.
    pub outbox_messages_removed: u64,
    /// Gifts whose tribute contact (who to tell) was removed.
    pub tribute_contacts_removed: u64,
    /// Audit entries about the donor whose contents were removed.
    pub audit_entries_redacted: u64,
    /// Stored Stripe events about the donor's payments whose personal fields (names,
    /// emails, phones, addresses, the page's metadata about the donor) were blanked;
    /// their ids, amounts and dates stay for the books.
    pub stripe_events_redacted: u64,
}

#[derive(Default)]
pub struct PrivacyMutation;

#[Object]
impl PrivacyMutation {
    /// Erases a donor (admins only): name, email, phone, postal address, notes, other
    /// emails, Stripe customer, checkout choices, tribute contacts, gift notes, emails
    /// in the outbox and the contents of the audit entries about them. Gifts, pledges,
    /// tier history and every receipt stay, receipts exactly as issued (with the name
    /// and address they were issued to, as tax law requires). A donor with a running
    /// pledge is refused. Audited with the reason. Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn erase_donor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The donor and the reason.")] input: EraseDonorInput,
    ) -> Result<EraseDonorResult> {
        let id = parse_id("input.id", &input.id)?;
        let (donor, counts) = privacy::erase_donor(db(ctx)?, &actor(ctx)?, id, &input.reason)
            .await
            .gql()?;
        Ok(EraseDonorResult {
            donor: Donor::from(donor),
            aliases_removed: counts.aliases,
            checkout_choices_removed: counts.checkout_choices,
            outbox_messages_removed: counts.outbox_messages,
            tribute_contacts_removed: counts.gifts_with_tribute_contact,
            audit_entries_redacted: counts.audit_entries_redacted,
            stripe_events_redacted: counts.stripe_events_redacted,
        })
    }
}
