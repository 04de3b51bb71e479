//! Download links: the signed, expiring address of a receipt's PDF, and its check.

use chrono::{DateTime, Utc};
use entity::receipt;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::super::DomainError;

/// The link version of the donor receipt `number` was issued to (see
/// `mailer::links`); 0 for a number no receipt has, so a genuine link to a receipt
/// that is gone is told so.
pub async fn link_version_for_receipt(
    db: &impl ConnectionTrait,
    number: &str,
) -> Result<i64, DomainError> {
    let donor_id: Option<i64> = receipt::Entity::find()
        .select_only()
        .column(receipt::Column::DonorId)
        .filter(receipt::Column::Number.eq(number))
        .into_tuple()
        .one(db)
        .await?;
    Ok(match donor_id {
        Some(donor_id) => super::super::donors::link_version(db, donor_id)
            .await?
            .unwrap_or(0),
        None => 0,
    })
}

/// Whether a download link's signature is right for the donor's link `version` and it
/// has not expired.
pub fn download_link_is_valid(
    key: &str,
    number: &str,
    expires: i64,
    signature: &str,
    version: i64,
    now: DateTime<Utc>,
) -> bool {
    mailer::links::is_valid(key, number, expires, signature, version, now)
}

/// The path (under PUBLIC_URL) of a signed link to a receipt's PDF, for a donor whose
/// links are at `version`.
pub fn download_path(key: &str, number: &str, expires: DateTime<Utc>, version: i64) -> String {
    mailer::links::path(key, number, expires, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_link_is_refused_when_altered_expired_or_revoked() {
        let key = "k".repeat(32);
        let now = Utc::now();
        let expires = now.timestamp() + 60;
        let signature = mailer::links::signature(&key, "2026-000001", expires, 0);
        let valid = |key: &str, number: &str, expires: i64, version: i64, now| {
            download_link_is_valid(key, number, expires, &signature, version, now)
        };
        assert!(valid(&key, "2026-000001", expires, 0, now));
        assert!(!valid(&key, "2026-000002", expires, 0, now));
        assert!(!valid(&key, "2026-000001", expires + 1, 0, now));
        assert!(!valid(&"x".repeat(32), "2026-000001", expires, 0, now));
        assert!(!valid(&key, "2026-000001", expires, 1, now));
        assert!(!valid(
            &key,
            "2026-000001",
            expires,
            0,
            now + chrono::Duration::seconds(61)
        ));
    }
}
