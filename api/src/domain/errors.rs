//! One error type for the whole domain: it is also the API contract, since the
//! GraphQL layer turns each variant into an error code clients can match on.

use std::ops::Deref;

use sea_orm::sqlx::error::ErrorKind;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{entity} {id} was not found")]
    NotFound { entity: &'static str, id: String },
    /// Input that can never succeed as given; `field` names the input field.
    #[error("{field}: {reason}")]
    Validation { field: String, reason: String },
    /// A rule about existing data stands in the way (a duplicate, a state that forbids it).
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
        /// The id of the record already holding the value, when telling it helps
        /// (the donor who has the email).
        existing_id: Option<i64>,
    },
    /// The payment processor refused or could not be reached.
    #[error("payment processor: {0}")]
    Payment(String),
    /// Anything else. Its cause is logged, never shown.
    #[error("internal error")]
    Unexpected(#[source] anyhow::Error),
}

impl DomainError {
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        DomainError::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        DomainError::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn conflict(field: Option<&str>, message: impl Into<String>) -> Self {
        DomainError::Conflict {
            field: field.map(str::to_owned),
            message: message.into(),
            existing_id: None,
        }
    }

    /// A conflict with a record that already exists, whose id the caller is told.
    pub fn conflict_with(field: &str, message: impl Into<String>, existing_id: i64) -> Self {
        DomainError::Conflict {
            field: Some(field.to_owned()),
            message: message.into(),
            existing_id: Some(existing_id),
        }
    }
}

/// Database constraints that input can break, by name, with the field to blame and what
/// to say. Code checks first and gives better messages; these cover races and anything
/// missed. PostgreSQL names the constraint; SQLite names a unique index on columns by
/// its columns (`table.column, table.column`), so both spellings are listed.
const CONSTRAINTS: &[(&[&str], &str, &str)] = &[
    (
        &["ux_receipts_valid_gift", "receipts.gift_id"],
        "giftId",
        "this gift already has a valid receipt",
    ),
    (
        &[
            "ux_receipts_valid_statement",
            "receipts.donor_id, receipts.tax_year",
        ],
        "year",
        "this donor already has a valid statement for the year",
    ),
    (
        &["ux_donors_email_ci", "donors.email", "donors_email_key"],
        "email",
        "a donor with this email already exists",
    ),
    (
        &["ux_donors_external_id", "donors.external_id"],
        "externalId",
        "another donor already has this external id",
    ),
    (
        &["ux_gifts_external_id", "gifts.external_id"],
        "externalId",
        "another gift already has this external id",
    ),
    (
        &["donors.stripe_customer_id", "donors_stripe_customer_id_key"],
        "stripeCustomerId",
        "another donor already has this Stripe customer",
    ),
    (
        &["funds.name", "funds_name_key"],
        "name",
        "a fund with this name already exists",
    ),
    (
        &["funds.code", "funds_code_key"],
        "code",
        "a fund with this code already exists",
    ),
    (
        &["campaigns.name", "campaigns_name_key"],
        "name",
        "a campaign with this name already exists",
    ),
    (
        &["appeals.source_code", "appeals_source_code_key"],
        "sourceCode",
        "an appeal with this source code already exists",
    ),
    (
        &["giving_tiers.name", "giving_tiers_name_key"],
        "name",
        "a tier with this name already exists",
    ),
    (
        &["giving_tiers.is_circle", "uq_giving_tiers_one_circle"],
        "isCircle",
        "another tier is already the Circle",
    ),
    (
        &["segments.name", "segments_name_key"],
        "name",
        "a segment with this name already exists",
    ),
    (
        &["gifts.idempotency_key", "gifts_idempotency_key_key"],
        "idempotencyKey",
        "a gift with this idempotency key already exists",
    ),
    (
        &[
            "refund_requests.idempotency_key",
            "refund_requests_idempotency_key_key",
        ],
        "idempotencyKey",
        "a refund with this idempotency key was already asked for",
    ),
    (
        &[
            "pledge_change_requests.idempotency_key",
            "pledge_change_requests_idempotency_key_key",
        ],
        "idempotencyKey",
        "a pledge change with this idempotency key was already made",
    ),
    (
        &[
            "gifts.stripe_payment_intent_id",
            "gifts_stripe_payment_intent_id_key",
            "gifts.stripe_invoice_id",
            "gifts_stripe_invoice_id_key",
            "gifts.stripe_checkout_session_id",
            "gifts_stripe_checkout_session_id_key",
            "gifts.stripe_charge_id",
            "gifts_stripe_charge_id_key",
        ],
        "stripe",
        "a gift for this payment is already recorded",
    ),
    (
        &[
            "pledges.stripe_subscription_id",
            "pledges_stripe_subscription_id_key",
        ],
        "stripeSubscriptionId",
        "a pledge for this subscription already exists",
    ),
    (
        &[
            "ck_gifts_amount",
            "ck_pledges_installment",
            "ck_campaigns_goal",
            "ck_giving_tiers_threshold",
        ],
        "amount",
        "must be greater than zero and at most 100,000,000.00",
    ),
    (
        &["ck_gifts_refunded"],
        "amount",
        "cannot refund more than the gift",
    ),
    (
        &["ck_gifts_benefits"],
        "benefitsValue",
        "cannot be more than the gift",
    ),
    (
        &["ck_donors_email_lower_case"],
        "email",
        "must be lower case",
    ),
    (
        &[
            "ck_donors_display_name",
            "ck_funds_name",
            "ck_campaigns_name",
            "ck_giving_tiers_name",
        ],
        "name",
        "must not be empty",
    ),
];

/// The kind of database rule a change broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleKind {
    Unique,
    ForeignKey,
    Check,
}

/// A database rule a change broke, read from the driver's structured error.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BrokenRule {
    kind: RuleKind,
    /// The constraint's name (PostgreSQL), or what SQLite names it by: the columns of a
    /// unique index on columns, the index of one on an expression, a CHECK's name.
    /// Empty when the database does not say (SQLite's foreign keys).
    name: String,
}

fn broken_rule(error: &DbErr) -> Option<BrokenRule> {
    let (DbErr::Exec(RuntimeErr::SqlxError(driver)) | DbErr::Query(RuntimeErr::SqlxError(driver))) =
        error
    else {
        return None;
    };
    let sea_orm::sqlx::Error::Database(driver) = driver.deref() else {
        return None;
    };
    let kind = match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => RuleKind::Unique,
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => RuleKind::ForeignKey,
        _ if matches!(driver.kind(), ErrorKind::CheckViolation) => RuleKind::Check,
        _ => return None,
    };
    let name = match driver.constraint() {
        Some(name) => name.to_owned(),
        None => sqlite_rule_name(driver.message()),
    };
    Some(BrokenRule { kind, name })
}

/// What SQLite's message names the broken rule by: `UNIQUE constraint failed:
/// donors.email`, `UNIQUE constraint failed: index 'ux_donors_email_ci'`, `CHECK
/// constraint failed: ck_gifts_amount`.
fn sqlite_rule_name(message: &str) -> String {
    let named = message
        .split_once("constraint failed: ")
        .map_or("", |(_, name)| name.trim());
    let named = named
        .strip_prefix("index '")
        .and_then(|name| name.strip_suffix('\''))
        .unwrap_or(named);
    named.to_owned()
}

impl From<DbErr> for DomainError {
    fn from(error: DbErr) -> Self {
        let Some(rule) = broken_rule(&error) else {
            return DomainError::Unexpected(anyhow::Error::new(error));
        };
        let known = CONSTRAINTS
            .iter()
            .find(|(names, _, _)| names.contains(&rule.name.as_str()));
        match (rule.kind, known) {
            (RuleKind::Check, Some((_, field, message))) => {
                DomainError::validation(*field, *message)
            }
            (RuleKind::Unique, Some((_, field, message))) => {
                DomainError::conflict(Some(field), *message)
            }
            (RuleKind::ForeignKey, _) => DomainError::conflict(
                None,
                "refers to a record that does not exist or is still in use",
            ),
            (RuleKind::Check | RuleKind::Unique, None) => {
                DomainError::Unexpected(anyhow::Error::new(error))
            }
        }
    }
}

impl From<entity::MoneyError> for DomainError {
    fn from(error: entity::MoneyError) -> Self {
        DomainError::validation("amount", error.to_string())
    }
}

#[cfg(test)]
// A test whose setup fails should stop where it failed.
#[allow(clippy::expect_used, clippy::panic)]
mod tests {
    use chrono::Utc;
    use entity::fund;
    use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};

    use super::*;
    use crate::db::testing::each_backend;

    async fn add_fund(db: &DatabaseConnection, name: &str, code: &str) -> Result<(), DomainError> {
        fund::ActiveModel {
            name: Set(name.to_owned()),
            code: Set(code.to_owned()),
            description: Set(None),
            restricted: Set(false),
            archived_at: Set(None),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await?;
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_fund_with_the_same_name_is_a_conflict_on_the_name() {
        for test_db in each_backend().await {
            add_fund(&test_db.db, "Bail Fund", "BAIL")
                .await
                .expect("the first fund");
            let refused = add_fund(&test_db.db, "Bail Fund", "BAIL-2").await;
            match refused {
                Err(DomainError::Conflict { field, message, .. }) => {
                    assert_eq!(field.as_deref(), Some("name"));
                    assert_eq!(message, "a fund with this name already exists");
                }
                other => panic!("expected a conflict on the name, got {other:?}"),
            }
            test_db.close().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fund_with_an_empty_name_is_refused_on_the_name() {
        for test_db in each_backend().await {
            let refused = add_fund(&test_db.db, "", "EMPTY").await;
            match refused {
                Err(DomainError::Validation { field, reason }) => {
                    assert_eq!(field, "name");
                    assert_eq!(reason, "must not be empty");
                }
                other => panic!("expected a validation error on the name, got {other:?}"),
            }
            test_db.close().await;
        }
    }

    #[test]
    fn sqlite_names_a_rule_by_its_columns_its_index_or_its_check() {
        assert_eq!(
            sqlite_rule_name("UNIQUE constraint failed: receipts.donor_id, receipts.tax_year"),
            "receipts.donor_id, receipts.tax_year"
        );
        assert_eq!(
            sqlite_rule_name("UNIQUE constraint failed: index 'ux_donors_email_ci'"),
            "ux_donors_email_ci"
        );
        assert_eq!(
            sqlite_rule_name("CHECK constraint failed: ck_gifts_amount"),
            "ck_gifts_amount"
        );
        assert_eq!(sqlite_rule_name("FOREIGN KEY constraint failed"), "");
    }
}
