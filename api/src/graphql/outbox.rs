//! The outbox as staff see it: what was sent, what is waiting, what failed and why.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use entity::outbox;

use super::access::requires_role;
use super::context::{actor, db, parse_id};
use super::errors::GqlResultExt;
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, ordered_page};
use super::tokens::Role;
use crate::domain::outbox_messages;

/// Where an email stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::OutboxStatus")]
pub enum OutboxStatus {
    /// Waiting to be sent (or to be retried).
    Pending,
    /// A worker is sending it now.
    Sending,
    /// Accepted by the mail server.
    Sent,
    /// Refused for good (see `lastError`); the address is suppressed for appeals.
    Failed,
    /// Temporary failures went on until the attempts ran out.
    Dead,
}

/// An email in the outbox.
pub struct OutboxMessage(pub outbox::Model);

/// An email in the outbox (staff only, however it is reached). Role: staff.
#[Object(directive = requires_role::apply(Role::Staff))]
impl OutboxMessage {
    /// The message's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What the message is for ("receipt:42"); one message per purpose.
    async fn idempotency_key(&self) -> &str {
        &self.0.idempotency_key
    }

    /// The template ("receipt", "receipt_voided", ...).
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    /// The donor it goes to.
    async fn donor_id(&self) -> Option<ID> {
        self.0.donor_id.map(|id| ID(id.to_string()))
    }

    /// The recipient's address.
    async fn to_address(&self) -> &str {
        &self.0.to_address
    }

    /// Where it stands.
    async fn status(&self) -> OutboxStatus {
        self.0.status.into()
    }

    /// Delivery attempts so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// When it is (next) due.
    async fn next_attempt_at(&self) -> DateTime<Utc> {
        self.0.next_attempt_at
    }

    /// What went wrong last.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// The Message-ID it was sent with.
    async fn message_id(&self) -> Option<&str> {
        self.0.message_id.as_deref()
    }

    /// When the mail server accepted it.
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }

    /// When it was queued.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Which messages to list.
#[derive(InputObject, Default)]
pub struct OutboxFilter {
    /// Only messages in this state.
    pub status: Option<OutboxStatus>,
    /// Only messages to this donor.
    pub donor_id: Option<ID>,
    /// Only this template.
    pub kind: Option<String>,
}

#[derive(Default)]
pub struct OutboxQuery;

#[Object]
impl OutboxQuery {
    /// One email by id; `NOT_FOUND` when there is none (staff). Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn outbox_message(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The message's id.")] id: ID,
    ) -> Result<OutboxMessage> {
        let id = parse_id("id", &id)?;
        crate::domain::find_by_id::<outbox::Entity>(db(ctx)?, "outbox message", id)
            .await
            .gql()
            .map(OutboxMessage)
    }

    /// Emails, newest queued first, a page at a time by key (staff). Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    #[allow(clippy::too_many_arguments)]
    async fn outbox(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which messages to list.")] filter: Option<OutboxFilter>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<OutboxMessage>> {
        let name = outbox_messages::newest_messages().name;
        let request = PageArgs::new(after, before, first, last).keyed(name)?;
        let filter = filter.unwrap_or_default();
        let filter = outbox_messages::MessageFilter {
            status: filter.status.map(Into::into),
            donor_id: filter
                .donor_id
                .as_ref()
                .map(|id| parse_id("filter.donorId", id))
                .transpose()?,
            kind: filter.kind,
        };
        let db = db(ctx)?;
        let total = outbox_messages::count_messages(db, &filter).await.gql()?;
        let rows = outbox_messages::page_messages(db, &filter, &request, DEFAULT_PAGE_SIZE as u64)
            .await
            .gql()?;
        Ok(ordered_page(
            &outbox_messages::newest_messages(),
            rows,
            total,
            OutboxMessage,
        ))
    }
}

/// The failed message to queue again.
#[derive(InputObject)]
pub struct RetryMessageInput {
    /// The message's id.
    pub id: ID,
}

#[derive(Default)]
pub struct OutboxMutation;

#[Object]
impl OutboxMutation {
    /// Puts a failed or dead message back in the queue, due now, with its attempts
    /// reset (staff). Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn retry_message(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The failed message to queue again.")] input: RetryMessageInput,
    ) -> Result<OutboxMessage> {
        let RetryMessageInput { id } = input;
        let id = parse_id("id", &id)?;
        let after = outbox_messages::retry_message(db(ctx)?, &actor(ctx)?, id)
            .await
            .gql()?;
        Ok(OutboxMessage(after))
    }
}
