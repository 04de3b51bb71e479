//! Pledges: promises to give on a schedule. Staff record envelope pledges paid by
//! check; club memberships paid by card come from Stripe subscriptions.

use chrono::{Months, NaiveDate, Utc};
use entity::enums::{PledgeFrequency, PledgeSource, PledgeStatus};
use entity::{Money, donor, fund, pledge};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;

use super::club::{ClubPolicy, evaluate_membership, queue_pledge_email};
use super::offline_gifts::find_appeal_by_code;
use super::{Actor, DomainError, audit};
use crate::db::begin_write;

/// The most installments one pledge may promise (fifty years of monthly checks).
pub const MAX_INSTALLMENTS: i32 = 600;

/// An envelope pledge as staff enter it.
#[derive(Debug, Clone)]
pub struct NewEnvelopePledge {
    pub donor_id: i64,
    pub installment: Money,
    pub frequency: PledgeFrequency,
    pub starts_on: NaiveDate,
    /// `None` is open-ended.
    pub installments_total: Option<i32>,
    pub fund_id: i64,
    pub appeal_code: Option<String>,
}

/// Months between installments.
pub fn months_between_installments(frequency: PledgeFrequency) -> u32 {
    match frequency {
        PledgeFrequency::Monthly => 1,
        PledgeFrequency::Quarterly => 3,
        PledgeFrequency::Yearly => 12,
    }
}

/// The date the last installment falls due.
pub fn last_installment_on(
    starts_on: NaiveDate,
    frequency: PledgeFrequency,
    installments: i32,
) -> Option<NaiveDate> {
    let steps = u32::try_from(installments.checked_sub(1)?).ok()?;
    starts_on.checked_add_months(Months::new(steps * months_between_installments(frequency)))
}

/// Records an envelope pledge paid by check, with its audit entry, and re-evaluates
/// the donor's club membership.
pub async fn create_envelope_pledge(
    db: &DatabaseConnection,
    actor: &Actor,
    policy: &ClubPolicy,
    new: NewEnvelopePledge,
) -> Result<pledge::Model, DomainError> {
    if let Some(total) = new.installments_total
        && !(1..=MAX_INSTALLMENTS).contains(&total)
    {
        return Err(DomainError::validation(
            "installments",
            format!(
                "must be between 1 and {MAX_INSTALLMENTS}, or left out for an open-ended pledge"
            ),
        ));
    }
    let today = Utc::now().date_naive();
    if new.starts_on < today - chrono::Duration::days(366) {
        return Err(DomainError::validation(
            "startsOn",
            "is more than a year ago",
        ));
    }
    let txn = begin_write(db).await?;
    donor::Entity::find_by_id(new.donor_id)
        .one(&txn)
        .await?
        .ok_or_else(|| {
            DomainError::validation("donorId", format!("no donor has id {}", new.donor_id))
        })?;
    let fund = fund::Entity::find_by_id(new.fund_id)
        .one(&txn)
        .await?
        .ok_or_else(|| {
            DomainError::validation("fundId", format!("no fund has id {}", new.fund_id))
        })?;
    if fund.archived_at.is_some() {
        return Err(DomainError::validation(
            "fundId",
            format!(
                "the fund {:?} is archived and takes no new gifts",
                fund.name
            ),
        ));
    }
    let appeal = match new.appeal_code.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(code) => Some(find_appeal_by_code(&txn, code).await?.ok_or_else(|| {
            DomainError::validation(
                "appealCode",
                format!(
                    "no appeal has the source code {:?}",
                    code.trim().to_uppercase()
                ),
            )
        })?),
        None => None,
    };
    let ends_on = new
        .installments_total
        .and_then(|n| last_installment_on(new.starts_on, new.frequency, n));
    let now = Utc::now();
    let pledge = pledge::ActiveModel {
        donor_id: Set(new.donor_id),
        source: Set(PledgeSource::Envelope),
        installment_minor: Set(new.installment.amount_minor()),
        currency: Set(new.installment.currency().code().to_owned()),
        frequency: Set(new.frequency),
        starts_on: Set(new.starts_on),
        ends_on: Set(ends_on),
        installments_total: Set(new.installments_total),
        status: Set(PledgeStatus::Active),
        fund_id: Set(fund.id),
        appeal_id: Set(appeal.as_ref().map(|a| a.id)),
        campaign_id: Set(appeal.as_ref().map(|a| a.campaign_id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        "createPledge",
        "pledge",
        Some(pledge.id.to_string()),
        json!({
            "donorId": pledge.donor_id,
            "source": pledge.source.as_str(),
            "installmentMinor": pledge.installment_minor,
            "currency": pledge.currency,
            "frequency": pledge.frequency.as_str(),
            "startsOn": pledge.starts_on.to_string(),
            "endsOn": pledge.ends_on.map(|d| d.to_string()),
            "installmentsTotal": pledge.installments_total,
            "fundId": pledge.fund_id,
            "appealId": pledge.appeal_id,
        }),
    )
    .await?;
    queue_pledge_email(
        &txn,
        "club_welcome",
        format!("club_welcome:{}", pledge.id),
        &pledge,
        serde_json::Value::Null,
    )
    .await?;
    evaluate_membership(
        &txn,
        policy,
        pledge.donor_id,
        &format!("createPledge {} by {}", pledge.id, actor.name),
    )
    .await?;
    txn.commit().await?;
    Ok(pledge)
}

/// What to look for among pledges.
#[derive(Debug, Clone, Default)]
pub struct PledgeFilter {
    pub donor_id: Option<i64>,
    pub statuses: Vec<PledgeStatus>,
    pub source: Option<PledgeSource>,
    pub fund_id: Option<i64>,
    pub frequency: Option<PledgeFrequency>,
}

fn pledge_condition(filter: &PledgeFilter) -> Condition {
    let mut condition = Condition::all();
    if let Some(id) = filter.donor_id {
        condition = condition.add(pledge::Column::DonorId.eq(id));
    }
    if !filter.statuses.is_empty() {
        condition = condition.add(pledge::Column::Status.is_in(filter.statuses.clone()));
    }
    if let Some(source) = filter.source {
        condition = condition.add(pledge::Column::Source.eq(source));
    }
    if let Some(id) = filter.fund_id {
        condition = condition.add(pledge::Column::FundId.eq(id));
    }
    if let Some(frequency) = filter.frequency {
        condition = condition.add(pledge::Column::Frequency.eq(frequency));
    }
    condition
}

pub async fn count_pledges(
    db: &impl ConnectionTrait,
    filter: &PledgeFilter,
) -> Result<u64, DomainError> {
    Ok(pledge::Entity::find()
        .filter(pledge_condition(filter))
        .count(db)
        .await?)
}

/// One page of matching pledges, newest first.
pub async fn search_pledges(
    db: &impl ConnectionTrait,
    filter: &PledgeFilter,
    offset: u64,
    limit: u64,
) -> Result<Vec<pledge::Model>, DomainError> {
    Ok(pledge::Entity::find()
        .filter(pledge_condition(filter))
        .order_by_desc(pledge::Column::CreatedAt)
        .order_by_desc(pledge::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_monthly_installments_end_eleven_months_on() {
        let start = NaiveDate::from_ymd_opt(2026, 1, 31);
        let end = start.and_then(|s| last_installment_on(s, PledgeFrequency::Monthly, 12));
        assert_eq!(end, NaiveDate::from_ymd_opt(2026, 12, 31));
        let quarterly = start.and_then(|s| last_installment_on(s, PledgeFrequency::Quarterly, 4));
        assert_eq!(quarterly, NaiveDate::from_ymd_opt(2026, 10, 31));
    }
}
