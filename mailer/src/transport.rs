//! Where messages leave: an SMTP server (plain, STARTTLS or TLS, with credentials, over
//! pooled connections), or `.eml` files in a folder when no SMTP server is configured.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use url::Url;

use crate::config::MailSettings;

/// Pooled connections to the SMTP server, and so messages in flight per worker.
pub const SMTP_CONNECTIONS: u32 = 4;

/// How long one delivery may take, connecting included.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later: the server was unreachable or answered 4xx.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// The server refused the message for good (5xx).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// The configured way out.
#[derive(Clone)]
pub enum Transport {
    /// Plain SMTP (a relay on the same host or network), on our own connections.
    PlainSmtp(Arc<PlainSmtp>),
    /// STARTTLS or TLS, through lettre's pooled transport.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Directory(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::PlainSmtp(smtp) => {
                write!(f, "Transport::PlainSmtp({}:{})", smtp.host, smtp.port)
            }
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
            Transport::Directory(dir) => write!(f, "Transport::Directory({})", dir.display()),
        }
    }
}

impl Transport {
    /// SMTP when `SMTP_URL` is set, otherwise files in `MAIL_DIR`.
    pub fn from_settings(settings: &MailSettings) -> Result<Self, lettre::transport::smtp::Error> {
        let plain = settings
            .smtp_url
            .as_ref()
            .and_then(|url| PlainSmtp::from_url(url.expose()));
        if let Some(plain) = plain {
            return Ok(Transport::PlainSmtp(Arc::new(plain)));
        }
        match &settings.smtp_url {
            Some(url) => Ok(Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())?
                    .timeout(Some(SMTP_TIMEOUT))
                    .pool_config(PoolConfig::new().max_size(SMTP_CONNECTIONS))
                    .build(),
            )),
            None => Ok(Transport::Directory(settings.mail_dir.clone())),
        }
    }

    /// Hands one message over. `file_stem` names the `.eml` file in directory mode.
    pub async fn deliver(&self, message: &Message, file_stem: &str) -> Result<(), DeliveryError> {
        match self {
            Transport::PlainSmtp(smtp) => {
                match tokio::time::timeout(SMTP_TIMEOUT, smtp.deliver(message)).await {
                    Ok(delivered) => delivered,
                    Err(_) => Err(DeliveryError::Temporary(format!(
                        "the SMTP server did not answer within {} s",
                        SMTP_TIMEOUT.as_secs()
                    ))),
                }
            }
            Transport::Smtp(smtp) => smtp
                .send(message.clone())
                .await
                .map(|_| ())
                .map_err(|e| classify(&e)),
            Transport::Directory(dir) => {
                let write = async {
                    tokio::fs::create_dir_all(dir).await?;
                    // Written aside and renamed, so a reader never sees half a message.
                    let partial = dir.join(format!(".{file_stem}.eml.partial"));
                    tokio::fs::write(&partial, message.formatted()).await?;
                    tokio::fs::rename(&partial, dir.join(format!("{file_stem}.eml"))).await
                };
                write.await.map_err(|e| {
                    DeliveryError::Temporary(format!("cannot write to {}: {e}", dir.display()))
                })
            }
        }
    }
}

/// Plain SMTP over pooled connections with Nagle's algorithm off. lettre writes a
/// message and its closing "." in two writes; with Nagle on (lettre does not turn it
/// off), the second write waits for the server's delayed acknowledgment, about 40 ms
/// per message. Replies are awaited after every command, so small writes gain nothing
/// from Nagle here.
pub struct PlainSmtp {
    host: String,
    port: u16,
    credentials: Option<Credentials>,
    hello: ClientId,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
}

impl PlainSmtp {
    /// For `smtp://` URLs without TLS (no `tls` parameter, or `tls=none`); `None` for
    /// the rest, which lettre's transport handles.
    pub fn from_url(text: &str) -> Option<PlainSmtp> {
        let url = Url::parse(text).ok()?;
        if url.scheme() != "smtp" {
            return None;
        }
        let tls = url
            .query_pairs()
            .find(|(key, _)| key == "tls")
            .map(|(_, value)| value.into_owned());
        if tls.is_some_and(|tls| tls != "none") {
            return None;
        }
        // The user and password of a URL are percent-encoded ('+' is a plus sign there).
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = (!url.username().is_empty()).then(|| {
            Credentials::new(
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            )
        });
        Some(PlainSmtp {
            host: url.host_str()?.to_owned(),
            port: url.port().unwrap_or(25),
            credentials,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, DeliveryError> {
        let unreachable = |e: &dyn std::fmt::Display| {
            DeliveryError::Temporary(format!(
                "cannot reach the SMTP server {}:{}: {e}",
                self.host, self.port
            ))
        };
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| unreachable(&e))?;
        stream.set_nodelay(true).map_err(|e| unreachable(&e))?;
        let mut connection =
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                .await
                .map_err(|e| classify(&e))?;
        if let Some(credentials) = &self.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| classify(&e))?;
        }
        Ok(connection)
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        self.idle.lock().ok().and_then(|mut idle| idle.pop())
    }

    fn give_back(&self, connection: AsyncSmtpConnection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < SMTP_CONNECTIONS as usize
        {
            idle.push(connection);
        }
    }

    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        let bytes = message.formatted();
        // A pooled connection the server has since closed fails at once; then one fresh
        // connection is tried before the message waits for its retry.
        if let Some(mut connection) = self.take_idle() {
            match connection.send(message.envelope(), &bytes).await {
                Ok(_) => {
                    self.give_back(connection);
                    return Ok(());
                }
                Err(error) if error.is_permanent() => {
                    connection.abort().await;
                    return Err(classify(&error));
                }
                Err(_) => connection.abort().await,
            }
        }
        let mut connection = self.connect().await?;
        match connection.send(message.envelope(), &bytes).await {
            Ok(_) => {
                self.give_back(connection);
                Ok(())
            }
            Err(error) => {
                connection.abort().await;
                Err(classify(&error))
            }
        }
    }
}

fn classify(error: &lettre::transport::smtp::Error) -> DeliveryError {
    if error.is_permanent() {
        DeliveryError::Permanent(error.to_string())
    } else {
        DeliveryError::Temporary(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_smtp_urls_use_the_nodelay_pool_and_keep_their_credentials() {
        let Some(plain) = PlainSmtp::from_url("smtp://mailer:p%40ss+word@relay.example.org:2525")
        else {
            panic!("a plain smtp URL goes to the nodelay pool");
        };
        assert_eq!(
            (plain.host.as_str(), plain.port),
            ("relay.example.org", 2525)
        );
        let expected = Credentials::new("mailer".into(), "p@ss+word".into());
        assert_eq!(plain.credentials, Some(expected));
        assert!(PlainSmtp::from_url("smtp://relay.example.org?tls=required").is_none());
        assert!(PlainSmtp::from_url("smtps://relay.example.org").is_none());
    }
}
