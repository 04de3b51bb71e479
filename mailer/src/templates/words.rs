//! The words of every email, read from the Fluent files in `mailer/locales/{en,es,fr,ar}`
//! (compiled into the binary), and amounts written the way each language writes them.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, PoisonError, RwLock};

use entity::enums::{Language, PledgeFrequency};
use entity::{Currency, NumberStyle};
use fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid, static_loader};

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Fluent would wrap every value in invisible isolation marks; plain-text parts
        // and subjects carry them into search, copy and paste. The HTML part sets the
        // direction of the whole message instead.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

fn identifier(language: Language) -> LanguageIdentifier {
    match language {
        Language::English => langid!("en"),
        Language::Spanish => langid!("es"),
        Language::French => langid!("fr"),
        Language::Arabic => langid!("ar"),
    }
}

/// What [`Words::amount`] formats in place of the number, then replaces: a character of
/// Unicode's private use area, which no message and no number holds.
const NUMBER_STAND_IN: &str = "\u{E000}";

/// The messages of one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Words {
    language: Language,
}

impl Words {
    pub fn new(language: Language) -> Self {
        Words { language }
    }

    pub fn language(self) -> Language {
        self.language
    }

    /// The message `id`, which takes no values.
    pub fn get(self, id: &str) -> String {
        static KEPT: KeptMessages = KeptMessages::new();
        let language = identifier(self.language);
        KEPT.get(self.language, id, || LOCALES.try_lookup(&language, id))
            .map_or_else(|| LOCALES.lookup(&language, id), str::to_owned)
    }

    /// The message `id` with its values filled in: read from the language's own file,
    /// which defines every message, without Fluent's negotiation of a fallback language
    /// unless it lacks the message.
    pub fn with(self, id: &str, values: &[(&'static str, &str)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue<'_>> = values
            .iter()
            .map(|(name, value)| (Cow::Borrowed(*name), FluentValue::from(*value)))
            .collect();
        let language = identifier(self.language);
        LOCALES
            .lookup_single_language(&language, id, Some(&args))
            .unwrap_or_else(|_| LOCALES.lookup_with_args(&language, id, &args))
    }

    /// An amount in minor units as this language writes it: `$1,250.00`, `$1.250,00`,
    /// `1 250,00 $`.
    ///
    /// Fluent formats the message once for each currency and sign, around a stand-in
    /// for the number, and the copy kept takes each number after: a year-end statement
    /// writes dozens of amounts.
    pub fn amount(self, amount_minor: i64, currency: Currency) -> String {
        static KEPT: KeptMessages = KeptMessages::new();
        let negative = amount_minor < 0;
        let key = format!("{}{}", currency.code(), if negative { "-" } else { "+" });
        let pattern = KEPT.get(self.language, &key, || {
            Some(self.formatted_amount(NUMBER_STAND_IN, negative, currency))
        });
        let number = NumberStyle::of(self.language).format_minor(amount_minor.abs());
        match pattern {
            Some(pattern) if pattern.matches(NUMBER_STAND_IN).count() == 1 => {
                pattern.replacen(NUMBER_STAND_IN, &number, 1)
            }
            _ => self.formatted_amount(&number, negative, currency),
        }
    }

    /// The message `amount` formatted by Fluent for `number`.
    fn formatted_amount(self, number: &str, negative: bool, currency: Currency) -> String {
        let code = match currency {
            Currency::Cad | Currency::Mxn => currency.code(),
            Currency::Usd | Currency::Eur | Currency::Gbp => "none",
        };
        self.with(
            "amount",
            &[
                ("sign", if negative { "-" } else { "" }),
                ("symbol", currency.symbol()),
                ("number", number),
                ("code", code),
            ],
        )
    }

    /// An amount stored with its currency's code; a code the service does not know
    /// (which the database does not hold) is shown as stored.
    pub fn stored_amount(self, amount_minor: i64, currency: &str) -> String {
        match Currency::parse(currency) {
            Ok(currency) => self.amount(amount_minor, currency),
            Err(_) => format!("{amount_minor} {currency}"),
        }
    }

    /// A pledge's installment and how often it comes: "$42.00 a month".
    pub fn pledge(self, amount: &str, frequency: PledgeFrequency) -> String {
        self.with(
            "pledge-amount",
            &[("amount", amount), ("frequency", frequency.as_str())],
        )
    }

    /// A tier's name, as a message queued with it states it, as a donor reading this
    /// language sees it (see [`super::tier_name`] for a tier at hand).
    pub fn tier_name(self, name: &str) -> &str {
        super::built_in_tier_name(self.language, name)
    }
}

/// Messages that take no values, each formatted once per language and then kept for
/// the life of the process, so that a page borrows its words instead of copying them.
/// A page or an email asks for the same few dozen every time, and each Fluent lookup
/// negotiates the language and formats the pattern anew. Only what `format` finds is
/// kept, so what is kept is bounded by the messages the files define.
pub struct KeptMessages([RwLock<BTreeMap<Box<str>, &'static str>>; 4]);

impl KeptMessages {
    pub const fn new() -> Self {
        KeptMessages([const { RwLock::new(BTreeMap::new()) }; 4])
    }

    /// The message `id` in `language`: the copy kept, or else what `format` makes of it
    /// (`None` for a message the files lack, which is not kept).
    pub fn get(
        &self,
        language: Language,
        id: &str,
        format: impl FnOnce() -> Option<String>,
    ) -> Option<&'static str> {
        let kept = &self.0[slot(language)];
        if let Some(text) = kept
            .read()
            .ok()
            .and_then(|messages| messages.get(id).copied())
        {
            return Some(text);
        }
        let text = format()?;
        let mut messages = kept.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have kept it meanwhile; the first copy is the one kept.
        Some(
            *messages
                .entry(id.into())
                .or_insert_with(|| Box::leak(text.into_boxed_str())),
        )
    }
}

impl Default for KeptMessages {
    fn default() -> Self {
        KeptMessages::new()
    }
}

/// One value for each language the service speaks, made once for each.
#[derive(Debug, Clone, Default)]
pub struct PerLanguage<T>([T; 4]);

impl<T> PerLanguage<T> {
    /// The table of what `make` makes for each language.
    pub fn new(make: impl FnMut(Language) -> T) -> Self {
        PerLanguage(
            [
                Language::English,
                Language::Spanish,
                Language::French,
                Language::Arabic,
            ]
            .map(make),
        )
    }

    /// The value made for `language`.
    pub fn of(&self, language: Language) -> &T {
        &self.0[slot(language)]
    }
}

/// Where a language's value sits in a table of four.
const fn slot(language: Language) -> usize {
    match language {
        Language::English => 0,
        Language::Spanish => 1,
        Language::French => 2,
        Language::Arabic => 3,
    }
}

/// The Circle of Friends' name in each language, read once.
pub(crate) fn circle_of_friends(language: Language) -> &'static str {
    static NAMES: LazyLock<PerLanguage<String>> = LazyLock::new(|| {
        PerLanguage::new(|language| Words::new(language).get("tier-circle-of-friends"))
    });
    NAMES.of(language).as_str()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use fluent_syntax::ast::Entry;

    use super::*;

    const LANGUAGES: [&str; 4] = ["en", "es", "fr", "ar"];

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// The ids of the messages and terms in one language's files.
    fn message_ids(language: &str) -> Result<BTreeSet<String>, Box<dyn std::error::Error>> {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(language);
        let mut ids = BTreeSet::new();
        for file in std::fs::read_dir(&folder)? {
            let path = file?.path();
            if path.extension().is_none_or(|extension| extension != "ftl") {
                continue;
            }
            let source = std::fs::read_to_string(&path)?;
            let resource = fluent_syntax::parser::parse(source.as_str())
                .map_err(|(_, errors)| format!("{}: {errors:?}", path.display()))?;
            for entry in resource.body {
                match entry {
                    Entry::Message(message) => ids.insert(message.id.name.to_owned()),
                    Entry::Term(term) => ids.insert(format!("-{}", term.id.name)),
                    _ => false,
                };
            }
        }
        Ok(ids)
    }

    #[test]
    fn every_message_exists_in_every_language() -> TestResult {
        let english = message_ids("en")?;
        assert!(!english.is_empty());
        for language in &LANGUAGES[1..] {
            let other = message_ids(language)?;
            let missing: Vec<_> = english.difference(&other).collect();
            let extra: Vec<_> = other.difference(&english).collect();
            assert!(missing.is_empty(), "{language} lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{language} has, but English lacks, {extra:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn every_language_is_read_from_its_own_folder() {
        let mut seen = BTreeSet::new();
        for language in [
            Language::English,
            Language::Spanish,
            Language::French,
            Language::Arabic,
        ] {
            let line = LOCALES.lookup_no_default_fallback::<&str>(
                &identifier(language),
                "unsubscribe-line",
                None,
            );
            assert!(line.is_some(), "{language:?}");
            seen.insert(line);
        }
        assert_eq!(seen.len(), 4, "{seen:?}");
    }

    #[test]
    fn a_message_is_formatted_once_per_language_and_only_a_defined_one_is_kept() {
        let kept = KeptMessages::new();
        let formatted = std::cell::Cell::new(0);
        let format = |text: Option<&str>| {
            formatted.set(formatted.get() + 1);
            text.map(str::to_owned)
        };
        for _ in 0..2 {
            assert_eq!(
                kept.get(Language::French, "thanks", || format(Some("Merci"))),
                Some("Merci")
            );
        }
        assert_eq!(formatted.get(), 1, "the second came from the copy");
        assert_eq!(
            kept.get(Language::Spanish, "thanks", || format(Some("Gracias"))),
            Some("Gracias")
        );
        assert_eq!(
            kept.get(Language::Arabic, "thanks", || format(Some("شكراً"))),
            Some("شكراً")
        );
        assert_eq!(
            kept.get(Language::English, "thanks", || format(Some("Thank you"))),
            Some("Thank you")
        );
        assert_eq!(formatted.get(), 4, "each language formats its own");
        for _ in 0..2 {
            assert_eq!(kept.get(Language::French, "missing", || format(None)), None);
        }
        assert_eq!(formatted.get(), 6, "a missing message is not kept");
    }

    #[test]
    fn every_message_reads_the_same_kept_as_formatted() -> TestResult {
        for (code, language) in LANGUAGES.into_iter().zip([
            Language::English,
            Language::Spanish,
            Language::French,
            Language::Arabic,
        ]) {
            for id in message_ids(code)?.iter().filter(|id| !id.starts_with('-')) {
                let formatted = LOCALES.lookup(&identifier(language), id);
                let words = Words::new(language);
                assert_eq!(words.get(id), formatted, "{code} {id}");
                assert_eq!(words.get(id), formatted, "{code} {id}, kept");
            }
        }
        let french = identifier(Language::French);
        let unknown = Words::new(Language::French).get("no-such-message");
        assert_eq!(unknown, LOCALES.lookup(&french, "no-such-message"));
        let unknown = Words::new(Language::French).with("no-such-message", &[("number", "1")]);
        let args = HashMap::from([(Cow::Borrowed("number"), FluentValue::from("1"))]);
        assert_eq!(
            unknown,
            LOCALES.lookup_with_args(&french, "no-such-message", &args)
        );
        Ok(())
    }

    #[test]
    fn amounts_are_written_the_way_each_language_writes_them() {
        let amount = |language| Words::new(language).amount(125_050, Currency::Usd);
        assert_eq!(amount(Language::English), "$1,250.50");
        assert_eq!(amount(Language::Spanish), "$1.250,50");
        assert_eq!(amount(Language::French), "1\u{202F}250,50\u{A0}$");
        assert_eq!(amount(Language::Arabic), "1.250,50\u{A0}$");
        assert_eq!(
            Words::new(Language::English).amount(-2_500, Currency::Cad),
            "-$25.00 CAD"
        );
    }

    #[test]
    fn an_amount_from_the_kept_pattern_is_what_fluent_writes_for_it() {
        for language in [
            Language::English,
            Language::Spanish,
            Language::French,
            Language::Arabic,
        ] {
            let words = Words::new(language);
            for currency in Currency::ALL {
                for minor in [0, 1, -1, 99, 125_050, -2_500, 12_345_678_901, i64::MIN + 1] {
                    let number = NumberStyle::of(language).format_minor(minor.abs());
                    let direct = words.formatted_amount(&number, minor < 0, currency);
                    assert_eq!(
                        words.amount(minor, currency),
                        direct,
                        "{language:?} {currency:?} {minor}"
                    );
                    assert!(!direct.contains(NUMBER_STAND_IN), "{direct}");
                }
            }
        }
    }

    #[test]
    fn a_pledge_reads_with_its_frequency() {
        let words = Words::new(Language::Spanish);
        assert_eq!(
            words.pledge("$42,00", PledgeFrequency::Quarterly),
            "$42,00 cada trimestre"
        );
    }

    #[test]
    fn the_circle_has_a_name_in_each_language_and_other_tiers_keep_theirs() {
        let arabic = Words::new(Language::Arabic);
        assert_eq!(arabic.tier_name("Circle of Friends"), "دائرة الأصدقاء");
        assert_eq!(arabic.tier_name("Guardians"), "Guardians");
    }
}
