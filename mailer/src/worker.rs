//! The worker: claims due messages in batches, renders and delivers each, and records
//! what happened to the batch (the messages sent in one statement). `send_due_batch`
//! does one round, so tests and tools can drain the queue deterministically; `run`
//! repeats it until asked to stop.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::Utc;
use entity::{donor, outbox as outbox_row};
use futures_util::{FutureExt, StreamExt};
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment as LettreAttachment, Body, Mailbox, MultiPart};
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use tokio::sync::watch;

use crate::config::{MailSettings, WorkerSettings};
use crate::database::write_turn;
use crate::outbox::{self, Outcome};
use crate::templates::{self, RenderError, Rendered};
use crate::transport::{DeliveryError, SMTP_CONNECTIONS, Transport};

/// What one round of work did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub dead: usize,
    /// Appeals not sent because their donor stopped appeals after they were queued.
    pub skipped: usize,
    /// Claimed messages handed back unsent because the worker was asked to stop.
    pub released: usize,
    /// The per-minute limit was reached; nothing more is sent until the minute ends.
    pub rate_limited: bool,
}

/// Messages claimed for this worker, with what they need read ahead.
struct ClaimedBatch {
    messages: Vec<outbox_row::Model>,
    prefetched: templates::Prefetched,
    /// Nothing was claimed because the per-minute limit was reached.
    rate_limited: bool,
}

/// A claimed batch once its messages have been delivered: what happened to each, not
/// yet recorded.
struct Delivered {
    report: BatchReport,
    outcomes: Vec<(i64, Outcome)>,
    /// Not started because the worker was asked to stop; handed back when recorded.
    unsent: Vec<i64>,
    /// A message could not reach the database; the rest of the batch went on.
    failure: Option<DbErr>,
}

impl BatchReport {
    fn add(&mut self, other: &BatchReport) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.dead += other.dead;
        self.skipped += other.skipped;
        self.released += other.released;
        self.rate_limited |= other.rate_limited;
    }
}

/// Counts messages sent in the current minute.
#[derive(Debug)]
struct RateWindow {
    started: Instant,
    sent: u32,
}

/// Claims due messages and sends them. Its state lives behind one `Arc`, which each
/// message's task holds while the message is built and sent.
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    mail: MailSettings,
    settings: WorkerSettings,
    transport: Transport,
    id: String,
    window: Mutex<RateWindow>,
}

impl Worker {
    /// A worker with a unique name, delivering through the configured transport.
    pub fn new(
        db: DatabaseConnection,
        mail: MailSettings,
        settings: WorkerSettings,
    ) -> Result<Self, lettre::transport::smtp::Error> {
        let transport = Transport::from_settings(&mail)?;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "mailer".to_owned());
        let id = format!(
            "{host}-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(Worker {
            inner: Arc::new(Inner {
                db,
                mail,
                settings,
                transport,
                id,
                window: Mutex::new(RateWindow {
                    started: Instant::now(),
                    sent: 0,
                }),
            }),
        })
    }

    /// The name this worker's leases carry.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// How many more messages may leave this minute, and when the minute ends.
    fn budget(&self) -> (u32, Duration) {
        let Ok(mut window) = self.inner.window.lock() else {
            return (0, Duration::from_secs(1));
        };
        let elapsed = window.started.elapsed();
        if elapsed >= Duration::from_secs(60) {
            window.started = Instant::now();
            window.sent = 0;
        }
        let left = Duration::from_secs(60).saturating_sub(window.started.elapsed());
        (
            self.inner.settings.per_minute.saturating_sub(window.sent),
            left,
        )
    }

    /// Claims and works through one batch of due messages.
    pub async fn send_due_batch(&self) -> Result<BatchReport, DbErr> {
        let (_, stop) = watch::channel(false);
        self.send_batch_until(&stop).await
    }

    /// Sends batches until nothing is due (or the rate limit is reached); returns the
    /// total.
    pub async fn drain(&self) -> Result<BatchReport, DbErr> {
        let (_, stop) = watch::channel(false);
        self.drain_until(&stop).await
    }

    /// [`Worker::drain`], stopping early once `stop` turns true: the messages in flight
    /// are finished and the rest handed back.
    ///
    /// Three things overlap, so that the connections seldom wait on the database and the
    /// typesetting seldom waits on either: while one batch's PDFs are stored and its
    /// messages delivered, the outcomes of the batch before it are recorded, and the next
    /// batch is claimed, read and its receipts' missing PDFs typeset. The batch made
    /// ready counts against the per-minute limit as if the one in flight were all sent.
    /// Whatever was delivered is recorded (or its recording tried, when the database
    /// fails) before this returns.
    pub async fn drain_until(&self, stop: &watch::Receiver<bool>) -> Result<BatchReport, DbErr> {
        let mut total = BatchReport::default();
        if *stop.borrow() {
            return Ok(total);
        }
        let mut batch = self.claim_ready(0).await?;
        // The batch delivered last, its outcomes not recorded yet.
        let mut unrecorded: Option<Delivered> = None;
        loop {
            if batch.messages.is_empty() || *stop.borrow() {
                self.record(unrecorded.take()).await?;
                if batch.messages.is_empty() {
                    total.rate_limited |= batch.rate_limited;
                } else {
                    total.claimed += batch.messages.len();
                    total.released += self.hand_back(&batch).await?;
                }
                return Ok(total);
            }
            let in_flight = u32::try_from(batch.messages.len()).unwrap_or(u32::MAX);
            // The next batch is claimed first, so its typesetting starts while this
            // batch's PDFs and the last one's outcomes wait for their turn to write.
            let (ahead, mut delivered, recorded) = tokio::join!(
                self.claim_ready(in_flight),
                self.deliver(&batch, stop),
                self.record(unrecorded.take())
            );
            total.add(&delivered.report);
            let failed = match (recorded, delivered.failure.take()) {
                (Err(error), _) | (Ok(()), Some(error)) => Some(error),
                (Ok(()), None) => None,
            };
            if let Some(error) = failed {
                // What was delivered is still recorded, and the batch made ready handed
                // back, as far as the database lets; the first error is the answer.
                if let Err(also) = self.record(Some(delivered)).await {
                    tracing::warn!(%also, "cannot record a batch's outcomes");
                }
                if let Ok(ahead) = &ahead
                    && let Err(release) = self.hand_back(ahead).await
                {
                    tracing::warn!(%release, "cannot hand back a batch made ready");
                }
                return Err(error);
            }
            unrecorded = Some(delivered);
            batch = match ahead {
                Ok(ahead) => ahead,
                Err(error) => {
                    self.record(unrecorded.take()).await?;
                    return Err(error);
                }
            };
            // Nothing more was due (or allowed) when this batch started: look again now
            // that it is done and recorded (a retry due at once is due now).
            if batch.messages.is_empty() {
                self.record(unrecorded.take()).await?;
                batch = self.claim_ready(0).await?;
            }
        }
    }

    /// Claims and works through one batch, handing back unsent whatever has not started
    /// once `stop` turns true.
    pub async fn send_batch_until(
        &self,
        stop: &watch::Receiver<bool>,
    ) -> Result<BatchReport, DbErr> {
        let batch = self.claim_ready(0).await?;
        if batch.messages.is_empty() {
            return Ok(BatchReport {
                rate_limited: batch.rate_limited,
                ..BatchReport::default()
            });
        }
        let mut delivered = self.deliver(&batch, stop).await;
        let report = delivered.report;
        let failure = delivered.failure.take();
        self.record(Some(delivered)).await?;
        match failure {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    /// Claims as many due messages as the batch size and the per-minute limit allow,
    /// `in_flight` messages being sent meanwhile, reads what they need and typesets the
    /// PDFs their receipts lack. The PDFs are stored when the batch's delivery begins
    /// ([`Worker::deliver`]).
    async fn claim_ready(&self, in_flight: u32) -> Result<Arc<ClaimedBatch>, DbErr> {
        let budget = self.budget().0.saturating_sub(in_flight);
        if budget == 0 {
            return Ok(Arc::new(ClaimedBatch {
                messages: Vec::new(),
                prefetched: templates::Prefetched::default(),
                rate_limited: true,
            }));
        }
        let messages = outbox::claim_due(
            &self.inner.db,
            &self.inner.id,
            self.inner.settings.batch_size.min(budget),
            self.inner.settings.lease,
        )
        .await?;
        if messages.is_empty() {
            return Ok(Arc::new(ClaimedBatch {
                messages,
                prefetched: templates::Prefetched::default(),
                rate_limited: false,
            }));
        }
        // What the batch's messages need from the database is read once for all of them;
        // if that fails, each message reads its own (and a failure there is a retry).
        let prefetched = templates::Prefetched::read(&self.inner.db, &messages)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "cannot read ahead for a batch of messages");
                templates::Prefetched::default()
            });
        Ok(Arc::new(ClaimedBatch {
            messages,
            prefetched,
            rate_limited: false,
        }))
    }

    /// Hands a claimed batch back unsent, for this or another worker to claim again. The
    /// PDFs it typeset are stored first, so that work is not done again.
    async fn hand_back(&self, batch: &ClaimedBatch) -> Result<usize, DbErr> {
        batch.prefetched.store(&self.inner.db).await;
        let ids: Vec<i64> = batch.messages.iter().map(|m| m.id).collect();
        let _turn = write_turn(&self.inner.db).await?;
        outbox::release(&self.inner.db, &ids, &self.inner.id).await?;
        Ok(ids.len())
    }

    /// Delivers a claimed batch's messages, not yet recording what happened to them,
    /// and leaves unsent whatever has not started once `stop` turns true. First it stores
    /// the PDFs the batch typeset, so that each receipt is sent with the PDF stored for
    /// it, and reads the PDFs stored before and whether its appeals' donors still want
    /// them, as they are now.
    async fn deliver(&self, batch: &Arc<ClaimedBatch>, stop: &watch::Receiver<bool>) -> Delivered {
        batch.prefetched.store(&self.inner.db).await;
        batch.prefetched.read_before_sending(&self.inner.db).await;
        let mut delivered = Delivered {
            report: BatchReport {
                claimed: batch.messages.len(),
                ..BatchReport::default()
            },
            outcomes: Vec::new(),
            unsent: Vec::new(),
            failure: None,
        };
        // Up to SMTP_CONNECTIONS messages are in flight at once, one per pooled
        // connection: delivery time is mostly waiting for the server. Each is rendered,
        // built and sent on a task of its own, so the batch's messages are built on every
        // processor rather than on the one running this loop.
        let mut results = futures_util::stream::iter(0..batch.messages.len())
            .map(|index| {
                let inner = Arc::clone(&self.inner);
                let batch = Arc::clone(batch);
                let stop = stop.clone();
                async move {
                    let id = batch.messages[index].id;
                    let task = tokio::spawn(async move {
                        if *stop.borrow() {
                            return None;
                        }
                        let message = &batch.messages[index];
                        Some(inner.deliver_claimed(message, &batch.prefetched).await)
                    });
                    (id, task.await)
                }
            })
            .buffer_unordered(SMTP_CONNECTIONS as usize);
        while let Some((id, finished)) = results.next().await {
            let outcome = match finished {
                Ok(outcome) => outcome,
                Err(ended) => {
                    // The task was cancelled or panicked outside the message's own
                    // guard: whether it was sent is unknown, so the message keeps its
                    // lease and is sent again when the lease runs out.
                    tracing::error!(message = id, %ended, "a message's task ended without an outcome");
                    continue;
                }
            };
            let report = &mut delivered.report;
            match outcome {
                None => {
                    delivered.unsent.push(id);
                    report.released += 1;
                }
                Some(Err(error)) => delivered.failure = Some(error),
                Some(Ok(outcome)) => {
                    match outcome {
                        Outcome::Sent { .. } => report.sent += 1,
                        Outcome::Retry { .. } => report.retried += 1,
                        Outcome::Failed { .. } => report.failed += 1,
                        Outcome::Dead { .. } => report.dead += 1,
                        Outcome::Skipped { .. } => report.skipped += 1,
                    }
                    delivered.outcomes.push((id, outcome));
                }
            }
        }
        delivered
    }

    /// Records what happened to a delivered batch: the outcomes in one statement, and
    /// the messages left unsent handed back. A worker that dies before this sends those
    /// messages again when their lease runs out (at least once, never lost).
    async fn record(&self, delivered: Option<Delivered>) -> Result<(), DbErr> {
        let Some(delivered) = delivered else {
            return Ok(());
        };
        let db = &self.inner.db;
        let _turn = write_turn(db).await?;
        let recorded = outbox::record_outcomes(db, &self.inner.id, &delivered.outcomes).await?;
        if recorded < delivered.outcomes.len() {
            tracing::warn!(
                lost = delivered.outcomes.len() - recorded,
                "the lease on some messages ran out before their outcome was recorded"
            );
        }
        outbox::release(db, &delivered.unsent, &self.inner.id).await?;
        Ok(())
    }

    /// Sends due messages until `stop` turns true; the messages being sent when it does
    /// are finished, and the rest handed back for other workers.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        tracing::info!(worker = %self.inner.id, "mailer worker started");
        while !*stop.borrow() {
            let pause = match self.drain_until(&stop).await {
                Ok(report) if report.rate_limited => self.budget().1,
                Ok(_) => self.inner.settings.poll_interval,
                Err(error) => {
                    tracing::error!(%error, "mailer cannot reach the database");
                    self.inner.settings.poll_interval
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::info!(worker = %self.inner.id, "mailer worker stopped");
    }
}

impl Inner {
    fn count_sent(&self) {
        if let Ok(mut window) = self.window.lock() {
            window.sent = window.sent.saturating_add(1);
        }
    }

    /// Renders and delivers one claimed message, and says what happened; the outcome is
    /// recorded with the rest of its batch.
    async fn deliver_claimed(
        &self,
        message: &outbox_row::Model,
        prefetched: &templates::Prefetched,
    ) -> Result<Outcome, DbErr> {
        // A message that cannot be built must not stop the worker: a panic while
        // rendering or building it fails that message for good, and the batch goes on.
        let outcome = match AssertUnwindSafe(self.attempt(message, prefetched))
            .catch_unwind()
            .await
        {
            Ok(outcome) => outcome?,
            Err(panic) => {
                let reason = format!(
                    "the message could not be built: {}",
                    panic_reason(panic.as_ref())
                );
                tracing::error!(message = message.id, %reason, "cannot build message");
                Outcome::Failed { reason }
            }
        };
        if matches!(outcome, Outcome::Sent { .. }) {
            self.count_sent();
        }
        Ok(outcome)
    }

    /// Renders and delivers one claimed message, and says what happened.
    async fn attempt(
        &self,
        message: &outbox_row::Model,
        prefetched: &templates::Prefetched,
    ) -> Result<Outcome, DbErr> {
        if let Some(reason) = appeal_no_longer_wanted(&self.db, message, prefetched).await? {
            tracing::info!(message = message.id, %reason, "appeal skipped");
            return Ok(Outcome::Skipped { reason });
        }
        let rendered = match templates::render_prefetched(
            &self.db,
            &self.mail.org,
            self.mail.download_links.as_ref(),
            message,
            prefetched,
        )
        .await
        {
            Ok(rendered) => rendered,
            Err(RenderError::Database(error)) => {
                return Ok(self.temporary(message, format!("database: {error}")));
            }
            Err(error) => {
                tracing::error!(message = message.id, %error, "cannot render message");
                return Ok(Outcome::Failed {
                    reason: error.to_string(),
                });
            }
        };
        let message_id = format!(
            "<outbox-{}.{}@{}>",
            message.id,
            uuid::Uuid::new_v4().simple(),
            self.mail
                .mail_from
                .as_str()
                .rsplit('@')
                .next()
                .unwrap_or("localhost")
        );
        let email = match build_message(&self.mail, message, rendered, &message_id) {
            Ok(email) => email,
            Err(reason) => {
                tracing::error!(message = message.id, %reason, "cannot build message");
                return Ok(Outcome::Failed { reason });
            }
        };
        let stem = format!("{}-{}", message.id, message.kind);
        match self.transport.deliver(&email, &stem).await {
            Ok(()) => {
                tracing::info!(message = message.id, kind = %message.kind, "sent");
                Ok(Outcome::Sent { message_id })
            }
            Err(DeliveryError::Temporary(reason)) => {
                tracing::warn!(message = message.id, %reason, "delivery failed; will retry");
                Ok(self.temporary(message, reason))
            }
            Err(DeliveryError::Permanent(reason)) => {
                tracing::warn!(message = message.id, %reason, "delivery refused for good");
                if let Some(donor_id) = message.donor_id {
                    suppress_address(&self.db, donor_id, &message.to_address, &reason).await?;
                }
                Ok(Outcome::Failed { reason })
            }
        }
    }

    fn temporary(&self, message: &outbox_row::Model, reason: String) -> Outcome {
        let attempts = u32::try_from(message.attempts).unwrap_or(u32::MAX);
        if attempts >= self.settings.max_attempts {
            return Outcome::Dead {
                reason: format!("gave up after {attempts} attempts: {reason}"),
            };
        }
        let delay = retry_delay(self.settings.retry_base, attempts);
        Outcome::Retry {
            reason,
            retry_at: Utc::now()
                + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::hours(6)),
        }
    }
}

/// Exponential backoff with jitter: about `base × 2^(attempts−1)`, within ±25%, capped
/// at six hours.
pub fn retry_delay(base: Duration, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(16);
    let nominal = base
        .saturating_mul(1u32 << exponent)
        .min(Duration::from_secs(6 * 3600));
    let jitter: f64 = rand::rng().random_range(0.75..=1.25);
    nominal.mul_f64(jitter)
}

/// What a caught panic said, when it said it as text.
fn panic_reason(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a library panicked".to_owned())
}

/// Refuses header text that carries a control character: a CR or LF would end the
/// header (or let text inject another), and the mail library panics on some of them.
fn header_text<'a>(what: &str, text: &'a str) -> Result<&'a str, String> {
    match text.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!(
            "the {what} carries a control character ({:?}) and cannot go in a header",
            c
        )),
        None => Ok(text),
    }
}

/// Builds the MIME message: From, To, Subject, Date and Message-ID headers; plain text
/// and HTML alternatives; attachments. Text that cannot be a header refuses the
/// message, with its reason. The rendered parts move into the message, uncopied.
fn build_message(
    mail: &MailSettings,
    row: &outbox_row::Model,
    rendered: Rendered,
    message_id: &str,
) -> Result<Message, String> {
    let from_name = (!mail.mail_from_name.is_empty())
        .then(|| header_text("sender's name", &mail.mail_from_name).map(str::to_owned))
        .transpose()?;
    let from = Mailbox::new(
        from_name,
        mail.mail_from
            .as_str()
            .parse()
            .map_err(|e| format!("MAIL_FROM is not an address: {e}"))?,
    );
    let to_name = row
        .to_name
        .as_deref()
        .map(|name| header_text("recipient's name", name).map(str::to_owned))
        .transpose()?;
    let subject = header_text("subject", &rendered.subject)?;
    let to = Mailbox::new(
        to_name,
        row.to_address
            .parse()
            .map_err(|e| format!("recipient {} is not an address: {e}", row.to_address))?,
    );
    let body = MultiPart::alternative_plain_html(rendered.text, rendered.html);
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .date(std::time::SystemTime::now())
        .message_id(Some(message_id.to_owned()));
    for (name, value) in &rendered.headers {
        let name = lettre::message::header::HeaderName::new_from_ascii(name.clone())
            .map_err(|e| format!("bad header name {name}: {e}"))?;
        let value = header_text("header value", value)?;
        builder = builder.raw_header(lettre::message::header::HeaderValue::new(
            name,
            value.to_owned(),
        ));
    }
    let built = if rendered.attachments.is_empty() {
        builder.multipart(body)
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for attachment in rendered.attachments {
            let content_type = ContentType::parse(&attachment.content_type)
                .map_err(|e| format!("bad attachment type: {e}"))?;
            let filename = header_text("attachment's name", &attachment.filename)?;
            mixed = mixed.singlepart(
                LettreAttachment::new(filename.to_owned())
                    .body(base64_body(&attachment.bytes), content_type),
            );
        }
        builder.multipart(mixed)
    };
    built.map_err(|e| format!("cannot build the message: {e}"))
}

/// An attachment's bytes as the base64 body lettre makes of bytes (lines of 76
/// characters, RFC 2045, joined by CRLF, the last one unended), encoded in one pass:
/// lettre encodes 57 bytes at a time through a formatter and checks each line's text,
/// and first scans the bytes to choose an encoding, when an attachment is always
/// base64.
fn base64_body(bytes: &[u8]) -> Body {
    const LINE: usize = 76;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut body = Vec::with_capacity(encoded.len() + encoded.len() / LINE * 2);
    for (index, line) in encoded.as_bytes().chunks(LINE).enumerate() {
        if index > 0 {
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(line);
    }
    Body::dangerous_pre_encoded(body, ContentTransferEncoding::Base64)
}

/// Why an appeal queued earlier must not go now: its donor unsubscribed from appeals,
/// withdrew consent to email, or their address started refusing mail or changed since
/// it was queued (`templates::appeal::refusal`). The donor is as its batch read it when
/// its delivery began, or read now. Other kinds of email (receipts) always go.
async fn appeal_no_longer_wanted(
    db: &DatabaseConnection,
    message: &outbox_row::Model,
    prefetched: &templates::Prefetched,
) -> Result<Option<String>, DbErr> {
    if message.kind != templates::appeal::KIND {
        return Ok(None);
    }
    let Some(donor_id) = message.donor_id else {
        return Ok(None);
    };
    let found = match prefetched.appeal_recipient(donor_id) {
        Some(read) => read,
        None => templates::appeal::recipients(db, vec![donor_id])
            .await?
            .remove(&donor_id),
    };
    Ok(templates::appeal::refusal(
        found.as_ref(),
        &message.to_address,
    ))
}

/// Marks a donor's address as refusing mail, so appeals skip it (receipts still try).
async fn suppress_address(
    db: &DatabaseConnection,
    donor_id: i64,
    address: &str,
    reason: &str,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let _turn = write_turn(db).await?;
    donor::Entity::update_many()
        .col_expr(donor::Column::EmailSuppressedAt, Expr::value(now))
        .col_expr(
            donor::Column::EmailSuppressedReason,
            Expr::value(reason.to_owned()),
        )
        .col_expr(donor::Column::UpdatedAt, Expr::value(now))
        .filter(donor::Column::Id.eq(donor_id))
        .filter(donor::Column::Email.eq(address))
        .filter(donor::Column::EmailSuppressedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_within_the_jitter() {
        let base = Duration::from_secs(60);
        for (attempts, nominal) in [(1, 60.0), (2, 120.0), (3, 240.0), (6, 1920.0)] {
            let delay = retry_delay(base, attempts).as_secs_f64();
            assert!(
                (nominal * 0.75..=nominal * 1.25).contains(&delay),
                "{attempts}: {delay}"
            );
        }
        assert!(retry_delay(base, 40) <= Duration::from_secs(6 * 3600 * 5 / 4));
    }

    #[test]
    fn header_text_with_a_control_character_is_refused() {
        assert_eq!(header_text("subject", "Gracias, Rosa"), Ok("Gracias, Rosa"));
        for text in [
            "Rosa\r\nBcc: x@example.org",
            "Rosa\n",
            "Ro\u{0}sa",
            "Ro\tsa",
        ] {
            let refused = header_text("recipient's name", text);
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|reason| reason.contains("recipient's name")),
                "{text:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn attachments_are_encoded_as_lettre_encodes_bytes() {
        // Bytes that are not UTF-8, so lettre chooses base64 for them.
        let bytes: Vec<u8> = (0..20_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
            .collect();
        for length in [1, 2, 3, 56, 57, 58, 113, 114, 115, 171, 1_000, 20_000] {
            let part = &bytes[..length];
            let ours = base64_body(part);
            let theirs = Body::new(part.to_vec());
            assert_eq!(theirs.encoding(), ContentTransferEncoding::Base64);
            assert_eq!(ours.encoding(), ContentTransferEncoding::Base64);
            assert_eq!(
                String::from_utf8_lossy(ours.as_ref()),
                String::from_utf8_lossy(theirs.as_ref()),
                "{length} bytes"
            );
        }
        assert_eq!(base64_body(b"%PDF-1.7\n").as_ref(), b"JVBERi0xLjcK");
        assert!(base64_body(b"").as_ref().is_empty());
    }

    #[test]
    fn a_caught_panic_keeps_its_message() {
        let caught = std::panic::catch_unwind(|| panic!("writing `Mailbox` failed"))
            .err()
            .map(|panic| panic_reason(panic.as_ref()));
        assert_eq!(caught.as_deref(), Some("writing `Mailbox` failed"));
        let formatted = std::panic::catch_unwind(|| panic!("{} failed", "writing"))
            .err()
            .map(|panic| panic_reason(panic.as_ref()));
        assert_eq!(formatted.as_deref(), Some("writing failed"));
    }
}
