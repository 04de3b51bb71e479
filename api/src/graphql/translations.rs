//! The texts of funds, tiers and appeals in the languages donors read besides the
//! default: how staff set them and read them back.

use async_graphql::{Enum, InputObject, SimpleObject};
use entity::Translations;

use super::donors::Language;
use crate::domain::translations::TranslationChange;

/// A text staff may write in several languages. Funds translate `NAME` and
/// `DESCRIPTION`; giving-club tiers `NAME` and `BENEFITS`; appeals `SUBJECT` and
/// `MESSAGE`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::TranslatedField")]
pub enum TranslatedField {
    /// A fund's or a tier's name.
    Name,
    /// What a fund pays for.
    Description,
    /// What a tier's members receive.
    Benefits,
    /// An appeal's email subject (merge fields allowed).
    Subject,
    /// An appeal's message (merge fields allowed).
    Message,
}

/// One text in one language other than English, whose text is the field itself. Given
/// to a create or update mutation of a fund, tier or appeal (the role that may change
/// the row may set its translations); an update changes only the texts it lists.
#[derive(InputObject, Clone)]
pub struct TranslationInput {
    /// The language the text is written in: Spanish, French or Arabic.
    pub language: Language,
    /// Which text it translates.
    pub field: TranslatedField,
    /// The text; null or blank removes the translation, so readers of that language
    /// see the English text again.
    pub text: Option<String>,
}

/// A text staff wrote in a language other than English. Readable by whoever may read
/// the fund, tier or appeal it belongs to.
#[derive(SimpleObject)]
pub struct Translation {
    /// The language it is written in.
    pub language: Language,
    /// Which text it translates.
    pub field: TranslatedField,
    /// The text.
    pub text: String,
}

/// The domain's changes from a mutation's `translations` argument (none when left out).
pub fn changes(input: Option<Vec<TranslationInput>>) -> Vec<TranslationChange> {
    input
        .unwrap_or_default()
        .into_iter()
        .map(|t| TranslationChange {
            language: t.language.into(),
            field: t.field.into(),
            text: t.text,
        })
        .collect()
}

/// A row's stored translations as the schema lists them.
pub fn listed(translations: Option<&Translations>) -> Vec<Translation> {
    translations
        .map(Translations::entries)
        .unwrap_or_default()
        .into_iter()
        .map(|(language, field, text)| Translation {
            language: language.into(),
            field: field.into(),
            text: text.to_owned(),
        })
        .collect()
}
