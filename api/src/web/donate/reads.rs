//! What the donation page reads on every request (the funds it offers, the Circle, the
//! appeal a link names), kept for the read cache's lifetime: a staff change made in this
//! process is seen at once, one made by another process within the lifetime, and an
//! appeal's amount raised lags the gifts by at most that long (see `read_cache`).

use std::time::Duration;

use crate::domain::payments::{self, AppealProgress};
use crate::domain::tiers::{self, Circle};
use crate::domain::{DomainError, funds};
use crate::read_cache::{APPEALS, Expiring, FUNDS_AND_TIERS};
use entity::fund;
use sea_orm::DatabaseConnection;

pub struct PageReads {
    funds: Expiring<(), Vec<fund::Model>>,
    circle: Expiring<(), Option<Circle>>,
    appeals: Expiring<String, Option<AppealProgress>>,
}

impl PageReads {
    pub fn new(lifetime: Duration) -> Self {
        PageReads {
            funds: Expiring::new(&FUNDS_AND_TIERS, lifetime),
            circle: Expiring::new(&FUNDS_AND_TIERS, lifetime),
            appeals: Expiring::new(&APPEALS, lifetime),
        }
    }

    /// The funds a donor can choose, by name.
    pub async fn active_funds(
        &self,
        db: &DatabaseConnection,
    ) -> Result<Vec<fund::Model>, DomainError> {
        self.funds
            .get_or_read((), || funds::list_funds(db, false))
            .await
    }

    /// The Circle, when a tier is marked as the Circle.
    pub async fn circle(&self, db: &DatabaseConnection) -> Result<Option<Circle>, DomainError> {
        self.circle.get_or_read((), || tiers::circle(db)).await
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
