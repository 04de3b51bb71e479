//! Bulk giving data for tests and benchmarks: donors, funds, gifts, pledges and tier
//! memberships in a fixed, simple shape that tests can count on, inserted through the
//! generator's batching (`api::bench_data::insert_in_batches`), so that ten thousand
//! donors take seconds. `api seed-bench` makes the large, realistic organization.

use api::bench_data::insert_in_batches;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use entity::enums::{
    DonorKind, GiftStatus, Language, PaymentMethod, PledgeFrequency, PledgeSource, PledgeStatus,
};
use entity::{donor, fund, gift, pledge, tier_membership};
use sea_orm::{ActiveValue::NotSet, DatabaseConnection, EntityTrait, Set};

/// How much to seed.
#[derive(Debug, Clone, Copy)]
pub struct SeedPlan {
    pub donors: usize,
    pub gifts_per_donor: usize,
    /// Extra restricted funds besides General.
    pub funds: usize,
    /// Every n-th donor has an active monthly pledge and a Circle of Friends membership.
    pub pledge_every: usize,
}

/// What was seeded.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub donor_ids: Vec<i64>,
    pub fund_ids: Vec<i64>,
}

/// The display name of the n-th seeded donor (1-based).
pub fn donor_name(n: usize) -> String {
    const FIRST: [&str; 8] = [
        "María", "José", "Amal", "Chloé", "David", "Nour", "Ana", "Luis",
    ];
    const LAST: [&str; 8] = [
        "López", "Núñez", "Haddad", "Martin", "Kim", "Benali", "García", "Reyes",
    ];
    format!("{} {} {n:05}", FIRST[n % 8], LAST[(n / 8) % 8])
}

pub async fn seed(db: &DatabaseConnection, plan: SeedPlan) -> Seeded {
    let now = Utc::now();
    let created = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap();

    let mut fund_ids = vec![1];
    if plan.funds > 0 {
        let funds = (1..=plan.funds).map(|n| fund::ActiveModel {
            id: NotSet,
            name: Set(format!("Program Fund {n}")),
            code: Set(format!("PROGRAM-{n}")),
            description: Set(None),
            restricted: Set(true),
            translations: Set(None),
            archived_at: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
        });
        fund::Entity::insert_many(funds).exec(db).await.unwrap();
        let all = fund::Entity::find().all(db).await.unwrap();
        fund_ids = all.into_iter().map(|f| f.id).collect();
        fund_ids.sort_unstable();
    }

    let first_id = 1_000_000i64;
    let donor_ids: Vec<i64> = (0..plan.donors).map(|i| first_id + i as i64).collect();
    let rows = donor_ids.iter().map(|id| {
        let n = (*id - first_id + 1) as usize;
        let name = donor_name(n);
        let email = format!("donor{n}@example.org");
        donor::ActiveModel {
            id: Set(*id),
            kind: Set(DonorKind::Individual),
            search_text: Set(api::domain::donors::search_text(&name, Some(&email))),
            display_name: Set(name),
            first_name: Set(None),
            last_name: Set(None),
            email: Set(Some(email)),
            phone: Set(Some(format!("+1 213 555 {:04}", n % 10_000))),
            address_line1: Set(Some(format!("{n} Main St"))),
            address_line2: Set(None),
            city: Set(Some("Los Angeles".into())),
            region: Set(Some("CA".into())),
            postal_code: Set(Some("90012".into())),
            country: Set(Some("US".into())),
            language: Set([
                Language::English,
                Language::Spanish,
                Language::French,
                Language::Arabic,
            ][n % 4]),
            email_consent: Set(n.is_multiple_of(2)),
            anonymous: Set(false),
            stripe_customer_id: Set(None),
            appeals_unsubscribed_at: Set(None),
            email_suppressed_at: Set(None),
            email_suppressed_reason: Set(None),
            notes: Set(None),
            link_version: Set(0),
            external_id: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
        }
    });
    insert_in_batches(db, rows).await.unwrap();

    let funds = &fund_ids;
    let gifts = donor_ids.iter().enumerate().flat_map(|(index, donor_id)| {
        (0..plan.gifts_per_donor).map(move |g| {
            let seq = index * plan.gifts_per_donor + g;
            let received = now - Duration::days(((seq * 37) % 1000) as i64 + 1);
            gift::ActiveModel {
                id: NotSet,
                donor_id: Set(*donor_id),
                amount_minor: Set(1_000 + ((seq * 7_919) % 50_000) as i64),
                currency: Set("USD".into()),
                refunded_minor: Set(0),
                method: Set(PaymentMethod::Check),
                status: Set(GiftStatus::Succeeded),
                fund_id: Set(funds[seq % funds.len()]),
                campaign_id: Set(None),
                appeal_id: Set(None),
                pledge_id: Set(None),
                received_at: Set(received),
                check_number: Set(Some(format!("{}", 1000 + seq))),
                tribute_kind: Set(None),
                tribute_name: Set(None),
                tribute_notify_name: Set(None),
                tribute_notify_email: Set(None),
                tribute_notify_address: Set(None),
                tribute_show_amount: Set(false),
                benefits_minor: Set(0),
                benefits_description: Set(None),
                anonymous: Set(false),
                stripe_payment_intent_id: Set(None),
                stripe_invoice_id: Set(None),
                stripe_checkout_session_id: Set(None),
                stripe_charge_id: Set(None),
                idempotency_key: Set(None),
                notes: Set(None),
                processor_fee_minor: Set(None),
                refunds_as_of: Set(None),
                external_id: Set(None),
                created_at: Set(received),
                updated_at: Set(received),
            }
        })
    });
    insert_in_batches(db, gifts).await.unwrap();

    if plan.pledge_every > 0 {
        let members: Vec<i64> = donor_ids
            .iter()
            .copied()
            .step_by(plan.pledge_every)
            .collect();
        {
            let pledges = members.iter().map(|donor_id| pledge::ActiveModel {
                id: NotSet,
                donor_id: Set(*donor_id),
                source: Set(PledgeSource::Envelope),
                installment_minor: Set(5_000),
                currency: Set("USD".into()),
                frequency: Set(PledgeFrequency::Monthly),
                starts_on: Set(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()),
                ends_on: Set(None),
                installments_total: Set(None),
                status: Set(PledgeStatus::Active),
                fund_id: Set(1),
                appeal_id: Set(None),
                campaign_id: Set(None),
                stripe_subscription_id: Set(None),
                past_due_since: Set(None),
                paused_at: Set(None),
                cancelled_at: Set(None),
                cancel_reason: Set(None),
                installments_skipped: Set(0),
                stripe_state_at: Set(None),
                created_at: Set(created),
                updated_at: Set(created),
            });
            insert_in_batches(db, pledges).await.unwrap();
            let memberships = members.iter().map(|donor_id| tier_membership::ActiveModel {
                id: NotSet,
                donor_id: Set(*donor_id),
                tier_id: Set(1),
                joined_at: Set(created),
                join_reason: Set("annual pledge total reached the threshold".into()),
                annual_pledge_total_minor: Set(60_000),
                left_at: Set(None),
                leave_reason: Set(None),
                cause: Set(Some("seed".into())),
                created_at: Set(created),
            });
            insert_in_batches(db, memberships).await.unwrap();
        }
    }

    Seeded {
        donor_ids,
        fund_ids,
    }
}
