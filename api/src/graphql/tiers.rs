//! Giving-club tiers. Everyone may read them; admins add and change them.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};
use chrono::{DateTime, Utc};
use entity::giving_tier;

use super::access::requires_role;
use super::context::{actor, config, db, parse_id};
use super::errors::GqlResultExt;
use super::money::{MoneyAmount, MoneyInput};
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, counted_page};
use super::tokens::Role;
use super::translations::{self, Translation, TranslationInput};
use crate::domain::tiers::{self, TierChanges, TierDetails};

/// A level of the Monthly Giving Club, reached by annual pledge total.
pub struct Tier(pub giving_tier::Model);

/// A level of the Monthly Giving Club, reached by annual pledge total.
#[Object(name = "GivingTier")]
impl Tier {
    /// The tier's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Its name ("Circle of Friends").
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The annual pledge total that reaches it.
    async fn threshold(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.threshold_minor, &self.0.currency)
    }

    /// What members receive.
    async fn benefits(&self) -> Option<&str> {
        self.0.benefits.as_deref()
    }

    /// Its name and benefits in the other languages donors read; a language with no
    /// text shows donors the English one.
    async fn translations(&self) -> Vec<Translation> {
        translations::listed(self.0.translations.as_ref())
    }

    /// Good-faith value of the benefits, for receipts.
    async fn benefits_value(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.benefits_value_minor, &self.0.currency)
    }

    /// Whether it is the Circle: the tier thanked on the public roll at `/circle`,
    /// offered as a monthly amount on the donation page and in appeals that invite
    /// donors into it. Its members and the members of any tier above it are in the
    /// Circle. At most one tier is.
    async fn is_circle(&self) -> bool {
        self.0.is_circle
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(Default)]
pub struct TierQuery;

#[Object]
impl TierQuery {
    /// One giving-club tier by id; `NOT_FOUND` when there is none. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn tier(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tier's id.")] id: ID,
    ) -> Result<Tier> {
        let id = parse_id("id", &id)?;
        crate::domain::find_by_id::<giving_tier::Entity>(db(ctx)?, "tier", id)
            .await
            .gql()
            .map(Tier)
    }

    /// The giving-club tiers, lowest threshold first, a page at a time (at most 100),
    /// with `totalCount`. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn tiers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Tier>> {
        let order = tiers::tiers_by_threshold();
        let request = PageArgs::new(after, before, first, last).keyed(order.name)?;
        let found = tiers::page_tiers(db(ctx)?, &request, DEFAULT_PAGE_SIZE as u64)
            .await
            .gql()?;
        Ok(counted_page(&order, found, Tier))
    }
}

/// A new tier.
#[derive(InputObject)]
pub struct CreateTierInput {
    /// Its name.
    pub name: String,
    /// The annual pledge total that reaches it.
    pub threshold: MoneyInput,
    /// What members receive.
    pub benefits: Option<String>,
    /// Good-faith value of the benefits; none when left out.
    pub benefits_value: Option<MoneyInput>,
    /// Make it the Circle, in place of the tier that is the Circle now.
    #[graphql(default = false)]
    pub is_circle: bool,
    /// Its name and benefits in Spanish, French or Arabic.
    pub translations: Option<Vec<TranslationInput>>,
}

/// Changes to a tier. Leave a field out to keep it.
#[derive(InputObject, Default)]
pub struct UpdateTierInput {
    /// The tier's id.
    pub id: ID,
    /// Its name.
    pub name: Option<String>,
    /// The annual pledge total that reaches it.
    pub threshold: Option<MoneyInput>,
    /// What members receive; null clears it.
    pub benefits: MaybeUndefined<String>,
    /// Good-faith value of the benefits; null makes it none.
    pub benefits_value: MaybeUndefined<MoneyInput>,
    /// True makes it the Circle, in place of the tier that is the Circle now; false on
    /// the Circle leaves the club without one (the recognition page is then empty).
    pub is_circle: Option<bool>,
    /// Texts to set or remove in Spanish, French or Arabic; the others stay.
    pub translations: Option<Vec<TranslationInput>>,
}

#[derive(Default)]
pub struct TierMutation;

#[Object]
impl TierMutation {
    /// Adds a giving-club tier (admins only). Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn create_tier(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tier.")] input: CreateTierInput,
    ) -> Result<Tier> {
        let details = TierDetails {
            name: input.name,
            threshold: input.threshold.parse(ctx, "threshold")?,
            benefits: input.benefits,
            benefits_value_minor: input
                .benefits_value
                .map(|v| v.parse(ctx, "benefitsValue"))
                .transpose()?
                .map_or(0, |v| v.amount_minor()),
            is_circle: input.is_circle,
            translations: translations::changes(input.translations),
        };
        tiers::create_tier(db(ctx)?, &actor(ctx)?, &config(ctx)?.club_policy(), details)
            .await
            .gql()
            .map(Tier)
    }

    /// Changes a giving-club tier (admins only). Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn update_tier(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tier and the fields to change.")] input: UpdateTierInput,
    ) -> Result<Tier> {
        let id = parse_id("id", &input.id)?;
        let changes = TierChanges {
            name: input.name,
            threshold: input
                .threshold
                .map(|t| t.parse(ctx, "threshold"))
                .transpose()?,
            benefits: match input.benefits {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(v) => Some(Some(v)),
            },
            benefits_value_minor: match input.benefits_value {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(0),
                MaybeUndefined::Value(v) => Some(v.parse(ctx, "benefitsValue")?.amount_minor()),
            },
            is_circle: input.is_circle,
            translations: translations::changes(input.translations),
        };
        tiers::update_tier(
            db(ctx)?,
            &actor(ctx)?,
            &config(ctx)?.club_policy(),
            id,
            changes,
        )
        .await
        .gql()
        .map(Tier)
    }
}
