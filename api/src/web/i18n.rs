//! The pages' language and words. The language is the service's one `Language` (the
//! one a donor's receipts and emails follow); the words are Project Fluent messages in
//! `api/locales/{en,es,fr,ar}/*.ftl`, compiled into the binary, so a page never shows a
//! word that is not in those files.

use std::borrow::Cow;
use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::http::header;
use chrono::{Datelike, NaiveDate};
use entity::enums::Language;
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};
use mailer::templates::words::KeptMessages;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Fluent would wrap each variable in invisible isolation marks; the templates
        // isolate what needs it (`<bdi>`), and the marks would break copied text.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// Every language a page is offered in, in the order the language links show them.
pub const LANGUAGES: [Language; 4] = [
    Language::English,
    Language::Spanish,
    Language::French,
    Language::Arabic,
];

static EN: LanguageIdentifier = langid!("en");
static ES: LanguageIdentifier = langid!("es");
static FR: LanguageIdentifier = langid!("fr");
static AR: LanguageIdentifier = langid!("ar");

fn identifier(language: Language) -> &'static LanguageIdentifier {
    match language {
        Language::English => &EN,
        Language::Spanish => &ES,
        Language::French => &FR,
        Language::Arabic => &AR,
    }
}

/// The language a code names (`es`, `es-MX`, `FR_ca`), by its primary subtag.
pub fn parse_language(code: &str) -> Option<Language> {
    let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    Language::parse(&primary)
}

/// `?lang=` first, then the browser's `Accept-Language` in order, then English.
pub fn negotiate(query_lang: Option<&str>, request: &HttpRequest) -> Language {
    if let Some(language) = query_lang.and_then(parse_language) {
        return language;
    }
    let accept = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut ranked: Vec<(f32, Language)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(index, part)| {
            let mut pieces = part.split(';');
            let language = parse_language(pieces.next()?)?;
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                .unwrap_or(1.0_f32);
            // Earlier entries win ties.
            Some((quality - index as f32 * 0.0001, language))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked
        .first()
        .map_or(Language::English, |(_, language)| *language)
}

/// The words of one language, as the templates ask for them: `t.get("donate-title")`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Words(pub Language);

impl Words {
    pub fn language(self) -> Language {
        self.0
    }

    /// The language's code, for `lang` attributes and links.
    pub fn code(self) -> &'static str {
        self.0.as_str()
    }

    /// The writing direction, for `dir` attributes.
    pub fn dir(self) -> &'static str {
        if self.0 == Language::Arabic {
            "rtl"
        } else {
            "ltr"
        }
    }

    /// The message `id`, which takes no values.
    pub fn get(self, id: &str) -> String {
        self.text(id).into_owned()
    }

    /// The message `id`, which takes no values, borrowed where it is kept: what a
    /// template writes.
    pub fn text(self, id: &str) -> Cow<'static, str> {
        static KEPT: KeptMessages = KeptMessages::new();
        let language = identifier(self.0);
        KEPT.get(self.0, id, || LOCALES.try_lookup(language, id))
            .map_or_else(|| Cow::Owned(LOCALES.lookup(language, id)), Cow::Borrowed)
    }

    /// The message `id` with its variables: read from the language's own file, which
    /// defines every message, without Fluent's negotiation of a fallback language
    /// unless it lacks the message.
    pub fn with(self, id: &str, args: &[(&'static str, FluentValue<'static>)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue<'static>> = args
            .iter()
            .map(|(name, value)| (Cow::Borrowed(*name), value.clone()))
            .collect();
        let language = identifier(self.0);
        LOCALES
            .lookup_single_language(language, id, Some(&args))
            .unwrap_or_else(|_| LOCALES.lookup_with_args(language, id, &args))
    }

    /// A date as the language writes it in a sentence: "March 5, 2026", "5 de marzo de
    /// 2026", "5 mars 2026".
    pub fn long_date(self, date: NaiveDate) -> String {
        let month = self.get(&format!("month-{}", date.month()));
        self.with(
            "date-long",
            &[
                ("day", FluentValue::from(date.day().to_string())),
                ("month", FluentValue::from(month)),
                ("year", FluentValue::from(date.year().to_string())),
            ],
        )
    }
}

/// A tier's name as a page in `language` writes it, the same as in email.
pub fn tier_name(language: Language, tier: &entity::giving_tier::Model) -> &str {
    mailer::templates::tier_name(language, tier)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use fluent_syntax::ast::Entry;

    use super::*;

    /// The message ids a language's `.ftl` files define.
    fn message_ids(code: &str) -> BTreeSet<String> {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(code);
        let mut ids = BTreeSet::new();
        let entries = std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("{folder:?}: {e}"));
        for entry in entries {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
            let resource = fluent_syntax::parser::parse(source)
                .unwrap_or_else(|(_, errors)| panic!("{path:?} does not parse: {errors:?}"));
            for entry in resource.body {
                if let Entry::Message(message) = entry {
                    ids.insert(message.id.name);
                }
            }
        }
        ids
    }

    #[test]
    fn every_language_has_every_message_and_no_other() {
        let english = message_ids("en");
        assert!(english.contains("donate-title"));
        for language in LANGUAGES {
            let ids = message_ids(language.as_str());
            let missing: Vec<_> = english.difference(&ids).collect();
            let extra: Vec<_> = ids.difference(&english).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{language}: missing {missing:?}, not in English {extra:?}"
            );
        }
    }

    #[test]
    fn every_message_reads_the_same_kept_as_formatted() {
        for language in LANGUAGES {
            for id in message_ids(language.as_str()) {
                let formatted = LOCALES.lookup(identifier(language), &id);
                assert_eq!(Words(language).get(&id), formatted, "{language} {id}");
                assert_eq!(Words(language).get(&id), formatted, "{language} {id}, kept");
            }
        }
        assert_eq!(
            Words(Language::Arabic).get("no-such-message"),
            LOCALES.lookup(&AR, "no-such-message")
        );
        let args = [("amount", FluentValue::from("42,00"))];
        assert_eq!(
            Words(Language::French).with("no-such-message", &args),
            LOCALES.lookup_with_args(
                &FR,
                "no-such-message",
                &HashMap::from([(Cow::Borrowed("amount"), FluentValue::from("42,00"))])
            )
        );
    }

    #[test]
    fn messages_take_their_variables_and_dates_read_each_language_s_way() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap_or_default();
        assert_eq!(Words(Language::English).long_date(date), "March 5, 2026");
        assert_eq!(
            Words(Language::Spanish).long_date(date),
            "5 de marzo de 2026"
        );
        assert_eq!(Words(Language::French).long_date(date), "5 mars 2026");
        assert_eq!(Words(Language::Arabic).long_date(date), "5 مارس 2026");
        let money = |language, amount: &str| {
            Words(language).with(
                "money",
                &[
                    ("amount", FluentValue::from(amount.to_owned())),
                    ("currency", FluentValue::from("USD")),
                ],
            )
        };
        assert_eq!(money(Language::English, "42.00"), "$42.00");
        assert_eq!(money(Language::French, "42,00"), "42,00 $");
    }

    /// Arabic addresses the reader in the plural, as the emails do, so no donor is
    /// addressed as a man by default: no masculine singular imperative ("اختر", "اكتب")
    /// and no "he" for the person a gift honors.
    #[test]
    fn arabic_page_words_address_every_donor_alike() {
        let source = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("locales/ar/pages.ftl"),
        )
        .unwrap_or_default();
        let masculine = [
            "اختر ",
            "اكتب ",
            "اترك ",
            "حاول ",
            "اجعل ",
            "راسلنا",
            "ستدفع",
            "أخبروه",
            "المُكرَّم",
            "تبرّع للدفاع",
            "تبرّع تكريماً",
        ];
        let found: Vec<&str> = masculine
            .iter()
            .copied()
            .filter(|word| source.contains(word))
            .collect();
        assert!(
            found.is_empty(),
            "masculine forms in ar/pages.ftl: {found:?}"
        );
    }

    #[test]
    fn a_language_code_reads_by_its_primary_subtag() {
        assert_eq!(parse_language("es-MX"), Some(Language::Spanish));
        assert_eq!(parse_language("FR_ca"), Some(Language::French));
        assert_eq!(parse_language("de"), None);
    }
}
