//! The donation form as the donor typed it, and its checking into a `Donation`.

use std::collections::HashMap;

use entity::enums::TributeKind;
use entity::{Currency, EmailAddress};
use sha2::{Digest, Sha256};

use entity::enums::Language;

use super::super::i18n::Words;
use crate::domain::donations::{Donation, Frequency};
use crate::domain::gifts::Tribute;
use crate::domain::text;

/// The largest gift the page takes; bigger gifts are arranged with staff.
const MAX_WEB_GIFT_MINOR: i64 = 10_000_000;

/// What the donor typed, kept as text so the form can be shown again as it was.
#[derive(Debug, Clone, Default)]
pub struct DonationForm {
    pub frequency: String,
    pub amount: String,
    pub amount_other: String,
    pub fund: String,
    pub tribute_kind: String,
    pub tribute_name: String,
    pub notify_name: String,
    pub notify_email: String,
    pub tribute_show_amount: bool,
    pub name: String,
    pub email: String,
    pub email_consent: bool,
    pub anonymous: bool,
    pub appeal: String,
    pub attempt: String,
    pub lang: String,
}

impl DonationForm {
    /// Whether the gift's amount is the one in "Other": chosen, or typed there. A typed
    /// amount wins over a checked preset, since typing cannot check "Other" without a
    /// script, and the amount a donor typed is the one they mean.
    pub fn amount_is_other(&self) -> bool {
        self.amount == "other" || !self.amount_other.is_empty()
    }

    pub(super) fn from_pairs(pairs: &HashMap<String, String>) -> Self {
        let get = |key: &str| {
            pairs
                .get(key)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        DonationForm {
            frequency: get("frequency"),
            amount: get("amount"),
            amount_other: get("amount_other"),
            fund: get("fund"),
            tribute_kind: get("tribute_kind"),
            tribute_name: get("tribute_name"),
            notify_name: get("notify_name"),
            notify_email: get("notify_email"),
            tribute_show_amount: pairs.contains_key("tribute_show_amount"),
            name: get("name"),
            email: get("email"),
            email_consent: pairs.contains_key("email_consent"),
            anonymous: pairs.contains_key("anonymous"),
            appeal: get("appeal"),
            attempt: get("attempt"),
            lang: get("lang"),
        }
    }
}

/// A field the donor must fix, and what to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// A name the page accepts: one line, no control character, at most
/// [`text::MAX_NAME`] characters.
fn one_line(name: &str) -> bool {
    text::check_one_line("name", name, text::MAX_NAME).is_ok()
}

/// Checks the form. `funds` are the active funds as (code, name); the amount is read in
/// `currency`, the organization's.
pub fn validate(
    form: &DonationForm,
    funds: &[(String, String)],
    lang: Language,
    currency: Currency,
) -> Result<Donation, Vec<FieldError>> {
    let t = Words(lang);
    let mut errors = Vec::new();
    let mut error = |field, message: String| errors.push(FieldError { field, message });
    let frequency = match form.frequency.as_str() {
        "once" => Some(Frequency::Once),
        "monthly" => Some(Frequency::Monthly),
        _ => {
            error("frequency", t.get("donate-err-frequency"));
            None
        }
    };
    let typed = if form.amount_is_other() || form.amount.is_empty() {
        form.amount_other.as_str()
    } else {
        form.amount.as_str()
    };
    let amount = if typed.is_empty() {
        error("amount", t.get("donate-err-amount"));
        None
    } else {
        match super::super::amounts::read_amount(typed, lang, currency) {
            Ok(money) if (100..=MAX_WEB_GIFT_MINOR).contains(&money.amount_minor()) => Some(money),
            Ok(_) | Err(entity::MoneyError::NotPositive | entity::MoneyError::TooLarge) => {
                error("amount", t.get("donate-err-amount-range"));
                None
            }
            Err(entity::MoneyError::Ambiguous(_)) => {
                error(
                    "amount",
                    super::super::amounts::ambiguous_amount_message(lang),
                );
                None
            }
            Err(_) => {
                error("amount", t.get("donate-err-amount"));
                None
            }
        }
    };
    let fund = funds.iter().find(|(code, _)| *code == form.fund);
    if fund.is_none() {
        error("fund", t.get("donate-err-fund"));
    }
    let tribute_kind = match form.tribute_kind.as_str() {
        "" | "none" => None,
        "in_honor_of" => Some(TributeKind::InHonorOf),
        "in_memory_of" => Some(TributeKind::InMemoryOf),
        _ => {
            error("tribute_kind", t.get("donate-err-tribute-kind"));
            None
        }
    };
    let mut tribute = None;
    if let Some(kind) = tribute_kind {
        if form.tribute_name.is_empty() || !one_line(&form.tribute_name) {
            error("tribute_name", t.get("donate-err-tribute-name"));
        }
        if !one_line(&form.notify_name) {
            error("notify_name", t.get("donate-err-notify-name"));
        }
        let notify_email = if form.notify_email.is_empty() {
            None
        } else {
            match EmailAddress::parse(&form.notify_email) {
                Ok(email) => Some(email.as_str().to_owned()),
                Err(_) => {
                    error("notify_email", t.get("donate-err-notify-email"));
                    None
                }
            }
        };
        tribute = Some(Tribute {
            kind,
            name: form.tribute_name.clone(),
            notify_name: Some(form.notify_name.clone()).filter(|n| !n.is_empty()),
            notify_email,
            notify_address: None,
            show_amount: form.tribute_show_amount,
        });
    }
    if form.name.is_empty() || !one_line(&form.name) {
        error("name", t.get("donate-err-name"));
    }
    let email = match EmailAddress::parse(&form.email) {
        Ok(email) => Some(email),
        Err(_) => {
            error("email", t.get("donate-err-email"));
            None
        }
    };
    match (frequency, amount, fund, email) {
        (Some(frequency), Some(amount), Some((code, name)), Some(email)) if errors.is_empty() => {
            Ok(Donation {
                frequency,
                amount,
                fund_code: code.clone(),
                fund_name: name.clone(),
                appeal_code: Some(form.appeal.to_uppercase()).filter(|a| !a.is_empty()),
                tribute,
                name: form.name.clone(),
                email: email.as_str().to_owned(),
                language: lang.as_str().to_owned(),
                email_consent: form.email_consent,
                anonymous: form.anonymous,
            })
        }
        _ => Err(errors),
    }
}

/// The same form sent twice (a double click, a retry after an error) makes one
/// Checkout Session: the key covers the page's attempt token and every choice.
pub fn idempotency_key(form: &DonationForm, donation: &Donation) -> String {
    let mut hasher = Sha256::new();
    for part in [
        form.attempt.as_str(),
        &format!("{:?}", donation.frequency),
        &donation.amount.amount_minor().to_string(),
        &donation.fund_code,
        donation.appeal_code.as_deref().unwrap_or(""),
        &donation.name,
        &donation.email,
        &format!("{:?}", donation.tribute),
        &format!("{}{}", donation.email_consent, donation.anonymous),
        &donation.language,
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    format!("checkout-{}", hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_with_nothing_names_every_required_field() {
        let funds = vec![("GENERAL".to_owned(), "General".to_owned())];
        let errors = validate(
            &DonationForm::default(),
            &funds,
            Language::English,
            Currency::Usd,
        )
        .err()
        .unwrap_or_default();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["frequency", "amount", "fund", "name", "email"]);
    }

    #[test]
    fn an_amount_typed_in_other_wins_over_a_checked_preset() {
        let funds = vec![("GENERAL".to_owned(), "General".to_owned())];
        let form = DonationForm {
            frequency: "once".to_owned(),
            amount: "25".to_owned(),
            amount_other: "500".to_owned(),
            fund: "GENERAL".to_owned(),
            name: "Rosa".to_owned(),
            email: "rosa@example.org".to_owned(),
            ..DonationForm::default()
        };
        let donation = validate(&form, &funds, Language::English, Currency::Usd);
        assert_eq!(donation.map(|d| d.amount.amount_minor()).ok(), Some(50_000));
    }

    #[test]
    fn a_line_break_in_a_name_is_a_field_error() {
        let funds = vec![("GENERAL".to_owned(), "General".to_owned())];
        let form = DonationForm {
            frequency: "once".to_owned(),
            amount: "25".to_owned(),
            fund: "GENERAL".to_owned(),
            tribute_kind: "in_honor_of".to_owned(),
            tribute_name: "Abuela\nJosefina".to_owned(),
            notify_name: "Tío\r\nPepe".to_owned(),
            name: "Rosa\r\nBcc: everyone@example.org".to_owned(),
            email: "rosa@example.org".to_owned(),
            ..DonationForm::default()
        };
        let errors = validate(&form, &funds, Language::English, Currency::Usd)
            .err()
            .unwrap_or_default();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["tribute_name", "notify_name", "name"]);
        let long = DonationForm {
            tribute_name: "a".repeat(201),
            notify_name: "b".repeat(201),
            name: "Rosa".to_owned(),
            ..form
        };
        let errors = validate(&long, &funds, Language::English, Currency::Usd)
            .err()
            .unwrap_or_default();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["tribute_name", "notify_name"]);
    }
}
