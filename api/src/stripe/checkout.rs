//! Creating Checkout Sessions: `mode=payment` for a one-off gift, `mode=subscription`
//! with a monthly recurring price for a monthly gift. The donor's choices travel in
//! metadata (on the session and on its payment intent or subscription) so every later
//! event can be recorded on its own, whatever order they arrive in.

use entity::enums::TributeKind;
use serde_json::Value;
use url::Url;

use super::client::{StripeClient, StripeFailure};
use super::events::keys;

pub use crate::domain::donations::{Donation, Frequency};

/// A session Stripe created: where to send the donor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSession {
    pub id: String,
    pub url: String,
}

fn metadata(donation: &Donation) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        (keys::FUND, donation.fund_code.clone()),
        (keys::DONOR_EMAIL, donation.email.clone()),
        (keys::DONOR_NAME, donation.name.clone()),
        (keys::LANGUAGE, donation.language.clone()),
        (keys::EMAIL_CONSENT, donation.email_consent.to_string()),
        (keys::ANONYMOUS, donation.anonymous.to_string()),
    ];
    if let Some(appeal) = &donation.appeal_code {
        pairs.push((keys::APPEAL, appeal.clone()));
    }
    if let Some(tribute) = &donation.tribute {
        let kind = match tribute.kind {
            TributeKind::InHonorOf => "in_honor_of",
            TributeKind::InMemoryOf => "in_memory_of",
        };
        pairs.push((keys::TRIBUTE_KIND, kind.to_owned()));
        pairs.push((keys::TRIBUTE_NAME, tribute.name.clone()));
        if let Some(name) = &tribute.notify_name {
            pairs.push((keys::TRIBUTE_NOTIFY_NAME, name.clone()));
        }
        if let Some(email) = &tribute.notify_email {
            pairs.push((keys::TRIBUTE_NOTIFY_EMAIL, email.clone()));
        }
        if tribute.show_amount {
            pairs.push((keys::TRIBUTE_SHOW_AMOUNT, "true".to_owned()));
        }
    }
    pairs
}

/// The form Stripe's API takes for this donation.
pub fn session_form(
    donation: &Donation,
    organization: &str,
    public_url: &Url,
) -> Vec<(String, String)> {
    let base = public_url.as_str().trim_end_matches('/');
    let lang = &donation.language;
    let mut form: Vec<(String, String)> = vec![
        (
            "success_url".into(),
            format!("{base}/donate/thanks?session_id={{CHECKOUT_SESSION_ID}}&lang={lang}"),
        ),
        (
            "cancel_url".into(),
            format!("{base}/donate/cancelled?lang={lang}"),
        ),
        ("customer_email".into(), donation.email.clone()),
        ("line_items[0][quantity]".into(), "1".into()),
        (
            "line_items[0][price_data][currency]".into(),
            donation.amount.currency().code().to_ascii_lowercase(),
        ),
        (
            "line_items[0][price_data][unit_amount]".into(),
            donation.amount.amount_minor().to_string(),
        ),
        (
            "line_items[0][price_data][product_data][name]".into(),
            match donation.frequency {
                Frequency::Once => format!("Gift to {organization}: {}", donation.fund_name),
                Frequency::Monthly => {
                    format!("Monthly gift to {organization}: {}", donation.fund_name)
                }
            },
        ),
    ];
    // Checkout's own languages; Arabic is not one, so Stripe picks from the browser.
    let locale = match lang.as_str() {
        "en" | "es" | "fr" => lang.as_str(),
        _ => "auto",
    };
    form.push(("locale".into(), locale.into()));
    let carrier = match donation.frequency {
        Frequency::Once => {
            form.push(("mode".into(), "payment".into()));
            form.push(("submit_type".into(), "donate".into()));
            form.push(("customer_creation".into(), "always".into()));
            "payment_intent_data"
        }
        Frequency::Monthly => {
            form.push(("mode".into(), "subscription".into()));
            form.push((
                "line_items[0][price_data][recurring][interval]".into(),
                "month".into(),
            ));
            "subscription_data"
        }
    };
    for (key, value) in metadata(donation) {
        form.push((format!("metadata[{key}]"), value.clone()));
        form.push((format!("{carrier}[metadata][{key}]"), value));
    }
    form
}

/// Creates the session; the same idempotency key always yields the same session.
pub async fn create_checkout_session(
    client: &StripeClient,
    donation: &Donation,
    organization: &str,
    public_url: &Url,
    idempotency_key: &str,
) -> Result<CreatedSession, StripeFailure> {
    let form = session_form(donation, organization, public_url);
    let session = client
        .post("/checkout/sessions", &form, idempotency_key)
        .await?;
    let field = |name: &str| session.get(name).and_then(Value::as_str).map(str::to_owned);
    match (field("id"), field("url")) {
        (Some(id), Some(url)) => Ok(CreatedSession { id, url }),
        _ => Err(StripeFailure::Unavailable(
            "Stripe answered without a session id and URL".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use entity::Money;

    use super::*;

    fn donation(frequency: Frequency) -> Donation {
        Donation {
            frequency,
            amount: Money::usd(4_200).unwrap_or_else(|_| unreachable!()),
            fund_code: "GENERAL".into(),
            fund_name: "General".into(),
            appeal_code: Some("SCOMM11-EMAIL".into()),
            tribute: None,
            name: "Ana".into(),
            email: "ana@example.org".into(),
            language: "es".into(),
            email_consent: false,
            anonymous: true,
        }
    }

    fn value<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
        form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_one_off_gift_is_a_payment_session_that_says_donate() -> Result<(), url::ParseError> {
        let form = session_form(
            &donation(Frequency::Once),
            "Org",
            &Url::parse("https://give.example.org/")?,
        );
        assert_eq!(value(&form, "mode"), Some("payment"));
        assert_eq!(value(&form, "submit_type"), Some("donate"));
        assert_eq!(
            value(&form, "payment_intent_data[metadata][appeal]"),
            Some("SCOMM11-EMAIL")
        );
        assert_eq!(
            value(&form, "success_url"),
            Some("https://give.example.org/donate/thanks?session_id={CHECKOUT_SESSION_ID}&lang=es")
        );
        Ok(())
    }

    #[test]
    fn a_monthly_gift_is_a_subscription_with_a_monthly_price() -> Result<(), url::ParseError> {
        let form = session_form(
            &donation(Frequency::Monthly),
            "Org",
            &Url::parse("https://give.example.org")?,
        );
        assert_eq!(value(&form, "mode"), Some("subscription"));
        assert_eq!(value(&form, "submit_type"), None);
        assert_eq!(
            value(&form, "line_items[0][price_data][recurring][interval]"),
            Some("month")
        );
        assert_eq!(
            value(&form, "subscription_data[metadata][anonymous]"),
            Some("true")
        );
        Ok(())
    }
}
