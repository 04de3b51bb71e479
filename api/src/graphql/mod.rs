//! The staff GraphQL API. Each concept has its own module with its query and mutation
//! parts; `Query` and `Mutation` merge them. Resolvers translate: they parse input into
//! domain types, call a domain service, and map the result back.

pub mod access;
pub mod audit;
pub mod budget;
pub mod campaigns;
pub mod checkout_choices;
pub mod club;
pub mod context;
pub mod date;
pub mod donors;
pub mod duplicates;
pub mod error_codes;
pub mod errors;
pub mod exports;
pub mod funds;
pub mod gifts;
pub mod guards;
pub mod imports;
pub mod loaders;
pub mod money;
pub mod outbox;
pub mod paging;
pub mod parsed;
pub mod pledges;
pub mod privacy;
pub mod projection;
pub mod receipts;
pub mod reconciliation;
pub mod schema_file;
pub mod segments;
pub mod shape;
pub mod stripe_events;
pub mod tiers;
pub mod token_budget;
pub mod tokens;
pub mod translations;

use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Request, Response, Schema};
use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::domain::tokens::StaffIdentity;
use crate::server::Processor;

/// Everything staff can read.
#[derive(MergedObject, Default)]
pub struct Query(
    tokens::TokenQuery,
    funds::FundQuery,
    donors::DonorQuery,
    gifts::GiftQuery,
    pledges::PledgeQuery,
    tiers::TierQuery,
    audit::AuditQuery,
    receipts::ReceiptQuery,
    outbox::OutboxQuery,
    campaigns::CampaignQuery,
    campaigns::AppealQuery,
    campaigns::AppealResultsQuery,
    campaigns::AppealSendQuery,
    segments::SegmentQuery,
    club::ClubQuery,
    reconciliation::ReconciliationQuery,
    stripe_events::StripeEventQuery,
    checkout_choices::CheckoutChoicesQuery,
    duplicates::DuplicateQuery,
    privacy::PrivacyQuery,
);

/// Everything staff can change. Every mutation is recorded in the audit log.
#[derive(MergedObject, Default)]
pub struct Mutation(
    tokens::TokenMutation,
    donors::DonorMutation,
    gifts::GiftMutation,
    pledges::PledgeMutation,
    funds::FundMutation,
    tiers::TierMutation,
    receipts::ReceiptMutation,
    outbox::OutboxMutation,
    campaigns::CampaignMutation,
    campaigns::AppealMutation,
    campaigns::AppealSendMutation,
    segments::SegmentMutation,
    club::ClubMutation,
    reconciliation::ReconciliationMutation,
    stripe_events::StripeEventMutation,
    checkout_choices::CheckoutChoicesMutation,
    exports::ExportMutation,
    imports::ImportMutation,
    duplicates::DuplicateMutation,
    privacy::PrivacyMutation,
);

pub type StaffSchema = Schema<Query, Mutation, EmptySubscription>;

/// How deeply a query may nest; its cost is checked by `budget`.
pub const MAX_DEPTH: usize = 12;

pub fn build_schema(
    db: DatabaseConnection,
    config: Arc<Config>,
    processor: Processor,
) -> StaffSchema {
    let introspection = config.graphql_introspection;
    let kept_totals = crate::domain::club::KeptTotals::new(config.read_cache_lifetime);
    let builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(db)
        .data(kept_totals)
        .data(config)
        .data(processor)
        .limit_depth(MAX_DEPTH)
        .limit_recursive_depth(budget::MAX_NESTING);
    if introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// Runs one staff request: the budget's checks first, then the engine, then what every
/// answer gets on its way out (a code on each error, no data beside a `FORBIDDEN`).
pub async fn execute(
    schema: &StaffSchema,
    budget: &budget::RequestBudget,
    mut request: Request,
    identity: StaffIdentity,
    loaders: loaders::Loaders,
) -> Response {
    if let Err(refusal) = budget.admit(&mut request, identity.role) {
        return Response::from_errors(vec![refusal]);
    }
    let mut response = schema.execute(request.data(identity).data(loaders)).await;
    budget::drop_data_beside_forbidden(&mut response);
    error_codes::give_every_error_a_code(&mut response);
    response
}
