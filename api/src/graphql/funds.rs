//! Funds: the designations gifts go to.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::enums::StaffRole;
use entity::fund;

use super::context::db;
use super::errors::GqlResultExt;
use super::guards::RoleGuard;
use crate::domain::funds;

/// A designation a gift goes to: the General fund or a restricted program.
pub struct Fund(pub fund::Model);

#[Object]
impl Fund {
    /// The fund's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The fund's name, as donors see it.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// A short stable code used in links and exports.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// What the fund pays for.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Whether gifts to this fund may only be spent on its program.
    async fn restricted(&self) -> bool {
        self.0.restricted
    }

    /// When the fund stopped taking gifts, if it has.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }
}

#[derive(Default)]
pub struct FundQuery;

#[Object]
impl FundQuery {
    /// The funds gifts can be designated to, by name.
    #[graphql(guard = "RoleGuard::new(StaffRole::Viewer)")]
    async fn funds(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Include funds that no longer take gifts.", default = false)]
        include_archived: bool,
    ) -> Result<Vec<Fund>> {
        let funds = funds::list_funds(db(ctx)?, include_archived).await.gql()?;
        Ok(funds.into_iter().map(Fund).collect())
    }
}
