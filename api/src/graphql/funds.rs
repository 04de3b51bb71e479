//! Funds: the designations gifts go to.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};
use chrono::{DateTime, Utc};
use entity::fund;

use super::access::requires_role;
use super::context::{actor, db, parse_id};
use super::errors::GqlResultExt;
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, counted_page};
use super::tokens::Role;
use super::translations::{self, Translation, TranslationInput};
use crate::domain::funds::{self, FundChanges, FundDetails};

/// A designation a gift goes to: the General fund or a restricted program.
pub struct Fund(pub fund::Model);

/// A designation a gift goes to: the General fund or a restricted program.
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

    /// Its name and description in the other languages donors read; a language with
    /// no text shows donors the English one.
    async fn translations(&self) -> Vec<Translation> {
        translations::listed(self.0.translations.as_ref())
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

#[derive(Default)]
pub struct FundQuery;

#[Object]
impl FundQuery {
    /// One fund by id, archived or not; `NOT_FOUND` when there is none. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn fund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The fund's id.")] id: ID,
    ) -> Result<Fund> {
        let id = parse_id("id", &id)?;
        funds::find_fund(db(ctx)?, id).await.gql().map(Fund)
    }

    /// The funds gifts can be designated to, by name, a page at a time (at most 100),
    /// with `totalCount`. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn funds(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Include funds that no longer take gifts.", default = false)]
        include_archived: bool,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Fund>> {
        let order = funds::funds_by_name();
        let request = PageArgs::new(after, before, first, last).keyed(order.name)?;
        let found = funds::page_funds(
            db(ctx)?,
            include_archived,
            &request,
            DEFAULT_PAGE_SIZE as u64,
        )
        .await
        .gql()?;
        Ok(counted_page(&order, found, Fund))
    }
}

/// A new fund.
#[derive(InputObject)]
pub struct CreateFundInput {
    /// Its name, as donors see it.
    pub name: String,
    /// A short stable code: letters, digits and hyphens ("SANTA-ANA-DDF").
    pub code: String,
    /// What it pays for.
    pub description: Option<String>,
    /// Whether gifts to it may only be spent on its program.
    #[graphql(default = true)]
    pub restricted: bool,
    /// Its name and description in Spanish, French or Arabic.
    pub translations: Option<Vec<TranslationInput>>,
}

/// Changes to a fund. Leave a field out to keep it.
#[derive(InputObject, Default)]
pub struct UpdateFundInput {
    /// The fund's id.
    pub id: ID,
    /// Its name.
    pub name: Option<String>,
    /// Its code.
    pub code: Option<String>,
    /// What it pays for; null clears it.
    pub description: MaybeUndefined<String>,
    /// Whether gifts to it are restricted.
    pub restricted: Option<bool>,
    /// Texts to set or remove in Spanish, French or Arabic; the others stay.
    pub translations: Option<Vec<TranslationInput>>,
}

/// The fund to archive.
#[derive(InputObject)]
pub struct ArchiveFundInput {
    /// The fund's id.
    pub id: ID,
}

#[derive(Default)]
pub struct FundMutation;

#[Object]
impl FundMutation {
    /// Adds a fund (admins only). Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn create_fund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The fund.")] input: CreateFundInput,
    ) -> Result<Fund> {
        let details = FundDetails {
            name: input.name,
            code: input.code,
            description: input.description,
            restricted: input.restricted,
            translations: translations::changes(input.translations),
        };
        funds::create_fund(db(ctx)?, &actor(ctx)?, details)
            .await
            .gql()
            .map(Fund)
    }

    /// Changes a fund's name, code, description, restriction or translations (admins
    /// only). Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn update_fund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The fund and the fields to change.")] input: UpdateFundInput,
    ) -> Result<Fund> {
        let id = parse_id("id", &input.id)?;
        let changes = FundChanges {
            name: input.name,
            code: input.code,
            description: match input.description {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(v) => Some(Some(v)),
            },
            restricted: input.restricted,
            translations: translations::changes(input.translations),
        };
        funds::update_fund(db(ctx)?, &actor(ctx)?, id, changes)
            .await
            .gql()
            .map(Fund)
    }

    /// Stops a fund taking new gifts; its gifts stay (admins only). Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn archive_fund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The fund to archive.")] input: ArchiveFundInput,
    ) -> Result<Fund> {
        let ArchiveFundInput { id } = input;
        let id = parse_id("id", &id)?;
        funds::archive_fund(db(ctx)?, &actor(ctx)?, id)
            .await
            .gql()
            .map(Fund)
    }
}
