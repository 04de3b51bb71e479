//! Gifts: one received contribution. Every way money comes in (a check typed in by
//! staff, a Stripe payment, a pledge installment) is recorded through `record_gift`,
//! which issues the receipt in the same transaction.

use chrono::{DateTime, Duration, Utc};
use entity::enums::{GiftStatus, PaymentMethod, TributeKind};
use entity::{Money, donor, fund, gift, receipt};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, Set};

use super::{DomainError, receipts, text, tributes};
use crate::config::Organization;

/// The statuses of a gift that counts as money received: it succeeded, or was refunded
/// only in part and counts net of its refunds. Pending, failed, fully refunded and
/// disputed gifts do not count.
const COUNTED_STATUSES: [GiftStatus; 2] = [GiftStatus::Succeeded, GiftStatus::PartiallyRefunded];

/// Whether a gift in `status` counts as money received.
pub fn counts(status: GiftStatus) -> bool {
    COUNTED_STATUSES.contains(&status)
}

/// What the organization kept of a gift: its amount less refunds, in minor units.
pub fn net_minor(gift: &gift::Model) -> i64 {
    gift.amount_minor - gift.refunded_minor
}

/// In SQL: the gift (a row of `gifts`) counts as money received.
pub fn counted() -> SimpleExpr {
    gift::Column::Status.is_in(COUNTED_STATUSES)
}

/// In SQL: what the organization kept of the gift, in minor units.
pub fn net_amount() -> SimpleExpr {
    Expr::col((gift::Entity, gift::Column::AmountMinor))
        .sub(Expr::col((gift::Entity, gift::Column::RefundedMinor)))
}

/// In SQL: the net amounts of the gifts summed, 0 when there are none, as a 64-bit
/// integer on both databases.
pub fn net_total() -> SimpleExpr {
    Func::cast_as(
        Func::coalesce([SimpleExpr::from(Func::sum(net_amount())), Expr::val(0)]),
        Alias::new("BIGINT"),
    )
    .into()
}

/// Whom a gift honors, and whom to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tribute {
    pub kind: TributeKind,
    pub name: String,
    pub notify_name: Option<String>,
    pub notify_email: Option<String>,
    pub notify_address: Option<String>,
    /// Whether the person notified may be told the amount.
    pub show_amount: bool,
}

/// The most a tribute's postal address may hold: what a payment processor's metadata
/// value holds.
pub const MAX_TRIBUTE_ADDRESS: usize = 500;

/// A tribute's names are one line of sensible length, and its address fits in the
/// processor's metadata.
fn check_tribute(tribute: &Tribute) -> Result<(), DomainError> {
    if tribute.name.trim().is_empty() {
        return Err(DomainError::validation(
            "tribute.name",
            "name the person the gift honors",
        ));
    }
    text::check_one_line("tribute.name", tribute.name.trim(), text::MAX_NAME)?;
    if let Some(name) = &tribute.notify_name {
        text::check_one_line("tribute.notifyName", name.trim(), text::MAX_NAME)?;
    }
    if let Some(email) = &tribute.notify_email {
        text::check_one_line("tribute.notifyEmail", email.trim(), text::MAX_NAME)?;
    }
    if let Some(address) = &tribute.notify_address
        && address.chars().count() > MAX_TRIBUTE_ADDRESS
    {
        return Err(DomainError::validation(
            "tribute.notifyAddress",
            format!("must be at most {MAX_TRIBUTE_ADDRESS} characters"),
        ));
    }
    Ok(())
}

/// Goods or services the donor received in return, at fair market value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Benefits {
    pub value_minor: i64,
    pub description: String,
}

/// A gift to record. Built at the edge from parsed input; `amount` cannot be invalid.
#[derive(Debug, Clone)]
pub struct NewGift {
    pub donor_id: i64,
    pub amount: Money,
    pub method: PaymentMethod,
    pub status: GiftStatus,
    pub fund_id: i64,
    pub received_at: DateTime<Utc>,
    pub campaign_id: Option<i64>,
    pub appeal_id: Option<i64>,
    pub pledge_id: Option<i64>,
    pub check_number: Option<String>,
    pub tribute: Option<Tribute>,
    pub benefits: Option<Benefits>,
    pub anonymous: bool,
    pub stripe_payment_intent_id: Option<String>,
    pub stripe_invoice_id: Option<String>,
    pub stripe_checkout_session_id: Option<String>,
    pub stripe_charge_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub notes: Option<String>,
    /// For an installment, whether it is its pledge's first, when the processor says
    /// so; otherwise the first recorded counts as the first.
    pub first_installment: Option<bool>,
    /// The gift's id in the system it was imported from.
    pub external_id: Option<String>,
    /// How a succeeded gift is acknowledged when it is recorded.
    pub acknowledge: Acknowledge,
}

/// How a succeeded gift is acknowledged when `record_gift` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledge {
    /// Now: its receipt and receipt email (as `receipts::acknowledge_gift` decides), the
    /// tribute notification, and a statement already issued for the donor and the gift's
    /// year re-issued with it (`receipts::on_gift_received`).
    Now,
    /// As `Now`, but a statement already issued is left to the caller, which records
    /// several gifts in one transaction and re-issues each statement once, after the
    /// last (`receipts::on_gifts_received`): an import. The donor is not held either.
    NowStatementsAfter,
    /// Not at all: history, whose donors were thanked by the system it comes from.
    Never,
}

/// Whether a gift in `status` is acknowledged (receipt, tribute notification, a standing
/// statement re-issued): only a succeeded one. A gift still pending, a bank payment say,
/// is acknowledged when it clears; one that failed never is.
pub fn is_acknowledged(status: GiftStatus) -> bool {
    status == GiftStatus::Succeeded
}

impl NewGift {
    /// The tax year whose receipt counter and statement recording this gift touches, or
    /// `None` when recording it acknowledges nothing.
    pub fn acknowledged_year(&self, org: &Organization) -> Option<i32> {
        (self.acknowledge != Acknowledge::Never && is_acknowledged(self.status))
            .then(|| receipts::tax_year(org, self.received_at))
    }

    /// A gift with every optional part empty.
    pub fn new(
        donor_id: i64,
        amount: Money,
        method: PaymentMethod,
        status: GiftStatus,
        fund_id: i64,
        received_at: DateTime<Utc>,
    ) -> Self {
        NewGift {
            donor_id,
            amount,
            method,
            status,
            fund_id,
            received_at,
            campaign_id: None,
            appeal_id: None,
            pledge_id: None,
            check_number: None,
            tribute: None,
            benefits: None,
            anonymous: false,
            stripe_payment_intent_id: None,
            stripe_invoice_id: None,
            stripe_checkout_session_id: None,
            stripe_charge_id: None,
            idempotency_key: None,
            notes: None,
            first_installment: None,
            external_id: None,
            acknowledge: Acknowledge::Now,
        }
    }
}

/// A recorded gift, and its receipt when one was issued.
#[derive(Debug, Clone)]
pub struct RecordedGift {
    pub gift: gift::Model,
    pub receipt: Option<receipt::Model>,
}

/// Records a gift in the caller's transaction; a succeeded gift is acknowledged (its
/// receipt and receipt email, as `receipts::acknowledge_gift` decides, and the
/// tribute notification) in the same transaction. Checks come first, so a refused gift changes
/// nothing.
pub async fn record_gift(
    txn: &DatabaseTransaction,
    org: &Organization,
    new: NewGift,
) -> Result<RecordedGift, DomainError> {
    let donor = donor::Entity::find_by_id(new.donor_id)
        .one(txn)
        .await?
        .ok_or_else(|| {
            DomainError::validation("donorId", format!("no donor has id {}", new.donor_id))
        })?;
    let fund = fund::Entity::find_by_id(new.fund_id)
        .one(txn)
        .await?
        .ok_or_else(|| {
            DomainError::validation("fundId", format!("no fund has id {}", new.fund_id))
        })?;
    record_gift_for(txn, org, new, &donor, &fund).await
}

/// [`record_gift`], for a caller that has read the gift's donor and fund in its own
/// transaction: they are not read again.
pub async fn record_gift_for(
    txn: &DatabaseTransaction,
    org: &Organization,
    new: NewGift,
    donor: &donor::Model,
    fund: &fund::Model,
) -> Result<RecordedGift, DomainError> {
    let (acknowledge, first_installment) = (new.acknowledge, new.first_installment);
    let gift = checked_gift_row(new, donor, fund)?.insert(txn).await?;
    let receipt = match acknowledge {
        Acknowledge::Never => None,
        Acknowledge::Now => {
            let read = (donor, fund, receipts::DonorHold::NotHeld);
            acknowledge_recorded_gift(txn, org, &gift, read, first_installment).await?
        }
        Acknowledge::NowStatementsAfter => {
            acknowledge_leaving_statement(txn, org, &gift, donor, fund, first_installment).await?
        }
    };
    Ok(RecordedGift { gift, receipt })
}

/// A new gift's row for its donor and fund, once the gift passes every check; nothing
/// is written.
pub fn checked_gift_row(
    new: NewGift,
    donor: &donor::Model,
    fund: &fund::Model,
) -> Result<gift::ActiveModel, DomainError> {
    if (new.donor_id, new.fund_id) != (donor.id, fund.id) {
        return Err(DomainError::Unexpected(anyhow::anyhow!(
            "a gift for donor {} and fund {} recorded with donor {} and fund {}",
            new.donor_id,
            new.fund_id,
            donor.id,
            fund.id
        )));
    }
    if fund.archived_at.is_some() {
        return Err(DomainError::validation(
            "fundId",
            format!(
                "the fund {:?} is archived and takes no new gifts",
                fund.name
            ),
        ));
    }
    if new.received_at > Utc::now() + Duration::days(1) {
        return Err(DomainError::validation(
            "receivedAt",
            "cannot be in the future",
        ));
    }
    if let Some(benefits) = &new.benefits {
        if benefits.value_minor < 0 {
            return Err(DomainError::validation(
                "benefitsValue",
                "cannot be negative",
            ));
        }
        if benefits.value_minor > new.amount.amount_minor() {
            return Err(DomainError::validation(
                "benefitsValue",
                "cannot be more than the gift",
            ));
        }
        if benefits.value_minor > 0 && benefits.description.trim().is_empty() {
            return Err(DomainError::validation(
                "benefitsDescription",
                "describe the goods or services the donor received",
            ));
        }
    }
    if let Some(tribute) = &new.tribute {
        check_tribute(tribute)?;
    }

    let now = Utc::now();
    let tribute = new.tribute.as_ref();
    Ok(gift::ActiveModel {
        donor_id: Set(donor.id),
        amount_minor: Set(new.amount.amount_minor()),
        currency: Set(new.amount.currency().code().to_owned()),
        refunded_minor: Set(0),
        method: Set(new.method),
        status: Set(new.status),
        fund_id: Set(fund.id),
        campaign_id: Set(new.campaign_id),
        appeal_id: Set(new.appeal_id),
        pledge_id: Set(new.pledge_id),
        received_at: Set(new.received_at),
        check_number: Set(new.check_number),
        tribute_kind: Set(tribute.map(|t| t.kind)),
        tribute_name: Set(tribute.map(|t| t.name.trim().to_owned())),
        tribute_notify_name: Set(tribute.and_then(|t| t.notify_name.clone())),
        tribute_notify_email: Set(tribute.and_then(|t| t.notify_email.clone())),
        tribute_notify_address: Set(tribute.and_then(|t| t.notify_address.clone())),
        tribute_show_amount: Set(tribute.is_some_and(|t| t.show_amount)),
        benefits_minor: Set(new.benefits.as_ref().map_or(0, |b| b.value_minor)),
        benefits_description: Set(new.benefits.map(|b| b.description)),
        anonymous: Set(new.anonymous),
        stripe_payment_intent_id: Set(new.stripe_payment_intent_id),
        stripe_invoice_id: Set(new.stripe_invoice_id),
        stripe_checkout_session_id: Set(new.stripe_checkout_session_id),
        stripe_charge_id: Set(new.stripe_charge_id),
        idempotency_key: Set(new.idempotency_key),
        notes: Set(new.notes),
        external_id: Set(new.external_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
}

/// Acknowledges a recorded gift once it has succeeded: a statement already issued for
/// the donor and the gift's year is re-issued with it (`receipts::on_gift_received`,
/// which holds the donor first unless the transaction holds it already), then the gift
/// is acknowledged as [`acknowledge_leaving_statement`] says.
pub async fn acknowledge_recorded_gift(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
    (donor, fund, hold): (&donor::Model, &fund::Model, receipts::DonorHold),
    first_installment: Option<bool>,
) -> Result<Option<receipt::Model>, DomainError> {
    if !is_acknowledged(gift.status) {
        return Ok(None);
    }
    receipts::on_gift_received(txn, org, gift, donor, hold).await?;
    acknowledge_leaving_statement(txn, org, gift, donor, fund, first_installment).await
}

/// Acknowledges a recorded gift once it has succeeded, leaving the year's statement to
/// the caller: the tribute notification, then its receipt and receipt email as
/// `receipts::acknowledge_gift` decides. The receipt comes last because numbering it
/// holds the tax year's receipt counter until the transaction ends, and every other
/// issuer waits for it.
async fn acknowledge_leaving_statement(
    txn: &DatabaseTransaction,
    org: &Organization,
    gift: &gift::Model,
    donor: &donor::Model,
    fund: &fund::Model,
    first_installment: Option<bool>,
) -> Result<Option<receipt::Model>, DomainError> {
    if !is_acknowledged(gift.status) {
        return Ok(None);
    }
    tributes::notify_honoree(txn, org, gift, donor).await?;
    receipts::acknowledge_gift(txn, org, gift, donor, fund, first_installment).await
}
