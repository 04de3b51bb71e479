//! The paths the suite drives, one module per kind, and what they share: the seeded
//! data they draw requests from, the running service, and the rows they report.

pub mod graphql;
pub mod mail;
pub mod pages;
pub mod runs;
pub mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Datelike, TimeZone, Utc};
use clap::ValueEnum;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tests::smtp::SmtpServer;

use crate::driver::{Figures, Load};
use crate::processes::{CpuReading, memory_mib};
use crate::report::{Row, ms, report_line};
use crate::sql::{ids, scalar_i64};

/// The paths `--paths` can name; each runs with its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PathName {
    /// GraphQL donor search page.
    Search,
    /// GraphQL one donor, gifts and pledges.
    Donor,
    /// GraphQL gifts by fund and month.
    GiftsByFund,
    /// GraphQL giving-club summary.
    Club,
    /// GraphQL campaign and appeal results.
    Campaign,
    /// GET /donate.
    DonateGet,
    /// POST /donate -> fake Stripe -> 303.
    DonatePost,
    /// Webhooks: new checkouts and installments.
    Webhooks,
    /// Webhooks: replays of delivered events.
    Replays,
    /// Mail: the outbox drained to SMTP.
    Mail,
    /// Every donor, gift and pledge exported as CSV and downloaded.
    Export,
    /// Last year's year-end statements issued, typeset and mailed.
    Statements,
    /// An email appeal built and queued for every donor who agreed to email.
    Appeal,
}

/// Which paths this run measures: all of them unless `--paths` names some.
#[derive(Clone, Debug, Default)]
pub struct Selection(pub Vec<PathName>);

impl Selection {
    pub fn runs(&self, path: PathName) -> bool {
        self.0.is_empty() || self.0.contains(&path)
    }
}

/// What every path of one database's run shares.
pub struct Bench {
    pub name: &'static str,
    pub db: DatabaseConnection,
    pub seeded: Arc<Seeded>,
    pub service: Arc<Service>,
    pub dir: PathBuf,
    pub smtp: SmtpServer,
    /// The server's process, whose memory is read after each path.
    pub server_pid: u32,
    pub load: Load,
    pub paths: Selection,
    pub rows: Vec<Row>,
}

impl Bench {
    /// The service's processor time so far, when it is read; see `Load::clock`.
    pub fn cpu_now(&self) -> Option<CpuReading> {
        self.load.clock.map(|clock| clock.read())
    }

    /// Prints one path's figures beside its limit and keeps them for the report.
    pub fn record(
        &mut self,
        scenario: &str,
        unit: &'static str,
        service: Figures,
        limit: Option<Figures>,
        limit_name: &str,
    ) {
        report_line(self.name, scenario, &service, limit.as_ref());
        let (peak, now) = memory_mib(self.server_pid);
        eprintln!(
            "{}: server RSS after it {} MiB, peak so far {} MiB",
            self.name,
            ms(now),
            ms(peak)
        );
        self.rows.push(Row {
            backend: self.name,
            scenario: scenario.to_owned(),
            unit,
            service,
            limit,
            limit_name: limit_name.to_owned(),
        });
    }
}

/// What the staff scenarios need from the seeded data.
pub struct Seeded {
    pub donors: i64,
    pub funds: Vec<i64>,
    pub campaigns: Vec<(i64, i64)>,
    pub subscriptions: Vec<(String, i64, String)>,
    pub emails: Vec<String>,
    pub months: Vec<(chrono::DateTime<Utc>, chrono::DateTime<Utc>)>,
}

pub async fn read_seeded(db: &DatabaseConnection) -> anyhow::Result<Seeded> {
    let backend = db.get_database_backend();
    let mut subscriptions = Vec::new();
    for row in db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT p.stripe_subscription_id, p.installment_minor, d.email FROM pledges p \
             JOIN donors d ON d.id = p.donor_id WHERE p.stripe_subscription_id IS NOT NULL",
        ))
        .await?
    {
        subscriptions.push((
            row.try_get_by_index::<String>(0)?,
            row.try_get_by_index::<i64>(1)?,
            row.try_get_by_index::<String>(2)?,
        ));
    }
    let mut emails = Vec::new();
    for row in db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT email FROM donors WHERE id % 97 = 0 ORDER BY id",
        ))
        .await?
    {
        emails.push(row.try_get_by_index::<String>(0)?);
    }
    let mut campaigns = Vec::new();
    for row in db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT campaign_id, MIN(id) FROM appeals GROUP BY campaign_id ORDER BY campaign_id",
        ))
        .await?
    {
        campaigns.push((
            row.try_get_by_index::<i64>(0)?,
            row.try_get_by_index::<i64>(1)?,
        ));
    }
    let now = Utc::now();
    let months = (1..=24)
        .filter_map(|back| {
            let first = now.date_naive().with_day(1)?;
            let from = first.checked_sub_months(chrono::Months::new(back))?;
            let to = from.checked_add_months(chrono::Months::new(1))?;
            Some((
                Utc.from_utc_datetime(&from.and_hms_opt(0, 0, 0)?),
                Utc.from_utc_datetime(&to.and_hms_opt(0, 0, 0)?),
            ))
        })
        .collect();
    Ok(Seeded {
        donors: scalar_i64(db, "SELECT COUNT(*) FROM donors").await?,
        funds: ids(db, "SELECT id FROM funds ORDER BY id").await?,
        campaigns,
        subscriptions,
        emails,
        months,
    })
}

pub struct Service {
    pub base: String,
    pub client: reqwest::Client,
    pub token: String,
}

impl Service {
    pub async fn graphql(&self, query: &str, variables: Value) -> bool {
        let response = self
            .client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                Ok(body) => body.get("errors").is_none(),
                Err(_) => false,
            },
            _ => false,
        }
    }

    /// The `data` of a query that must succeed.
    pub async fn graphql_data(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let body: Value = self
            .client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if let Some(errors) = body.get("errors") {
            anyhow::bail!("GraphQL errors: {errors}");
        }
        Ok(body["data"].clone())
    }
}

pub async fn fetch_ok(request: reqwest::RequestBuilder, expected: u16) -> bool {
    match request.send().await {
        Ok(r) => r.status().as_u16() == expected && r.bytes().await.is_ok(),
        Err(_) => false,
    }
}
