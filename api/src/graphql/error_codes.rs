//! Every error a client sees carries an `extensions.code`. Errors raised by the GraphQL
//! engine itself (a query that does not parse, an unknown field, an argument of the
//! wrong type, a query too deep or too complex) come without one; they are all faults
//! in the request, so they get `BAD_USER_INPUT`.

use async_graphql::Response;

use super::errors::BAD_USER_INPUT;

/// Gives `BAD_USER_INPUT` to each error of `response` that has no code.
pub fn give_every_error_a_code(response: &mut Response) {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", BAD_USER_INPUT);
        }
    }
}
