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
pub mod pledges;
pub mod privacy;
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

use async_graphql::{EmptySubscription, MergedObject, Schema};
use sea_orm::DatabaseConnection;

use crate::config::Config;
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
    let builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(db)
        .data(config)
        .data(processor)
        .limit_depth(MAX_DEPTH)
        .extension(budget::RequestBudget)
        .extension(error_codes::EveryErrorHasACode);
    if introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}
