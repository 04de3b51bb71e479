//! Amounts on the donor-facing pages, read and shown the way the page's language
//! writes numbers: `25,50` is twenty-five fifty on a French, Spanish or Arabic page.

use entity::{Currency, Money, MoneyError, NumberStyle};

use entity::enums::Language;
use fluent_templates::fluent_bundle::FluentValue;

use super::i18n::Words;

/// How the page's language writes an amount.
pub fn number_style(language: Language) -> NumberStyle {
    match language {
        Language::English => NumberStyle::ENGLISH,
        Language::Spanish => NumberStyle::SPANISH,
        Language::French => NumberStyle::FRENCH,
        Language::Arabic => NumberStyle::ARABIC,
    }
}

/// Reads an amount a donor typed on a page in `lang`.
pub fn read_amount(typed: &str, lang: Language, currency: Currency) -> Result<Money, MoneyError> {
    Money::parse_typed(typed, currency, number_style(lang))
}

/// An amount written for a form field on a page in `lang`: `42,00` in French.
pub fn amount_for_input(minor: i64, lang: Language) -> String {
    number_style(lang).format_minor(minor)
}

/// An amount in a sentence on a page in `lang`, without cents when it has none:
/// `1,000` in English, `1.000` in Spanish, `500,50` in French.
pub fn whole_amount(minor: i64, lang: Language) -> String {
    let style = number_style(lang);
    let written = style.format_minor(minor);
    if minor % 100 == 0 {
        written
            .strip_suffix(&format!("{}00", style.decimal_mark))
            .map(str::to_owned)
            .unwrap_or(written)
    } else {
        written
    }
}

/// The example an amount field shows: `25.50`, or `25,50` where a comma marks cents.
pub fn amount_placeholder(lang: Language) -> String {
    amount_for_input(2_550, lang)
}

/// What to tell a donor whose amount could be a thousand or a one (`1,000` on a French
/// page): how this language writes a thousand, and cents.
pub fn ambiguous_amount_message(language: Language) -> String {
    let thousand = amount_for_input(100_000, language);
    let thousand = thousand
        .get(..thousand.len().saturating_sub(3))
        .unwrap_or_default()
        .to_owned();
    Words(language).with(
        "amount-ambiguous",
        &[
            ("thousand", FluentValue::from(thousand)),
            ("example", FluentValue::from(amount_placeholder(language))),
        ],
    )
}

/// An amount of money in a sentence or a list, the way `language` writes it: `$1,000.00`,
/// `1 000,00 $`.
pub fn money(language: Language, minor: i64, currency: Currency) -> String {
    Words(language).with(
        "money",
        &[
            (
                "amount",
                FluentValue::from(amount_for_input(minor, language)),
            ),
            ("currency", FluentValue::from(currency.code())),
        ],
    )
}

/// An amount in a sentence without cents when it has none: `$500`, `500 $`.
pub fn whole_money(language: Language, minor: i64, currency: Currency) -> String {
    Words(language).with(
        "money",
        &[
            ("amount", FluentValue::from(whole_amount(minor, language))),
            ("currency", FluentValue::from(currency.code())),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::i18n::LANGUAGES;

    #[test]
    fn a_whole_amount_in_a_sentence_has_no_cents() {
        assert_eq!(whole_amount(50_000, Language::English), "500");
        assert_eq!(whole_amount(100_000, Language::English), "1,000");
        assert_eq!(whole_amount(100_000, Language::Spanish), "1.000");
        assert_eq!(whole_amount(50_050, Language::French), "500,50");
    }

    #[test]
    fn each_page_reads_and_shows_its_own_format() {
        let read = |typed, lang| read_amount(typed, lang, Currency::Usd).map(Money::amount_minor);
        assert_eq!(read("25,50", Language::French), Ok(2_550));
        assert_eq!(read("1.000,50", Language::Spanish), Ok(100_050));
        assert_eq!(read("1,000", Language::English), Ok(100_000));
        assert!(matches!(
            read("1,000", Language::French),
            Err(MoneyError::Ambiguous(_))
        ));
        assert_eq!(amount_placeholder(Language::English), "25.50");
        assert_eq!(amount_placeholder(Language::Arabic), "25,50");
        assert_eq!(
            amount_for_input(100_000, Language::French),
            "1\u{202F}000,00"
        );
        for lang in LANGUAGES {
            let example = amount_for_input(100_000, lang);
            let whole = example.get(..example.len() - 3).unwrap_or_default();
            assert!(ambiguous_amount_message(lang).contains(whole), "{lang:?}");
            assert!(ambiguous_amount_message(lang).contains(&amount_placeholder(lang)));
        }
    }
}
