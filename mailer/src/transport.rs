//! Where messages leave: an SMTP server (plain, STARTTLS or TLS, with credentials, over
//! pooled connections), or `.eml` files in a folder when no SMTP server is configured.

use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailSettings;

/// Pooled connections to the SMTP server, and so messages in flight per worker.
pub const SMTP_CONNECTIONS: u32 = 4;

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
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Directory(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
            Transport::Directory(dir) => write!(f, "Transport::Directory({})", dir.display()),
        }
    }
}

impl Transport {
    /// SMTP when `SMTP_URL` is set, otherwise files in `MAIL_DIR`.
    pub fn from_settings(settings: &MailSettings) -> Result<Self, lettre::transport::smtp::Error> {
        match &settings.smtp_url {
            Some(url) => Ok(Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())?
                    .timeout(Some(Duration::from_secs(30)))
                    .pool_config(PoolConfig::new().max_size(SMTP_CONNECTIONS))
                    .build(),
            )),
            None => Ok(Transport::Directory(settings.mail_dir.clone())),
        }
    }

    /// Hands one message over. `file_stem` names the `.eml` file in directory mode.
    pub async fn deliver(&self, message: &Message, file_stem: &str) -> Result<(), DeliveryError> {
        match self {
            Transport::Smtp(smtp) => smtp.send(message.clone()).await.map(|_| ()).map_err(|e| {
                let reason = e.to_string();
                if e.is_permanent() {
                    DeliveryError::Permanent(reason)
                } else {
                    DeliveryError::Temporary(reason)
                }
            }),
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
