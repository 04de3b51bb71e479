//! The domain services. Each does its work in one database transaction; none knows
//! about GraphQL, Stripe or HTML.

pub mod activity;
pub mod appeal_breakdown;
pub mod appeal_sends;
pub mod audit;
pub mod batch_reads;
pub mod books;
pub mod campaigns;
pub mod checkout_choices;
pub mod club;
pub mod csv_export;
pub mod currency;
pub mod donations;
pub mod donor_aliases;
pub mod donor_merge;
pub mod donor_search;
pub mod donors;
pub mod duplicates;
pub mod errors;
pub mod exports;
pub mod funds;
pub mod gift_search;
pub mod gifts;
pub mod idempotency;
pub mod imports;
pub mod keyset;
pub mod merge_fields;
pub mod offline_gifts;
pub mod outbox_messages;
pub mod partial_rows;
pub mod payments;
pub mod pledge_actions;
pub mod pledges;
pub mod privacy;
pub mod processor;
pub mod receipts;
pub mod reconciliation;
pub mod segments;
pub mod text;
pub mod tiers;
pub mod tokens;
pub mod translations;
pub mod tributes;

pub use errors::DomainError;

/// Who is making a change, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub token_id: Option<i64>,
}

impl Actor {
    /// Changes made from the command line on the server itself.
    pub fn cli() -> Self {
        Actor {
            name: "cli".to_owned(),
            token_id: None,
        }
    }

    /// Changes the service makes on its own (webhooks, scheduled work).
    pub fn system() -> Self {
        Actor {
            name: "system".to_owned(),
            token_id: None,
        }
    }
}

/// One row of `E` by its id; `NOT_FOUND` naming `what` when there is none.
pub async fn find_by_id<E>(
    db: &impl sea_orm::ConnectionTrait,
    what: &'static str,
    id: i64,
) -> Result<E::Model, DomainError>
where
    E: sea_orm::EntityTrait,
    E::Model: Sync,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<i64>,
{
    E::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found(what, id))
}
