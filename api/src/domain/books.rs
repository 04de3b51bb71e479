//! Mending the books from the payment processor's side, as staff ask for it:
//! reconciling a range of days (and, for admins, recording what the books lack) and
//! processing a stored processor event again. Each change is audited.

use chrono::NaiveDate;
use entity::stripe_event;
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::payments::{self, EventOutcome};
use super::processor::PaymentProcessor;
use super::reconciliation::{ApplySettings, ReconcileRange, ReconcileRun};
use super::{Actor, DomainError, audit};
use crate::config::Config;

/// The processor's records for the days `from..=to` against the books; changes nothing.
pub async fn reconciliation(
    db: &DatabaseConnection,
    processor: &impl PaymentProcessor,
    config: &Config,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<ReconcileRun, DomainError> {
    let range = ReconcileRange::new(&config.org, from, to)?;
    processor.reconcile(db, range, None).await
}

/// Reconciles the days `from..=to` and records what the books lack, as the processor's
/// events would have, then compares again; the run is audited.
pub async fn apply_reconciliation(
    db: &DatabaseConnection,
    processor: &impl PaymentProcessor,
    config: &Config,
    actor: &Actor,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<ReconcileRun, DomainError> {
    let range = ReconcileRange::new(&config.org, from, to)?;
    let policy = config.club_policy();
    let settings = ApplySettings {
        org: &config.org,
        org_currency: config.org_currency,
        policy: &policy,
    };
    let run = processor.reconcile(db, range, Some(settings)).await?;
    let after = run.after.as_ref().unwrap_or(&run.report);
    audit::record(
        db,
        actor,
        "applyReconciliation",
        "reconciliation",
        Some(format!("{from}..{to}")),
        json!({
            "applied": run
                .applied
                .iter()
                .map(|a| json!({ "object": a.object_id, "outcome": a.outcome }))
                .collect::<Vec<_>>(),
            "fees_recorded": run.fees_recorded,
            "differences_before": run.report.findings.len(),
            "differences_after": after.findings.len(),
        }),
    )
    .await?;
    Ok(run)
}

/// A stored processor event processed again, as a redelivery would, audited: the event
/// as it stands after, and whether this run processed it (rather than finding it ended).
pub async fn reprocess_event(
    db: &DatabaseConnection,
    processor: &impl PaymentProcessor,
    config: &Config,
    actor: &Actor,
    id: i64,
) -> Result<(stripe_event::Model, bool), DomainError> {
    let stored = payments::stored_event(db, id).await?;
    let outcome = processor.reprocess_event(db, config, &stored).await?;
    let processed = matches!(outcome, EventOutcome::Recorded { .. });
    let after = payments::stored_event(db, id).await?;
    audit::record(
        db,
        actor,
        "stripe_event.reprocessed",
        "stripe_event",
        Some(id.to_string()),
        json!({
            "stripeEventId": after.event_id,
            "before": stored.status.as_str(),
            "after": after.status.as_str(),
            "processed": processed,
        }),
    )
    .await?;
    Ok((after, processed))
}
