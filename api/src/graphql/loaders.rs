//! Batched loading: each loader turns the many lookups one response needs (a tier per
//! donor, gifts per donor, a fund per gift) into one SQL statement per batch, so a page
//! of donors costs the same few statements whatever its size.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{appeal, campaign, donor, fund, gift, giving_tier, pledge, receipt, tier_membership};
use sea_orm::{DatabaseConnection, EntityTrait};

use super::projection;
use crate::domain::batch_reads;
use crate::domain::partial_rows::ColumnSet;
use crate::domain::pledges::{InstallmentsReceived, installments_received};
use crate::read_cache::{Expiring, FUNDS_AND_TIERS, Topic};
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
/// Keys read in part gathered by the columns they read: one statement for each set.
fn by_columns(keys: &[(i64, ColumnSet)]) -> HashMap<ColumnSet, Vec<i64>> {
    let mut by_columns: HashMap<ColumnSet, Vec<i64>> = HashMap::new();
    for (id, columns) in keys {
        by_columns.entry(*columns).or_default().push(*id);
    }
    by_columns
}

/// Donors by id, read in part: each key names the columns to read (see `projection`).
/// Kept apart from `DonorById`, so a donor read in part never answers a field that
/// needs another column.
pub struct DonorPartsById(pub DatabaseConnection);

impl Loader<(i64, ColumnSet)> for DonorPartsById {
    type Value = donor::Model;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[(i64, ColumnSet)],
    ) -> Result<HashMap<(i64, ColumnSet), donor::Model>, async_graphql::Error> {
        let mut found = HashMap::new();
        for (columns, ids) in by_columns(keys) {
            let rows = batch_reads::rows_by_id_in_part::<donor::Entity>(
                &self.0,
                donor::Column::Id,
                &ids,
                columns,
            )
            .await
            .map_err(|e| e.extend())?;
            found.extend(rows.into_iter().map(|row| ((row.id, columns), row)));
        }
        Ok(found)
    }
}

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
/// The organization's funds and giving tiers, a few rows each, kept whole for the read
/// cache's lifetime and shared by every request (see `read_cache`): a fund's or a tier's
/// name in a response lags a change made by another process by at most that lifetime,
/// and one made through this process not at all. An id that the kept rows do not hold
/// reads its table again, so a fund or tier added by another process is found at once.
pub struct ReferenceRows {
    funds: Expiring<(), Arc<HashMap<i64, fund::Model>>>,
    tiers: Expiring<(), Arc<HashMap<i64, giving_tier::Model>>>,
}

impl ReferenceRows {
    /// Rows kept for `lifetime` (zero keeps nothing: every batch reads its table).
    pub fn new(lifetime: Duration) -> Self {
        Self::changed_with(&FUNDS_AND_TIERS, lifetime)
    }

    /// Rows forgotten whenever `topic` changes.
    fn changed_with(topic: &'static Topic, lifetime: Duration) -> Self {
        ReferenceRows {
            funds: Expiring::new(topic, lifetime),
            tiers: Expiring::new(topic, lifetime),
        }
    }
}

/// The rows of `ids` from `kept`, the whole table read again when the copy is stale or
/// does not hold one of them.
async fn kept_rows<E>(
    kept: &Expiring<(), Arc<HashMap<i64, E::Model>>>,
    db: &DatabaseConnection,
    ids: &[i64],
    id_of: fn(&E::Model) -> i64,
) -> LoadResult<E::Model>
where
    E: EntityTrait,
    E::Model: Clone + Send + Sync,
{
    let table = kept
        .get_or_read_unless(
            (),
            |rows| ids.iter().any(|id| !rows.contains_key(id)),
            || async {
                let rows = E::find()
                    .all(db)
                    .await
                    .map_err(|e| crate::domain::DomainError::from(e).extend())?;
                Ok::<_, async_graphql::Error>(Arc::new(
                    rows.into_iter().map(|row| (id_of(&row), row)).collect(),
                ))
            },
        )
        .await?;
    Ok(ids
        .iter()
        .filter_map(|id| table.get(id).map(|row| (*id, row.clone())))
        .collect())
}

macro_rules! kept_loader {
    ($(#[$meta:meta])* $name:ident, $entity:ident, $table:ident) => {
        $(#[$meta])*
        pub struct $name {
            db: DatabaseConnection,
            kept: Arc<ReferenceRows>,
        }

        impl Loader<i64> for $name {
            type Value = $entity::Model;
            type Error = async_graphql::Error;

            async fn load(&self, ids: &[i64]) -> LoadResult<$entity::Model> {
                kept_rows::<$entity::Entity>(&self.kept.$table, &self.db, ids, |row| row.id).await
            }
        }
    };
}

kept_loader!(
    /// Funds by id, from the kept rows.
    FundById,
    fund,
    funds
);
kept_loader!(
    /// Tiers by id, from the kept rows.
    TierById,
    giving_tier,
    tiers
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

/// [`GiftsByDonor`] read in part: each key names the columns to read (see
/// `projection::history_columns`). Kept apart, as `DonorPartsById` is.
pub struct GiftPartsByDonor(pub DatabaseConnection);

impl Loader<(i64, ColumnSet)> for GiftPartsByDonor {
    type Value = Arc<Vec<gift::Model>>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[(i64, ColumnSet)],
    ) -> Result<HashMap<(i64, ColumnSet), Arc<Vec<gift::Model>>>, async_graphql::Error> {
        let mut found = HashMap::new();
        for (columns, donor_ids) in by_columns(keys) {
            let groups = batch_reads::gifts_by_donor_in_part(&self.0, &donor_ids, columns)
                .await
                .map_err(|e| e.extend())?;
            found.extend(
                shared(groups, &donor_ids)
                    .into_iter()
                    .map(|(id, gifts)| ((id, columns), gifts)),
            );
        }
        Ok(found)
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

fn cached<K, T>(loader: T) -> Cached<T>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    T: Loader<K>,
{
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
}

/// The loaders of one request. Each request gets its own, so what one response shows
/// is read fresh, and within a response each record is read at most once; funds and
/// tiers come from the rows kept for every request (`ReferenceRows`).
pub struct Loaders {
    pub donors: Cached<DonorById>,
    pub donor_parts: Cached<DonorPartsById>,
    pub funds: Cached<FundById>,
    pub appeals: Cached<AppealById>,
    pub campaigns: Cached<CampaignById>,
    pub pledges: Cached<PledgeById>,
    pub tiers: Cached<TierById>,
    pub gifts_by_donor: Cached<GiftsByDonor>,
    pub gift_parts_by_donor: Cached<GiftPartsByDonor>,
    pub active_pledges_by_donor: Cached<ActivePledgesByDonor>,
    pub open_membership_by_donor: Cached<OpenMembershipByDonor>,
    pub receipts_by_donor: Cached<ReceiptsByDonor>,
    pub installments_by_pledge: Cached<InstallmentsByPledge>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection, kept: &Arc<ReferenceRows>) -> Self {
        Loaders {
            donors: cached(DonorById(db.clone())),
            donor_parts: cached(DonorPartsById(db.clone())),
            funds: cached(FundById {
                db: db.clone(),
                kept: kept.clone(),
            }),
            appeals: cached(AppealById(db.clone())),
            campaigns: cached(CampaignById(db.clone())),
            pledges: cached(PledgeById(db.clone())),
            tiers: cached(TierById {
                db: db.clone(),
                kept: kept.clone(),
            }),
            gifts_by_donor: cached(GiftsByDonor(db.clone())),
            gift_parts_by_donor: cached(GiftPartsByDonor(db.clone())),
            active_pledges_by_donor: cached(ActivePledgesByDonor(db.clone())),
            open_membership_by_donor: cached(OpenMembershipByDonor(db.clone())),
            receipts_by_donor: cached(ReceiptsByDonor(db.clone())),
            installments_by_pledge: cached(InstallmentsByPledge(db.clone())),
        }
    }
}

/// Reads `keys` now, in one statement, and keeps what it finds in the request's cache,
/// so the fields that ask for them next find them there instead of waiting out a batch's
/// window. For reads whose keys are already known: the rows of a page, one donor's.
pub async fn prime<K, T>(
    loader: &Cached<T>,
    keys: impl IntoIterator<Item = K>,
) -> async_graphql::Result<HashMap<K, T::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Ord + Clone + 'static,
    T: Loader<K, Error = async_graphql::Error>,
{
    let keys: Vec<K> = keys
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let found = loader.loader().load(&keys).await?;
    loader
        .feed_many(
            found
                .iter()
                .map(|(key, value)| (key.clone(), value.clone())),
        )
        .await;
    Ok(found)
}

/// A donor for a field whose own fields are `selected`: read in part when `projection`
/// lists them all, whole otherwise.
pub async fn donor_for<'a>(
    loaders: &Loaders,
    id: i64,
    selected: impl IntoIterator<Item = async_graphql::SelectionField<'a>>,
) -> async_graphql::Result<Option<donor::Model>> {
    match projection::DONOR.columns(selected) {
        Some(columns) => Ok(loaders.donor_parts.load_one((id, columns)).await?),
        None => Ok(loaders.donors.load_one(id).await?),
    }
}

/// A donor's gift history, newest first: only `columns` of each gift when given (see
/// `projection::history_columns`), whole rows otherwise.
pub async fn history_for(
    loaders: &Loaders,
    donor_id: i64,
    columns: Option<ColumnSet>,
) -> async_graphql::Result<Arc<Vec<gift::Model>>> {
    let history = match columns {
        Some(columns) => {
            loaders
                .gift_parts_by_donor
                .load_one((donor_id, columns))
                .await?
        }
        None => loaders.gifts_by_donor.load_one(donor_id).await?,
    };
    Ok(history.unwrap_or_default())
}

/// Reads now, in one statement, the donors of `ids` for the `donor` field of a page's
/// nodes: only the columns the fields asked of them need, or whole rows (see
/// `projection`); nothing when the nodes do not ask for their donor. Returns them by id,
/// to be handed to the nodes.
pub async fn prime_nodes_donors(
    loaders: &Loaders,
    page: &async_graphql::Lookahead<'_>,
    ids: Vec<i64>,
) -> async_graphql::Result<HashMap<i64, donor::Model>> {
    let edges = page.field("edges").field("node").field("donor");
    let nodes = page.field("nodes").field("donor");
    if !edges.exists() && !nodes.exists() {
        return Ok(HashMap::new());
    }
    let mut selected = projection::object_fields(&edges);
    selected.extend(projection::object_fields(&nodes));
    match projection::DONOR.columns(selected) {
        Some(columns) => Ok(prime(
            &loaders.donor_parts,
            ids.into_iter().map(|id| (id, columns)),
        )
        .await?
        .into_iter()
        .map(|((id, _), donor)| (id, donor))
        .collect()),
        None => prime(&loaders.donors, ids).await,
    }
}

/// Whether the nodes of a page ask for `field`, through `edges { node }` or `nodes`.
pub fn nodes_ask_for(page: &async_graphql::Lookahead<'_>, field: &str) -> bool {
    page.field("edges").field("node").field(field).exists()
        || page.field("nodes").field(field).exists()
}

/// The loaders from the request context.
pub fn loaders<'a>(ctx: &async_graphql::Context<'a>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

/// Loads, in one statement per kind, what the selected fields of a list of donors will
/// ask for, so that their resolvers find it in the request's cache. Without this, a
/// large page can outlast the loaders' batching window and split into several batches.
/// `history` names the columns the donors' gift history is read in, as their `Donor`s
/// read it (`projection::history_columns`; `None`: whole rows).
pub async fn prefetch_for_donors(
    loaders: &Loaders,
    node: async_graphql::Lookahead<'_>,
    donor_ids: &[i64],
    history: Option<ColumnSet>,
) -> async_graphql::Result<()> {
    let mut fund_ids = std::collections::BTreeSet::new();
    let history_fields = projection::DONOR_HISTORY.map(|(field, _)| field);
    if history_fields.iter().any(|f| node.field(f).exists()) {
        let histories: Vec<Arc<Vec<gift::Model>>> = match history {
            Some(columns) => prime(
                &loaders.gift_parts_by_donor,
                donor_ids.iter().map(|id| (*id, columns)),
            )
            .await?
            .into_values()
            .collect(),
            None => prime(&loaders.gifts_by_donor, donor_ids.iter().copied())
                .await?
                .into_values()
                .collect(),
        };
        // A list of gifts (`firstGift`, `recentGifts`) or a page of them (`gifts`).
        let wants_gift_funds = history_fields.iter().any(|f| {
            let gifts = node.field(f);
            gifts.field("fund").exists() || nodes_ask_for(&gifts, "fund")
        });
        if wants_gift_funds {
            fund_ids.extend(histories.iter().flat_map(|h| h.iter().map(|g| g.fund_id)));
        }
    }
    if node.field("currentTier").exists() {
        let memberships =
            prime(&loaders.open_membership_by_donor, donor_ids.iter().copied()).await?;
        prime(
            &loaders.tiers,
            memberships.values().flatten().map(|m| m.tier_id),
        )
        .await?;
    }
    if node.field("activePledges").exists() {
        let pledges = prime(&loaders.active_pledges_by_donor, donor_ids.iter().copied()).await?;
        if node.field("activePledges").field("fund").exists() {
            fund_ids.extend(pledges.values().flat_map(|p| p.iter().map(|p| p.fund_id)));
        }
    }
    if node.field("receipts").exists() {
        prime(&loaders.receipts_by_donor, donor_ids.iter().copied()).await?;
    }
    if !fund_ids.is_empty() {
        prime(&loaders.funds, fund_ids).await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Answers every id but 13 with its square, and keeps the ids of each call.
    #[derive(Default)]
    struct Squares(Arc<Mutex<Vec<Vec<i64>>>>);

    impl Loader<i64> for Squares {
        type Value = i64;
        type Error = async_graphql::Error;

        async fn load(&self, ids: &[i64]) -> LoadResult<i64> {
            self.0.lock().unwrap().push(ids.to_vec());
            Ok(ids
                .iter()
                .filter(|id| **id != 13)
                .map(|id| (*id, id * id))
                .collect())
        }
    }

    #[tokio::test]
    async fn priming_reads_each_id_once_in_one_call_and_keeps_what_it_found() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let loader = cached(Squares(calls.clone()));
        let found = prime(&loader, [3, 1, 3, 13]).await.unwrap();
        assert_eq!(found, HashMap::from([(1, 1), (3, 9)]));
        assert_eq!(*calls.lock().unwrap(), vec![vec![1, 3, 13]]);

        assert_eq!(loader.load_one(3).await.unwrap(), Some(9));
        assert_eq!(
            loader.load_many([1, 3]).await.unwrap(),
            HashMap::from([(1, 1), (3, 9)])
        );
        assert_eq!(
            calls.lock().unwrap().len(),
            1,
            "{:?}",
            calls.lock().unwrap()
        );

        // What was not found is not kept: asking again reads it.
        assert_eq!(loader.load_one(13).await.unwrap(), None);
        assert_eq!(calls.lock().unwrap().len(), 2);
    }

    /// A page whose every node says which of its fields the page's nodes were asked for.
    #[derive(async_graphql::SimpleObject)]
    struct Node {
        donor: bool,
        fund: bool,
        asked: String,
    }

    #[derive(async_graphql::SimpleObject)]
    struct Edge {
        node: Node,
    }

    #[derive(async_graphql::SimpleObject)]
    struct Listed {
        edges: Vec<Edge>,
        nodes: Vec<Node>,
    }

    struct Pages;

    #[async_graphql::Object]
    impl Pages {
        async fn page(&self, ctx: &async_graphql::Context<'_>) -> Listed {
            let page = ctx.look_ahead();
            let asked = ["donor", "fund", "tier"]
                .into_iter()
                .filter(|field| nodes_ask_for(&page, field))
                .collect::<Vec<_>>()
                .join(",");
            let node = || Node {
                donor: true,
                fund: true,
                asked: asked.clone(),
            };
            Listed {
                edges: vec![Edge { node: node() }],
                nodes: vec![node()],
            }
        }
    }

    async fn asked_of(query: &str) -> Vec<String> {
        let schema = async_graphql::Schema::new(
            Pages,
            async_graphql::EmptyMutation,
            async_graphql::EmptySubscription,
        );
        let response = schema.execute(query).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let data = response.data.into_json().unwrap();
        let page = &data["page"];
        [
            &page["edges"][0]["node"]["asked"],
            &page["nodes"][0]["asked"],
        ]
        .into_iter()
        .filter_map(|asked| asked.as_str().map(str::to_owned))
        .collect()
    }

    #[tokio::test]
    async fn a_page_knows_which_fields_its_nodes_ask_for_through_edges_or_nodes() {
        assert_eq!(
            asked_of("{ page { edges { node { donor asked } } } }").await,
            ["donor"]
        );
        assert_eq!(
            asked_of("{ page { nodes { fund asked } } }").await,
            ["fund"]
        );
        assert_eq!(
            asked_of("{ page { edges { node { asked } } nodes { donor fund } } }").await,
            ["donor,fund"]
        );
        assert_eq!(asked_of("{ page { nodes { asked } } }").await, [""]);
    }

    /// What a donor's fields ask of the loaders, in shapes of the API's own names.
    #[derive(async_graphql::SimpleObject)]
    struct Named {
        name: String,
    }

    #[derive(async_graphql::SimpleObject)]
    struct WithFund {
        fund: Named,
    }

    #[derive(async_graphql::SimpleObject)]
    struct GiftEdge {
        node: WithFund,
    }

    #[derive(async_graphql::SimpleObject)]
    struct Gifts {
        edges: Vec<GiftEdge>,
    }

    #[derive(async_graphql::SimpleObject)]
    struct Probe {
        lifetime_giving: i32,
        current_tier: Named,
        active_pledges: Vec<WithFund>,
        gifts: Gifts,
        receipts: i32,
    }

    /// The statements the last probe ran: prefetching, then every read its fields make.
    #[derive(Default)]
    struct Counts(Mutex<Option<(usize, usize)>>);

    struct Prefetching {
        db: DatabaseConnection,
        statements: Arc<std::sync::atomic::AtomicUsize>,
        kept: Arc<ReferenceRows>,
    }

    #[async_graphql::Object]
    impl Prefetching {
        async fn probe(
            &self,
            ctx: &async_graphql::Context<'_>,
            ids: Vec<i64>,
        ) -> async_graphql::Result<Probe> {
            use std::sync::atomic::Ordering::SeqCst;
            let loaders = Loaders::new(&self.db, &self.kept);
            let before = self.statements.load(SeqCst);
            let history = projection::history_columns(projection::object_fields(&ctx.look_ahead()));
            assert!(history.is_some(), "the probe's gifts are read in part");
            prefetch_for_donors(&loaders, ctx.look_ahead(), &ids, history).await?;
            let prefetching = self.statements.load(SeqCst) - before;
            let mut histories = HashMap::new();
            for id in &ids {
                histories.insert(*id, history_for(&loaders, *id, history).await?);
            }
            let memberships = loaders
                .open_membership_by_donor
                .load_many(ids.clone())
                .await?;
            loaders
                .tiers
                .load_many(memberships.values().flatten().map(|m| m.tier_id))
                .await?;
            let pledges = loaders
                .active_pledges_by_donor
                .load_many(ids.clone())
                .await?;
            loaders.receipts_by_donor.load_many(ids.clone()).await?;
            let mut funds: Vec<i64> = Vec::new();
            for history in histories.values() {
                funds.extend(history.iter().map(|gift| gift.fund_id));
            }
            for active in pledges.values() {
                funds.extend(active.iter().map(|pledge| pledge.fund_id));
            }
            loaders.funds.load_many(funds).await?;
            let reading = self.statements.load(SeqCst) - before - prefetching;
            *ctx.data_unchecked::<Arc<Counts>>().0.lock().unwrap() = Some((prefetching, reading));
            let named = || Named {
                name: String::new(),
            };
            Ok(Probe {
                lifetime_giving: 0,
                current_tier: named(),
                active_pledges: vec![],
                gifts: Gifts { edges: vec![] },
                receipts: 0,
            })
        }
    }

    #[tokio::test]
    async fn prefetching_donors_leaves_nothing_for_their_fields_to_read() {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::config::DatabaseUrl::new(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("giving.db").display()
        ));
        let mut db = crate::db::connect(&url).await.unwrap();
        <migration::Migrator as migration::MigratorTrait>::up(&db, None)
            .await
            .unwrap();
        let org = mailer::config::Organization {
            legal_name: "Giving".into(),
            ein: "12-3456789".into(),
            address: String::new(),
            timezone: chrono_tz::UTC,
            tribute_notifications_per_day: 0,
        };
        let plan = crate::bench_data::BenchPlan {
            donors: 60,
            seed: 7,
            as_of: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        };
        crate::bench_data::seed_bench(&db, &org, plan)
            .await
            .unwrap();
        let statements = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let counts = Arc::new(Counts::default());
        static FUNDS_AND_TIERS: Topic = Topic::new();
        let kept = ReferenceRows::changed_with(&FUNDS_AND_TIERS, Duration::from_secs(3_600));
        let schema = async_graphql::Schema::build(
            Prefetching {
                db,
                statements,
                kept: Arc::new(kept),
            },
            async_graphql::EmptyMutation,
            async_graphql::EmptySubscription,
        )
        .data(counts.clone())
        .finish();
        let ids: Vec<i64> = (1..=60).collect();
        let probe = |query: &str| {
            async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(
                serde_json::json!({ "ids": ids }),
            ))
        };

        let everything = "query($ids: [Int!]!) { probe(ids: $ids) { lifetimeGiving
            currentTier { name } activePledges { fund { name } } receipts
            gifts { edges { node { fund { name } } } } } }";
        let response = schema.execute(probe(everything)).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let (prefetching, reading) = counts.0.lock().unwrap().take().unwrap();
        // Gifts, memberships, tiers, pledges, receipts, funds: one statement each.
        assert_eq!((prefetching, reading), (6, 0));

        // The funds and tiers are kept for the next request, until they change.
        let response = schema.execute(probe(everything)).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let (prefetching, reading) = counts.0.lock().unwrap().take().unwrap();
        assert_eq!((prefetching, reading), (4, 0), "funds and tiers kept");
        FUNDS_AND_TIERS.changed();
        schema.execute(probe(everything)).await;
        let (prefetching, _) = counts.0.lock().unwrap().take().unwrap();
        assert_eq!(prefetching, 6, "read again once they changed");

        // Asked for nothing the loaders hold, it reads nothing ahead.
        let response = schema
            .execute(probe(
                "query($ids: [Int!]!) { probe(ids: $ids) { receipts } }",
            ))
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let (prefetching, _) = counts.0.lock().unwrap().take().unwrap();
        assert_eq!(prefetching, 1, "receipts only");
    }

    /// Names of the funds `ids` as a new request's loaders find them, and how many
    /// statements that took.
    async fn fund_names(
        db: &DatabaseConnection,
        statements: &std::sync::atomic::AtomicUsize,
        kept: &Arc<ReferenceRows>,
        ids: Vec<i64>,
    ) -> (Vec<String>, usize) {
        let before = statements.load(std::sync::atomic::Ordering::SeqCst);
        let found = Loaders::new(db, kept)
            .funds
            .load_many(ids.iter().copied())
            .await
            .unwrap();
        let names = ids
            .iter()
            .filter_map(|id| found.get(id).map(|fund| fund.name.clone()))
            .collect();
        (
            names,
            statements.load(std::sync::atomic::Ordering::SeqCst) - before,
        )
    }

    #[tokio::test]
    async fn kept_funds_are_read_again_when_they_change_or_lack_an_id_asked_for() {
        use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
        for mut test in crate::db::testing::each_backend().await {
            let statements = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let counter = statements.clone();
            test.db.set_metric_callback(move |_| {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
            let db = &test.db;
            static TOPIC: Topic = Topic::new();
            let kept = Arc::new(ReferenceRows::changed_with(
                &TOPIC,
                Duration::from_secs(3_600),
            ));
            let general = fund::Entity::find().one(db).await.unwrap().unwrap();
            let names = |ids: Vec<i64>| fund_names(db, &statements, &kept, ids);

            assert_eq!(
                names(vec![general.id]).await,
                (vec![general.name.clone()], 1)
            );
            assert_eq!(
                names(vec![general.id]).await,
                (vec![general.name.clone()], 0),
                "kept for the next request"
            );

            // Added by another process: not among the kept rows, so the table is read again.
            let at = chrono::Utc::now();
            let added = fund::ActiveModel {
                name: Set("Bond Fund".to_owned()),
                code: Set("BOND".to_owned()),
                restricted: Set(true),
                created_at: Set(at),
                updated_at: Set(at),
                ..Default::default()
            }
            .insert(db)
            .await
            .unwrap();
            let both = vec![general.id, added.id];
            let named = vec![general.name.clone(), "Bond Fund".to_owned()];
            assert_eq!(names(both.clone()).await, (named.clone(), 1));
            assert_eq!(names(both.clone()).await, (named, 0));

            // Renamed by another process: the kept name stands until the topic changes
            // (the read cache's lifetime bounds how long in the service).
            db.execute_unprepared(&format!(
                "UPDATE funds SET name = 'Renamed' WHERE id = {}",
                general.id
            ))
            .await
            .unwrap();
            assert_eq!(names(vec![general.id]).await.0, vec![general.name.clone()]);
            TOPIC.changed();
            assert_eq!(
                names(vec![general.id]).await,
                (vec!["Renamed".to_owned()], 1)
            );

            // An id that no fund has reads the table each time and finds nothing.
            assert_eq!(names(vec![999_999]).await, (vec![], 1));
            assert_eq!(names(vec![999_999]).await, (vec![], 1));

            // A lifetime of zero keeps nothing: every batch reads.
            let unkept = Arc::new(ReferenceRows::changed_with(&TOPIC, Duration::ZERO));
            for _ in 0..2 {
                assert_eq!(
                    fund_names(db, &statements, &unkept, vec![general.id]).await,
                    (vec!["Renamed".to_owned()], 1)
                );
            }
            test.close().await;
        }
    }

    #[tokio::test]
    async fn priming_nothing_reads_nothing() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let loader = cached(Squares(calls.clone()));
        assert!(prime(&loader, []).await.unwrap().is_empty());
        assert!(calls.lock().unwrap().is_empty());
    }
}
