//! Signed, expiring links with which donors open their own receipts without an account:
//! `receipts/{number}.pdf?expires={unix time}&signature={HMAC-SHA256, hex}`.
//!
//! Every signed link is read by one strict parser: numbers only as the service writes
//! them (no sign, no leading zero) and signatures only as 64 lower-case hex digits.
//! Anything else is refused, so one link has exactly one spelling.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;

use crate::config::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Where links point and the key that signs them.
#[derive(Debug, Clone)]
pub struct DownloadLinks {
    pub public_url: Url,
    pub key: Secret,
    /// How long a link in an email stays valid.
    pub valid_for: chrono::Duration,
}

/// A number in a link, as the service writes it: ASCII digits only, no sign, no
/// leading zero, and within `i64`. `+68`, `0068`, ` 68` and `68 ` are refused.
pub fn parse_number(text: &str) -> Option<i64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// The length of a signature in a link: HMAC-SHA256 in hex.
const SIGNATURE_HEX_LEN: usize = 64;

/// A signature in a link, as the service writes it: 64 lower-case hex digits.
pub fn parse_signature(text: &str) -> Option<Vec<u8>> {
    let canonical = text.len() == SIGNATURE_HEX_LEN
        && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if canonical {
        hex::decode(text).ok()
    } else {
        None
    }
}

fn mac(key: &str, number: &str, expires: i64) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).ok()?;
    mac.update(format!("receipt:{number}:{expires}").as_bytes());
    Some(mac)
}

/// The signature for receipt `number` valid until `expires` (Unix seconds).
pub fn signature(key: &str, number: &str, expires: i64) -> String {
    mac(key, number, expires)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether a link's signature is right and it has not expired.
pub fn is_valid(
    key: &str,
    number: &str,
    expires: i64,
    signature: &str,
    now: DateTime<Utc>,
) -> bool {
    if expires < now.timestamp() {
        return false;
    }
    let Some(bytes) = parse_signature(signature) else {
        return false;
    };
    mac(key, number, expires).is_some_and(|mac| mac.verify_slice(&bytes).is_ok())
}

/// The path, relative to the public URL, of a signed link.
pub fn path(key: &str, number: &str, expires: DateTime<Utc>) -> String {
    let expires = expires.timestamp();
    format!(
        "receipts/{number}.pdf?expires={expires}&signature={}",
        signature(key, number, expires)
    )
}

impl DownloadLinks {
    /// A full link to receipt `number`, valid for `valid_for` from now.
    pub fn url_for(&self, number: &str) -> Option<String> {
        let relative = path(self.key.expose(), number, Utc::now() + self.valid_for);
        self.public_url.join(&relative).ok().map(String::from)
    }
}

fn unsubscribe_mac(key: &str, donor_id: i64) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).ok()?;
    mac.update(format!("unsubscribe:{donor_id}").as_bytes());
    Some(mac)
}

/// The signature in a donor's appeal unsubscribe link. It does not expire: an
/// unsubscribe link must work for as long as the email is kept.
pub fn unsubscribe_signature(key: &str, donor_id: i64) -> String {
    unsubscribe_mac(key, donor_id)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether an unsubscribe link's signature is right for the donor.
pub fn is_valid_unsubscribe(key: &str, donor_id: i64, signature: &str) -> bool {
    let Some(bytes) = parse_signature(signature) else {
        return false;
    };
    unsubscribe_mac(key, donor_id).is_some_and(|mac| mac.verify_slice(&bytes).is_ok())
}

/// The path, relative to the public URL, of a donor's unsubscribe link.
pub fn unsubscribe_path(key: &str, donor_id: i64) -> String {
    format!(
        "appeals/unsubscribe?donor={donor_id}&signature={}",
        unsubscribe_signature(key, donor_id)
    )
}

fn manage_mac(key: &str, donor_id: i64, expires: i64) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).ok()?;
    mac.update(format!("manage:{donor_id}:{expires}").as_bytes());
    Some(mac)
}

/// The token of a donor's self-service page, valid until `expires`:
/// `{donor id}.{unix time}.{HMAC-SHA256, hex}`.
pub fn manage_token(key: &str, donor_id: i64, expires: DateTime<Utc>) -> String {
    let expires = expires.timestamp();
    let signature = manage_mac(key, donor_id, expires)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default();
    format!("{donor_id}.{expires}.{signature}")
}

/// Why a self-service token opens nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManageTokenError {
    /// Not a token we signed, or altered.
    Invalid,
    /// Signed by us, but too old.
    Expired,
}

/// The donor a self-service token was signed for, if it is genuine and current.
pub fn verify_manage_token(
    key: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<i64, ManageTokenError> {
    let mut parts = token.splitn(3, '.');
    let (Some(donor), Some(expires), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(ManageTokenError::Invalid);
    };
    let donor_id = parse_number(donor).ok_or(ManageTokenError::Invalid)?;
    let expires = parse_number(expires).ok_or(ManageTokenError::Invalid)?;
    let bytes = parse_signature(signature).ok_or(ManageTokenError::Invalid)?;
    let genuine =
        manage_mac(key, donor_id, expires).is_some_and(|mac| mac.verify_slice(&bytes).is_ok());
    if !genuine {
        return Err(ManageTokenError::Invalid);
    }
    if expires < now.timestamp() {
        return Err(ManageTokenError::Expired);
    }
    Ok(donor_id)
}

impl DownloadLinks {
    /// A full link to a donor's self-service page, valid for `valid_for` from now.
    pub fn manage_url_for(&self, donor_id: i64) -> Option<String> {
        let token = manage_token(self.key.expose(), donor_id, Utc::now() + self.valid_for);
        self.public_url
            .join(&format!("manage/{token}"))
            .ok()
            .map(String::from)
    }

    /// A full link to a page of the service, such as the donation page.
    pub fn page_url(&self, path: &str) -> Option<String> {
        self.public_url.join(path).ok().map(String::from)
    }
}

fn appeal_donate_mac(
    key: &str,
    source_code: &str,
    donor_id: i64,
    ask_minor: i64,
) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).ok()?;
    mac.update(format!("donate:{source_code}:{donor_id}:{ask_minor}").as_bytes());
    Some(mac)
}

/// The token of a donor's personal donate link in an appeal,
/// `{donor id}.{ask in minor units}.{HMAC-SHA256, hex}`, signed together with the
/// appeal's source code, so it opens only that appeal's page. It does not expire: a
/// donor may answer an appeal months after it arrived.
pub fn appeal_donate_token(key: &str, source_code: &str, donor_id: i64, ask_minor: i64) -> String {
    let signature = appeal_donate_mac(key, source_code, donor_id, ask_minor)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default();
    format!("{donor_id}.{ask_minor}.{signature}")
}

/// Whom a personal donate link was signed for, and the ask it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppealDonor {
    pub donor_id: i64,
    pub ask_minor: i64,
}

/// The donor and ask of a personal donate link, if the token is genuine for this
/// appeal's source code; `None` for anything altered or signed for another appeal.
pub fn verify_appeal_donate_token(
    key: &str,
    source_code: &str,
    token: &str,
) -> Option<AppealDonor> {
    let mut parts = token.splitn(3, '.');
    let (donor, ask, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let donor_id = parse_number(donor)?;
    let ask_minor = parse_number(ask)?;
    let bytes = parse_signature(signature)?;
    appeal_donate_mac(key, source_code, donor_id, ask_minor)
        .is_some_and(|mac| mac.verify_slice(&bytes).is_ok())
        .then_some(AppealDonor {
            donor_id,
            ask_minor,
        })
}

#[cfg(test)]
mod manage_tests {
    use super::*;

    #[test]
    fn a_manage_token_opens_only_its_donor_until_it_expires() {
        let now = Utc::now();
        let token = manage_token("key", 7, now + chrono::Duration::days(1));
        assert_eq!(verify_manage_token("key", &token, now), Ok(7));
        assert_eq!(
            verify_manage_token("other", &token, now),
            Err(ManageTokenError::Invalid)
        );
        let tampered = token.replacen("7.", "8.", 1);
        assert_eq!(
            verify_manage_token("key", &tampered, now),
            Err(ManageTokenError::Invalid)
        );
        assert_eq!(
            verify_manage_token("key", &token, now + chrono::Duration::days(2)),
            Err(ManageTokenError::Expired)
        );
        assert_eq!(
            verify_manage_token("key", "garbage", now),
            Err(ManageTokenError::Invalid)
        );
    }

    #[test]
    fn a_donate_token_names_its_donor_and_ask_only_for_its_appeal() {
        let token = appeal_donate_token("key", "FALL-E", 7, 7_500);
        assert_eq!(
            verify_appeal_donate_token("key", "FALL-E", &token),
            Some(AppealDonor {
                donor_id: 7,
                ask_minor: 7_500
            })
        );
        assert_eq!(verify_appeal_donate_token("key", "OTHER", &token), None);
        assert_eq!(verify_appeal_donate_token("other", "FALL-E", &token), None);
        let richer = token.replacen(".7500.", ".750000.", 1);
        assert_eq!(verify_appeal_donate_token("key", "FALL-E", &richer), None);
        let someone_else = token.replacen("7.", "8.", 1);
        assert_eq!(
            verify_appeal_donate_token("key", "FALL-E", &someone_else),
            None
        );
        assert_eq!(verify_appeal_donate_token("key", "FALL-E", "x.y.z"), None);
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;
    use chrono::TimeZone;

    fn at(unix: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(unix, 0).single().unwrap_or_default()
    }

    const NOW: i64 = 1_790_000_000;

    #[test]
    fn numbers_in_links_have_one_spelling() {
        assert_eq!(parse_number("68"), Some(68));
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("9223372036854775807"), Some(i64::MAX));
        for text in [
            "",
            "+68",
            "-68",
            "0068",
            "00",
            " 68",
            "68 ",
            "6 8",
            "0x44",
            "68.0",
            "٦٨",
            "9223372036854775808",
        ] {
            assert_eq!(parse_number(text), None, "{text:?}");
        }
    }

    #[test]
    fn signatures_in_links_are_lower_case_hex_of_the_right_length() {
        let good = signature("key", "2026-000001", NOW);
        assert_eq!(good.len(), 64);
        assert_eq!(parse_signature(&good).map(|b| b.len()), Some(32));
        for text in [
            good.to_uppercase(),
            good[..62].to_owned(),
            format!("{good}00"),
            format!("{}g", &good[..63]),
            String::new(),
        ] {
            assert_eq!(parse_signature(&text), None, "{text:?}");
        }
    }

    #[test]
    fn a_receipt_link_opens_until_its_last_second_and_not_after() {
        let expires = NOW + 60;
        let sig = signature("key", "2026-000001", expires);
        assert!(is_valid("key", "2026-000001", expires, &sig, at(NOW)));
        assert!(is_valid("key", "2026-000001", expires, &sig, at(expires)));
        assert!(!is_valid(
            "key",
            "2026-000001",
            expires,
            &sig,
            at(expires + 1)
        ));
        assert!(!is_valid("key", "2026-000002", expires, &sig, at(NOW)));
        assert!(!is_valid("other", "2026-000001", expires, &sig, at(NOW)));
        assert!(!is_valid("key", "2026-000001", expires + 1, &sig, at(NOW)));
        assert!(!is_valid(
            "key",
            "2026-000001",
            expires,
            &sig.to_uppercase(),
            at(NOW)
        ));
    }

    #[test]
    fn a_receipt_link_path_carries_its_expiry_and_signature() {
        let path = path("key", "2026-000001", at(NOW));
        assert_eq!(
            path,
            format!(
                "receipts/2026-000001.pdf?expires={NOW}&signature={}",
                signature("key", "2026-000001", NOW)
            )
        );
        let links = DownloadLinks {
            public_url: Url::parse("https://give.example.org/").unwrap_or_else(|_| unreachable!()),
            key: Secret::new("key"),
            valid_for: chrono::Duration::days(30),
        };
        let url = links.url_for("2026-000001").unwrap_or_default();
        assert!(
            url.starts_with("https://give.example.org/receipts/2026-000001.pdf?expires="),
            "{url}"
        );
        assert_eq!(
            links.page_url("donate").as_deref(),
            Some("https://give.example.org/donate")
        );
        let manage = links.manage_url_for(7).unwrap_or_default();
        let token = manage
            .strip_prefix("https://give.example.org/manage/")
            .unwrap_or_default();
        assert_eq!(verify_manage_token("key", token, Utc::now()), Ok(7));
    }

    #[test]
    fn an_unsubscribe_signature_opens_only_its_donor() {
        let sig = unsubscribe_signature("key", 7);
        assert_eq!(sig.len(), 64);
        assert!(is_valid_unsubscribe("key", 7, &sig));
        assert!(!is_valid_unsubscribe("key", 8, &sig));
        assert!(!is_valid_unsubscribe("other", 7, &sig));
        assert!(!is_valid_unsubscribe("key", 7, &sig.to_uppercase()));
        assert!(!is_valid_unsubscribe("key", 7, ""));
        assert_ne!(sig, unsubscribe_signature("key", 8));
        assert_ne!(sig, signature("key", "7", 0), "signed for its purpose");
        assert_eq!(
            unsubscribe_path("key", 7),
            format!("appeals/unsubscribe?donor=7&signature={sig}")
        );
    }

    #[test]
    fn a_manage_token_opens_on_its_last_second_and_is_read_strictly() {
        let token = manage_token("key", 68, at(NOW));
        assert_eq!(verify_manage_token("key", &token, at(NOW)), Ok(68));
        assert_eq!(
            verify_manage_token("key", &token, at(NOW + 1)),
            Err(ManageTokenError::Expired)
        );
        let (_, rest) = token.split_once('.').unwrap_or_default();
        for spelling in [
            format!("+68.{rest}"),
            format!("0068.{rest}"),
            token.to_uppercase(),
        ] {
            assert_eq!(
                verify_manage_token("key", &spelling, at(NOW)),
                Err(ManageTokenError::Invalid),
                "{spelling}"
            );
        }
    }

    #[test]
    fn a_donate_token_is_read_strictly() {
        let token = appeal_donate_token("key", "FALL-E", 68, 7_500);
        assert!(verify_appeal_donate_token("key", "FALL-E", &token).is_some());
        let (_, rest) = token.split_once('.').unwrap_or_default();
        for spelling in [
            format!("+68.{rest}"),
            format!("0068.{rest}"),
            token.to_uppercase(),
        ] {
            assert_eq!(
                verify_appeal_donate_token("key", "FALL-E", &spelling),
                None,
                "{spelling}"
            );
        }
    }
}
