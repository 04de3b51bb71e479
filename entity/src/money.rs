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

    /// The sign written with an amount: `$` for every dollar, so a dollar other than
    /// the US dollar is written with its code as well.
    pub fn symbol(self) -> &'static str {
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
    /// A mark followed by three digits that the page's language does not use to group
    /// thousands (`1,000` on a French page): a thousand to some, one to others.
    #[error("is ambiguous: {0:?} (write thousands and cents the way the page shows them)")]
    Ambiguous(String),
}

/// How a language writes an amount: the mark before the cents and the mark between
/// groups of thousands. `1,000.50` in English, `1.000,50` in Spanish, `1 000,50` in
/// French (a narrow no-break space between groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberStyle {
    pub decimal_mark: char,
    pub group_mark: char,
}

impl NumberStyle {
    pub const ENGLISH: NumberStyle = NumberStyle {
        decimal_mark: '.',
        group_mark: ',',
    };
    pub const SPANISH: NumberStyle = NumberStyle {
        decimal_mark: ',',
        group_mark: '.',
    };
    pub const FRENCH: NumberStyle = NumberStyle {
        decimal_mark: ',',
        group_mark: '\u{202F}',
    };
    /// Arabic pages written with Latin digits, as in the Maghreb: `1.000,50`.
    pub const ARABIC: NumberStyle = NumberStyle {
        decimal_mark: ',',
        group_mark: '.',
    };

    /// How a donor reading `language` writes numbers.
    pub fn of(language: crate::enums::Language) -> NumberStyle {
        use crate::enums::Language;
        match language {
            Language::English => NumberStyle::ENGLISH,
            Language::Spanish => NumberStyle::SPANISH,
            Language::French => NumberStyle::FRENCH,
            Language::Arabic => NumberStyle::ARABIC,
        }
    }

    /// Writes minor units the way this style reads them back: `1.000,50`.
    pub fn format_minor(self, amount_minor: i64) -> String {
        let abs = amount_minor.unsigned_abs();
        let sign = if amount_minor < 0 { "-" } else { "" };
        format!(
            "{sign}{}{}{:02}",
            group_thousands(abs / 100, self.group_mark),
            self.decimal_mark,
            abs % 100
        )
    }
}

/// The digits of `whole` with `mark` between groups of three.
fn group_thousands(whole: u64, mark: char) -> String {
    let digits = whole.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(mark);
        }
        grouped.push(ch);
    }
    grouped
}

/// A mark between digits, as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Dot,
    Comma,
    /// Any space: ordinary, no-break, narrow no-break or thin. Never before cents.
    Space,
    /// The Arabic decimal separator `٫`: always before cents.
    ArabicDecimal,
    /// The Arabic thousands separator `٬`: always between groups.
    ArabicGroup,
}

impl Mark {
    fn of(ch: char) -> Option<Mark> {
        match ch {
            '.' => Some(Mark::Dot),
            ',' => Some(Mark::Comma),
            ' ' | '\u{A0}' | '\u{202F}' | '\u{2009}' => Some(Mark::Space),
            '\u{66B}' => Some(Mark::ArabicDecimal),
            '\u{66C}' => Some(Mark::ArabicGroup),
            _ => None,
        }
    }

    /// Whether a style's mark is this one (any space stands for a space mark).
    fn is(self, ch: char) -> bool {
        Mark::of(ch) == Some(self)
    }
}

/// A digit in Latin, Arabic-Indic or Eastern Arabic-Indic script.
fn digit_value(ch: char) -> Option<u32> {
    match ch {
        '0'..='9' => ch.to_digit(10),
        '\u{660}'..='\u{669}' => Some(ch as u32 - 0x660),
        '\u{6F0}'..='\u{6F9}' => Some(ch as u32 - 0x6F0),
        _ => None,
    }
}

/// Reads an amount typed in `style`, as minor units (not yet checked as `Money`).
///
/// The last mark decides: followed by one or two digits it is the decimal mark, in any
/// language (`25,50` and `25.50` are both twenty-five fifty); followed by three it is
/// the style's group mark, a space, or a mark that appears more than once; any other
/// mark followed by three digits is ambiguous (`1,000` on a French page). Groups before
/// it must all use one mark, with three digits each after the first.
fn parse_typed_minor(text: &str, style: NumberStyle) -> Result<i64, MoneyError> {
    let unparseable = || MoneyError::Unparseable(text.to_owned());
    let trimmed = text.trim();
    let trimmed = trimmed
        .strip_prefix("US$")
        .or_else(|| trimmed.strip_prefix('$'))
        .or_else(|| trimmed.strip_suffix("US$"))
        .or_else(|| trimmed.strip_suffix('$'))
        .unwrap_or(trimmed)
        .trim();
    if trimmed.starts_with('-') {
        return Err(MoneyError::NotPositive);
    }
    let mut runs: Vec<String> = vec![String::new()];
    let mut marks: Vec<Mark> = Vec::new();
    for ch in trimmed.chars() {
        if let Some(d) = digit_value(ch) {
            if let (Some(run), Some(digit)) = (runs.last_mut(), char::from_digit(d, 10)) {
                run.push(digit);
            }
        } else if let Some(mark) = Mark::of(ch) {
            marks.push(mark);
            runs.push(String::new());
        } else {
            return Err(unparseable());
        }
    }
    let (whole_runs, whole_marks, cents) = match (marks.last(), runs.last()) {
        (Some(&last), Some(tail)) => {
            let repeated = marks[..marks.len() - 1].contains(&last);
            let is_decimal = match (last, tail.len()) {
                (Mark::ArabicDecimal, 1 | 2) => true,
                (Mark::Dot | Mark::Comma, 1 | 2) if !repeated => true,
                (Mark::ArabicGroup | Mark::Space, 3) => false,
                (Mark::Dot | Mark::Comma, 3) if repeated || last.is(style.group_mark) => false,
                (Mark::Dot | Mark::Comma, 3) => {
                    return Err(MoneyError::Ambiguous(text.to_owned()));
                }
                _ => return Err(unparseable()),
            };
            if is_decimal {
                (
                    &runs[..runs.len() - 1],
                    &marks[..marks.len() - 1],
                    Some(tail.as_str()),
                )
            } else {
                (&runs[..], &marks[..], None)
            }
        }
        _ => (&runs[..], &marks[..], None),
    };
    if let Some(first) = whole_marks.first() {
        let one_mark = whole_marks.iter().all(|m| m == first);
        let groups_of_three = whole_runs.iter().skip(1).all(|r| r.len() == 3);
        let leading = whole_runs.first().map_or(0, String::len);
        if !one_mark
            || !groups_of_three
            || !(1..=3).contains(&leading)
            || *first == Mark::ArabicDecimal
        {
            return Err(unparseable());
        }
    }
    let whole: String = whole_runs.concat();
    if whole.is_empty() && cents.is_none_or(str::is_empty) {
        return Err(unparseable());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| MoneyError::TooLarge)?
    };
    let cents: i64 = match cents {
        None => 0,
        Some(c) if c.len() == 1 => c.parse::<i64>().map_err(|_| unparseable())? * 10,
        Some(c) => c.parse().map_err(|_| unparseable())?,
    };
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(cents))
        .ok_or(MoneyError::TooLarge)
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

    /// Parses what a person types on an English page: "25", "25.5", "$1,250.00".
    pub fn parse_major(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        Money::parse_typed(text, currency, NumberStyle::ENGLISH)
    }

    /// Parses what a person types on a page in the language whose numbers `style`
    /// describes: `25,50` on a French page is twenty-five fifty, `1.000,50` on a Spanish
    /// one a thousand and fifty cents. See [`MoneyError::Ambiguous`] for what is refused.
    pub fn parse_typed(
        text: &str,
        currency: Currency,
        style: NumberStyle,
    ) -> Result<Self, MoneyError> {
        Money::new(parse_typed_minor(text, style)?, currency)
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
    let grouped = group_thousands(abs / 100, ',');
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
    fn a_currency_and_an_amount_write_themselves_as_people_read_them() {
        assert_eq!(Currency::Usd.to_string(), "USD");
        assert_eq!(String::from(Currency::Eur), "EUR");
        let amount = Money::usd(125_050).map(|m| m.to_string());
        assert_eq!(amount.as_deref(), Ok("$1,250.50"));
    }

    #[test]
    fn zero_is_written_without_a_sign_in_every_style() {
        assert_eq!(NumberStyle::FRENCH.format_minor(0), "0,00");
        assert_eq!(NumberStyle::SPANISH.format_minor(-1), "-0,01");
        assert_eq!(NumberStyle::SPANISH.format_minor(1), "0,01");
    }

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

    const STYLES: [NumberStyle; 4] = [
        NumberStyle::ENGLISH,
        NumberStyle::SPANISH,
        NumberStyle::FRENCH,
        NumberStyle::ARABIC,
    ];

    fn typed(text: &str, style: NumberStyle) -> Result<i64, MoneyError> {
        Money::parse_typed(text, Currency::Usd, style).map(Money::amount_minor)
    }

    #[test]
    fn twenty_five_fifty_with_a_comma_is_twenty_five_fifty_in_every_language() {
        for style in STYLES {
            assert_eq!(typed("25,50", style), Ok(2550), "{style:?}");
            assert_eq!(typed("25,5", style), Ok(2550), "{style:?}");
            assert_eq!(typed("25.50", style), Ok(2550), "{style:?}");
            assert_eq!(typed("25", style), Ok(2500), "{style:?}");
        }
    }

    #[test]
    fn thousands_are_read_where_the_language_writes_them() {
        let (en, es, fr, ar) = (
            NumberStyle::ENGLISH,
            NumberStyle::SPANISH,
            NumberStyle::FRENCH,
            NumberStyle::ARABIC,
        );
        assert_eq!(typed("1,000.50", en), Ok(100_050));
        assert_eq!(typed("1,000", en), Ok(100_000));
        assert_eq!(typed("1.000,50", es), Ok(100_050));
        assert_eq!(typed("1.000", es), Ok(100_000));
        assert_eq!(typed("1.000,50", ar), Ok(100_050));
        assert_eq!(typed("1 000,50", fr), Ok(100_050));
        assert_eq!(typed("1\u{A0}000,50", fr), Ok(100_050));
        assert_eq!(typed("1\u{202F}000,50", fr), Ok(100_050));
        assert_eq!(typed("1\u{2009}000", fr), Ok(100_000));
        assert_eq!(typed("1 000 000", en), Ok(100_000_000));
        assert_eq!(typed("1,000,000", fr), Ok(100_000_000));
        assert_eq!(typed("1.000.000", en), Ok(100_000_000));
        assert_eq!(typed("100 000,00 $", fr), Ok(10_000_000));
        assert_eq!(typed("US$ 42", en), Ok(4200));
        assert_eq!(typed("42 US$", en), Ok(4200));
        assert_eq!(typed("$42", es), Ok(4200));
    }

    #[test]
    fn arabic_digits_and_marks_are_read_on_every_page() {
        let ar = NumberStyle::ARABIC;
        assert_eq!(typed("\u{662}\u{665}\u{66B}\u{665}\u{660}", ar), Ok(2550));
        assert_eq!(
            typed("\u{661}\u{66C}\u{660}\u{660}\u{660}", NumberStyle::ENGLISH),
            Ok(100_000)
        );
        assert_eq!(typed("\u{6F4}\u{6F2}", ar), Ok(4200));
        assert_eq!(typed("\u{669}", ar), Ok(900));
        assert_eq!(typed("\u{6F9}", ar), Ok(900));
        assert!(typed("1\u{66B}000", ar).is_err());
        assert!(typed("1\u{66B}000\u{66B}50", ar).is_err());
    }

    #[test]
    fn a_mark_the_language_does_not_group_with_is_ambiguous_before_three_digits() {
        let ambiguous = |text: &str, style| {
            assert_eq!(
                typed(text, style),
                Err(MoneyError::Ambiguous(text.to_owned())),
                "{text} {style:?}"
            );
        };
        ambiguous("1,000", NumberStyle::FRENCH);
        ambiguous("1,000", NumberStyle::SPANISH);
        ambiguous("1,000", NumberStyle::ARABIC);
        ambiguous("1.000", NumberStyle::FRENCH);
        ambiguous("1.000", NumberStyle::ENGLISH);
        ambiguous("12.345", NumberStyle::ENGLISH);
    }

    #[test]
    fn malformed_groups_and_marks_are_refused() {
        let en = NumberStyle::ENGLISH;
        for text in [
            "1,00,000",
            "1,000,50",
            "1.000.50",
            "1,,000",
            "25,",
            ",",
            ".",
            "$",
            "1 50",
            "1 0000",
            "1000,000.00",
            "1,000 000",
            "1.000,000",
            "12,3456",
            "2 5",
            "25..5",
            "٫",
        ] {
            assert!(
                matches!(typed(text, en), Err(MoneyError::Unparseable(_))),
                "{text:?} gave {:?}",
                typed(text, en)
            );
        }
        assert!(matches!(
            typed("1\u{66B}000,00", en),
            Err(MoneyError::Unparseable(_))
        ));
        assert_eq!(
            typed("-1,50", NumberStyle::FRENCH),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(
            typed("0,00", NumberStyle::FRENCH),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(typed(",5", NumberStyle::FRENCH), Ok(50));
    }

    /// Every whole amount from $1 to $100,000, and a spread of amounts with cents,
    /// written the way each language writes it, with and without grouping, read back
    /// to the same cents.
    #[test]
    fn every_amount_a_donor_can_give_round_trips_in_every_language() {
        let spaces = ['\u{202F}', '\u{A0}', ' '];
        let check = |minor: i64| {
            for style in STYLES {
                let written = style.format_minor(minor);
                assert_eq!(typed(&written, style), Ok(minor), "{written:?} {style:?}");
                let ungrouped: String =
                    written.chars().filter(|c| *c != style.group_mark).collect();
                assert_eq!(typed(&ungrouped, style), Ok(minor), "{ungrouped:?}");
                if style == NumberStyle::FRENCH {
                    for space in spaces {
                        let spaced = written.replace(style.group_mark, &space.to_string());
                        assert_eq!(typed(&spaced, style), Ok(minor), "{spaced:?}");
                    }
                }
                if minor % 100 == 0 {
                    let whole = &written[..written.len() - 3];
                    assert_eq!(typed(whole, style), Ok(minor), "{whole:?} {style:?}");
                }
            }
        };
        for dollars in 1..=100_000_i64 {
            check(dollars * 100);
        }
        // Every cent around the limits and the thousands, and a fixed pseudo-random
        // spread of the other ten million amounts with cents.
        for base in [100, 99_900, 100_000, 999_900, 1_000_000, 9_999_900] {
            for minor in base..base + 200 {
                check(minor);
            }
        }
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let minor = 100 + i64::try_from((seed >> 33) % 9_999_901).unwrap_or(0);
            check(minor);
        }
    }

    #[test]
    fn each_style_writes_its_own_marks() {
        assert_eq!(
            NumberStyle::ENGLISH.format_minor(123_456_789),
            "1,234,567.89"
        );
        assert_eq!(NumberStyle::SPANISH.format_minor(100_050), "1.000,50");
        assert_eq!(NumberStyle::FRENCH.format_minor(100_050), "1\u{202F}000,50");
        assert_eq!(NumberStyle::ARABIC.format_minor(5), "0,05");
        assert_eq!(NumberStyle::ENGLISH.format_minor(-150), "-1.50");
    }

    #[test]
    fn amounts_format_with_grouping() {
        assert_eq!(format_minor(4200, Currency::Usd), "$42.00");
        assert_eq!(format_minor(123_456_789, Currency::Usd), "$1,234,567.89");
        assert_eq!(format_minor(-500, Currency::Usd), "-$5.00");
        assert_eq!(format_minor(0, Currency::Eur), "€0.00");
        assert_eq!(format_minor(2_500, Currency::Cad), "$25.00 CAD");
        assert_eq!(format_minor(2_500, Currency::Mxn), "$25.00 MXN");
        assert_eq!(format_minor(2_500, Currency::Gbp), "£25.00");
        assert_eq!(format_minor(100_000, Currency::Usd), "$1,000.00");
        assert_eq!(format_minor(99_999, Currency::Usd), "$999.99");
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
