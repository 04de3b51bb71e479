//! One-off checkouts: the gift a session makes, and delayed payments settling.

#[allow(unused_imports)]
use super::*;
use std::sync::atomic::{AtomicI64, Ordering};

use entity::created_checkout_session;

use crate::db::write_turn;

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
    let (gift, created) = record_gift_once(txn, recorded, new, (&donor, &fund), async |txn| {
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

/// How long the thank-you page remembers a session it created (Stripe's sessions
/// expire after a day).
const CREATED_SESSIONS_KEPT_DAYS: i64 = 3;

/// How often a process forgets the sessions past their use, at most.
const FORGET_EVERY_SECS: i64 = 60;

/// When this process last forgot the sessions past their use, in seconds since the
/// epoch.
static FORGOTTEN_AT: AtomicI64 = AtomicI64::new(0);

/// Remembers a Checkout Session the donation page created, in one statement that
/// commits on its own; about once a minute, also forgets those past their use.
pub async fn remember_created_checkout_session(
    db: &DatabaseConnection,
    session_id: &str,
) -> Result<(), DomainError> {
    remember_session_at(db, session_id, Utc::now(), &FORGOTTEN_AT).await
}

async fn remember_session_at(
    db: &DatabaseConnection,
    session_id: &str,
    now: DateTime<Utc>,
    forgotten_at: &AtomicI64,
) -> Result<(), DomainError> {
    let _turn = write_turn(db).await?;
    let last = forgotten_at.load(Ordering::Relaxed);
    // One of the requests that find the minute over does the forgetting.
    if now.timestamp() - last >= FORGET_EVERY_SECS
        && forgotten_at
            .compare_exchange(last, now.timestamp(), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        created_checkout_session::Entity::delete_many()
            .filter(
                created_checkout_session::Column::CreatedAt
                    .lt(now - chrono::Duration::days(CREATED_SESSIONS_KEPT_DAYS)),
            )
            .exec(db)
            .await?;
    }
    created_checkout_session::Entity::insert(created_checkout_session::ActiveModel {
        session_id: Set(session_id.to_owned()),
        created_at: Set(now),
    })
    .on_conflict_do_nothing_on([created_checkout_session::Column::SessionId])
    .exec(db)
    .await?;
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
// A failed step should stop the test where it happened.
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::db::testing::each_backend;

    async fn remembered(db: &DatabaseConnection) -> Vec<String> {
        let mut ids: Vec<String> = created_checkout_session::Entity::find()
            .all(db)
            .await
            .expect("the sessions")
            .into_iter()
            .map(|s| s.session_id)
            .collect();
        ids.sort();
        ids
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sessions_are_remembered_once_and_forgotten_after_three_days_about_once_a_minute() {
        for test in each_backend().await {
            let db = &test.db;
            let forgotten_at = AtomicI64::new(0);
            let start = Utc::now();
            let days = chrono::Duration::days;
            let secs = chrono::Duration::seconds;
            remember_session_at(db, "cs_old", start - days(3) - secs(1), &forgotten_at)
                .await
                .expect("remembered");
            remember_session_at(db, "cs_recent", start - days(3) + secs(5), &forgotten_at)
                .await
                .expect("remembered");
            assert_eq!(remembered(db).await, ["cs_old", "cs_recent"]);

            // The first session created now forgets what is over three days old.
            remember_session_at(db, "cs_new", start, &forgotten_at)
                .await
                .expect("remembered");
            assert_eq!(remembered(db).await, ["cs_new", "cs_recent"]);
            assert_eq!(forgotten_at.load(Ordering::Relaxed), start.timestamp());

            // Within the minute nothing more is forgotten; a session remembered twice
            // stays one row.
            remember_session_at(db, "cs_new", start + secs(59), &forgotten_at)
                .await
                .expect("remembered again");
            remember_session_at(db, "cs_next", start + secs(59), &forgotten_at)
                .await
                .expect("remembered");
            assert_eq!(remembered(db).await, ["cs_new", "cs_next", "cs_recent"]);

            // A minute on, what has since passed three days is forgotten.
            remember_session_at(db, "cs_later", start + secs(60), &forgotten_at)
                .await
                .expect("remembered");
            assert_eq!(remembered(db).await, ["cs_later", "cs_new", "cs_next"]);
            assert_eq!(
                forgotten_at.load(Ordering::Relaxed),
                (start + secs(60)).timestamp()
            );
            assert!(
                created_checkout_session(db, "cs_next")
                    .await
                    .expect("a lookup")
            );
            assert!(
                !created_checkout_session(db, "cs_recent")
                    .await
                    .expect("a lookup")
            );

            // The donation page's entry point remembers on the process's own clock.
            remember_created_checkout_session(db, "cs_from_the_page")
                .await
                .expect("remembered");
            assert!(
                created_checkout_session(db, "cs_from_the_page")
                    .await
                    .expect("a lookup")
            );
            test.close().await;
        }
    }
}
