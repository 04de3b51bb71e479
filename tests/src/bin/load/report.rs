//! The report: a line per path as it finishes, then the table and the JSON.

use std::path::PathBuf;

use api::bench_data::BenchSummary;
use serde_json::{Value, json};
use tests::support::Backend;

use crate::Args;
use crate::driver::Figures;

/// One row of the report: a path, its figures and its limit's.
pub struct Row {
    pub backend: &'static str,
    pub scenario: String,
    pub unit: &'static str,
    pub service: Figures,
    pub limit: Option<Figures>,
    pub limit_name: String,
}

impl Row {
    pub fn ratio(&self) -> Option<f64> {
        self.limit
            .as_ref()
            .filter(|l| l.per_second > 0.0)
            .map(|l| self.service.per_second / l.per_second)
    }
}

pub fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

pub struct BackendReport {
    pub backend: &'static str,
    pub seeded: BenchSummary,
    pub rows: Vec<Row>,
    pub peak_rss_mib: Option<f64>,
    pub rss_mib: Option<f64>,
}

pub fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

/// Microseconds of processor time, whole.
pub fn us(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
}

pub fn report_line(backend: &str, scenario: &str, service: &Figures, limit: Option<&Figures>) {
    let ratio = limit.filter(|l| l.per_second > 0.0).map_or_else(
        || "-".to_owned(),
        |l| format!("{:.2}", service.per_second / l.per_second),
    );
    eprintln!(
        "{backend}: {scenario}: {:.0}/s p50 {} p99 {} errors {}; processor µs each: server {}, database {}; limit {}/s (database µs each {}); ratio {ratio}",
        service.per_second,
        ms(service.p50_ms),
        ms(service.p99_ms),
        service.errors,
        us(service.server_us()),
        us(service.database_us()),
        limit.map_or_else(|| "-".to_owned(), |l| format!("{:.0}", l.per_second)),
        us(limit.and_then(Figures::database_us)),
    );
}

pub fn table(reports: &[BackendReport], args: &Args) -> String {
    let mut out = format!(
        "{} donors, {} in flight, {} s per scenario after {} s warm-up; server and database µs: \
         processor time per item (user and system, from /proc) of the server process and of \
         PostgreSQL's processes (SQLite's work is the server's)\n\n",
        args.donors, args.concurrency, args.duration, args.warmup
    );
    out.push_str(
        "| database | path | service | p50 ms | p95 ms | p99 ms | errors | server µs | database µs | limit | ratio |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for report in reports {
        for row in &report.rows {
            out.push_str(&format!(
                "| {} | {} | {:.0} {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                row.backend,
                row.scenario,
                row.service.per_second,
                row.unit,
                ms(row.service.p50_ms),
                ms(row.service.p95_ms),
                ms(row.service.p99_ms),
                row.service.errors,
                us(row.service.server_us()),
                us(row.service.database_us()),
                row.limit
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |l| format!("{:.0}", l.per_second)),
                row.ratio()
                    .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}")),
            ));
        }
    }
    out.push('\n');
    for report in reports {
        out.push_str(&format!(
            "{}: server peak RSS {} MiB (at the end {} MiB); seeded {} rows in {:.1} s ({:.0} rows/s)\n",
            report.backend,
            ms(report.peak_rss_mib),
            ms(report.rss_mib),
            report.seeded.rows(),
            report.seeded.elapsed.as_secs_f64(),
            report.seeded.rows() as f64 / report.seeded.elapsed.as_secs_f64().max(1e-9),
        ));
    }
    out
}

pub fn report_json(reports: &[BackendReport], args: &Args) -> Value {
    json!({
        "donors": args.donors,
        "concurrency": args.concurrency,
        "duration_secs": args.duration,
        "warmup_secs": args.warmup,
        "seed": args.seed,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "backends": reports.iter().map(|r| json!({
            "backend": r.backend,
            "server_peak_rss_mib": r.peak_rss_mib,
            "server_rss_mib_at_end": r.rss_mib,
            "seeded": {
                "donors": r.seeded.donors,
                "gifts": r.seeded.gifts,
                "pledges": r.seeded.pledges,
                "circle_members": r.seeded.circle_members,
                "receipts": r.seeded.receipts,
                "rows": r.seeded.rows(),
                "seconds": r.seeded.elapsed.as_secs_f64(),
            },
            "scenarios": r.rows.iter().map(|row| json!({
                "path": row.scenario,
                "unit": row.unit,
                "service": row.service.json(),
                "limit": row.limit.as_ref().map(Figures::json),
                "limit_is": row.limit_name,
                "ratio": row.ratio(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// Where the JSON report goes; the servers' `/metrics` are written beside it.
pub fn report_path(args: &Args) -> PathBuf {
    args.json
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/bench/load.json"))
}

/// The token the load suite's server asks for on `/metrics`.
pub const METRICS_TOKEN: &str = "load-suite-metrics-token-0123456789abcdef";
