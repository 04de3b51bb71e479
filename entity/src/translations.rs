//! The texts staff write for a fund, a giving-club tier or an appeal in the languages
//! donors read other than the organization's default. The row's own columns (a fund's
//! `name`, an appeal's `subject`) hold the default language's text; a JSON column
//! `translations` beside them holds the rest, `{"es": {"name": "…"}, "ar": {…}}`.
//!
//! A JSON column rather than a table of (kind, id, language, field) rows: a translation
//! is only ever read together with the row it translates (a page listing funds, a
//! receipt naming one, an appeal being merged), so it arrives in the same query with no
//! join and no second round trip; it is saved, audited and deleted with its row in the
//! same statement; and a polymorphic table could not carry a foreign key. The same
//! column type (`jsonb` on PostgreSQL, text on SQLite) works on both databases.

use std::collections::BTreeMap;

use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

use crate::enums::Language;

/// The language of a row's own columns, which every translation falls back to.
pub const DEFAULT_LANGUAGE: Language = Language::English;

/// A text of a row that staff may translate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TranslatedField {
    /// A fund's or a tier's name.
    Name,
    /// What a fund pays for.
    Description,
    /// What a tier's members receive.
    Benefits,
    /// An appeal's email subject.
    Subject,
    /// An appeal's message.
    Message,
}

impl TranslatedField {
    /// The key the field is stored under.
    pub fn as_str(self) -> &'static str {
        match self {
            TranslatedField::Name => "name",
            TranslatedField::Description => "description",
            TranslatedField::Benefits => "benefits",
            TranslatedField::Subject => "subject",
            TranslatedField::Message => "message",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            TranslatedField::Name,
            TranslatedField::Description,
            TranslatedField::Benefits,
            TranslatedField::Subject,
            TranslatedField::Message,
        ]
        .into_iter()
        .find(|field| field.as_str() == text)
    }
}

/// Language code → field → text, for the languages other than the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Translations(pub BTreeMap<String, BTreeMap<String, String>>);

impl Translations {
    /// The text written for `field` in `language`, when there is one.
    pub fn get(&self, language: Language, field: TranslatedField) -> Option<&str> {
        self.0
            .get(language.as_str())
            .and_then(|fields| fields.get(field.as_str()))
            .map(String::as_str)
            .filter(|text| !text.is_empty())
    }

    /// Sets or (with `None`) removes one text; a language left with no text goes.
    pub fn set(&mut self, language: Language, field: TranslatedField, text: Option<String>) {
        let code = language.as_str().to_owned();
        match text {
            Some(text) => {
                self.0
                    .entry(code)
                    .or_default()
                    .insert(field.as_str().to_owned(), text);
            }
            None => {
                if let Some(fields) = self.0.get_mut(&code) {
                    fields.remove(field.as_str());
                    if fields.is_empty() {
                        self.0.remove(&code);
                    }
                }
            }
        }
    }

    /// Every stored text as (language, field, text), in a stable order; entries a newer
    /// or older version wrote under a name this one does not know are left out.
    pub fn entries(&self) -> Vec<(Language, TranslatedField, &str)> {
        self.0
            .iter()
            .filter_map(|(code, fields)| Some((Language::parse(code)?, fields)))
            .flat_map(|(language, fields)| {
                fields.iter().filter_map(move |(field, text)| {
                    Some((language, TranslatedField::parse(field)?, text.as_str()))
                })
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The text a reader of `language` sees: the translation when staff wrote one, otherwise
/// the row's own text in the default language.
pub fn localized<'a>(
    translations: Option<&'a Translations>,
    language: Language,
    field: TranslatedField,
    own: &'a str,
) -> &'a str {
    translations
        .and_then(|t| t.get(language, field))
        .unwrap_or(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_translation_falls_back_to_the_rows_own_text() {
        let mut translations = Translations::default();
        translations.set(
            Language::Spanish,
            TranslatedField::Name,
            Some("Fondo General".into()),
        );

        assert_eq!(
            localized(
                Some(&translations),
                Language::Spanish,
                TranslatedField::Name,
                "General"
            ),
            "Fondo General"
        );
        assert_eq!(
            localized(
                Some(&translations),
                Language::Arabic,
                TranslatedField::Name,
                "General"
            ),
            "General"
        );
        assert_eq!(
            localized(None, Language::Spanish, TranslatedField::Name, "General"),
            "General"
        );
    }

    #[test]
    fn removing_the_last_text_of_a_language_removes_the_language() {
        let mut translations = Translations::default();
        translations.set(
            Language::French,
            TranslatedField::Name,
            Some("Fonds".into()),
        );

        translations.set(Language::French, TranslatedField::Name, None);

        assert!(translations.is_empty());
    }
}
