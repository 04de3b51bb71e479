//! Reading Stripe's event payloads (API version pinned in `client::API_VERSION`) into
//! the domain's plain inputs. Only this module knows Stripe's field names.
//!
//! Since API version 2025-03-31 an invoice names its subscription at
//! `parent.subscription_details.subscription`, and its payment only under `payments`,
//! which is included when expanded and never in a webhook: the payment is then read from
//! `GET /v1/invoice_payments?invoice=…` (see `lookups`). The older top-level
//! `subscription` and `payment_intent` fields are read as a fallback. A charge no longer
//! names its invoice; it names its payment intent.

use chrono::{DateTime, TimeZone, Utc};
use entity::enums::{Language, PledgeFrequency, PledgeStatus, TributeKind};
use entity::{Currency, Money};
use serde_json::Value;

use crate::domain::gifts::Tribute;
use crate::domain::payments::{
    ChargeRefund, CheckoutPayment, Designation, DisputeNotice, FailedRefund, InstallmentFailure,
    InstallmentPayment, PayerDetails, PaymentEffect, ProcessorEvent, ProcessorRefund, Subscription,
};
use crate::domain::text::{MAX_NAME, clean_line};

/// The metadata keys the checkout writes and the events carry back.
pub mod keys {
    pub const FUND: &str = "fund";
    pub const APPEAL: &str = "appeal";
    pub const TRIBUTE_KIND: &str = "tribute_kind";
    pub const TRIBUTE_NAME: &str = "tribute_name";
    pub const TRIBUTE_NOTIFY_NAME: &str = "tribute_notify_name";
    pub const TRIBUTE_NOTIFY_EMAIL: &str = "tribute_notify_email";
    pub const TRIBUTE_SHOW_AMOUNT: &str = "tribute_show_amount";
    pub const DONOR_EMAIL: &str = "donor_email";
    pub const DONOR_NAME: &str = "donor_name";
    pub const LANGUAGE: &str = "language";
    pub const EMAIL_CONSENT: &str = "email_consent";
    pub const ANONYMOUS: &str = "anonymous";
}

/// A payload that is signed but cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable Stripe event: {0}")]
pub struct UnreadableEvent(pub String);

fn text<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A name from metadata, made one line: names arrive here without the page's checks.
fn line(value: &Value, field: &str) -> Option<String> {
    text(value, field).and_then(|name| clean_line(name, MAX_NAME))
}

/// An id that may be expanded into its object.
fn id_of<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    match value.get(field) {
        Some(Value::String(id)) if !id.is_empty() => Some(id),
        Some(object @ Value::Object(_)) => text(object, "id"),
        _ => None,
    }
}

fn required<'a>(value: &'a Value, field: &str) -> Result<&'a str, UnreadableEvent> {
    text(value, field).ok_or_else(|| UnreadableEvent(format!("no {field}")))
}

fn timestamp(value: Option<&Value>) -> Option<DateTime<Utc>> {
    value
        .and_then(Value::as_i64)
        .and_then(|secs| Utc.timestamp_opt(secs, 0).single())
}

/// When Stripe made an object (its `created`).
pub fn created_at(object: &Value) -> Option<DateTime<Utc>> {
    timestamp(object.get("created"))
}

/// Stripe's time of an event.
fn event_time(payload: &Value) -> DateTime<Utc> {
    timestamp(payload.get("created")).unwrap_or_else(Utc::now)
}

fn money(amount: Option<&Value>, currency: Option<&str>) -> Result<Money, UnreadableEvent> {
    let amount = amount
        .and_then(Value::as_i64)
        .ok_or_else(|| UnreadableEvent("no amount".into()))?;
    let currency =
        Currency::parse(currency.unwrap_or("usd")).map_err(|e| UnreadableEvent(e.to_string()))?;
    Money::new(amount, currency).map_err(|e| UnreadableEvent(e.to_string()))
}

fn flag(metadata: &Value, key: &str) -> bool {
    text(metadata, key) == Some("true")
}

fn language(code: Option<&str>) -> Option<Language> {
    match code? {
        "en" => Some(Language::English),
        "es" => Some(Language::Spanish),
        "fr" => Some(Language::French),
        "ar" => Some(Language::Arabic),
        _ => None,
    }
}

fn designation(metadata: &Value) -> Designation {
    let tribute = line(metadata, keys::TRIBUTE_NAME).map(|name| Tribute {
        kind: match text(metadata, keys::TRIBUTE_KIND) {
            Some("in_memory_of") => TributeKind::InMemoryOf,
            _ => TributeKind::InHonorOf,
        },
        name,
        notify_name: line(metadata, keys::TRIBUTE_NOTIFY_NAME),
        notify_email: text(metadata, keys::TRIBUTE_NOTIFY_EMAIL).map(str::to_owned),
        notify_address: None,
        show_amount: text(metadata, keys::TRIBUTE_SHOW_AMOUNT) == Some("true"),
    });
    Designation {
        fund_code: text(metadata, keys::FUND).map(str::to_owned),
        appeal_code: text(metadata, keys::APPEAL).map(str::to_owned),
        tribute,
    }
}

fn payer(
    object: &Value,
    metadata: &Value,
    email: Option<&str>,
    name: Option<&str>,
) -> PayerDetails {
    PayerDetails {
        email: email
            .or_else(|| text(metadata, keys::DONOR_EMAIL))
            .map(str::to_owned),
        name: text(metadata, keys::DONOR_NAME)
            .or(name)
            .and_then(|name| clean_line(name, MAX_NAME)),
        customer_id: id_of(object, "customer").map(str::to_owned),
        language: language(text(metadata, keys::LANGUAGE)),
        email_consent: flag(metadata, keys::EMAIL_CONSENT),
        anonymous: flag(metadata, keys::ANONYMOUS),
    }
}

fn empty() -> &'static Value {
    static EMPTY: Value = Value::Null;
    &EMPTY
}

/// A checkout session in payment mode.
pub fn checkout_payment(session: &Value) -> Result<CheckoutPayment, UnreadableEvent> {
    let metadata = session.get("metadata").unwrap_or(empty());
    let details = session.get("customer_details").unwrap_or(empty());
    let email = text(details, "email").or_else(|| text(session, "customer_email"));
    let status = text(session, "payment_status").unwrap_or("unpaid");
    Ok(CheckoutPayment {
        session_id: required(session, "id")?.to_owned(),
        payment_intent_id: id_of(session, "payment_intent").map(str::to_owned),
        amount: money(session.get("amount_total"), text(session, "currency"))?,
        paid: matches!(status, "paid" | "no_payment_required"),
        created_at: timestamp(session.get("created")).unwrap_or_else(Utc::now),
        payer: payer(session, metadata, email, text(details, "name")),
        designation: designation(metadata),
    })
}

/// A checkout session in subscription mode, read as the start of its subscription, as
/// it stood at `as_of` (the time of the event that carried it). The session does not
/// say how often the subscription bills.
pub fn checkout_subscription(
    session: &Value,
    as_of: DateTime<Utc>,
) -> Result<Subscription, UnreadableEvent> {
    let metadata = session.get("metadata").unwrap_or(empty());
    let details = session.get("customer_details").unwrap_or(empty());
    let email = text(details, "email").or_else(|| text(session, "customer_email"));
    Ok(Subscription {
        subscription_id: id_of(session, "subscription")
            .ok_or_else(|| UnreadableEvent("no subscription".into()))?
            .to_owned(),
        installment: money(session.get("amount_total"), text(session, "currency"))?,
        frequency: None,
        status: PledgeStatus::Active,
        as_of,
        first_state: false,
        started_at: timestamp(session.get("created")).unwrap_or_else(Utc::now),
        cancelled_at: None,
        cancel_reason: None,
        payer: payer(session, metadata, email, text(details, "name")),
        designation: designation(metadata),
    })
}

/// How often a price recurs, as a pledge frequency; other schedules (weekly, every two
/// months) have no pledge frequency and make the event unreadable.
fn frequency(price: &Value) -> Result<PledgeFrequency, UnreadableEvent> {
    let recurring = price.get("recurring").unwrap_or(price);
    let interval = text(recurring, "interval").unwrap_or("month");
    let count = recurring
        .get("interval_count")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    match (interval, count) {
        ("month", 1) => Ok(PledgeFrequency::Monthly),
        ("month", 3) => Ok(PledgeFrequency::Quarterly),
        ("year", 1) | ("month", 12) => Ok(PledgeFrequency::Yearly),
        (interval, count) => Err(UnreadableEvent(format!(
            "a subscription every {count} {interval} has no pledge frequency"
        ))),
    }
}

fn pledge_status(status: &str) -> PledgeStatus {
    match status {
        "past_due" | "unpaid" | "incomplete" => PledgeStatus::PastDue,
        "paused" => PledgeStatus::Paused,
        "canceled" | "incomplete_expired" => PledgeStatus::Cancelled,
        _ => PledgeStatus::Active,
    }
}

/// A subscription object, as it stood at `as_of`: the time of the event that carried
/// it, or the moment it was asked of the API.
pub fn subscription(object: &Value, as_of: DateTime<Utc>) -> Result<Subscription, UnreadableEvent> {
    let metadata = object.get("metadata").unwrap_or(empty());
    let item = object
        .pointer("/items/data/0")
        .ok_or_else(|| UnreadableEvent("subscription has no items".into()))?;
    let price = item
        .get("price")
        .or_else(|| item.get("plan"))
        .unwrap_or(empty());
    let quantity = item.get("quantity").and_then(Value::as_i64).unwrap_or(1);
    let unit = price
        .get("unit_amount")
        .or_else(|| price.get("amount"))
        .and_then(Value::as_i64)
        .ok_or_else(|| UnreadableEvent("subscription price has no amount".into()))?;
    let currency = text(price, "currency").or_else(|| text(object, "currency"));
    let mut status = pledge_status(text(object, "status").unwrap_or("active"));
    // Collection paused by request keeps Stripe's status "active": the pledge is paused.
    if status == PledgeStatus::Active
        && object.get("pause_collection").is_some_and(|v| !v.is_null())
    {
        status = PledgeStatus::Paused;
    }
    Ok(Subscription {
        subscription_id: required(object, "id")?.to_owned(),
        installment: money(Some(&Value::from(unit.saturating_mul(quantity))), currency)?,
        frequency: Some(frequency(price)?),
        status,
        as_of,
        first_state: false,
        started_at: timestamp(object.get("start_date"))
            .or_else(|| timestamp(object.get("created")))
            .unwrap_or_else(Utc::now),
        cancelled_at: timestamp(object.get("canceled_at"))
            .or_else(|| timestamp(object.get("ended_at"))),
        cancel_reason: object
            .pointer("/cancellation_details/reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        payer: payer(object, metadata, None, None),
        designation: designation(metadata),
    })
}

/// The subscription an invoice bills, if any.
pub fn invoice_subscription_id(invoice: &Value) -> Option<&str> {
    invoice
        .pointer("/parent/subscription_details/subscription")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| id_of(invoice, "subscription"))
}

fn invoice_payment_intent(invoice: &Value) -> Option<String> {
    id_of(invoice, "payment_intent")
        .map(str::to_owned)
        .or_else(|| {
            invoice
                .get("payments")
                .and_then(|p| paid_invoice_payment(p).0)
        })
}

/// The payment intent and charge of an invoice payment (`invoice_payment` object, or one
/// entry of an expanded `invoice.payments`).
pub fn invoice_payment(payment: &Value) -> (Option<String>, Option<String>) {
    let inner = payment.get("payment").unwrap_or(empty());
    (
        id_of(inner, "payment_intent").map(str::to_owned),
        id_of(inner, "charge").map(str::to_owned),
    )
}

/// The paid entry of a list of invoice payments, if any.
pub fn paid_invoice_payment(list: &Value) -> (Option<String>, Option<String>) {
    let entries = list.get("data").and_then(Value::as_array);
    let paid = entries.and_then(|entries| {
        entries
            .iter()
            .find(|p| text(p, "status") == Some("paid"))
            .or_else(|| entries.first())
    });
    paid.map(invoice_payment).unwrap_or((None, None))
}

/// The first object of a list answer (`GET /v1/checkout/sessions?subscription=…`).
/// A refund object as the domain reads it, with the request id this service sent it
/// with (kept in its metadata).
pub fn processor_refund(refund: &Value) -> Option<ProcessorRefund> {
    Some(ProcessorRefund {
        refund_id: text(refund, "id")?.to_owned(),
        amount_minor: refund.get("amount").and_then(Value::as_i64)?,
        status: text(refund, "status").unwrap_or("pending").to_owned(),
        request_id: refund
            .pointer("/metadata/request_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

pub fn first_of_list(list: &Value) -> Option<&Value> {
    list.pointer("/data/0")
}

/// A customer's email and name.
pub fn customer_contact(customer: &Value) -> (Option<String>, Option<String>) {
    (
        text(customer, "email").map(str::to_owned),
        text(customer, "name").map(str::to_owned),
    )
}

fn installment(invoice: &Value) -> Result<InstallmentPayment, UnreadableEvent> {
    Ok(InstallmentPayment {
        invoice_id: required(invoice, "id")?.to_owned(),
        subscription_id: invoice_subscription_id(invoice)
            .ok_or_else(|| UnreadableEvent("invoice has no subscription".into()))?
            .to_owned(),
        payment_intent_id: invoice_payment_intent(invoice),
        charge_id: id_of(invoice, "charge").map(str::to_owned).or_else(|| {
            invoice
                .get("payments")
                .and_then(|p| paid_invoice_payment(p).1)
        }),
        amount: money(invoice.get("amount_paid"), text(invoice, "currency"))?,
        paid_at: timestamp(invoice.pointer("/status_transitions/paid_at"))
            .or_else(|| timestamp(invoice.get("created")))
            .unwrap_or_else(Utc::now),
        payer_email: text(invoice, "customer_email").map(str::to_owned),
        customer_id: id_of(invoice, "customer").map(str::to_owned),
        first_installment: text(invoice, "billing_reason")
            .map(|reason| reason == "subscription_create"),
        tribute: invoice
            .pointer("/parent/subscription_details/metadata")
            .and_then(|metadata| designation(metadata).tribute),
        subscription: None,
    })
}

/// The id and type of a verified event body, read without building the rest, so a
/// redelivery can be answered before the event is parsed in full.
pub fn event_identity(body: &[u8]) -> Option<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Identity {
        id: String,
        #[serde(rename = "type")]
        event_type: String,
    }
    serde_json::from_slice::<Identity>(body)
        .ok()
        .map(|identity| (identity.id, identity.event_type))
}

/// Reads a verified event body. An event of a type the service does not handle, or
/// one with nothing to record (an invoice without a subscription), becomes `Unhandled`.
pub fn parse_event(body: &[u8]) -> Result<ProcessorEvent, UnreadableEvent> {
    let payload: Value =
        serde_json::from_slice(body).map_err(|e| UnreadableEvent(format!("not JSON: {e}")))?;
    let id = required(&payload, "id")?.to_owned();
    let event_type = required(&payload, "type")?.to_owned();
    let object = payload
        .pointer("/data/object")
        .cloned()
        .ok_or_else(|| UnreadableEvent("no data.object".into()))?;
    let object = &object;
    let effect = match read_effect(&payload, &event_type, object) {
        Ok(effect) => effect,
        Err(UnreadableEvent(reason)) => {
            tracing::warn!(event = %id, %event_type, %reason, "a verified Stripe event could not be read");
            PaymentEffect::Unreadable(reason)
        }
    };
    Ok(ProcessorEvent {
        id,
        livemode: payload
            .get("livemode")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        created_at: event_time(&payload),
        event_type,
        effect,
        payload,
    })
}

fn read_effect(
    payload: &Value,
    event_type: &str,
    object: &Value,
) -> Result<PaymentEffect, UnreadableEvent> {
    Ok(match event_type {
        "checkout.session.completed" => {
            if text(object, "mode") == Some("subscription") {
                PaymentEffect::SubscriptionCheckoutCompleted(checkout_subscription(
                    object,
                    event_time(payload),
                )?)
            } else {
                PaymentEffect::CheckoutCompleted(checkout_payment(object)?)
            }
        }
        "checkout.session.async_payment_succeeded" => {
            PaymentEffect::DelayedPaymentSucceeded(checkout_payment(object)?)
        }
        "checkout.session.async_payment_failed" => {
            PaymentEffect::DelayedPaymentFailed(checkout_payment(object)?)
        }
        "invoice.paid" if invoice_subscription_id(object).is_some() => {
            PaymentEffect::InstallmentPaid(installment(object)?)
        }
        "invoice.payment_failed" if invoice_subscription_id(object).is_some() => {
            PaymentEffect::InstallmentFailed(InstallmentFailure {
                invoice_id: required(object, "id")?.to_owned(),
                subscription_id: invoice_subscription_id(object)
                    .unwrap_or_default()
                    .to_owned(),
                failed_at: event_time(payload),
                subscription: None,
            })
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let mut parsed = subscription(object, event_time(payload))?;
            parsed.first_state = event_type == "customer.subscription.created";
            if event_type == "customer.subscription.deleted" {
                parsed.status = PledgeStatus::Cancelled;
            }
            PaymentEffect::SubscriptionChanged(parsed)
        }
        "charge.refunded" => PaymentEffect::ChargeRefunded(ChargeRefund {
            charge_id: required(object, "id")?.to_owned(),
            payment_intent_id: id_of(object, "payment_intent").map(str::to_owned),
            invoice_id: id_of(object, "invoice").map(str::to_owned),
            amount_refunded_minor: object
                .get("amount_refunded")
                .and_then(Value::as_i64)
                .ok_or_else(|| UnreadableEvent("no amount_refunded".into()))?,
            as_of: event_time(payload),
            listed_at: None,
            // In the pinned version a charge's refunds are left out unless expanded,
            // which a webhook never is; the edge lists them when they are needed.
            refunds: object
                .pointer("/refunds/data")
                .and_then(Value::as_array)
                .map(|refunds| refunds.iter().filter_map(processor_refund).collect())
                .unwrap_or_default(),
        }),
        // A refund that fails after it was made (a closed card, say). Stripe tells it
        // twice: `charge.refund.updated` and `refund.failed`; other updates of a refund
        // change nothing here.
        "charge.refund.updated" | "refund.failed" => {
            let refund = processor_refund(object)
                .ok_or_else(|| UnreadableEvent("a refund without id or amount".into()))?;
            if !refund.failed() {
                return Ok(PaymentEffect::Unhandled);
            }
            PaymentEffect::RefundFailed(FailedRefund {
                charge_id: id_of(object, "charge")
                    .ok_or_else(|| UnreadableEvent("refund has no charge".into()))?
                    .to_owned(),
                payment_intent_id: id_of(object, "payment_intent").map(str::to_owned),
                refund_created_at: created_at(object).unwrap_or_else(|| event_time(payload)),
                failed_at: event_time(payload),
                refund,
            })
        }
        "charge.dispute.created" | "charge.dispute.closed" => {
            let notice = DisputeNotice {
                dispute_id: required(object, "id")?.to_owned(),
                charge_id: id_of(object, "charge")
                    .ok_or_else(|| UnreadableEvent("dispute has no charge".into()))?
                    .to_owned(),
                payment_intent_id: id_of(object, "payment_intent").map(str::to_owned),
                status: text(object, "status").unwrap_or("unknown").to_owned(),
            };
            if event_type == "charge.dispute.created" {
                PaymentEffect::DisputeOpened(notice)
            } else {
                PaymentEffect::DisputeClosed(notice)
            }
        }
        _ => PaymentEffect::Unhandled,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn effect_of(event: serde_json::Value) -> PaymentEffect {
        let body = serde_json::to_vec(&event).unwrap_or_default();
        match parse_event(&body) {
            Ok(event) => event.effect,
            Err(error) => PaymentEffect::Unreadable(error.0),
        }
    }

    fn invoice_event(invoice: serde_json::Value) -> serde_json::Value {
        json!({ "id": "evt_1", "type": "invoice.paid", "created": 1_764_000_000,
                "data": { "object": invoice } })
    }

    fn subscription_every(interval: &str, count: i64) -> Result<Subscription, UnreadableEvent> {
        subscription(
            &json!({
                "id": "sub_1", "status": "active", "start_date": 1_764_000_000,
                "items": { "data": [{ "quantity": 1, "price": {
                    "unit_amount": 50_000, "currency": "usd",
                    "recurring": { "interval": interval, "interval_count": count }
                } }] }
            }),
            Utc::now(),
        )
    }

    #[test]
    fn a_subscription_s_price_schedule_becomes_the_pledge_frequency() {
        let frequency = |interval, count| subscription_every(interval, count).map(|s| s.frequency);
        assert_eq!(
            frequency("month", 1).ok().flatten(),
            Some(PledgeFrequency::Monthly)
        );
        assert_eq!(
            frequency("month", 3).ok().flatten(),
            Some(PledgeFrequency::Quarterly)
        );
        assert_eq!(
            frequency("year", 1).ok().flatten(),
            Some(PledgeFrequency::Yearly)
        );
        let weekly = frequency("week", 1).err().map(|e| e.0).unwrap_or_default();
        assert!(weekly.contains("every 1 week"), "{weekly}");
        assert!(frequency("month", 2).is_err());
    }

    #[test]
    fn an_invoice_names_its_subscription_under_parent_in_the_pinned_version() {
        let effect = effect_of(invoice_event(json!({
            "id": "in_1", "amount_paid": 4200, "currency": "usd",
            "parent": { "subscription_details": { "subscription": "sub_new" } },
            "payments": { "data": [{ "payment": { "payment_intent": "pi_1" } }] }
        })));
        let PaymentEffect::InstallmentPaid(payment) = effect else {
            panic!("not an installment: {effect:?}");
        };
        assert_eq!(payment.subscription_id, "sub_new");
        assert_eq!(payment.payment_intent_id.as_deref(), Some("pi_1"));
        assert_eq!(payment.amount.amount_minor(), 4200);
    }

    #[test]
    fn an_invoice_in_the_older_shape_is_still_read() {
        let effect = effect_of(invoice_event(json!({
            "id": "in_1", "amount_paid": 4200, "currency": "usd",
            "subscription": "sub_old", "payment_intent": "pi_old"
        })));
        let PaymentEffect::InstallmentPaid(payment) = effect else {
            panic!("not an installment: {effect:?}");
        };
        assert_eq!(payment.subscription_id, "sub_old");
    }

    #[test]
    fn an_invoice_without_a_subscription_records_nothing() {
        let effect = effect_of(invoice_event(json!({
            "id": "in_1", "amount_paid": 4200, "currency": "usd"
        })));
        assert!(matches!(effect, PaymentEffect::Unhandled));
    }

    #[test]
    fn a_zero_amount_checkout_is_recorded_as_unreadable_not_as_a_gift() {
        let effect = effect_of(json!({
            "id": "evt_1", "type": "checkout.session.completed",
            "data": { "object": { "id": "cs_1", "mode": "payment", "amount_total": 0,
                                  "currency": "usd", "payment_status": "no_payment_required" } }
        }));
        assert!(matches!(effect, PaymentEffect::Unreadable(_)));
    }

    #[test]
    fn a_body_that_is_not_an_event_is_refused() {
        assert!(parse_event(b"not json").is_err());
        assert!(parse_event(b"{\"type\":\"x\"}").is_err());
    }
}
