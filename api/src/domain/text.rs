//! Cleaning text that staff and donors type: surrounding spaces never count, and
//! one-line text (names, tribute names) never carries a control character, so no name
//! can break an email header or a CSV row.

use super::DomainError;

/// Trimmed text, or `None` when nothing but spaces was typed. Use with
/// `Option::and_then`.
pub fn non_blank(text: String) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Trimmed text that must be there and be at most `max` characters, naming `field`
/// when it is not.
pub fn required_text(field: &str, text: &str, max: usize) -> Result<String, DomainError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DomainError::validation(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(DomainError::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// The longest name the service keeps (donor, honoree, person to notify).
pub const MAX_NAME: usize = 200;

/// Whether text carries a control character (CR, LF, tab, NUL and the like), which
/// one-line text must not.
pub fn has_control_characters(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// Checks one-line text that is already trimmed: no control character, at most `max`
/// characters, naming `field` when it fails.
pub fn check_one_line(field: &str, text: &str, max: usize) -> Result<(), DomainError> {
    if has_control_characters(text) {
        return Err(DomainError::validation(
            field,
            "must be one line without control characters",
        ));
    }
    if text.chars().count() > max {
        return Err(DomainError::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// Trimmed one-line text that must be there: no control character, at most `max`
/// characters.
pub fn required_line(field: &str, text: &str, max: usize) -> Result<String, DomainError> {
    let text = required_text(field, text, max)?;
    check_one_line(field, &text, max)?;
    Ok(text)
}

/// Optional one-line text: blank is `None`, otherwise trimmed and checked like
/// [`required_line`].
pub fn optional_line(
    field: &str,
    text: Option<String>,
    max: usize,
) -> Result<Option<String>, DomainError> {
    match text.and_then(non_blank) {
        Some(text) => {
            check_one_line(field, &text, max)?;
            Ok(Some(text))
        }
        None => Ok(None),
    }
}

/// The longest text a list is searched for: no name or email the service keeps is longer.
pub const MAX_SEARCH: usize = MAX_NAME;

/// A searched text, typed into a list's filter: blank is `None` (nothing to look for),
/// otherwise trimmed and checked like [`required_line`] up to [`MAX_SEARCH`] characters.
pub fn searched(field: &str, text: Option<String>) -> Result<Option<String>, DomainError> {
    optional_line(field, text, MAX_SEARCH)
}

/// One-line text from a source that cannot be asked again (a payment processor's
/// metadata): every run of control characters and spaces becomes one space, the result
/// is trimmed and cut to `max` characters; `None` when nothing is left.
pub fn clean_line(text: &str, max: usize) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_control() || c.is_whitespace() {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        out.push(c);
    }
    let out: String = out.chars().take(max).collect();
    let out = out.trim_end();
    (!out.is_empty()).then(|| out.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_text_is_none_and_other_text_is_trimmed() {
        assert_eq!(non_blank("   ".to_owned()), None);
        assert_eq!(non_blank("  Rosa  ".to_owned()), Some("Rosa".to_owned()));
    }

    #[test]
    fn required_text_names_the_field() {
        assert!(
            matches!(required_text("name", " ", 10), Err(DomainError::Validation { ref field, .. }) if field == "name")
        );
        assert!(required_text("name", "abcdefghijk", 10).is_err());
        assert_eq!(
            required_text("name", " ab ", 10).ok().as_deref(),
            Some("ab")
        );
    }

    #[test]
    fn a_name_with_a_line_break_is_refused_with_its_field() {
        for name in [
            "Rosa\r\nBcc: all@example.org",
            "Rosa\nLopez",
            "Rosa\u{0}",
            "Ro\tsa",
        ] {
            assert!(
                matches!(required_line("displayName", name, 200), Err(DomainError::Validation { ref field, .. }) if field == "displayName"),
                "{name:?}"
            );
        }
        assert_eq!(
            required_line("displayName", " Rosa López ", 200)
                .ok()
                .as_deref(),
            Some("Rosa López")
        );
        assert!(required_line("displayName", &"a".repeat(201), 200).is_err());
        assert_eq!(
            optional_line("notifyName", Some(" ".to_owned()), 200).ok(),
            Some(None)
        );
        assert!(optional_line("notifyName", Some("a\rb".to_owned()), 200).is_err());
    }

    #[test]
    fn a_searched_text_is_one_line_up_to_the_longest_name() {
        let search = |text: &str| searched("filter.search", Some(text.to_owned()));
        assert_eq!(searched("filter.search", None).ok(), Some(None));
        assert_eq!(search(" \t ").ok(), Some(None));
        assert_eq!(search("  José ").ok(), Some(Some("José".to_owned())));
        let longest = "ñ".repeat(MAX_SEARCH);
        assert_eq!(search(&longest).ok(), Some(Some(longest.clone())));
        for refused in [format!("{longest}ñ"), "José\nNúñez".to_owned()] {
            assert!(
                matches!(search(&refused), Err(DomainError::Validation { ref field, .. }) if field == "filter.search"),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn cleaned_text_keeps_one_line_and_its_limit() {
        assert_eq!(
            clean_line(" María\r\n\tLópez \u{7}", 200).as_deref(),
            Some("María López")
        );
        assert_eq!(clean_line("\r\n", 200), None);
        assert_eq!(clean_line("abcdef", 3).as_deref(), Some("abc"));
        assert_eq!(clean_line("ab  cd", 3).as_deref(), Some("ab"));
    }
}
