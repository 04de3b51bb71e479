//! Signed, expiring links with which donors open their own receipts without an account:
//! `receipts/{number}.pdf?expires={unix time}&signature={HMAC-SHA256, hex}`.

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
    let Ok(bytes) = hex::decode(signature) else {
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
    let Ok(bytes) = hex::decode(signature) else {
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
    let donor_id: i64 = donor.parse().map_err(|_| ManageTokenError::Invalid)?;
    let expires: i64 = expires.parse().map_err(|_| ManageTokenError::Invalid)?;
    let bytes = hex::decode(signature).map_err(|_| ManageTokenError::Invalid)?;
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
    let donor_id: i64 = donor.parse().ok()?;
    let ask_minor: i64 = ask.parse().ok()?;
    let bytes = hex::decode(signature).ok()?;
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
