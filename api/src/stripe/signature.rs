//! Webhook signature verification, as Stripe signs: `Stripe-Signature: t=...,v1=...`,
//! where each `v1` is HMAC-SHA256 of `"{t}.{raw body}"` under an endpoint secret.
//! Several `v1` values may be present, and several secrets may be valid at once while
//! one is rotated; any match within the tolerance is accepted.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

/// How far a signature's timestamp may be from now, either way.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signature timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches any configured secret")]
    NoMatch,
    #[error("no webhook secret is configured")]
    NoSecret,
}

/// Checks a `Stripe-Signature` header against the raw body.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[Secret],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let mut timestamp: Option<i64> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = value.parse().ok(),
            "v1" => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now_unix - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        for signature in &signatures {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
                continue;
            };
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(payload);
            if mac.verify_slice(signature).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::NoMatch)
}

/// The header Stripe would send for this body: used by tests and tools.
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000;

    fn secrets(list: &[&str]) -> Vec<Secret> {
        list.iter().map(|s| Secret::new(*s)).collect()
    }

    #[test]
    fn a_signature_made_with_the_secret_is_accepted() {
        let header = sign(b"{}", "whsec_a", NOW);
        assert_eq!(
            verify(Some(&header), b"{}", &secrets(&["whsec_a"]), NOW),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_is_refused() {
        let header = sign(b"{}", "whsec_a", NOW);
        assert_eq!(
            verify(Some(&header), b"{ }", &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn any_of_several_v1_and_any_of_several_secrets_is_accepted() {
        let good = sign(b"{}", "whsec_new", NOW);
        let v1 = good.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let header = format!("t={NOW},v1={},v1={v1},v0=abc", "00".repeat(32));
        assert_eq!(
            verify(
                Some(&header),
                b"{}",
                &secrets(&["whsec_old", "whsec_new"]),
                NOW
            ),
            Ok(())
        );
    }

    #[test]
    fn a_stale_or_future_timestamp_is_refused() {
        let header = sign(b"{}", "whsec_a", NOW - 301);
        assert_eq!(
            verify(Some(&header), b"{}", &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::Stale)
        );
        let header = sign(b"{}", "whsec_a", NOW + 301);
        assert_eq!(
            verify(Some(&header), b"{}", &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn a_header_without_v1_is_malformed() {
        assert_eq!(
            verify(Some("t=1,v0=ab"), b"{}", &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn a_signature_exactly_300_seconds_old_or_ahead_is_accepted() {
        for at in [NOW - TOLERANCE_SECONDS, NOW + TOLERANCE_SECONDS] {
            let header = sign(b"{}", "whsec_a", at);
            assert_eq!(
                verify(Some(&header), b"{}", &secrets(&["whsec_a"]), NOW),
                Ok(())
            );
        }
        assert_eq!(TOLERANCE_SECONDS, 300);
    }

    #[test]
    fn no_header_or_no_secret_is_refused_with_its_reason() {
        assert_eq!(
            verify(None, b"{}", &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::Missing)
        );
        let header = sign(b"{}", "whsec_a", NOW);
        assert_eq!(
            verify(Some(&header), b"{}", &[], NOW),
            Err(SignatureError::NoSecret)
        );
    }

    #[test]
    fn a_header_without_a_readable_timestamp_is_malformed() {
        let good = sign(b"{}", "whsec_a", NOW);
        let v1 = good.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        for header in [
            format!("v1={v1}"),
            format!("t=soon,v1={v1}"),
            format!("t={NOW},v1=not-hex"),
            format!("t{NOW},v1{v1}"),
        ] {
            assert_eq!(
                verify(Some(&header), b"{}", &secrets(&["whsec_a"]), NOW),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
        // Spaces around the parts are allowed, as Stripe's libraries allow them.
        let spaced = format!("t={NOW}, v1={v1}");
        assert_eq!(
            verify(Some(&spaced), b"{}", &secrets(&["whsec_a"]), NOW),
            Ok(())
        );
    }

    #[test]
    fn a_signature_is_bound_to_its_timestamp() {
        let good = sign(b"{}", "whsec_a", NOW);
        let v1 = good.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let moved = format!("t={},v1={v1}", NOW - 1);
        assert_eq!(
            verify(Some(&moved), b"{}", &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            sign(b"{}", "whsec_a", NOW),
            format!("t={NOW},v1={v1}"),
            "signing is deterministic"
        );
        assert_eq!(v1.len(), 64);
    }

    #[test]
    fn signing_matches_stripes_scheme_byte_for_byte() {
        // HMAC-SHA256("whsec_a", "1764000000.{}"), computed outside this code.
        assert_eq!(
            sign(b"{}", "whsec_a", NOW),
            "t=1764000000,v1=5d582fef7b2e0f4e430a3235c12e72b3d4d403012039aedf3e4c1d66419aca33"
        );
    }

    #[test]
    fn one_second_past_the_tolerance_either_way_is_stale() {
        for at in [NOW - TOLERANCE_SECONDS - 1, NOW + TOLERANCE_SECONDS + 1] {
            let header = sign(b"{}", "whsec_a", at);
            assert_eq!(
                verify(Some(&header), b"{}", &secrets(&["whsec_a"]), NOW),
                Err(SignatureError::Stale),
                "{at}"
            );
        }
    }

    #[test]
    fn a_stale_header_is_stale_whatever_its_signature() {
        let header = format!("t={},v1={}", NOW - 301, "00".repeat(32));
        assert_eq!(
            verify(Some(&header), b"{}", &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::Stale)
        );
        let header = format!("t={NOW},v1={}", "00".repeat(32));
        assert_eq!(
            verify(Some(&header), b"{}", &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn a_signature_made_with_another_secret_matches_none() {
        let header = sign(b"{}", "whsec_other", NOW);
        assert_eq!(
            verify(Some(&header), b"{}", &secrets(&["whsec_a", "whsec_b"]), NOW),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn unknown_parts_and_an_unreadable_v1_are_skipped() {
        let good = sign(b"{}", "whsec_a", NOW);
        let v1 = good.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let header = format!("scheme=x,t={NOW},v1=zz,junk,v1={v1}");
        assert_eq!(
            verify(Some(&header), b"{}", &secrets(&["whsec_a"]), NOW),
            Ok(())
        );
    }
}
