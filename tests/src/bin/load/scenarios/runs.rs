//! The runs staff start once and wait for, timed from start to end: exporting every
//! donor, gift and pledge as CSV, the year-end statements of last year's donors (PDFs typeset and mailed),
//! and an email appeal to every donor who agreed to email, built, queued and mailed.

use std::time::{Duration, Instant};

use chrono::{Datelike, Utc};
use serde_json::json;

use super::{Bench, PathName};
use crate::driver::Figures;
use crate::processes::CpuReading;
use crate::sql::scalar_i64;

/// How long a run's mail may take to leave before the suite stops waiting.
const MAIL_WAIT: Duration = Duration::from_secs(900);

/// The goal for the statement run: 100,000 donors in 60 s, PDFs included.
const STATEMENTS_GOAL_PER_SECOND: f64 = 100_000.0 / 60.0;

/// Each selected run, in an order where one's mail does not slow the next one's clock.
pub async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    if bench.paths.runs(PathName::Export) {
        for list in [Exported::Donors, Exported::Gifts, Exported::Pledges] {
            export(bench, list).await?;
        }
    }
    if bench.paths.runs(PathName::Statements) {
        year_end_statements(bench).await?;
    }
    if bench.paths.runs(PathName::Appeal) {
        email_appeal(bench).await?;
    }
    Ok(())
}

/// A run's figures: `done` items in `seconds`, no latencies.
fn once(done: usize, seconds: f64) -> Figures {
    let mut figures = Figures::from_latencies(Vec::new(), 0, seconds);
    figures.done = done;
    figures.per_second = done as f64 / seconds.max(1e-9);
    figures
}

/// A run's figures with the service's processor time since `cpu_from`.
fn once_metered(bench: &Bench, cpu_from: Option<CpuReading>, done: usize, seconds: f64) -> Figures {
    let mut figures = once(done, seconds);
    figures.cpu = bench
        .cpu_now()
        .zip(cpu_from)
        .map(|(now, then)| now.since(then));
    figures
}

/// A list staff export whole.
#[derive(Clone, Copy)]
enum Exported {
    Donors,
    Gifts,
    Pledges,
}

impl Exported {
    fn noun(self) -> &'static str {
        match self {
            Exported::Donors => "donors",
            Exported::Gifts => "gifts",
            Exported::Pledges => "pledges",
        }
    }

    fn mutation(self) -> &'static str {
        match self {
            Exported::Donors => "exportDonors",
            Exported::Gifts => "exportGifts",
            Exported::Pledges => "exportPledges",
        }
    }

    /// The rows the export reads, page by page by id, with what it needs of each
    /// row's donor.
    fn by_hand(self) -> &'static str {
        match self {
            Exported::Donors => "SELECT d.* FROM donors d WHERE d.id > $1 ORDER BY d.id LIMIT 500",
            Exported::Gifts => {
                "SELECT g.*, d.external_id, d.email, d.display_name
                 FROM gifts g JOIN donors d ON d.id = g.donor_id
                 WHERE g.id > $1 ORDER BY g.id LIMIT 500"
            }
            Exported::Pledges => {
                "SELECT p.*, d.external_id, d.email, d.display_name
                 FROM pledges p JOIN donors d ON d.id = p.donor_id
                 WHERE p.id > $1 ORDER BY p.id LIMIT 500"
            }
        }
    }
}

/// An export with no filter, then the CSV downloaded through its signed link, beside
/// the same rows read through hand-written SQL on the same kind of pool.
async fn export(bench: &mut Bench, list: Exported) -> anyhow::Result<()> {
    let mutation = list.mutation();
    let cpu_from = bench.cpu_now();
    let started = Instant::now();
    let data = bench
        .service
        .graphql_data(&format!("mutation {{ {mutation} {{ url }} }}"), json!({}))
        .await?;
    let url = data[mutation]["url"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("{mutation} gave no url: {data}"))?
        .to_owned();
    let body = bench
        .service
        .client
        .get(&url)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    let rows = body
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        .saturating_sub(1);

    let started = Instant::now();
    let read = rows_by_hand(&bench.db, list.by_hand()).await?;
    let limit_seconds = started.elapsed().as_secs_f64();
    let figures = once_metered(bench, cpu_from, rows, seconds);
    bench.record(
        &format!(
            "export all {}: {rows} rows, {:.1} MB CSV in {seconds:.1} s",
            list.noun(),
            body.len() as f64 / 1e6
        ),
        "rows/s",
        figures,
        Some(once(read, limit_seconds)),
        "the same rows read through hand-written SQL, not written as CSV",
    );
    Ok(())
}

/// Waits until the outbox has nothing waiting; how long it took.
async fn outbox_drained(bench: &Bench) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while scalar_i64(
        &bench.db,
        "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')",
    )
    .await?
        > 0
    {
        if started.elapsed() > MAIL_WAIT {
            anyhow::bail!("the outbox did not drain within {} s", MAIL_WAIT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(started.elapsed())
}

/// `issueYearEndStatements` for last year, then the wait until every statement was
/// typeset and mailed by the in-process mailer. No limit: the goal is the issue's.
async fn year_end_statements(bench: &mut Bench) -> anyhow::Result<()> {
    outbox_drained(bench).await?;
    let year = Utc::now().year() - 1;
    let sent_before = bench.smtp.received_count();
    let cpu_from = bench.cpu_now();
    let started = Instant::now();
    let data = bench
        .service
        .graphql_data(
            "mutation($year: Int!) { issueYearEndStatements(input: { year: $year }) { issued alreadyIssued } }",
            json!({ "year": year }),
        )
        .await?;
    let issued_in = started.elapsed().as_secs_f64();
    let issued = data["issueYearEndStatements"]["issued"]
        .as_u64()
        .unwrap_or_default() as usize;
    outbox_drained(bench).await?;
    let seconds = started.elapsed().as_secs_f64();
    let mailed = bench.smtp.received_count() - sent_before;
    let figures = once_metered(bench, cpu_from, issued, seconds);
    eprintln!(
        "{}: year-end statements {year}: {issued} issued in {issued_in:.1} s, {mailed} mailed with their PDFs after {seconds:.1} s (goal {STATEMENTS_GOAL_PER_SECOND:.0} donors/s)",
        bench.name
    );
    bench.record(
        &format!(
            "year-end statements: {issued} issued in {issued_in:.1} s, mailed with PDFs in {seconds:.1} s (goal: 100,000 in 60 s)"
        ),
        "donors/s",
        figures,
        None,
        "none: the goal is 100,000 donors in 60 s, PDFs included",
    );
    Ok(())
}

/// A new email appeal to every donor who agreed to email, built and queued by
/// `sendAppeal`, then the wait until the in-process mailer has sent it to all of them.
/// The figures are the queueing's; no limit: the figures were 2.0 s (SQLite)
/// and 7.4 s (PostgreSQL) for 50,000 donors.
async fn email_appeal(bench: &mut Bench) -> anyhow::Result<()> {
    outbox_drained(bench).await?;
    let service = bench.service.clone();
    let campaign = service
        .graphql_data(
            "mutation { createCampaign(input: { name: \"Load appeal\", goal: { amountMinor: 100000000 }, startsOn: \"2026-01-01\", defaultFundId: \"1\" }) { id } }",
            json!({}),
        )
        .await?["createCampaign"]["id"]
        .clone();
    let appeal = service
        .graphql_data(
            "mutation($c: ID!) { createAppeal(input: { campaignId: $c, name: \"Load email\", channel: EMAIL, sourceCode: \"LOAD-EMAIL\", subject: \"{first_name}, will you stand with families?\", message: \"Dear {first_name},\\n\\nYour gift of {last_gift} kept a family together. Will you give {ask_amount} today? {donate_link}\", askRule: { step: { amountMinor: 2500 }, minimum: { amountMinor: 5000 }, inviteToCircle: true } }) { id } }",
            json!({ "c": campaign }),
        )
        .await?["createAppeal"]["id"]
        .clone();
    let sent_before = bench.smtp.received_count();
    let cpu_from = bench.cpu_now();
    let started = Instant::now();
    let data = service
        .graphql_data(
            "mutation($id: ID!) { sendAppeal(input: { id: $id }) { recipients queued } }",
            json!({ "id": appeal }),
        )
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    let queued = data["sendAppeal"]["queued"].as_u64().unwrap_or_default() as usize;
    let figures = once_metered(bench, cpu_from, queued, seconds);
    let mailed_in = seconds + outbox_drained(bench).await?.as_secs_f64();
    let mailed = bench.smtp.received_count() - sent_before;
    eprintln!(
        "{}: email appeal: {queued} queued in {seconds:.2} s, {mailed} mailed after {mailed_in:.1} s ({:.0} a second)",
        bench.name,
        mailed as f64 / mailed_in.max(1e-9)
    );
    bench.record(
        &format!(
            "email appeal built and queued: {queued} donors in {seconds:.2} s, {mailed} mailed in {mailed_in:.1} s (earlier: 50,000 queued in 2.0 s SQLite, 7.4 s PostgreSQL)"
        ),
        "donors/s",
        figures,
        None,
        "none: the issue's earlier figures were 50,000 donors in 2.0 s (SQLite) and 7.4 s (PostgreSQL)",
    );
    Ok(())
}

/// The rows `query` reads, page by page by id (its `$1`) as the export reads them;
/// how many.
async fn rows_by_hand(db: &sea_orm::DatabaseConnection, query: &str) -> anyhow::Result<usize> {
    use sea_orm::ConnectionTrait;
    let mut after: i64 = 0;
    let mut read = 0;
    loop {
        let page = db
            .query_all_raw(crate::sql::sql(
                db.get_database_backend(),
                query,
                vec![after.into()],
            ))
            .await?;
        let Some(last) = page.last() else {
            return Ok(read);
        };
        after = last.try_get::<i64>("", "id")?;
        read += page.len();
    }
}
