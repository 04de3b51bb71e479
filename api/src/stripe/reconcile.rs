//! Reconciliation with Stripe, at the edge: lists Stripe's charges, refunds, disputes,
//! paid invoices and payouts (with their balance transactions) for a range, every page
//! of them, reads them into the domain's plain records, and has the domain compare
//! them with the books. Applying records what is missing through the webhook's own
//! path: a synthetic event built from Stripe's object, with an id derived from that
//! object (`reconcile:ch_…`), so applying twice records once.
//!
//! Shapes are those of the pinned API version: a charge names no invoice, and an
//! invoice's payment intent is at `payments.data[].payment.payment_intent` (an
//! includable field, asked for with `expand[]=data.payments`).

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use super::client::{StripeClient, StripeFailure, api_version};
use super::events;

use crate::domain::DomainError;
use crate::domain::payments::{self, EventOutcome, PaymentEffect};
use crate::domain::reconciliation::{
    self, BalanceEntry, ChargeState, ProcessorCharge, ProcessorDispute, ProcessorInvoice,
    ProcessorLedger, ProcessorPayout, ProcessorRefund, ReconcileRange, ReconciliationReport,
    Repair,
};
use entity::enums::StripeEventStatus;

/// The most objects Stripe returns on one page.
const PAGE_SIZE: u32 = 100;
/// A bound on pages per listing, so a misbehaving answer cannot loop forever.
const MAX_PAGES: usize = 10_000;

fn text<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// An id that may be expanded into its object.
fn id_of<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    match value.get(field) {
        Some(Value::String(id)) if !id.is_empty() => Some(id),
        Some(object @ Value::Object(_)) => text(object, "id"),
        _ => None,
    }
}

fn amount(value: &Value, field: &str) -> i64 {
    value.get(field).and_then(Value::as_i64).unwrap_or(0)
}

fn timestamp(value: &Value, field: &str) -> DateTime<Utc> {
    value
        .get(field)
        .and_then(Value::as_i64)
        .and_then(|secs| Utc.timestamp_opt(secs, 0).single())
        .unwrap_or(DateTime::UNIX_EPOCH)
}

fn currency(value: &Value) -> String {
    text(value, "currency").unwrap_or("usd").to_uppercase()
}

fn unreadable(what: &str) -> StripeFailure {
    StripeFailure::Unavailable(format!("unreadable list of {what}"))
}

/// Every object of a list endpoint, following `has_more` with `starting_after`.
pub async fn list_all(
    client: &StripeClient,
    path: &str,
    params: &[(&str, String)],
) -> Result<Vec<Value>, StripeFailure> {
    let mut objects = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let query = {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (key, value) in params {
                query.append_pair(key, value);
            }
            query.append_pair("limit", &PAGE_SIZE.to_string());
            if let Some(after) = &after {
                query.append_pair("starting_after", after);
            }
            query.finish()
        };
        let page = client.get(&format!("{path}?{query}")).await?;
        let data = page
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| unreadable(path))?;
        let last = data.last().and_then(|o| text(o, "id")).map(str::to_owned);
        objects.extend(data.iter().cloned());
        let more = page
            .get("has_more")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        match last {
            Some(last) if more => after = Some(last),
            _ => return Ok(objects),
        }
    }
    Err(StripeFailure::Unavailable(format!(
        "{path} still had more after {MAX_PAGES} pages"
    )))
}

fn charge(object: &Value) -> Option<ProcessorCharge> {
    let state = match text(object, "status") {
        Some("succeeded") => ChargeState::Succeeded,
        Some("pending") => ChargeState::Pending,
        _ => ChargeState::Failed,
    };
    Some(ProcessorCharge {
        id: text(object, "id")?.to_owned(),
        payment_intent_id: id_of(object, "payment_intent").map(str::to_owned),
        amount_minor: amount(object, "amount"),
        currency: currency(object),
        refunded_minor: amount(object, "amount_refunded"),
        state,
        disputed: object
            .get("disputed")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        created_at: timestamp(object, "created"),
        fee_minor: object
            .get("balance_transaction")
            .filter(|t| t.is_object())
            .and_then(|t| t.get("fee"))
            .and_then(Value::as_i64),
    })
}

fn refund(object: &Value) -> Option<ProcessorRefund> {
    let charge = object.get("charge").filter(|c| c.is_object());
    Some(ProcessorRefund {
        id: text(object, "id")?.to_owned(),
        charge_id: id_of(object, "charge")?.to_owned(),
        payment_intent_id: id_of(object, "payment_intent")
            .or_else(|| charge.and_then(|c| id_of(c, "payment_intent")))
            .map(str::to_owned),
        amount_minor: amount(object, "amount"),
        currency: currency(object),
        succeeded: text(object, "status") == Some("succeeded"),
        created_at: timestamp(object, "created"),
        charge_refunded_minor: charge.map(|c| amount(c, "amount_refunded")),
    })
}

fn dispute(object: &Value) -> Option<ProcessorDispute> {
    Some(ProcessorDispute {
        id: text(object, "id")?.to_owned(),
        charge_id: id_of(object, "charge")?.to_owned(),
        payment_intent_id: id_of(object, "payment_intent").map(str::to_owned),
        amount_minor: amount(object, "amount"),
        currency: currency(object),
        status: text(object, "status").unwrap_or("unknown").to_owned(),
        created_at: timestamp(object, "created"),
    })
}

/// The invoice's payment: its payment intent and, for a charge paid out of band, the
/// charge (`payments.data[].payment`).
fn invoice_payment(invoice: &Value, field: &str) -> Option<String> {
    invoice
        .pointer("/payments/data")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(|p| p.get("payment"))
        .find_map(|payment| id_of(payment, field))
        .map(str::to_owned)
}

fn invoice(object: &Value) -> Option<ProcessorInvoice> {
    Some(ProcessorInvoice {
        id: text(object, "id")?.to_owned(),
        subscription_id: events::invoice_subscription_id(object)?.to_owned(),
        payment_intent_id: invoice_payment(object, "payment_intent"),
        charge_id: invoice_payment(object, "charge"),
        amount_paid_minor: amount(object, "amount_paid"),
        currency: currency(object),
        created_at: timestamp(object, "created"),
    })
}

fn balance_entry(object: &Value) -> Option<BalanceEntry> {
    let source = object.get("source");
    let source_object = source.filter(|s| s.is_object());
    let source_id = id_of(object, "source").map(str::to_owned);
    let charge_id = match source_object {
        Some(source) if text(source, "object") != Some("charge") => {
            id_of(source, "charge").map(str::to_owned)
        }
        _ => source_id
            .clone()
            .filter(|id| id.starts_with("ch_") || id.starts_with("py_")),
    };
    Some(BalanceEntry {
        id: text(object, "id")?.to_owned(),
        kind: text(object, "type").unwrap_or("unknown").to_owned(),
        source_id,
        charge_id,
        payment_intent_id: source_object
            .and_then(|s| id_of(s, "payment_intent"))
            .map(str::to_owned),
        gross_minor: amount(object, "amount"),
        fee_minor: amount(object, "fee"),
        net_minor: amount(object, "net"),
    })
}

/// Stripe's objects as listed, by id, to build events from when applying.
#[derive(Debug, Default)]
struct StripeObjects {
    charges: HashMap<String, Value>,
    invoices: HashMap<String, Value>,
    disputes: HashMap<String, Value>,
}

fn window_params(
    field: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let (gte, lt) = match field {
        "arrival_date" => ("arrival_date[gte]", "arrival_date[lt]"),
        _ => ("created[gte]", "created[lt]"),
    };
    vec![
        (gte, from.timestamp().to_string()),
        (lt, to.timestamp().to_string()),
    ]
}

async fn fetch_ledger(
    client: &StripeClient,
    range: &ReconcileRange,
) -> Result<(ProcessorLedger, StripeObjects), StripeFailure> {
    let (from, to) = range.listing_window();
    let created = window_params("created", from, to);
    let with = |extra: &[(&'static str, &str)]| {
        let mut params = created.clone();
        params.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        params
    };
    let mut ledger = ProcessorLedger::default();
    let mut objects = StripeObjects::default();

    for object in list_all(
        client,
        "/charges",
        &with(&[("expand[]", "data.balance_transaction")]),
    )
    .await?
    {
        let parsed = charge(&object).ok_or_else(|| unreadable("charges"))?;
        objects.charges.insert(parsed.id.clone(), object);
        ledger.charges.push(parsed);
    }
    for object in list_all(client, "/refunds", &with(&[("expand[]", "data.charge")])).await? {
        ledger
            .refunds
            .push(refund(&object).ok_or_else(|| unreadable("refunds"))?);
        if let Some(charge) = object.get("charge").filter(|c| c.is_object())
            && let Some(id) = text(charge, "id")
        {
            objects
                .charges
                .entry(id.to_owned())
                .or_insert_with(|| charge.clone());
        }
    }
    for object in list_all(client, "/disputes", &created).await? {
        let parsed = dispute(&object).ok_or_else(|| unreadable("disputes"))?;
        objects.disputes.insert(parsed.id.clone(), object);
        ledger.disputes.push(parsed);
    }
    let invoices = list_all(
        client,
        "/invoices",
        &with(&[("status", "paid"), ("expand[]", "data.payments")]),
    )
    .await?;
    for object in invoices {
        // An invoice that bills no subscription is no installment of a pledge.
        if let Some(parsed) = invoice(&object) {
            objects.invoices.insert(parsed.id.clone(), object);
            ledger.invoices.push(parsed);
        }
    }
    for object in list_all(
        client,
        "/payouts",
        &window_params("arrival_date", range.from, range.to),
    )
    .await?
    {
        let id = text(&object, "id").ok_or_else(|| unreadable("payouts"))?;
        let entries = list_all(
            client,
            "/balance_transactions",
            &[
                ("payout", id.to_owned()),
                ("expand[]", "data.source".to_owned()),
            ],
        )
        .await?
        .iter()
        .map(|entry| balance_entry(entry).ok_or_else(|| unreadable("balance transactions")))
        .collect::<Result<Vec<_>, _>>()?;
        ledger.payouts.push(ProcessorPayout {
            id: id.to_owned(),
            amount_minor: amount(&object, "amount"),
            currency: currency(&object),
            arrival_date: timestamp(&object, "arrival_date"),
            status: text(&object, "status").unwrap_or("unknown").to_owned(),
            entries,
        });
    }
    ledger.payouts.sort_by_key(|p| p.arrival_date);
    Ok((ledger, objects))
}

pub use crate::domain::reconciliation::{AppliedRepair, ApplySettings, ReconcileRun};

/// Lists Stripe's objects for the range and compares them with the books; with
/// `apply`, records what is missing and the fees Stripe reported, then compares again.
pub async fn reconcile_with_stripe(
    db: &DatabaseConnection,
    client: &StripeClient,
    range: ReconcileRange,
    apply: Option<ApplySettings<'_>>,
) -> Result<ReconcileRun, DomainError> {
    let (ledger, objects) = fetch_ledger(client, &range).await?;
    let report = reconciliation::reconcile(db, range, &ledger).await?;
    let Some(settings) = apply else {
        return Ok(ReconcileRun {
            report,
            applied: Vec::new(),
            fees_recorded: 0,
            after: None,
        });
    };
    let mut applied = Vec::new();
    for finding in &report.findings {
        let Some(repair) = &finding.repair else {
            continue;
        };
        let (object_id, outcome) = apply_repair(db, client, &settings, &objects, repair).await?;
        applied.push(AppliedRepair { object_id, outcome });
    }
    // Gifts recorded just now get their fees too: compare again before recording them.
    let after = reconciliation::reconcile(db, range, &ledger).await?;
    let fees_recorded = reconciliation::record_processor_fees(db, &after.fees_to_record).await?;
    let after = if fees_recorded > 0 {
        reconciliation::reconcile(db, range, &ledger).await?
    } else {
        after
    };
    Ok(ReconcileRun {
        report,
        applied,
        fees_recorded,
        after: Some(after),
    })
}

/// An event as Stripe would have sent it about `object`.
fn synthetic_event(id: &str, event_type: &str, object: &Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "type": event_type,
        "api_version": api_version(),
        "created": object.get("created").cloned().unwrap_or(Value::Null),
        "livemode": object.get("livemode").cloned().unwrap_or(Value::Bool(false)),
        "data": { "object": object },
    })
}

/// Records a synthetic event through the webhook's path. An installment whose pledge
/// is not known yet carries its subscription, fetched as the webhook fetches it.
async fn record_synthetic(
    db: &DatabaseConnection,
    client: &StripeClient,
    settings: &ApplySettings<'_>,
    event: Value,
) -> Result<String, DomainError> {
    let body = serde_json::to_vec(&event).map_err(|e| DomainError::Unexpected(e.into()))?;
    let mut parsed = match events::parse_event(&body) {
        Ok(parsed) => parsed,
        Err(error) => return Ok(format!("not recorded: {error}")),
    };
    if let PaymentEffect::Unreadable(reason) = &parsed.effect {
        return Ok(format!("not recorded: {reason}"));
    }
    match super::lookups::complete_event(db, client, &mut parsed).await {
        Ok(()) => {}
        Err(super::lookups::LookupError::Unavailable(error)) => {
            return Err(StripeFailure::Unavailable(error).into());
        }
        Err(super::lookups::LookupError::Domain(error)) => return Err(error),
    }
    Ok(
        match payments::record_processor_event(
            db,
            settings.org,
            settings.org_currency,
            settings.policy,
            parsed,
        )
        .await?
        {
            EventOutcome::Recorded {
                status: StripeEventStatus::Applied,
                summary,
            } => summary,
            EventOutcome::Recorded { status, summary } => format!("{status}: {summary}"),
            EventOutcome::AlreadyRecorded(status) => format!("already recorded ({status})"),
        },
    )
}

/// The first checkout session Stripe lists for a payment intent or a subscription.
async fn checkout_session_for(
    client: &StripeClient,
    filter: &str,
    id: &str,
) -> Result<Option<Value>, StripeFailure> {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(filter, id)
        .append_pair("limit", "1")
        .finish();
    let page = client.get(&format!("/checkout/sessions?{query}")).await?;
    Ok(page.pointer("/data/0").cloned())
}

async fn apply_repair(
    db: &DatabaseConnection,
    client: &StripeClient,
    settings: &ApplySettings<'_>,
    objects: &StripeObjects,
    repair: &Repair,
) -> Result<(String, String), DomainError> {
    match repair {
        Repair::RecordCheckout { charge_id } => {
            let intent = objects
                .charges
                .get(charge_id)
                .and_then(|c| id_of(c, "payment_intent"));
            let Some(intent) = intent else {
                return Ok((
                    charge_id.clone(),
                    "not recorded: the charge has no payment intent, so no checkout session; record it by hand".into(),
                ));
            };
            let Some(session) = checkout_session_for(client, "payment_intent", intent).await?
            else {
                return Ok((
                    charge_id.clone(),
                    format!(
                        "not recorded: no checkout session for payment intent {intent}; record it by hand"
                    ),
                ));
            };
            let event = synthetic_event(
                &format!("reconcile:{charge_id}"),
                "checkout.session.completed",
                &session,
            );
            Ok((
                charge_id.clone(),
                record_synthetic(db, client, settings, event).await?,
            ))
        }
        Repair::RecordInstallment { invoice_id } => {
            let Some(invoice) = objects.invoices.get(invoice_id) else {
                return Ok((
                    invoice_id.clone(),
                    "not recorded: invoice not listed".into(),
                ));
            };
            // The checkout that started the subscription carries the donor's details
            // (subscriptions and invoices may not): it is recorded first when the pledge
            // is unknown.
            if let Some(subscription) = events::invoice_subscription_id(invoice)
                && !payments::pledge_exists(db, subscription).await?
                && let Some(session) =
                    checkout_session_for(client, "subscription", subscription).await?
                && let Some(session_id) = text(&session, "id")
            {
                let event = synthetic_event(
                    &format!("reconcile:{session_id}"),
                    "checkout.session.completed",
                    &session,
                );
                record_synthetic(db, client, settings, event).await?;
            }
            let event =
                synthetic_event(&format!("reconcile:{invoice_id}"), "invoice.paid", invoice);
            Ok((
                invoice_id.clone(),
                record_synthetic(db, client, settings, event).await?,
            ))
        }
        Repair::RecordRefund { charge_id } => {
            let charge = match objects.charges.get(charge_id) {
                Some(charge) => charge.clone(),
                None => {
                    client
                        .get(&format!("/charges/{}", path_segment(charge_id)))
                        .await?
                }
            };
            // One event per refunded total: a later, larger refund is applied again.
            let event = synthetic_event(
                &format!(
                    "reconcile:{charge_id}:refunded:{}",
                    amount(&charge, "amount_refunded")
                ),
                "charge.refunded",
                &charge,
            );
            Ok((
                charge_id.clone(),
                record_synthetic(db, client, settings, event).await?,
            ))
        }
        Repair::RecordDispute { dispute_id } => {
            let Some(dispute) = objects.disputes.get(dispute_id) else {
                return Ok((
                    dispute_id.clone(),
                    "not recorded: dispute not listed".into(),
                ));
            };
            let status = text(dispute, "status").unwrap_or("unknown");
            let event_type = match status {
                "won" | "lost" | "warning_closed" => "charge.dispute.closed",
                _ => "charge.dispute.created",
            };
            let event = synthetic_event(
                &format!("reconcile:{dispute_id}:{status}"),
                event_type,
                dispute,
            );
            Ok((
                dispute_id.clone(),
                record_synthetic(db, client, settings, event).await?,
            ))
        }
    }
}

/// Keeps an id from escaping its path segment.
fn path_segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn money(minor: i64, currency: &str) -> String {
    match entity::Currency::parse(currency) {
        Ok(parsed) => entity::format_minor(minor, parsed),
        Err(_) => format!("{minor} {currency}"),
    }
}

/// The report as the command line prints it.
pub struct ReportText<'a>(pub &'a ReconciliationReport);

impl fmt::Display for ReportText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.0;
        writeln!(
            f,
            "Stripe, {} to {}: {} charges, {} refunds, {} disputes, {} paid invoices; books: {} gifts paid through Stripe",
            report.range.from_day,
            report.range.to_day,
            report.charges_seen,
            report.refunds_seen,
            report.disputes_seen,
            report.invoices_seen,
            report.gifts_seen
        )?;
        if report.findings.is_empty() {
            writeln!(
                f,
                "The books match Stripe: nothing is missing and nothing differs."
            )?;
        } else {
            match report.findings.len() {
                1 => writeln!(f, "1 difference:")?,
                n => writeln!(f, "{n} differences:")?,
            }
            for finding in &report.findings {
                let mend = if finding.repair.is_some() {
                    " [--apply records it]"
                } else {
                    ""
                };
                writeln!(
                    f,
                    "  {:<16} {}{mend}",
                    kind_text(finding.kind),
                    finding.summary
                )?;
            }
        }
        if report.payouts.is_empty() {
            writeln!(f, "No payouts arrived in the range.")?;
        }
        for payout in &report.payouts {
            writeln!(
                f,
                "Payout {} arriving {} ({}): {}; gross {}, fees {}, net {}{}",
                payout.id,
                payout.arrival_date.date_naive(),
                payout.status,
                money(payout.amount_minor, &payout.currency),
                money(payout.gross_minor, &payout.currency),
                money(payout.fee_minor, &payout.currency),
                money(payout.net_minor, &payout.currency),
                if payout.balanced() {
                    ", balanced"
                } else {
                    ", NOT equal to the payout"
                }
            )?;
            for line in &payout.lines {
                let gift = line
                    .gift_id
                    .map(|id| format!("gift {id}"))
                    .unwrap_or_else(|| "no gift".to_owned());
                writeln!(
                    f,
                    "  {:<28} {:<10} {:<30} {:<10} gross {:>12} fee {:>10} net {:>12}",
                    line.entry.id,
                    line.entry.kind,
                    line.entry.source_id.as_deref().unwrap_or("-"),
                    gift,
                    money(line.entry.gross_minor, &payout.currency),
                    money(line.entry.fee_minor, &payout.currency),
                    money(line.entry.net_minor, &payout.currency),
                )?;
            }
        }
        Ok(())
    }
}

fn kind_text(kind: reconciliation::FindingKind) -> &'static str {
    use reconciliation::FindingKind::*;
    match kind {
        GiftMissing => "gift missing",
        NotAtProcessor => "not at Stripe",
        AmountDiffers => "amount differs",
        CurrencyDiffers => "currency differs",
        StatusDiffers => "status differs",
        RefundedDiffers => "refund differs",
        UnknownCharge => "unknown charge",
    }
}

impl fmt::Display for ReconcileRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", ReportText(&self.report))?;
        let Some(after) = &self.after else {
            return Ok(());
        };
        writeln!(f, "Applied:")?;
        for repair in &self.applied {
            writeln!(f, "  {}: {}", repair.object_id, repair.outcome)?;
        }
        if self.applied.is_empty() {
            writeln!(f, "  nothing to record")?;
        }
        writeln!(f, "Stripe's fee recorded on {} gifts.", self.fees_recorded)?;
        if after.findings.is_empty() {
            writeln!(f, "After applying, the books match Stripe.")
        } else {
            match after.findings.len() {
                1 => writeln!(f, "After applying, 1 difference remains:")?,
                n => writeln!(f, "After applying, {n} differences remain:")?,
            }
            for finding in &after.findings {
                writeln!(f, "  {:<16} {}", kind_text(finding.kind), finding.summary)?;
            }
            Ok(())
        }
    }
}
