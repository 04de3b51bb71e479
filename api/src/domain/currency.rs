//! The organization's one currency: every amount it records is in it, so no total,
//! receipt or statement has to skip one.

use entity::{Currency, Money};

use super::DomainError;

/// Whether `money` is in the organization's currency.
pub fn is_org_currency(money: Money, org_currency: Currency) -> bool {
    money.currency() == org_currency
}

/// `money` if it is in the organization's currency; otherwise a validation error on
/// `field` (the currency's own field, such as `amount.currency`).
pub fn require_org_currency(
    money: Money,
    org_currency: Currency,
    field: &str,
) -> Result<Money, DomainError> {
    if is_org_currency(money, org_currency) {
        Ok(money)
    } else {
        Err(DomainError::validation(
            field,
            format!(
                "must be {org_currency}, the organization's currency, not {}",
                money.currency()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_organizations_currency_is_accepted() {
        let euros = Money::new(1_000, Currency::Eur).ok();
        let dollars = Money::usd(1_000).ok();
        assert_eq!(
            euros.map(|m| is_org_currency(m, Currency::Usd)),
            Some(false)
        );
        assert_eq!(
            dollars.map(|m| is_org_currency(m, Currency::Usd)),
            Some(true)
        );
        assert_eq!(euros.map(|m| is_org_currency(m, Currency::Eur)), Some(true));
        let refused = euros.map(|m| require_org_currency(m, Currency::Usd, "amount.currency"));
        assert!(matches!(
            refused,
            Some(Err(DomainError::Validation { ref field, .. })) if field == "amount.currency"
        ));
        assert_eq!(
            dollars.map(|m| require_org_currency(m, Currency::Usd, "amount.currency").ok()),
            Some(dollars)
        );
    }
}
