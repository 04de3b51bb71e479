//! The settings the mailer needs, shared with the `api` configuration so that both
//! programs read the same variables the same way.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use entity::EmailAddress;
use url::Url;

/// A value that must never appear in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A configuration value that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error in {variable}: {reason}")]
pub struct ConfigError {
    pub variable: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(variable: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.to_owned(),
            reason: reason.into(),
        }
    }
}

/// What a message may say of a database URL: its scheme, host, port and database, never
/// its user, password, query or fragment. A URL that cannot be parsed (an unescaped `#`
/// or `/` in a password) is only named, since any part of it may be the password.
pub fn describe_database_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) if parsed.has_host() => {
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}{}",
                parsed.scheme(),
                parsed.host_str().unwrap_or_default(),
                parsed.path()
            )
        }
        Ok(parsed) if parsed.scheme() == "sqlite" => format!("sqlite:{}", parsed.path()),
        _ => "a URL that cannot be parsed (percent-encode special characters such as # / ? @ in the user and password)".to_owned(),
    }
}

/// A database error as it may be shown: the URL and its credentials (user and
/// password, query parameters) are cut out of the text, whatever the error quoted.
pub fn database_error_text(url: &str, error: &str) -> String {
    let mut text = error.replace(url, &describe_database_url(url));
    let mut secrets: Vec<String> = Vec::new();
    // Whatever sits between the scheme and the last `@` is user and password, parsed
    // or not.
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.rsplit_once('@').map(|(userinfo, _)| userinfo);
        secrets.extend(authority.map(str::to_owned));
        // A driver that misreads the URL may quote any piece of the password, such as
        // the "port" after an unescaped `#`.
        secrets.extend(
            authority
                .into_iter()
                .flat_map(|userinfo| userinfo.split([':', '#', '/', '?']))
                .skip(1)
                .map(str::to_owned),
        );
        secrets.extend(
            authority
                .and_then(|userinfo| userinfo.split_once(':'))
                .map(|(_, password)| password.to_owned()),
        );
    }
    if let Some((_, query)) = url.split_once('?') {
        secrets.push(query.to_owned());
        secrets.extend(
            query
                .split('&')
                .filter_map(|pair| pair.split_once('=').map(|(_, value)| value.to_owned())),
        );
    }
    if let Ok(parsed) = Url::parse(url) {
        secrets.extend(parsed.password().map(str::to_owned));
    }
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    for secret in secrets.iter().filter(|secret| secret.len() >= 3) {
        text = text.replace(secret.as_str(), "…");
    }
    text
}

/// Who the organization is, as receipts and email footers state it.
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub legal_name: String,
    /// The IRS Employer Identification Number, "12-3456789".
    pub ein: String,
    /// The postal address printed on receipts and in every email footer.
    pub address: String,
    /// Dates are shown, and tax years counted, in this zone.
    pub timezone: chrono_tz::Tz,
    /// Tribute notifications one donor's gifts may send in 24 hours; beyond it the gift
    /// is recorded but nobody is emailed, so a donor cannot make the organization mail
    /// strangers in bulk.
    pub tribute_notifications_per_day: u32,
}

/// The organization's placeholders: a value left at one of these is not the
/// organization's own, and documents issued with it are samples.
pub const PLACEHOLDER_LEGAL_NAME: &str = "Immigrant Legal Defense Fund";
pub const PLACEHOLDER_EIN: &str = "00-0000000";
pub const PLACEHOLDER_ADDRESS: &str = "1458 Howard Street, San Francisco, CA 94103";

impl Organization {
    /// The identity variables still at their placeholder: until all three are the
    /// organization's own, receipts are samples and say so.
    pub fn unset_identity(&self) -> Vec<&'static str> {
        [
            ("ORG_LEGAL_NAME", self.legal_name == PLACEHOLDER_LEGAL_NAME),
            ("ORG_EIN", self.ein == PLACEHOLDER_EIN),
            ("ORG_ADDRESS", self.address == PLACEHOLDER_ADDRESS),
        ]
        .into_iter()
        .filter_map(|(name, unset)| unset.then_some(name))
        .collect()
    }

    /// Whether documents issued under this identity are samples, not tax receipts.
    pub fn issues_samples(&self) -> bool {
        !self.unset_identity().is_empty()
    }
}

/// How long a link in an email stays valid.
pub const LINK_VALIDITY_DAYS: i64 = 30;

/// The mailer's settings with their defaults; the names are the environment variables.
/// `api` reads these and its own; the standalone `mailer` reads these alone, so both
/// build the same messages from the same variables.
pub const SETTINGS: &[(&str, Option<&str>)] = &[
    ("DATABASE_URL", Some("sqlite://giving.db?mode=rwc")),
    ("LISTEN_ADDR", Some("127.0.0.1:8080")),
    ("PUBLIC_URL", None),
    ("DOWNLOAD_LINK_KEY", None),
    ("SMTP_URL", None),
    ("MAIL_FROM", Some("Development Office <giving@example.org>")),
    ("MAIL_DIR", Some("mail")),
    ("ORG_LEGAL_NAME", Some(PLACEHOLDER_LEGAL_NAME)),
    ("ORG_EIN", Some(PLACEHOLDER_EIN)),
    ("ORG_ADDRESS", Some(PLACEHOLDER_ADDRESS)),
    ("ORG_TIMEZONE", Some("America/Los_Angeles")),
    ("TRIBUTE_NOTIFICATIONS_PER_DAY", Some("3")),
    ("MAILER_BATCH_SIZE", Some("100")),
    ("MAILER_LEASE_SECS", Some("300")),
    ("MAILER_MAX_ATTEMPTS", Some("8")),
    ("MAILER_RETRY_BASE_SECS", Some("60")),
    ("MAILER_PER_MINUTE", Some("600")),
    ("MAILER_POLL_SECS", Some("5")),
];

/// Where mail goes and who it is from.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://` (plain, or STARTTLS with `?tls=required`) or `smtps://`, with optional
    /// credentials; `None` writes `.eml` files to `mail_dir` instead.
    pub smtp_url: Option<Secret>,
    pub mail_from: EmailAddress,
    pub mail_from_name: String,
    pub mail_dir: PathBuf,
    pub org: Organization,
    /// When set, receipt emails carry a signed link to the receipt's PDF, and club
    /// emails the donor's self-service link.
    pub download_links: Option<crate::links::DownloadLinks>,
}

/// The variable that names a config file.
pub const CONFIG_FILE_VARIABLE: &str = "CONFIG_FILE";

/// What a config file may hold that the reader does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownSettings {
    /// An unknown key is an error (a misspelt setting).
    Refuse,
    /// Unknown keys are someone else's: the standalone mailer reads the API's file and
    /// uses what it knows, while `api` checks the whole file.
    Ignore,
}

/// The raw text of every setting in `lists`: defaults, then the config file's text,
/// then the environment.
pub fn raw_settings(
    lists: &[&[(&'static str, Option<&'static str>)]],
    file: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
    unknown: UnknownSettings,
) -> Result<BTreeMap<&'static str, String>, ConfigError> {
    let all = || lists.iter().flat_map(|list| list.iter());
    let mut raw: BTreeMap<&'static str, String> = BTreeMap::new();
    for (name, default) in all() {
        if let Some(default) = default {
            raw.insert(name, (*default).to_owned());
        }
    }
    if let Some(text) = file {
        let table: toml::Table = text
            .parse()
            .map_err(|e| ConfigError::new(CONFIG_FILE_VARIABLE, format!("not valid TOML: {e}")))?;
        for (key, value) in table {
            let upper = key.to_ascii_uppercase();
            let Some(name) = all().map(|(name, _)| *name).find(|name| *name == upper) else {
                match unknown {
                    UnknownSettings::Refuse => {
                        return Err(ConfigError::new(
                            CONFIG_FILE_VARIABLE,
                            format!("unknown setting {key:?}"),
                        ));
                    }
                    UnknownSettings::Ignore => continue,
                }
            };
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
    for (name, _) in all() {
        if let Some(value) = env(name) {
            raw.insert(name, value);
        }
    }
    Ok(raw)
}

/// Reads the config file at `path`, if any.
pub fn read_config_file(path: Option<&std::path::Path>) -> Result<Option<String>, ConfigError> {
    path.map(|path| {
        std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                CONFIG_FILE_VARIABLE,
                format!("cannot read {}: {e}", path.display()),
            )
        })
    })
    .transpose()
}

/// `LISTEN_ADDR`: the address and port `api serve` listens on.
pub fn parse_listen_addr<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<SocketAddr, ConfigError> {
    get("LISTEN_ADDR")
        .ok_or_else(|| ConfigError::new("LISTEN_ADDR", "must not be empty"))?
        .parse()
        .map_err(|_| {
            ConfigError::new(
                "LISTEN_ADDR",
                "must be an address and port, like 127.0.0.1:8080",
            )
        })
}

/// `PUBLIC_URL`, or `http://` and `LISTEN_ADDR` without it: where donors reach the
/// service, and where every link in an email starts.
pub fn parse_public_url<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<Url, ConfigError> {
    match get("PUBLIC_URL") {
        Some(text) => parse_http_url("PUBLIC_URL", text),
        None => parse_http_url("PUBLIC_URL", &format!("http://{}", parse_listen_addr(get)?)),
    }
}

/// `DOWNLOAD_LINK_KEY`, when set: at least 32 characters.
pub fn parse_download_link_key<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Option<Secret>, ConfigError> {
    match get("DOWNLOAD_LINK_KEY") {
        Some(key) if key.chars().count() >= 32 => Ok(Some(Secret::new(key))),
        Some(_) => Err(ConfigError::new(
            "DOWNLOAD_LINK_KEY",
            "must be at least 32 characters of random text",
        )),
        None => Ok(None),
    }
}

/// An `http://` or `https://` URL with a host.
pub fn parse_http_url(variable: &str, text: &str) -> Result<Url, ConfigError> {
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

impl crate::links::DownloadLinks {
    /// The links every email carries, as `api serve` and the standalone mailer both
    /// make them: from `PUBLIC_URL`, signed with `DOWNLOAD_LINK_KEY`.
    pub fn new(public_url: Url, key: Secret) -> Self {
        crate::links::DownloadLinks {
            public_url,
            key,
            valid_for: chrono::Duration::days(LINK_VALIDITY_DAYS),
        }
    }
}

/// How the worker paces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// Messages claimed at once.
    pub batch_size: u32,
    /// How long a claimed batch stays with its worker before others may take it.
    pub lease: Duration,
    /// After this many attempts a message is dead.
    pub max_attempts: u32,
    /// The first retry waits about this long; each further retry doubles it.
    pub retry_base: Duration,
    /// At most this many messages leave per minute.
    pub per_minute: u32,
    /// How often an idle worker looks for due messages.
    pub poll_interval: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            batch_size: 100,
            lease: Duration::from_secs(300),
            max_attempts: 8,
            retry_base: Duration::from_secs(60),
            per_minute: 600,
            poll_interval: Duration::from_secs(5),
        }
    }
}

impl MailSettings {
    /// Reads the mail settings through `get`, which returns a variable's trimmed,
    /// non-empty value after defaults, file and environment were applied.
    pub fn parse<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<Self, ConfigError> {
        let required =
            |name: &str| get(name).ok_or_else(|| ConfigError::new(name, "must not be empty"));
        let smtp_url = match get("SMTP_URL") {
            Some(text) => {
                let url = Url::parse(text)
                    .map_err(|e| ConfigError::new("SMTP_URL", format!("is not a URL: {e}")))?;
                if !matches!(url.scheme(), "smtp" | "smtps") {
                    return Err(ConfigError::new(
                        "SMTP_URL",
                        "must start with smtp:// (STARTTLS with ?tls=required) or smtps://",
                    ));
                }
                if url.host_str().is_none() {
                    return Err(ConfigError::new("SMTP_URL", "must name a host"));
                }
                Some(Secret::new(text))
            }
            None => None,
        };
        let (mail_from_name, mail_from) = parse_mailbox(required("MAIL_FROM")?)
            .map_err(|reason| ConfigError::new("MAIL_FROM", reason))?;
        let ein = required("ORG_EIN")?;
        let ein_ok = ein.len() == 10
            && ein.as_bytes()[2] == b'-'
            && ein
                .chars()
                .enumerate()
                .all(|(i, c)| i == 2 || c.is_ascii_digit());
        if !ein_ok {
            return Err(ConfigError::new("ORG_EIN", "must look like 12-3456789"));
        }
        let timezone: chrono_tz::Tz = required("ORG_TIMEZONE")?.parse().map_err(|_| {
            ConfigError::new(
                "ORG_TIMEZONE",
                "must be an IANA time zone name, like America/Los_Angeles",
            )
        })?;
        Ok(MailSettings {
            smtp_url,
            mail_from,
            mail_from_name,
            mail_dir: PathBuf::from(required("MAIL_DIR")?),
            org: Organization {
                legal_name: required("ORG_LEGAL_NAME")?.to_owned(),
                ein: ein.to_owned(),
                address: required("ORG_ADDRESS")?.to_owned(),
                timezone,
                tribute_notifications_per_day: required("TRIBUTE_NOTIFICATIONS_PER_DAY")?
                    .parse()
                    .ok()
                    .filter(|count| *count <= 1_000)
                    .ok_or_else(|| {
                        ConfigError::new(
                            "TRIBUTE_NOTIFICATIONS_PER_DAY",
                            "must be a whole number from 0 to 1000",
                        )
                    })?,
            },
            download_links: parse_download_link_key(get)?
                .map(|key| {
                    Ok::<_, ConfigError>(crate::links::DownloadLinks::new(
                        parse_public_url(get)?,
                        key,
                    ))
                })
                .transpose()?,
        })
    }
}

impl WorkerSettings {
    /// Reads the worker settings through `get` (see [`MailSettings::parse`]).
    pub fn parse<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<Self, ConfigError> {
        let number = |name: &str, low: u64, high: u64| -> Result<u64, ConfigError> {
            get(name)
                .and_then(|text| text.parse::<u64>().ok())
                .filter(|n| (low..=high).contains(n))
                .ok_or_else(|| {
                    ConfigError::new(name, format!("must be a whole number from {low} to {high}"))
                })
        };
        let small = |name: &str, low: u64, high: u64| -> Result<u32, ConfigError> {
            number(name, low, high).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        Ok(WorkerSettings {
            batch_size: small("MAILER_BATCH_SIZE", 1, 1_000)?,
            lease: Duration::from_secs(number("MAILER_LEASE_SECS", 10, 86_400)?),
            max_attempts: small("MAILER_MAX_ATTEMPTS", 1, 100)?,
            retry_base: Duration::from_secs(number("MAILER_RETRY_BASE_SECS", 1, 86_400)?),
            per_minute: small("MAILER_PER_MINUTE", 1, 1_000_000)?,
            poll_interval: Duration::from_secs(number("MAILER_POLL_SECS", 1, 3_600)?),
        })
    }
}

/// Parses `true`/`false` and their usual spellings.
pub fn parse_bool(variable: &str, text: &str) -> Result<bool, ConfigError> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(variable, "must be true or false")),
    }
}

/// Parses `Name <address>` or a bare address.
pub fn parse_mailbox(text: &str) -> Result<(String, EmailAddress), String> {
    let (name, address) = match (text.find('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close && close == text.len() - 1 => (
            text[..open].trim().trim_matches('"').to_owned(),
            &text[open + 1..close],
        ),
        (None, None) => (String::new(), text),
        _ => return Err("must be an address, or Name <address>".to_owned()),
    };
    let address = EmailAddress::parse(address).map_err(|e| format!("address {e}"))?;
    Ok((name, address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_is_described_without_its_credentials() {
        assert_eq!(
            describe_database_url(
                "postgres://giving:hunter2@db.example.org:5433/giving?sslmode=require&password=x"
            ),
            "postgres://db.example.org:5433/giving"
        );
        assert_eq!(
            describe_database_url("sqlite://giving.db?mode=rwc"),
            "sqlite://giving.db"
        );
        assert!(
            describe_database_url("postgres://giving:hunter2#secret@db/giving")
                .starts_with("a URL that cannot be parsed")
        );
    }

    #[test]
    fn a_database_error_loses_every_credential_it_quotes() {
        for url in [
            "postgres://giving:hunter2#secret@db/giving",
            "postgres://giving:hun/ter2@db/giving",
            "postgres://giving@db/giving?password=hunter2",
            "postgres://giving:hunter2@db/giving",
        ] {
            let error = format!("The connection string '{url}' cannot be parsed; near hunter2");
            let text = database_error_text(url, &error);
            assert!(!text.contains("hunter2"), "{text}");
            assert!(!text.contains("hun/ter2"), "{text}");
            assert!(text.contains("cannot be parsed"), "{text}");
        }
    }
    use std::collections::HashMap;

    fn worker_with(vars: &[(&str, &str)]) -> Result<WorkerSettings, ConfigError> {
        let mut map: HashMap<&str, &str> = SETTINGS
            .iter()
            .filter_map(|(name, default)| default.map(|d| (*name, d)))
            .collect();
        map.extend(vars.iter().copied());
        WorkerSettings::parse(&|name| map.get(name).copied())
    }

    #[test]
    fn worker_defaults_match_the_documented_defaults() -> Result<(), ConfigError> {
        assert_eq!(worker_with(&[])?, WorkerSettings::default());
        Ok(())
    }

    #[test]
    fn each_bad_worker_setting_names_its_variable() {
        for (variable, value) in [
            ("MAILER_BATCH_SIZE", "0"),
            ("MAILER_LEASE_SECS", "1"),
            ("MAILER_MAX_ATTEMPTS", "many"),
            ("MAILER_RETRY_BASE_SECS", "-5"),
            ("MAILER_PER_MINUTE", "0"),
            ("MAILER_POLL_SECS", "0"),
        ] {
            let result = worker_with(&[(variable, value)]);
            assert_eq!(result.err().map(|e| e.variable), Some(variable.to_owned()));
        }
    }
}
