//! Stripe events as the service received them, and how each ended: staff see what did
//! not apply (`stripeEvents`) and admins mend it once its cause is fixed
//! (`reprocessStripeEvent`).

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::stripe_event;

use super::access::requires_role;
use super::context::{actor, config, db, parse_id, processor};
use super::errors::{GqlResultExt, bad_input};
use super::paging::{DEFAULT_PAGE_SIZE, Page, PageArgs, counted_page};
use super::tokens::Role;
use crate::domain::books;
use crate::domain::payments::{self, StripeEventFilter as DomainFilter};

/// How the processing of a Stripe event ended.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::StripeEventStatus")]
pub enum StripeEventOutcome {
    /// Its effects were recorded.
    Applied,
    /// What it says had been recorded before, by another event.
    Duplicate,
    /// It names a payment or subscription not recorded yet, and is applied when that
    /// arrives.
    Waiting,
    /// A type of event the service does not use.
    Ignored,
    /// It could not be recorded; the reason says why.
    Failed,
}

/// One event Stripe sent.
pub struct StripeEvent(stripe_event::Model);

#[Object]
impl StripeEvent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Stripe's id for the event (`evt_…`).
    async fn stripe_event_id(&self) -> &str {
        &self.0.event_id
    }

    /// Stripe's type, such as `invoice.paid`.
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    /// How its processing ended.
    async fn outcome(&self) -> StripeEventOutcome {
        self.0.status.into()
    }

    /// Why it failed, or what it waits for.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// What processing did, in words.
    async fn summary(&self) -> &str {
        &self.0.outcome
    }

    /// The Stripe id a waiting event waits for (payment intent, charge or subscription).
    async fn waiting_for(&self) -> Option<&str> {
        self.0.waiting_for.as_deref()
    }

    /// Whether it came from Stripe's live mode.
    async fn livemode(&self) -> bool {
        self.0.livemode
    }

    /// When Stripe created it.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.stripe_created_at
    }

    /// When the service last processed it.
    async fn processed_at(&self) -> DateTime<Utc> {
        self.0.processed_at
    }
}

/// Which Stripe events to list.
#[derive(InputObject, Default)]
pub struct StripeEventFilter {
    /// Only events that ended this way.
    pub outcome: Option<StripeEventOutcome>,
    /// Only events of this Stripe type, such as `charge.refunded`.
    #[graphql(name = "type")]
    pub event_type: Option<String>,
    /// Only events Stripe created at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only events Stripe created before this time.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct StripeEventQuery;

#[Object]
impl StripeEventQuery {
    /// One Stripe event the service received, by its id in this service; `NOT_FOUND`
    /// when there is none. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn stripe_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event's id in this service.")] id: ID,
    ) -> Result<StripeEvent> {
        let id = parse_id("id", &id)?;
        crate::domain::find_by_id::<stripe_event::Entity>(db(ctx)?, "Stripe event", id)
            .await
            .gql()
            .map(StripeEvent)
    }

    /// Stripe events the service received, newest first, a page at a time. Role: staff.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn stripe_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events.")] filter: Option<StripeEventFilter>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "The first n items (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The last n items (at most 100).")] last: Option<i32>,
    ) -> Result<Page<StripeEvent>> {
        let order = payments::newest_stripe_events();
        let request = PageArgs::new(after, before, first, last).keyed(order.name)?;
        let filter = filter.unwrap_or_default();
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from > to
        {
            return Err(bad_input("filter.to", "must not be before filter.from"));
        }
        let filter = DomainFilter {
            status: filter.outcome.map(Into::into),
            event_type: filter.event_type,
            from: filter.from,
            to: filter.to,
        };
        let rows =
            payments::page_stripe_events(db(ctx)?, &filter, &request, DEFAULT_PAGE_SIZE as u64)
                .await
                .gql()?;
        Ok(counted_page(&order, rows, StripeEvent))
    }
}

/// What `reprocessStripeEvent` did.
#[derive(SimpleObject)]
pub struct ReprocessedStripeEvent {
    /// The event as it stands now.
    pub event: StripeEvent,
    /// Whether processing ran now; false when the event had already ended (applied,
    /// duplicate or ignored), which reprocessing never changes.
    pub processed: bool,
}

/// The Stripe event to process again.
#[derive(InputObject)]
pub struct ReprocessStripeEventInput {
    /// The event's id in this service.
    pub id: ID,
}

#[derive(Default)]
pub struct StripeEventMutation;

#[Object]
impl StripeEventMutation {
    /// Processes a stored Stripe event again, as a redelivery would: a waiting or failed
    /// event is tried again (after its cause is mended); an event that has ended is
    /// left as it is. Role: admin.
    #[graphql(directive = requires_role::apply(Role::Admin))]
    async fn reprocess_stripe_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The Stripe event to process again.")] input: ReprocessStripeEventInput,
    ) -> Result<ReprocessedStripeEvent> {
        let ReprocessStripeEventInput { id } = input;
        let id = parse_id("id", &id)?;
        let (after, processed) =
            books::reprocess_event(db(ctx)?, processor(ctx)?, config(ctx)?, &actor(ctx)?, id)
                .await
                .gql()?;
        Ok(ReprocessedStripeEvent {
            event: StripeEvent(after),
            processed,
        })
    }
}
