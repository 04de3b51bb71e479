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

/// The fake Stripe API: creates Checkout Sessions at once.
pub async fn start_fake_stripe() -> anyhow::Result<(String, actix_web::dev::ServerHandle)> {
    let counter = web::Data::new(AtomicUsize::new(0));
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().app_data(counter.clone()).route(
            "/v1/checkout/sessions",
            web::post().to(|counter: web::Data<AtomicUsize>| async move {
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
                                            "payment_intent": tests::stripe::invoice_payment_intent(&invoice) } }],
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
