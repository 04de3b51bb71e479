//! Receipts and year-end statements: finding them, their signed PDF links, resending,
//! voiding and re-issuing, and the gifts still waiting for an acknowledgment.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use entity::{gift, receipt};

use super::access::requires_role;
use super::context::{actor, config, db, parse_id};
use super::errors::{GqlResultExt, bad_input};
use super::money::MoneyAmount;
use super::outbox::OutboxMessage;
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, counted_page, ordered_page};
use super::tokens::Role;
use crate::domain::gift_search::GiftOrder;
use crate::domain::{DomainError, donors, gifts, receipts};

/// A receipt for one gift, or a year-end statement consolidating a tax year.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::ReceiptKind")]
pub enum ReceiptKind {
    /// Acknowledges one gift.
    Gift,
    /// Lists every gift of a donor's tax year, refunds netted.
    YearEndStatement,
}

/// Whether a receipt stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::ReceiptStatus")]
pub enum ReceiptStatus {
    /// Issued and valid.
    Issued,
    /// Voided: kept on file, never sent again.
    Void,
}

/// A receipt as issued. Its content never changes; a correction is a new receipt.
pub struct Receipt(pub receipt::Model);

/// A receipt as issued (staff only, however it is reached). Role: staff.
#[Object(directive = requires_role::apply(Role::Staff))]
impl Receipt {
    /// The receipt's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// "2026-000123": the tax year and the gapless sequence within it.
    async fn number(&self) -> &str {
        &self.0.number
    }

    /// The tax year (the organization's calendar year).
    async fn tax_year(&self) -> i32 {
        self.0.tax_year
    }

    /// A gift receipt or a year-end statement.
    async fn kind(&self) -> ReceiptKind {
        self.0.kind.into()
    }

    /// Issued or void.
    async fn status(&self) -> ReceiptStatus {
        self.0.status.into()
    }

    /// The donor's id.
    async fn donor_id(&self) -> ID {
        ID(self.0.donor_id.to_string())
    }

    /// The gift a gift receipt acknowledges.
    async fn gift_id(&self) -> Option<ID> {
        self.0.gift_id.map(|id| ID(id.to_string()))
    }

    /// The receipt this one corrects, if any.
    async fn replaces(&self, ctx: &Context<'_>) -> Result<Option<Receipt>> {
        let Some(id) = self.0.replaces_receipt_id else {
            return Ok(None);
        };
        Ok(receipts::find_receipt(db(ctx)?, id)
            .await
            .gql()?
            .map(Receipt))
    }

    /// The donor's language, which the receipt is written in ("en", "es", "fr", "ar").
    async fn language(&self) -> &str {
        self.0.language.as_str()
    }

    /// The donor's name as it was at issue.
    async fn donor_name(&self) -> &str {
        &self.0.donor_name
    }

    /// The donor's postal address as it was at issue.
    async fn donor_address(&self) -> Option<&str> {
        self.0.donor_address.as_deref()
    }

    /// The amount acknowledged (net of refunds).
    async fn amount(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.amount_minor, &self.0.currency)
    }

    /// The deductible amount: the amount less the value of benefits.
    async fn deductible(&self) -> MoneyAmount {
        MoneyAmount::from_columns(self.0.deductible_minor, &self.0.currency)
    }

    /// When it was issued.
    async fn issued_at(&self) -> DateTime<Utc> {
        self.0.issued_at
    }

    /// When it was voided.
    async fn voided_at(&self) -> Option<DateTime<Utc>> {
        self.0.voided_at
    }

    /// Why it was voided.
    async fn void_reason(&self) -> Option<&str> {
        self.0.void_reason.as_deref()
    }

    /// The receipt's text exactly as issued.
    async fn content_text(&self) -> &str {
        &self.0.content_text
    }

    /// A signed link to the PDF that the donor can open without a token, valid for
    /// `hours` (1 to 720, default 168).
    async fn pdf_link(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How long the link stays valid, in hours.", default = 168)] hours: i32,
    ) -> Result<Option<String>> {
        if !(1..=720).contains(&hours) {
            return Err(bad_input("hours", "must be from 1 to 720"));
        }
        if !mailer::documents::has_pdf(&self.0) {
            return Ok(None);
        }
        let config = config(ctx)?;
        let Some(key) = &config.download_link_key else {
            return Ok(None);
        };
        let version = donors::link_version(db(ctx)?, self.0.donor_id)
            .await
            .gql()?
            .unwrap_or(0);
        let path = receipts::download_path(
            key.expose(),
            &self.0.number,
            Utc::now() + Duration::hours(i64::from(hours)),
            version,
        );
        Ok(Some(
            config
                .public_url
                .join(&path)
                .map_err(|e| bad_input("hours", e))?
                .to_string(),
        ))
    }
}

/// Which receipts to list.
#[derive(InputObject, Default)]
pub struct ReceiptFilter {
    /// Only this donor's receipts.
    pub donor_id: Option<ID>,
    /// Only this tax year.
    pub tax_year: Option<i32>,
    /// Only gift receipts or only statements.
    pub kind: Option<ReceiptKind>,
    /// Only issued or only void receipts.
    pub status: Option<ReceiptStatus>,
}

/// A gift that needs a written acknowledgment and has no valid receipt.
#[derive(SimpleObject)]
pub struct UnacknowledgedGift {
    /// The gift's id.
    pub gift_id: ID,
    /// The donor's id.
    pub donor_id: ID,
    /// The gift, net of refunds.
    pub net_amount: MoneyAmount,
    /// When the money was given.
    pub received_at: DateTime<Utc>,
}

impl From<gift::Model> for UnacknowledgedGift {
    fn from(gift: gift::Model) -> Self {
        let net = gifts::net_minor(&gift);
        UnacknowledgedGift {
            gift_id: ID(gift.id.to_string()),
            donor_id: ID(gift.donor_id.to_string()),
            net_amount: MoneyAmount::from_columns(net, &gift.currency),
            received_at: gift.received_at,
        }
    }
}

/// What a run of year-end statements did.
#[derive(SimpleObject)]
pub struct StatementRun {
    /// The tax year.
    pub year: i32,
    /// Statements issued (and queued to donors) by this run.
    pub issued: u64,
    /// Donors who already had a valid statement for the year.
    pub already_issued: u64,
}

#[derive(Default)]
pub struct ReceiptQuery;

#[Object]
impl ReceiptQuery {
    /// Receipts and statements, newest issued first, a page at a time by key (staff).
    /// Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    #[allow(clippy::too_many_arguments)]
    async fn receipts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which receipts to list.")] filter: Option<ReceiptFilter>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Receipt>> {
        let name = receipts::newest_receipts().name;
        let request = PageArgs::new(after, before, first, last).keyed(name)?;
        let filter = filter.unwrap_or_default();
        let filter = receipts::ReceiptFilter {
            donor_id: filter
                .donor_id
                .as_ref()
                .map(|id| parse_id("filter.donorId", id))
                .transpose()?,
            tax_year: filter.tax_year,
            kind: filter.kind.map(Into::into),
            status: filter.status.map(Into::into),
        };
        let db = db(ctx)?;
        let total = receipts::count_receipts(db, &filter).await.gql()?;
        let rows = receipts::page_receipts(db, &filter, &request, DEFAULT_PAGE_SIZE as u64)
            .await
            .gql()?;
        Ok(ordered_page(
            &receipts::newest_receipts(),
            rows,
            total,
            Receipt,
        ))
    }

    /// One receipt by its number ("2026-000123"), with its PDF link; `NOT_FOUND` when
    /// there is none with this number. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn receipt(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The receipt number.")] number: String,
    ) -> Result<Receipt> {
        receipts::find_receipt_by_number(db(ctx)?, &number)
            .await
            .and_then(|found| {
                found.ok_or_else(|| DomainError::not_found("receipt", number.clone()))
            })
            .gql()
            .map(Receipt)
    }

    /// Gifts of $250 or more (net of refunds) without a valid receipt of their own,
    /// oldest first, a page at a time (at most 100), with `totalCount`: each needs a
    /// written acknowledgment (staff). Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn gifts_missing_acknowledgment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<UnacknowledgedGift>> {
        let order = GiftOrder::Oldest.ordering();
        let request = PageArgs::new(after, before, first, last).keyed(order.name)?;
        let found = receipts::gifts_missing_acknowledgment(
            db(ctx)?,
            receipts::WRITTEN_ACKNOWLEDGMENT_MINOR,
            &request,
            DEFAULT_PAGE_SIZE as u64,
        )
        .await
        .gql()?;
        Ok(counted_page(&order, found, UnacknowledgedGift::from))
    }
}

/// The receipt to send again.
#[derive(InputObject)]
pub struct ResendReceiptInput {
    /// The receipt number.
    pub number: String,
}

/// The receipt to void, and why.
#[derive(InputObject)]
pub struct VoidReceiptInput {
    /// The receipt number.
    pub number: String,
    /// Why, for the donor and the audit log.
    pub reason: String,
}

/// The receipt to correct, and what was corrected.
#[derive(InputObject)]
pub struct ReissueReceiptInput {
    /// The receipt number to replace.
    pub number: String,
    /// What was corrected, for the donor and the audit log.
    pub reason: String,
}

/// The tax year to issue statements for.
#[derive(InputObject)]
pub struct IssueYearEndStatementsInput {
    /// The tax year.
    pub year: i32,
}

#[derive(Default)]
pub struct ReceiptMutation;

#[Object]
impl ReceiptMutation {
    /// Emails a receipt to the donor again, exactly as issued (staff). Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn resend_receipt(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The receipt to send again.")] input: ResendReceiptInput,
    ) -> Result<OutboxMessage> {
        let ResendReceiptInput { number } = input;
        let message = receipts::resend_receipt(db(ctx)?, &number, &actor(ctx)?)
            .await
            .gql()?;
        Ok(OutboxMessage(message))
    }

    /// Voids a receipt without replacing it, and tells the donor (admins only; to
    /// correct a receipt, use `reissueReceipt`). Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn void_receipt(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The receipt to void, and why.")] input: VoidReceiptInput,
    ) -> Result<Receipt> {
        let VoidReceiptInput { number, reason } = input;
        let voided = receipts::void_receipt(db(ctx)?, &number, &reason, &actor(ctx)?)
            .await
            .gql()?;
        Ok(Receipt(voided))
    }

    /// Corrects a receipt: voids it and issues a new number that points back, from the
    /// gift and donor as they are now; the donor gets both (staff). Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn reissue_receipt(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The receipt to correct, and what was corrected.")]
        input: ReissueReceiptInput,
    ) -> Result<Receipt> {
        let ReissueReceiptInput { number, reason } = input;
        let org = &config(ctx)?.org;
        let replacement = receipts::reissue_receipt(db(ctx)?, org, &number, &reason, &actor(ctx)?)
            .await
            .gql()?;
        Ok(Receipt(replacement))
    }

    /// Issues the year-end statement of every donor who gave in `year` and has none yet
    /// (admins only). Running it again issues nothing new. Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn issue_year_end_statements(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tax year to issue statements for.")]
        input: IssueYearEndStatementsInput,
    ) -> Result<StatementRun> {
        let IssueYearEndStatementsInput { year } = input;
        let org = &config(ctx)?.org;
        let run = receipts::issue_year_end_statements(db(ctx)?, org, year, &actor(ctx)?)
            .await
            .gql()?;
        Ok(StatementRun {
            year,
            issued: run.issued,
            already_issued: run.already_issued,
        })
    }
}
