//! What the donation page reads on every request (the funds it offers, the Circle, the
//! appeal a link names), kept for the read cache's lifetime: a staff change made in this
//! process is seen at once, one made by another process within the lifetime, and an
//! appeal's amount raised lags the gifts by at most that long (see `read_cache`).
//!
//! The funds and the Circle are kept as a page in one language shows them (the funds
//! named and in order, the preset amounts and the Circle's note written out), since
//! every page in that language shows them the same until they change.

use std::sync::Arc;
use std::time::Duration;

use entity::Currency;
use entity::enums::Language;

use super::page::{PresetWords, preset_words};
use crate::domain::payments::{self, AppealProgress};
use crate::domain::tiers::{self, Circle};
use crate::domain::{DomainError, funds};
use crate::read_cache::{APPEALS, Expiring, FUNDS_AND_TIERS};
use sea_orm::DatabaseConnection;

/// The preset amounts as a page in one language offers them, the Circle's monthly
/// amount among them with its note.
pub struct PagePresets(pub Vec<PresetWords>);

impl PagePresets {
    /// The presets a page in `language` offers in `currency`, the one the page asks in,
    /// with `circle`'s monthly amount when it is kept in that currency.
    pub fn new(circle: Option<&Circle>, language: Language, currency: Currency) -> PagePresets {
        let circle = circle.filter(|circle| Currency::parse(&circle.tier.currency) == Ok(currency));
        PagePresets(preset_words(language, circle, currency))
    }

    /// The preset amounts in whole units, smallest first.
    pub fn amounts(&self) -> Vec<u32> {
        self.0.iter().map(|preset| preset.amount).collect()
    }
}

pub struct PageReads {
    currency: Currency,
    funds: Expiring<Language, Arc<[(String, String)]>>,
    presets: Expiring<Language, Arc<PagePresets>>,
    appeals: Expiring<String, Option<AppealProgress>>,
}

impl PageReads {
    /// The page's reads, kept for `lifetime`, for an organization asking in `currency`.
    pub fn new(lifetime: Duration, currency: Currency) -> Self {
        PageReads {
            currency,
            funds: Expiring::new(&FUNDS_AND_TIERS, lifetime),
            presets: Expiring::new(&FUNDS_AND_TIERS, lifetime),
            appeals: Expiring::new(&APPEALS, lifetime),
        }
    }

    /// The funds a donor can choose, as codes and names in `language`, in the order of
    /// the names a reader of it sees.
    pub async fn active_funds(
        &self,
        db: &DatabaseConnection,
        language: Language,
    ) -> Result<Arc<[(String, String)]>, DomainError> {
        self.funds
            .get_or_read(language, || async move {
                let list = funds::list_funds(db, false).await?;
                let mut named: Vec<(String, String)> = list
                    .iter()
                    .map(|f| (f.code.clone(), funds::name_in(f, language).to_owned()))
                    .collect();
                named.sort_by_cached_key(|(_, name)| name.to_lowercase());
                Ok(named.into())
            })
            .await
    }

    /// The preset amounts as a page in `language` offers them, from the Circle.
    pub async fn presets(
        &self,
        db: &DatabaseConnection,
        language: Language,
    ) -> Result<Arc<PagePresets>, DomainError> {
        let currency = self.currency;
        self.presets
            .get_or_read(language, || async move {
                let circle = tiers::circle(db).await?;
                Ok(Arc::new(PagePresets::new(
                    circle.as_ref(),
                    language,
                    currency,
                )))
            })
            .await
    }

    /// The preset amounts without the Circle's, for when it cannot be read.
    pub fn standing_presets(&self, language: Language) -> Arc<PagePresets> {
        Arc::new(PagePresets::new(None, language, self.currency))
    }

    /// The appeal `code` names, with its campaign's goal and progress.
    pub async fn appeal(
        &self,
        db: &DatabaseConnection,
        code: &str,
    ) -> Result<Option<AppealProgress>, DomainError> {
        let code = code.trim().to_uppercase();
        self.appeals
            .get_or_read(code.clone(), || async move {
                payments::appeal_progress(db, &code).await
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use entity::giving_tier;

    use super::*;

    fn circle(threshold_minor: i64, currency: &str) -> Circle {
        let tier = giving_tier::Model {
            id: 1,
            name: "Circle of Friends".into(),
            threshold_minor,
            currency: currency.into(),
            benefits: None,
            benefits_value_minor: 0,
            is_circle: true,
            receipt_every_installment: false,
            translations: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        Circle {
            tier,
            member_tier_ids: vec![1],
        }
    }

    fn shown(presets: &PagePresets) -> Vec<(u32, &str, Option<&str>)> {
        presets
            .0
            .iter()
            .map(|p| (p.amount, p.label.as_str(), p.note.as_deref()))
            .collect()
    }

    #[test]
    fn the_circles_monthly_amount_is_offered_with_its_note_in_the_pages_language() {
        let french = PagePresets::new(
            Some(&circle(50_000, "USD")),
            Language::French,
            Currency::Usd,
        );
        let note = "42 $ par mois vous fait entrer dans le Cercle des amis, pour les dons de 500 $ ou plus par an.";
        assert_eq!(
            shown(&french),
            [
                (25, "25 $", None),
                (42, "42 $", Some(note)),
                (50, "50 $", None),
                (100, "100 $", None),
                (250, "250 $", None),
            ]
        );
        assert_eq!(french.amounts(), [25, 42, 50, 100, 250]);
    }

    #[test]
    fn a_circle_kept_in_another_currency_is_not_offered() {
        let english = |circle: Option<&Circle>| {
            shown(&PagePresets::new(circle, Language::English, Currency::Usd))
                .into_iter()
                .map(|(amount, label, note)| (amount, label.to_owned(), note.map(str::to_owned)))
                .collect::<Vec<_>>()
        };
        let standing = english(None);
        assert_eq!(
            standing,
            [
                (25, "$25".to_owned(), None),
                (50, "$50".to_owned(), None),
                (100, "$100".to_owned(), None),
                (250, "$250".to_owned(), None),
            ]
        );
        assert_eq!(english(Some(&circle(50_000, "CAD"))), standing);
        // A Circle whose monthly amount is already a preset adds none.
        let at_fifty = english(Some(&circle(60_000, "USD")));
        assert_eq!(at_fifty.len(), 4);
        assert!(
            at_fifty[1]
                .2
                .as_deref()
                .is_some_and(|n| n.starts_with("$50 a month"))
        );
    }
}
