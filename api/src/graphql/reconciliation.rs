//! Reconciliation with Stripe as staff see it: what Stripe shows for a range of days
//! against the gifts, to the cent, and each payout tied to the gifts in it; and, for
//! admins, recording what the books lack as Stripe's events would have.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::access::requires_role;
use super::context::{actor, config, db, processor};
use super::date::Date;
use super::errors::GqlResultExt;
use super::money::MoneyAmount;
use super::tokens::Role;
use crate::domain::books;
use crate::domain::reconciliation::{self, PayoutReport, ReconcileRun, ReconciliationReport};

/// What kind of disagreement between Stripe and the books a finding is.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "reconciliation::FindingKind")]
pub enum ReconciliationFindingKind {
    /// Stripe took money (a charge or a paid invoice) that no gift records.
    GiftMissing,
    /// A gift paid through Stripe that Stripe does not show in the range.
    NotAtProcessor,
    /// The gift's amount is not what Stripe charged.
    AmountDiffers,
    /// The gift's currency is not the charge's.
    CurrencyDiffers,
    /// The gift's status does not follow from Stripe's (paid, failed, refunded, disputed).
    StatusDiffers,
    /// Stripe refunded more or less than the gift shows.
    RefundedDiffers,
    /// A refund or dispute of a charge that no gift records.
    UnknownCharge,
}

/// One disagreement between Stripe and the books.
#[derive(SimpleObject)]
pub struct ReconciliationFinding {
    /// What kind of disagreement it is.
    pub kind: ReconciliationFindingKind,
    /// The Stripe object it is about: a charge, invoice, refund or dispute id.
    pub stripe_object_id: Option<String>,
    /// The gift it is about, if the books have one.
    pub gift_id: Option<ID>,
    /// The amount Stripe shows (charged or refunded).
    pub stripe_amount: Option<MoneyAmount>,
    /// The amount the books show.
    pub books_amount: Option<MoneyAmount>,
    /// The status Stripe shows.
    pub stripe_status: Option<String>,
    /// The gift's status.
    pub books_status: Option<String>,
    /// One line saying what differs.
    pub summary: String,
    /// Whether `applyReconciliation` can record it from Stripe's own records.
    pub repairable: bool,
}

/// One balance transaction of a payout and the gift it belongs to.
#[derive(SimpleObject)]
pub struct PayoutLine {
    /// Stripe's balance transaction id (`txn_…`).
    pub balance_transaction_id: String,
    /// Stripe's type: `charge`, `payment`, `refund`, `adjustment`, ...
    pub kind: String,
    /// What caused it: a charge, refund or dispute id.
    pub source_id: Option<String>,
    /// The gift it belongs to, if any.
    pub gift_id: Option<ID>,
    /// The amount before Stripe's fee.
    pub gross: MoneyAmount,
    /// Stripe's fee.
    pub fee: MoneyAmount,
    /// What reached the balance: gross less fee.
    pub net: MoneyAmount,
}

/// A payout to the bank and the gifts in it.
#[derive(SimpleObject)]
pub struct PayoutReconciliation {
    /// Stripe's payout id (`po_…`).
    pub payout_id: String,
    /// When it reaches (or reached) the bank.
    pub arrival_date: DateTime<Utc>,
    /// Stripe's status: `paid`, `in_transit`, `pending`, `failed`, `canceled`.
    pub status: String,
    /// The deposit.
    pub amount: MoneyAmount,
    /// The sum of the lines before fees.
    pub gross: MoneyAmount,
    /// The sum of Stripe's fees.
    pub fees: MoneyAmount,
    /// The sum of the lines after fees.
    pub net: MoneyAmount,
    /// Whether the lines' net adds up to the deposit.
    pub balanced: bool,
    /// Every balance transaction in the payout, with its gift.
    pub lines: Vec<PayoutLine>,
}

/// Stripe against the books for a range of days.
#[derive(SimpleObject)]
pub struct Reconciliation {
    /// The first day (the organization's time zone).
    pub from: Date,
    /// The last day, included.
    pub to: Date,
    /// Stripe charges made in the range.
    pub charges_seen: i32,
    /// Stripe refunds made in the range.
    pub refunds_seen: i32,
    /// Stripe disputes opened in the range.
    pub disputes_seen: i32,
    /// Paid subscription invoices made in the range.
    pub invoices_seen: i32,
    /// Gifts paid through Stripe and received in the range.
    pub gifts_seen: i32,
    /// True when nothing is missing and nothing differs.
    pub matches: bool,
    /// What is missing on either side and what differs.
    pub findings: Vec<ReconciliationFinding>,
    /// The payouts that arrived in the range, each tied to its gifts.
    pub payouts: Vec<PayoutReconciliation>,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn payout(report: &PayoutReport) -> PayoutReconciliation {
    let money = |minor| MoneyAmount::from_columns(minor, &report.currency);
    PayoutReconciliation {
        payout_id: report.id.clone(),
        arrival_date: report.arrival_date,
        status: report.status.clone(),
        amount: money(report.amount_minor),
        gross: money(report.gross_minor),
        fees: money(report.fee_minor),
        net: money(report.net_minor),
        balanced: report.balanced(),
        lines: report
            .lines
            .iter()
            .map(|line| PayoutLine {
                balance_transaction_id: line.entry.id.clone(),
                kind: line.entry.kind.clone(),
                source_id: line.entry.source_id.clone(),
                gift_id: line.gift_id.map(|id| ID(id.to_string())),
                gross: money(line.entry.gross_minor),
                fee: money(line.entry.fee_minor),
                net: money(line.entry.net_minor),
            })
            .collect(),
    }
}

fn reconciliation_of(report: &ReconciliationReport) -> Reconciliation {
    Reconciliation {
        from: Date(report.range.from_day),
        to: Date(report.range.to_day),
        charges_seen: count(report.charges_seen),
        refunds_seen: count(report.refunds_seen),
        disputes_seen: count(report.disputes_seen),
        invoices_seen: count(report.invoices_seen),
        gifts_seen: count(report.gifts_seen),
        matches: report.matches(),
        findings: report
            .findings
            .iter()
            .map(|finding| {
                let money = |minor| MoneyAmount::from_columns(minor, &finding.currency);
                ReconciliationFinding {
                    kind: finding.kind.into(),
                    stripe_object_id: finding.object_id.clone(),
                    gift_id: finding.gift_id.map(|id| ID(id.to_string())),
                    stripe_amount: finding.processor_minor.map(money),
                    books_amount: finding.books_minor.map(money),
                    stripe_status: finding.processor_status.clone(),
                    books_status: finding.books_status.clone(),
                    summary: finding.summary.clone(),
                    repairable: finding.repair.is_some(),
                }
            })
            .collect(),
        payouts: report.payouts.iter().map(payout).collect(),
    }
}

/// What applying recorded about one finding.
#[derive(SimpleObject)]
pub struct AppliedRepair {
    /// The Stripe object the record was built from.
    pub stripe_object_id: String,
    /// What the payment path said ("recorded gift 14 ...", "already recorded"), or why
    /// nothing was recorded.
    pub outcome: String,
}

/// A reconciliation that recorded what the books lacked.
#[derive(SimpleObject)]
pub struct AppliedReconciliation {
    /// Stripe against the books before applying.
    pub before: Reconciliation,
    /// What was recorded, one entry per repairable finding.
    pub applied: Vec<AppliedRepair>,
    /// How many gifts had Stripe's fee recorded.
    pub fees_recorded: i32,
    /// Stripe against the books after applying.
    pub after: Reconciliation,
}

#[derive(Default)]
pub struct ReconciliationQuery;

#[Object]
impl ReconciliationQuery {
    /// Stripe's charges, refunds, disputes and paid invoices for a range of days,
    /// compared with the gifts to the cent, and the payouts that arrived in it tied to
    /// their gifts (staff). Asks Stripe's API, every page; changes nothing. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn reconciliation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The first day, in the organization's time zone.")] from: Date,
        #[graphql(desc = "The last day, included.")] to: Date,
    ) -> Result<Reconciliation> {
        let run = books::reconciliation(db(ctx)?, processor(ctx)?, config(ctx)?, from.0, to.0)
            .await
            .gql()?;
        Ok(reconciliation_of(&run.report))
    }
}

/// The days to reconcile.
#[derive(InputObject)]
pub struct ApplyReconciliationInput {
    /// The first day, in the organization's time zone.
    pub from: Date,
    /// The last day, included.
    pub to: Date,
}

#[derive(Default)]
pub struct ReconciliationMutation;

#[Object]
impl ReconciliationMutation {
    /// Reconciles a range of days with Stripe and records what the books lack, as
    /// Stripe's events would have (a missing one-off gift from its checkout session, a
    /// missing installment from its invoice, a missing refund or dispute), and Stripe's
    /// fee on each gift (admin). Running it twice records nothing more. Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn apply_reconciliation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The days to reconcile.")] input: ApplyReconciliationInput,
    ) -> Result<AppliedReconciliation> {
        let ApplyReconciliationInput { from, to } = input;
        let ReconcileRun {
            report,
            applied,
            fees_recorded,
            after,
        } = books::apply_reconciliation(
            db(ctx)?,
            processor(ctx)?,
            config(ctx)?,
            &actor(ctx)?,
            from.0,
            to.0,
        )
        .await
        .gql()?;
        let after = after.unwrap_or_else(|| report.clone());
        Ok(AppliedReconciliation {
            before: reconciliation_of(&report),
            applied: applied
                .into_iter()
                .map(|a| AppliedRepair {
                    stripe_object_id: a.object_id,
                    outcome: a.outcome,
                })
                .collect(),
            fees_recorded: count(fees_recorded),
            after: reconciliation_of(&after),
        })
    }
}
