//! The staff GraphQL API.

pub mod errors;
pub mod guards;
pub mod types;

use async_graphql::{Context, EmptyMutation, EmptySubscription, ID, Object, Result, Schema};
use entity::enums::StaffRole;
use sea_orm::DatabaseConnection;

use crate::domain::{donors, funds};
use errors::{GqlResultExt, bad_input};
use guards::{RoleGuard, staff};
use types::{Donor, Fund, Viewer};

pub type StaffSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Limits that keep one request from tying up the server.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 5_000;

pub fn build_schema(db: DatabaseConnection, introspection: bool) -> StaffSchema {
    let builder = Schema::build(Query, EmptyMutation, EmptySubscription)
        .data(db)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY);
    if introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

fn parse_id(field: &str, id: &ID) -> Result<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| bad_input(field, "is not a valid id"))
}

pub struct Query;

/// What staff can read.
#[Object]
impl Query {
    /// The token making this request.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        let identity = staff(ctx)?;
        Ok(Viewer {
            name: identity.name.clone(),
            role: identity.role,
        })
    }

    /// The funds gifts can be designated to, by name.
    #[graphql(guard = "RoleGuard::new(StaffRole::Viewer)")]
    async fn funds(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Include funds that no longer take gifts.", default = false)]
        include_archived: bool,
    ) -> Result<Vec<Fund>> {
        let db = ctx.data::<DatabaseConnection>()?;
        let funds = funds::list_funds(db, include_archived).await.gql()?;
        Ok(funds.into_iter().map(Fund).collect())
    }

    /// One donor by id.
    #[graphql(guard = "RoleGuard::new(StaffRole::Viewer)")]
    async fn donor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The donor's id.")] id: ID,
    ) -> Result<Donor> {
        let id = parse_id("id", &id)?;
        let db = ctx.data::<DatabaseConnection>()?;
        donors::find_donor(db, id).await.gql().map(Donor)
    }
}
