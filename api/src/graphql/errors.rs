//! Turning domain errors into GraphQL errors with an `extensions.code` clients can
//! match on. Unexpected errors are logged with their cause chain and shown generically.

use async_graphql::{Error, ErrorExtensionValues, ErrorExtensions, ServerError};

use crate::domain::DomainError;

pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub const CONFLICT: &str = "CONFLICT";
pub const PAYMENT_FAILED: &str = "PAYMENT_FAILED";
pub const INTERNAL: &str = "INTERNAL";
/// The query would cost more than the budget allows; nothing was run.
pub const QUERY_TOO_COSTLY: &str = "QUERY_TOO_COSTLY";
/// The answer would be larger than the API sends; ask for less.
pub const RESPONSE_TOO_LARGE: &str = "RESPONSE_TOO_LARGE";
/// The request ran past its deadline and was stopped.
pub const DEADLINE_EXCEEDED: &str = "DEADLINE_EXCEEDED";
/// The token spent its budget of requests; try again after `Retry-After` seconds.
pub const RATE_LIMITED: &str = "RATE_LIMITED";

pub fn coded(message: impl Into<String>, code: &'static str) -> Error {
    Error::new(message).extend_with(|_, extensions| extensions.set("code", code))
}

/// A refusal of a whole request, before it runs, with its code.
pub fn refusal(message: String, code: &'static str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// A `BAD_USER_INPUT` error naming the input field.
pub fn bad_input(field: &str, reason: impl std::fmt::Display) -> Error {
    let field = field.to_owned();
    Error::new(format!("{field}: {reason}")).extend_with(move |_, extensions| {
        extensions.set("code", BAD_USER_INPUT);
        extensions.set("field", field.as_str());
    })
}

impl ErrorExtensions for DomainError {
    fn extend(&self) -> Error {
        match self {
            DomainError::NotFound { .. } => coded(self.to_string(), NOT_FOUND),
            DomainError::Validation { field, reason } => bad_input(field, reason),
            DomainError::Conflict {
                field,
                message,
                existing_id,
            } => {
                let field = field.clone();
                let existing_id = *existing_id;
                Error::new(message.clone()).extend_with(move |_, extensions| {
                    extensions.set("code", CONFLICT);
                    if let Some(field) = &field {
                        extensions.set("field", field.as_str());
                    }
                    if let Some(id) = existing_id {
                        extensions.set("existingId", id.to_string());
                    }
                })
            }
            DomainError::Payment(_) => coded(self.to_string(), PAYMENT_FAILED),
            DomainError::Unexpected(cause) => {
                tracing::error!(
                    error = format!("{cause:#}"),
                    "unexpected error in a GraphQL request"
                );
                coded(
                    "Something went wrong on our side. It has been logged.",
                    INTERNAL,
                )
            }
        }
    }
}

/// `.gql()` on a domain result: the one way resolvers turn domain errors into GraphQL ones.
pub trait GqlResultExt<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResultExt<T> for Result<T, DomainError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|error| error.extend())
    }
}
