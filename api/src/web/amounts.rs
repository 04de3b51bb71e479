//! Amounts on the donor-facing pages, read and shown the way the page's language
//! writes numbers: `25,50` is twenty-five fifty on a French, Spanish or Arabic page.

use entity::{Currency, Money, MoneyError, NumberStyle};

use super::i18n::Lang;

/// How the page's language writes an amount.
pub fn number_style(lang: Lang) -> NumberStyle {
    match lang {
        Lang::En => NumberStyle::ENGLISH,
        Lang::Es => NumberStyle::SPANISH,
        Lang::Fr => NumberStyle::FRENCH,
        Lang::Ar => NumberStyle::ARABIC,
    }
}

/// Reads an amount a donor typed on a page in `lang`.
pub fn read_amount(typed: &str, lang: Lang, currency: Currency) -> Result<Money, MoneyError> {
    Money::parse_typed(typed, currency, number_style(lang))
}

/// An amount written for a form field on a page in `lang`: `42,00` in French.
pub fn amount_for_input(minor: i64, lang: Lang) -> String {
    number_style(lang).format_minor(minor)
}

/// An amount in a sentence on a page in `lang`, without cents when it has none:
/// `1,000` in English, `1.000` in Spanish, `500,50` in French.
pub fn whole_amount(minor: i64, lang: Lang) -> String {
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
pub fn amount_placeholder(lang: Lang) -> String {
    amount_for_input(2_550, lang)
}

/// What to tell a donor whose amount could be a thousand or a one (`1,000` on a French
/// page): how this language writes a thousand, and cents.
pub fn ambiguous_amount_message(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "That amount can be read two ways. Write a thousand dollars as 1,000 and cents after a point, as in 25.50."
        }
        Lang::Es => {
            "Ese monto se puede leer de dos maneras. Escriba mil dólares como 1.000 y los centavos después de una coma, como en 25,50."
        }
        Lang::Fr => {
            "Ce montant peut se lire de deux façons. Écrivez mille dollars 1\u{202F}000 et les cents après une virgule, comme dans 25,50."
        }
        Lang::Ar => {
            "يمكن قراءة هذا المبلغ بطريقتين. اكتب ألف دولار هكذا 1.000 والسنتات بعد الفاصلة، مثل 25,50."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_amount_in_a_sentence_has_no_cents() {
        assert_eq!(whole_amount(50_000, Lang::En), "500");
        assert_eq!(whole_amount(100_000, Lang::En), "1,000");
        assert_eq!(whole_amount(100_000, Lang::Es), "1.000");
        assert_eq!(whole_amount(50_050, Lang::Fr), "500,50");
    }

    #[test]
    fn each_page_reads_and_shows_its_own_format() {
        let read = |typed, lang| read_amount(typed, lang, Currency::Usd).map(Money::amount_minor);
        assert_eq!(read("25,50", Lang::Fr), Ok(2_550));
        assert_eq!(read("1.000,50", Lang::Es), Ok(100_050));
        assert_eq!(read("1,000", Lang::En), Ok(100_000));
        assert!(matches!(
            read("1,000", Lang::Fr),
            Err(MoneyError::Ambiguous(_))
        ));
        assert_eq!(amount_placeholder(Lang::En), "25.50");
        assert_eq!(amount_placeholder(Lang::Ar), "25,50");
        assert_eq!(amount_for_input(100_000, Lang::Fr), "1\u{202F}000,00");
        for lang in Lang::ALL {
            let example = amount_for_input(100_000, lang);
            let whole = &example[..example.len() - 3];
            assert!(ambiguous_amount_message(lang).contains(whole), "{lang:?}");
            assert!(ambiguous_amount_message(lang).contains(&amount_placeholder(lang)));
        }
    }
}
