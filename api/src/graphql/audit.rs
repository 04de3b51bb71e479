//! The audit log: every change staff made, with who and when (admins only).

use async_graphql::{Context, ID, InputObject, Json, Object, Result};
use chrono::{DateTime, Utc};
use entity::audit_log;

use super::access::requires_role;
use super::context::db;
use super::errors::GqlResultExt;
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, counted_page};
use super::tokens::Role;
use crate::domain::audit::{self, AuditFilter as SearchFilter};

/// One change: who made it, what it changed, and when.
pub struct AuditEntry(pub audit_log::Model);

/// One change: who made it, what it changed, and when (admins only). Role: admin.
#[Object(directive = requires_role::apply(Role::Admin))]
impl AuditEntry {
    /// The entry's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// When the change was made.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }

    /// The token's name, or "cli" / "system".
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    /// The mutation or command ("recordOfflineGift").
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// The kind of record changed ("gift", "donor").
    async fn entity(&self) -> &str {
        &self.0.entity
    }

    /// The id of the record changed.
    async fn entity_id(&self) -> Option<&str> {
        self.0.entity_id.as_deref()
    }

    /// The changed fields: `{ field: { from, to } }`, or the new record's values.
    async fn changes(&self) -> Json<serde_json::Value> {
        Json(self.0.changes.clone())
    }
}

/// Which entries to list. Parts combine with AND.
#[derive(InputObject, Default)]
pub struct AuditFilter {
    /// Made by this token name.
    pub actor: Option<String>,
    /// This mutation or command.
    pub action: Option<String>,
    /// To this kind of record.
    pub entity: Option<String>,
    /// To the record with this id.
    pub entity_id: Option<String>,
    /// At or after this moment.
    pub from: Option<DateTime<Utc>>,
    /// Before this moment.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit log, newest first (admins only). Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which entries.")] filter: Option<AuditFilter>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<AuditEntry>> {
        let order = audit::newest_entries();
        let request = PageArgs::new(after, before, first, last).keyed(order.name)?;
        let filter = filter.unwrap_or_default();
        let filter = SearchFilter {
            actor: filter.actor,
            action: filter.action,
            entity: filter.entity,
            entity_id: filter.entity_id,
            from: filter.from,
            to: filter.to,
        };
        let rows = audit::page_entries(db(ctx)?, &filter, &request, DEFAULT_PAGE_SIZE as u64)
            .await
            .gql()?;
        Ok(counted_page(&order, rows, AuditEntry))
    }
}
