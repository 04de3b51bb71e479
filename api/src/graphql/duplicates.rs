//! Duplicate donors: the pairs that may be one person, and merging two records into one.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};

use super::access::requires_role;
use super::context::{actor, config, db, parse_id};
use super::donors::Donor;
use super::errors::{GqlResultExt, NOT_FOUND, coded};
use super::loaders::loaders;
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, placed_page};
use super::tokens::Role;
use crate::domain::club::MembershipChange;
use crate::domain::donor_merge::{self, MergeCounts};
use crate::domain::duplicates::{self, DuplicatePair};
use crate::domain::keyset::page_in_memory;

/// Why two donor records may be one person.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::duplicates::DuplicateReason")]
pub enum DuplicateReason {
    /// The same name (ignoring case, accents and punctuation) at the same postal code.
    SameNameAndPostalCode,
    /// The same phone number, ignoring formatting and a leading US country code.
    SamePhone,
    /// Emails that reach one mailbox: they differ only by a `+tag`, or by dots in a
    /// Gmail address.
    SameMailbox,
    /// Emails with the same local part at different domains.
    SameEmailLocalPart,
}

/// Two donor records that may be one person, the older record first.
pub struct PossibleDuplicate(DuplicatePair);

/// Two donor records that may be one person, the older record first (staff only).
/// Role: staff.
#[Object(directive = requires_role::apply(Role::Staff))]
impl PossibleDuplicate {
    /// The older record (the lower id).
    async fn first(&self, ctx: &Context<'_>) -> Result<Donor> {
        load_donor(ctx, self.0.first_id).await
    }

    /// The newer record.
    async fn second(&self, ctx: &Context<'_>) -> Result<Donor> {
        load_donor(ctx, self.0.second_id).await
    }

    /// Every reason that says the two may be one.
    async fn reasons(&self) -> Vec<DuplicateReason> {
        self.0.reasons.iter().copied().map(Into::into).collect()
    }
}

async fn load_donor(ctx: &Context<'_>, id: i64) -> Result<Donor> {
    loaders(ctx)?
        .donors
        .load_one(id)
        .await?
        .map(Donor::from)
        .ok_or_else(|| coded(format!("donor {id} was not found"), NOT_FOUND))
}

#[derive(Default)]
pub struct DuplicateQuery;

#[Object]
impl DuplicateQuery {
    /// Pairs of donor records that may be one person, with the reasons, by the older
    /// record's id, a page at a time. Staff only. A name, phone or email shared by more
    /// than ten donors is taken as a placeholder and pairs nobody. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn possible_duplicates(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<PossibleDuplicate>> {
        const ORDER: &str = "duplicates-by-id";
        let request = PageArgs::new(after, before, first, last).keyed(ORDER)?;
        let pairs = duplicates::possible_duplicates(db(ctx)?).await.gql()?;
        let total = pairs.len() as u64;
        let rows = page_in_memory(
            pairs,
            |pair| (pair.first_id, pair.second_id),
            &request,
            DEFAULT_PAGE_SIZE as u64,
        )
        .gql()?;
        Ok(placed_page(rows, total, ORDER, PossibleDuplicate))
    }
}

/// Which donor record to keep and which to merge into it.
#[derive(InputObject)]
pub struct MergeDonorsInput {
    /// The donor that stays; everything of the other moves to it.
    pub keep: ID,
    /// The donor record that goes.
    pub merge: ID,
    /// Only say what would move; change nothing.
    #[graphql(default = false)]
    pub dry_run: bool,
}

/// How many rows of each kind moved (or would move) to the kept donor.
#[derive(SimpleObject)]
pub struct MergeCountsOutput {
    /// Gifts.
    pub gifts: u64,
    /// Pledges, card and envelope.
    pub pledges: u64,
    /// Receipts and year-end statements, issued or void; they move as they are.
    pub receipts: u64,
    /// Rows of tier history.
    pub tier_memberships: u64,
    /// What checkouts said that differs from the donor's own choices.
    pub checkout_choices: u64,
    /// Appeal emails queued or sent.
    pub appeal_sends: u64,
    /// Other emails queued or sent (receipts, club emails).
    pub outbox_messages: u64,
    /// Audit entries about the merged record.
    pub audit_entries: u64,
    /// Other emails and Stripe customers the merged record was already known by.
    pub aliases: u64,
}

impl From<MergeCounts> for MergeCountsOutput {
    fn from(c: MergeCounts) -> Self {
        MergeCountsOutput {
            gifts: c.gifts,
            pledges: c.pledges,
            receipts: c.receipts,
            tier_memberships: c.tier_memberships,
            checkout_choices: c.checkout_choices,
            appeal_sends: c.appeal_sends,
            outbox_messages: c.outbox_messages,
            audit_entries: c.audit_entries,
            aliases: c.aliases,
        }
    }
}

/// What a merge did, or would do.
#[derive(SimpleObject)]
pub struct MergeDonorsResult {
    /// Whether this was only a dry run (nothing changed).
    pub dry_run: bool,
    /// The kept donor, after the merge.
    pub donor: Donor,
    /// What moved, or would move, by kind.
    pub moved: MergeCountsOutput,
    /// Every email that reaches the kept donor afterwards, its own first; payments
    /// from any of them land on it.
    pub emails: Vec<String>,
    /// Whether the merged record's Stripe customer now belongs to the kept donor.
    pub stripe_customer_moved: bool,
    /// Whether the kept donor's giving-club tier changed on the combined pledges.
    pub tier_changed: bool,
}

#[derive(Default)]
pub struct DuplicateMutation;

#[Object]
impl DuplicateMutation {
    /// Merges one donor record into another (staff only): gifts, pledges, receipts,
    /// tier history, checkout choices, emails and audit entries move to the kept
    /// donor; the merged record's email and Stripe customer keep reaching it; the tier
    /// is evaluated again on the combined pledges; issued receipts stay issued as
    /// printed. One transaction, audited. With `dryRun` it only answers what would move.
    /// Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn merge_donors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which record to keep and which to merge.")] input: MergeDonorsInput,
    ) -> Result<MergeDonorsResult> {
        let keep = parse_id("input.keep", &input.keep)?;
        let merge = parse_id("input.merge", &input.merge)?;
        let outcome = donor_merge::merge_donors(
            db(ctx)?,
            &actor(ctx)?,
            &config(ctx)?.club_policy(),
            keep,
            merge,
            input.dry_run,
        )
        .await
        .gql()?;
        Ok(MergeDonorsResult {
            dry_run: input.dry_run,
            donor: Donor::from(outcome.kept),
            moved: outcome.moved.into(),
            emails: outcome.emails,
            stripe_customer_moved: outcome.stripe_customer_moved,
            tier_changed: outcome.tier_change != MembershipChange::Unchanged,
        })
    }
}
