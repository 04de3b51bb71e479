//! The load suite: for each database it creates a fresh one, fills it with
//! `api::bench_data`, starts the real server in a child process (so that its peak memory
//! can be read), and drives each path at a set concurrency for a set time after a
//! warm-up. Beside every figure it measures the limit the same run allows: the same data
//! through hand-written SQL on the same kind of pool, the bare inserts a webhook needs,
//! lettre sending prebuilt messages to the same SMTP sink, a static page from the same
//! actix setup. It prints a table and writes JSON.
//!
//! `cargo run --release -p tests --bin load -- [--donors N] [--backend sqlite|postgres|both]
//! [--duration S] [--concurrency C] [--paths NAME,NAME] [--json PATH]`

mod backend;
mod driver;
mod processes;
mod report;
mod scenarios;
mod sql;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use api::config::Config;
use clap::{Parser, ValueEnum};
use tests::support::{Backend, postgres_available};

use crate::backend::run_backend;
use crate::driver::Load;
use crate::processes::serve_static;
use crate::report::{report_json, report_path, table};
use crate::scenarios::{PathName, Selection};

#[derive(Parser, Debug)]
#[command(
    name = "load",
    version,
    about = "The service's load suite, with the limit beside each figure"
)]
pub struct Args {
    /// Donors to seed (about ten gifts each).
    #[arg(long, default_value_t = 10_000)]
    pub donors: usize,
    #[arg(long, value_enum, default_value_t = BackendArg::Both)]
    backend: BackendArg,
    /// Seconds each scenario is measured, after the warm-up.
    #[arg(long, default_value_t = 8)]
    pub duration: u64,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Requests in flight.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Where to write the JSON report (default target/bench/load.json); each server's
    /// final `/metrics` is written beside it as `metrics-BACKEND.txt`.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Only these paths, each with its limit (default: all), e.g. `--paths club,donor`.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub paths: Vec<PathName>,
    /// The generator's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Appended to the SMTP sink's URL the server gets (`?tls=opportunistic` sends
    /// through lettre's pooled transport instead of the plain-SMTP connections).
    #[arg(long, default_value = "")]
    pub smtp_url_suffix: String,
    /// Run the service from the environment's configuration (used for the child process).
    #[arg(long, hide = true)]
    pub serve: bool,
    /// Serve this file's bytes as a static page on LISTEN_ADDR (used for the child process).
    #[arg(long, hide = true)]
    pub serve_static: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
    Both,
}

impl Args {
    /// The paths to measure.
    fn selection(&self) -> Selection {
        Selection(self.paths.clone())
    }
}

// The server runs as `api serve` does, with its allocator.
#[global_allocator]
static ALLOCATOR: mailer::memory::Allocator = mailer::memory::Allocator;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.serve {
        let config = Config::load(None)?;
        let _log = api::telemetry::init(config.log_format);
        return runtime.block_on(api::cli::serve(config));
    }
    if let Some(page) = &args.serve_static {
        return runtime.block_on(serve_static(page));
    }
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let load = Load {
        concurrency: args.concurrency.max(1),
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.duration.max(1)),
        clock: None,
    };
    let mut backends = Vec::new();
    if args.backend != BackendArg::Postgres {
        backends.push(Backend::Sqlite);
    }
    if args.backend != BackendArg::Sqlite {
        if postgres_available().await {
            backends.push(Backend::Postgres);
        } else if args.backend == BackendArg::Postgres {
            bail!("PostgreSQL is not reachable (TEST_POSTGRES_URL)");
        }
    }
    let mut reports = Vec::new();
    for backend in backends {
        reports.push(run_backend(backend, &args, load).await?);
    }
    let text = table(&reports, &args);
    println!("{text}");
    let path = report_path(&args);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&report_json(&reports, &args))?,
    )?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
