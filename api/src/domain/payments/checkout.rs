//! One-off checkouts: the gift a session makes, and delayed payments settling.

#[allow(unused_imports)]
use super::*;

pub(super) async fn gift_for_session(
    txn: &DatabaseTransaction,
    session_id: &str,
) -> Result<Option<gift::Model>, DomainError> {
    Ok(gift::Entity::find()
        .filter(gift::Column::StripeCheckoutSessionId.eq(session_id))
        .one(txn)
        .await?)
}

pub(super) async fn record_checkout_gift(
    txn: &DatabaseTransaction,
    recorded: &mut Vec<Unacknowledged>,
    payment: CheckoutPayment,
    status: GiftStatus,
) -> Result<Settled, DomainError> {
    if let Some(existing) = gift_for_session(txn, &payment.session_id).await? {
        return Ok(Settled::Duplicate(format!(
            "gift {} already recorded ({})",
            existing.id, existing.status
        )));
    }
    let donor = find_or_create_donor(txn, &payment.payer).await?;
    let (fund, appeal_id, campaign_id) = resolve_designation(txn, &payment.designation).await?;
    let mut new = NewGift::new(
        donor.id,
        payment.amount,
        PaymentMethod::Card,
        status,
        fund.id,
        payment.created_at,
    );
    new.appeal_id = appeal_id;
    new.campaign_id = campaign_id;
    new.tribute = payment.designation.tribute.clone();
    // The checkout may ask for more privacy than the donor chose, never for less.
    new.anonymous = payment.payer.anonymous || donor.anonymous;
    new.stripe_checkout_session_id = Some(payment.session_id.clone());
    new.stripe_payment_intent_id = payment.payment_intent_id.clone();
    let session_id = payment.session_id.clone();
    let read = (&donor, &fund, receipts::DonorHold::Held);
    let (gift, created) = record_gift_once(txn, recorded, new, read, async |txn| {
        gift_for_session(txn, &session_id).await
    })
    .await?;
    if !created {
        return Ok(Settled::Duplicate(format!(
            "gift {} already recorded ({})",
            gift.id, gift.status
        )));
    }
    // What the checkout said differently about an existing donor waits for staff.
    keep_checkout_choices(
        txn,
        &donor,
        &payment.payer.choices(),
        MadeByCheckout::Gift(gift.id),
    )
    .await?;
    Ok(Settled::Applied(format!(
        "recorded gift {} ({})",
        gift.id, gift.status
    )))
}

/// A delayed payment method settled. A pending gift moves on (a succeeded one gets its
/// receipt now, once); if the checkout's own event has not arrived yet, the gift is
/// recorded in its final state.
pub(super) async fn settle_checkout_gift(
    txn: &DatabaseTransaction,
    org: &Organization,
    recorded: &mut Vec<Unacknowledged>,
    payment: CheckoutPayment,
    status: GiftStatus,
) -> Result<Settled, DomainError> {
    let Some(existing) = gift_for_session(txn, &payment.session_id).await? else {
        return record_checkout_gift(txn, recorded, payment, status).await;
    };
    let moved = gift::Entity::update_many()
        .col_expr(gift::Column::Status, Expr::value(status))
        .col_expr(gift::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(gift::Column::Id.eq(existing.id))
        .filter(gift::Column::Status.eq(GiftStatus::Pending))
        .exec(txn)
        .await?;
    if moved.rows_affected == 0 {
        return Ok(Settled::Duplicate(format!(
            "gift {} was already {}",
            existing.id, existing.status
        )));
    }
    if status == GiftStatus::Succeeded {
        let gift = gift::Entity::find_by_id(existing.id)
            .one(txn)
            .await?
            .ok_or_else(|| DomainError::not_found("gift", existing.id))?;
        let donor = donors::find_donor(txn, gift.donor_id).await?;
        let fund = funds::find_fund(txn, gift.fund_id).await?;
        // A refund reported while the payment was pending is applied after the
        // receipt, as if it had arrived after the payment: the receipt is for what was
        // paid, then corrected.
        let as_paid = gift::Model {
            refunded_minor: 0,
            ..gift.clone()
        };
        receipts::on_gift_received(txn, org, &as_paid, &donor, receipts::DonorHold::NotHeld)
            .await?;
        receipts::issue_gift_receipt(txn, org, &as_paid, &donor, &fund).await?;
        tributes::notify_honoree(txn, org, &as_paid, &donor).await?;
        if gift.refunded_minor > 0 {
            let refunded = gift.refunded_minor;
            let mut row: gift::ActiveModel = gift.into();
            row.status = Set(super::refunds::status_after_refund(
                as_paid.status,
                as_paid.amount_minor,
                refunded,
            ));
            row.updated_at = Set(Utc::now());
            let gift = row.update(txn).await?;
            receipts::on_refund(txn, org, &gift).await?;
        }
    }
    Ok(Settled::Applied(format!(
        "gift {} is now {status}",
        existing.id
    )))
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
    /// The campaign's last day, when it has one.
    pub ends_on: Option<chrono::NaiveDate>,
}

impl AppealProgress {
    /// Whether the campaign is over on `today`: its last day has passed.
    pub fn has_ended(&self, today: chrono::NaiveDate) -> bool {
        self.ends_on.is_some_and(|last| last < today)
    }
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
        .column_as(crate::domain::gifts::net_total(), "raised")
        .filter(gift::Column::CampaignId.eq(campaign.id))
        .filter(crate::domain::gifts::counted())
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
        ends_on: campaign.ends_on,
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
