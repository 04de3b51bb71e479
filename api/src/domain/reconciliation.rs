//! Reconciliation with the payment processor: what the processor says happened in a
//! range of days (charges, refunds, disputes, paid invoices, payouts) set against the
//! gifts, to the cent. The edge lists the processor's objects and reads them into the
//! plain records below; this module compares them with the books and reports what is
//! missing on either side and what differs. Missing payments are recorded through the
//! payment path, as their events would have been; the only thing recorded here is the
//! processor's fee per gift.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use entity::enums::{GiftStatus, PaymentMethod};
use entity::{Currency, gift};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, Set,
};

use super::DomainError;
use super::club::ClubPolicy;
use super::payments::status_after_refund;
use crate::config::Organization;
use crate::db::begin_write;

/// The days to reconcile, both included, in the organization's time zone, as a
/// half-open UTC range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileRange {
    pub from_day: NaiveDate,
    pub to_day: NaiveDate,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The longest range one reconciliation covers.
const MAX_DAYS: i64 = 366;

impl ReconcileRange {
    pub fn new(org: &Organization, from: NaiveDate, to: NaiveDate) -> Result<Self, DomainError> {
        if to < from {
            return Err(DomainError::validation("to", "must not be before from"));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(DomainError::validation(
                "to",
                format!("a reconciliation covers at most {MAX_DAYS} days"),
            ));
        }
        let next = to
            .succ_opt()
            .ok_or_else(|| DomainError::validation("to", "is too late"))?;
        Ok(ReconcileRange {
            from_day: from,
            to_day: to,
            from: start_of_day(org, from)?,
            to: start_of_day(org, next)?,
        })
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }

    /// The range the processor is asked about: two days wider on each side, so a gift
    /// made just before midnight finds its charge made just after, and an installment
    /// paid in the range finds its invoice made the day before.
    pub fn listing_window(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let margin = chrono::Duration::days(2);
        (self.from - margin, self.to + margin)
    }
}

fn start_of_day(org: &Organization, day: NaiveDate) -> Result<DateTime<Utc>, DomainError> {
    org.timezone
        .with_ymd_and_hms(day.year(), day.month(), day.day(), 0, 0, 0)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| DomainError::validation("from", format!("{day} is not a usable day")))
}

/// Where a charge stands at the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeState {
    Succeeded,
    Pending,
    Failed,
}

/// A card payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorCharge {
    pub id: String,
    pub payment_intent_id: Option<String>,
    pub amount_minor: i64,
    /// Upper case ("USD").
    pub currency: String,
    pub refunded_minor: i64,
    pub state: ChargeState,
    pub disputed: bool,
    pub created_at: DateTime<Utc>,
    /// The processor's fee, when the charge's balance transaction came with it.
    pub fee_minor: Option<i64>,
}

/// A refund of a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorRefund {
    pub id: String,
    pub charge_id: String,
    pub payment_intent_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub succeeded: bool,
    pub created_at: DateTime<Utc>,
    /// Everything refunded of its charge so far, when the charge came with it.
    pub charge_refunded_minor: Option<i64>,
}

/// A chargeback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorDispute {
    pub id: String,
    pub charge_id: String,
    pub payment_intent_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    /// The processor's status: "needs_response", "won", "lost", ...
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// A paid invoice of a subscription: one installment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorInvoice {
    pub id: String,
    pub subscription_id: String,
    pub payment_intent_id: Option<String>,
    pub charge_id: Option<String>,
    pub amount_paid_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

/// One movement of the processor balance paid out in a payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceEntry {
    pub id: String,
    /// The processor's type: "charge", "payment", "refund", "adjustment", "payout", ...
    pub kind: String,
    /// The object that caused it (a charge, a refund, a dispute).
    pub source_id: Option<String>,
    /// The charge it belongs to: the source itself, or the refunded or disputed charge.
    pub charge_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub gross_minor: i64,
    pub fee_minor: i64,
    pub net_minor: i64,
}

/// A transfer from the processor to the organization's bank account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorPayout {
    pub id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub arrival_date: DateTime<Utc>,
    pub status: String,
    pub entries: Vec<BalanceEntry>,
}

/// Everything the processor listed for a range.
#[derive(Debug, Clone, Default)]
pub struct ProcessorLedger {
    pub charges: Vec<ProcessorCharge>,
    pub refunds: Vec<ProcessorRefund>,
    pub disputes: Vec<ProcessorDispute>,
    pub invoices: Vec<ProcessorInvoice>,
    pub payouts: Vec<ProcessorPayout>,
}

/// What kind of disagreement a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// The processor took money that no gift records.
    GiftMissing,
    /// A gift paid through the processor that the processor does not show in the range.
    NotAtProcessor,
    /// The gift's amount is not what the processor charged.
    AmountDiffers,
    /// The gift's currency is not the charge's.
    CurrencyDiffers,
    /// The gift's status does not follow from the processor's (paid, failed, disputed).
    StatusDiffers,
    /// The processor refunded more or less than the gift shows.
    RefundedDiffers,
    /// A refund or dispute of a charge that no gift records.
    UnknownCharge,
}

/// How a finding can be mended from the processor's own records, through the same
/// path its webhook takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// A one-off payment: recorded from its checkout session.
    RecordCheckout { charge_id: String },
    /// A paid installment: recorded from its invoice.
    RecordInstallment { invoice_id: String },
    /// A refund: recorded from its charge's refunded total.
    RecordRefund { charge_id: String },
    /// A dispute opened or closed.
    RecordDispute { dispute_id: String },
}

/// One disagreement between the processor and the books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    /// The processor's object it is about (a charge, invoice, refund or dispute id).
    pub object_id: Option<String>,
    pub gift_id: Option<i64>,
    pub currency: String,
    /// The amount the processor shows (charged, refunded), in minor units.
    pub processor_minor: Option<i64>,
    /// The amount the books show, in minor units.
    pub books_minor: Option<i64>,
    pub processor_status: Option<String>,
    pub books_status: Option<String>,
    /// One line saying what differs, for people.
    pub summary: String,
    pub repair: Option<Repair>,
}

/// One balance movement of a payout, with the gift it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutLine {
    pub entry: BalanceEntry,
    pub gift_id: Option<i64>,
}

/// A payout and the gifts in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutReport {
    pub id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub arrival_date: DateTime<Utc>,
    pub status: String,
    pub lines: Vec<PayoutLine>,
    pub gross_minor: i64,
    pub fee_minor: i64,
    pub net_minor: i64,
}

impl PayoutReport {
    /// Whether the lines add up to what reached the bank.
    pub fn balanced(&self) -> bool {
        self.net_minor == self.amount_minor
    }
}

/// The processor against the books for a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconciliationReport {
    pub range: ReconcileRange,
    pub charges_seen: usize,
    pub refunds_seen: usize,
    pub disputes_seen: usize,
    pub invoices_seen: usize,
    /// Gifts paid through the processor and received in the range.
    pub gifts_seen: usize,
    pub findings: Vec<Finding>,
    pub payouts: Vec<PayoutReport>,
    /// Fees the processor reported that the gifts do not show yet: (gift id, fee).
    pub fees_to_record: Vec<(i64, i64)>,
}

impl ReconciliationReport {
    pub fn matches(&self) -> bool {
        self.findings.is_empty()
    }
}

/// The gifts the processor's objects point at, indexed by the processor's ids.
struct Books {
    gifts: Vec<gift::Model>,
    by_charge: HashMap<String, usize>,
    by_intent: HashMap<String, usize>,
    by_invoice: HashMap<String, usize>,
}

impl Books {
    fn new(gifts: Vec<gift::Model>) -> Self {
        let mut books = Books {
            gifts,
            by_charge: HashMap::new(),
            by_intent: HashMap::new(),
            by_invoice: HashMap::new(),
        };
        for (index, gift) in books.gifts.iter().enumerate() {
            if let Some(id) = &gift.stripe_charge_id {
                books.by_charge.insert(id.clone(), index);
            }
            if let Some(id) = &gift.stripe_payment_intent_id {
                books.by_intent.insert(id.clone(), index);
            }
            if let Some(id) = &gift.stripe_invoice_id {
                books.by_invoice.insert(id.clone(), index);
            }
        }
        books
    }

    fn for_payment(
        &self,
        charge_id: Option<&str>,
        payment_intent_id: Option<&str>,
        invoice_id: Option<&str>,
    ) -> Option<usize> {
        charge_id
            .and_then(|id| self.by_charge.get(id))
            .or_else(|| payment_intent_id.and_then(|id| self.by_intent.get(id)))
            .or_else(|| invoice_id.and_then(|id| self.by_invoice.get(id)))
            .copied()
    }
}

/// How many ids one `IN (...)` carries.
const CHUNK: usize = 500;

async fn load_books(
    db: &DatabaseConnection,
    range: &ReconcileRange,
    ledger: &ProcessorLedger,
) -> Result<Books, DomainError> {
    let mut charges: HashSet<&str> = HashSet::new();
    let mut intents: HashSet<&str> = HashSet::new();
    let mut invoices: HashSet<&str> = HashSet::new();
    for charge in &ledger.charges {
        charges.insert(&charge.id);
        intents.extend(charge.payment_intent_id.as_deref());
    }
    for refund in &ledger.refunds {
        charges.insert(&refund.charge_id);
        intents.extend(refund.payment_intent_id.as_deref());
    }
    for dispute in &ledger.disputes {
        charges.insert(&dispute.charge_id);
        intents.extend(dispute.payment_intent_id.as_deref());
    }
    for invoice in &ledger.invoices {
        invoices.insert(&invoice.id);
        intents.extend(invoice.payment_intent_id.as_deref());
        charges.extend(invoice.charge_id.as_deref());
    }
    for entry in ledger.payouts.iter().flat_map(|p| &p.entries) {
        charges.extend(entry.charge_id.as_deref());
        intents.extend(entry.payment_intent_id.as_deref());
    }
    let mut found: BTreeMap<i64, gift::Model> = BTreeMap::new();
    for (column, ids) in [
        (gift::Column::StripeChargeId, charges),
        (gift::Column::StripePaymentIntentId, intents),
        (gift::Column::StripeInvoiceId, invoices),
    ] {
        let ids: Vec<&str> = ids.into_iter().collect();
        for chunk in ids.chunks(CHUNK) {
            for gift in gift::Entity::find()
                .filter(column.is_in(chunk.iter().copied()))
                .all(db)
                .await?
            {
                found.insert(gift.id, gift);
            }
        }
    }
    let in_range = gift::Entity::find()
        .filter(gift::Column::ReceivedAt.gte(range.from))
        .filter(gift::Column::ReceivedAt.lt(range.to))
        .filter(
            Condition::any()
                .add(gift::Column::StripeChargeId.is_not_null())
                .add(gift::Column::StripePaymentIntentId.is_not_null())
                .add(gift::Column::StripeInvoiceId.is_not_null())
                .add(gift::Column::StripeCheckoutSessionId.is_not_null()),
        )
        .all(db)
        .await?;
    for gift in in_range {
        found.insert(gift.id, gift);
    }
    Ok(Books::new(found.into_values().collect()))
}

fn money_text(minor: i64, currency: &str) -> String {
    match entity::Currency::parse(currency) {
        Ok(parsed) => entity::format_minor(minor, parsed),
        Err(_) => format!("{minor} {currency}"),
    }
}

/// The status a gift should have for a charge, disputes aside.
fn expected_status(charge: &ProcessorCharge) -> GiftStatus {
    match charge.state {
        ChargeState::Failed => GiftStatus::Failed,
        ChargeState::Pending => GiftStatus::Pending,
        ChargeState::Succeeded => status_after_refund(
            GiftStatus::Succeeded,
            charge.amount_minor,
            charge.refunded_minor,
        ),
    }
}

/// Whether a gift is money the processor should show.
fn is_processor_money(gift: &gift::Model) -> bool {
    gift.method == PaymentMethod::Card
        && matches!(
            gift.status,
            GiftStatus::Succeeded
                | GiftStatus::PartiallyRefunded
                | GiftStatus::Refunded
                | GiftStatus::Disputed
        )
}

/// Sets the processor's objects against the books for a range. Reads only.
pub async fn reconcile(
    db: &DatabaseConnection,
    range: ReconcileRange,
    ledger: &ProcessorLedger,
) -> Result<ReconciliationReport, DomainError> {
    let books = load_books(db, &range, ledger).await?;
    Ok(compare(range, ledger, &books))
}

fn compare(range: ReconcileRange, ledger: &ProcessorLedger, books: &Books) -> ReconciliationReport {
    let mut findings = Vec::new();
    let mut matched: HashSet<usize> = HashSet::new();
    let mut fees: BTreeMap<i64, i64> = BTreeMap::new();
    // Charges whose gift is reported missing, and charges whose refunds were compared.
    let mut missing_charges: HashSet<&str> = HashSet::new();
    let mut refunds_compared: HashSet<&str> = HashSet::new();
    // Payment intents of subscription invoices: their charge is the invoice's gift.
    let mut invoice_of_intent: HashMap<&str, &ProcessorInvoice> = HashMap::new();
    let mut missing_invoice_intents: HashSet<&str> = HashSet::new();

    let mut invoices_seen = 0;
    for invoice in &ledger.invoices {
        if let Some(intent) = invoice.payment_intent_id.as_deref() {
            invoice_of_intent.insert(intent, invoice);
        }
        let found = books.by_invoice.get(&invoice.id).copied().or_else(|| {
            books.for_payment(
                invoice.charge_id.as_deref(),
                invoice.payment_intent_id.as_deref(),
                None,
            )
        });
        if let Some(index) = found {
            matched.insert(index);
        }
        if !range.contains(invoice.created_at) {
            continue;
        }
        invoices_seen += 1;
        match found.map(|index| &books.gifts[index]) {
            None => {
                missing_invoice_intents.extend(invoice.payment_intent_id.as_deref());
                findings.push(Finding {
                    kind: FindingKind::GiftMissing,
                    object_id: Some(invoice.id.clone()),
                    gift_id: None,
                    currency: invoice.currency.clone(),
                    processor_minor: Some(invoice.amount_paid_minor),
                    books_minor: None,
                    processor_status: Some("paid".into()),
                    books_status: None,
                    summary: format!(
                        "invoice {} of subscription {} was paid {} and no gift records it",
                        invoice.id,
                        invoice.subscription_id,
                        money_text(invoice.amount_paid_minor, &invoice.currency)
                    ),
                    repair: Some(Repair::RecordInstallment {
                        invoice_id: invoice.id.clone(),
                    }),
                });
            }
            Some(gift) if gift.amount_minor != invoice.amount_paid_minor => {
                findings.push(Finding {
                    kind: FindingKind::AmountDiffers,
                    object_id: Some(invoice.id.clone()),
                    gift_id: Some(gift.id),
                    currency: invoice.currency.clone(),
                    processor_minor: Some(invoice.amount_paid_minor),
                    books_minor: Some(gift.amount_minor),
                    processor_status: None,
                    books_status: None,
                    summary: format!(
                        "invoice {} was paid {}; gift {} shows {}",
                        invoice.id,
                        money_text(invoice.amount_paid_minor, &invoice.currency),
                        gift.id,
                        money_text(gift.amount_minor, &gift.currency)
                    ),
                    repair: None,
                });
            }
            Some(_) => {}
        }
    }

    let mut charges_seen = 0;
    for charge in &ledger.charges {
        let intent = charge.payment_intent_id.as_deref();
        let invoice = intent.and_then(|i| invoice_of_intent.get(i));
        let found = books.for_payment(
            Some(&charge.id),
            intent,
            invoice.map(|invoice| invoice.id.as_str()),
        );
        if let Some(index) = found {
            matched.insert(index);
            if let Some(fee) = charge.fee_minor {
                fees.insert(books.gifts[index].id, fee);
            }
        }
        if !range.contains(charge.created_at) {
            continue;
        }
        charges_seen += 1;
        let Some(index) = found else {
            let covered_by_invoice =
                intent.is_some_and(|i| missing_invoice_intents.contains(i)) || invoice.is_some();
            if charge.state != ChargeState::Failed && !covered_by_invoice {
                missing_charges.insert(&charge.id);
                findings.push(Finding {
                    kind: FindingKind::GiftMissing,
                    object_id: Some(charge.id.clone()),
                    gift_id: None,
                    currency: charge.currency.clone(),
                    processor_minor: Some(charge.amount_minor),
                    books_minor: None,
                    processor_status: Some(charge_state_text(charge.state).into()),
                    books_status: None,
                    summary: format!(
                        "charge {} of {} ({}) has no gift",
                        charge.id,
                        money_text(charge.amount_minor, &charge.currency),
                        charge_state_text(charge.state)
                    ),
                    repair: Some(Repair::RecordCheckout {
                        charge_id: charge.id.clone(),
                    }),
                });
            }
            continue;
        };
        let gift = &books.gifts[index];
        refunds_compared.insert(&charge.id);
        compare_charge(charge, gift, ledger, &mut findings);
    }

    let mut refunds_seen = 0;
    let mut refund_reported: HashSet<&str> = HashSet::new();
    for refund in &ledger.refunds {
        if !range.contains(refund.created_at) {
            continue;
        }
        refunds_seen += 1;
        if !refund.succeeded
            || refunds_compared.contains(refund.charge_id.as_str())
            || !refund_reported.insert(&refund.charge_id)
        {
            continue;
        }
        let found = books.for_payment(
            Some(&refund.charge_id),
            refund.payment_intent_id.as_deref(),
            None,
        );
        let Some(index) = found else {
            if !missing_charges.contains(refund.charge_id.as_str()) {
                findings.push(unknown_charge(
                    &refund.id,
                    &refund.charge_id,
                    "refund",
                    refund.amount_minor,
                    &refund.currency,
                ));
            }
            continue;
        };
        let gift = &books.gifts[index];
        let stripe_total = refund.charge_refunded_minor.unwrap_or(refund.amount_minor);
        if gift.refunded_minor < stripe_total {
            findings.push(refund_finding(
                gift,
                &refund.id,
                &refund.charge_id,
                stripe_total,
            ));
        }
    }

    let mut disputes_seen = 0;
    for dispute in &ledger.disputes {
        if !range.contains(dispute.created_at) {
            continue;
        }
        disputes_seen += 1;
        let found = books.for_payment(
            Some(&dispute.charge_id),
            dispute.payment_intent_id.as_deref(),
            None,
        );
        let Some(index) = found else {
            if !missing_charges.contains(dispute.charge_id.as_str()) {
                findings.push(unknown_charge(
                    &dispute.id,
                    &dispute.charge_id,
                    "dispute",
                    dispute.amount_minor,
                    &dispute.currency,
                ));
            }
            continue;
        };
        let gift = &books.gifts[index];
        // As the webhook reads it: a dispute keeps its gift disputed unless it is won.
        let should_be_disputed = dispute.status != "won";
        if should_be_disputed != (gift.status == GiftStatus::Disputed) {
            findings.push(Finding {
                kind: FindingKind::StatusDiffers,
                object_id: Some(dispute.id.clone()),
                gift_id: Some(gift.id),
                currency: gift.currency.clone(),
                processor_minor: None,
                books_minor: None,
                processor_status: Some(format!("dispute {}", dispute.status)),
                books_status: Some(gift.status.to_string()),
                summary: format!(
                    "dispute {} of charge {} is {}; gift {} is {}",
                    dispute.id, dispute.charge_id, dispute.status, gift.id, gift.status
                ),
                repair: Some(Repair::RecordDispute {
                    dispute_id: dispute.id.clone(),
                }),
            });
        }
    }

    let mut gifts_seen = 0;
    for (index, gift) in books.gifts.iter().enumerate() {
        if !range.contains(gift.received_at) {
            continue;
        }
        gifts_seen += 1;
        if matched.contains(&index) || !is_processor_money(gift) {
            continue;
        }
        findings.push(Finding {
            kind: FindingKind::NotAtProcessor,
            object_id: gift
                .stripe_charge_id
                .clone()
                .or_else(|| gift.stripe_invoice_id.clone())
                .or_else(|| gift.stripe_payment_intent_id.clone())
                .or_else(|| gift.stripe_checkout_session_id.clone()),
            gift_id: Some(gift.id),
            currency: gift.currency.clone(),
            processor_minor: None,
            books_minor: Some(gift.amount_minor),
            processor_status: None,
            books_status: Some(gift.status.to_string()),
            summary: format!(
                "gift {} of {} ({}) has no charge or paid invoice at Stripe in the range",
                gift.id,
                money_text(gift.amount_minor, &gift.currency),
                gift.status
            ),
            repair: None,
        });
    }

    let payouts = ledger
        .payouts
        .iter()
        .map(|payout| payout_report(payout, books, &mut fees))
        .collect();
    let fees_to_record = fees
        .into_iter()
        .filter(|(gift_id, fee)| {
            books
                .gifts
                .iter()
                .any(|g| g.id == *gift_id && g.processor_fee_minor != Some(*fee))
        })
        .collect();
    ReconciliationReport {
        range,
        charges_seen,
        refunds_seen,
        disputes_seen,
        invoices_seen,
        gifts_seen,
        findings,
        payouts,
        fees_to_record,
    }
}

fn charge_state_text(state: ChargeState) -> &'static str {
    match state {
        ChargeState::Succeeded => "succeeded",
        ChargeState::Pending => "pending",
        ChargeState::Failed => "failed",
    }
}

fn compare_charge(
    charge: &ProcessorCharge,
    gift: &gift::Model,
    ledger: &ProcessorLedger,
    findings: &mut Vec<Finding>,
) {
    let currency = charge.currency.clone();
    if !charge.currency.eq_ignore_ascii_case(&gift.currency) {
        findings.push(Finding {
            kind: FindingKind::CurrencyDiffers,
            object_id: Some(charge.id.clone()),
            gift_id: Some(gift.id),
            currency,
            processor_minor: Some(charge.amount_minor),
            books_minor: Some(gift.amount_minor),
            processor_status: None,
            books_status: None,
            summary: format!(
                "charge {} is in {}; gift {} is in {}",
                charge.id, charge.currency, gift.id, gift.currency
            ),
            repair: None,
        });
        return;
    }
    if charge.amount_minor != gift.amount_minor {
        findings.push(Finding {
            kind: FindingKind::AmountDiffers,
            object_id: Some(charge.id.clone()),
            gift_id: Some(gift.id),
            currency: currency.clone(),
            processor_minor: Some(charge.amount_minor),
            books_minor: Some(gift.amount_minor),
            processor_status: None,
            books_status: None,
            summary: format!(
                "charge {} is {}; gift {} shows {}",
                charge.id,
                money_text(charge.amount_minor, &charge.currency),
                gift.id,
                money_text(gift.amount_minor, &gift.currency)
            ),
            repair: None,
        });
    }
    if charge.refunded_minor != gift.refunded_minor {
        let refund_id = ledger
            .refunds
            .iter()
            .find(|r| r.charge_id == charge.id && r.succeeded)
            .map(|r| r.id.clone());
        let mut finding = refund_finding(
            gift,
            refund_id.as_deref().unwrap_or(&charge.id),
            &charge.id,
            charge.refunded_minor,
        );
        // Only a refund the books lack can be recorded from the processor; the
        // refunded total never shrinks.
        if charge.refunded_minor < gift.refunded_minor {
            finding.repair = None;
        }
        findings.push(finding);
        // The status follows from the refunded total: one finding says both.
        return;
    }
    // Disputes are compared on their own; a disputed charge's gift stays disputed.
    if charge.disputed || gift.status == GiftStatus::Disputed {
        return;
    }
    let expected = expected_status(charge);
    if expected != gift.status {
        findings.push(Finding {
            kind: FindingKind::StatusDiffers,
            object_id: Some(charge.id.clone()),
            gift_id: Some(gift.id),
            currency,
            processor_minor: None,
            books_minor: None,
            processor_status: Some(charge_state_text(charge.state).into()),
            books_status: Some(gift.status.to_string()),
            summary: format!(
                "charge {} is {} (so the gift should be {}); gift {} is {}",
                charge.id,
                charge_state_text(charge.state),
                expected,
                gift.id,
                gift.status
            ),
            repair: None,
        });
    }
}

fn refund_finding(
    gift: &gift::Model,
    refund_id: &str,
    charge_id: &str,
    stripe_total: i64,
) -> Finding {
    Finding {
        kind: FindingKind::RefundedDiffers,
        object_id: Some(refund_id.to_owned()),
        gift_id: Some(gift.id),
        currency: gift.currency.clone(),
        processor_minor: Some(stripe_total),
        books_minor: Some(gift.refunded_minor),
        processor_status: None,
        books_status: None,
        summary: format!(
            "charge {} has {} refunded; gift {} shows {} refunded",
            charge_id,
            money_text(stripe_total, &gift.currency),
            gift.id,
            money_text(gift.refunded_minor, &gift.currency)
        ),
        repair: Some(Repair::RecordRefund {
            charge_id: charge_id.to_owned(),
        }),
    }
}

fn unknown_charge(
    object_id: &str,
    charge_id: &str,
    what: &str,
    amount_minor: i64,
    currency: &str,
) -> Finding {
    Finding {
        kind: FindingKind::UnknownCharge,
        object_id: Some(object_id.to_owned()),
        gift_id: None,
        currency: currency.to_owned(),
        processor_minor: Some(amount_minor),
        books_minor: None,
        processor_status: None,
        books_status: None,
        summary: format!("{what} {object_id} is of charge {charge_id}, which no gift records"),
        repair: None,
    }
}

fn payout_report(
    payout: &ProcessorPayout,
    books: &Books,
    fees: &mut BTreeMap<i64, i64>,
) -> PayoutReport {
    let mut lines = Vec::new();
    let (mut gross, mut fee, mut net) = (0, 0, 0);
    for entry in &payout.entries {
        // The payout's own movement is the deposit itself, not a part of it.
        if entry.kind == "payout" {
            continue;
        }
        let found = books.for_payment(
            entry.charge_id.as_deref(),
            entry.payment_intent_id.as_deref(),
            None,
        );
        let gift_id = found.map(|index| books.gifts[index].id);
        if let Some(gift_id) = gift_id
            && matches!(entry.kind.as_str(), "charge" | "payment")
        {
            fees.insert(gift_id, entry.fee_minor);
        }
        gross += entry.gross_minor;
        fee += entry.fee_minor;
        net += entry.net_minor;
        lines.push(PayoutLine {
            entry: entry.clone(),
            gift_id,
        });
    }
    PayoutReport {
        id: payout.id.clone(),
        amount_minor: payout.amount_minor,
        currency: payout.currency.clone(),
        arrival_date: payout.arrival_date,
        status: payout.status.clone(),
        lines,
        gross_minor: gross,
        fee_minor: fee,
        net_minor: net,
    }
}

/// Stores the processor's fee on each gift that does not show it yet, in one
/// transaction; returns how many gifts changed. Running it again changes nothing.
pub async fn record_processor_fees(
    db: &DatabaseConnection,
    fees: &[(i64, i64)],
) -> Result<usize, DomainError> {
    if fees.is_empty() {
        return Ok(0);
    }
    let txn = begin_write(db).await?;
    let mut changed = 0;
    for (gift_id, fee) in fees {
        let Some(gift) = gift::Entity::find_by_id(*gift_id).one(&txn).await? else {
            continue;
        };
        if gift.processor_fee_minor == Some(*fee) {
            continue;
        }
        let mut row: gift::ActiveModel = gift.into();
        row.processor_fee_minor = Set(Some(*fee));
        row.updated_at = Set(Utc::now());
        row.update(&txn).await?;
        changed += 1;
    }
    txn.commit().await?;
    Ok(changed)
}

/// What applying did about one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRepair {
    /// The Stripe object the repair was built from.
    pub object_id: String,
    /// What the payment path said, or why nothing was recorded.
    pub outcome: String,
}

/// One reconciliation: the report, and when applied, what was recorded and the report
/// after it.
#[derive(Debug, Clone)]
pub struct ReconcileRun {
    pub report: ReconciliationReport,
    pub applied: Vec<AppliedRepair>,
    pub fees_recorded: usize,
    /// The books against the same Stripe listing after applying.
    pub after: Option<ReconciliationReport>,
}

/// What applying needs besides the database and Stripe.
pub struct ApplySettings<'a> {
    pub org: &'a Organization,
    pub org_currency: Currency,
    pub policy: &'a ClubPolicy,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gift_with(id: i64, charge: &str, amount: i64, status: GiftStatus) -> gift::Model {
        let now = Utc::now();
        gift::Model {
            id,
            donor_id: 1,
            amount_minor: amount,
            currency: "USD".into(),
            refunded_minor: 0,
            method: PaymentMethod::Card,
            status,
            fund_id: 1,
            campaign_id: None,
            appeal_id: None,
            pledge_id: None,
            received_at: now,
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
            stripe_payment_intent_id: Some(format!("pi_{charge}")),
            stripe_invoice_id: None,
            stripe_checkout_session_id: None,
            stripe_charge_id: None,
            idempotency_key: None,
            notes: None,
            processor_fee_minor: None,
            refunds_as_of: None,
            external_id: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn charge(id: &str, amount: i64, refunded: i64) -> ProcessorCharge {
        ProcessorCharge {
            id: id.into(),
            payment_intent_id: Some(format!("pi_{id}")),
            amount_minor: amount,
            currency: "USD".into(),
            refunded_minor: refunded,
            state: ChargeState::Succeeded,
            disputed: false,
            created_at: Utc::now(),
            fee_minor: Some(175),
        }
    }

    fn today() -> ReconcileRange {
        let now = Utc::now();
        ReconcileRange {
            from_day: now.date_naive(),
            to_day: now.date_naive(),
            from: now - chrono::Duration::hours(1),
            to: now + chrono::Duration::hours(1),
        }
    }

    #[test]
    fn a_charge_matched_by_payment_intent_agrees_and_gives_its_fee() {
        let books = Books::new(vec![gift_with(7, "ch_1", 5_000, GiftStatus::Succeeded)]);
        let ledger = ProcessorLedger {
            charges: vec![charge("ch_1", 5_000, 0)],
            ..Default::default()
        };
        let report = compare(today(), &ledger, &books);
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        assert_eq!(report.fees_to_record, vec![(7, 175)]);
    }

    #[test]
    fn a_partly_refunded_charge_against_an_unrefunded_gift_is_one_refund_finding() {
        let books = Books::new(vec![gift_with(7, "ch_1", 5_000, GiftStatus::Succeeded)]);
        let ledger = ProcessorLedger {
            charges: vec![charge("ch_1", 5_000, 1_000)],
            ..Default::default()
        };
        let kinds: Vec<FindingKind> = compare(today(), &ledger, &books)
            .findings
            .iter()
            .map(|f| f.kind)
            .collect();
        assert_eq!(kinds, vec![FindingKind::RefundedDiffers]);
    }

    #[test]
    fn a_won_dispute_expects_an_undisputed_gift() {
        let books = Books::new(vec![gift_with(7, "ch_1", 5_000, GiftStatus::Disputed)]);
        let ledger = ProcessorLedger {
            charges: vec![ProcessorCharge {
                disputed: true,
                ..charge("ch_1", 5_000, 0)
            }],
            disputes: vec![ProcessorDispute {
                id: "dp_1".into(),
                charge_id: "ch_1".into(),
                payment_intent_id: Some("pi_ch_1".into()),
                amount_minor: 5_000,
                currency: "USD".into(),
                status: "won".into(),
                created_at: Utc::now(),
            }],
            ..Default::default()
        };
        let report = compare(today(), &ledger, &books);
        assert_eq!(report.findings.len(), 1);
        assert_eq!(report.findings[0].kind, FindingKind::StatusDiffers);
        assert_eq!(
            report.findings[0].repair,
            Some(Repair::RecordDispute {
                dispute_id: "dp_1".into()
            })
        );
    }

    #[test]
    fn a_payout_adds_its_lines_without_its_own_movement() {
        let books = Books::new(vec![gift_with(7, "ch_1", 5_000, GiftStatus::Succeeded)]);
        let entry = |id: &str, kind: &str, gross: i64, fee: i64| BalanceEntry {
            id: id.into(),
            kind: kind.into(),
            source_id: None,
            charge_id: Some("ch_1".into()),
            payment_intent_id: Some("pi_ch_1".into()),
            gross_minor: gross,
            fee_minor: fee,
            net_minor: gross - fee,
        };
        let payout = ProcessorPayout {
            id: "po_1".into(),
            amount_minor: 3_825,
            currency: "USD".into(),
            arrival_date: Utc::now(),
            status: "paid".into(),
            entries: vec![
                entry("txn_1", "charge", 5_000, 175),
                entry("txn_2", "refund", -1_000, 0),
                entry("txn_3", "payout", -3_825, 0),
            ],
        };
        let mut fees = BTreeMap::new();
        let report = payout_report(&payout, &books, &mut fees);
        assert_eq!(
            (report.gross_minor, report.fee_minor, report.net_minor),
            (4_000, 175, 3_825)
        );
        assert!(report.balanced());
        assert_eq!(report.lines.len(), 2);
        assert_eq!(fees.get(&7), Some(&175));
    }
}
