//! One error type for the whole domain: it is also the API contract, since the
//! GraphQL layer turns each variant into an error code clients can match on.

use sea_orm::DbErr;

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
        }
    }
}

/// Database constraints that input can break, with the field to blame and what to say.
/// Code checks first and gives better messages; these cover races and anything missed.
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

impl From<DbErr> for DomainError {
    fn from(error: DbErr) -> Self {
        let text = error.to_string();
        let is_constraint =
            text.contains("constraint") || text.contains("UNIQUE") || text.contains("CHECK");
        if is_constraint {
            for (names, field, message) in CONSTRAINTS {
                if names.iter().any(|name| text.contains(name)) {
                    let field = (*field).to_owned();
                    return if text.contains("CHECK") || text.contains("check constraint") {
                        DomainError::Validation {
                            field,
                            reason: (*message).to_owned(),
                        }
                    } else {
                        DomainError::Conflict {
                            field: Some(field),
                            message: (*message).to_owned(),
                        }
                    };
                }
            }
            if text.contains("FOREIGN KEY") || text.contains("foreign key") {
                return DomainError::conflict(
                    None,
                    "refers to a record that does not exist or is still in use",
                );
            }
        }
        DomainError::Unexpected(anyhow::Error::new(error))
    }
}

impl From<entity::MoneyError> for DomainError {
    fn from(error: entity::MoneyError) -> Self {
        DomainError::validation("amount", error.to_string())
    }
}
