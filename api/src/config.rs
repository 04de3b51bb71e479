//! Configuration: built-in defaults, then an optional TOML file, then environment
//! variables. Every value is checked at start-up; a bad one stops the service with a
//! message naming the variable.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use entity::{Currency, EmailAddress};
use url::Url;

pub use mailer::config::{ConfigError, Organization, Secret, WorkerSettings};
use mailer::config::{MailSettings, parse_bool};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
}

impl fmt::Debug for DatabaseUrl {
    /// Shows the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("redacted"));
                write!(f, "{:?}", url.as_str())
            }
            _ => write!(f, "{:?}", self.0),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub listen_addr: SocketAddr,
    /// Where donors reach the service; links in emails and Stripe's return URLs start here.
    pub public_url: Url,
    pub stripe_secret_key: Option<Secret>,
    /// Several secrets may be valid at once while one is rotated.
    pub stripe_webhook_secrets: Vec<Secret>,
    pub stripe_api_base: Url,
    /// Where mail leaves; without it messages are written as `.eml` files to `mail_dir`.
    pub smtp_url: Option<Secret>,
    pub mail_from: EmailAddress,
    pub mail_from_name: String,
    pub mail_dir: PathBuf,
    /// Run the mailer worker inside `api serve`.
    pub mailer_in_process: bool,
    pub org: Organization,
    pub log_format: LogFormat,
    pub graphql_introspection: bool,
    /// How long shutdown waits for requests in flight.
    pub shutdown_timeout: Duration,
    /// How the mailer worker paces itself.
    pub mailer: WorkerSettings,
    /// Signs donors' download links for receipts and statements (at least 32
    /// characters); without it a random key is made at start, so links last only as
    /// long as the process.
    pub download_link_key: Option<Secret>,
    /// Days a past-due pledge keeps counting toward its donor's club tier.
    pub club_grace_days: u32,
    /// The one currency the organization keeps its books in: every amount staff enter
    /// is in it, so no total skips a gift.
    pub org_currency: Currency,
}

/// Every setting, with its default (the mail settings are the mailer's own, in
/// `mailer::config::SETTINGS`). The names are the environment variables; a config
/// file uses the same names in lower case.
const SETTINGS: &[(&str, Option<&str>)] = &[
    ("DATABASE_URL", Some("sqlite://giving.db?mode=rwc")),
    ("LISTEN_ADDR", Some("127.0.0.1:8080")),
    ("PUBLIC_URL", None),
    ("STRIPE_SECRET_KEY", None),
    ("STRIPE_WEBHOOK_SECRET", None),
    ("STRIPE_API_BASE", Some("https://api.stripe.com")),
    ("MAILER_IN_PROCESS", Some("true")),
    ("DOWNLOAD_LINK_KEY", None),
    ("LOG_FORMAT", Some("text")),
    ("GRAPHQL_INTROSPECTION", Some("true")),
    ("SHUTDOWN_TIMEOUT_SECS", Some("30")),
    ("CLUB_GRACE_DAYS", Some("30")),
    ("ORG_CURRENCY", Some("USD")),
];

/// The variable that names a config file.
pub const CONFIG_FILE_VARIABLE: &str = "CONFIG_FILE";

impl Config {
    /// Reads the process environment, and the file it names in `CONFIG_FILE` (or `path`).
    pub fn load(path: Option<PathBuf>) -> Result<Self, ConfigError> {
        let path = path.or_else(|| std::env::var_os(CONFIG_FILE_VARIABLE).map(PathBuf::from));
        let file = match path {
            Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::new(
                    CONFIG_FILE_VARIABLE,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?),
            None => None,
        };
        Config::from_sources(file.as_deref(), |name| std::env::var(name).ok())
    }

    /// Builds the configuration from a config file's text and an environment lookup.
    pub fn from_sources(
        file: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut raw: BTreeMap<&str, String> = BTreeMap::new();
        for (name, default) in SETTINGS.iter().chain(mailer::config::SETTINGS) {
            if let Some(default) = default {
                raw.insert(name, (*default).to_owned());
            }
        }
        if let Some(text) = file {
            let table: toml::Table = text.parse().map_err(|e| {
                ConfigError::new(CONFIG_FILE_VARIABLE, format!("not valid TOML: {e}"))
            })?;
            for (key, value) in table {
                let upper = key.to_ascii_uppercase();
                let name = SETTINGS
                    .iter()
                    .chain(mailer::config::SETTINGS)
                    .map(|(name, _)| *name)
                    .find(|name| *name == upper)
                    .ok_or_else(|| {
                        ConfigError::new(CONFIG_FILE_VARIABLE, format!("unknown setting {key:?}"))
                    })?;
                let text = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => {
                        return Err(ConfigError::new(
                            name,
                            format!(
                                "must be a string, number or boolean, not {}",
                                other.type_str()
                            ),
                        ));
                    }
                };
                raw.insert(name, text);
            }
        }
        for (name, _) in SETTINGS.iter().chain(mailer::config::SETTINGS) {
            if let Some(value) = env(name) {
                raw.insert(name, value);
            }
        }
        Config::parse(&raw)
    }

    fn parse(raw: &BTreeMap<&str, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| raw.get(name).map(|s| s.trim()).filter(|s| !s.is_empty());
        let required =
            |name: &str| get(name).ok_or_else(|| ConfigError::new(name, "must not be empty"));

        let database_url = required("DATABASE_URL")?;
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }

        let listen_addr: SocketAddr = required("LISTEN_ADDR")?.parse().map_err(|_| {
            ConfigError::new(
                "LISTEN_ADDR",
                "must be an address and port, like 127.0.0.1:8080",
            )
        })?;

        let public_url = match get("PUBLIC_URL") {
            Some(text) => parse_http_url("PUBLIC_URL", text)?,
            None => parse_http_url("PUBLIC_URL", &format!("http://{listen_addr}"))?,
        };
        let stripe_api_base = parse_http_url("STRIPE_API_BASE", required("STRIPE_API_BASE")?)?;

        let stripe_secret_key = match get("STRIPE_SECRET_KEY") {
            Some(key) if key.starts_with("sk_") || key.starts_with("rk_") => Some(Secret::new(key)),
            Some(_) => {
                return Err(ConfigError::new(
                    "STRIPE_SECRET_KEY",
                    "must be a Stripe secret or restricted key (sk_... or rk_...)",
                ));
            }
            None => None,
        };
        let stripe_webhook_secrets = match get("STRIPE_WEBHOOK_SECRET") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|secret| {
                    if secret.starts_with("whsec_") {
                        Ok(Secret::new(secret))
                    } else {
                        Err(ConfigError::new(
                            "STRIPE_WEBHOOK_SECRET",
                            "each comma-separated secret must start with whsec_",
                        ))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };

        let mail = MailSettings::parse(&get)?;
        let mailer = WorkerSettings::parse(&get)?;
        let download_link_key = match get("DOWNLOAD_LINK_KEY") {
            Some(key) if key.chars().count() >= 32 => Some(Secret::new(key)),
            Some(_) => {
                return Err(ConfigError::new(
                    "DOWNLOAD_LINK_KEY",
                    "must be at least 32 characters of random text",
                ));
            }
            None => None,
        };

        let log_format = match required("LOG_FORMAT")?.to_ascii_lowercase().as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(ConfigError::new("LOG_FORMAT", "must be text or json")),
        };
        let shutdown_secs: u64 = required("SHUTDOWN_TIMEOUT_SECS")?
            .parse()
            .ok()
            .filter(|s| (1..=600).contains(s))
            .ok_or_else(|| {
                ConfigError::new(
                    "SHUTDOWN_TIMEOUT_SECS",
                    "must be a whole number from 1 to 600",
                )
            })?;

        Ok(Config {
            database_url: DatabaseUrl::new(database_url),
            listen_addr,
            public_url,
            stripe_secret_key,
            stripe_webhook_secrets,
            stripe_api_base,
            smtp_url: mail.smtp_url,
            mail_from: mail.mail_from,
            mail_from_name: mail.mail_from_name,
            mail_dir: mail.mail_dir,
            mailer_in_process: parse_bool("MAILER_IN_PROCESS", required("MAILER_IN_PROCESS")?)?,
            org: mail.org,
            log_format,
            graphql_introspection: parse_bool(
                "GRAPHQL_INTROSPECTION",
                required("GRAPHQL_INTROSPECTION")?,
            )?,
            shutdown_timeout: Duration::from_secs(shutdown_secs),
            mailer,
            download_link_key,
            club_grace_days: required("CLUB_GRACE_DAYS")?
                .parse()
                .ok()
                .filter(|days| *days <= 365)
                .ok_or_else(|| {
                    ConfigError::new("CLUB_GRACE_DAYS", "must be a whole number from 0 to 365")
                })?,
            org_currency: Currency::parse(required("ORG_CURRENCY")?).map_err(|_| {
                ConfigError::new(
                    "ORG_CURRENCY",
                    format!(
                        "must be one of {}",
                        Currency::ALL.map(Currency::code).join(", ")
                    ),
                )
            })?,
        })
    }

    /// How the giving club treats past-due pledges.
    pub fn club_policy(&self) -> crate::domain::club::ClubPolicy {
        crate::domain::club::ClubPolicy::with_grace_days(self.club_grace_days)
    }

    /// Makes sure download links can be signed: without DOWNLOAD_LINK_KEY, a random key
    /// for this process (links then stop working when it restarts).
    pub fn ensure_download_link_key(&mut self) {
        if self.download_link_key.is_none() {
            use rand::Rng;
            tracing::warn!(
                "DOWNLOAD_LINK_KEY is not set: receipt download links last only until restart"
            );
            let bytes: [u8; 32] = rand::rng().random();
            self.download_link_key = Some(Secret::new(hex::encode(bytes)));
        }
    }

    /// The settings the mailer worker needs, as this configuration states them.
    pub fn mail_settings(&self) -> MailSettings {
        MailSettings {
            smtp_url: self.smtp_url.clone(),
            mail_from: self.mail_from.clone(),
            mail_from_name: self.mail_from_name.clone(),
            mail_dir: self.mail_dir.clone(),
            org: self.org.clone(),
            download_links: self.download_link_key.as_ref().map(|key| {
                mailer::links::DownloadLinks {
                    public_url: self.public_url.clone(),
                    key: key.clone(),
                    valid_for: chrono::Duration::days(30),
                }
            }),
        }
    }

    /// The configuration for a test or a tool: every default, on the given database.
    pub fn defaults_with_database(database_url: &str) -> Result<Self, ConfigError> {
        let url = database_url.to_owned();
        Config::from_sources(None, move |name| {
            (name == "DATABASE_URL").then(|| url.clone())
        })
    }
}

fn parse_http_url(variable: &str, text: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(text).map_err(|e| ConfigError::new(variable, format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            variable,
            "must be an http:// or https:// URL with a host",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_sources(None, move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn variable_of(result: Result<Config, ConfigError>) -> String {
        match result {
            Err(e) => e.variable,
            Ok(_) => "accepted".to_owned(),
        }
    }

    #[test]
    fn defaults_start_on_a_local_sqlite_file() -> Result<(), ConfigError> {
        let config = config_with(&[])?;
        assert!(config.database_url.is_sqlite());
        assert_eq!(config.listen_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.public_url.as_str(), "http://127.0.0.1:8080/");
        assert!(config.smtp_url.is_none());
        assert!(config.mailer_in_process);
        Ok(())
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (variable, value) in [
            ("DATABASE_URL", "mysql://localhost/giving"),
            ("LISTEN_ADDR", "localhost"),
            ("PUBLIC_URL", "ftp://example.org"),
            ("STRIPE_API_BASE", "not a url"),
            ("STRIPE_SECRET_KEY", "pk_live_123"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_a,oops"),
            ("SMTP_URL", "http://mail.example.org"),
            ("MAIL_FROM", "giving at example"),
            ("ORG_EIN", "123456789"),
            ("ORG_TIMEZONE", "Pacific Time"),
            ("LOG_FORMAT", "xml"),
            ("MAILER_IN_PROCESS", "maybe"),
            ("SHUTDOWN_TIMEOUT_SECS", "0"),
            ("MAILER_PER_MINUTE", "0"),
            ("DOWNLOAD_LINK_KEY", "short"),
        ] {
            assert_eq!(
                variable_of(config_with(&[(variable, value)])),
                variable,
                "{value}"
            );
        }
    }

    #[test]
    fn the_environment_overrides_the_file_which_overrides_defaults() -> Result<(), ConfigError> {
        let file = "listen_addr = \"0.0.0.0:9000\"\norg_legal_name = \"From File\"\n";
        let config = Config::from_sources(Some(file), |name| {
            (name == "ORG_LEGAL_NAME").then(|| "From Env".to_owned())
        })?;
        assert_eq!(config.listen_addr.to_string(), "0.0.0.0:9000");
        assert_eq!(config.org.legal_name, "From Env");
        Ok(())
    }

    #[test]
    fn an_unknown_file_setting_is_an_error() {
        let result = Config::from_sources(Some("listen_adress = \"x\""), |_| None);
        assert_eq!(variable_of(result), CONFIG_FILE_VARIABLE);
    }

    #[test]
    fn several_webhook_secrets_allow_rotation() -> Result<(), ConfigError> {
        let config = config_with(&[("STRIPE_WEBHOOK_SECRET", "whsec_old, whsec_new")])?;
        assert_eq!(config.stripe_webhook_secrets.len(), 2);
        Ok(())
    }

    #[test]
    fn secrets_never_appear_in_debug_output() -> Result<(), ConfigError> {
        let config = config_with(&[
            ("STRIPE_SECRET_KEY", "sk_test_supersecret"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_supersecret"),
            ("SMTP_URL", "smtp://user:supersecret@mail.example.org:587"),
            (
                "DATABASE_URL",
                "postgres://giving:supersecret@db.example.org/giving",
            ),
        ])?;
        let debug = format!("{config:?}");
        assert!(!debug.contains("supersecret"), "{debug}");
        Ok(())
    }

    #[test]
    fn mail_from_accepts_a_display_name() -> Result<(), ConfigError> {
        let config = config_with(&[("MAIL_FROM", "\"Giving Team\" <Giving@Example.org>")])?;
        assert_eq!(config.mail_from_name, "Giving Team");
        assert_eq!(config.mail_from.as_str(), "giving@example.org");
        Ok(())
    }

    #[test]
    fn a_download_link_key_is_kept_secret() -> Result<(), ConfigError> {
        let key = "k".repeat(40);
        let config = config_with(&[("DOWNLOAD_LINK_KEY", &key)])?;
        assert_eq!(
            config.download_link_key.as_ref().map(Secret::expose),
            Some(key.as_str())
        );
        assert!(!format!("{config:?}").contains(&key));
        Ok(())
    }
}
