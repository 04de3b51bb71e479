//! Payments: recording what the payment processor tells us. Each processor event is
//! recorded once, by its id, in the same transaction as everything it changes, so a
//! replayed or concurrent delivery changes nothing. Events may arrive in any order;
//! every handler finds or creates what it needs (donor, pledge, gift) by the
//! processor's own ids, which are unique in the database.
//!
//! The processor's payloads are parsed at the edge into the plain inputs below.

use chrono::{DateTime, Utc};
use entity::enums::{
    DonorKind, GiftStatus, Language, PaymentMethod, PledgeFrequency, PledgeSource, PledgeStatus,
};
use entity::{
    EmailAddress, Money, appeal, created_checkout_session, donor, fund, gift, pledge, stripe_event,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QuerySelect, Set, SqlErr, TransactionTrait,
};

use super::club::{ClubPolicy, evaluate_membership, queue_pledge_email};
use super::gifts::{NewGift, Tribute, record_gift};
use super::pledges::installments_skipped_when_resumed;
use super::{DomainError, donors, receipts, tributes};
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

/// A monthly gift's subscription as the processor describes it.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub subscription_id: String,
    pub installment: Money,
    pub frequency: PledgeFrequency,
    pub status: PledgeStatus,
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
}

/// A charge's refunded total, which only grows.
#[derive(Debug, Clone)]
pub struct ChargeRefund {
    pub charge_id: String,
    pub payment_intent_id: Option<String>,
    pub invoice_id: Option<String>,
    pub amount_refunded_minor: i64,
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
    DisputeOpened(DisputeNotice),
    DisputeClosed(DisputeNotice),
    /// Recorded and acknowledged; changes nothing.
    Unhandled,
    /// A verified event whose content could not be read: recorded with the reason.
    Unreadable(String),
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// The event was recorded now; the text says what it did.
    Recorded(String),
    /// The event had been recorded before: nothing changed.
    AlreadyRecorded,
}

fn is_unique_violation(error: &DbErr) -> bool {
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

/// Records a processor event exactly once, with all its effects, in one transaction.
pub async fn record_processor_event(
    db: &DatabaseConnection,
    org: &Organization,
    policy: &ClubPolicy,
    event: ProcessorEvent,
) -> Result<EventOutcome, DomainError> {
    let txn = begin_write(db).await?;
    let seen = stripe_event::Entity::find()
        .filter(stripe_event::Column::EventId.eq(event.id.as_str()))
        .one(&txn)
        .await?;
    if seen.is_some() {
        return Ok(EventOutcome::AlreadyRecorded);
    }
    // The unique event id is the claim: a concurrent delivery of the same event waits
    // here for this transaction and then fails, and is answered as a replay.
    let claim = stripe_event::ActiveModel {
        event_id: Set(event.id.clone()),
        event_type: Set(event.event_type.clone()),
        livemode: Set(event.livemode),
        stripe_created_at: Set(event.created_at),
        payload: Set(event.payload.clone()),
        outcome: Set("processing".to_owned()),
        processed_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let claim = match claim {
        Ok(row) => row,
        Err(error) if is_unique_violation(&error) => return Ok(EventOutcome::AlreadyRecorded),
        Err(error) => return Err(error.into()),
    };

    // Effects run in a savepoint: input that can never be recorded (no email and no
    // known customer, say) is kept with the event and its reason, with no half-made
    // gift, instead of failing every redelivery; anything else fails the delivery so
    // Stripe sends it again.
    let effects = txn.begin().await?;
    let club = ClubChange {
        policy,
        cause: format!("stripe event {}", event.id),
    };
    let outcome = match apply_effect(&effects, org, &club, event.effect).await {
        Ok(outcome) => {
            effects.commit().await?;
            outcome
        }
        Err(DomainError::Validation { field, reason }) => {
            effects.rollback().await?;
            format!("refused: {field}: {reason}")
        }
        Err(error) => return Err(error),
    };
    let mut row: stripe_event::ActiveModel = claim.into();
    row.outcome = Set(outcome.clone());
    row.processed_at = Set(Utc::now());
    row.update(&txn).await?;
    match txn.commit().await {
        Ok(()) => Ok(EventOutcome::Recorded(outcome)),
        Err(error) if is_unique_violation(&error) => Ok(EventOutcome::AlreadyRecorded),
        Err(error) => Err(error.into()),
    }
}

/// What a pledge change needs to re-evaluate its donor's club membership.
struct ClubChange<'a> {
    policy: &'a ClubPolicy,
    cause: String,
}

impl ClubChange<'_> {
    async fn evaluate(&self, txn: &DatabaseTransaction, donor_id: i64) -> Result<(), DomainError> {
        evaluate_membership(txn, self.policy, donor_id, &self.cause).await?;
        Ok(())
    }
}

async fn apply_effect(
    txn: &DatabaseTransaction,
    org: &Organization,
    club: &ClubChange<'_>,
    effect: PaymentEffect,
) -> Result<String, DomainError> {
    match effect {
        PaymentEffect::CheckoutCompleted(payment) => {
            let status = if payment.paid {
                GiftStatus::Succeeded
            } else {
                GiftStatus::Pending
            };
            record_checkout_gift(txn, org, payment, status).await
        }
        PaymentEffect::DelayedPaymentSucceeded(payment) => {
            settle_checkout_gift(txn, org, payment, GiftStatus::Succeeded).await
        }
        PaymentEffect::DelayedPaymentFailed(payment) => {
            settle_checkout_gift(txn, org, payment, GiftStatus::Failed).await
        }
        PaymentEffect::SubscriptionCheckoutCompleted(subscription)
        | PaymentEffect::SubscriptionChanged(subscription) => {
            let pledge = sync_pledge(txn, club, &subscription).await?;
            Ok(format!("pledge {} is {}", pledge.id, pledge.status))
        }
        PaymentEffect::InstallmentPaid(payment) => {
            record_installment(txn, org, club, payment).await
        }
        PaymentEffect::InstallmentFailed(failure) => mark_past_due(txn, club, failure).await,
        PaymentEffect::ChargeRefunded(refund) => apply_refund(txn, org, refund).await,
        PaymentEffect::DisputeOpened(notice) => apply_dispute(txn, org, notice, true).await,
        PaymentEffect::DisputeClosed(notice) => apply_dispute(txn, org, notice, false).await,
        PaymentEffect::Unhandled => Ok("ignored: unhandled type".to_owned()),
        PaymentEffect::Unreadable(reason) => Ok(format!("ignored: unreadable ({reason})")),
    }
}

/// Finds the donor with this email (any case) or creates one, and links the
/// processor's customer. Never makes two donors for one email: a concurrent insert of
/// the same email loses on the unique index and then finds the winner's row.
pub async fn find_or_create_donor(
    txn: &DatabaseTransaction,
    payer: &PayerDetails,
) -> Result<donor::Model, DomainError> {
    let email = match payer.email.as_deref() {
        Some(text) => Some(
            EmailAddress::parse(text)
                .map_err(|e| DomainError::validation("email", e.to_string()))?,
        ),
        None => None,
    };
    if let Some(found) = find_payer(txn, email.as_ref(), payer.customer_id.as_deref()).await? {
        return update_payer_links(txn, found, payer).await;
    }
    let Some(email) = email else {
        return Err(DomainError::validation(
            "email",
            "the payment carries no email and no known customer",
        ));
    };
    let display_name = payer
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(email.as_str())
        .to_owned();
    let now = Utc::now();
    let candidate = donor::ActiveModel {
        kind: Set(DonorKind::Individual),
        search_text: Set(donors::search_text(&display_name, Some(email.as_str()))),
        display_name: Set(display_name),
        email: Set(Some(email.as_str().to_owned())),
        language: Set(payer.language.unwrap_or(Language::English)),
        email_consent: Set(payer.email_consent),
        anonymous: Set(payer.anonymous),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let savepoint = txn.begin().await?;
    match candidate.insert(&savepoint).await {
        Ok(created) => {
            savepoint.commit().await?;
            update_payer_links(txn, created, payer).await
        }
        Err(error) if is_unique_violation(&error) => {
            savepoint.rollback().await?;
            let found = find_payer(txn, Some(&email), None)
                .await?
                .ok_or_else(|| DomainError::Unexpected(anyhow::Error::new(error)))?;
            update_payer_links(txn, found, payer).await
        }
        Err(error) => Err(error.into()),
    }
}

async fn find_payer(
    txn: &DatabaseTransaction,
    email: Option<&EmailAddress>,
    customer_id: Option<&str>,
) -> Result<Option<donor::Model>, DomainError> {
    if let Some(email) = email {
        let found = donor::Entity::find()
            .filter(ExprTrait::eq(
                Expr::expr(Func::lower(Expr::col(donor::Column::Email))),
                email.as_str().to_lowercase(),
            ))
            .one(txn)
            .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    if let Some(customer) = customer_id {
        return Ok(donor::Entity::find()
            .filter(donor::Column::StripeCustomerId.eq(customer))
            .one(txn)
            .await?);
    }
    Ok(None)
}

/// Links the processor's customer to the donor when it has none, and records consent
/// when given (an unticked box never withdraws consent given before).
async fn update_payer_links(
    txn: &DatabaseTransaction,
    donor: donor::Model,
    payer: &PayerDetails,
) -> Result<donor::Model, DomainError> {
    let link_customer = donor.stripe_customer_id.is_none() && payer.customer_id.is_some();
    let grant_consent = payer.email_consent && !donor.email_consent;
    if !link_customer && !grant_consent {
        return Ok(donor);
    }
    if link_customer && let Some(customer) = payer.customer_id.as_deref() {
        let taken = donor::Entity::find()
            .filter(donor::Column::StripeCustomerId.eq(customer))
            .one(txn)
            .await?;
        if taken.is_some() {
            return Ok(donor);
        }
    }
    let mut row: donor::ActiveModel = donor.clone().into();
    if link_customer {
        row.stripe_customer_id = Set(payer.customer_id.clone());
    }
    if grant_consent {
        row.email_consent = Set(true);
    }
    row.updated_at = Set(Utc::now());
    Ok(row.update(txn).await?)
}

/// The fund and appeal a designation names. An unknown or archived fund falls back to
/// the appeal's campaign default, then to the General fund, so a paid gift is never
/// refused for its designation.
async fn resolve_designation(
    txn: &DatabaseTransaction,
    designation: &Designation,
) -> Result<(i64, Option<i64>, Option<i64>), DomainError> {
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
    let fund_id = match (named, &campaign) {
        (Some(fund), _) => fund.id,
        (None, Some(campaign)) => campaign.default_fund_id,
        (None, None) => general_fund(txn).await?,
    };
    Ok((
        fund_id,
        appeal.as_ref().map(|a| a.id),
        campaign.map(|c| c.id),
    ))
}

async fn general_fund(txn: &DatabaseTransaction) -> Result<i64, DomainError> {
    fund::Entity::find()
        .filter(fund::Column::Code.eq("GENERAL"))
        .one(txn)
        .await?
        .map(|f| f.id)
        .ok_or_else(|| DomainError::not_found("fund", "GENERAL"))
}

async fn gift_for_session(
    txn: &DatabaseTransaction,
    session_id: &str,
) -> Result<Option<gift::Model>, DomainError> {
    Ok(gift::Entity::find()
        .filter(gift::Column::StripeCheckoutSessionId.eq(session_id))
        .one(txn)
        .await?)
}

/// Records a gift unless one with the same processor id exists already; a concurrent
/// insert of the same gift loses on the unique index and finds the winner's gift.
async fn record_gift_once(
    txn: &DatabaseTransaction,
    org: &Organization,
    new: NewGift,
    existing: impl AsyncFnOnce(&DatabaseTransaction) -> Result<Option<gift::Model>, DomainError>,
) -> Result<(gift::Model, bool), DomainError> {
    let savepoint = txn.begin().await?;
    match record_gift(&savepoint, org, new).await {
        Ok(recorded) => {
            savepoint.commit().await?;
            Ok((recorded.gift, true))
        }
        Err(DomainError::Conflict { .. }) => {
            savepoint.rollback().await?;
            let found = existing(txn).await?.ok_or_else(|| {
                DomainError::conflict(None, "the gift conflicts with another gift")
            })?;
            Ok((found, false))
        }
        Err(error) => Err(error),
    }
}

async fn record_checkout_gift(
    txn: &DatabaseTransaction,
    org: &Organization,
    payment: CheckoutPayment,
    status: GiftStatus,
) -> Result<String, DomainError> {
    if let Some(existing) = gift_for_session(txn, &payment.session_id).await? {
        return Ok(format!(
            "gift {} already recorded ({})",
            existing.id, existing.status
        ));
    }
    let donor = find_or_create_donor(txn, &payment.payer).await?;
    let (fund_id, appeal_id, campaign_id) = resolve_designation(txn, &payment.designation).await?;
    let mut new = NewGift::new(
        donor.id,
        payment.amount,
        PaymentMethod::Card,
        status,
        fund_id,
        payment.created_at,
    );
    new.appeal_id = appeal_id;
    new.campaign_id = campaign_id;
    new.tribute = payment.designation.tribute.clone();
    new.anonymous = payment.payer.anonymous;
    new.stripe_checkout_session_id = Some(payment.session_id.clone());
    new.stripe_payment_intent_id = payment.payment_intent_id.clone();
    let session_id = payment.session_id.clone();
    let (gift, created) = record_gift_once(txn, org, new, async |txn| {
        gift_for_session(txn, &session_id).await
    })
    .await?;
    Ok(if created {
        format!("recorded gift {} ({})", gift.id, gift.status)
    } else {
        format!("gift {} already recorded ({})", gift.id, gift.status)
    })
}

/// A delayed payment method settled. A pending gift moves on (a succeeded one gets its
/// receipt now, once); if the checkout's own event has not arrived yet, the gift is
/// recorded in its final state.
async fn settle_checkout_gift(
    txn: &DatabaseTransaction,
    org: &Organization,
    payment: CheckoutPayment,
    status: GiftStatus,
) -> Result<String, DomainError> {
    let Some(existing) = gift_for_session(txn, &payment.session_id).await? else {
        return record_checkout_gift(txn, org, payment, status).await;
    };
    let moved = gift::Entity::update_many()
        .col_expr(gift::Column::Status, Expr::value(status))
        .col_expr(gift::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(gift::Column::Id.eq(existing.id))
        .filter(gift::Column::Status.eq(GiftStatus::Pending))
        .exec(txn)
        .await?;
    if moved.rows_affected == 0 {
        return Ok(format!(
            "gift {} was already {}",
            existing.id, existing.status
        ));
    }
    if status == GiftStatus::Succeeded {
        let gift = gift::Entity::find_by_id(existing.id)
            .one(txn)
            .await?
            .ok_or_else(|| DomainError::not_found("gift", existing.id))?;
        let donor = donors::find_donor(txn, gift.donor_id).await?;
        receipts::issue_gift_receipt(txn, org, &gift, &donor).await?;
        tributes::notify_honoree(txn, org, &gift, &donor).await?;
    }
    Ok(format!("gift {} is now {status}", existing.id))
}

async fn pledge_for_subscription(
    txn: &DatabaseTransaction,
    subscription_id: &str,
) -> Result<Option<pledge::Model>, DomainError> {
    Ok(pledge::Entity::find()
        .filter(pledge::Column::StripeSubscriptionId.eq(subscription_id))
        .one(txn)
        .await?)
}

/// Creates the pledge for a subscription, or brings its status up to date, and
/// re-evaluates the donor's club membership.
async fn sync_pledge(
    txn: &DatabaseTransaction,
    club: &ClubChange<'_>,
    subscription: &Subscription,
) -> Result<pledge::Model, DomainError> {
    let pledge = create_or_update_pledge(txn, subscription).await?;
    club.evaluate(txn, pledge.donor_id).await?;
    Ok(pledge)
}

async fn create_or_update_pledge(
    txn: &DatabaseTransaction,
    subscription: &Subscription,
) -> Result<pledge::Model, DomainError> {
    if let Some(existing) = pledge_for_subscription(txn, &subscription.subscription_id).await? {
        return update_pledge_status(txn, existing, subscription).await;
    }
    let donor = find_or_create_donor(txn, &subscription.payer).await?;
    let (fund_id, appeal_id, campaign_id) =
        resolve_designation(txn, &subscription.designation).await?;
    let now = Utc::now();
    let candidate = pledge::ActiveModel {
        donor_id: Set(donor.id),
        source: Set(PledgeSource::StripeSubscription),
        installment_minor: Set(subscription.installment.amount_minor()),
        currency: Set(subscription.installment.currency().code().to_owned()),
        frequency: Set(subscription.frequency),
        starts_on: Set(subscription.started_at.date_naive()),
        status: Set(subscription.status),
        fund_id: Set(fund_id),
        appeal_id: Set(appeal_id),
        campaign_id: Set(campaign_id),
        stripe_subscription_id: Set(Some(subscription.subscription_id.clone())),
        past_due_since: Set((subscription.status == PledgeStatus::PastDue).then_some(now)),
        cancelled_at: Set(subscription.cancelled_at),
        cancel_reason: Set(subscription.cancel_reason.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let savepoint = txn.begin().await?;
    match candidate.insert(&savepoint).await {
        Ok(created) => {
            savepoint.commit().await?;
            queue_pledge_email(
                txn,
                "club_welcome",
                format!("club_welcome:{}", created.id),
                &created,
                serde_json::Value::Null,
            )
            .await?;
            Ok(created)
        }
        Err(error) if is_unique_violation(&error) => {
            savepoint.rollback().await?;
            let existing = pledge_for_subscription(txn, &subscription.subscription_id)
                .await?
                .ok_or_else(|| DomainError::Unexpected(anyhow::Error::new(error)))?;
            update_pledge_status(txn, existing, subscription).await
        }
        Err(error) => Err(error.into()),
    }
}

async fn update_pledge_status(
    txn: &DatabaseTransaction,
    existing: pledge::Model,
    subscription: &Subscription,
) -> Result<pledge::Model, DomainError> {
    // A cancelled pledge stays cancelled: a late "updated" event cannot revive it.
    if existing.status == PledgeStatus::Cancelled {
        return Ok(existing);
    }
    let installment = subscription.installment.amount_minor();
    let amount_changed = existing.installment_minor != installment
        && existing.currency == subscription.installment.currency().code();
    if existing.status == subscription.status && !amount_changed {
        return Ok(existing);
    }
    let now = Utc::now();
    let status_changed = existing.status != subscription.status;
    let resumed = existing.status == PledgeStatus::Paused && status_changed;
    let skipped = installments_skipped_when_resumed(&existing, now.date_naive());
    let mut row: pledge::ActiveModel = existing.into();
    if resumed {
        row.paused_at = Set(None);
        row.installments_skipped = Set(skipped);
    }
    if amount_changed {
        row.installment_minor = Set(installment);
    }
    if !status_changed {
        row.updated_at = Set(now);
        return Ok(row.update(txn).await?);
    }
    row.status = Set(subscription.status);
    match subscription.status {
        PledgeStatus::PastDue => row.past_due_since = Set(Some(now)),
        PledgeStatus::Active => row.past_due_since = Set(None),
        PledgeStatus::Cancelled => {
            row.cancelled_at = Set(Some(subscription.cancelled_at.unwrap_or(now)));
            row.cancel_reason = Set(subscription.cancel_reason.clone());
        }
        PledgeStatus::Paused => row.paused_at = Set(Some(now)),
        PledgeStatus::Completed => {}
    }
    row.updated_at = Set(now);
    let pledge = row.update(txn).await?;
    if pledge.status == PledgeStatus::Cancelled {
        queue_pledge_email(
            txn,
            "pledge_cancelled",
            format!("pledge_cancelled:{}", pledge.id),
            &pledge,
            serde_json::Value::Null,
        )
        .await?;
    }
    Ok(pledge)
}

async fn gift_for_invoice(
    txn: &DatabaseTransaction,
    invoice_id: &str,
) -> Result<Option<gift::Model>, DomainError> {
    Ok(gift::Entity::find()
        .filter(gift::Column::StripeInvoiceId.eq(invoice_id))
        .one(txn)
        .await?)
}

/// One paid invoice: one installment gift, linked to its pledge.
async fn record_installment(
    txn: &DatabaseTransaction,
    org: &Organization,
    club: &ClubChange<'_>,
    payment: InstallmentPayment,
) -> Result<String, DomainError> {
    if let Some(existing) = gift_for_invoice(txn, &payment.invoice_id).await? {
        return Ok(format!("installment gift {} already recorded", existing.id));
    }
    let pledge = match pledge_for_subscription(txn, &payment.subscription_id).await? {
        Some(pledge) => pledge,
        None => {
            let subscription = payment.subscription.as_ref().ok_or_else(|| {
                DomainError::not_found("pledge for subscription", &payment.subscription_id)
            })?;
            sync_pledge(txn, club, subscription).await?
        }
    };
    let pledge = if pledge.status == PledgeStatus::PastDue {
        let mut row: pledge::ActiveModel = pledge.into();
        row.status = Set(PledgeStatus::Active);
        row.past_due_since = Set(None);
        row.updated_at = Set(Utc::now());
        let revived = row.update(txn).await?;
        club.evaluate(txn, revived.donor_id).await?;
        revived
    } else {
        pledge
    };
    let donor = donors::find_donor(txn, pledge.donor_id).await?;
    let payer = PayerDetails {
        email: payment.payer_email.clone(),
        customer_id: payment.customer_id.clone(),
        ..PayerDetails::default()
    };
    let donor = update_payer_links(txn, donor, &payer).await?;
    let mut new = NewGift::new(
        donor.id,
        payment.amount,
        PaymentMethod::Card,
        GiftStatus::Succeeded,
        pledge.fund_id,
        payment.paid_at,
    );
    let first_installment = gift::Entity::find()
        .filter(gift::Column::PledgeId.eq(pledge.id))
        .one(txn)
        .await?
        .is_none();
    if first_installment {
        new.tribute = payment.tribute.clone();
    }
    new.pledge_id = Some(pledge.id);
    new.appeal_id = pledge.appeal_id;
    new.campaign_id = pledge.campaign_id;
    new.anonymous = donor.anonymous;
    new.stripe_invoice_id = Some(payment.invoice_id.clone());
    new.stripe_payment_intent_id = payment.payment_intent_id.clone();
    new.stripe_charge_id = payment.charge_id.clone();
    let invoice_id = payment.invoice_id.clone();
    let (gift, created) = record_gift_once(txn, org, new, async |txn| {
        gift_for_invoice(txn, &invoice_id).await
    })
    .await?;
    Ok(if created {
        format!(
            "recorded installment gift {} of pledge {}",
            gift.id, pledge.id
        )
    } else {
        format!("installment gift {} already recorded", gift.id)
    })
}

async fn mark_past_due(
    txn: &DatabaseTransaction,
    club: &ClubChange<'_>,
    failure: InstallmentFailure,
) -> Result<String, DomainError> {
    let Some(pledge) = pledge_for_subscription(txn, &failure.subscription_id).await? else {
        return Ok(format!(
            "no pledge yet for subscription {}; invoice {} failed",
            failure.subscription_id, failure.invoice_id
        ));
    };
    // An installment paid after this failure (a retry that worked) already made the
    // pledge current again; a late failure notice must not undo that.
    let paid_since = gift::Entity::find()
        .filter(gift::Column::PledgeId.eq(pledge.id))
        .filter(gift::Column::ReceivedAt.gt(failure.failed_at))
        .one(txn)
        .await?
        .is_some();
    if pledge.status != PledgeStatus::Active || paid_since {
        return Ok(format!("pledge {} stays {}", pledge.id, pledge.status));
    }
    let id = pledge.id;
    let mut row: pledge::ActiveModel = pledge.into();
    row.status = Set(PledgeStatus::PastDue);
    row.past_due_since = Set(Some(failure.failed_at));
    row.updated_at = Set(Utc::now());
    let pledge = row.update(txn).await?;
    club.evaluate(txn, pledge.donor_id).await?;
    queue_pledge_email(
        txn,
        "payment_failed",
        format!("payment_failed:{}", failure.invoice_id),
        &pledge,
        serde_json::json!({ "invoice_id": failure.invoice_id }),
    )
    .await?;
    Ok(format!("pledge {id} is past due"))
}

/// The gift a charge paid for: by charge id, then by payment intent or invoice. The
/// charge id is remembered on the gift once found.
async fn gift_for_charge(
    txn: &DatabaseTransaction,
    charge_id: &str,
    payment_intent_id: Option<&str>,
    invoice_id: Option<&str>,
) -> Result<Option<gift::Model>, DomainError> {
    if let Some(found) = gift::Entity::find()
        .filter(gift::Column::StripeChargeId.eq(charge_id))
        .one(txn)
        .await?
    {
        return Ok(Some(found));
    }
    let mut found = None;
    if let Some(intent) = payment_intent_id {
        found = gift::Entity::find()
            .filter(gift::Column::StripePaymentIntentId.eq(intent))
            .one(txn)
            .await?;
    }
    if found.is_none()
        && let Some(invoice) = invoice_id
    {
        found = gift_for_invoice(txn, invoice).await?;
    }
    match found {
        Some(gift) if gift.stripe_charge_id.is_none() => {
            let mut row: gift::ActiveModel = gift.into();
            row.stripe_charge_id = Set(Some(charge_id.to_owned()));
            Ok(Some(row.update(txn).await?))
        }
        other => Ok(other),
    }
}

fn status_after_refund(gift: &gift::Model, refunded: i64) -> GiftStatus {
    if gift.status == GiftStatus::Disputed {
        GiftStatus::Disputed
    } else if refunded >= gift.amount_minor {
        GiftStatus::Refunded
    } else if refunded > 0 {
        GiftStatus::PartiallyRefunded
    } else {
        gift.status
    }
}

async fn apply_refund(
    txn: &DatabaseTransaction,
    org: &Organization,
    refund: ChargeRefund,
) -> Result<String, DomainError> {
    let Some(gift) = gift_for_charge(
        txn,
        &refund.charge_id,
        refund.payment_intent_id.as_deref(),
        refund.invoice_id.as_deref(),
    )
    .await?
    else {
        return Ok(format!("no gift for charge {}", refund.charge_id));
    };
    let refunded = refund.amount_refunded_minor.clamp(0, gift.amount_minor);
    // The refunded total only grows: an older, smaller total arriving late changes nothing.
    if refunded <= gift.refunded_minor {
        return Ok(format!(
            "gift {} already shows {} refunded",
            gift.id, gift.refunded_minor
        ));
    }
    let id = gift.id;
    let status = status_after_refund(&gift, refunded);
    let mut row: gift::ActiveModel = gift.into();
    row.refunded_minor = Set(refunded);
    row.status = Set(status);
    row.updated_at = Set(Utc::now());
    let gift = row.update(txn).await?;
    receipts::on_refund(txn, org, &gift).await?;
    Ok(format!("gift {id} is {status} ({refunded} refunded)"))
}

async fn apply_dispute(
    txn: &DatabaseTransaction,
    org: &Organization,
    notice: DisputeNotice,
    opened: bool,
) -> Result<String, DomainError> {
    let Some(gift) = gift_for_charge(
        txn,
        &notice.charge_id,
        notice.payment_intent_id.as_deref(),
        None,
    )
    .await?
    else {
        return Ok(format!(
            "no gift for charge {} of dispute {}",
            notice.charge_id, notice.dispute_id
        ));
    };
    let id = gift.id;
    let status = if opened || notice.status != "won" {
        GiftStatus::Disputed
    } else {
        // Won: the money stays; the gift shows what was refunded, if anything.
        let undisputed = gift::Model {
            status: GiftStatus::Succeeded,
            ..gift.clone()
        };
        status_after_refund(&undisputed, gift.refunded_minor)
    };
    let gift = if gift.status != status {
        let mut row: gift::ActiveModel = gift.into();
        row.status = Set(status);
        row.updated_at = Set(Utc::now());
        row.update(txn).await?
    } else {
        gift
    };
    // A dispute closed as lost means the bank returned the money: the gift is no longer
    // a contribution, so its receipt is voided (the event is processed once).
    if !opened && notice.status == "lost" {
        receipts::on_payment_reversed(txn, org, &gift).await?;
    }
    Ok(format!(
        "gift {id} is {status} (dispute {} {})",
        notice.dispute_id, notice.status
    ))
}

/// A card gift that can be refunded through the processor, with what it needs.
#[derive(Debug, Clone)]
pub struct RefundableGift {
    pub gift: gift::Model,
    pub charge_id: Option<String>,
    pub payment_intent_id: Option<String>,
    /// What may still be refunded, in minor units.
    pub refundable_minor: i64,
}

/// Checks that a gift can be refunded by card for `amount_minor` (all that remains when
/// `None`), and returns what the processor call needs. Nothing changes here: the gift
/// changes when the processor reports the refund.
pub async fn refundable_card_gift(
    db: &impl ConnectionTrait,
    gift_id: i64,
    amount_minor: Option<i64>,
) -> Result<(RefundableGift, i64), DomainError> {
    let gift = gift::Entity::find_by_id(gift_id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("gift", gift_id))?;
    if gift.method != PaymentMethod::Card
        || (gift.stripe_charge_id.is_none() && gift.stripe_payment_intent_id.is_none())
    {
        return Err(DomainError::validation(
            "giftId",
            "only card gifts paid through the processor can be refunded this way",
        ));
    }
    if !matches!(
        gift.status,
        GiftStatus::Succeeded | GiftStatus::PartiallyRefunded
    ) {
        return Err(DomainError::conflict(
            Some("giftId"),
            format!("a {} gift cannot be refunded", gift.status),
        ));
    }
    let refundable = gift.amount_minor - gift.refunded_minor;
    let amount = amount_minor.unwrap_or(refundable);
    if amount <= 0 {
        return Err(DomainError::validation(
            "amount",
            "must be greater than zero",
        ));
    }
    if amount > refundable {
        return Err(DomainError::validation(
            "amount",
            format!("at most {refundable} may still be refunded"),
        ));
    }
    Ok((
        RefundableGift {
            charge_id: gift.stripe_charge_id.clone(),
            payment_intent_id: gift.stripe_payment_intent_id.clone(),
            refundable_minor: refundable,
            gift,
        },
        amount,
    ))
}

/// An appeal a donation link names, with its campaign's goal and progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppealProgress {
    pub appeal_id: i64,
    pub source_code: String,
    pub campaign_name: String,
    pub goal_minor: i64,
    /// Succeeded gifts to the campaign, less refunds, in minor units.
    pub raised_minor: i64,
    pub currency: String,
}

/// The appeal with this source code (any case), and how its campaign is doing.
pub async fn appeal_progress(
    db: &impl ConnectionTrait,
    source_code: &str,
) -> Result<Option<AppealProgress>, DomainError> {
    let Some(appeal) = appeal::Entity::find()
        .filter(appeal::Column::SourceCode.eq(source_code.trim().to_uppercase()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(campaign) = entity::campaign::Entity::find_by_id(appeal.campaign_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let raised: Option<i64> = gift::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(amount_minor - refunded_minor), 0) AS BIGINT)"),
            "raised",
        )
        .filter(gift::Column::CampaignId.eq(campaign.id))
        .filter(gift::Column::Status.is_in([GiftStatus::Succeeded, GiftStatus::PartiallyRefunded]))
        .into_tuple()
        .one(db)
        .await?;
    Ok(Some(AppealProgress {
        appeal_id: appeal.id,
        source_code: appeal.source_code,
        campaign_name: campaign.name,
        goal_minor: campaign.goal_minor,
        raised_minor: raised.unwrap_or(0),
        currency: campaign.currency,
    }))
}

/// What our records say about the gift a checkout session made, if it has arrived.
pub async fn checkout_gift_status(
    db: &impl ConnectionTrait,
    session_id: &str,
) -> Result<Option<GiftStatus>, DomainError> {
    Ok(gift::Entity::find()
        .filter(gift::Column::StripeCheckoutSessionId.eq(session_id))
        .one(db)
        .await?
        .map(|g| g.status))
}

/// How long the thank-you page remembers a session it created (Stripe's sessions
/// expire after a day).
const CREATED_SESSIONS_KEPT_DAYS: i64 = 3;

/// Remembers a Checkout Session the donation page created, and forgets those past
/// their use.
pub async fn remember_created_checkout_session(
    db: &DatabaseConnection,
    session_id: &str,
) -> Result<(), DomainError> {
    let now = Utc::now();
    let txn = begin_write(db).await?;
    created_checkout_session::Entity::delete_many()
        .filter(
            created_checkout_session::Column::CreatedAt
                .lt(now - chrono::Duration::days(CREATED_SESSIONS_KEPT_DAYS)),
        )
        .exec(&*txn)
        .await?;
    created_checkout_session::Entity::insert(created_checkout_session::ActiveModel {
        session_id: Set(session_id.to_owned()),
        created_at: Set(now),
    })
    .on_conflict_do_nothing_on([created_checkout_session::Column::SessionId])
    .exec(&*txn)
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Whether the donation page created this Checkout Session.
pub async fn created_checkout_session(
    db: &impl ConnectionTrait,
    session_id: &str,
) -> Result<bool, DomainError> {
    Ok(
        created_checkout_session::Entity::find_by_id(session_id.to_owned())
            .one(db)
            .await?
            .is_some(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gift_of(amount: i64, status: GiftStatus) -> gift::Model {
        gift::Model {
            id: 1,
            donor_id: 1,
            amount_minor: amount,
            currency: "USD".into(),
            refunded_minor: 0,
            method: PaymentMethod::Card,
            status,
            fund_id: 1,
            campaign_id: None,
            appeal_id: None,
            pledge_id: None,
            received_at: Utc::now(),
            check_number: None,
            tribute_kind: None,
            tribute_name: None,
            tribute_notify_name: None,
            tribute_notify_email: None,
            tribute_notify_address: None,
            tribute_show_amount: false,
            benefits_minor: 0,
            benefits_description: None,
            anonymous: false,
            stripe_payment_intent_id: None,
            stripe_invoice_id: None,
            stripe_checkout_session_id: None,
            stripe_charge_id: None,
            idempotency_key: None,
            notes: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_refund_of_everything_marks_the_gift_refunded() {
        let gift = gift_of(5_000, GiftStatus::Succeeded);
        assert_eq!(status_after_refund(&gift, 5_000), GiftStatus::Refunded);
        assert_eq!(
            status_after_refund(&gift, 1_000),
            GiftStatus::PartiallyRefunded
        );
    }

    #[test]
    fn a_disputed_gift_stays_disputed_when_refunded() {
        let gift = gift_of(5_000, GiftStatus::Disputed);
        assert_eq!(status_after_refund(&gift, 5_000), GiftStatus::Disputed);
    }
}
