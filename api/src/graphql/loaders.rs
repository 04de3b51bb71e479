//! Batched loading: each loader turns the many lookups one response needs (a tier per
//! donor, gifts per donor, a fund per gift) into one SQL statement per batch, so a page
//! of donors costs the same few statements whatever its size.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use entity::enums::PledgeStatus;
use entity::{appeal, campaign, donor, fund, gift, giving_tier, pledge, receipt, tier_membership};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use async_graphql::ErrorExtensions;
use crate::domain::DomainError;

type LoadResult<V> = Result<HashMap<i64, V>, async_graphql::Error>;

fn failed(error: sea_orm::DbErr) -> async_graphql::Error {
    DomainError::from(error).extend()
}

/// Groups rows by a key, keeping their order.
fn group_by<T>(rows: Vec<T>, key: impl Fn(&T) -> i64) -> HashMap<i64, Vec<T>> {
    let mut groups: HashMap<i64, Vec<T>> = HashMap::new();
    for row in rows {
        groups.entry(key(&row)).or_default().push(row);
    }
    groups
}

macro_rules! by_id_loader {
    ($(#[$meta:meta])* $name:ident, $entity:ident) => {
        $(#[$meta])*
        pub struct $name(pub DatabaseConnection);

        impl Loader<i64> for $name {
            type Value = $entity::Model;
            type Error = async_graphql::Error;

            async fn load(&self, ids: &[i64]) -> LoadResult<$entity::Model> {
                let rows = $entity::Entity::find()
                    .filter($entity::Column::Id.is_in(ids.iter().copied()))
                    .all(&self.0)
                    .await
                    .map_err(failed)?;
                Ok(rows.into_iter().map(|row| (row.id, row)).collect())
            }
        }
    };
}

by_id_loader!(
    /// Donors by id.
    DonorById,
    donor
);
by_id_loader!(
    /// Funds by id.
    FundById,
    fund
);
by_id_loader!(
    /// Appeals by id.
    AppealById,
    appeal
);
by_id_loader!(
    /// Campaigns by id.
    CampaignById,
    campaign
);
by_id_loader!(
    /// Pledges by id.
    PledgeById,
    pledge
);
by_id_loader!(
    /// Tiers by id.
    TierById,
    giving_tier
);

/// Every gift of each donor, newest first: the donor's giving history, from which the
/// totals, first, last and largest gifts and the recent gifts are computed.
pub struct GiftsByDonor(pub DatabaseConnection);

impl Loader<i64> for GiftsByDonor {
    type Value = Arc<Vec<gift::Model>>;
    type Error = async_graphql::Error;

    async fn load(&self, donor_ids: &[i64]) -> LoadResult<Arc<Vec<gift::Model>>> {
        let rows = gift::Entity::find()
            .filter(gift::Column::DonorId.is_in(donor_ids.iter().copied()))
            .order_by_desc(gift::Column::ReceivedAt)
            .order_by_desc(gift::Column::Id)
            .all(&self.0)
            .await
            .map_err(failed)?;
        let mut groups = group_by(rows, |g| g.donor_id);
        Ok(donor_ids
            .iter()
            .map(|id| (*id, Arc::new(groups.remove(id).unwrap_or_default())))
            .collect())
    }
}

/// Each donor's active pledges, oldest first.
pub struct ActivePledgesByDonor(pub DatabaseConnection);

impl Loader<i64> for ActivePledgesByDonor {
    type Value = Arc<Vec<pledge::Model>>;
    type Error = async_graphql::Error;

    async fn load(&self, donor_ids: &[i64]) -> LoadResult<Arc<Vec<pledge::Model>>> {
        let rows = pledge::Entity::find()
            .filter(pledge::Column::DonorId.is_in(donor_ids.iter().copied()))
            .filter(pledge::Column::Status.eq(PledgeStatus::Active))
            .order_by_asc(pledge::Column::Id)
            .all(&self.0)
            .await
            .map_err(failed)?;
        let mut groups = group_by(rows, |p| p.donor_id);
        Ok(donor_ids
            .iter()
            .map(|id| (*id, Arc::new(groups.remove(id).unwrap_or_default())))
            .collect())
    }
}

/// Each donor's open tier membership (at most one, by a unique index).
pub struct OpenMembershipByDonor(pub DatabaseConnection);

impl Loader<i64> for OpenMembershipByDonor {
    type Value = tier_membership::Model;
    type Error = async_graphql::Error;

    async fn load(&self, donor_ids: &[i64]) -> LoadResult<tier_membership::Model> {
        let rows = tier_membership::Entity::find()
            .filter(tier_membership::Column::DonorId.is_in(donor_ids.iter().copied()))
            .filter(tier_membership::Column::LeftAt.is_null())
            .all(&self.0)
            .await
            .map_err(failed)?;
        Ok(rows.into_iter().map(|m| (m.donor_id, m)).collect())
    }
}

/// Each donor's receipts, newest first.
pub struct ReceiptsByDonor(pub DatabaseConnection);

impl Loader<i64> for ReceiptsByDonor {
    type Value = Arc<Vec<receipt::Model>>;
    type Error = async_graphql::Error;

    async fn load(&self, donor_ids: &[i64]) -> LoadResult<Arc<Vec<receipt::Model>>> {
        let rows = receipt::Entity::find()
            .filter(receipt::Column::DonorId.is_in(donor_ids.iter().copied()))
            .order_by_desc(receipt::Column::IssuedAt)
            .order_by_desc(receipt::Column::Id)
            .all(&self.0)
            .await
            .map_err(failed)?;
        let mut groups = group_by(rows, |r| r.donor_id);
        Ok(donor_ids
            .iter()
            .map(|id| (*id, Arc::new(groups.remove(id).unwrap_or_default())))
            .collect())
    }
}

/// The loaders, shared by every request. They keep no cache between requests, so
/// what a response shows is always read fresh; they only batch.
pub struct Loaders {
    pub donors: DataLoader<DonorById>,
    pub funds: DataLoader<FundById>,
    pub appeals: DataLoader<AppealById>,
    pub campaigns: DataLoader<CampaignById>,
    pub pledges: DataLoader<PledgeById>,
    pub tiers: DataLoader<TierById>,
    pub gifts_by_donor: DataLoader<GiftsByDonor>,
    pub active_pledges_by_donor: DataLoader<ActivePledgesByDonor>,
    pub open_membership_by_donor: DataLoader<OpenMembershipByDonor>,
    pub receipts_by_donor: DataLoader<ReceiptsByDonor>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        Loaders {
            donors: DataLoader::new(DonorById(db.clone()), tokio::spawn),
            funds: DataLoader::new(FundById(db.clone()), tokio::spawn),
            appeals: DataLoader::new(AppealById(db.clone()), tokio::spawn),
            campaigns: DataLoader::new(CampaignById(db.clone()), tokio::spawn),
            pledges: DataLoader::new(PledgeById(db.clone()), tokio::spawn),
            tiers: DataLoader::new(TierById(db.clone()), tokio::spawn),
            gifts_by_donor: DataLoader::new(GiftsByDonor(db.clone()), tokio::spawn),
            active_pledges_by_donor: DataLoader::new(ActivePledgesByDonor(db.clone()), tokio::spawn),
            open_membership_by_donor: DataLoader::new(
                OpenMembershipByDonor(db.clone()),
                tokio::spawn,
            ),
            receipts_by_donor: DataLoader::new(ReceiptsByDonor(db.clone()), tokio::spawn),
        }
    }
}

/// The loaders from the request context.
pub fn loaders<'a>(ctx: &async_graphql::Context<'a>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
}
