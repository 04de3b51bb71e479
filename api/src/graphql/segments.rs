//! Segments: saved audience rules, and a preview of whom a rule reaches.
//!
//! A rule is given typed, as a `SegmentRuleInput` (exactly one field per rule: `{ lybunt:
//! { year: 2026 } }`, `{ any: [{ speaksLanguage: { language: SPANISH } }, ...] }`), or as
//! JSON with a `kind` (`ruleJson`), the form segments are stored in: `all`/`any` (with
//! `rules`), `not` (with `rule`), `gaveBetween`/`didNotGiveBetween`/`firstGiftBetween`
//! (`from`, `to` as days), `lybunt`/`sybunt` (`year`), `lifetimeGiving` (`minMinor`,
//! `maxMinor`), `yearGiving` (`year`, `minMinor`, `maxMinor`), `inTier` (`tierId`),
//! `activePledge` (`has`), `pledgePastDue`, `pledgeStatus` (`status`: active, paused,
//! past_due, cancelled, completed), `gaveToFund` (`fundId`), `attributedToAppeal`
//! (`appealId`), `speaksLanguage` (`language`: en, es, fr, ar), `emailConsent`
//! (`consented`), `hasPostalAddress`.

use async_graphql::{Context, ID, InputObject, Json, Object, OneofObject, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::segment;
use serde_json::Value;

use super::access::requires_role;
use super::context::{actor, config, db, parse_id};
use super::date::Date;
use super::donors::{Donor, Language};
use super::errors::{GqlResultExt, bad_input};
use super::money::MoneyInput;
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, counted_page, ordered_page};
use super::pledges::PledgeStatus;
use super::tokens::Role;
use crate::domain::segments::{self, SegmentDetails, SegmentRule};

/// The most donors a preview lists.
const MAX_PREVIEW: i32 = 100;

/// An audience rule, typed: give exactly one field. Days are in the organization's time
/// zone, both ends included; amounts are net of refunds, in the organization's currency.
/// The same rules can be written as JSON with a `kind` (the `ruleJson` arguments).
#[derive(OneofObject)]
pub enum SegmentRuleInput {
    /// Donors every one of these rules matches (at least one rule).
    All(Vec<SegmentRuleInput>),
    /// Donors any of these rules matches (at least one rule).
    Any(Vec<SegmentRuleInput>),
    /// Donors this rule does not match.
    Not(Box<SegmentRuleInput>),
    /// Gave at least once between two days.
    GaveBetween(DayRangeInput),
    /// Did not give between two days.
    DidNotGiveBetween(DayRangeInput),
    /// Made their first gift ever between two days.
    FirstGiftBetween(DayRangeInput),
    /// LYBUNT: gave last year but not this year, for the year given.
    Lybunt(LybuntRuleInput),
    /// SYBUNT: gave some year before last, but neither last year nor this year.
    Sybunt(SybuntRuleInput),
    /// Lifetime giving (the total between two amounts).
    LifetimeGiving(GivingRangeInput),
    /// Giving in one calendar year between two amounts.
    YearGiving(YearGivingRuleInput),
    /// A current member of a giving-club tier.
    InTier(InTierRuleInput),
    /// Has (or has not) an active or past-due pledge.
    ActivePledge(ActivePledgeRuleInput),
    /// Has a pledge in a status.
    PledgeStatus(PledgeStatusRuleInput),
    /// Gave to a fund.
    GaveToFund(GaveToFundRuleInput),
    /// Gave through an appeal.
    AttributedToAppeal(AttributedToAppealRuleInput),
    /// Reads in a language.
    SpeaksLanguage(SpeaksLanguageRuleInput),
    /// Agreed (or not) to email.
    EmailConsent(EmailConsentRuleInput),
    /// Has (or has not) a postal address a letter can go to.
    HasPostalAddress(HasPostalAddressRuleInput),
}

/// Two days, both included.
#[derive(InputObject)]
pub struct DayRangeInput {
    /// The first day.
    pub from: Date,
    /// The last day.
    pub to: Date,
}

/// LYBUNT ("last year but unfortunately not this"): gave in `year - 1`, not in `year`.
#[derive(InputObject)]
pub struct LybuntRuleInput {
    /// "This year": the calendar year the donor did not give in (2026 finds donors who
    /// gave in 2025 but not in 2026).
    pub year: i32,
}

/// SYBUNT ("some year but unfortunately not this"): gave before `year - 1` at least once,
/// but neither in `year - 1` nor in `year`.
#[derive(InputObject)]
pub struct SybuntRuleInput {
    /// "This year": the calendar year the donor did not give in.
    pub year: i32,
}

/// A total between two amounts; give at least one end.
#[derive(InputObject)]
pub struct GivingRangeInput {
    /// At least this much.
    pub min: Option<MoneyInput>,
    /// At most this much.
    pub max: Option<MoneyInput>,
}

/// Giving in one calendar year between two amounts; give at least one end.
#[derive(InputObject)]
pub struct YearGivingRuleInput {
    /// The calendar year, in the organization's time zone.
    pub year: i32,
    /// At least this much.
    pub min: Option<MoneyInput>,
    /// At most this much.
    pub max: Option<MoneyInput>,
}

/// Membership of a giving-club tier.
#[derive(InputObject)]
pub struct InTierRuleInput {
    /// The tier's id.
    pub tier_id: ID,
}

/// Whether the donor has an active or past-due pledge.
#[derive(InputObject)]
pub struct ActivePledgeRuleInput {
    /// True: has one; false: has none.
    #[graphql(default = true)]
    pub has: bool,
}

/// A pledge in one status.
#[derive(InputObject)]
pub struct PledgeStatusRuleInput {
    /// The status one of the donor's pledges is in.
    pub status: PledgeStatus,
}

/// Gifts to one fund.
#[derive(InputObject)]
pub struct GaveToFundRuleInput {
    /// The fund's id.
    pub fund_id: ID,
}

/// Gifts through one appeal.
#[derive(InputObject)]
pub struct AttributedToAppealRuleInput {
    /// The appeal's id.
    pub appeal_id: ID,
}

/// The donor's language.
#[derive(InputObject)]
pub struct SpeaksLanguageRuleInput {
    /// The language.
    pub language: Language,
}

/// The donor's email consent.
#[derive(InputObject)]
pub struct EmailConsentRuleInput {
    /// True: agreed to email (and has an address); false: did not agree.
    #[graphql(default = true)]
    pub consented: bool,
}

/// A postal address.
#[derive(InputObject)]
pub struct HasPostalAddressRuleInput {
    /// True: has a usable address (street, city, postal code); false: has none.
    #[graphql(default = true)]
    pub has: bool,
}

impl SegmentRuleInput {
    /// The domain's rule; a refusal names the field from `path` down
    /// (`rule.any[1].lifetimeGiving.min`).
    fn into_rule(self, ctx: &Context<'_>, path: &str) -> Result<SegmentRule> {
        let minor = |money: Option<MoneyInput>, field: &str| {
            money
                .map(|m| m.parse(ctx, field).map(|m| m.amount_minor()))
                .transpose()
        };
        let list = |rules: Vec<SegmentRuleInput>, name: &str| {
            rules
                .into_iter()
                .enumerate()
                .map(|(i, rule)| rule.into_rule(ctx, &format!("{path}.{name}[{i}]")))
                .collect::<Result<Vec<_>>>()
        };
        Ok(match self {
            SegmentRuleInput::All(rules) => SegmentRule::All {
                rules: list(rules, "all")?,
            },
            SegmentRuleInput::Any(rules) => SegmentRule::Any {
                rules: list(rules, "any")?,
            },
            SegmentRuleInput::Not(rule) => SegmentRule::Not {
                rule: Box::new(rule.into_rule(ctx, &format!("{path}.not"))?),
            },
            SegmentRuleInput::GaveBetween(r) => SegmentRule::GaveBetween {
                from: r.from.0,
                to: r.to.0,
            },
            SegmentRuleInput::DidNotGiveBetween(r) => SegmentRule::DidNotGiveBetween {
                from: r.from.0,
                to: r.to.0,
            },
            SegmentRuleInput::FirstGiftBetween(r) => SegmentRule::FirstGiftBetween {
                from: r.from.0,
                to: r.to.0,
            },
            SegmentRuleInput::Lybunt(r) => SegmentRule::Lybunt { year: r.year },
            SegmentRuleInput::Sybunt(r) => SegmentRule::Sybunt { year: r.year },
            SegmentRuleInput::LifetimeGiving(r) => SegmentRule::LifetimeGiving {
                min_minor: minor(r.min, &format!("{path}.lifetimeGiving.min"))?,
                max_minor: minor(r.max, &format!("{path}.lifetimeGiving.max"))?,
            },
            SegmentRuleInput::YearGiving(r) => SegmentRule::YearGiving {
                year: r.year,
                min_minor: minor(r.min, &format!("{path}.yearGiving.min"))?,
                max_minor: minor(r.max, &format!("{path}.yearGiving.max"))?,
            },
            SegmentRuleInput::InTier(r) => SegmentRule::InTier {
                tier_id: parse_id(&format!("{path}.inTier.tierId"), &r.tier_id)?,
            },
            SegmentRuleInput::ActivePledge(r) => SegmentRule::ActivePledge { has: r.has },
            SegmentRuleInput::PledgeStatus(r) => SegmentRule::PledgeInStatus {
                status: r.status.into(),
            },
            SegmentRuleInput::GaveToFund(r) => SegmentRule::GaveToFund {
                fund_id: parse_id(&format!("{path}.gaveToFund.fundId"), &r.fund_id)?,
            },
            SegmentRuleInput::AttributedToAppeal(r) => SegmentRule::AttributedToAppeal {
                appeal_id: parse_id(&format!("{path}.attributedToAppeal.appealId"), &r.appeal_id)?,
            },
            SegmentRuleInput::SpeaksLanguage(r) => SegmentRule::SpeaksLanguage {
                language: entity::enums::Language::from(r.language)
                    .as_str()
                    .to_owned(),
            },
            SegmentRuleInput::EmailConsent(r) => SegmentRule::EmailConsent {
                consented: r.consented,
            },
            SegmentRuleInput::HasPostalAddress(r) if r.has => SegmentRule::HasPostalAddress,
            SegmentRuleInput::HasPostalAddress(_) => SegmentRule::Not {
                rule: Box::new(SegmentRule::HasPostalAddress),
            },
        })
    }
}

/// Reads the rule given one way or the other: exactly one of `rule` (typed) and
/// `ruleJson` (JSON with a `kind`).
fn read_rule(
    ctx: &Context<'_>,
    typed: Option<SegmentRuleInput>,
    json: Option<Json<Value>>,
) -> Result<SegmentRule> {
    match (typed, json) {
        (Some(typed), None) => typed.into_rule(ctx, "rule")?.checked("rule").gql(),
        (None, Some(json)) => SegmentRule::parse_at(&json.0, "ruleJson").gql(),
        (Some(_), Some(_)) => Err(bad_input(
            "rule",
            "give either `rule` or `ruleJson`, not both",
        )),
        (None, None) => Err(bad_input(
            "rule",
            "a rule is needed: `rule` (typed) or `ruleJson`",
        )),
    }
}

/// A saved audience rule ("lapsed donors", "Circle of Friends members").
pub struct Segment(pub segment::Model);

/// A saved audience rule ("lapsed donors", "Circle of Friends members"). Staff.
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

    /// The rule, as JSON with a `kind` (the form `ruleJson` takes).
    async fn rule(&self) -> Json<Value> {
        Json(self.0.rule.clone())
    }

    /// How many donors it matches now.
    async fn donor_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let rule = segments::saved_rule(&self.0).gql()?;
        segments::count_members(db(ctx)?, &config(ctx)?.org, &rule)
            .await
            .gql()
    }

    /// The donors it matches now, by id, a page at a time (at most 100) by key, with
    /// `totalCount`.
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Donor>> {
        let name = segments::members_by_id().name;
        let request = PageArgs::new(after, before, first, last).keyed(name)?;
        let rule = segments::saved_rule(&self.0).gql()?;
        let (db, org) = (db(ctx)?, &config(ctx)?.org);
        let total = segments::count_members(db, org, &rule).await.gql()?;
        let donors = segments::members_page(db, org, &rule, &request, DEFAULT_PAGE_SIZE as u64)
            .await
            .gql()?;
        Ok(ordered_page(
            &segments::members_by_id(),
            donors,
            total,
            Donor::from,
        ))
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
    /// The first donors by id (save the rule as a segment to page through all of them
    /// with `Segment.members`).
    pub donors: Vec<Donor>,
}

#[derive(Default)]
pub struct SegmentQuery;

#[Object]
impl SegmentQuery {
    /// Saved segments by name, a page at a time (at most 100), with `totalCount`.
    /// Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn segments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Segment>> {
        let order = segments::segments_by_name();
        let request = PageArgs::new(after, before, first, last).keyed(order.name)?;
        let found = segments::page_segments(db(ctx)?, &request, DEFAULT_PAGE_SIZE as u64)
            .await
            .gql()?;
        Ok(counted_page(&order, found, Segment))
    }

    /// One saved segment; `NOT_FOUND` when there is none with this id. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn segment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The segment's id.")] id: ID,
    ) -> Result<Segment> {
        let id = parse_id("id", &id)?;
        segments::find_segment(db(ctx)?, id)
            .await
            .gql()
            .map(Segment)
    }

    /// How many donors a rule matches and the first of them, before anything is sent.
    /// Give the rule typed (`rule`) or as JSON (`ruleJson`), not both. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn segment_preview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The rule, typed.")] rule: Option<SegmentRuleInput>,
        #[graphql(desc = "The rule as JSON with a `kind`, instead of `rule`.")] rule_json: Option<
            Json<Value>,
        >,
        #[graphql(desc = "How many donors to list (at most 100).", default = 20)] first: i32,
    ) -> Result<SegmentPreview> {
        if !(0..=MAX_PREVIEW).contains(&first) {
            return Err(bad_input("first", "must be between 0 and 100"));
        }
        let rule = read_rule(ctx, rule, rule_json)?;
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
            donors: donors.into_iter().map(Donor::from).collect(),
        })
    }
}

/// A new segment; give its rule typed (`rule`) or as JSON (`ruleJson`), not both.
#[derive(InputObject)]
pub struct CreateSegmentInput {
    /// Its name; unique.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// The rule, typed.
    pub rule: Option<SegmentRuleInput>,
    /// The rule as JSON with a `kind`, instead of `rule`.
    pub rule_json: Option<Json<Value>>,
}

/// Changes to a segment; leave a field out to keep it. A new rule is given typed
/// (`rule`) or as JSON (`ruleJson`), not both.
#[derive(InputObject)]
pub struct UpdateSegmentInput {
    /// The segment's id.
    pub id: ID,
    /// A new name.
    pub name: Option<String>,
    /// A new rule, typed.
    pub rule: Option<SegmentRuleInput>,
    /// A new rule as JSON with a `kind`, instead of `rule`.
    pub rule_json: Option<Json<Value>>,
}

#[derive(Default)]
pub struct SegmentMutation;

#[Object]
impl SegmentMutation {
    /// Saves a named audience rule. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn create_segment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The segment.")] input: CreateSegmentInput,
    ) -> Result<Segment> {
        let details = SegmentDetails {
            name: input.name,
            description: input.description,
            rule: read_rule(ctx, input.rule, input.rule_json)?,
        };
        segments::create_segment(db(ctx)?, &actor(ctx)?, details)
            .await
            .gql()
            .map(Segment)
    }

    /// Renames a segment or changes its rule. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn update_segment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The segment and the fields to change.")] input: UpdateSegmentInput,
    ) -> Result<Segment> {
        let id = parse_id("id", &input.id)?;
        let rule = if input.rule.is_none() && input.rule_json.is_none() {
            None
        } else {
            Some(read_rule(ctx, input.rule, input.rule_json)?)
        };
        segments::update_segment(db(ctx)?, &actor(ctx)?, id, input.name, rule)
            .await
            .gql()
            .map(Segment)
    }
}
