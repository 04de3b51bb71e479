//! The staff API's budget for one request, checked after the engine's own validation and
//! before any resolver runs (so before any SQL): what the token's role may see, the
//! cost of the query (lists count their page size times what each item asks for), how
//! many aliases it uses and how often it repeats one field. A request over budget is
//! refused whole with `QUERY_TOO_COSTLY` and the figures.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensionValues, Request, Response, ServerError, ServerResult, ValidationResult, Value,
    Variables,
};

use super::access;
use super::errors::{FORBIDDEN, QUERY_TOO_COSTLY, UNAUTHENTICATED};
use super::shape::{self, DEFAULT_LIST_SIZE};
use crate::domain::tokens::StaffIdentity;

/// The most a query may cost: a field costs 1, times the length of each list it is in.
pub const MAX_COST: u64 = 25_000;
/// The most aliased fields one request may use.
pub const MAX_ALIASES: usize = 10;
/// The most times one field may be asked for in one selection (aliases included).
pub const MAX_REPEATS: usize = 5;

/// Builds the per-request checks.
pub struct RequestBudget;

impl ExtensionFactory for RequestBudget {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Checks::default())
    }
}

/// One request's checks; the engine creates one per request.
#[derive(Default)]
struct Checks {
    operation_name: Mutex<Option<String>>,
    document: Mutex<Option<(ExecutableDocument, Variables)>>,
}

fn refusal(message: String, code: &'static str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

impl Checks {
    fn check(&self, ctx: &ExtensionContext<'_>) -> Result<(), ServerError> {
        let operation_name = self
            .operation_name
            .lock()
            .map_err(|_| refusal("the request could not be checked".into(), QUERY_TOO_COSTLY))?
            .clone();
        let stored = self
            .document
            .lock()
            .map_err(|_| refusal("the request could not be checked".into(), QUERY_TOO_COSTLY))?;
        let Some((document, variables)) = stored.as_ref() else {
            return Ok(());
        };
        let registry = &ctx.schema_env.registry;
        let Some(shape) = shape::measure(registry, document, operation_name.as_deref(), variables)
        else {
            return Ok(());
        };
        let identity = ctx
            .data_opt::<StaffIdentity>()
            .ok_or_else(|| refusal("a valid API token is required".into(), UNAUTHENTICATED))?;
        access::check_fields(registry, identity.role, &shape.fields)?;
        if shape.cost > MAX_COST {
            return Err(refusal(
                format!(
                    "this query would cost {} and the limit is {MAX_COST}: each field \
                     costs 1, times the size of every list it is in (`first`, `last` or \
                     `count`, or {DEFAULT_LIST_SIZE} when not given); ask for smaller \
                     pages or fewer nested lists",
                    shape.cost
                ),
                QUERY_TOO_COSTLY,
            ));
        }
        if shape.aliases > MAX_ALIASES {
            return Err(refusal(
                format!(
                    "this query uses {} aliases; at most {MAX_ALIASES} are allowed",
                    shape.aliases
                ),
                QUERY_TOO_COSTLY,
            ));
        }
        if let Some((field, times)) = &shape.most_repeated
            && *times > MAX_REPEATS
        {
            return Err(refusal(
                format!(
                    "this query asks for {field} {times} times in one place; at most \
                     {MAX_REPEATS} are allowed"
                ),
                QUERY_TOO_COSTLY,
            ));
        }
        Ok(())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Checks {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut name) = self.operation_name.lock() {
            name.clone_from(&request.operation_name);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Ok(mut stored) = self.document.lock() {
            *stored = Some((document.clone(), variables.clone()));
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        self.check(ctx).map_err(|error| vec![error])?;
        Ok(result)
    }

    /// A role check that only a resolver can make (a guard) refuses the whole request
    /// too: its data is dropped rather than shown with holes.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let forbidden = response.errors.iter().any(|error| {
            error
                .extensions
                .as_ref()
                .and_then(|extensions| extensions.get("code"))
                .is_some_and(|code| *code == Value::from(FORBIDDEN))
        });
        if forbidden {
            response.data = Value::Null;
        }
        response
    }
}
