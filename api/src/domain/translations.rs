//! Staff's translations of funds, tiers and appeals: which texts each may carry, and
//! checking and applying a change to them. Reading one is `entity::localized`.

use entity::enums::Language;
use entity::{DEFAULT_LANGUAGE, TranslatedField, Translations};

use super::DomainError;
use super::text;

/// One text staff set (or, with `None`, remove) in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslationChange {
    pub language: Language,
    pub field: TranslatedField,
    pub text: Option<String>,
}

/// A text a row may carry in other languages, and how long it may be. A one-line text
/// (a name, a subject) may hold no control character: a subject becomes a mail header.
#[derive(Debug, Clone, Copy)]
pub struct Translatable {
    pub field: TranslatedField,
    pub max: usize,
    pub one_line: bool,
}

/// What a fund translates.
pub const FUND_FIELDS: &[Translatable] = &[
    Translatable {
        field: TranslatedField::Name,
        max: 200,
        one_line: true,
    },
    Translatable {
        field: TranslatedField::Description,
        max: 2_000,
        one_line: false,
    },
];

/// What a giving-club tier translates.
pub const TIER_FIELDS: &[Translatable] = &[
    Translatable {
        field: TranslatedField::Name,
        max: 200,
        one_line: true,
    },
    Translatable {
        field: TranslatedField::Benefits,
        max: 2_000,
        one_line: false,
    },
];

/// What an appeal translates.
pub const APPEAL_FIELDS: &[Translatable] = &[
    Translatable {
        field: TranslatedField::Subject,
        max: 200,
        one_line: true,
    },
    Translatable {
        field: TranslatedField::Message,
        max: 20_000,
        one_line: false,
    },
];

const FIELD: &str = "translations";

/// Applies `changes` to `current`, each checked against what the row translates
/// (`allowed`). The default language is the row's own columns, so it takes no
/// translation. `None` when no text is left.
pub fn apply(
    current: Option<Translations>,
    changes: Vec<TranslationChange>,
    allowed: &[Translatable],
) -> Result<Option<Translations>, DomainError> {
    let mut translations = current.unwrap_or_default();
    for change in changes {
        if change.language == DEFAULT_LANGUAGE {
            return Err(DomainError::validation(
                FIELD,
                format!(
                    "{} is the default language: change the field itself",
                    change.language.as_str()
                ),
            ));
        }
        let Some(rule) = allowed.iter().find(|rule| rule.field == change.field) else {
            let known: Vec<&str> = allowed.iter().map(|rule| rule.field.as_str()).collect();
            return Err(DomainError::validation(
                FIELD,
                format!(
                    "{} is not translated here; these are: {}",
                    change.field.as_str(),
                    known.join(", ")
                ),
            ));
        };
        let text = match change.text.and_then(text::non_blank) {
            Some(text) if rule.one_line => {
                text::check_one_line(FIELD, &text, rule.max)?;
                Some(text)
            }
            Some(text) if text.chars().count() > rule.max => {
                return Err(DomainError::validation(
                    FIELD,
                    format!(
                        "{} must be at most {} characters",
                        rule.field.as_str(),
                        rule.max
                    ),
                ));
            }
            other => other,
        };
        translations.set(change.language, change.field, text);
    }
    Ok((!translations.is_empty()).then_some(translations))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(language: Language, field: TranslatedField, text: &str) -> TranslationChange {
        TranslationChange {
            language,
            field,
            text: Some(text.to_owned()),
        }
    }

    #[test]
    fn a_fund_takes_a_name_and_a_description_in_another_language() {
        let applied = apply(
            None,
            vec![
                change(Language::Spanish, TranslatedField::Name, " Fondo General "),
                change(Language::Spanish, TranslatedField::Description, "Todo"),
            ],
            FUND_FIELDS,
        )
        .unwrap_or_default()
        .unwrap_or_default();

        assert_eq!(
            applied.get(Language::Spanish, TranslatedField::Name),
            Some("Fondo General")
        );
        assert_eq!(
            applied.get(Language::Spanish, TranslatedField::Description),
            Some("Todo")
        );
    }

    #[test]
    fn a_fund_has_no_subject_and_english_is_its_own_text() {
        let subject = apply(
            None,
            vec![change(Language::Spanish, TranslatedField::Subject, "Hola")],
            FUND_FIELDS,
        );
        let english = apply(
            None,
            vec![change(Language::English, TranslatedField::Name, "General")],
            FUND_FIELDS,
        );

        assert!(subject.is_err());
        assert!(english.is_err());
    }

    #[test]
    fn a_translated_subject_cannot_break_a_mail_header() {
        let applied = apply(
            None,
            vec![change(
                Language::Arabic,
                TranslatedField::Subject,
                "مرحبا\r\nBcc: x@example.org",
            )],
            APPEAL_FIELDS,
        );

        assert!(applied.is_err());
    }

    #[test]
    fn a_blank_text_removes_the_translation() {
        let current = apply(
            None,
            vec![change(Language::French, TranslatedField::Name, "Fonds")],
            FUND_FIELDS,
        )
        .unwrap_or_default();

        let applied = apply(
            current,
            vec![change(Language::French, TranslatedField::Name, "  ")],
            FUND_FIELDS,
        );

        assert_eq!(applied.ok(), Some(None));
    }
}
