//! Which columns answer which fields, so that a list reads only the columns its nodes'
//! fields need. Each table below lists, for fields of one GraphQL type, every column
//! the field's resolver reads (itself or through what it calls); a selection naming a
//! field the table does not list reads whole rows, so a field added to a type is
//! answered from a whole row until it is listed here. `tests/tests/it/staff_api/
//! projection.rs` asks every field of each type alone, through a list read in part and
//! through a whole row, and compares the answers (`ClubMembership`'s lists against a
//! donor's tier history, which reads its memberships whole).

use async_graphql::{Lookahead, SelectionField};
use entity::{donor, gift, tier_membership};
use sea_orm::ColumnTrait;

use crate::domain::partial_rows::ColumnSet;

/// For one GraphQL type: the columns every read needs, and each listed field's.
pub struct FieldColumns<C: 'static> {
    always: &'static [C],
    fields: &'static [(&'static str, &'static [C])],
}

impl<C: ColumnTrait> FieldColumns<C> {
    /// The columns that answer `selected`, the fields asked of one kind of node
    /// (fragments spread); `None` when one of them is not listed: read whole rows.
    pub fn columns<'a>(
        &self,
        selected: impl IntoIterator<Item = SelectionField<'a>>,
    ) -> Option<ColumnSet> {
        let mut set = ColumnSet::of(self.always.iter().copied());
        for field in selected {
            let name = field.name();
            if name == "__typename" {
                continue;
            }
            let (_, needs) = self.fields.iter().find(|(listed, _)| *listed == name)?;
            set = set.with(ColumnSet::of(needs.iter().copied()));
        }
        Some(set)
    }

    /// Whether the table lists `field`.
    pub fn lists(&self, field: &str) -> bool {
        self.fields.iter().any(|(listed, _)| *listed == field)
    }

    /// The fields the table lists.
    pub fn listed(&self) -> impl Iterator<Item = &'static str> {
        self.fields.iter().map(|(field, _)| *field)
    }
}

/// The fields asked of the nodes of a page, through `edges { node }` and `nodes`.
pub fn node_fields<'a>(page: &Lookahead<'a>) -> Vec<SelectionField<'a>> {
    let edges = page.field("edges").field("node").selection_fields();
    let nodes = page.field("nodes").selection_fields();
    edges
        .into_iter()
        .chain(nodes)
        .flat_map(|node| node.selection_set().collect::<Vec<_>>())
        .collect()
}

/// The fields asked of the object a field returns (the field resolving now, for
/// `ctx.look_ahead()`).
pub fn object_fields<'a>(field: &Lookahead<'a>) -> Vec<SelectionField<'a>> {
    field
        .selection_fields()
        .into_iter()
        .flat_map(|field| field.selection_set().collect::<Vec<_>>())
        .collect()
}

/// The fields asked of the nodes of a page that is itself a field asked (a donor's
/// `gifts`), through `edges { node }` and `nodes`.
fn page_node_fields<'a>(page: &SelectionField<'a>) -> Vec<SelectionField<'a>> {
    let mut fields = Vec::new();
    for part in page.selection_set() {
        match part.name() {
            "edges" => {
                for node in part.selection_set().filter(|f| f.name() == "node") {
                    fields.extend(node.selection_set());
                }
            }
            "nodes" => fields.extend(part.selection_set()),
            _ => {}
        }
    }
    fields
}

/// `Gift`'s fields. Always: the id, the donor's and the fund's (a page primes them), and
/// the orders' keys.
pub const GIFT: FieldColumns<gift::Column> = {
    use gift::Column::*;
    FieldColumns {
        always: &[Id, DonorId, FundId, ReceivedAt, AmountMinor],
        fields: &[
            ("id", &[]),
            ("donor", &[]),
            ("amount", &[Currency]),
            ("refunded", &[RefundedMinor, Currency]),
            ("netAmount", &[RefundedMinor, Currency]),
            ("method", &[Method]),
            ("status", &[Status]),
            ("fund", &[]),
            ("campaignId", &[CampaignId]),
            ("receivedAt", &[]),
            ("checkNumber", &[CheckNumber]),
            ("anonymous", &[Anonymous]),
            ("createdAt", &[CreatedAt]),
            ("updatedAt", &[UpdatedAt]),
        ],
    }
};

/// `Donor`'s fields read from its own row. Always: the id.
pub const DONOR: FieldColumns<donor::Column> = {
    use donor::Column::*;
    FieldColumns {
        always: &[Id],
        fields: &[
            ("id", &[]),
            ("displayName", &[DisplayName]),
            ("email", &[Email]),
            ("phone", &[Phone]),
            ("addressLine1", &[AddressLine1]),
            ("addressLine2", &[AddressLine2]),
            ("city", &[City]),
            ("region", &[Region]),
            ("postalCode", &[PostalCode]),
            ("country", &[Country]),
            ("language", &[Language]),
            ("emailConsent", &[EmailConsent]),
            ("anonymous", &[Anonymous]),
            ("kind", &[Kind]),
            ("firstName", &[FirstName]),
            ("lastName", &[LastName]),
            ("notes", &[Notes]),
            ("createdAt", &[CreatedAt]),
            ("updatedAt", &[UpdatedAt]),
        ],
    }
};

/// `ClubMembership`'s fields. Always: the id, the donor's and the tier's (a page reads
/// them, and the tier gives the pledge total its currency).
pub const MEMBERSHIP: FieldColumns<tier_membership::Column> = {
    use tier_membership::Column::*;
    FieldColumns {
        always: &[Id, DonorId, TierId],
        fields: &[
            ("id", &[]),
            ("donor", &[]),
            ("tier", &[]),
            ("joinedAt", &[JoinedAt]),
            ("joinReason", &[JoinReason]),
            ("annualPledgeTotal", &[AnnualPledgeTotalMinor]),
            ("leftAt", &[LeftAt]),
            ("leaveReason", &[LeaveReason]),
            ("cause", &[Cause]),
        ],
    }
};

/// What a field of `Donor` computed from the donor's gift history shows of its gifts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FromHistory {
    /// A sum or a count, no gift.
    Totals,
    /// A gift, or a list of gifts.
    Gifts,
    /// A page of gifts.
    PageOfGifts,
}

/// `Donor`'s fields computed from the donor's gift history (its gifts, newest first).
pub const DONOR_HISTORY: [(&str, FromHistory); 9] = {
    use FromHistory::*;
    [
        ("lifetimeGiving", Totals),
        ("giftCount", Totals),
        ("firstGift", Gifts),
        ("lastGift", Gifts),
        ("largestGift", Gifts),
        ("thisYearGiving", Totals),
        ("lastYearGiving", Totals),
        ("recentGifts", Gifts),
        ("gifts", PageOfGifts),
    ]
};

/// The columns of its gifts a donor's totals read: which gifts count
/// (`donor_search::counted_toward_totals`), their net amounts, their tax years and their
/// order.
const HISTORY_TOTALS: &[gift::Column] = {
    use gift::Column::*;
    &[
        Id,
        DonorId,
        Status,
        Currency,
        AmountMinor,
        RefundedMinor,
        ReceivedAt,
    ]
};

/// The columns of a donor's gifts that answer `selected`, the fields asked of the donor:
/// what its totals read, with what the fields asked of the gifts its history fields
/// show read; `None` when one of those is not listed in [`GIFT`]: read whole rows.
pub fn history_columns<'a>(
    selected: impl IntoIterator<Item = SelectionField<'a>>,
) -> Option<ColumnSet> {
    let mut set = ColumnSet::of(HISTORY_TOTALS.iter().copied());
    for field in selected {
        let Some((_, shows)) = DONOR_HISTORY.iter().find(|(name, _)| *name == field.name()) else {
            continue;
        };
        let gift_fields = match shows {
            FromHistory::Totals => continue,
            FromHistory::Gifts => field.selection_set().collect(),
            FromHistory::PageOfGifts => page_node_fields(&field),
        };
        set = set.with(GIFT.columns(gift_fields)?);
    }
    Some(set)
}
