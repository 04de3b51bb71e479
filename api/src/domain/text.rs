//! Cleaning text that staff and donors type: surrounding spaces never count.

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
}
