//! The merge fields an appeal's subject and message may use (`{first_name}`), in one
//! place: appeals are refused at create and update when they name any other, and the
//! same reading of the text fills them in for each donor.

use super::DomainError;

/// A merge field and what it becomes in each donor's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeField {
    /// The donor's first name, or their display name when none is known.
    FirstName,
    /// The donor's most recent gift, formatted ("$42.00"); empty when none.
    LastGift,
    /// The donor's personal ask, formatted.
    AskAmount,
    /// The donor's personal donate link.
    DonateLink,
}

/// Every merge field, as written in a message.
pub const MERGE_FIELDS: [(&str, MergeField); 4] = [
    ("first_name", MergeField::FirstName),
    ("last_gift", MergeField::LastGift),
    ("ask_amount", MergeField::AskAmount),
    ("donate_link", MergeField::DonateLink),
];

/// A piece of a message: text kept as it is, or a `{name}` placeholder.
enum Piece<'a> {
    Text(&'a str),
    Field(&'a str),
}

/// Splits a message into text and `{name}` placeholders, where a name is letters,
/// digits and underscores; any other brace is text.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let name = after.find('}').map(|close| &after[..close]).filter(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        match name {
            Some(name) => {
                out.push(Piece::Text(&rest[..open]));
                out.push(Piece::Field(name));
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push(Piece::Text(&rest[..=open]));
                rest = after;
            }
        }
    }
    out.push(Piece::Text(rest));
    out
}

fn known(name: &str) -> Option<MergeField> {
    MERGE_FIELDS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, field)| *field)
}

/// The placeholders in `text` that are not merge fields, each once, in order.
pub fn unknown_merge_fields(text: &str) -> Vec<String> {
    let mut unknown: Vec<String> = Vec::new();
    for piece in pieces(text) {
        if let Piece::Field(name) = piece
            && known(name).is_none()
            && !unknown.iter().any(|u| u == name)
        {
            unknown.push(name.to_owned());
        }
    }
    unknown
}

/// Refuses a subject or message (named by `field`) that uses an unknown merge field.
pub fn check_merge_fields(field: &str, text: Option<&str>) -> Result<(), DomainError> {
    let unknown = unknown_merge_fields(text.unwrap_or_default());
    if unknown.is_empty() {
        return Ok(());
    }
    let named = |names: &mut dyn Iterator<Item = &str>| {
        names
            .map(|n| format!("{{{n}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(DomainError::validation(
        field,
        format!(
            "unknown merge fields {}; the merge fields are {}",
            named(&mut unknown.iter().map(String::as_str)),
            named(&mut MERGE_FIELDS.iter().map(|(name, _)| *name)),
        ),
    ))
}

/// The text with each merge field replaced by `value(field)`; anything else is kept.
pub fn merge(text: &str, value: impl Fn(MergeField) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Field(name) => match known(name) {
                Some(field) => out.push_str(&value(field)),
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelled_merge_fields_are_named_and_known_ones_are_filled() {
        let text = "Dear {firstname}, your {ask} {ask} helps. {first_name} {Hola!} {}";
        assert_eq!(unknown_merge_fields(text), vec!["firstname", "ask"]);
        match check_merge_fields("message", Some(text)) {
            Err(error) => assert!(error.to_string().contains("{firstname}, {ask}"), "{error}"),
            Ok(()) => panic!("misspelled merge fields were accepted"),
        }
        assert!(check_merge_fields("message", Some("Hi {first_name} {ask_amount}")).is_ok());
        let merged = merge("Hi {first_name}, {ask_amount} {x} {Hola!}", |f| {
            format!("{f:?}")
        });
        assert_eq!(merged, "Hi FirstName, AskAmount {x} {Hola!}");
    }
}
