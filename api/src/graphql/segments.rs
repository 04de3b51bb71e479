//! Segments: saved audience rules, and a preview of whom a rule reaches.
//!
//! A rule is JSON with a `kind`: `all`/`any` (with `rules`), `not` (with `rule`),
//! `gaveBetween`/`didNotGiveBetween`/`firstGiftBetween` (`from`, `to` as days),
//! `lybunt`/`sybunt` (`year`), `lifetimeGiving` (`minMinor`, `maxMinor`), `yearGiving`
//! (`year`, `minMinor`, `maxMinor`), `inTier` (`tierId`), `activePledge` (`has`),
//! `pledgePastDue`, `gaveToFund` (`fundId`), `attributedToAppeal` (`appealId`),
//! `speaksLanguage` (`language`: en, es, fr, ar), `emailConsent` (`consented`),
//! `hasPostalAddress`.

use async_graphql::{Context, ID, InputObject, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::segment;
use serde_json::Value;

use super::access::requires_role;
use super::context::{actor, config, db, parse_id};
use super::donors::Donor;
use super::errors::{GqlResultExt, bad_input};
use super::tokens::Role;
use crate::domain::segments::{self, SegmentDetails, SegmentRule};

/// The most donors a preview lists.
const MAX_PREVIEW: i32 = 100;

/// A saved audience rule ("lapsed donors", "Circle of Friends members").
pub struct Segment(pub segment::Model);

/// A saved audience rule ("lapsed donors", "Circle of Friends members").
#[Object]
impl Segment {
    /// The segment's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Its name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What it is for.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The rule, as JSON with a `kind`.
    async fn rule(&self) -> Json<Value> {
        Json(self.0.rule.clone())
    }

    /// How many donors it matches now.
    async fn donor_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let rule = segments::saved_rule(&self.0).gql()?;
        let (count, _) = segments::preview(db(ctx)?, &config(ctx)?.org, &rule, 0)
            .await
            .gql()?;
        Ok(count)
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Whom a rule reaches.
#[derive(SimpleObject)]
pub struct SegmentPreview {
    /// How many donors match.
    pub count: u64,
    /// The first donors by id.
    pub donors: Vec<Donor>,
}

fn parse_rule(rule: &Value) -> Result<SegmentRule> {
    SegmentRule::parse(rule).map_err(|error| bad_input("rule", error))
}

#[derive(Default)]
pub struct SegmentQuery;

#[Object]
impl SegmentQuery {
    /// Saved segments by name.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn segments(&self, ctx: &Context<'_>) -> Result<Vec<Segment>> {
        let all = segments::list_segments(db(ctx)?).await.gql()?;
        Ok(all.into_iter().map(Segment).collect())
    }

    /// How many donors a rule matches and the first of them, before anything is sent.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn segment_preview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The rule, as JSON with a `kind`.")] rule: Json<Value>,
        #[graphql(desc = "How many donors to list (at most 100).", default = 20)] first: i32,
    ) -> Result<SegmentPreview> {
        if !(0..=MAX_PREVIEW).contains(&first) {
            return Err(bad_input("first", "must be between 0 and 100"));
        }
        let rule = parse_rule(&rule.0)?;
        let (count, donors) = segments::preview(
            db(ctx)?,
            &config(ctx)?.org,
            &rule,
            u64::try_from(first).unwrap_or(0),
        )
        .await
        .gql()?;
        Ok(SegmentPreview {
            count,
            donors: donors.into_iter().map(Donor).collect(),
        })
    }
}

/// A new segment.
#[derive(InputObject)]
pub struct CreateSegmentInput {
    /// Its name; unique.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// The rule, as JSON with a `kind`.
    pub rule: Json<Value>,
}

#[derive(Default)]
pub struct SegmentMutation;

#[Object]
impl SegmentMutation {
    /// Saves a named audience rule.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn create_segment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The segment.")] input: CreateSegmentInput,
    ) -> Result<Segment> {
        let details = SegmentDetails {
            name: input.name,
            description: input.description,
            rule: parse_rule(&input.rule.0)?,
        };
        segments::create_segment(db(ctx)?, &actor(ctx)?, details)
            .await
            .gql()
            .map(Segment)
    }

    /// Renames a segment or changes its rule.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn update_segment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The segment's id.")] id: ID,
        #[graphql(desc = "A new name.")] name: Option<String>,
        #[graphql(desc = "A new rule.")] rule: Option<Json<Value>>,
    ) -> Result<Segment> {
        let id = parse_id("id", &id)?;
        let rule = rule.map(|r| parse_rule(&r.0)).transpose()?;
        segments::update_segment(db(ctx)?, &actor(ctx)?, id, name, rule)
            .await
            .gql()
            .map(Segment)
    }
}
