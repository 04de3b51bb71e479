//! Money as integer minor units plus an ISO 4217 currency: never floats.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest amount any single gift, pledge installment or goal may hold, in minor
/// units: 100,000,000.00 in a two-decimal currency. Anything larger is a typing error.
pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000;

/// A currency the service accepts, with the number of decimal places of its minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Currency {
    Usd,
    Cad,
    Mxn,
    Eur,
    Gbp,
}

impl Currency {
    pub const ALL: [Currency; 5] = [
        Currency::Usd,
        Currency::Cad,
        Currency::Mxn,
        Currency::Eur,
        Currency::Gbp,
    ];

    /// The ISO 4217 code, upper case.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Cad => "CAD",
            Currency::Mxn => "MXN",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Currency::Usd | Currency::Cad | Currency::Mxn => "$",
            Currency::Eur => "€",
            Currency::Gbp => "£",
        }
    }

    /// Parses an ISO code in any case ("usd", "USD").
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        Currency::ALL
            .into_iter()
            .find(|c| c.code() == upper)
            .ok_or(MoneyError::UnknownCurrency(code.to_owned()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.code().to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be greater than zero")]
    NotPositive,
    #[error("must be at most {}", format_minor(MAX_AMOUNT_MINOR, Currency::Usd))]
    TooLarge,
    #[error("is not a currency we accept: {0:?}")]
    UnknownCurrency(String),
    #[error("is not an amount: {0:?} (write it like 25 or 25.00)")]
    Unparseable(String),
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
}

/// A positive amount of money: more than zero and at most [`MAX_AMOUNT_MINOR`].
///
/// The only ways to make one are the checked constructors, so code that holds a
/// `Money` never holds zero, a negative or an absurd amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount_minor: i64,
    currency: Currency,
}

impl Money {
    pub fn new(amount_minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if amount_minor <= 0 {
            return Err(MoneyError::NotPositive);
        }
        if amount_minor > MAX_AMOUNT_MINOR {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money {
            amount_minor,
            currency,
        })
    }

    /// Builds from a stored column pair (amount, currency code).
    pub fn from_columns(amount_minor: i64, currency: &str) -> Result<Self, MoneyError> {
        Money::new(amount_minor, Currency::parse(currency)?)
    }

    pub fn usd(amount_minor: i64) -> Result<Self, MoneyError> {
        Money::new(amount_minor, Currency::Usd)
    }

    /// Parses what a person types: "25", "25.5", "25.50", "$1,250.00".
    pub fn parse_major(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let cleaned: String = text
            .trim()
            .trim_start_matches(currency.symbol())
            .chars()
            .filter(|c| *c != ',' && !c.is_whitespace())
            .collect();
        let unparseable = || MoneyError::Unparseable(text.to_owned());
        if cleaned.starts_with('-') {
            return Err(MoneyError::NotPositive);
        }
        let (whole, fraction) = match cleaned.split_once('.') {
            Some((w, f)) => (w, f),
            None => (cleaned.as_str(), ""),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(unparseable());
        }
        if !whole.chars().all(|c| c.is_ascii_digit())
            || !fraction.chars().all(|c| c.is_ascii_digit())
            || fraction.len() > 2
        {
            return Err(unparseable());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| MoneyError::TooLarge)?
        };
        let cents: i64 = match fraction.len() {
            0 => 0,
            1 => fraction.parse::<i64>().map_err(|_| unparseable())? * 10,
            _ => fraction.parse().map_err(|_| unparseable())?,
        };
        let minor = whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(cents))
            .ok_or(MoneyError::TooLarge)?;
        Money::new(minor, currency)
    }

    pub fn amount_minor(self) -> i64 {
        self.amount_minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    /// Adds two amounts of the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let sum = self
            .amount_minor
            .checked_add(other.amount_minor)
            .ok_or(MoneyError::TooLarge)?;
        Money::new(sum, self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_minor(self.amount_minor, self.currency))
    }
}

/// Formats any amount in minor units, including zero and negatives (used for totals
/// and refunds, which are not `Money`): `$1,250.00`, `-$5.00`.
pub fn format_minor(amount_minor: i64, currency: Currency) -> String {
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let symbol = currency.symbol();
    let suffix = match currency {
        Currency::Cad => " CAD",
        Currency::Mxn => " MXN",
        _ => "",
    };
    format!("{sign}{symbol}{grouped}.{:02}{suffix}", abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_negative_amounts_are_rejected() {
        assert_eq!(Money::usd(0), Err(MoneyError::NotPositive));
        assert_eq!(Money::usd(-100), Err(MoneyError::NotPositive));
        assert_eq!(
            Money::parse_major("-5", Currency::Usd),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(
            Money::parse_major("0.00", Currency::Usd),
            Err(MoneyError::NotPositive)
        );
    }

    #[test]
    fn absurd_amounts_are_rejected() {
        assert_eq!(Money::usd(MAX_AMOUNT_MINOR + 1), Err(MoneyError::TooLarge));
        assert_eq!(
            Money::parse_major("99999999999999999999999", Currency::Usd),
            Err(MoneyError::TooLarge)
        );
        assert!(Money::usd(MAX_AMOUNT_MINOR).is_ok());
    }

    #[test]
    fn typed_amounts_parse_to_cents() {
        let parse = |t| Money::parse_major(t, Currency::Usd).map(Money::amount_minor);
        assert_eq!(parse("25"), Ok(2500));
        assert_eq!(parse("25.5"), Ok(2550));
        assert_eq!(parse("$1,250.07"), Ok(125_007));
        assert_eq!(parse(".5"), Ok(50));
        assert!(parse("12.345").is_err());
        assert!(parse("ten").is_err());
        assert!(parse("").is_err());
        assert!(parse("1e5").is_err());
    }

    #[test]
    fn amounts_format_with_grouping() {
        assert_eq!(format_minor(4200, Currency::Usd), "$42.00");
        assert_eq!(format_minor(123_456_789, Currency::Usd), "$1,234,567.89");
        assert_eq!(format_minor(-500, Currency::Usd), "-$5.00");
        assert_eq!(format_minor(0, Currency::Eur), "€0.00");
    }

    #[test]
    fn currencies_must_match_to_add() {
        let a = Money::usd(100).ok();
        let b = Money::new(100, Currency::Eur).ok();
        assert!(matches!(
            a.zip(b).map(|(a, b)| a.checked_add(b)),
            Some(Err(MoneyError::CurrencyMismatch(_, _)))
        ));
        assert_eq!(Currency::parse("usd"), Ok(Currency::Usd));
        assert!(Currency::parse("XYZ").is_err());
    }
}
