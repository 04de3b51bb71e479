//! Tokens: who is asking, and (for admins) creating and revoking tokens.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use entity::enums::StaffRole;

use super::access::requires_role;
use super::context::{actor, db, parse_id};
use super::errors::GqlResultExt;
use super::guards::staff;
use crate::domain::tokens;

/// A staff role.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::StaffRole")]
pub enum Role {
    /// Reads aggregates and gifts; donor contact details are masked.
    Viewer,
    /// Reads and writes donors, gifts and pledges.
    Staff,
    /// Also manages tiers, funds and tokens.
    Admin,
}

/// The token making this request.
pub struct Viewer {
    pub name: String,
    pub role: StaffRole,
}

#[Object]
impl Viewer {
    /// The token's name, as shown in the audit log.
    async fn name(&self) -> &str {
        &self.name
    }

    /// What the token may do.
    async fn role(&self) -> Role {
        self.role.into()
    }
}

/// A staff API token as staff see it: never its secret.
#[derive(SimpleObject)]
pub struct ApiToken {
    /// The token's id.
    pub id: ID,
    /// Who or what uses the token.
    pub name: String,
    /// What the token may do.
    pub role: Role,
}

/// A token just created. Its secret is shown this once and cannot be shown again.
#[derive(SimpleObject)]
pub struct CreatedToken {
    /// The token.
    pub token: ApiToken,
    /// Send this as `Authorization: Bearer <secret>`. Store it now.
    pub secret: String,
}

#[derive(Default)]
pub struct TokenQuery;

#[Object]
impl TokenQuery {
    /// The token making this request.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        let identity = staff(ctx)?;
        Ok(Viewer {
            name: identity.name.clone(),
            role: identity.role,
        })
    }
}

/// A staff API token to create.
#[derive(InputObject)]
pub struct CreateTokenInput {
    /// Who or what uses the token, for the audit log.
    pub name: String,
    /// What the token may do.
    pub role: Role,
}

/// The token to revoke.
#[derive(InputObject)]
pub struct RevokeTokenInput {
    /// The token's id.
    pub id: ID,
}

#[derive(Default)]
pub struct TokenMutation;

#[Object]
impl TokenMutation {
    /// Creates a staff API token (admins only). The secret is returned once. Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn create_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A staff API token to create.")] input: CreateTokenInput,
    ) -> Result<CreatedToken> {
        let CreateTokenInput { name, role } = input;
        let created = tokens::create_token(db(ctx)?, &name, role.into(), &actor(ctx)?)
            .await
            .gql()?;
        Ok(CreatedToken {
            token: ApiToken {
                id: ID(created.id.to_string()),
                name: created.name,
                role: created.role.into(),
            },
            secret: created.secret,
        })
    }

    /// Revokes a token at once (admins only): requests with it get 401 from then on.
    /// Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn revoke_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token to revoke.")] input: RevokeTokenInput,
    ) -> Result<ApiToken> {
        let RevokeTokenInput { id } = input;
        let id = parse_id("id", &id)?;
        let token = tokens::revoke_token(db(ctx)?, id, &actor(ctx)?)
            .await
            .gql()?;
        Ok(ApiToken {
            id: ID(token.id.to_string()),
            name: token.name,
            role: token.role.into(),
        })
    }
}
