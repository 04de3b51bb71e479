//! Money and paging as the API shows them.

use async_graphql::{Context, InputObject, SimpleObject};
use entity::{Currency, Money, format_minor};

use super::context::config;
use super::errors::{GqlResultExt, bad_input};
use crate::domain::currency::require_org_currency;

/// An amount of money: integer minor units (cents) and an ISO 4217 currency. Never a float.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "Money")]
pub struct MoneyAmount {
    /// The amount in minor units: 2500 is $25.00.
    pub amount_minor: i64,
    /// The ISO 4217 currency code, upper case ("USD").
    pub currency: String,
    /// The amount written for people: "$25.00".
    pub formatted: String,
}

impl MoneyAmount {
    /// From a stored column pair. Zero and negative amounts are allowed here (totals,
    /// benefits); only input is checked through `Money`.
    pub fn from_columns(amount_minor: i64, currency: &str) -> Self {
        let formatted = match Currency::parse(currency) {
            Ok(parsed) => format_minor(amount_minor, parsed),
            Err(_) => format!("{amount_minor} {currency}"),
        };
        MoneyAmount {
            amount_minor,
            currency: currency.to_owned(),
            formatted,
        }
    }
}

/// An amount of money given as input, in the organization's currency.
#[derive(InputObject, Clone, Debug)]
pub struct MoneyInput {
    /// The amount in minor units: 2500 is $25.00. More than zero.
    pub amount_minor: i64,
    /// The ISO 4217 currency code ("USD"); any case. The organization keeps its books in
    /// one currency (`ORG_CURRENCY`): left out, the amount is in it; any other is refused.
    pub currency: Option<String>,
}

impl MoneyInput {
    /// Checks the amount, and that it is in the organization's currency, naming `field`
    /// when it is refused.
    pub fn parse(&self, ctx: &Context<'_>, field: &str) -> async_graphql::Result<Money> {
        let org_currency = config(ctx)?.org_currency;
        let currency = match &self.currency {
            Some(code) => Currency::parse(code)
                .map_err(|error| bad_input(&format!("{field}.currency"), error))?,
            None => org_currency,
        };
        let money =
            Money::new(self.amount_minor, currency).map_err(|error| bad_input(field, error))?;
        require_org_currency(money, org_currency, &format!("{field}.currency")).gql()
    }
}
