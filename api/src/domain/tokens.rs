//! Staff API tokens. A token is shown once when created; only its SHA-256 hash is kept.

use chrono::{Duration, Utc};
use entity::api_token;
use entity::enums::StaffRole;
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Actor, DomainError, audit};
use crate::db::begin_write;
use crate::read_cache::{self, Expiring};

/// Every token starts with this, so a leaked one is easy to recognise in a scan.
const TOKEN_PREFIX: &str = "gvt_";

/// The staff member or script a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffIdentity {
    pub token_id: i64,
    pub name: String,
    pub role: StaffRole,
}

impl StaffIdentity {
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.name.clone(),
            token_id: Some(self.token_id),
        }
    }
}

/// A token just created; `secret` is never stored and cannot be shown again.
#[derive(Debug)]
pub struct CreatedToken {
    pub id: i64,
    pub name: String,
    pub role: StaffRole,
    pub secret: String,
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub async fn create_token(
    db: &DatabaseConnection,
    name: &str,
    role: StaffRole,
    actor: &Actor,
) -> Result<CreatedToken, DomainError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::validation("name", "must not be empty"));
    }
    if name.chars().count() > 100 {
        return Err(DomainError::validation(
            "name",
            "must be at most 100 characters",
        ));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));

    let txn = begin_write(db).await?;
    let token = api_token::ActiveModel {
        name: Set(name.to_owned()),
        role: Set(role),
        token_hash: Set(hash_token(&secret)),
        created_by: Set(Some(actor.name.clone())),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record_and_commit(
        txn,
        actor,
        "createToken",
        "api_token",
        Some(token.id.to_string()),
        json!({ "name": name, "role": role.as_str() }),
    )
    .await?;
    Ok(CreatedToken {
        id: token.id,
        name: token.name,
        role,
        secret,
    })
}

/// Tokens found valid lately, by hash, so that a request does not look its token up
/// every time. Revoking a token in this process forgets them all at once; a revocation by
/// another process (the command line) is seen within the cache's lifetime.
pub struct VerifiedTokens(Expiring<String, StaffIdentity>);

impl VerifiedTokens {
    pub fn new(lifetime: std::time::Duration) -> Self {
        VerifiedTokens(Expiring::new(&read_cache::TOKENS, lifetime))
    }
}

/// Finds the identity behind a presented token; `None` for an unknown or revoked one.
pub async fn authenticate(
    db: &DatabaseConnection,
    verified: &VerifiedTokens,
    presented: &str,
) -> Result<Option<StaffIdentity>, DomainError> {
    if !presented.starts_with(TOKEN_PREFIX) || presented.len() > 200 {
        return Ok(None);
    }
    let hash = hash_token(presented);
    let ticket = match verified.0.fresh(&hash, std::time::Instant::now()) {
        Ok(identity) => return Ok(Some(identity)),
        Err(ticket) => ticket,
    };
    let Some(token) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash.as_str()))
        .filter(api_token::Column::RevokedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    // Recording every use would make each request a write; once a minute is enough to
    // tell a live token from a forgotten one.
    let now = Utc::now();
    if token
        .last_used_at
        .is_none_or(|at| now - at > Duration::minutes(1))
    {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
            .filter(api_token::Column::Id.eq(token.id))
            .exec(db)
            .await?;
    }
    let identity = StaffIdentity {
        token_id: token.id,
        name: token.name,
        role: token.role,
    };
    verified.0.keep(hash, identity.clone(), ticket);
    Ok(Some(identity))
}

pub async fn revoke_token(
    db: &DatabaseConnection,
    token_id: i64,
    actor: &Actor,
) -> Result<api_token::Model, DomainError> {
    let txn = begin_write(db).await?;
    let token = api_token::Entity::find_by_id(token_id)
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::not_found("token", token_id))?;
    if token.revoked_at.is_some() {
        return Err(DomainError::conflict(
            Some("id"),
            "this token is already revoked",
        ));
    }
    let mut active: api_token::ActiveModel = token.into();
    active.revoked_at = Set(Some(Utc::now()));
    let token = active.update(&txn).await?;
    audit::record_and_commit(
        txn,
        actor,
        "revokeToken",
        "api_token",
        Some(token.id.to_string()),
        json!({ "revoked": true }),
    )
    .await?;
    Ok(token)
}
