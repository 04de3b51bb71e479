//! Role checks made while a field runs. The role a field needs is declared with
//! `#[graphql(directive = requires_role::apply(Role::…))]` (see `access`), which refuses
//! a request before anything runs; a guard refuses only when its field runs, and then
//! the whole request is refused too (see `budget`), so prefer the directive.

use async_graphql::{Context, Guard, Result};
use entity::enums::StaffRole;

use super::errors::{FORBIDDEN, UNAUTHENTICATED, coded};
use crate::domain::tokens::StaffIdentity;

/// Lets a field through only for tokens whose role includes `needed`, checked when the
/// field runs.
pub struct RoleGuard {
    needed: StaffRole,
}

impl RoleGuard {
    pub fn new(needed: StaffRole) -> Self {
        RoleGuard { needed }
    }
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let identity = staff(ctx)?;
        if identity.role.allows(self.needed) {
            Ok(())
        } else {
            Err(coded(
                format!(
                    "this needs the {} role; your token has {}",
                    self.needed, identity.role
                ),
                FORBIDDEN,
            ))
        }
    }
}

/// The identity of the request. The HTTP layer refuses requests without one, so its
/// absence here means the schema was executed outside that layer.
pub fn staff<'a>(ctx: &Context<'a>) -> Result<&'a StaffIdentity> {
    ctx.data_opt::<StaffIdentity>()
        .ok_or_else(|| coded("a valid API token is required", UNAUTHENTICATED))
}
