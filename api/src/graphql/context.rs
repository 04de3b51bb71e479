//! What resolvers take from the request context.

use std::sync::Arc;

use async_graphql::{Context, ID, Result};
use sea_orm::DatabaseConnection;

use super::errors::bad_input;
use super::guards::staff;
use crate::config::Config;
use crate::domain::Actor;
use crate::server::Processor;

pub fn db<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

pub fn config<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Config>> {
    ctx.data::<Arc<Config>>()
}

/// The payment processor, one client for the whole process.
pub fn processor<'a>(ctx: &Context<'a>) -> Result<&'a Processor> {
    ctx.data::<Processor>()
}

/// The staff member making a change, for the audit log.
pub fn actor(ctx: &Context<'_>) -> Result<Actor> {
    Ok(staff(ctx)?.actor())
}

/// Parses an `ID` argument into a database id, naming the argument if it is not one.
pub fn parse_id(field: &str, id: &ID) -> Result<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| bad_input(field, "is not a valid id"))
}
