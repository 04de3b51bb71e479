//! Donors: one row per real person or organization.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result};
use std::cmp::Reverse;

use chrono::{DateTime, Utc};
use entity::donor;
use entity::enums::StaffRole;

use super::access::requires_role;
use super::context::{actor, config, db, parse_id};
use super::errors::{GqlResultExt, bad_input};
use super::gifts::{Gift, ReceiptSummary};
use super::guards::staff;
use super::loaders::{history_for, loaders, prefetch_for_donors};
use super::money::{MoneyAmount, MoneyInput};
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, placed_page};
use super::pledges::Pledge;
use super::projection;
use super::tiers::Tier;
use super::tokens::Role;
use crate::domain::DomainError;
use crate::domain::donor_search::{
    self, DonorFilter as SearchFilter, DonorOrder, DonorSearch, SegmentScope, TOTALS_CURRENCY,
};
use crate::domain::donors::{self, DonorChanges, NewDonor, PostalAddress};
use crate::domain::keyset::page_in_memory;
use crate::domain::partial_rows::ColumnSet;
use crate::domain::receipts::tax_year;
use crate::domain::{segments, text};

/// A person or organization that gives, with the columns its gift history is read in
/// (`projection::history_columns`; `None`: whole rows).
pub struct Donor(pub donor::Model, pub Option<ColumnSet>);

impl From<donor::Model> for Donor {
    /// A donor whose gift history, if asked, is read in whole rows.
    fn from(row: donor::Model) -> Self {
        Donor(row, None)
    }
}

impl Donor {
    /// Viewers see contact details masked.
    fn masked(ctx: &Context<'_>) -> Result<bool> {
        Ok(!staff(ctx)?.role.allows(StaffRole::Staff))
    }
}

/// A person or organization that gives. Viewers see contact details masked.
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

    /// The language the donor reads; receipts and emails follow it.
    async fn language(&self) -> Language {
        self.0.language.into()
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

    /// A person, or an organization (foundation, company, donor-advised fund).
    async fn kind(&self) -> DonorKind {
        self.0.kind.into()
    }

    /// Given name, for letters ("Dear María").
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }

    /// Family name.
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }

    /// The second line of the postal address; hidden from viewers.
    async fn address_line2(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(if Donor::masked(ctx)? {
            None
        } else {
            self.0.address_line2.as_deref()
        })
    }

    /// Postal code; hidden from viewers.
    async fn postal_code(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(if Donor::masked(ctx)? {
            None
        } else {
            self.0.postal_code.as_deref()
        })
    }

    /// Country, as an ISO 3166-1 alpha-2 code ("US").
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }

    /// Staff notes about the donor (staff and admins only). Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }

    /// When the donor last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Everything the donor has given, net of refunds, in US dollars.
    async fn lifetime_giving(&self, ctx: &Context<'_>) -> Result<MoneyAmount> {
        let history = self.history(ctx).await?;
        Ok(total(donor_search::counted_toward_totals(&history)))
    }

    /// How many gifts the donor has made (refused, pending and fully refunded ones not counted).
    async fn gift_count(&self, ctx: &Context<'_>) -> Result<usize> {
        Ok(donor_search::counted_toward_totals(&self.history(ctx).await?).count())
    }

    /// The donor's first gift.
    async fn first_gift(&self, ctx: &Context<'_>) -> Result<Option<Gift>> {
        Ok(
            donor_search::counted_toward_totals(&self.history(ctx).await?)
                .last()
                .cloned()
                .map(Gift),
        )
    }

    /// The donor's most recent gift.
    async fn last_gift(&self, ctx: &Context<'_>) -> Result<Option<Gift>> {
        Ok(
            donor_search::counted_toward_totals(&self.history(ctx).await?)
                .next()
                .cloned()
                .map(Gift),
        )
    }

    /// The donor's largest gift (the earliest, if several are equal).
    async fn largest_gift(&self, ctx: &Context<'_>) -> Result<Option<Gift>> {
        let history = self.history(ctx).await?;
        let mut largest: Option<&entity::gift::Model> = None;
        for gift in donor_search::counted_toward_totals(&history) {
            if largest.is_none_or(|l| gift.amount_minor >= l.amount_minor) {
                largest = Some(gift);
            }
        }
        Ok(largest.cloned().map(Gift))
    }

    /// Given in this tax year (the calendar year in the organization's time zone).
    async fn this_year_giving(&self, ctx: &Context<'_>) -> Result<MoneyAmount> {
        self.year_total(ctx, 0).await
    }

    /// Given in the previous tax year.
    async fn last_year_giving(&self, ctx: &Context<'_>) -> Result<MoneyAmount> {
        self.year_total(ctx, 1).await
    }

    /// The giving-club tier the donor is in now, if any.
    async fn current_tier(&self, ctx: &Context<'_>) -> Result<Option<Tier>> {
        let loaders = loaders(ctx)?;
        let Some(membership) = loaders
            .open_membership_by_donor
            .load_one(self.0.id)
            .await?
            .flatten()
        else {
            return Ok(None);
        };
        Ok(loaders.tiers.load_one(membership.tier_id).await?.map(Tier))
    }

    /// The donor's giving-club history: every tier entered and left, oldest first, a
    /// page at a time.
    async fn tier_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<super::club::ClubMembership>> {
        let args = PageArgs::new(after, before, first, last);
        super::club::donor_tier_history(ctx, self.0.id, args).await
    }

    /// The donor's active pledges.
    async fn active_pledges(&self, ctx: &Context<'_>) -> Result<Vec<Pledge>> {
        let pledges = loaders(ctx)?
            .active_pledges_by_donor
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(pledges.iter().cloned().map(Pledge).collect())
    }

    /// The donor's most recent gifts of any status, newest first.
    async fn recent_gifts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (at most 50).", default = 5)] count: i32,
    ) -> Result<Vec<Gift>> {
        if !(0..=50).contains(&count) {
            return Err(bad_input("count", "must be between 0 and 50"));
        }
        let history = self.history(ctx).await?;
        Ok(history
            .iter()
            .take(usize::try_from(count).unwrap_or(0))
            .cloned()
            .map(Gift)
            .collect())
    }

    /// All the donor's gifts of any status, newest first, a page at a time.
    async fn gifts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Gift>> {
        const ORDER: &str = "donor-gifts-newest";
        let request = PageArgs::new(after, before, first, last).keyed(ORDER)?;
        let history = self.history(ctx).await?;
        let rows = page_in_memory(
            history.to_vec(),
            |gift| (Reverse(gift.received_at), Reverse(gift.id)),
            &request,
            DEFAULT_PAGE_SIZE as u64,
        )
        .gql()?;
        Ok(placed_page(rows, history.len() as u64, ORDER, Gift))
    }

    /// The donor's receipts and year-end statements, newest first, a page at a time.
    /// Staff only, as every receipt.
    async fn receipts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<ReceiptSummary>> {
        const ORDER: &str = "donor-receipts-newest";
        let request = PageArgs::new(after, before, first, last).keyed(ORDER)?;
        let receipts = loaders(ctx)?
            .receipts_by_donor
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        let rows = page_in_memory(
            receipts.to_vec(),
            |receipt| (Reverse(receipt.issued_at), Reverse(receipt.id)),
            &request,
            DEFAULT_PAGE_SIZE as u64,
        )
        .gql()?;
        Ok(placed_page(
            rows,
            receipts.len() as u64,
            ORDER,
            ReceiptSummary,
        ))
    }
}

impl Donor {
    /// Every gift of the donor, newest first, loaded in one batch with the other donors
    /// of the response.
    async fn history(&self, ctx: &Context<'_>) -> Result<std::sync::Arc<Vec<entity::gift::Model>>> {
        history_for(loaders(ctx)?, self.0.id, self.1).await
    }

    async fn year_total(&self, ctx: &Context<'_>, years_back: i32) -> Result<MoneyAmount> {
        let org = &config(ctx)?.org;
        let year = tax_year(org, Utc::now()) - years_back;
        let history = self.history(ctx).await?;
        Ok(total(
            donor_search::counted_toward_totals(&history)
                .filter(|gift| tax_year(org, gift.received_at) == year),
        ))
    }
}

fn total<'a>(given: impl Iterator<Item = &'a entity::gift::Model>) -> MoneyAmount {
    MoneyAmount::from_columns(donor_search::net_total(given), TOTALS_CURRENCY)
}

/// A person or an organization.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::DonorKind")]
pub enum DonorKind {
    /// A person.
    Individual,
    /// A foundation, company or donor-advised fund.
    Organization,
}

/// A language donors read; receipts and emails follow it.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::Language")]
pub enum Language {
    /// English.
    English,
    /// Spanish.
    Spanish,
    /// French.
    French,
    /// Arabic.
    Arabic,
}

/// Which way to sort.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum OrderDirection {
    /// Smallest, earliest or A first.
    #[default]
    Asc,
    /// Largest, latest or Z first.
    Desc,
}

/// What donors can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum DonorOrderField {
    /// Display name, ignoring case.
    #[default]
    Name,
    /// The date of the last gift; donors who never gave come last.
    LastGift,
    /// Lifetime giving, net of refunds.
    LifetimeGiving,
}

/// The order of a donor list. Ties are broken by id, so paging never skips or repeats.
#[derive(InputObject, Clone, Copy, Default)]
pub struct DonorOrderBy {
    /// What to order by.
    #[graphql(default)]
    pub field: DonorOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Which donors to list. Every part is optional; parts combine with AND.
#[derive(InputObject, Clone, Default)]
pub struct DonorFilter {
    /// Part of a name or email, one line of at most 200 characters; case and accents
    /// are ignored ("jose" finds "José"). Viewers, who see emails masked, search names
    /// only.
    pub search: Option<String>,
    /// Donors now in this giving-club tier.
    pub tier_id: Option<ID>,
    /// Donors who have given to this fund.
    pub fund_id: Option<ID>,
    /// Lifetime giving (net of refunds) of at least this much.
    pub lifetime_giving_min: Option<MoneyInput>,
    /// Lifetime giving (net of refunds) of at most this much.
    pub lifetime_giving_max: Option<MoneyInput>,
    /// Last gift on or after this moment.
    pub last_gift_from: Option<DateTime<Utc>>,
    /// Last gift before this moment.
    pub last_gift_to: Option<DateTime<Utc>>,
    /// Donors with (true) or without (false) an active pledge.
    pub has_active_pledge: Option<bool>,
    /// Donors who read this language.
    pub language: Option<Language>,
    /// Donors who did (true) or did not (false) consent to email updates.
    pub email_consent: Option<bool>,
    /// Donors this saved segment matches now (`segment(id) { members }` lists the same).
    pub segment_id: Option<ID>,
}

impl DonorFilter {
    /// The domain's filter; `names_only` for searchers who see emails masked.
    pub async fn parse(self, ctx: &Context<'_>, names_only: bool) -> Result<SearchFilter> {
        let id = |field: &str, id: Option<ID>| id.map(|id| parse_id(field, &id)).transpose();
        let amount = |field: &str, money: Option<MoneyInput>| {
            money
                .map(|m| m.parse(ctx, field).map(|m| m.amount_minor()))
                .transpose()
        };
        let segment = match id("filter.segmentId", self.segment_id)? {
            Some(segment_id) => {
                let saved = match segments::find_segment(db(ctx)?, segment_id).await {
                    Err(DomainError::NotFound { .. }) => {
                        return Err(bad_input(
                            "filter.segmentId",
                            "there is no segment with this id",
                        ));
                    }
                    found => found.gql()?,
                };
                let rule = segments::saved_rule(&saved).gql()?;
                Some(SegmentScope::new(rule, config(ctx)?.org.timezone))
            }
            None => None,
        };
        Ok(SearchFilter {
            text: text::searched("filter.search", self.search).gql()?,
            text_in_names_only: names_only,
            tier_id: id("filter.tierId", self.tier_id)?,
            fund_id: id("filter.fundId", self.fund_id)?,
            lifetime_min_minor: amount("filter.lifetimeGivingMin", self.lifetime_giving_min)?,
            lifetime_max_minor: amount("filter.lifetimeGivingMax", self.lifetime_giving_max)?,
            last_gift_from: self.last_gift_from,
            last_gift_to: self.last_gift_to,
            has_active_pledge: self.has_active_pledge,
            language: self.language.map(Into::into),
            email_consent: self.email_consent,
            segment,
        })
    }
}

/// A postal address.
#[derive(InputObject, Clone, Default)]
pub struct AddressInput {
    /// First line (street and number).
    pub line1: Option<String>,
    /// Second line (apartment, suite).
    pub line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or region.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code ("US").
    pub country: Option<String>,
}

/// A new donor.
#[derive(InputObject)]
pub struct CreateDonorInput {
    /// A person or an organization.
    #[graphql(default_with = "DonorKind::Individual")]
    pub kind: DonorKind,
    /// How the donor is addressed in lists and receipts.
    pub display_name: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email address; no two donors share one.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Postal address.
    pub address: Option<AddressInput>,
    /// The language the donor reads.
    #[graphql(default_with = "Language::English")]
    pub language: Language,
    /// The donor asked to receive updates and appeals by email.
    #[graphql(default = false)]
    pub email_consent: bool,
    /// The donor asked not to be named in public recognition.
    #[graphql(default = false)]
    pub anonymous: bool,
    /// Staff notes.
    pub notes: Option<String>,
}

/// Changes to a donor. Leave a field out to keep it; set a nullable one to null to clear it.
#[derive(InputObject, Default)]
pub struct UpdateDonorInput {
    /// The donor's id.
    pub id: ID,
    /// A person or an organization.
    pub kind: Option<DonorKind>,
    /// How the donor is addressed.
    pub display_name: Option<String>,
    /// Given name.
    pub first_name: MaybeUndefined<String>,
    /// Family name.
    pub last_name: MaybeUndefined<String>,
    /// Email address.
    pub email: MaybeUndefined<String>,
    /// Phone number.
    pub phone: MaybeUndefined<String>,
    /// First line of the postal address.
    pub address_line1: MaybeUndefined<String>,
    /// Second line of the postal address.
    pub address_line2: MaybeUndefined<String>,
    /// City.
    pub city: MaybeUndefined<String>,
    /// State or region.
    pub region: MaybeUndefined<String>,
    /// Postal code.
    pub postal_code: MaybeUndefined<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: MaybeUndefined<String>,
    /// The language the donor reads.
    pub language: Option<Language>,
    /// Consent to email updates and appeals.
    pub email_consent: Option<bool>,
    /// Whether to leave the donor out of public recognition.
    pub anonymous: Option<bool>,
    /// Staff notes.
    pub notes: MaybeUndefined<String>,
}

fn change(value: MaybeUndefined<String>) -> Option<Option<String>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// The donor whose signed links stop working.
#[derive(InputObject)]
pub struct RevokeDonorLinksInput {
    /// The donor whose links stop working.
    pub donor_id: ID,
}

#[derive(Default)]
pub struct DonorMutation;

#[Object]
impl DonorMutation {
    /// Records a new donor. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn create_donor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The donor's details.")] input: CreateDonorInput,
    ) -> Result<Donor> {
        let address = input.address.unwrap_or_default();
        let new = NewDonor {
            kind: input.kind.into(),
            display_name: input.display_name,
            first_name: input.first_name,
            last_name: input.last_name,
            email: input.email,
            phone: input.phone,
            address: PostalAddress {
                line1: address.line1,
                line2: address.line2,
                city: address.city,
                region: address.region,
                postal_code: address.postal_code,
                country: address.country,
            },
            language: input.language.into(),
            email_consent: input.email_consent,
            anonymous: input.anonymous,
            notes: input.notes,
        };
        donors::create_donor(db(ctx)?, &actor(ctx)?, new)
            .await
            .gql()
            .map(Donor::from)
    }

    /// Revokes every signed link the donor was sent until now: their self-service page,
    /// receipt downloads, appeal unsubscribe and personal donate links all stop opening
    /// (the donor sees a page saying the link is no longer valid). Links sent afterwards
    /// work. Audited. Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn revoke_donor_links(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The donor whose signed links stop working.")]
        input: RevokeDonorLinksInput,
    ) -> Result<Donor> {
        let RevokeDonorLinksInput { donor_id } = input;
        let id = parse_id("donorId", &donor_id)?;
        donors::revoke_donor_links(db(ctx)?, &actor(ctx)?, id)
            .await
            .gql()
            .map(Donor::from)
    }

    /// Changes a donor's contact details, language, consent or anonymity. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn update_donor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The donor and the fields to change.")] input: UpdateDonorInput,
    ) -> Result<Donor> {
        let id = parse_id("id", &input.id)?;
        let changes = DonorChanges {
            kind: input.kind.map(Into::into),
            display_name: input.display_name,
            first_name: change(input.first_name),
            last_name: change(input.last_name),
            email: change(input.email),
            phone: change(input.phone),
            address_line1: change(input.address_line1),
            address_line2: change(input.address_line2),
            city: change(input.city),
            region: change(input.region),
            postal_code: change(input.postal_code),
            country: change(input.country),
            language: input.language.map(Into::into),
            email_consent: input.email_consent,
            anonymous: input.anonymous,
            notes: change(input.notes),
        };
        donors::update_donor(db(ctx)?, &actor(ctx)?, id, changes)
            .await
            .gql()
            .map(Donor::from)
    }
}

#[derive(Default)]
pub struct DonorQuery;

#[Object]
impl DonorQuery {
    /// One donor by id. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn donor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The donor's id.")] id: ID,
    ) -> Result<Donor> {
        let id = parse_id("id", &id)?;
        let donor = donors::find_donor(db(ctx)?, id).await.gql()?;
        let look_ahead = ctx.look_ahead();
        let history = projection::history_columns(projection::object_fields(&look_ahead));
        prefetch_for_donors(loaders(ctx)?, look_ahead, &[donor.id], history).await?;
        Ok(Donor(donor, history))
    }

    /// Donors matching a filter, in a stable order, a page at a time. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    #[allow(clippy::too_many_arguments)]
    async fn donors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which donors.")] filter: Option<DonorFilter>,
        #[graphql(desc = "In what order (by name unless told).")] order_by: Option<DonorOrderBy>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Donor>> {
        let order_by = order_by.unwrap_or_default();
        let order = match order_by.field {
            DonorOrderField::Name => DonorOrder::Name,
            DonorOrderField::LastGift => DonorOrder::LastGift,
            DonorOrderField::LifetimeGiving => DonorOrder::LifetimeGiving,
        };
        let ordering = order.ordering(order_by.direction == OrderDirection::Desc);
        let request = PageArgs::new(after, before, first, last).keyed(ordering.name)?;
        let filter = filter
            .unwrap_or_default()
            .parse(ctx, Donor::masked(ctx)?)
            .await?;
        let db = db(ctx)?;
        let search = DonorSearch::new(db, &filter).await.gql()?;
        let total = search.count(db).await.gql()?;
        let rows = search
            .page(db, order, &ordering, &request, DEFAULT_PAGE_SIZE as u64)
            .await
            .gql()?;
        let ids: Vec<i64> = rows.rows.iter().map(|(d, _)| d.id).collect();
        let page = ctx.look_ahead();
        let history = projection::history_columns(projection::node_fields(&page));
        let node = page.field("edges").field("node");
        prefetch_for_donors(loaders(ctx)?, node, &ids, history).await?;
        Ok(placed_page(rows, total, ordering.name, |row| {
            Donor(row, history)
        }))
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
