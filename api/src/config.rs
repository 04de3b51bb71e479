//! Configuration: built-in defaults, then an optional TOML file, then environment
//! variables. Every value is checked at start-up; a bad one stops the service with a
//! message naming the variable.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use entity::{Currency, EmailAddress};
use ipnet::IpNet;
use url::Url;

pub use mailer::config::{ConfigError, Organization, Secret, WorkerSettings};
use mailer::config::{
    MailSettings, UnknownSettings, parse_bool, parse_download_link_key, parse_http_url,
    parse_listen_addr, parse_public_url, raw_settings, read_config_file,
};

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
    /// Shows where the database is, never its user, password or query.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", mailer::config::describe_database_url(&self.0))
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
    /// How long one staff API request may run before it is stopped.
    pub graphql_deadline: Duration,
    /// Requests per minute each API token earns, and how many it may spend at once.
    pub graphql_rate_per_minute: u32,
    pub graphql_burst: u32,
    /// The largest staff API answer sent, in bytes.
    pub graphql_max_response_bytes: usize,
    /// How long a verified staff token and the donation page's funds, Circle and appeal
    /// are kept in memory; a change made by another process is seen within it (see
    /// `read_cache`).
    pub read_cache_lifetime: Duration,
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
    /// Days a personal donate link in an email appeal opens the donor's page.
    pub donate_link_days: u32,
    /// What the donation page does against card testers and forged posts.
    pub checkout: CheckoutSettings,
    /// The one currency the organization keeps its books in: every amount staff enter
    /// is in it, so no total skips a gift.
    pub org_currency: Currency,
    /// The bearer token `/metrics` asks for; without it `/metrics` does not exist.
    pub metrics_token: Option<Secret>,
}

/// A budget of `count` events per `window`, of which `burst` may come at once;
/// `count` 0 turns the budget off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub count: u32,
    pub window: Duration,
    pub burst: u32,
}

/// The checkout's defences, each from its own variable (see the README's Security section).
#[derive(Debug, Clone)]
pub struct CheckoutSettings {
    /// The smallest gift the donation page takes, in minor units.
    pub min_gift_minor: i64,
    /// Checkout Sessions per client address.
    pub per_address: Budget,
    /// Checkout Sessions per donor email.
    pub per_email: Budget,
    /// Checkout Sessions for the whole service, whoever asks.
    pub global: Budget,
    /// How long a donation form stays valid after the page was shown.
    pub form_max_age: Duration,
    /// Refuse posts whose `Origin` (or `Referer`) is not `PUBLIC_URL`.
    pub check_origin: bool,
    /// Refuse posts that fill the hidden field only robots see.
    pub honeypot: bool,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
}

/// Every setting, with its default (the mail settings are the mailer's own, in
/// `mailer::config::SETTINGS`). The names are the environment variables; a config
/// file uses the same names in lower case.
const SETTINGS: &[(&str, Option<&str>)] = &[
    ("STRIPE_SECRET_KEY", None),
    ("STRIPE_WEBHOOK_SECRET", None),
    ("STRIPE_API_BASE", Some("https://api.stripe.com")),
    ("MAILER_IN_PROCESS", Some("true")),
    ("LOG_FORMAT", Some("text")),
    ("GRAPHQL_INTROSPECTION", Some("true")),
    ("GRAPHQL_DEADLINE_SECS", Some("10")),
    ("GRAPHQL_RATE_PER_MINUTE", Some("300")),
    ("GRAPHQL_BURST", Some("60")),
    ("GRAPHQL_MAX_RESPONSE_BYTES", Some("8388608")),
    ("READ_CACHE_SECS", Some("5")),
    ("SHUTDOWN_TIMEOUT_SECS", Some("30")),
    ("CLUB_GRACE_DAYS", Some("30")),
    ("DONATE_LINK_DAYS", Some("90")),
    ("MIN_GIFT", Some("5")),
    ("CHECKOUT_PER_ADDRESS", Some("5")),
    ("CHECKOUT_ADDRESS_WINDOW_SECS", Some("600")),
    ("CHECKOUT_ADDRESS_BURST", Some("3")),
    ("CHECKOUT_PER_EMAIL", Some("3")),
    ("CHECKOUT_EMAIL_WINDOW_SECS", Some("3600")),
    ("CHECKOUT_GLOBAL_PER_MINUTE", Some("30")),
    ("CHECKOUT_FORM_MAX_AGE_SECS", Some("3600")),
    ("CHECKOUT_CHECK_ORIGIN", Some("true")),
    ("CHECKOUT_HONEYPOT", Some("true")),
    ("TRUSTED_PROXIES", None),
    ("ORG_CURRENCY", Some("USD")),
    ("METRICS_TOKEN", None),
];

pub use mailer::config::CONFIG_FILE_VARIABLE;

impl Config {
    /// Reads the process environment, and the file it names in `CONFIG_FILE` (or `path`).
    pub fn load(path: Option<PathBuf>) -> Result<Self, ConfigError> {
        let path = path.or_else(|| std::env::var_os(CONFIG_FILE_VARIABLE).map(PathBuf::from));
        let file = read_config_file(path.as_deref())?;
        Config::from_sources(file.as_deref(), |name| std::env::var(name).ok())
    }

    /// Builds the configuration from a config file's text and an environment lookup.
    pub fn from_sources(
        file: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let raw = raw_settings(
            &[SETTINGS, mailer::config::SETTINGS],
            file,
            env,
            UnknownSettings::Refuse,
        )?;
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

        let listen_addr = parse_listen_addr(&get)?;
        let public_url = parse_public_url(&get)?;
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
        let download_link_key = parse_download_link_key(&get)?;

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

        let graphql_deadline = required("GRAPHQL_DEADLINE_SECS")?
            .parse::<f64>()
            .ok()
            .filter(|secs| *secs > 0.0 && *secs <= 600.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| {
                ConfigError::new(
                    "GRAPHQL_DEADLINE_SECS",
                    "must be a number of seconds above 0 and at most 600, like 10 or 2.5",
                )
            })?;
        let whole = |name: &'static str, range: std::ops::RangeInclusive<u64>| {
            required(name)?
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    ConfigError::new(
                        name,
                        format!(
                            "must be a whole number from {} to {}",
                            range.start(),
                            range.end()
                        ),
                    )
                })
        };
        let graphql_rate_per_minute =
            u32::try_from(whole("GRAPHQL_RATE_PER_MINUTE", 1..=100_000_000)?).unwrap_or(u32::MAX);
        let graphql_burst =
            u32::try_from(whole("GRAPHQL_BURST", 1..=100_000_000)?).unwrap_or(u32::MAX);
        let graphql_max_response_bytes =
            usize::try_from(whole("GRAPHQL_MAX_RESPONSE_BYTES", 1_024..=1_073_741_824)?)
                .unwrap_or(usize::MAX);
        let read_cache_lifetime = Duration::from_secs(whole("READ_CACHE_SECS", 0..=60)?);

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
            graphql_deadline,
            graphql_rate_per_minute,
            graphql_burst,
            graphql_max_response_bytes,
            read_cache_lifetime,
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
            donate_link_days: required("DONATE_LINK_DAYS")?
                .parse()
                .ok()
                .filter(|days| (1..=3_650).contains(days))
                .ok_or_else(|| {
                    ConfigError::new("DONATE_LINK_DAYS", "must be a whole number from 1 to 3650")
                })?,
            checkout: CheckoutSettings::parse(&get)?,
            org_currency: Currency::parse(required("ORG_CURRENCY")?).map_err(|_| {
                ConfigError::new(
                    "ORG_CURRENCY",
                    format!(
                        "must be one of {}",
                        Currency::ALL.map(Currency::code).join(", ")
                    ),
                )
            })?,
            metrics_token: match get("METRICS_TOKEN") {
                Some(token) if token.len() >= 32 && token.chars().all(|c| c.is_ascii_graphic()) => {
                    Some(Secret::new(token))
                }
                Some(_) => {
                    return Err(ConfigError::new(
                        "METRICS_TOKEN",
                        "must be at least 32 printable characters without spaces",
                    ));
                }
                None => None,
            },
        })
    }

    /// Where appeal links point, the key that signs them and how long personal donate
    /// links open; `None` without `DOWNLOAD_LINK_KEY`.
    pub fn appeal_links(&self) -> Option<crate::domain::appeal_sends::LinkSettings<'_>> {
        self.download_link_key
            .as_ref()
            .map(|key| crate::domain::appeal_sends::LinkSettings {
                public_url: &self.public_url,
                key: key.expose(),
                donate_link_valid_for: chrono::Duration::days(i64::from(self.donate_link_days)),
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
            download_links: self
                .download_link_key
                .as_ref()
                .map(|key| mailer::links::DownloadLinks::new(self.public_url.clone(), key.clone())),
        }
    }

    /// What production still lacks, one line per setting: the variable and what goes
    /// wrong without it. Empty when the service is ready to take real money and issue
    /// real receipts.
    pub fn production_gaps(&self) -> Vec<(&'static str, &'static str)> {
        let mut gaps = Vec::new();
        if self.stripe_secret_key.is_none() {
            gaps.push((
                "STRIPE_SECRET_KEY",
                "the donation page cannot create Checkout Sessions and card refunds fail",
            ));
        }
        if self.stripe_webhook_secrets.is_empty() {
            gaps.push((
                "STRIPE_WEBHOOK_SECRET",
                "every Stripe webhook is refused, so no payment is recorded",
            ));
        }
        if self.smtp_url.is_none() {
            gaps.push((
                "SMTP_URL",
                "no email leaves: messages are written as .eml files to MAIL_DIR",
            ));
        }
        if self.download_link_key.is_none() {
            gaps.push((
                "DOWNLOAD_LINK_KEY",
                "links in emails stop working when the process restarts, and a separate \
                 mailer cannot run",
            ));
        }
        for variable in self.org.unset_identity() {
            gaps.push((
                variable,
                "still the placeholder: receipts and statements are marked as samples, not \
                 tax receipts",
            ));
        }
        gaps
    }

    /// The configuration for a test or a tool: every default, on the given database.
    pub fn defaults_with_database(database_url: &str) -> Result<Self, ConfigError> {
        let url = database_url.to_owned();
        Config::from_sources(None, move |name| {
            (name == "DATABASE_URL").then(|| url.clone())
        })
    }
}

impl CheckoutSettings {
    fn parse<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<Self, ConfigError> {
        let number = |name: &str, max: u64| -> Result<u64, ConfigError> {
            get(name)
                .and_then(|text| text.parse::<u64>().ok())
                .filter(|n| *n <= max)
                .ok_or_else(|| {
                    ConfigError::new(name, format!("must be a whole number from 0 to {max}"))
                })
        };
        let positive = |name: &str, max: u64| -> Result<u64, ConfigError> {
            number(name, max).and_then(|n| {
                if n == 0 {
                    Err(ConfigError::new(
                        name,
                        format!("must be a whole number from 1 to {max}"),
                    ))
                } else {
                    Ok(n)
                }
            })
        };
        let count = |name: &str| number(name, 1_000_000).map(|n| n as u32);
        let per_address = count("CHECKOUT_PER_ADDRESS")?;
        let per_email = count("CHECKOUT_PER_EMAIL")?;
        let global = count("CHECKOUT_GLOBAL_PER_MINUTE")?;
        let min_gift_text =
            get("MIN_GIFT").ok_or_else(|| ConfigError::new("MIN_GIFT", "must not be empty"))?;
        let min_gift_minor = entity::Money::parse_major(min_gift_text, entity::Currency::Usd)
            .map(entity::Money::amount_minor)
            .map_err(|_| {
                ConfigError::new("MIN_GIFT", "must be an amount in dollars, like 5 or 2.50")
            })?;
        let trusted_proxies = match get("TRUSTED_PROXIES") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(parse_proxy)
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        Ok(CheckoutSettings {
            min_gift_minor,
            per_address: Budget {
                count: per_address,
                window: Duration::from_secs(positive("CHECKOUT_ADDRESS_WINDOW_SECS", 86_400)?),
                burst: positive("CHECKOUT_ADDRESS_BURST", 1_000_000)? as u32,
            },
            per_email: Budget {
                count: per_email,
                window: Duration::from_secs(positive("CHECKOUT_EMAIL_WINDOW_SECS", 86_400)?),
                burst: per_email.max(1),
            },
            global: Budget {
                count: global,
                window: Duration::from_secs(60),
                burst: global.max(1),
            },
            form_max_age: Duration::from_secs(positive("CHECKOUT_FORM_MAX_AGE_SECS", 86_400)?),
            check_origin: parse_bool(
                "CHECKOUT_CHECK_ORIGIN",
                get("CHECKOUT_CHECK_ORIGIN").unwrap_or("true"),
            )?,
            honeypot: parse_bool(
                "CHECKOUT_HONEYPOT",
                get("CHECKOUT_HONEYPOT").unwrap_or("true"),
            )?,
            trusted_proxies,
        })
    }
}

/// One trusted proxy: an address (`10.0.0.7`) or a network (`10.0.0.0/8`).
fn parse_proxy(text: &str) -> Result<IpNet, ConfigError> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            ConfigError::new(
                "TRUSTED_PROXIES",
                "must be comma-separated addresses or networks, like 10.0.0.7, 10.1.0.0/16",
            )
        })
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
            ("MIN_GIFT", "five"),
            ("MIN_GIFT", "0"),
            ("CHECKOUT_PER_ADDRESS", "-1"),
            ("CHECKOUT_ADDRESS_WINDOW_SECS", "0"),
            ("CHECKOUT_ADDRESS_BURST", "0"),
            ("CHECKOUT_PER_EMAIL", "many"),
            ("CHECKOUT_EMAIL_WINDOW_SECS", "86401"),
            ("CHECKOUT_GLOBAL_PER_MINUTE", "1.5"),
            ("CHECKOUT_FORM_MAX_AGE_SECS", "0"),
            ("CHECKOUT_CHECK_ORIGIN", "maybe"),
            ("CHECKOUT_HONEYPOT", "sometimes"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
        ] {
            assert_eq!(
                variable_of(config_with(&[(variable, value)])),
                variable,
                "{value}"
            );
        }
    }

    #[test]
    fn the_checkout_defences_are_on_by_default() -> Result<(), ConfigError> {
        let checkout = config_with(&[])?.checkout;
        assert_eq!(checkout.min_gift_minor, 500);
        assert_eq!(
            checkout.per_address,
            Budget {
                count: 5,
                window: Duration::from_secs(600),
                burst: 3
            }
        );
        assert_eq!(checkout.per_email.count, 3);
        assert_eq!(checkout.per_email.window, Duration::from_secs(3600));
        assert_eq!(checkout.global.count, 30);
        assert_eq!(checkout.form_max_age, Duration::from_secs(3600));
        assert!(checkout.check_origin && checkout.honeypot);
        assert!(checkout.trusted_proxies.is_empty());
        Ok(())
    }

    #[test]
    fn trusted_proxies_take_addresses_and_networks() -> Result<(), ConfigError> {
        let config = config_with(&[
            ("TRUSTED_PROXIES", "10.0.0.7, 10.1.0.0/16,::1"),
            ("MIN_GIFT", "2.50"),
        ])?;
        let proxies: Vec<String> = config
            .checkout
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(proxies, ["10.0.0.7/32", "10.1.0.0/16", "::1/128"]);
        assert_eq!(config.checkout.min_gift_minor, 250);
        Ok(())
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
    fn the_defaults_lack_everything_production_needs() -> Result<(), ConfigError> {
        let gaps: Vec<&str> = config_with(&[])?
            .production_gaps()
            .into_iter()
            .map(|(variable, _)| variable)
            .collect();
        assert_eq!(
            gaps,
            [
                "STRIPE_SECRET_KEY",
                "STRIPE_WEBHOOK_SECRET",
                "SMTP_URL",
                "DOWNLOAD_LINK_KEY",
                "ORG_LEGAL_NAME",
                "ORG_EIN",
                "ORG_ADDRESS"
            ]
        );
        Ok(())
    }

    #[test]
    fn a_configuration_with_every_production_setting_lacks_nothing() -> Result<(), ConfigError> {
        let key = "k".repeat(40);
        let config = config_with(&[
            ("STRIPE_SECRET_KEY", "sk_live_123"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_123"),
            ("SMTP_URL", "smtp://mail.example.org:587?tls=required"),
            ("DOWNLOAD_LINK_KEY", &key),
            ("ORG_LEGAL_NAME", "Coalition for Humane Immigrant Rights"),
            ("ORG_EIN", "95-4123456"),
            ("ORG_ADDRESS", "2533 W. 3rd Street, Los Angeles, CA 90057"),
        ])?;
        assert_eq!(config.production_gaps(), []);
        assert!(!config.org.issues_samples());
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
