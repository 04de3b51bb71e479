//! Batched loading: each loader turns the many lookups one response needs (a tier per
//! donor, gifts per donor, a fund per gift) into one SQL statement per batch, so a page
//! of donors costs the same few statements whatever its size.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{appeal, campaign, donor, fund, gift, giving_tier, pledge, receipt, tier_membership};
use sea_orm::DatabaseConnection;

use crate::domain::batch_reads;
use crate::domain::pledges::{InstallmentsReceived, installments_received};
use async_graphql::ErrorExtensions;

type LoadResult<V> = Result<HashMap<i64, V>, async_graphql::Error>;

/// Shares each donor's rows out of a batch, every asked-for donor with a list.
fn shared<T>(mut groups: HashMap<i64, Vec<T>>, donor_ids: &[i64]) -> HashMap<i64, Arc<Vec<T>>> {
    donor_ids
        .iter()
        .map(|id| (*id, Arc::new(groups.remove(id).unwrap_or_default())))
        .collect()
}

macro_rules! by_id_loader {
    ($(#[$meta:meta])* $name:ident, $entity:ident) => {
        $(#[$meta])*
        pub struct $name(pub DatabaseConnection);

        impl Loader<i64> for $name {
            type Value = $entity::Model;
            type Error = async_graphql::Error;

            async fn load(&self, ids: &[i64]) -> LoadResult<$entity::Model> {
                let rows = batch_reads::rows_by_id::<$entity::Entity>(
                    &self.0,
                    $entity::Column::Id,
                    ids,
                )
                .await
                .map_err(|e| e.extend())?;
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
        let groups = batch_reads::gifts_by_donor(&self.0, donor_ids)
            .await
            .map_err(|e| e.extend())?;
        Ok(shared(groups, donor_ids))
    }
}

/// Each donor's active pledges, oldest first.
pub struct ActivePledgesByDonor(pub DatabaseConnection);

impl Loader<i64> for ActivePledgesByDonor {
    type Value = Arc<Vec<pledge::Model>>;
    type Error = async_graphql::Error;

    async fn load(&self, donor_ids: &[i64]) -> LoadResult<Arc<Vec<pledge::Model>>> {
        let groups = batch_reads::active_pledges_by_donor(&self.0, donor_ids)
            .await
            .map_err(|e| e.extend())?;
        Ok(shared(groups, donor_ids))
    }
}

/// Each donor's open tier membership (at most one, by a unique index); `None` for a
/// donor in no tier, so that the answer is cached too.
pub struct OpenMembershipByDonor(pub DatabaseConnection);

impl Loader<i64> for OpenMembershipByDonor {
    type Value = Option<tier_membership::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, donor_ids: &[i64]) -> LoadResult<Option<tier_membership::Model>> {
        let mut open = batch_reads::open_membership_by_donor(&self.0, donor_ids)
            .await
            .map_err(|e| e.extend())?;
        Ok(donor_ids.iter().map(|id| (*id, open.remove(id))).collect())
    }
}

/// Each donor's receipts, newest first.
pub struct ReceiptsByDonor(pub DatabaseConnection);

impl Loader<i64> for ReceiptsByDonor {
    type Value = Arc<Vec<receipt::Model>>;
    type Error = async_graphql::Error;

    async fn load(&self, donor_ids: &[i64]) -> LoadResult<Arc<Vec<receipt::Model>>> {
        let groups = batch_reads::receipts_by_donor(&self.0, donor_ids)
            .await
            .map_err(|e| e.extend())?;
        Ok(shared(groups, donor_ids))
    }
}

/// What each pledge's installments have brought in (nothing yet is a zero count).
pub struct InstallmentsByPledge(pub DatabaseConnection);

impl Loader<i64> for InstallmentsByPledge {
    type Value = InstallmentsReceived;
    type Error = async_graphql::Error;

    async fn load(&self, pledge_ids: &[i64]) -> LoadResult<InstallmentsReceived> {
        let mut found = installments_received(&self.0, pledge_ids)
            .await
            .map_err(|e| e.extend())?;
        Ok(pledge_ids
            .iter()
            .map(|id| (*id, found.remove(id).unwrap_or_default()))
            .collect())
    }
}

type Cached<T> = DataLoader<T, HashMapCache>;

fn cached<T: Loader<i64>>(loader: T) -> Cached<T> {
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
}

/// The loaders of one request. Each request gets its own, so what one response shows
/// is read fresh, and within a response each record is read at most once.
pub struct Loaders {
    pub donors: Cached<DonorById>,
    pub funds: Cached<FundById>,
    pub appeals: Cached<AppealById>,
    pub campaigns: Cached<CampaignById>,
    pub pledges: Cached<PledgeById>,
    pub tiers: Cached<TierById>,
    pub gifts_by_donor: Cached<GiftsByDonor>,
    pub active_pledges_by_donor: Cached<ActivePledgesByDonor>,
    pub open_membership_by_donor: Cached<OpenMembershipByDonor>,
    pub receipts_by_donor: Cached<ReceiptsByDonor>,
    pub installments_by_pledge: Cached<InstallmentsByPledge>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        Loaders {
            donors: cached(DonorById(db.clone())),
            funds: cached(FundById(db.clone())),
            appeals: cached(AppealById(db.clone())),
            campaigns: cached(CampaignById(db.clone())),
            pledges: cached(PledgeById(db.clone())),
            tiers: cached(TierById(db.clone())),
            gifts_by_donor: cached(GiftsByDonor(db.clone())),
            active_pledges_by_donor: cached(ActivePledgesByDonor(db.clone())),
            open_membership_by_donor: cached(OpenMembershipByDonor(db.clone())),
            receipts_by_donor: cached(ReceiptsByDonor(db.clone())),
            installments_by_pledge: cached(InstallmentsByPledge(db.clone())),
        }
    }
}

/// The loaders from the request context.
pub fn loaders<'a>(ctx: &async_graphql::Context<'a>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

/// Fields of `Donor` computed from the donor's gift history.
const HISTORY_FIELDS: [&str; 9] = [
    "lifetimeGiving",
    "giftCount",
    "firstGift",
    "lastGift",
    "largestGift",
    "thisYearGiving",
    "lastYearGiving",
    "recentGifts",
    "gifts",
];

/// Loads, in one statement per kind, what the selected fields of a list of donors will
/// ask for, so that their resolvers find it in the request's cache. Without this, a
/// large page can outlast the loaders' batching window and split into several batches.
pub async fn prefetch_for_donors(
    loaders: &Loaders,
    node: async_graphql::Lookahead<'_>,
    donor_ids: &[i64],
) -> async_graphql::Result<()> {
    let mut fund_ids = std::collections::BTreeSet::new();
    let wants_history = HISTORY_FIELDS.iter().any(|f| node.field(f).exists());
    if wants_history {
        let histories = loaders
            .gifts_by_donor
            .load_many(donor_ids.iter().copied())
            .await?;
        let wants_gift_funds = HISTORY_FIELDS.iter().any(|f| {
            node.field(f).field("fund").exists()
                || node
                    .field(f)
                    .field("edges")
                    .field("node")
                    .field("fund")
                    .exists()
        });
        if wants_gift_funds {
            fund_ids.extend(histories.values().flat_map(|h| h.iter().map(|g| g.fund_id)));
        }
    }
    if node.field("currentTier").exists() {
        let memberships = loaders
            .open_membership_by_donor
            .load_many(donor_ids.iter().copied())
            .await?;
        loaders
            .tiers
            .load_many(memberships.values().flatten().map(|m| m.tier_id))
            .await?;
    }
    if node.field("activePledges").exists() {
        let pledges = loaders
            .active_pledges_by_donor
            .load_many(donor_ids.iter().copied())
            .await?;
        if node.field("activePledges").field("fund").exists() {
            fund_ids.extend(pledges.values().flat_map(|p| p.iter().map(|p| p.fund_id)));
        }
    }
    if node.field("receipts").exists() {
        loaders
            .receipts_by_donor
            .load_many(donor_ids.iter().copied())
            .await?;
    }
    if !fund_ids.is_empty() {
        loaders.funds.load_many(fund_ids).await?;
    }
    Ok(())
}
