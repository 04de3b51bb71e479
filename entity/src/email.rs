//! Email addresses, normalized once at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("is empty")]
    Empty,
    #[error("is too long (at most 254 characters)")]
    TooLong,
    #[error("is not an email address: {0:?}")]
    Malformed(String),
}

/// A syntactically valid email address, trimmed and lower-cased, so that one
/// person's address always compares equal to itself however it was typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(text: &str) -> Result<Self, EmailError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let malformed = || EmailError::Malformed(trimmed.to_owned());
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(malformed)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err(malformed());
        }
        Ok(EmailAddress(trimmed.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let email = EmailAddress::parse("  Maria.Lopez@Example.ORG ");
        assert_eq!(
            email.map(String::from),
            Ok("maria.lopez@example.org".into())
        );
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "",
            "maria",
            "maria@",
            "@example.org",
            "maria@example",
            "maria@@example.org",
            "ma ria@example.org",
            "maria@exa_mple.org",
            ".maria@example.org",
            "maria..lopez@example.org",
            "maria@-example.org",
            "<script>@example.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn international_addresses_are_accepted() {
        assert!(EmailAddress::parse("josé@ejemplo.mx").is_ok());
        assert!(EmailAddress::parse("o'brien+gifts@example.org").is_ok());
    }
}
