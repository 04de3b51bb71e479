//! Mail: receipt emails queued all at once, drained by the server's in-process mailer
//! to the SMTP sink, beside lettre sending a prebuilt copy on as many connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tests::smtp::SmtpServer;

use super::{Bench, PathName};
use crate::driver::{Figures, Load, drive};
use crate::sql::{scalar_i64, sql};

/// The outbox drained to SMTP, if selected (after the webhooks, whose receipts it copies).
pub async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    if !bench.paths.runs(PathName::Mail) {
        return Ok(());
    }
    let (mail, first_send) = measure_mail(&bench.db, &bench.smtp, bench.load).await?;
    let mail_limit = lettre_limit(&bench.smtp, bench.load).await?;
    eprintln!(
        "{}: mail: the first message reached the sink {:.2} s after the batch was queued",
        bench.name,
        first_send.as_secs_f64()
    );
    bench.record(
        "mail: outbox drained to SMTP by the in-process mailer",
        "msgs/s",
        mail,
        Some(mail_limit),
        "lettre sending prebuilt messages, 4 pooled connections",
    );
    Ok(())
}

/// Queues copies of the receipt emails the webhooks wrote, waits until the server's
/// mailer has delivered them all to the sink, and reports messages per second from the
/// first delivery to the last, beside how long the first took after they were queued.
/// The worker looks for due mail once a second when it has none (`MAILER_POLL_SECS`), so
/// the wait for the first is that interval's remainder, not the rate it sends at.
pub async fn measure_mail(
    db: &DatabaseConnection,
    smtp: &SmtpServer,
    load: Load,
) -> anyhow::Result<(Figures, Duration)> {
    // Let the mailer finish what the webhooks queued.
    let settle = Instant::now();
    while scalar_i64(
        db,
        "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')",
    )
    .await?
        > 0
        && settle.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let available = scalar_i64(
        db,
        "SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND kind = 'receipt'",
    )
    .await?;
    if available == 0 {
        bail!("no receipt email was sent to copy");
    }
    let wanted: i64 = 3_000;
    let before = smtp.received_count();
    let backend = db.get_database_backend();
    let mut queued = 0;
    let mut round = 0;
    let started = Instant::now();
    while queued < wanted {
        let result = db
            .execute_raw(sql(
                backend,
                "INSERT INTO outbox (idempotency_key, kind, donor_id, to_address, to_name, language, payload,
                   status, attempts, next_attempt_at, created_at, updated_at)
                 SELECT 'load-mail:' || $1 || ':' || id, kind, donor_id, to_address, to_name, language, payload,
                   'pending', 0, $2, $2, $2
                 FROM outbox WHERE status = 'sent' AND kind = 'receipt' ORDER BY id LIMIT $3",
                vec![round.to_string().into(), Utc::now().into(), (wanted - queued).into()],
            ))
            .await?;
        queued += result.rows_affected() as i64;
        round += 1;
    }
    let queued_at = Instant::now();
    let cpu_from = load.clock.map(|clock| clock.read());
    let target = before + queued as usize;
    let limit = load.warmup + load.duration * 6;
    let mut last_count = before;
    let mut gaps = Vec::new();
    let mut first_seen = None;
    let mut last_change = Instant::now();
    while smtp.received_count() < target && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let count = smtp.received_count();
        if count > last_count {
            let now = Instant::now();
            match first_seen {
                // The first messages' gaps would count the worker's wait.
                None => first_seen = Some((now, count - before)),
                Some(_) => {
                    let gap = (now - last_change) / (count - last_count) as u32;
                    gaps.extend(std::iter::repeat_n(gap, count - last_count));
                }
            }
            last_count = count;
            last_change = now;
        }
    }
    let delivered = smtp.received_count() - before;
    let Some((first_at, first_count)) = first_seen else {
        bail!("the mailer sent none of the {queued} messages queued");
    };
    // From the first delivery seen to the last: the messages delivered after the first
    // sighting, over the time they took.
    let seconds = (last_change - first_at).as_secs_f64();
    let after_first = delivered - first_count;
    let failed = queued as usize - delivered.min(queued as usize);
    let mut figures = Figures::from_latencies(Vec::new(), failed, seconds);
    // From queueing to the last delivery: every message's whole work, the wait included.
    figures.cpu = load
        .clock
        .zip(cpu_from)
        .map(|(clock, then)| clock.read().since(then));
    figures.done = delivered;
    figures.per_second = after_first as f64 / seconds.max(1e-9);
    // Time between deliveries seen at the sink, not a per-message latency.
    let spaced = Figures::from_latencies(gaps, 0, seconds);
    figures.p50_ms = spaced.p50_ms;
    figures.p95_ms = spaced.p95_ms;
    figures.p99_ms = spaced.p99_ms;
    Ok((figures, first_at - queued_at))
}

/// lettre sending one of the messages the sink received, prebuilt, on as many
/// connections as the mailer uses (Nagle's algorithm off, as the mailer does).
pub async fn lettre_limit(smtp: &SmtpServer, load: Load) -> anyhow::Result<Figures> {
    let message = smtp.last_received().context("the sink received nothing")?;
    let envelope = lettre::address::Envelope::new(
        Some("giving@example.org".parse()?),
        vec!["donor@example.org".parse()?],
    )?;
    let address = smtp.url().trim_start_matches("smtp://").to_owned();
    let connections = mailer::transport::SMTP_CONNECTIONS as usize;
    let mut pool = Vec::new();
    for _ in 0..connections {
        let stream = tokio::net::TcpStream::connect(address.as_str()).await?;
        stream.set_nodelay(true)?;
        pool.push(
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &ClientId::default())
                .await?,
        );
    }
    let shared = Arc::new((tokio::sync::Mutex::new(pool), envelope, message.data));
    Ok(drive(load.unmetered(), connections, move |_| {
        let shared = shared.clone();
        async move {
            let Some(mut connection) = shared.0.lock().await.pop() else {
                return false;
            };
            let ok = connection.send(&shared.1, &shared.2).await.is_ok();
            shared.0.lock().await.push(connection);
            ok
        }
    })
    .await)
}
