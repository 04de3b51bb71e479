//! Payments: recording what the payment processor tells us. Each processor event is
//! recorded once, by its id, in the same transaction as everything it changes, so a
//! replayed or concurrent delivery changes nothing. Events may arrive in any order;
//! every handler finds or creates what it needs (donor, pledge, gift) by the
//! processor's own ids, which are unique in the database.
//!
//! The processor's payloads are parsed at the edge into the plain inputs below; the
//! submodules record them by concern.

mod checkout;
mod created_sessions;
mod event_writer;
mod events;
mod installments;
mod payers;
mod refund_requests;
mod refunds;
mod settled_events;

pub use checkout::{AppealProgress, appeal_progress, checkout_gift_status};
use checkout::{record_checkout_gift, settle_checkout_gift};
pub use created_sessions::{CreatedSessions, created_checkout_session};
pub use event_writer::EventWriter;
pub use events::*;
use installments::{gift_for_invoice, mark_past_due, record_installment, sync_pledge};
pub use payers::find_or_create_donor;
use payers::update_payer_links;
pub(crate) use refund_requests::record_offline_refund;
pub use refund_requests::{
    GiftRefunded, ProcessorRefund, RefundAsk, RefundFailure, RefundProcessor, refund_gift,
    refundable_minor, refunds_awaiting_confirmation,
};
use refund_requests::{fail_refund_request, settle_refund_requests};
pub use refunds::status_after_refund;
use refunds::{apply_dispute, apply_refund, apply_refund_failure};
pub use settled_events::SettledEvents;

use chrono::{DateTime, Utc};
use entity::enums::{
    DonorKind, GiftStatus, Language, PaymentMethod, PledgeFrequency, PledgeSource, PledgeStatus,
};
use entity::{Currency, EmailAddress, Money, appeal, donor, fund, gift, pledge};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, Set, SqlErr,
};

use super::checkout_choices::{DonorChoices, MadeByCheckout, keep_checkout_choices};
use super::club::{ClubPolicy, evaluate_membership, queue_pledge_email};
use super::currency::is_org_currency;
use super::gifts::{NewGift, Tribute, acknowledge_recorded_gift, checked_gift_row};
use super::pledges::installments_skipped_when_resumed;
use super::{DomainError, donors, funds, receipts, tributes};
use crate::config::Organization;
use crate::db::begin_write;

/// Who paid, as the checkout collected it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayerDetails {
    pub email: Option<String>,
    pub name: Option<String>,
    pub customer_id: Option<String>,
    pub language: Option<Language>,
    /// The donor ticked "email me updates and appeals".
    pub email_consent: bool,
    pub anonymous: bool,
}

/// Where the money goes and what brought it in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Designation {
    pub fund_code: Option<String>,
    pub appeal_code: Option<String>,
    pub tribute: Option<Tribute>,
}

/// A one-off checkout, paid or waiting for a delayed payment method.
#[derive(Debug, Clone)]
pub struct CheckoutPayment {
    pub session_id: String,
    pub payment_intent_id: Option<String>,
    pub amount: Money,
    pub paid: bool,
    pub created_at: DateTime<Utc>,
    pub payer: PayerDetails,
    pub designation: Designation,
}

/// A monthly gift's subscription as the processor describes it at one moment.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub subscription_id: String,
    pub installment: Money,
    /// How often it bills; `None` when the source does not say (a checkout session).
    pub frequency: Option<PledgeFrequency>,
    pub status: PledgeStatus,
    /// The processor's time of this state: the event's time for a state an event
    /// carries, the moment it was asked for a state read through its API. A pledge
    /// never takes a state older than the one it last took.
    pub as_of: DateTime<Utc>,
    /// The subscription's state as it was created: no other state of it is older, so
    /// it yields to a state of the same second.
    pub first_state: bool,
    pub started_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub payer: PayerDetails,
    pub designation: Designation,
}

/// One paid invoice of a subscription: one installment gift.
#[derive(Debug, Clone)]
pub struct InstallmentPayment {
    pub invoice_id: String,
    pub subscription_id: String,
    pub payment_intent_id: Option<String>,
    pub charge_id: Option<String>,
    pub amount: Money,
    pub paid_at: DateTime<Utc>,
    pub payer_email: Option<String>,
    pub customer_id: Option<String>,
    /// Whether this invoice opened its subscription (Stripe's `billing_reason`), when
    /// the invoice says.
    pub first_installment: Option<bool>,
    /// The tribute chosen at checkout, carried by the invoice; it goes with the
    /// pledge's first installment.
    pub tribute: Option<Tribute>,
    /// The subscription, when its pledge may not exist yet (fetched by the edge).
    pub subscription: Option<Box<Subscription>>,
}

/// An invoice whose payment failed.
#[derive(Debug, Clone)]
pub struct InstallmentFailure {
    pub invoice_id: String,
    pub subscription_id: String,
    pub failed_at: DateTime<Utc>,
    /// The subscription, when its pledge may not exist yet (fetched by the edge).
    pub subscription: Option<Box<Subscription>>,
}

/// A charge's refunded total, which only grows but for refunds that fail, with the
/// charge's refunds when the event carries them or the edge listed them.
#[derive(Debug, Clone)]
pub struct ChargeRefund {
    pub charge_id: String,
    pub payment_intent_id: Option<String>,
    pub invoice_id: Option<String>,
    pub amount_refunded_minor: i64,
    /// The processor's time of the total: the event's time.
    pub as_of: DateTime<Utc>,
    pub refunds: Vec<ProcessorRefund>,
    /// When the edge listed `refunds` through the processor's API, if it did.
    pub listed_at: Option<DateTime<Utc>>,
}

/// A refund the processor made and then could not complete (the card was closed, say):
/// its money is back with the charge.
#[derive(Debug, Clone)]
pub struct FailedRefund {
    pub refund: ProcessorRefund,
    pub charge_id: String,
    pub payment_intent_id: Option<String>,
    /// When the processor made the refund, and when it said it failed.
    pub refund_created_at: DateTime<Utc>,
    pub failed_at: DateTime<Utc>,
}

/// A chargeback on a charge.
#[derive(Debug, Clone)]
pub struct DisputeNotice {
    pub dispute_id: String,
    pub charge_id: String,
    pub payment_intent_id: Option<String>,
    /// The processor's status: "won", "lost", "needs_response", ...
    pub status: String,
}

/// What an event means for the books.
#[derive(Debug, Clone)]
pub enum PaymentEffect {
    CheckoutCompleted(CheckoutPayment),
    SubscriptionCheckoutCompleted(Subscription),
    DelayedPaymentSucceeded(CheckoutPayment),
    DelayedPaymentFailed(CheckoutPayment),
    InstallmentPaid(InstallmentPayment),
    InstallmentFailed(InstallmentFailure),
    SubscriptionChanged(Subscription),
    ChargeRefunded(ChargeRefund),
    RefundFailed(FailedRefund),
    DisputeOpened(DisputeNotice),
    DisputeClosed(DisputeNotice),
    /// Recorded and acknowledged; changes nothing.
    Unhandled,
    /// A verified event whose content could not be read: recorded with the reason.
    Unreadable(String),
}

impl PaymentEffect {
    /// The money the event records, if it records any.
    pub fn money(&self) -> Option<Money> {
        match self {
            PaymentEffect::CheckoutCompleted(payment)
            | PaymentEffect::DelayedPaymentSucceeded(payment)
            | PaymentEffect::DelayedPaymentFailed(payment) => Some(payment.amount),
            PaymentEffect::SubscriptionCheckoutCompleted(subscription)
            | PaymentEffect::SubscriptionChanged(subscription) => Some(subscription.installment),
            PaymentEffect::InstallmentPaid(payment) => Some(payment.amount),
            PaymentEffect::InstallmentFailed(_)
            | PaymentEffect::ChargeRefunded(_)
            | PaymentEffect::RefundFailed(_)
            | PaymentEffect::DisputeOpened(_)
            | PaymentEffect::DisputeClosed(_)
            | PaymentEffect::Unhandled
            | PaymentEffect::Unreadable(_) => None,
        }
    }
}

/// One event from the payment processor.
#[derive(Debug, Clone)]
pub struct ProcessorEvent {
    pub id: String,
    pub event_type: String,
    pub livemode: bool,
    pub created_at: DateTime<Utc>,
    pub payload: serde_json::Value,
    pub effect: PaymentEffect,
}

pub(super) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Whether a pledge for this subscription exists, so the edge knows to fetch the
/// subscription before an installment can be recorded.
pub async fn pledge_exists(
    db: &DatabaseConnection,
    subscription_id: &str,
) -> Result<bool, DomainError> {
    Ok(pledge::Entity::find()
        .filter(pledge::Column::StripeSubscriptionId.eq(subscription_id))
        .one(db)
        .await?
        .is_some())
}

/// What a pledge change needs to re-evaluate its donor's club membership.
pub(super) struct ClubChange<'a> {
    pub(super) policy: &'a ClubPolicy,
    pub(super) cause: String,
}

impl ClubChange<'_> {
    async fn evaluate(&self, txn: &DatabaseTransaction, donor_id: i64) -> Result<(), DomainError> {
        evaluate_membership(txn, self.policy, donor_id, &self.cause).await?;
        Ok(())
    }
}

/// Money in another currency than the organization's is kept with its event as
/// failed, for staff to see, and recorded nowhere a total would have to skip it.
pub(super) fn refused_currency(effect: &PaymentEffect, org_currency: Currency) -> Option<Settled> {
    let money = effect.money()?;
    (!is_org_currency(money, org_currency)).then(|| {
        Settled::Failed(format!(
            "currency: the payment is in {}; the organization keeps its books in {org_currency}",
            money.currency()
        ))
    })
}

/// A gift an event recorded, to be acknowledged once everything else the event
/// changes is written (`acknowledge_last`).
pub(super) struct Unacknowledged {
    gift: gift::Model,
    /// The gift's donor and fund as the event read them, and whether it holds the
    /// donor's row.
    donor: donor::Model,
    fund: fund::Model,
    hold: receipts::DonorHold,
    first_installment: Option<bool>,
}

/// Acknowledges the gifts an event recorded: their tribute notifications, receipts and
/// receipt emails. Called last in the event's transaction, after its outcome is written:
/// a receipt's number holds the tax year's counter row until commit, and every other
/// delivery that issues a receipt waits for that row. Each gift's acknowledgment is a
/// future of its own on the heap, as each effect is (`apply_effect`).
pub(super) async fn acknowledge_last(
    txn: &DatabaseTransaction,
    org: &Organization,
    recorded: Vec<Unacknowledged>,
) -> Result<(), DomainError> {
    for Unacknowledged {
        gift,
        donor,
        fund,
        hold,
        first_installment,
    } in recorded
    {
        Box::pin(acknowledge_recorded_gift(
            txn,
            org,
            &gift,
            (&donor, &fund, hold),
            first_installment,
        ))
        .await?;
    }
    Ok(())
}

/// Applies an event's effect in the caller's transaction. Gifts it records are left in
/// `recorded`, for `acknowledge_last`. Each effect runs in a future of its own on the
/// heap: they differ widely in size (a refund voids and re-issues receipts and the
/// year's statement), and an event's future, and the stack that polls it, hold only
/// the one it runs.
pub(super) async fn apply_effect(
    txn: &DatabaseTransaction,
    org: &Organization,
    club: &ClubChange<'_>,
    recorded: &mut Vec<Unacknowledged>,
    effect: PaymentEffect,
) -> Result<Settled, DomainError> {
    match effect {
        PaymentEffect::CheckoutCompleted(payment) => {
            let status = if payment.paid {
                GiftStatus::Succeeded
            } else {
                GiftStatus::Pending
            };
            Box::pin(record_checkout_gift(txn, recorded, payment, status)).await
        }
        PaymentEffect::DelayedPaymentSucceeded(payment) => {
            Box::pin(settle_checkout_gift(
                txn,
                org,
                recorded,
                payment,
                GiftStatus::Succeeded,
            ))
            .await
        }
        PaymentEffect::DelayedPaymentFailed(payment) => {
            Box::pin(settle_checkout_gift(
                txn,
                org,
                recorded,
                payment,
                GiftStatus::Failed,
            ))
            .await
        }
        PaymentEffect::SubscriptionCheckoutCompleted(subscription)
        | PaymentEffect::SubscriptionChanged(subscription) => {
            let synced = Box::pin(sync_pledge(txn, club, &subscription)).await?;
            let pledge = synced.pledge;
            Ok(match synced.stale {
                Some(reason) => Settled::Ignored(format!(
                    "ignored: stale: {reason}; pledge {} stays {}",
                    pledge.id, pledge.status
                )),
                None => Settled::Applied(format!("pledge {} is {}", pledge.id, pledge.status)),
            })
        }
        PaymentEffect::InstallmentPaid(payment) => {
            Box::pin(record_installment(txn, club, recorded, payment)).await
        }
        PaymentEffect::InstallmentFailed(failure) => {
            Box::pin(mark_past_due(txn, club, failure)).await
        }
        PaymentEffect::ChargeRefunded(refund) => Box::pin(apply_refund(txn, org, refund)).await,
        PaymentEffect::RefundFailed(failure) => {
            Box::pin(apply_refund_failure(txn, org, failure)).await
        }
        PaymentEffect::DisputeOpened(notice) => {
            Box::pin(apply_dispute(txn, org, notice, true)).await
        }
        PaymentEffect::DisputeClosed(notice) => {
            Box::pin(apply_dispute(txn, org, notice, false)).await
        }
        PaymentEffect::Unhandled => Ok(Settled::Ignored("ignored: unhandled type".to_owned())),
        PaymentEffect::Unreadable(reason) => Ok(Settled::Failed(format!("unreadable: {reason}"))),
    }
}

pub(super) async fn resolve_designation(
    txn: &DatabaseTransaction,
    designation: &Designation,
) -> Result<(fund::Model, Option<i64>, Option<i64>), DomainError> {
    let appeal = match designation.appeal_code.as_deref() {
        Some(code) => {
            appeal::Entity::find()
                .filter(appeal::Column::SourceCode.eq(code.trim().to_uppercase()))
                .one(txn)
                .await?
        }
        None => None,
    };
    let campaign = match &appeal {
        Some(appeal) => {
            entity::campaign::Entity::find_by_id(appeal.campaign_id)
                .one(txn)
                .await?
        }
        None => None,
    };
    let named = match designation.fund_code.as_deref() {
        Some(code) => {
            fund::Entity::find()
                .filter(fund::Column::Code.eq(code.trim().to_uppercase()))
                .filter(fund::Column::ArchivedAt.is_null())
                .one(txn)
                .await?
        }
        None => None,
    };
    let fund = match (named, &campaign) {
        (Some(fund), _) => fund,
        (None, Some(campaign)) => funds::find_fund(txn, campaign.default_fund_id).await?,
        (None, None) => general_fund(txn).await?,
    };
    Ok((fund, appeal.as_ref().map(|a| a.id), campaign.map(|c| c.id)))
}

pub(super) async fn general_fund(txn: &DatabaseTransaction) -> Result<fund::Model, DomainError> {
    fund::Entity::find()
        .filter(fund::Column::Code.eq("GENERAL"))
        .one(txn)
        .await?
        .ok_or_else(|| DomainError::not_found("fund", "GENERAL"))
}

/// Inserts a row unless it would take a unique key another row holds (a concurrent
/// insert of the same key first ends): `None` then, and nothing was written. Nothing
/// fails, so the caller's transaction goes on without a savepoint.
pub(super) async fn insert_unless_taken<A>(
    txn: &DatabaseTransaction,
    row: A,
) -> Result<Option<<A::Entity as EntityTrait>::Model>, DbErr>
where
    A: ActiveModelTrait,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    // A conflict returns no row; `exec_with_returning` would call that an error.
    Ok(<A::Entity as EntityTrait>::insert(row)
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_with_returning_many(txn)
        .await?
        .pop())
}

/// Records a gift unless one with the same processor id exists already; a concurrent
/// insert of the same gift finds the winner's gift. The insert does nothing on a
/// conflict rather than failing, so the transaction goes on without a savepoint. A new
/// gift is left in `recorded`, to be acknowledged last. `(donor, fund)` are those the
/// event read for it, so they are not read again.
pub(super) async fn record_gift_once(
    txn: &DatabaseTransaction,
    recorded: &mut Vec<Unacknowledged>,
    new: NewGift,
    (donor, fund, hold): (&donor::Model, &fund::Model, receipts::DonorHold),
    existing: impl AsyncFnOnce(&DatabaseTransaction) -> Result<Option<gift::Model>, DomainError>,
) -> Result<(gift::Model, bool), DomainError> {
    let first_installment = new.first_installment;
    match insert_unless_taken(txn, checked_gift_row(new, donor, fund)?).await? {
        Some(gift) => {
            recorded.push(Unacknowledged {
                gift: gift.clone(),
                donor: donor.clone(),
                fund: fund.clone(),
                hold,
                first_installment,
            });
            Ok((gift, true))
        }
        None => {
            let found = existing(txn).await?.ok_or_else(|| {
                DomainError::conflict(None, "the gift conflicts with another gift")
            })?;
            Ok((found, false))
        }
    }
}
