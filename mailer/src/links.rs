//! Signed, expiring links with which donors open their own receipts without an account:
//! `receipts/{number}.pdf?expires={unix time}&signature={HMAC-SHA256, hex}`.
//!
//! Every signed link is read by one strict parser: numbers only as the service writes
//! them (no sign, no leading zero) and signatures only as 64 lower-case hex digits.
//! Anything else is refused, so one link has exactly one spelling.
//!
//! Every link a donor is sent (receipt downloads, the self-service page, appeal
//! unsubscribe and personal donate links) is also signed with the donor's link version
//! (`donors.link_version`): when staff revoke a donor's links the version goes up and
//! every earlier link stops verifying.
//!
//! Every link in an email carries the donor's language as `lang` ([`with_language`]),
//! so the page it opens speaks that language. `lang` is outside every signature.

use chrono::{DateTime, Utc};
use entity::enums::Language;
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

/// What a signature covers: `base`, and the donor's link version when it is above 0.
/// Version 0 signs exactly as links were signed before versions existed, so links
/// already sent keep working until staff revoke them.
fn versioned(base: String, version: i64) -> String {
    if version == 0 {
        base
    } else {
        format!("{base}:v{version}")
    }
}

fn hmac_of(key: &str, message: &str) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).ok()?;
    mac.update(message.as_bytes());
    Some(mac)
}

fn hex_of(mac: Option<HmacSha256>) -> String {
    mac.map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

fn verifies(mac: Option<HmacSha256>, signature: &[u8]) -> bool {
    mac.is_some_and(|mac| mac.verify_slice(signature).is_ok())
}

/// The MAC of an expiring link to `subject` ("receipt:2026-000001", "export:42").
fn expiring_mac(key: &str, subject: &str, expires: i64, version: i64) -> Option<HmacSha256> {
    hmac_of(key, &versioned(format!("{subject}:{expires}"), version))
}

fn mac(key: &str, number: &str, expires: i64, version: i64) -> Option<HmacSha256> {
    expiring_mac(key, &format!("receipt:{number}"), expires, version)
}

/// Whether `signature` is right for an expiring link to `subject` and it has not
/// expired: it opens until the last second of `expires`.
fn expiring_link_verifies(
    key: &str,
    subject: &str,
    expires: i64,
    signature: &str,
    version: i64,
    now: DateTime<Utc>,
) -> bool {
    if expires < now.timestamp() {
        return false;
    }
    let Some(bytes) = parse_signature(signature) else {
        return false;
    };
    verifies(expiring_mac(key, subject, expires, version), &bytes)
}

/// The signature of a staff link to `subject` (such as `export:42`) valid until
/// `expires` (Unix seconds). Signed like a receipt link, with its own subject, so
/// neither kind of link can be turned into the other.
pub fn staff_link_signature(key: &str, subject: &str, expires: i64) -> String {
    hex_of(expiring_mac(key, subject, expires, 0))
}

/// Whether a staff link's signature is right for `subject` and it has not expired.
pub fn staff_link_is_valid(
    key: &str,
    subject: &str,
    expires: i64,
    signature: &str,
    now: DateTime<Utc>,
) -> bool {
    expiring_link_verifies(key, subject, expires, signature, 0, now)
}

/// The signature for receipt `number` valid until `expires` (Unix seconds), for a
/// donor whose links are at `version`.
pub fn signature(key: &str, number: &str, expires: i64, version: i64) -> String {
    hex_of(mac(key, number, expires, version))
}

/// Whether a receipt link's signature is right for the donor's current link version
/// and it has not expired: it opens until the last second of `expires`.
pub fn is_valid(
    key: &str,
    number: &str,
    expires: i64,
    signature: &str,
    version: i64,
    now: DateTime<Utc>,
) -> bool {
    expiring_link_verifies(
        key,
        &format!("receipt:{number}"),
        expires,
        signature,
        version,
        now,
    )
}

/// The path, relative to the public URL, of a signed link.
pub fn path(key: &str, number: &str, expires: DateTime<Utc>, version: i64) -> String {
    let expires = expires.timestamp();
    format!(
        "receipts/{number}.pdf?expires={expires}&signature={}",
        signature(key, number, expires, version)
    )
}

impl DownloadLinks {
    /// When a link made now expires: `valid_for` from now, rounded up to the end of that
    /// UTC day. Every worker, in `api serve` or on its own, then writes the same link
    /// into the same message all day, and a resend carries the link the first send did.
    pub fn expiry(&self) -> DateTime<Utc> {
        let at = Utc::now() + self.valid_for;
        at.date_naive()
            .succ_opt()
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|midnight| midnight.and_utc())
            .unwrap_or(at)
    }

    /// A full link to receipt `number`, valid for at least `valid_for` from now, for a
    /// donor whose links are at `version`.
    pub fn url_for(&self, number: &str, version: i64) -> Option<String> {
        let relative = path(self.key.expose(), number, self.expiry(), version);
        self.public_url.join(&relative).ok().map(String::from)
    }
}

fn unsubscribe_mac(key: &str, donor_id: i64, version: i64) -> Option<HmacSha256> {
    hmac_of(key, &versioned(format!("unsubscribe:{donor_id}"), version))
}

/// The signature in a donor's appeal unsubscribe link. It does not expire: an
/// unsubscribe link must work for as long as the email is kept (or until staff revoke
/// the donor's links).
pub fn unsubscribe_signature(key: &str, donor_id: i64, version: i64) -> String {
    hex_of(unsubscribe_mac(key, donor_id, version))
}

/// Whether an unsubscribe link's signature is right for the donor and their current
/// link version.
pub fn is_valid_unsubscribe(key: &str, donor_id: i64, version: i64, signature: &str) -> bool {
    let Some(bytes) = parse_signature(signature) else {
        return false;
    };
    verifies(unsubscribe_mac(key, donor_id, version), &bytes)
}

/// The path, relative to the public URL, of a donor's unsubscribe link.
pub fn unsubscribe_path(key: &str, donor_id: i64, version: i64) -> String {
    format!(
        "appeals/unsubscribe?donor={donor_id}&signature={}",
        unsubscribe_signature(key, donor_id, version)
    )
}

fn manage_mac(key: &str, donor_id: i64, expires: i64, version: i64) -> Option<HmacSha256> {
    hmac_of(
        key,
        &versioned(format!("manage:{donor_id}:{expires}"), version),
    )
}

/// The token of a donor's self-service page, valid until `expires`:
/// `{donor id}.{unix time}.{HMAC-SHA256, hex}`, signed with the donor's link version.
pub fn manage_token(key: &str, donor_id: i64, version: i64, expires: DateTime<Utc>) -> String {
    let expires = expires.timestamp();
    let signature = hex_of(manage_mac(key, donor_id, expires, version));
    format!("{donor_id}.{expires}.{signature}")
}

/// Why a self-service token opens nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManageTokenError {
    /// Not a token we signed, altered, or signed before the donor's links were revoked.
    Invalid,
    /// Signed by us, but too old.
    Expired,
}

/// A self-service token's parts, read strictly: donor, expiry and signature.
fn manage_parts(token: &str) -> Option<(i64, i64, Vec<u8>)> {
    let mut parts = token.splitn(3, '.');
    let (donor, expires, signature) = (parts.next()?, parts.next()?, parts.next()?);
    Some((
        parse_number(donor)?,
        parse_number(expires)?,
        parse_signature(signature)?,
    ))
}

/// The donor a self-service token claims to be for, before its signature is checked:
/// whose link version to check it with.
pub fn manage_token_donor(token: &str) -> Option<i64> {
    manage_parts(token).map(|(donor_id, _, _)| donor_id)
}

/// The donor a self-service token was signed for, if it is genuine for the donor's
/// current link `version` and still current: it opens until the last second of its
/// expiry.
pub fn verify_manage_token(
    key: &str,
    token: &str,
    version: i64,
    now: DateTime<Utc>,
) -> Result<i64, ManageTokenError> {
    let (donor_id, expires, bytes) = manage_parts(token).ok_or(ManageTokenError::Invalid)?;
    if !verifies(manage_mac(key, donor_id, expires, version), &bytes) {
        return Err(ManageTokenError::Invalid);
    }
    if expires < now.timestamp() {
        return Err(ManageTokenError::Expired);
    }
    Ok(donor_id)
}

fn data_export_mac(key: &str, donor_id: i64, expires: i64, version: i64) -> Option<HmacSha256> {
    hmac_of(
        key,
        &versioned(format!("data-export:{donor_id}:{expires}"), version),
    )
}

/// The token of a link to everything held about a donor (a privacy request), valid
/// until `expires`: `{donor id}.{unix time}.{HMAC-SHA256, hex}`, shaped like a
/// self-service token but signed for a different purpose, so neither opens the other.
pub fn data_export_token(key: &str, donor_id: i64, version: i64, expires: DateTime<Utc>) -> String {
    let expires = expires.timestamp();
    let signature = hex_of(data_export_mac(key, donor_id, expires, version));
    format!("{donor_id}.{expires}.{signature}")
}

/// The donor a data-export token claims to be for, before its signature is checked.
pub fn data_export_token_donor(token: &str) -> Option<i64> {
    manage_parts(token).map(|(donor_id, _, _)| donor_id)
}

/// The donor a data-export token was signed for, if it is genuine for the donor's
/// current link `version` and has not expired.
pub fn verify_data_export_token(
    key: &str,
    token: &str,
    version: i64,
    now: DateTime<Utc>,
) -> Result<i64, ManageTokenError> {
    let (donor_id, expires, bytes) = manage_parts(token).ok_or(ManageTokenError::Invalid)?;
    if !verifies(data_export_mac(key, donor_id, expires, version), &bytes) {
        return Err(ManageTokenError::Invalid);
    }
    if expires < now.timestamp() {
        return Err(ManageTokenError::Expired);
    }
    Ok(donor_id)
}

impl DownloadLinks {
    /// A full link to a donor's self-service page, valid for at least `valid_for` from
    /// now.
    pub fn manage_url_for(&self, donor_id: i64, version: i64) -> Option<String> {
        let token = manage_token(self.key.expose(), donor_id, version, self.expiry());
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

/// Whom a personal donate link is for, the ask it carries and until when it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DonateLink<'a> {
    pub source_code: &'a str,
    pub donor_id: i64,
    pub ask_minor: i64,
    /// The donor's link version when the link was made.
    pub version: i64,
    /// Unix seconds; the link opens until the last second of it.
    pub expires: i64,
}

fn appeal_donate_mac(key: &str, link: &DonateLink<'_>) -> Option<HmacSha256> {
    hmac_of(
        key,
        &versioned(
            format!(
                "donate:{}:{}:{}:{}",
                link.source_code, link.donor_id, link.ask_minor, link.expires
            ),
            link.version,
        ),
    )
}

/// The token of a donor's personal donate link in an appeal,
/// `{donor id}.{ask in minor units}.{expires, unix time}.{HMAC-SHA256, hex}`, signed
/// together with the appeal's source code, so it opens only that appeal's page, and
/// with the donor's link version.
pub fn appeal_donate_token(key: &str, link: &DonateLink<'_>) -> String {
    let signature = hex_of(appeal_donate_mac(key, link));
    format!(
        "{}.{}.{}.{signature}",
        link.donor_id, link.ask_minor, link.expires
    )
}

/// Whom a personal donate link was signed for, and the ask it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppealDonor {
    pub donor_id: i64,
    pub ask_minor: i64,
}

/// A donate token's parts, read strictly: donor, ask, expiry and signature.
fn donate_parts(token: &str) -> Option<(i64, i64, i64, Vec<u8>)> {
    let mut parts = token.splitn(4, '.');
    let (donor, ask, expires, signature) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some((
        parse_number(donor)?,
        parse_number(ask)?,
        parse_number(expires)?,
        parse_signature(signature)?,
    ))
}

/// The donor a personal donate token claims to be for, before its signature is
/// checked: whose link version to check it with.
pub fn appeal_donate_token_donor(token: &str) -> Option<i64> {
    donate_parts(token).map(|(donor_id, _, _, _)| donor_id)
}

/// The donor and ask of a personal donate link, if the token is genuine for this
/// appeal's source code and the donor's current link `version`, and has not expired;
/// `None` for anything altered, expired, revoked or signed for another appeal.
pub fn verify_appeal_donate_token(
    key: &str,
    source_code: &str,
    token: &str,
    version: i64,
    now: DateTime<Utc>,
) -> Option<AppealDonor> {
    let (donor_id, ask_minor, expires, bytes) = donate_parts(token)?;
    let link = DonateLink {
        source_code,
        donor_id,
        ask_minor,
        version,
        expires,
    };
    let current = expires >= now.timestamp();
    (current && verifies(appeal_donate_mac(key, &link), &bytes)).then_some(AppealDonor {
        donor_id,
        ask_minor,
    })
}

/// `url` with `language` as its `lang` parameter (in place of one it had), so the page
/// it opens is in that language. Other parameters keep their order and spelling; text
/// that is not a URL is returned as it was.
pub fn with_language(url: &str, language: Language) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return url.to_owned();
    };
    let code = language.as_str();
    if !parsed.query_pairs().any(|(name, _)| name == "lang") {
        let separator = match parsed.query() {
            Some("") | None => "",
            Some(_) => "&",
        };
        let query = format!(
            "{}{separator}lang={code}",
            parsed.query().unwrap_or_default()
        );
        parsed.set_query(Some(&query));
        return parsed.into();
    }
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(name, _)| name != "lang")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    parsed
        .query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("lang", code);
    parsed.into()
}

#[cfg(test)]
mod link_tests {
    use super::*;
    use chrono::TimeZone;

    fn at(unix: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(unix, 0).single().unwrap_or_default()
    }

    const NOW: i64 = 1_790_000_000;

    fn donate(donor_id: i64, ask_minor: i64, version: i64, expires: i64) -> DonateLink<'static> {
        DonateLink {
            source_code: "FALL-E",
            donor_id,
            ask_minor,
            version,
            expires,
        }
    }

    #[test]
    fn numbers_in_links_have_one_spelling() {
        assert_eq!(parse_number("68"), Some(68));
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("7"), Some(7));
        assert_eq!(parse_number("10"), Some(10));
        assert_eq!(parse_number("9223372036854775807"), Some(i64::MAX));
        for text in [
            "",
            "+68",
            "-68",
            "0068",
            "00",
            "07",
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
        let good = signature("key", "2026-000001", NOW, 0);
        assert_eq!(good.len(), 64);
        assert_eq!(
            parse_signature(&good),
            hex::decode(&good).ok(),
            "the bytes it spells"
        );
        assert_eq!(parse_signature(&"0".repeat(64)), Some(vec![0; 32]));
        assert_eq!(parse_signature(&"f".repeat(64)), Some(vec![0xff; 32]));
        assert_eq!(parse_signature(&"9a".repeat(32)), Some(vec![0x9a; 32]));
        for text in [
            good.to_uppercase(),
            good[..62].to_owned(),
            good[..63].to_owned(),
            format!("{good}0"),
            format!("{good}00"),
            format!("{}g", &good[..63]),
            format!("{}G", &good[..63]),
            format!("{}/", &good[..63]),
            format!("{}:", &good[..63]),
            format!("{}`", &good[..63]),
            format!("{} ", &good[..63]),
            String::new(),
        ] {
            assert_eq!(parse_signature(&text), None, "{text:?}");
        }
    }

    #[test]
    fn a_receipt_link_opens_until_its_last_second_and_not_after() {
        let expires = NOW + 60;
        let sig = signature("key", "2026-000001", expires, 0);
        assert!(is_valid("key", "2026-000001", expires, &sig, 0, at(NOW)));
        assert!(is_valid(
            "key",
            "2026-000001",
            expires,
            &sig,
            0,
            at(expires)
        ));
        assert!(!is_valid(
            "key",
            "2026-000001",
            expires,
            &sig,
            0,
            at(expires + 1)
        ));
    }

    #[test]
    fn a_receipt_link_is_refused_when_anything_in_it_changed() {
        let expires = NOW + 60;
        let sig = signature("key", "2026-000001", expires, 0);
        assert!(!is_valid("key", "2026-000002", expires, &sig, 0, at(NOW)));
        assert!(!is_valid("other", "2026-000001", expires, &sig, 0, at(NOW)));
        assert!(!is_valid(
            "key",
            "2026-000001",
            expires + 1,
            &sig,
            0,
            at(NOW)
        ));
        assert!(!is_valid(
            "key",
            "2026-000001",
            expires,
            &sig.to_uppercase(),
            0,
            at(NOW)
        ));
        assert!(!is_valid("key", "2026-000001", expires, "", 0, at(NOW)));
        // A genuine signature is refused for its expiry alone once it has passed.
        let past = NOW - 1;
        let sig_past = signature("key", "2026-000001", past, 0);
        assert!(is_valid("key", "2026-000001", past, &sig_past, 0, at(past)));
        assert!(!is_valid("key", "2026-000001", past, &sig_past, 0, at(NOW)));
    }

    #[test]
    fn a_receipt_link_is_signed_for_its_donors_link_version() {
        let expires = NOW + 60;
        let old = signature("key", "2026-000001", expires, 0);
        let new = signature("key", "2026-000001", expires, 1);
        assert_ne!(old, new);
        assert!(!is_valid("key", "2026-000001", expires, &old, 1, at(NOW)));
        assert!(is_valid("key", "2026-000001", expires, &new, 1, at(NOW)));
        assert!(!is_valid("key", "2026-000001", expires, &new, 2, at(NOW)));
        assert_ne!(new, signature("key", "2026-000001", expires, 2));
    }

    #[test]
    fn version_zero_signs_as_links_were_signed_before_versions() {
        assert_eq!(versioned("manage:7:9".to_owned(), 0), "manage:7:9");
        assert_eq!(versioned("manage:7:9".to_owned(), 3), "manage:7:9:v3");
        let mut mac = HmacSha256::new_from_slice(b"key").unwrap_or_else(|_| unreachable!());
        mac.update(b"receipt:2026-000001:1790000000");
        assert_eq!(
            signature("key", "2026-000001", NOW, 0),
            hex::encode(mac.finalize().into_bytes())
        );
    }

    #[test]
    fn a_receipt_link_path_carries_its_expiry_and_signature() {
        let path = path("key", "2026-000001", at(NOW), 4);
        assert_eq!(
            path,
            format!(
                "receipts/2026-000001.pdf?expires={NOW}&signature={}",
                signature("key", "2026-000001", NOW, 4)
            )
        );
        let links = DownloadLinks {
            public_url: Url::parse("https://give.example.org/").unwrap_or_else(|_| unreachable!()),
            key: Secret::new("key"),
            valid_for: chrono::Duration::days(30),
        };
        let before = Utc::now().timestamp();
        let url = links.url_for("2026-000001", 2).unwrap_or_default();
        let after = Utc::now().timestamp();
        let query = url
            .strip_prefix("https://give.example.org/receipts/2026-000001.pdf?expires=")
            .unwrap_or_default();
        let (expires, sig) = query.split_once("&signature=").unwrap_or_default();
        let expires = parse_number(expires).unwrap_or_default();
        let thirty_days = 30 * 86_400;
        let next_midnight = |at: i64| (at / 86_400 + 1) * 86_400;
        assert!(
            (next_midnight(before + thirty_days)..=next_midnight(after + thirty_days))
                .contains(&expires),
            "{url}"
        );
        assert_eq!(expires % 86_400, 0, "links end at a UTC midnight: {url}");
        assert!(is_valid("key", "2026-000001", expires, sig, 2, Utc::now()));
        assert!(!is_valid("key", "2026-000001", expires, sig, 1, Utc::now()));
        assert_eq!(
            links.page_url("donate").as_deref(),
            Some("https://give.example.org/donate")
        );
        let manage = links.manage_url_for(7, 3).unwrap_or_default();
        let token = manage
            .strip_prefix("https://give.example.org/manage/")
            .unwrap_or_default();
        assert_eq!(verify_manage_token("key", token, 3, Utc::now()), Ok(7));
        assert_eq!(
            verify_manage_token("key", token, 3, Utc::now() + chrono::Duration::days(29)),
            Ok(7),
            "valid for 30 days"
        );
        assert_eq!(
            verify_manage_token("key", token, 3, Utc::now() + chrono::Duration::days(31)),
            Err(ManageTokenError::Expired)
        );
        assert_eq!(
            verify_manage_token("key", token, 2, Utc::now()),
            Err(ManageTokenError::Invalid)
        );
    }

    #[test]
    fn an_unsubscribe_signature_opens_only_its_donor_and_version() {
        let sig = unsubscribe_signature("key", 7, 0);
        assert_eq!(sig.len(), 64);
        assert!(is_valid_unsubscribe("key", 7, 0, &sig));
        assert!(!is_valid_unsubscribe("key", 8, 0, &sig));
        assert!(!is_valid_unsubscribe("other", 7, 0, &sig));
        assert!(!is_valid_unsubscribe("key", 7, 1, &sig));
        assert!(!is_valid_unsubscribe("key", 7, 0, &sig.to_uppercase()));
        assert!(!is_valid_unsubscribe("key", 7, 0, ""));
        assert_ne!(sig, unsubscribe_signature("key", 8, 0));
        assert_ne!(sig, signature("key", "7", 0, 0), "signed for its purpose");
        let revoked = unsubscribe_signature("key", 7, 1);
        assert_ne!(sig, revoked);
        assert!(is_valid_unsubscribe("key", 7, 1, &revoked));
        assert_eq!(
            unsubscribe_path("key", 7, 1),
            format!("appeals/unsubscribe?donor=7&signature={revoked}")
        );
    }

    #[test]
    fn a_manage_token_opens_only_its_donor_until_it_expires() {
        let token = manage_token("key", 7, 0, at(NOW + 86_400));
        assert_eq!(verify_manage_token("key", &token, 0, at(NOW)), Ok(7));
        assert_eq!(manage_token_donor(&token), Some(7));
        assert_eq!(
            verify_manage_token("other", &token, 0, at(NOW)),
            Err(ManageTokenError::Invalid)
        );
        let tampered = token.replacen("7.", "8.", 1);
        assert_eq!(
            verify_manage_token("key", &tampered, 0, at(NOW)),
            Err(ManageTokenError::Invalid)
        );
        let later = token.replacen(".1790086400.", ".1790086401.", 1);
        assert_ne!(later, token);
        assert_eq!(
            verify_manage_token("key", &later, 0, at(NOW)),
            Err(ManageTokenError::Invalid)
        );
        assert_eq!(
            verify_manage_token("key", &token, 0, at(NOW + 2 * 86_400)),
            Err(ManageTokenError::Expired)
        );
        assert_eq!(
            verify_manage_token("key", "garbage", 0, at(NOW)),
            Err(ManageTokenError::Invalid)
        );
        assert_eq!(manage_token_donor("garbage"), None);
        assert_eq!(manage_token_donor("7.1790000000"), None);
    }

    #[test]
    fn a_manage_token_opens_on_its_last_second_and_is_read_strictly() {
        let token = manage_token("key", 68, 0, at(NOW));
        assert_eq!(
            token,
            format!("68.{NOW}.{}", hex_of(manage_mac("key", 68, NOW, 0)))
        );
        assert_eq!(verify_manage_token("key", &token, 0, at(NOW)), Ok(68));
        assert_eq!(
            verify_manage_token("key", &token, 0, at(NOW + 1)),
            Err(ManageTokenError::Expired)
        );
        let (_, rest) = token.split_once('.').unwrap_or_default();
        for spelling in [
            format!("+68.{rest}"),
            format!("0068.{rest}"),
            token.to_uppercase(),
            format!("{token}.0"),
        ] {
            assert_eq!(
                verify_manage_token("key", &spelling, 0, at(NOW)),
                Err(ManageTokenError::Invalid),
                "{spelling}"
            );
        }
    }

    #[test]
    fn a_revoked_manage_token_is_invalid_even_when_expired() {
        let token = manage_token("key", 68, 1, at(NOW));
        assert_eq!(verify_manage_token("key", &token, 1, at(NOW)), Ok(68));
        assert_eq!(
            verify_manage_token("key", &token, 2, at(NOW)),
            Err(ManageTokenError::Invalid)
        );
        assert_eq!(
            verify_manage_token("key", &token, 2, at(NOW + 1)),
            Err(ManageTokenError::Invalid)
        );
    }

    #[test]
    fn a_donate_token_names_its_donor_and_ask_only_for_its_appeal() {
        let link = donate(7, 7_500, 0, NOW + 60);
        let token = appeal_donate_token("key", &link);
        assert_eq!(
            token,
            format!(
                "7.7500.{}.{}",
                NOW + 60,
                hex_of(appeal_donate_mac("key", &link))
            )
        );
        assert_eq!(appeal_donate_token_donor(&token), Some(7));
        let expected = Some(AppealDonor {
            donor_id: 7,
            ask_minor: 7_500,
        });
        assert_eq!(
            verify_appeal_donate_token("key", "FALL-E", &token, 0, at(NOW)),
            expected
        );
        assert_eq!(
            verify_appeal_donate_token("key", "OTHER", &token, 0, at(NOW)),
            None
        );
        assert_eq!(
            verify_appeal_donate_token("other", "FALL-E", &token, 0, at(NOW)),
            None
        );
        let richer = token.replacen(".7500.", ".750000.", 1);
        assert_eq!(
            verify_appeal_donate_token("key", "FALL-E", &richer, 0, at(NOW)),
            None
        );
        let someone_else = token.replacen("7.", "8.", 1);
        assert_eq!(
            verify_appeal_donate_token("key", "FALL-E", &someone_else, 0, at(NOW)),
            None
        );
        let longer = token.replacen(&format!(".{}.", NOW + 60), &format!(".{}.", NOW + 61), 1);
        assert_ne!(longer, token);
        assert_eq!(
            verify_appeal_donate_token("key", "FALL-E", &longer, 0, at(NOW)),
            None
        );
        assert_eq!(
            verify_appeal_donate_token("key", "FALL-E", "x.y.z.w", 0, at(NOW)),
            None
        );
        assert_eq!(appeal_donate_token_donor("x.y.z.w"), None);
    }

    #[test]
    fn a_donate_token_opens_on_its_last_second_and_not_after() {
        let token = appeal_donate_token("key", &donate(68, 5_000, 0, NOW));
        assert!(verify_appeal_donate_token("key", "FALL-E", &token, 0, at(NOW - 1)).is_some());
        assert!(verify_appeal_donate_token("key", "FALL-E", &token, 0, at(NOW)).is_some());
        assert_eq!(
            verify_appeal_donate_token("key", "FALL-E", &token, 0, at(NOW + 1)),
            None
        );
    }

    #[test]
    fn a_donate_token_is_signed_for_its_donors_link_version() {
        let token = appeal_donate_token("key", &donate(68, 5_000, 2, NOW));
        assert!(verify_appeal_donate_token("key", "FALL-E", &token, 2, at(NOW)).is_some());
        assert_eq!(
            verify_appeal_donate_token("key", "FALL-E", &token, 3, at(NOW)),
            None
        );
        assert_eq!(
            verify_appeal_donate_token("key", "FALL-E", &token, 0, at(NOW)),
            None
        );
    }

    #[test]
    fn a_donate_token_is_read_strictly() {
        let token = appeal_donate_token("key", &donate(68, 7_500, 0, NOW));
        assert!(verify_appeal_donate_token("key", "FALL-E", &token, 0, at(NOW)).is_some());
        let (_, rest) = token.split_once('.').unwrap_or_default();
        let without_expiry = format!(
            "68.7500.{}",
            hex_of(hmac_of("key", "donate:FALL-E:68:7500"))
        );
        for spelling in [
            format!("+68.{rest}"),
            format!("0068.{rest}"),
            token.to_uppercase(),
            without_expiry,
        ] {
            assert_eq!(
                verify_appeal_donate_token("key", "FALL-E", &spelling, 0, at(NOW)),
                None,
                "{spelling}"
            );
        }
    }

    #[test]
    fn signatures_match_values_computed_outside_this_code() {
        // HMAC-SHA256 with key "key" over each message, computed with another tool.
        assert_eq!(
            signature("key", "2026-000001", NOW, 0),
            "7814833e580ef0e7c99420eb0d90ff9fbaf7f0c106d07eb87d4cfdd9e84f7459"
        );
        assert_eq!(
            manage_token("key", 68, 2, at(NOW)),
            "68.1790000000.3c86521361b238e7f09afc2c50bc3ae1f81a7e2ac3940ea40b61bc89eb533dc4"
        );
        assert_eq!(
            unsubscribe_signature("key", 7, 0),
            "36d1eb2fffd70b17612383e913b5725da24310d50ed57cf3c814e68bf1310041"
        );
        assert_eq!(
            appeal_donate_token("key", &donate(68, 5_000, 1, NOW)),
            "68.5000.1790000000.1499d5385e75051fce47ca32a5241764a373adfa49efce444d31bad95f45e784"
        );
    }

    #[test]
    fn a_link_carries_the_donors_language_once() {
        assert_eq!(
            with_language(
                "https://give.example.org/appeals/unsubscribe?donor=3&signature=ab",
                Language::Arabic
            ),
            "https://give.example.org/appeals/unsubscribe?donor=3&signature=ab&lang=ar"
        );
        assert_eq!(
            with_language("https://give.example.org/manage/3.9.ab", Language::French),
            "https://give.example.org/manage/3.9.ab?lang=fr"
        );
        assert_eq!(
            with_language(
                "https://give.example.org/donate?lang=en&appeal=FALL",
                Language::Spanish
            ),
            "https://give.example.org/donate?appeal=FALL&lang=es"
        );
        assert_eq!(
            with_language("https://give.example.org/donate?lang=es", Language::Spanish),
            "https://give.example.org/donate?lang=es"
        );
        assert_eq!(with_language("not a link", Language::Arabic), "not a link");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_export_token_opens_through_its_last_second_and_not_after() {
        let key = "k".repeat(32);
        let expires = Utc::now() + chrono::Duration::hours(1);
        let token = data_export_token(&key, 7, 0, expires);

        assert_eq!(verify_data_export_token(&key, &token, 0, expires), Ok(7));
        assert_eq!(
            verify_data_export_token(&key, &token, 0, expires + chrono::Duration::seconds(1)),
            Err(ManageTokenError::Expired)
        );
    }

    #[test]
    fn a_staff_link_opens_only_its_subject_until_it_expires() {
        let key = "k".repeat(32);
        let now = Utc::now();
        let expires = now.timestamp() + 3_600;
        let signature = staff_link_signature(&key, "export:42", expires);

        assert_eq!(signature.len(), 64);
        assert!(signature.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(signature, staff_link_signature(&key, "export:43", expires));
        assert_ne!(
            signature,
            staff_link_signature(&"j".repeat(32), "export:42", expires)
        );
        assert!(staff_link_is_valid(
            &key,
            "export:42",
            expires,
            &signature,
            now
        ));
        assert!(!staff_link_is_valid(
            &key,
            "export:43",
            expires,
            &signature,
            now
        ));
        assert!(!staff_link_is_valid(
            &key,
            "export:42",
            expires + 1,
            &signature,
            now
        ));
        assert!(!staff_link_is_valid(
            &key,
            "export:42",
            expires,
            &signature,
            now + chrono::Duration::hours(2)
        ));
        // A receipt link's signature for the same number is not a staff link's.
        assert!(!staff_link_is_valid(
            &key,
            "export:42",
            expires,
            &super::signature(&key, "export:42", expires, 0),
            now
        ));
    }

    #[test]
    fn a_data_export_token_opens_only_its_donor_until_it_expires_and_is_no_manage_token() {
        let key = "k".repeat(32);
        let now = Utc::now();
        let token = data_export_token(&key, 7, 0, now + chrono::Duration::hours(1));
        assert_eq!(data_export_token_donor(&token), Some(7));
        assert_eq!(verify_data_export_token(&key, &token, 0, now), Ok(7));
        assert_eq!(
            verify_data_export_token(&key, &token, 1, now),
            Err(ManageTokenError::Invalid)
        );
        assert_eq!(
            verify_data_export_token(&key, &token.replacen('7', "8", 1), 0, now),
            Err(ManageTokenError::Invalid)
        );
        assert_eq!(
            verify_data_export_token(&key, &token, 0, now + chrono::Duration::hours(2)),
            Err(ManageTokenError::Expired)
        );
        // Signed for another purpose: a self-service token of the same shape opens nothing.
        let manage = manage_token(&key, 7, 0, now + chrono::Duration::hours(1));
        assert_eq!(
            verify_data_export_token(&key, &manage, 0, now),
            Err(ManageTokenError::Invalid)
        );
        assert!(verify_manage_token(&key, &token, 0, now).is_err());
    }
}
