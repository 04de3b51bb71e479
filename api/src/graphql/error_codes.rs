//! Every error a client sees carries an `extensions.code`. Errors raised by the GraphQL
//! engine itself (a query that does not parse, an unknown field, an argument of the
//! wrong type, a query too deep or too complex) come without one; they are all faults
//! in the request, so they get `BAD_USER_INPUT`.

use std::sync::Arc;

use async_graphql::Response;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextRequest};

use super::errors::BAD_USER_INPUT;

pub struct EveryErrorHasACode;

impl ExtensionFactory for EveryErrorHasACode {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(EveryErrorHasACode)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for EveryErrorHasACode {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", BAD_USER_INPUT);
            }
        }
        response
    }
}
