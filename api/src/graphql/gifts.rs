//! Gifts: received contributions. Staff record offline gifts (checks, cash, stock, DAF,
//! wires) here, correct them and refund them; card gifts come from the payment processor.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::enums::StaffRole;
use entity::{gift, receipt};

use super::access::requires_role;
use super::context::{actor, config, db, parse_id, processor};
use super::date::Date;
use super::donors::{Donor, OrderDirection, mask_email, mask_tail};
use super::errors::{GqlResultExt, bad_input};
use super::funds::Fund;
use super::guards::staff;
use super::loaders::{donor_for, loaders, nodes_ask_for, prime, prime_nodes_donors};
use super::money::{MoneyAmount, MoneyInput};
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, ordered_page};
use super::pledges::Pledge;
use super::projection::{self, node_fields, object_fields};
use super::tokens::Role;
use crate::domain::gift_search::{self, GiftFilter as SearchFilter, GiftOrder};
use crate::domain::gifts::{self, Benefits, Tribute as DomainTribute};
use crate::domain::offline_gifts::{self, GiftAdjustment, OfflineGift};
use crate::domain::payments::{RefundAsk, refund_gift};
use crate::domain::text;

/// How a gift was paid.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::PaymentMethod")]
pub enum PaymentMethod {
    /// Card, through the web checkout.
    Card,
    /// Bank debit, through the web checkout.
    Bank,
    /// A paper check.
    Check,
    /// Cash.
    Cash,
    /// A transfer of stock.
    Stock,
    /// A grant from a donor-advised fund.
    Daf,
    /// A bank wire.
    Wire,
}

/// Where a gift stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::GiftStatus")]
pub enum GiftStatus {
    /// Not yet confirmed by the processor or bank.
    Pending,
    /// Received.
    Succeeded,
    /// Never received.
    Failed,
    /// Returned in full.
    Refunded,
    /// Returned in part.
    PartiallyRefunded,
    /// Disputed by the cardholder.
    Disputed,
}

/// Whom a gift honors.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::TributeKind")]
pub enum TributeKind {
    /// In honor of a living person.
    InHonorOf,
    /// In memory of someone who died.
    InMemoryOf,
}

/// One received contribution: a one-off gift or one installment of a pledge.
pub struct Gift(pub gift::Model);

/// Whom a gift honors, and whom to tell about it.
pub struct Tribute<'a>(&'a gift::Model);

/// Whom a gift honors, and whom to tell about it.
#[Object]
impl Tribute<'_> {
    /// In honor or in memory.
    async fn kind(&self) -> Option<TributeKind> {
        self.0.tribute_kind.map(Into::into)
    }

    /// The person the gift honors.
    async fn name(&self) -> Option<&str> {
        self.0.tribute_name.as_deref()
    }

    /// Whom to notify of the gift.
    async fn notify_name(&self) -> Option<&str> {
        self.0.tribute_notify_name.as_deref()
    }

    /// The email to notify; masked for viewers.
    async fn notify_email(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let masked = !staff(ctx)?.role.allows(StaffRole::Staff);
        Ok(self.0.tribute_notify_email.as_deref().map(|email| {
            if masked {
                mask_email(email)
            } else {
                email.to_owned()
            }
        }))
    }

    /// Whether the person notified may be told the amount.
    async fn show_amount(&self) -> bool {
        self.0.tribute_show_amount
    }

    /// The postal address to notify; masked for viewers.
    async fn notify_address(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let masked = !staff(ctx)?.role.allows(StaffRole::Staff);
        Ok(self.0.tribute_notify_address.as_deref().map(|address| {
            if masked {
                mask_tail(address, 0)
            } else {
                address.to_owned()
            }
        }))
    }
}

/// One received contribution: a one-off gift or one installment of a pledge.
#[Object]
impl Gift {
    /// The gift's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Who gave it.
    async fn donor(&self, ctx: &Context<'_>) -> Result<Option<Donor>> {
        let selected = object_fields(&ctx.look_ahead());
        Ok(donor_for(loaders(ctx)?, self.0.donor_id, selected)
            .await?
            .map(Donor::from))
    }

    /// The amount given.
    async fn amount(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.amount_minor, &self.0.currency)
    }

    /// How much of it has been refunded.
    async fn refunded(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.refunded_minor, &self.0.currency)
    }

    /// What the organization kept: the amount less refunds.
    async fn net_amount(&self) -> MoneyAmount {
        MoneyAmount::from_columns(gifts::net_minor(&self.0), &self.0.currency)
    }

    /// Stripe's fee on the gift, from its balance transaction; empty until
    /// reconciliation with Stripe has seen it, and for gifts not paid through Stripe.
    async fn processor_fee(&self) -> Option<MoneyAmount> {
        self.0
            .processor_fee_minor
            .map(|fee| MoneyAmount::from_columns(fee, &self.0.currency))
    }

    /// What the organization kept after refunds and Stripe's fee; empty while the fee
    /// is unknown.
    async fn net_after_fee(&self) -> Option<MoneyAmount> {
        self.0
            .processor_fee_minor
            .map(|fee| MoneyAmount::from_columns(gifts::net_minor(&self.0) - fee, &self.0.currency))
    }

    /// How it was paid.
    async fn method(&self) -> PaymentMethod {
        self.0.method.into()
    }

    /// Where it stands.
    async fn status(&self) -> GiftStatus {
        self.0.status.into()
    }

    /// The fund it is designated to.
    async fn fund(&self, ctx: &Context<'_>) -> Result<Option<Fund>> {
        Ok(loaders(ctx)?
            .funds
            .load_one(self.0.fund_id)
            .await?
            .map(Fund))
    }

    /// The id of the campaign it is credited to.
    async fn campaign_id(&self) -> Option<ID> {
        self.0.campaign_id.map(|id| ID(id.to_string()))
    }

    /// The name of the campaign it is credited to.
    async fn campaign_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let Some(id) = self.0.campaign_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)?.campaigns.load_one(id).await?.map(|c| c.name))
    }

    /// The source code of the appeal that brought it in ("SCOMM11-EMAIL").
    async fn appeal_code(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let Some(id) = self.0.appeal_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)?
            .appeals
            .load_one(id)
            .await?
            .map(|a| a.source_code))
    }

    /// The pledge this gift is an installment of.
    async fn pledge(&self, ctx: &Context<'_>) -> Result<Option<Pledge>> {
        let Some(id) = self.0.pledge_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)?.pledges.load_one(id).await?.map(Pledge))
    }

    /// When the money was given.
    async fn received_at(&self) -> DateTime<Utc> {
        self.0.received_at
    }

    /// The check number, for check gifts.
    async fn check_number(&self) -> Option<&str> {
        self.0.check_number.as_deref()
    }

    /// Whom the gift honors, if anyone.
    async fn tribute(&self) -> Option<Tribute<'_>> {
        self.0.tribute_kind.is_some().then_some(Tribute(&self.0))
    }

    /// Fair market value of goods or services the donor received in return.
    async fn benefits_value(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.benefits_minor, &self.0.currency)
    }

    /// What the donor received in return.
    async fn benefits_description(&self) -> Option<&str> {
        self.0.benefits_description.as_deref()
    }

    /// The tax-deductible part: the amount less the benefits' value.
    async fn deductible_amount(&self) -> MoneyAmount {
        MoneyAmount::from_columns(
            self.0.amount_minor - self.0.benefits_minor,
            &self.0.currency,
        )
    }

    /// The donor asked that this gift not be publicly credited.
    async fn anonymous(&self) -> bool {
        self.0.anonymous
    }

    /// Staff notes (staff and admins only). Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }

    /// When the gift was recorded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the gift last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A receipt or year-end statement as listed on a donor: its number and standing.
pub struct ReceiptSummary(pub receipt::Model);

/// A receipt or year-end statement as listed on a donor: its number and standing.
/// Receipts are staff-only, however they are reached. Role: staff.
#[Object(directive = requires_role::apply(Role::Staff))]
impl ReceiptSummary {
    /// The receipt's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Its number: the tax year and a gapless sequence ("2026-000123").
    async fn number(&self) -> &str {
        &self.0.number
    }

    /// The tax year it covers.
    async fn tax_year(&self) -> i32 {
        self.0.tax_year
    }

    /// A receipt for one gift, or a consolidated year-end statement.
    async fn kind(&self) -> super::receipts::ReceiptKind {
        self.0.kind.into()
    }

    /// Issued, or void once corrected.
    async fn status(&self) -> super::receipts::ReceiptStatus {
        self.0.status.into()
    }

    /// The gift it acknowledges, for a gift receipt.
    async fn gift_id(&self) -> Option<ID> {
        self.0.gift_id.map(|id| ID(id.to_string()))
    }

    /// The amount acknowledged.
    async fn amount(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.amount_minor, &self.0.currency)
    }

    /// The tax-deductible amount.
    async fn deductible_amount(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.deductible_minor, &self.0.currency)
    }

    /// When it was issued.
    async fn issued_at(&self) -> DateTime<Utc> {
        self.0.issued_at
    }

    /// When it was voided, if it was.
    async fn voided_at(&self) -> Option<DateTime<Utc>> {
        self.0.voided_at
    }
}

/// Which gifts to list. Every part is optional; parts combine with AND.
#[derive(InputObject, Default)]
pub struct GiftFilter {
    /// Gifts of this donor.
    pub donor_id: Option<ID>,
    /// Received on or after this moment.
    pub received_from: Option<DateTime<Utc>>,
    /// Received before this moment.
    pub received_to: Option<DateTime<Utc>>,
    /// Designated to this fund.
    pub fund_id: Option<ID>,
    /// Credited to this campaign.
    pub campaign_id: Option<ID>,
    /// Brought in by the appeal with this source code (any case; one line of at most
    /// 200 characters).
    pub appeal_code: Option<String>,
    /// Installments of this pledge.
    pub pledge_id: Option<ID>,
    /// Paid by any of these methods.
    pub methods: Option<Vec<PaymentMethod>>,
    /// In any of these statuses.
    pub statuses: Option<Vec<GiftStatus>>,
    /// At least this much.
    pub amount_min: Option<MoneyInput>,
    /// At most this much.
    pub amount_max: Option<MoneyInput>,
    /// A check number (exactly), or part of the gift's notes (any case; notes are
    /// searched for staff and admins only, as only they read them); one line of at most
    /// 200 characters.
    pub search: Option<String>,
}

impl GiftFilter {
    /// The domain's filter, each id and amount checked.
    pub fn parse(self, ctx: &Context<'_>) -> Result<SearchFilter> {
        let minor = |field: &str, money: Option<MoneyInput>| {
            money
                .map(|m| m.parse(ctx, field).map(|m| m.amount_minor()))
                .transpose()
        };
        let id = |field: &str, id: Option<ID>| id.map(|id| parse_id(field, &id)).transpose();
        Ok(SearchFilter {
            donor_id: id("filter.donorId", self.donor_id)?,
            received_from: self.received_from,
            received_to: self.received_to,
            fund_id: id("filter.fundId", self.fund_id)?,
            campaign_id: id("filter.campaignId", self.campaign_id)?,
            appeal_code: text::searched("filter.appealCode", self.appeal_code).gql()?,
            pledge_id: id("filter.pledgeId", self.pledge_id)?,
            methods: self
                .methods
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            statuses: self
                .statuses
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            amount_min_minor: minor("filter.amountMin", self.amount_min)?,
            amount_max_minor: minor("filter.amountMax", self.amount_max)?,
            text: text::searched("filter.search", self.search).gql()?,
            text_in_notes: staff(ctx)?.role.allows(StaffRole::Staff),
        })
    }
}

/// What gifts can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum GiftOrderField {
    /// When the gift was received.
    #[default]
    ReceivedAt,
    /// The amount given, before refunds.
    Amount,
}

/// The order of a gift list. Gifts that tie are ordered by id the same way, so paging
/// never skips or repeats.
#[derive(InputObject, Clone, Copy)]
pub struct GiftOrderBy {
    /// What to order by.
    #[graphql(default)]
    pub field: GiftOrderField,
    /// Which way: latest or largest first unless told.
    #[graphql(default_with = "OrderDirection::Desc")]
    pub direction: OrderDirection,
}

impl GiftOrderBy {
    fn order(by: Option<GiftOrderBy>) -> GiftOrder {
        let Some(by) = by else {
            return GiftOrder::Newest;
        };
        match (by.field, by.direction) {
            (GiftOrderField::ReceivedAt, OrderDirection::Desc) => GiftOrder::Newest,
            (GiftOrderField::ReceivedAt, OrderDirection::Asc) => GiftOrder::Oldest,
            (GiftOrderField::Amount, OrderDirection::Desc) => GiftOrder::Largest,
            (GiftOrderField::Amount, OrderDirection::Asc) => GiftOrder::Smallest,
        }
    }
}

#[derive(Default)]
pub struct GiftQuery;

#[Object]
impl GiftQuery {
    /// One gift by id. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    async fn gift(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gift's id.")] id: ID,
    ) -> Result<Gift> {
        let id = parse_id("id", &id)?;
        let gift = gift_search::find_gift(db(ctx)?, id).await.gql()?;
        Ok(Gift(gift))
    }

    /// Gifts matching a filter, newest first unless told, a page at a time. Cursors
    /// name a gift by its place in the order, so a deep page costs what the first does
    /// and gifts recorded meanwhile never shift the pages. Role: viewer.
    #[graphql(directive = requires_role::apply(Role::Viewer))]
    #[allow(clippy::too_many_arguments)]
    async fn gifts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which gifts.")] filter: Option<GiftFilter>,
        #[graphql(desc = "In what order (newest first unless told).")] order_by: Option<
            GiftOrderBy,
        >,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Gift>> {
        let order = GiftOrderBy::order(order_by);
        let name = order.ordering().name;
        let request = PageArgs::new(after, before, first, last).keyed(name)?;
        let filter = filter.unwrap_or_default().parse(ctx)?;
        let db = db(ctx)?;
        let total = gift_search::count_gifts(db, &filter).await.gql()?;
        let columns = projection::GIFT.columns(node_fields(&ctx.look_ahead()));
        let rows = gift_search::page_gifts(
            db,
            &filter,
            order,
            &request,
            DEFAULT_PAGE_SIZE as u64,
            columns,
        )
        .await
        .gql()?;
        prefetch_for_gifts(ctx, &rows.rows).await?;
        Ok(ordered_page(&order.ordering(), rows, total, Gift))
    }
}

/// Loads, in one statement each, the donors and funds a page of gifts asks for, so that
/// its nodes find them in the request's cache.
async fn prefetch_for_gifts(ctx: &Context<'_>, rows: &[gift::Model]) -> Result<()> {
    let page = ctx.look_ahead();
    let loaders = loaders(ctx)?;
    prime_nodes_donors(
        loaders,
        &page,
        rows.iter().map(|gift| gift.donor_id).collect(),
    )
    .await?;
    if nodes_ask_for(&page, "fund") {
        prime(&loaders.funds, rows.iter().map(|gift| gift.fund_id)).await?;
    }
    Ok(())
}

/// Whom a gift honors, as typed from the reply envelope.
#[derive(InputObject)]
pub struct TributeInput {
    /// In honor or in memory.
    pub kind: TributeKind,
    /// The person the gift honors.
    pub name: String,
    /// Whom to notify of the gift.
    pub notify_name: Option<String>,
    /// The email to notify.
    pub notify_email: Option<String>,
    /// The postal address to notify.
    pub notify_address: Option<String>,
    /// Whether the person notified may be told the amount; by default they are not.
    #[graphql(default = false)]
    pub show_amount: bool,
}

/// Goods or services the donor received in return.
#[derive(InputObject)]
pub struct BenefitsInput {
    /// Their fair market value.
    pub value: MoneyInput,
    /// What they were ("dinner at the spring gala").
    pub description: String,
}

impl BenefitsInput {
    fn parse(self, ctx: &Context<'_>) -> Result<Benefits> {
        Ok(Benefits {
            value_minor: self.value.parse(ctx, "benefitsValue")?.amount_minor(),
            description: self.description,
        })
    }
}

/// A gift typed in from a reply envelope.
#[derive(InputObject)]
pub struct RecordOfflineGiftInput {
    /// Who gave it.
    pub donor_id: ID,
    /// How much.
    pub amount: MoneyInput,
    /// How it was paid: CHECK, CASH, STOCK, DAF or WIRE.
    pub method: PaymentMethod,
    /// The fund it is designated to.
    pub fund_id: ID,
    /// When it was given, as a moment; or give `receivedOn`.
    pub received_at: Option<DateTime<Utc>>,
    /// The day it was given (the check's date or the day it arrived), in the
    /// organization's time zone; recorded as noon that day. Give this or `receivedAt`.
    pub received_on: Option<Date>,
    /// The check number; required for checks.
    pub check_number: Option<String>,
    /// The appeal source code printed on the reply envelope ("SCOMM11-LETTER"), any case.
    pub appeal_code: Option<String>,
    /// The pledge this gift pays an installment of.
    pub pledge_id: Option<ID>,
    /// Whom the gift honors.
    pub tribute: Option<TributeInput>,
    /// Goods or services given in return.
    pub benefits: Option<BenefitsInput>,
    /// Leave the gift out of public recognition.
    #[graphql(default = false)]
    pub anonymous: bool,
    /// Staff notes.
    pub notes: Option<String>,
    /// A key of your choosing: sending the same key again returns the gift already
    /// recorded instead of recording a second one.
    pub idempotency_key: Option<String>,
}

/// The gift recorded.
#[derive(SimpleObject)]
pub struct RecordOfflineGiftPayload {
    /// The gift.
    pub gift: Gift,
    /// True when the idempotency key had already recorded this gift and nothing new was recorded.
    pub already_recorded: bool,
}

/// Corrections to an offline gift. Leave a field out to keep it.
#[derive(InputObject, Default)]
pub struct AdjustGiftInput {
    /// The gift's id.
    pub id: ID,
    /// The corrected amount (same currency).
    pub amount: Option<MoneyInput>,
    /// The fund it is designated to.
    pub fund_id: Option<ID>,
    /// When it was given.
    pub received_at: Option<DateTime<Utc>>,
    /// The check number.
    pub check_number: MaybeUndefined<String>,
    /// The appeal source code; null removes the attribution.
    pub appeal_code: MaybeUndefined<String>,
    /// Goods or services given in return; null removes them.
    pub benefits: MaybeUndefined<BenefitsInput>,
    /// Leave the gift out of public recognition.
    pub anonymous: Option<bool>,
    /// Staff notes.
    pub notes: MaybeUndefined<String>,
}

fn change<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// What `refundGift` did.
#[derive(SimpleObject)]
pub struct GiftRefund {
    /// The gift as it stands now. An offline gift shows the refund at once; a card gift
    /// changes when the payment processor confirms the refund.
    pub gift: Gift,
    /// The refund the payment processor accepted, for card and bank gifts.
    pub processor_refund: Option<CardRefund>,
}

/// A refund the payment processor accepted.
#[derive(SimpleObject)]
pub struct CardRefund {
    /// Stripe's id for the refund.
    pub stripe_refund_id: String,
    /// The amount being refunded.
    pub amount: MoneyAmount,
    /// Stripe's status for the refund: succeeded, pending, requires_action, failed.
    pub status: String,
}

/// The gift to refund, how much and why.
#[derive(InputObject)]
pub struct RefundGiftInput {
    /// The gift's id.
    pub id: ID,
    /// How much to refund; the whole remaining amount if left out.
    pub amount: Option<MoneyInput>,
    /// Why, for an offline gift's notes.
    pub reason: Option<String>,
    /// A key of your choosing: the same request sent again with it refunds once and
    /// answers the first refund; another request with it is a conflict naming the field
    /// that differs.
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
pub struct GiftMutation;

#[Object]
impl GiftMutation {
    /// Records a check, cash, stock, DAF or wire gift typed in by staff, issues its
    /// receipt and queues the receipt email, all at once. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn record_offline_gift(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gift.")] input: RecordOfflineGiftInput,
    ) -> Result<RecordOfflineGiftPayload> {
        let new = OfflineGift {
            donor_id: parse_id("donorId", &input.donor_id)?,
            amount: input.amount.parse(ctx, "amount")?,
            method: input.method.into(),
            fund_id: parse_id("fundId", &input.fund_id)?,
            received_at: match (input.received_at, input.received_on) {
                (Some(at), None) => at,
                (None, Some(day)) => offline_gifts::received_on(&config(ctx)?.org, day.0).gql()?,
                (Some(_), Some(_)) => {
                    return Err(bad_input(
                        "receivedOn",
                        "give either `receivedAt` or `receivedOn`, not both",
                    ));
                }
                (None, None) => {
                    return Err(bad_input(
                        "receivedOn",
                        "when the gift was given is needed: `receivedOn` or `receivedAt`",
                    ));
                }
            },
            check_number: input.check_number,
            appeal_code: input.appeal_code,
            pledge_id: input
                .pledge_id
                .map(|id| parse_id("pledgeId", &id))
                .transpose()?,
            tribute: input.tribute.map(|t| DomainTribute {
                kind: t.kind.into(),
                name: t.name,
                notify_name: t.notify_name,
                notify_email: t.notify_email,
                notify_address: t.notify_address,
                show_amount: t.show_amount,
            }),
            benefits: input.benefits.map(|b| b.parse(ctx)).transpose()?,
            anonymous: input.anonymous,
            notes: input.notes,
            idempotency_key: input.idempotency_key,
        };
        let recorded =
            offline_gifts::record_offline_gift(db(ctx)?, &config(ctx)?.org, &actor(ctx)?, new)
                .await
                .gql()?;
        Ok(RecordOfflineGiftPayload {
            gift: Gift(recorded.gift),
            already_recorded: recorded.replayed,
        })
    }

    /// Corrects an offline gift: amount, fund, date, check number, appeal or benefits.
    /// Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn adjust_gift(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gift and the corrections.")] input: AdjustGiftInput,
    ) -> Result<Gift> {
        let id = parse_id("id", &input.id)?;
        let adjustment = GiftAdjustment {
            amount: input.amount.map(|a| a.parse(ctx, "amount")).transpose()?,
            fund_id: input
                .fund_id
                .map(|id| parse_id("fundId", &id))
                .transpose()?,
            received_at: input.received_at,
            check_number: change(input.check_number),
            appeal_code: change(input.appeal_code),
            benefits: match input.benefits {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(b) => Some(Some(b.parse(ctx)?)),
            },
            anonymous: input.anonymous,
            notes: change(input.notes),
        };
        offline_gifts::adjust_offline_gift(
            db(ctx)?,
            &config(ctx)?.org,
            &actor(ctx)?,
            id,
            adjustment,
        )
        .await
        .gql()
        .map(Gift)
    }

    /// Refunds a gift in full, or in part when an amount is given. An offline gift
    /// (check, cash, stock, DAF, wire) changes at once. A card or bank gift is refunded
    /// through the payment processor: the refund is requested now and the gift changes
    /// when the processor confirms it. What is left to refund counts the refunds already
    /// asked and not yet confirmed. Sent again with the same idempotency key, the same
    /// request answers the first refund, and a request that differs is a conflict.
    /// Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn refund_gift(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gift to refund, how much and why.")] input: RefundGiftInput,
    ) -> Result<GiftRefund> {
        let RefundGiftInput {
            id,
            amount,
            reason,
            idempotency_key,
        } = input;
        let id = parse_id("id", &id)?;
        let amount = amount.map(|a| a.parse(ctx, "amount")).transpose()?;
        if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
            return Err(bad_input("reason", "must be at most 500 characters"));
        }
        let config = config(ctx)?;
        let ask = RefundAsk {
            gift_id: id,
            amount,
            reason,
            idempotency_key,
        };
        let refunded = refund_gift(db(ctx)?, &config.org, processor(ctx)?, &actor(ctx)?, ask)
            .await
            .gql()?;
        let processor_refund = refunded.processor_refund.map(|refund| CardRefund {
            stripe_refund_id: refund.stripe_refund_id.unwrap_or_default(),
            amount: MoneyAmount::from_columns(refund.amount_minor, &refunded.gift.currency),
            status: refund.processor_status.unwrap_or_else(|| "pending".into()),
        });
        Ok(GiftRefund {
            gift: Gift(refunded.gift),
            processor_refund,
        })
    }
}
