//! Rows read in part: only the columns a caller names, decoded by their place in the
//! statement. A list that shows a few fields of many rows reads those few columns
//! instead of every column of every row (a gift row has 33). The other fields of a
//! model read in part hold placeholders; the caller names every column it then reads
//! (`graphql::projection` keeps, for each field of the staff API, the columns it reads).

use entity::enums::{DonorKind, GiftStatus, Language, PaymentMethod};
use entity::{donor, gift, tier_membership};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryResult, QuerySelect, QueryTrait, Select,
};

/// Some of one entity's columns: a bit for each, in the entity's own order (at most 64).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct ColumnSet(u64);

impl ColumnSet {
    /// The set holding `columns`.
    pub fn of<C: ColumnTrait>(columns: impl IntoIterator<Item = C>) -> Self {
        let mut set = ColumnSet::default();
        for column in columns {
            set.0 |= 1 << Self::place(&column);
        }
        set
    }

    /// The columns of both sets.
    pub fn with(self, other: ColumnSet) -> Self {
        ColumnSet(self.0 | other.0)
    }

    /// The set's columns, in the entity's order.
    pub fn columns<C: ColumnTrait>(self) -> Vec<C> {
        C::iter()
            .enumerate()
            .filter(|(place, _)| self.0 & (1 << place) != 0)
            .map(|(_, column)| column)
            .collect()
    }

    fn place<C: ColumnTrait>(column: &C) -> usize {
        let place = C::iter().position(|c| c.as_str() == column.as_str());
        debug_assert!(
            place.is_some_and(|place| place < 64),
            "a column set holds an entity's first 64 columns"
        );
        place.unwrap_or_default()
    }
}

/// An entity whose rows can be read in part.
pub trait ReadInPart: EntityTrait {
    /// The model of a row read as `columns`, in that order; the other fields hold
    /// placeholders.
    fn from_columns(row: &QueryResult, columns: &[Self::Column]) -> Result<Self::Model, DbErr>;
}

/// The rows `select` finds, only `columns` of each read.
pub async fn read_in_part<E: ReadInPart>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    columns: ColumnSet,
) -> Result<Vec<E::Model>, DbErr> {
    let columns: Vec<E::Column> = columns.columns();
    let query = select
        .select_only()
        .columns(columns.iter().copied())
        .into_query();
    let rows = db
        .query_all_raw(db.get_database_backend().build(&query))
        .await?;
    rows.iter()
        .map(|row| E::from_columns(row, &columns))
        .collect()
}

/// Implements [`ReadInPart`]: every column of the entity with the field it fills (the
/// match has no catch-all, so a column added to the entity and not here does not
/// build), and the placeholder model.
macro_rules! read_in_part {
    ($entity:ident, $placeholder:expr, { $($column:ident => $field:ident),* $(,)? }) => {
        impl ReadInPart for $entity::Entity {
            fn from_columns(
                row: &QueryResult,
                columns: &[$entity::Column],
            ) -> Result<$entity::Model, DbErr> {
                let mut model = $placeholder;
                for (place, column) in columns.iter().enumerate() {
                    match column {
                        $($entity::Column::$column => model.$field = row.try_get_by_index(place)?,)*
                    }
                }
                Ok(model)
            }
        }
    };
}

/// The time placeholders hold: no row was written then.
fn placeholder_time() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::UNIX_EPOCH
}

/// A gift read in part before its columns are filled in.
fn placeholder_gift() -> gift::Model {
    gift::Model {
        id: 0,
        donor_id: 0,
        amount_minor: 0,
        currency: String::new(),
        refunded_minor: 0,
        method: PaymentMethod::Card,
        status: GiftStatus::Pending,
        fund_id: 0,
        campaign_id: None,
        appeal_id: None,
        pledge_id: None,
        received_at: placeholder_time(),
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
        processor_fee_minor: None,
        refunds_as_of: None,
        external_id: None,
        created_at: placeholder_time(),
        updated_at: placeholder_time(),
    }
}

read_in_part!(
    gift,
    placeholder_gift(),
    {
        Id => id,
        DonorId => donor_id,
        AmountMinor => amount_minor,
        Currency => currency,
        RefundedMinor => refunded_minor,
        Method => method,
        Status => status,
        FundId => fund_id,
        CampaignId => campaign_id,
        AppealId => appeal_id,
        PledgeId => pledge_id,
        ReceivedAt => received_at,
        CheckNumber => check_number,
        TributeKind => tribute_kind,
        TributeName => tribute_name,
        TributeNotifyName => tribute_notify_name,
        TributeNotifyEmail => tribute_notify_email,
        TributeNotifyAddress => tribute_notify_address,
        TributeShowAmount => tribute_show_amount,
        BenefitsMinor => benefits_minor,
        BenefitsDescription => benefits_description,
        Anonymous => anonymous,
        StripePaymentIntentId => stripe_payment_intent_id,
        StripeInvoiceId => stripe_invoice_id,
        StripeCheckoutSessionId => stripe_checkout_session_id,
        StripeChargeId => stripe_charge_id,
        IdempotencyKey => idempotency_key,
        Notes => notes,
        ProcessorFeeMinor => processor_fee_minor,
        RefundsAsOf => refunds_as_of,
        ExternalId => external_id,
        CreatedAt => created_at,
        UpdatedAt => updated_at,
    }
);

/// A donor read in part before its columns are filled in.
fn placeholder_donor() -> donor::Model {
    donor::Model {
        id: 0,
        kind: DonorKind::Individual,
        display_name: String::new(),
        first_name: None,
        last_name: None,
        email: None,
        phone: None,
        address_line1: None,
        address_line2: None,
        city: None,
        region: None,
        postal_code: None,
        country: None,
        language: Language::English,
        email_consent: false,
        anonymous: false,
        search_text: String::new(),
        stripe_customer_id: None,
        appeals_unsubscribed_at: None,
        email_suppressed_at: None,
        email_suppressed_reason: None,
        notes: None,
        link_version: 0,
        external_id: None,
        created_at: placeholder_time(),
        updated_at: placeholder_time(),
    }
}

read_in_part!(
    donor,
    placeholder_donor(),
    {
        Id => id,
        Kind => kind,
        DisplayName => display_name,
        FirstName => first_name,
        LastName => last_name,
        Email => email,
        Phone => phone,
        AddressLine1 => address_line1,
        AddressLine2 => address_line2,
        City => city,
        Region => region,
        PostalCode => postal_code,
        Country => country,
        Language => language,
        EmailConsent => email_consent,
        Anonymous => anonymous,
        SearchText => search_text,
        StripeCustomerId => stripe_customer_id,
        AppealsUnsubscribedAt => appeals_unsubscribed_at,
        EmailSuppressedAt => email_suppressed_at,
        EmailSuppressedReason => email_suppressed_reason,
        Notes => notes,
        LinkVersion => link_version,
        ExternalId => external_id,
        CreatedAt => created_at,
        UpdatedAt => updated_at,
    }
);

/// A giving-club membership read in part before its columns are filled in.
fn placeholder_membership() -> tier_membership::Model {
    tier_membership::Model {
        id: 0,
        donor_id: 0,
        tier_id: 0,
        joined_at: placeholder_time(),
        join_reason: String::new(),
        annual_pledge_total_minor: 0,
        left_at: None,
        leave_reason: None,
        cause: None,
        created_at: placeholder_time(),
    }
}

read_in_part!(
    tier_membership,
    placeholder_membership(),
    {
        Id => id,
        DonorId => donor_id,
        TierId => tier_id,
        JoinedAt => joined_at,
        JoinReason => join_reason,
        AnnualPledgeTotalMinor => annual_pledge_total_minor,
        LeftAt => left_at,
        LeaveReason => leave_reason,
        Cause => cause,
        CreatedAt => created_at,
    }
);

#[cfg(test)]
#[allow(clippy::expect_used)] // A failed step should stop the test where it happened.
mod tests {
    use chrono::{Duration, Utc};
    use entity::enums::TributeKind;
    use entity::{appeal, campaign, fund};
    use sea_orm::{
        ActiveModelTrait, ColumnTrait, EntityTrait, IdenStatic, IntoActiveModel, Iterable,
        QueryFilter,
    };

    use super::*;

    #[test]
    fn every_entity_read_in_part_has_columns_a_set_can_hold() {
        assert!(gift::Column::iter().count() <= 64);
        assert!(donor::Column::iter().count() <= 64);
        assert!(tier_membership::Column::iter().count() <= 64);
    }

    #[test]
    fn a_set_names_its_columns_in_the_entitys_order() {
        use gift::Column::{AmountMinor, Id, Notes, UpdatedAt};
        let set = ColumnSet::of([Notes, Id, AmountMinor, Notes]);
        let names: Vec<&str> = set
            .columns::<gift::Column>()
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(names, ["id", "amount_minor", "notes"]);
        let both = set.with(ColumnSet::of([UpdatedAt]));
        let names: Vec<&str> = both
            .columns::<gift::Column>()
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(names, ["id", "amount_minor", "notes", "updated_at"]);
        let overlapping = set.with(ColumnSet::of([Notes, UpdatedAt]));
        assert_eq!(overlapping, both, "a column in both sets stays in");
        assert_eq!(
            ColumnSet::of(gift::Column::iter())
                .columns::<gift::Column>()
                .len(),
            33
        );
        assert_eq!(ColumnSet::default().columns::<donor::Column>().len(), 0);
    }

    /// A donor whose every column holds a value of its own.
    fn every_donor_column() -> donor::Model {
        let at = |days| chrono::DateTime::UNIX_EPOCH + Duration::days(days);
        donor::Model {
            id: 0,
            kind: DonorKind::Organization,
            display_name: "Weingart Foundation".into(),
            first_name: Some("first".into()),
            last_name: Some("last".into()),
            email: Some("grants@weingart.example.org".into()),
            phone: Some("+1 213 555 0100".into()),
            address_line1: Some("line 1".into()),
            address_line2: Some("line 2".into()),
            city: Some("Los Angeles".into()),
            region: Some("CA".into()),
            postal_code: Some("90017".into()),
            country: Some("US".into()),
            language: Language::Arabic,
            email_consent: true,
            anonymous: true,
            search_text: "weingart".into(),
            stripe_customer_id: Some("cus_1".into()),
            appeals_unsubscribed_at: Some(at(1)),
            email_suppressed_at: Some(at(2)),
            email_suppressed_reason: Some("bounced".into()),
            notes: Some("notes".into()),
            link_version: 7,
            external_id: Some("ext-d".into()),
            created_at: at(3),
            updated_at: at(4),
        }
    }

    /// A gift whose every column holds a value of its own (but its pledge).
    async fn every_gift_column(db: &impl ConnectionTrait, donor_id: i64) -> gift::Model {
        use sea_orm::Set;
        let now = Utc::now();
        let fund = fund::Entity::find()
            .filter(fund::Column::Code.eq("GENERAL"))
            .one(db)
            .await
            .expect("funds")
            .expect("the seeded General fund");
        let campaign = campaign::ActiveModel {
            name: Set("Spring".into()),
            goal_minor: Set(1_000_000),
            currency: Set("USD".into()),
            starts_on: Set(now.date_naive()),
            default_fund_id: Set(fund.id),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("a campaign");
        let appeal = appeal::ActiveModel {
            campaign_id: Set(campaign.id),
            name: Set("Spring letter".into()),
            channel: Set(entity::enums::AppealChannel::Letter),
            source_code: Set("SPRING26".into()),
            currency: Set("USD".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("an appeal");
        let at = |days| chrono::DateTime::UNIX_EPOCH + Duration::days(days);
        let mut active = gift::Model {
            id: 0,
            donor_id,
            amount_minor: 2_550,
            currency: "USD".into(),
            refunded_minor: 1_000,
            method: PaymentMethod::Check,
            status: GiftStatus::PartiallyRefunded,
            fund_id: fund.id,
            campaign_id: Some(campaign.id),
            appeal_id: Some(appeal.id),
            pledge_id: None,
            received_at: at(10),
            check_number: Some("1042".into()),
            tribute_kind: Some(TributeKind::InMemoryOf),
            tribute_name: Some("Rosa".into()),
            tribute_notify_name: Some("Ana".into()),
            tribute_notify_email: Some("ana@example.org".into()),
            tribute_notify_address: Some("1 Main St".into()),
            tribute_show_amount: true,
            benefits_minor: 500,
            benefits_description: Some("dinner".into()),
            anonymous: true,
            stripe_payment_intent_id: Some("pi_1".into()),
            stripe_invoice_id: Some("in_1".into()),
            stripe_checkout_session_id: Some("cs_1".into()),
            stripe_charge_id: Some("ch_1".into()),
            idempotency_key: Some("key-1".into()),
            notes: Some("gift notes".into()),
            processor_fee_minor: Some(105),
            refunds_as_of: Some(at(11)),
            external_id: Some("ext-g".into()),
            created_at: at(12),
            updated_at: at(13),
        }
        .into_active_model();
        active.id = sea_orm::ActiveValue::NotSet;
        active.insert(db).await.expect("the gift")
    }

    #[tokio::test]
    async fn a_row_read_in_part_holds_its_read_columns_and_only_those() {
        for test in crate::db::testing::each_backend().await {
            let db = &test.db;
            let mut active = every_donor_column().into_active_model();
            active.id = sea_orm::ActiveValue::NotSet;
            let donor = active.insert(db).await.expect("the donor");
            let gift = every_gift_column(db, donor.id).await;

            let by_id = donor::Entity::find().filter(donor::Column::Id.eq(donor.id));
            let all = read_in_part(db, by_id.clone(), ColumnSet::of(donor::Column::iter()))
                .await
                .expect("every column");
            assert_eq!(all, vec![donor.clone()]);
            let names = read_in_part(
                db,
                by_id,
                ColumnSet::of([donor::Column::DisplayName, donor::Column::Id]),
            )
            .await
            .expect("the name");
            let expected = donor::Model {
                id: donor.id,
                display_name: donor.display_name.clone(),
                ..placeholder_donor()
            };
            assert_eq!(names, vec![expected]);

            let by_id = gift::Entity::find().filter(gift::Column::Id.eq(gift.id));
            let all = read_in_part(db, by_id.clone(), ColumnSet::of(gift::Column::iter()))
                .await
                .expect("every column");
            assert_eq!(all, vec![gift.clone()]);
            let amounts = read_in_part(
                db,
                by_id,
                ColumnSet::of([gift::Column::Currency, gift::Column::AmountMinor]),
            )
            .await
            .expect("the amount");
            assert_eq!(amounts.len(), 1);
            assert_eq!(
                (amounts[0].amount_minor, amounts[0].currency.as_str()),
                (2_550, "USD")
            );
            assert_eq!((amounts[0].id, amounts[0].notes.as_deref()), (0, None));

            let at = |days| chrono::DateTime::UNIX_EPOCH + Duration::days(days);
            let mut active = tier_membership::Model {
                id: 0,
                donor_id: donor.id,
                tier_id: 1,
                joined_at: at(20),
                join_reason: "joined".into(),
                annual_pledge_total_minor: 60_000,
                left_at: Some(at(21)),
                leave_reason: Some("cancelled".into()),
                cause: Some("evt_1".into()),
                created_at: at(22),
            }
            .into_active_model();
            active.id = sea_orm::ActiveValue::NotSet;
            let membership = active.insert(db).await.expect("the membership");
            let by_id = tier_membership::Entity::find()
                .filter(tier_membership::Column::Id.eq(membership.id));
            let all = read_in_part(
                db,
                by_id.clone(),
                ColumnSet::of(tier_membership::Column::iter()),
            )
            .await
            .expect("every column");
            assert_eq!(all, vec![membership.clone()]);
            let when = read_in_part(
                db,
                by_id,
                ColumnSet::of([
                    tier_membership::Column::LeftAt,
                    tier_membership::Column::DonorId,
                ]),
            )
            .await
            .expect("when it ended");
            let expected = tier_membership::Model {
                donor_id: donor.id,
                left_at: Some(at(21)),
                ..placeholder_membership()
            };
            assert_eq!(when, vec![expected]);
            test.close().await;
        }
    }
}
