use sea_orm_migration::{prelude::*, schema::*};

/// The largest amount in minor units a row may hold (100,000,000.00).
const MAX_AMOUNT_MINOR: i64 = 10_000_000_000;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Donors {
    Table,
    Id,
    Kind,
    DisplayName,
    FirstName,
    LastName,
    Email,
    Phone,
    AddressLine1,
    AddressLine2,
    City,
    Region,
    PostalCode,
    Country,
    Language,
    EmailConsent,
    Anonymous,
    SearchText,
    StripeCustomerId,
    AppealsUnsubscribedAt,
    EmailSuppressedAt,
    EmailSuppressedReason,
    Notes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Funds {
    Table,
    Id,
    Name,
    Code,
    Description,
    Restricted,
    ArchivedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Campaigns {
    Table,
    Id,
    Name,
    Description,
    GoalMinor,
    Currency,
    StartsOn,
    EndsOn,
    DefaultFundId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Segments {
    Table,
    Id,
    Name,
    Description,
    Rule,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Appeals {
    Table,
    Id,
    CampaignId,
    Name,
    Channel,
    SourceCode,
    SegmentId,
    Subject,
    Message,
    AskRule,
    CostMinor,
    Currency,
    ScheduledAt,
    SentAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Pledges {
    Table,
    Id,
    DonorId,
    Source,
    InstallmentMinor,
    Currency,
    Frequency,
    StartsOn,
    EndsOn,
    InstallmentsTotal,
    Status,
    FundId,
    AppealId,
    CampaignId,
    StripeSubscriptionId,
    PastDueSince,
    PausedAt,
    CancelledAt,
    CancelReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Gifts {
    Table,
    Id,
    DonorId,
    AmountMinor,
    Currency,
    RefundedMinor,
    Method,
    Status,
    FundId,
    CampaignId,
    AppealId,
    PledgeId,
    ReceivedAt,
    CheckNumber,
    TributeKind,
    TributeName,
    TributeNotifyName,
    TributeNotifyEmail,
    TributeNotifyAddress,
    BenefitsMinor,
    BenefitsDescription,
    Anonymous,
    StripePaymentIntentId,
    StripeInvoiceId,
    StripeCheckoutSessionId,
    StripeChargeId,
    IdempotencyKey,
    Notes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum GivingTiers {
    Table,
    Id,
    Name,
    ThresholdMinor,
    Currency,
    Benefits,
    BenefitsValueMinor,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TierMemberships {
    Table,
    Id,
    DonorId,
    TierId,
    JoinedAt,
    JoinReason,
    AnnualPledgeTotalMinor,
    LeftAt,
    LeaveReason,
    Cause,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ReceiptCounters {
    Table,
    TaxYear,
    LastSequence,
}

#[derive(DeriveIden, Clone, Copy)]
enum Receipts {
    Table,
    Id,
    Number,
    TaxYear,
    Sequence,
    Kind,
    Status,
    DonorId,
    GiftId,
    ReplacesReceiptId,
    Language,
    DonorName,
    DonorAddress,
    AmountMinor,
    DeductibleMinor,
    Currency,
    ContentText,
    ContentHtml,
    ContentPdf,
    IssuedAt,
    VoidedAt,
    VoidReason,
}

#[derive(DeriveIden, Clone, Copy)]
enum Outbox {
    Table,
    Id,
    IdempotencyKey,
    Kind,
    DonorId,
    ToAddress,
    ToName,
    Language,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseExpiresAt,
    LeasedBy,
    LastError,
    MessageId,
    SentAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum StripeEvents {
    Table,
    Id,
    EventId,
    EventType,
    Livemode,
    StripeCreatedAt,
    Payload,
    Outcome,
    ProcessedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Role,
    TokenHash,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditLog {
    Table,
    Id,
    OccurredAt,
    Actor,
    ActorTokenId,
    Action,
    Entity,
    EntityId,
    Changes,
}

const LANGUAGES: [&str; 4] = ["en", "es", "fr", "ar"];
const CURRENCIES: [&str; 5] = ["USD", "CAD", "MXN", "EUR", "GBP"];

/// `column IN (values)`, named so that a violation names the rule it broke.
fn one_of<C: IntoIden + Copy + 'static>(name: &str, column: C, values: &[&str]) -> Check {
    Check::named(
        name.to_owned(),
        Expr::col(column).is_in(values.iter().map(|v| (*v).to_owned())),
    )
}

/// A positive amount no larger than [`MAX_AMOUNT_MINOR`].
fn positive_amount<C: IntoIden + Copy + 'static>(name: &str, column: C) -> Check {
    Check::named(
        name.to_owned(),
        Expr::col(column)
            .gt(0)
            .and(Expr::col(column).lte(MAX_AMOUNT_MINOR)),
    )
}

fn non_empty<C: IntoIden + Copy + 'static>(name: &str, column: C) -> Check {
    Check::named(
        name.to_owned(),
        Expr::expr(Func::cust("length").arg(Func::cust("trim").arg(Expr::col(column)))).gt(0),
    )
}

fn foreign_key<T, C, R, K>(
    name: &str,
    from_table: T,
    from: C,
    to_table: R,
    to: K,
) -> ForeignKeyCreateStatement
where
    T: IntoIden + 'static,
    C: IntoIden + 'static,
    R: IntoIden + 'static,
    K: IntoIden + 'static,
{
    ForeignKey::create()
        .name(name)
        .from(from_table, from)
        .to(to_table, to)
        .on_delete(ForeignKeyAction::Restrict)
        .take()
}

fn index<T: IntoIden + 'static>(
    name: &str,
    table: T,
    columns: &[&'static str],
) -> IndexCreateStatement {
    let mut statement = Index::create().name(name).table(table).take();
    for column in columns {
        statement.col(Alias::new(*column));
    }
    statement
}

/// Creates a table with its CHECK values written into the SQL: SQLite refuses bound
/// parameters inside CHECK constraints, and DDL gains nothing from them anyway.
async fn create_table(
    manager: &SchemaManager<'_>,
    statement: TableCreateStatement,
) -> Result<(), DbErr> {
    let sql = match manager.get_database_backend() {
        sea_orm::DbBackend::Sqlite => statement.to_string(SqliteQueryBuilder),
        sea_orm::DbBackend::Postgres => statement.to_string(PostgresQueryBuilder),
        other => {
            return Err(DbErr::Custom(format!(
                "unsupported database backend {other:?}"
            )));
        }
    };
    manager.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            manager,
            Table::create()
                .table(Donors::Table)
                .col(big_pk_auto(Donors::Id))
                .col(string_len(Donors::Kind, 32).default("individual"))
                .col(string_len(Donors::DisplayName, 200))
                .col(string_len_null(Donors::FirstName, 100))
                .col(string_len_null(Donors::LastName, 100))
                .col(string_len_null(Donors::Email, 254))
                .col(string_len_null(Donors::Phone, 40))
                .col(string_len_null(Donors::AddressLine1, 200))
                .col(string_len_null(Donors::AddressLine2, 200))
                .col(string_len_null(Donors::City, 100))
                .col(string_len_null(Donors::Region, 100))
                .col(string_len_null(Donors::PostalCode, 20))
                .col(string_len_null(Donors::Country, 2))
                .col(string_len(Donors::Language, 8).default("en"))
                .col(boolean(Donors::EmailConsent).default(false))
                .col(boolean(Donors::Anonymous).default(false))
                .col(text(Donors::SearchText).default(""))
                .col(string_len_null(Donors::StripeCustomerId, 255).unique_key())
                .col(timestamp_with_time_zone_null(Donors::AppealsUnsubscribedAt))
                .col(timestamp_with_time_zone_null(Donors::EmailSuppressedAt))
                .col(text_null(Donors::EmailSuppressedReason))
                .col(text_null(Donors::Notes))
                .col(timestamp_with_time_zone(Donors::CreatedAt))
                .col(timestamp_with_time_zone(Donors::UpdatedAt))
                .check(one_of(
                    "ck_donors_kind",
                    Donors::Kind,
                    &["individual", "organization"],
                ))
                .check(one_of("ck_donors_language", Donors::Language, &LANGUAGES))
                .check(non_empty("ck_donors_display_name", Donors::DisplayName))
                .check(Check::named(
                    "ck_donors_email_lower_case",
                    Expr::col(Donors::Email).eq(Func::lower(Expr::col(Donors::Email))),
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(Funds::Table)
                .col(big_pk_auto(Funds::Id))
                .col(string_len_uniq(Funds::Name, 200))
                .col(string_len_uniq(Funds::Code, 64))
                .col(text_null(Funds::Description))
                .col(boolean(Funds::Restricted).default(false))
                .col(timestamp_with_time_zone_null(Funds::ArchivedAt))
                .col(timestamp_with_time_zone(Funds::CreatedAt))
                .col(timestamp_with_time_zone(Funds::UpdatedAt))
                .check(non_empty("ck_funds_name", Funds::Name))
                .check(non_empty("ck_funds_code", Funds::Code))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(Campaigns::Table)
                .col(big_pk_auto(Campaigns::Id))
                .col(string_len_uniq(Campaigns::Name, 200))
                .col(text_null(Campaigns::Description))
                .col(big_integer(Campaigns::GoalMinor))
                .col(string_len(Campaigns::Currency, 3).default("USD"))
                .col(date(Campaigns::StartsOn))
                .col(date_null(Campaigns::EndsOn))
                .col(big_integer(Campaigns::DefaultFundId))
                .col(timestamp_with_time_zone(Campaigns::CreatedAt))
                .col(timestamp_with_time_zone(Campaigns::UpdatedAt))
                .check(positive_amount("ck_campaigns_goal", Campaigns::GoalMinor))
                .check(one_of(
                    "ck_campaigns_currency",
                    Campaigns::Currency,
                    &CURRENCIES,
                ))
                .check(non_empty("ck_campaigns_name", Campaigns::Name))
                .check(Check::named(
                    "ck_campaigns_dates",
                    Expr::col(Campaigns::EndsOn)
                        .is_null()
                        .or(Expr::col(Campaigns::EndsOn).gte(Expr::col(Campaigns::StartsOn))),
                ))
                .foreign_key(&mut foreign_key(
                    "fk_campaigns_default_fund",
                    Campaigns::Table,
                    Campaigns::DefaultFundId,
                    Funds::Table,
                    Funds::Id,
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(Segments::Table)
                .col(big_pk_auto(Segments::Id))
                .col(string_len_uniq(Segments::Name, 200))
                .col(text_null(Segments::Description))
                .col(json_binary(Segments::Rule))
                .col(timestamp_with_time_zone(Segments::CreatedAt))
                .col(timestamp_with_time_zone(Segments::UpdatedAt))
                .check(non_empty("ck_segments_name", Segments::Name))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(Appeals::Table)
                .col(big_pk_auto(Appeals::Id))
                .col(big_integer(Appeals::CampaignId))
                .col(string_len(Appeals::Name, 200))
                .col(string_len(Appeals::Channel, 32))
                .col(string_len_uniq(Appeals::SourceCode, 64))
                .col(big_integer_null(Appeals::SegmentId))
                .col(text_null(Appeals::Subject))
                .col(text_null(Appeals::Message))
                .col(json_binary_null(Appeals::AskRule))
                .col(big_integer_null(Appeals::CostMinor))
                .col(string_len(Appeals::Currency, 3).default("USD"))
                .col(timestamp_with_time_zone_null(Appeals::ScheduledAt))
                .col(timestamp_with_time_zone_null(Appeals::SentAt))
                .col(timestamp_with_time_zone(Appeals::CreatedAt))
                .col(timestamp_with_time_zone(Appeals::UpdatedAt))
                .check(one_of(
                    "ck_appeals_channel",
                    Appeals::Channel,
                    &["email", "letter", "social", "event", "other"],
                ))
                .check(one_of(
                    "ck_appeals_currency",
                    Appeals::Currency,
                    &CURRENCIES,
                ))
                .check(non_empty("ck_appeals_source_code", Appeals::SourceCode))
                .check(Check::named(
                    "ck_appeals_source_code_upper_case",
                    Expr::col(Appeals::SourceCode).eq(Func::upper(Expr::col(Appeals::SourceCode))),
                ))
                .check(Check::named(
                    "ck_appeals_cost",
                    Expr::col(Appeals::CostMinor)
                        .is_null()
                        .or(Expr::col(Appeals::CostMinor).gte(0)),
                ))
                .foreign_key(&mut foreign_key(
                    "fk_appeals_campaign",
                    Appeals::Table,
                    Appeals::CampaignId,
                    Campaigns::Table,
                    Campaigns::Id,
                ))
                .foreign_key(&mut foreign_key(
                    "fk_appeals_segment",
                    Appeals::Table,
                    Appeals::SegmentId,
                    Segments::Table,
                    Segments::Id,
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(Pledges::Table)
                .col(big_pk_auto(Pledges::Id))
                .col(big_integer(Pledges::DonorId))
                .col(string_len(Pledges::Source, 32))
                .col(big_integer(Pledges::InstallmentMinor))
                .col(string_len(Pledges::Currency, 3).default("USD"))
                .col(string_len(Pledges::Frequency, 32).default("monthly"))
                .col(date(Pledges::StartsOn))
                .col(date_null(Pledges::EndsOn))
                .col(integer_null(Pledges::InstallmentsTotal))
                .col(string_len(Pledges::Status, 32).default("active"))
                .col(big_integer(Pledges::FundId))
                .col(big_integer_null(Pledges::AppealId))
                .col(big_integer_null(Pledges::CampaignId))
                .col(string_len_null(Pledges::StripeSubscriptionId, 255).unique_key())
                .col(timestamp_with_time_zone_null(Pledges::PastDueSince))
                .col(timestamp_with_time_zone_null(Pledges::PausedAt))
                .col(timestamp_with_time_zone_null(Pledges::CancelledAt))
                .col(text_null(Pledges::CancelReason))
                .col(timestamp_with_time_zone(Pledges::CreatedAt))
                .col(timestamp_with_time_zone(Pledges::UpdatedAt))
                .check(positive_amount(
                    "ck_pledges_installment",
                    Pledges::InstallmentMinor,
                ))
                .check(one_of(
                    "ck_pledges_currency",
                    Pledges::Currency,
                    &CURRENCIES,
                ))
                .check(one_of(
                    "ck_pledges_source",
                    Pledges::Source,
                    &["stripe_subscription", "envelope"],
                ))
                .check(one_of(
                    "ck_pledges_frequency",
                    Pledges::Frequency,
                    &["monthly", "quarterly", "yearly"],
                ))
                .check(one_of(
                    "ck_pledges_status",
                    Pledges::Status,
                    &["active", "paused", "past_due", "cancelled", "completed"],
                ))
                .check(Check::named(
                    "ck_pledges_installments_total",
                    Expr::col(Pledges::InstallmentsTotal)
                        .is_null()
                        .or(Expr::col(Pledges::InstallmentsTotal).gt(0)),
                ))
                .check(Check::named(
                    "ck_pledges_dates",
                    Expr::col(Pledges::EndsOn)
                        .is_null()
                        .or(Expr::col(Pledges::EndsOn).gte(Expr::col(Pledges::StartsOn))),
                ))
                .foreign_key(&mut foreign_key(
                    "fk_pledges_donor",
                    Pledges::Table,
                    Pledges::DonorId,
                    Donors::Table,
                    Donors::Id,
                ))
                .foreign_key(&mut foreign_key(
                    "fk_pledges_fund",
                    Pledges::Table,
                    Pledges::FundId,
                    Funds::Table,
                    Funds::Id,
                ))
                .foreign_key(&mut foreign_key(
                    "fk_pledges_appeal",
                    Pledges::Table,
                    Pledges::AppealId,
                    Appeals::Table,
                    Appeals::Id,
                ))
                .foreign_key(&mut foreign_key(
                    "fk_pledges_campaign",
                    Pledges::Table,
                    Pledges::CampaignId,
                    Campaigns::Table,
                    Campaigns::Id,
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(Gifts::Table)
                .col(big_pk_auto(Gifts::Id))
                .col(big_integer(Gifts::DonorId))
                .col(big_integer(Gifts::AmountMinor))
                .col(string_len(Gifts::Currency, 3).default("USD"))
                .col(big_integer(Gifts::RefundedMinor).default(0))
                .col(string_len(Gifts::Method, 32))
                .col(string_len(Gifts::Status, 32))
                .col(big_integer(Gifts::FundId))
                .col(big_integer_null(Gifts::CampaignId))
                .col(big_integer_null(Gifts::AppealId))
                .col(big_integer_null(Gifts::PledgeId))
                .col(timestamp_with_time_zone(Gifts::ReceivedAt))
                .col(string_len_null(Gifts::CheckNumber, 64))
                .col(string_len_null(Gifts::TributeKind, 32))
                .col(string_len_null(Gifts::TributeName, 200))
                .col(string_len_null(Gifts::TributeNotifyName, 200))
                .col(string_len_null(Gifts::TributeNotifyEmail, 254))
                .col(text_null(Gifts::TributeNotifyAddress))
                .col(big_integer(Gifts::BenefitsMinor).default(0))
                .col(text_null(Gifts::BenefitsDescription))
                .col(boolean(Gifts::Anonymous).default(false))
                .col(string_len_null(Gifts::StripePaymentIntentId, 255).unique_key())
                .col(string_len_null(Gifts::StripeInvoiceId, 255).unique_key())
                .col(string_len_null(Gifts::StripeCheckoutSessionId, 255).unique_key())
                .col(string_len_null(Gifts::StripeChargeId, 255).unique_key())
                .col(string_len_null(Gifts::IdempotencyKey, 255).unique_key())
                .col(text_null(Gifts::Notes))
                .col(timestamp_with_time_zone(Gifts::CreatedAt))
                .col(timestamp_with_time_zone(Gifts::UpdatedAt))
                .check(positive_amount("ck_gifts_amount", Gifts::AmountMinor))
                .check(one_of("ck_gifts_currency", Gifts::Currency, &CURRENCIES))
                .check(Check::named(
                    "ck_gifts_refunded",
                    Expr::col(Gifts::RefundedMinor)
                        .gte(0)
                        .and(Expr::col(Gifts::RefundedMinor).lte(Expr::col(Gifts::AmountMinor))),
                ))
                .check(Check::named(
                    "ck_gifts_benefits",
                    Expr::col(Gifts::BenefitsMinor)
                        .gte(0)
                        .and(Expr::col(Gifts::BenefitsMinor).lte(Expr::col(Gifts::AmountMinor))),
                ))
                .check(one_of(
                    "ck_gifts_method",
                    Gifts::Method,
                    &["card", "bank", "check", "cash", "stock", "daf", "wire"],
                ))
                .check(one_of(
                    "ck_gifts_status",
                    Gifts::Status,
                    &[
                        "pending",
                        "succeeded",
                        "failed",
                        "refunded",
                        "partially_refunded",
                        "disputed",
                    ],
                ))
                .check(Check::named(
                    "ck_gifts_tribute_kind",
                    Expr::col(Gifts::TributeKind)
                        .is_null()
                        .or(Expr::col(Gifts::TributeKind).is_in(["in_honor_of", "in_memory_of"])),
                ))
                .foreign_key(&mut foreign_key(
                    "fk_gifts_donor",
                    Gifts::Table,
                    Gifts::DonorId,
                    Donors::Table,
                    Donors::Id,
                ))
                .foreign_key(&mut foreign_key(
                    "fk_gifts_fund",
                    Gifts::Table,
                    Gifts::FundId,
                    Funds::Table,
                    Funds::Id,
                ))
                .foreign_key(&mut foreign_key(
                    "fk_gifts_campaign",
                    Gifts::Table,
                    Gifts::CampaignId,
                    Campaigns::Table,
                    Campaigns::Id,
                ))
                .foreign_key(&mut foreign_key(
                    "fk_gifts_appeal",
                    Gifts::Table,
                    Gifts::AppealId,
                    Appeals::Table,
                    Appeals::Id,
                ))
                .foreign_key(&mut foreign_key(
                    "fk_gifts_pledge",
                    Gifts::Table,
                    Gifts::PledgeId,
                    Pledges::Table,
                    Pledges::Id,
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(GivingTiers::Table)
                .col(big_pk_auto(GivingTiers::Id))
                .col(string_len_uniq(GivingTiers::Name, 100))
                .col(big_integer(GivingTiers::ThresholdMinor))
                .col(string_len(GivingTiers::Currency, 3).default("USD"))
                .col(text_null(GivingTiers::Benefits))
                .col(big_integer(GivingTiers::BenefitsValueMinor).default(0))
                .col(timestamp_with_time_zone(GivingTiers::CreatedAt))
                .col(timestamp_with_time_zone(GivingTiers::UpdatedAt))
                .check(positive_amount(
                    "ck_giving_tiers_threshold",
                    GivingTiers::ThresholdMinor,
                ))
                .check(one_of(
                    "ck_giving_tiers_currency",
                    GivingTiers::Currency,
                    &CURRENCIES,
                ))
                .check(non_empty("ck_giving_tiers_name", GivingTiers::Name))
                .check(Check::named(
                    "ck_giving_tiers_benefits_value",
                    Expr::col(GivingTiers::BenefitsValueMinor).gte(0),
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(TierMemberships::Table)
                .col(big_pk_auto(TierMemberships::Id))
                .col(big_integer(TierMemberships::DonorId))
                .col(big_integer(TierMemberships::TierId))
                .col(timestamp_with_time_zone(TierMemberships::JoinedAt))
                .col(text(TierMemberships::JoinReason))
                .col(big_integer(TierMemberships::AnnualPledgeTotalMinor))
                .col(timestamp_with_time_zone_null(TierMemberships::LeftAt))
                .col(text_null(TierMemberships::LeaveReason))
                .col(text_null(TierMemberships::Cause))
                .col(timestamp_with_time_zone(TierMemberships::CreatedAt))
                .check(Check::named(
                    "ck_tier_memberships_dates",
                    Expr::col(TierMemberships::LeftAt)
                        .is_null()
                        .or(Expr::col(TierMemberships::LeftAt)
                            .gte(Expr::col(TierMemberships::JoinedAt))),
                ))
                .foreign_key(&mut foreign_key(
                    "fk_tier_memberships_donor",
                    TierMemberships::Table,
                    TierMemberships::DonorId,
                    Donors::Table,
                    Donors::Id,
                ))
                .foreign_key(&mut foreign_key(
                    "fk_tier_memberships_tier",
                    TierMemberships::Table,
                    TierMemberships::TierId,
                    GivingTiers::Table,
                    GivingTiers::Id,
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(ReceiptCounters::Table)
                .col(integer(ReceiptCounters::TaxYear).primary_key())
                .col(integer(ReceiptCounters::LastSequence).default(0))
                .check(Check::named(
                    "ck_receipt_counters_sequence",
                    Expr::col(ReceiptCounters::LastSequence).gte(0),
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(Receipts::Table)
                .col(big_pk_auto(Receipts::Id))
                .col(string_len_uniq(Receipts::Number, 32))
                .col(integer(Receipts::TaxYear))
                .col(integer(Receipts::Sequence))
                .col(string_len(Receipts::Kind, 32))
                .col(string_len(Receipts::Status, 32).default("issued"))
                .col(big_integer(Receipts::DonorId))
                .col(big_integer_null(Receipts::GiftId))
                .col(big_integer_null(Receipts::ReplacesReceiptId))
                .col(string_len(Receipts::Language, 8).default("en"))
                .col(string_len(Receipts::DonorName, 200))
                .col(text_null(Receipts::DonorAddress))
                .col(big_integer(Receipts::AmountMinor))
                .col(big_integer(Receipts::DeductibleMinor))
                .col(string_len(Receipts::Currency, 3).default("USD"))
                .col(text(Receipts::ContentText))
                .col(text_null(Receipts::ContentHtml))
                .col(blob_null(Receipts::ContentPdf))
                .col(timestamp_with_time_zone(Receipts::IssuedAt))
                .col(timestamp_with_time_zone_null(Receipts::VoidedAt))
                .col(text_null(Receipts::VoidReason))
                .check(positive_amount("ck_receipts_amount", Receipts::AmountMinor))
                .check(Check::named(
                    "ck_receipts_deductible",
                    Expr::col(Receipts::DeductibleMinor).gte(0).and(
                        Expr::col(Receipts::DeductibleMinor).lte(Expr::col(Receipts::AmountMinor)),
                    ),
                ))
                .check(Check::named(
                    "ck_receipts_sequence",
                    Expr::col(Receipts::Sequence).gt(0),
                ))
                .check(one_of(
                    "ck_receipts_kind",
                    Receipts::Kind,
                    &["gift", "year_end_statement"],
                ))
                .check(one_of(
                    "ck_receipts_status",
                    Receipts::Status,
                    &["issued", "void"],
                ))
                .check(one_of(
                    "ck_receipts_language",
                    Receipts::Language,
                    &LANGUAGES,
                ))
                .check(one_of(
                    "ck_receipts_currency",
                    Receipts::Currency,
                    &CURRENCIES,
                ))
                .check(Check::named(
                    "ck_receipts_gift_kind",
                    Expr::col(Receipts::Kind)
                        .eq("gift")
                        .and(Expr::col(Receipts::GiftId).is_not_null())
                        .or(Expr::col(Receipts::Kind)
                            .eq("year_end_statement")
                            .and(Expr::col(Receipts::GiftId).is_null())),
                ))
                .foreign_key(&mut foreign_key(
                    "fk_receipts_donor",
                    Receipts::Table,
                    Receipts::DonorId,
                    Donors::Table,
                    Donors::Id,
                ))
                .foreign_key(&mut foreign_key(
                    "fk_receipts_gift",
                    Receipts::Table,
                    Receipts::GiftId,
                    Gifts::Table,
                    Gifts::Id,
                ))
                .foreign_key(&mut foreign_key(
                    "fk_receipts_replaces",
                    Receipts::Table,
                    Receipts::ReplacesReceiptId,
                    Receipts::Table,
                    Receipts::Id,
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(Outbox::Table)
                .col(big_pk_auto(Outbox::Id))
                .col(string_len_uniq(Outbox::IdempotencyKey, 255))
                .col(string_len(Outbox::Kind, 64))
                .col(big_integer_null(Outbox::DonorId))
                .col(string_len(Outbox::ToAddress, 254))
                .col(string_len_null(Outbox::ToName, 200))
                .col(string_len(Outbox::Language, 8).default("en"))
                .col(json_binary(Outbox::Payload))
                .col(string_len(Outbox::Status, 32).default("pending"))
                .col(integer(Outbox::Attempts).default(0))
                .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                .col(timestamp_with_time_zone_null(Outbox::LeaseExpiresAt))
                .col(string_len_null(Outbox::LeasedBy, 128))
                .col(text_null(Outbox::LastError))
                .col(string_len_null(Outbox::MessageId, 255))
                .col(timestamp_with_time_zone_null(Outbox::SentAt))
                .col(timestamp_with_time_zone(Outbox::CreatedAt))
                .col(timestamp_with_time_zone(Outbox::UpdatedAt))
                .check(one_of(
                    "ck_outbox_status",
                    Outbox::Status,
                    &["pending", "sending", "sent", "failed", "dead"],
                ))
                .check(one_of("ck_outbox_language", Outbox::Language, &LANGUAGES))
                .check(Check::named(
                    "ck_outbox_attempts",
                    Expr::col(Outbox::Attempts).gte(0),
                ))
                .check(non_empty(
                    "ck_outbox_idempotency_key",
                    Outbox::IdempotencyKey,
                ))
                .check(non_empty("ck_outbox_to_address", Outbox::ToAddress))
                .foreign_key(&mut foreign_key(
                    "fk_outbox_donor",
                    Outbox::Table,
                    Outbox::DonorId,
                    Donors::Table,
                    Donors::Id,
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(StripeEvents::Table)
                .col(big_pk_auto(StripeEvents::Id))
                .col(string_len_uniq(StripeEvents::EventId, 255))
                .col(string_len(StripeEvents::EventType, 128))
                .col(boolean(StripeEvents::Livemode).default(false))
                .col(timestamp_with_time_zone(StripeEvents::StripeCreatedAt))
                .col(json_binary(StripeEvents::Payload))
                .col(text(StripeEvents::Outcome))
                .col(timestamp_with_time_zone(StripeEvents::ProcessedAt))
                .check(non_empty(
                    "ck_stripe_events_event_id",
                    StripeEvents::EventId,
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(ApiTokens::Table)
                .col(big_pk_auto(ApiTokens::Id))
                .col(string_len(ApiTokens::Name, 100))
                .col(string_len(ApiTokens::Role, 32))
                .col(string_len_uniq(ApiTokens::TokenHash, 64))
                .col(string_len_null(ApiTokens::CreatedBy, 100))
                .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                .check(one_of(
                    "ck_api_tokens_role",
                    ApiTokens::Role,
                    &["viewer", "staff", "admin"],
                ))
                .check(non_empty("ck_api_tokens_name", ApiTokens::Name))
                .check(Check::named(
                    "ck_api_tokens_hash_length",
                    Expr::expr(Func::char_length(Expr::col(ApiTokens::TokenHash))).eq(64),
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(AuditLog::Table)
                .col(big_pk_auto(AuditLog::Id))
                .col(timestamp_with_time_zone(AuditLog::OccurredAt))
                .col(string_len(AuditLog::Actor, 100))
                .col(big_integer_null(AuditLog::ActorTokenId))
                .col(string_len(AuditLog::Action, 100))
                .col(string_len(AuditLog::Entity, 64))
                .col(string_len_null(AuditLog::EntityId, 64))
                .col(json_binary(AuditLog::Changes))
                .check(non_empty("ck_audit_log_actor", AuditLog::Actor))
                .check(non_empty("ck_audit_log_action", AuditLog::Action))
                .foreign_key(&mut foreign_key(
                    "fk_audit_log_token",
                    AuditLog::Table,
                    AuditLog::ActorTokenId,
                    ApiTokens::Table,
                    ApiTokens::Id,
                ))
                .to_owned(),
        )
        .await?;

        for statement in [
            index(
                "ix_gifts_donor_received",
                Gifts::Table,
                &["donor_id", "received_at"],
            ),
            index(
                "ix_gifts_fund_received",
                Gifts::Table,
                &["fund_id", "received_at"],
            ),
            index("ix_gifts_received", Gifts::Table, &["received_at"]),
            index("ix_gifts_campaign", Gifts::Table, &["campaign_id"]),
            index("ix_gifts_appeal", Gifts::Table, &["appeal_id"]),
            index("ix_gifts_pledge", Gifts::Table, &["pledge_id"]),
            index("ix_pledges_donor", Pledges::Table, &["donor_id"]),
            index("ix_pledges_status", Pledges::Table, &["status"]),
            index("ix_appeals_campaign", Appeals::Table, &["campaign_id"]),
            index(
                "ix_tier_memberships_donor",
                TierMemberships::Table,
                &["donor_id", "joined_at"],
            ),
            index(
                "ix_tier_memberships_tier",
                TierMemberships::Table,
                &["tier_id"],
            ),
            index(
                "ix_receipts_donor",
                Receipts::Table,
                &["donor_id", "tax_year"],
            ),
            index("ix_receipts_gift", Receipts::Table, &["gift_id"]),
            index(
                "ix_outbox_due",
                Outbox::Table,
                &["status", "next_attempt_at"],
            ),
            index("ix_audit_log_occurred", AuditLog::Table, &["occurred_at"]),
            index(
                "ix_audit_log_entity",
                AuditLog::Table,
                &["entity", "entity_id"],
            ),
        ] {
            manager.create_index(statement).await?;
        }

        // Expression and partial unique indexes: sea-query's builder does not express
        // them, and both databases accept the same SQL.
        let connection = manager.get_connection();
        for sql in [
            // One donor per email, however it is capitalised.
            "CREATE UNIQUE INDEX ux_donors_email_ci ON donors (lower(email))",
            // A receipt number is unique within its tax year.
            "CREATE UNIQUE INDEX ux_receipts_year_sequence ON receipts (tax_year, sequence)",
            // At most one valid receipt per gift, and one valid statement per donor and year.
            "CREATE UNIQUE INDEX ux_receipts_valid_gift ON receipts (gift_id) \
             WHERE kind = 'gift' AND status = 'issued'",
            "CREATE UNIQUE INDEX ux_receipts_valid_statement ON receipts (donor_id, tax_year) \
             WHERE kind = 'year_end_statement' AND status = 'issued'",
            // A donor is in at most one tier at a time.
            "CREATE UNIQUE INDEX ux_tier_memberships_open ON tier_memberships (donor_id) \
             WHERE left_at IS NULL",
        ] {
            connection.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables: [DynIden; 15] = [
            AuditLog::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            StripeEvents::Table.into_iden(),
            Outbox::Table.into_iden(),
            Receipts::Table.into_iden(),
            ReceiptCounters::Table.into_iden(),
            TierMemberships::Table.into_iden(),
            GivingTiers::Table.into_iden(),
            Gifts::Table.into_iden(),
            Pledges::Table.into_iden(),
            Appeals::Table.into_iden(),
            Segments::Table.into_iden(),
            Campaigns::Table.into_iden(),
            Funds::Table.into_iden(),
            Donors::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
