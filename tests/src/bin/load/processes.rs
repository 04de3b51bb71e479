//! The processes around a run: the server and the static page as children of this
//! executable (so their memory can be read from /proc), and the fake Stripe API.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::web;
use anyhow::{Context, bail};
use serde_json::json;

/// The limit for the pages: the same actix-web server setup answering with fixed bytes.
pub async fn serve_static(page: &Path) -> anyhow::Result<()> {
    let body = web::Bytes::from(std::fs::read(page)?);
    let address = std::env::var("LISTEN_ADDR").context("LISTEN_ADDR")?;
    actix_web::HttpServer::new(move || {
        let body = body.clone();
        actix_web::App::new().default_service(web::to(move || {
            let body = body.clone();
            async move {
                actix_web::HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(body)
            }
        }))
    })
    .bind(address)?
    .run()
    .await?;
    Ok(())
}

/// A child process killed when dropped. Under a prefix command, the server in its process
/// group is asked to stop instead (the pattern matches its command line), and the prefix
/// command is left to write what it kept.
pub struct ChildProcess(Child, Option<String>);

impl ChildProcess {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Whether it runs under `LOAD_SERVER_PREFIX`'s command.
    pub fn under_prefix(&self) -> bool {
        self.1.is_some()
    }

    /// Peak and current resident memory in MiB, from /proc.
    pub fn memory_mib(&self) -> (Option<f64>, Option<f64>) {
        memory_mib(self.pid())
    }
}

/// A process's peak and current resident memory in MiB, from /proc.
pub fn memory_mib(pid: u32) -> (Option<f64>, Option<f64>) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if let Some(pattern) = &self.1 {
            let group = self.0.id().to_string();
            let _ = Command::new("pkill")
                .args(["-TERM", "-g", &group, "-f", pattern])
                .status();
            let _ = self.0.wait();
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub async fn wait_until_ready(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} did not answer within a minute")
}

/// Re-runs this executable with `args` and `env`; output goes to `log`. With
/// `LOAD_SERVER_PREFIX` set (say `heaptrack -o /tmp/server`), the server runs under that
/// command instead, and the memory figures are then the prefix command's own.
pub fn spawn_child(
    args: &[&str],
    env: &[(&str, String)],
    log: &Path,
) -> anyhow::Result<ChildProcess> {
    let exe = std::env::current_exe()?;
    let output = std::fs::File::create(log)?;
    let prefix = std::env::var("LOAD_SERVER_PREFIX").unwrap_or_default();
    let mut prefix = prefix.split_whitespace().filter(|_| args == ["--serve"]);
    let prefixed = prefix.next().map(|program| {
        let mut command = Command::new(program);
        command.args(prefix).arg(&exe).process_group(0);
        command
    });
    let under_prefix = prefixed
        .is_some()
        .then(|| format!("^{} {}", exe.display(), args.join(" ")));
    let mut command = prefixed.unwrap_or_else(|| Command::new(exe));
    command
        .args(args)
        .env_remove("CONFIG_FILE")
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output);
    for (key, value) in env {
        command.env(key, value);
    }
    Ok(ChildProcess(command.spawn()?, under_prefix))
}

/// The fake Stripe API: creates Checkout Sessions at once. Like Stripe, it reads each
/// request's form whole, so the connection can carry the next request (actix closes a
/// connection whose request body was left unread).
pub async fn start_fake_stripe() -> anyhow::Result<(String, actix_web::dev::ServerHandle)> {
    let counter = web::Data::new(AtomicUsize::new(0));
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().app_data(counter.clone()).route(
            "/v1/checkout/sessions",
            web::post().to(|counter: web::Data<AtomicUsize>, _form: web::Bytes| async move {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let id = format!("cs_load_{n}");
                actix_web::HttpResponse::Ok().json(json!({
                    "id": id,
                    "object": "checkout.session",
                    "url": format!("https://checkout.stripe.test/c/pay/{id}"),
                }))
            }),
        )
        // An installment's payment, which invoice events do not carry.
        .route(
            "/v1/invoice_payments",
            web::get().to(|query: web::Query<std::collections::HashMap<String, String>>| async move {
                let invoice = query.get("invoice").cloned().unwrap_or_default();
                actix_web::HttpResponse::Ok().json(json!({
                    "object": "list", "has_more": false, "url": "/v1/invoice_payments",
                    "data": [{ "object": "invoice_payment", "invoice": invoice, "status": "paid",
                               "payment": { "type": "payment_intent",
                                            "payment_intent": ::tests::stripe::invoice_payment_intent(&invoice) } }],
                }))
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")?;
    let port = server
        .addrs()
        .first()
        .map(|a| a.port())
        .context("the fake Stripe has no address")?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((format!("http://127.0.0.1:{port}"), handle))
}

/// The processor time the service spends: its server process's, and the database
/// server's when that runs on this machine (PostgreSQL: the postmaster, every backend
/// and worker it started, and those it has reaped), read from /proc.
#[derive(Clone, Copy, Debug)]
pub struct CpuClock {
    pub server_pid: Option<u32>,
    pub postmaster_pid: Option<u32>,
}

/// Processor time used so far, user and system together.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuReading {
    pub server: Option<Duration>,
    pub database: Option<Duration>,
}

impl CpuReading {
    /// What was used between `earlier` and this reading.
    pub fn since(self, earlier: CpuReading) -> CpuReading {
        CpuReading {
            server: self
                .server
                .zip(earlier.server)
                .map(|(now, then)| now.saturating_sub(then)),
            database: self
                .database
                .zip(earlier.database)
                .map(|(now, then)| now.saturating_sub(then)),
        }
    }
}

/// The kernel reports times in `USER_HZ` ticks, 100 a second on Linux.
const TICKS_PER_SECOND: u64 = 100;

/// A process's parent and its times in ticks (own user, own system, reaped children's
/// user and system), from `/proc/PID/stat`.
fn process_times(pid: u32) -> Option<(u32, [u64; 4])> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces; fields follow its end.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let number = |index: usize| fields.get(index)?.parse::<u64>().ok();
    // After the name: state (0), ppid (1), ... utime (11), stime (12), cutime (13), cstime (14).
    Some((
        u32::try_from(number(1)?).ok()?,
        [number(11)?, number(12)?, number(13)?, number(14)?],
    ))
}

fn ticks(count: u64) -> Duration {
    Duration::from_millis(count * 1000 / TICKS_PER_SECOND)
}

impl CpuClock {
    pub fn read(&self) -> CpuReading {
        CpuReading {
            server: self
                .server_pid
                .and_then(process_times)
                .map(|(_, [user, system, _, _])| ticks(user + system)),
            database: self.postmaster_pid.and_then(database_time),
        }
    }
}

/// The postmaster's own and reaped children's time, plus every live child's own.
fn database_time(postmaster: u32) -> Option<Duration> {
    let (_, [user, system, children_user, children_system]) = process_times(postmaster)?;
    let mut total = user + system + children_user + children_system;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some((parent, [user, system, _, _])) = process_times(pid)
            && parent == postmaster
        {
            total += user + system;
        }
    }
    Some(ticks(total))
}

/// The PostgreSQL postmaster serving `db`, when it runs on this machine: the parent of
/// the backend that answers.
pub async fn local_postmaster(db: &sea_orm::DatabaseConnection) -> Option<u32> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    if db.get_database_backend() != DbBackend::Postgres {
        return None;
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_backend_pid()",
        ))
        .await
        .ok()??;
    let backend: i32 = row.try_get_by_index(0).ok()?;
    let (parent, _) = process_times(u32::try_from(backend).ok()?)?;
    let name = std::fs::read_to_string(format!("/proc/{parent}/comm")).ok()?;
    (name.trim() == "postgres").then_some(parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_s_parent_and_times_are_read_from_proc() {
        let (parent, [user, system, _, _]) =
            process_times(std::process::id()).unwrap_or_else(|| panic!("no /proc/self/stat"));
        assert_eq!(parent, std::os::unix::process::parent_id());
        // Spin until the kernel has counted some of this process's time.
        let started = Instant::now();
        let mut spun = 0u64;
        while started.elapsed() < Duration::from_millis(50) {
            spun = std::hint::black_box(spun.wrapping_add(1));
        }
        let (_, [user_after, system_after, _, _]) =
            process_times(std::process::id()).unwrap_or_else(|| panic!("no /proc/self/stat"));
        assert!(user_after + system_after > user + system);
        assert_eq!(process_times(u32::MAX), None);
    }

    #[test]
    fn a_reading_since_another_is_the_difference_of_each_part() {
        let then = CpuReading {
            server: Some(Duration::from_millis(300)),
            database: Some(Duration::from_millis(1_000)),
        };
        let now = CpuReading {
            server: Some(Duration::from_millis(1_250)),
            database: Some(Duration::from_millis(1_400)),
        };
        let used = now.since(then);
        assert_eq!(used.server, Some(Duration::from_millis(950)));
        assert_eq!(used.database, Some(Duration::from_millis(400)));
        let without_database = CpuReading {
            database: None,
            ..now
        };
        assert_eq!(without_database.since(then).database, None);
        assert_eq!(ticks(250), Duration::from_millis(2_500));
    }
}
