//! Donor records that may be the same person: the same name at the same postal code,
//! the same phone number, or emails that reach the same mailbox or share a local part.
//!
//! The cost is bounded: one read of five short columns per donor, keys built in memory,
//! and a key shared by more than [`MAX_GROUP`] donors (a placeholder phone, the
//! office's own postal code on every walk-in) is not taken as a sign of anything, so a
//! key adds at most 45 pairs.

use std::collections::{BTreeMap, HashMap};

use entity::donor;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, QuerySelect};

use super::DomainError;
use super::donors::fold_accents;

/// More donors than this sharing a key says the key is a placeholder, not a person.
pub const MAX_GROUP: usize = 10;

/// Local parts too common to say two addresses are one person's.
const GENERIC_LOCAL_PARTS: [&str; 10] = [
    "info",
    "contact",
    "office",
    "admin",
    "hello",
    "mail",
    "donations",
    "giving",
    "billing",
    "accounts",
];

/// Why two donors may be one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DuplicateReason {
    /// The same name (ignoring case, accents and punctuation) and postal code.
    SameNameAndPostalCode,
    /// The same phone number, ignoring formatting and a leading US country code.
    SamePhone,
    /// Emails that reach the same mailbox: they differ only by a `+tag`, or by dots in
    /// a Gmail address.
    SameMailbox,
    /// Emails with the same local part at different domains ("rosa.vega@gmail.com",
    /// "rosa.vega@work.org").
    SameEmailLocalPart,
}

/// Two donors that may be one, the lower id first, with every reason that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicatePair {
    pub first_id: i64,
    pub second_id: i64,
    pub reasons: Vec<DuplicateReason>,
}

/// A name folded for comparison: lower case, accents removed, only letters and digits,
/// single spaces. `None` when nothing is left.
pub fn normalized_name(name: &str) -> Option<String> {
    let folded = fold_accents(&name.to_lowercase());
    let words: Vec<String> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// A postal code folded for comparison: letters and digits, upper case; a US ZIP+4
/// becomes its five-digit ZIP.
pub fn normalized_postal_code(code: &str) -> Option<String> {
    let folded: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    match folded.len() {
        0 => None,
        9 if folded.chars().all(|c| c.is_ascii_digit()) => Some(folded[..5].to_owned()),
        _ => Some(folded),
    }
}

/// A phone number's digits, without a leading US country code; `None` for fewer than
/// seven digits, which cannot name one line.
pub fn normalized_phone(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let digits = match digits.strip_prefix('1') {
        Some(rest) if digits.len() == 11 => rest.to_owned(),
        _ => digits,
    };
    (digits.len() >= 7).then_some(digits)
}

fn split_email(email: &str) -> Option<(String, String)> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.rsplit_once('@')?;
    let local = local.split('+').next().unwrap_or(local);
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    Some((local.to_owned(), domain.to_owned()))
}

/// The mailbox an email reaches: lower case, without a `+tag`, and for Gmail without
/// dots and at gmail.com.
pub fn mailbox(email: &str) -> Option<String> {
    let (local, domain) = split_email(email)?;
    if domain == "gmail.com" || domain == "googlemail.com" {
        return Some(format!("{}@gmail.com", local.replace('.', "")));
    }
    Some(format!("{local}@{domain}"))
}

/// The part of an email before the `@`, without a `+tag` or dots, when it is distinctive
/// enough to suggest one person: at least five characters and not a role address.
pub fn distinctive_local_part(email: &str) -> Option<String> {
    let (local, _) = split_email(email)?;
    let local = local.replace('.', "");
    (local.chars().count() >= 5 && !GENERIC_LOCAL_PARTS.contains(&local.as_str())).then_some(local)
}

/// What one donor's row says for comparison.
pub struct DonorKeys {
    pub id: i64,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub postal_code: Option<String>,
}

/// Every pair of possible duplicates among `donors`, by lower id then higher id.
pub fn find_pairs(donors: &[DonorKeys]) -> Vec<DuplicatePair> {
    let mut groups: HashMap<(DuplicateReason, String), Vec<i64>> = HashMap::new();
    let mut mailboxes: HashMap<i64, String> = HashMap::new();
    for donor in donors {
        let mut key = |reason: DuplicateReason, value: Option<String>| {
            if let Some(value) = value {
                groups.entry((reason, value)).or_default().push(donor.id);
            }
        };
        if let (Some(name), Some(code)) = (
            normalized_name(&donor.display_name),
            donor
                .postal_code
                .as_deref()
                .and_then(normalized_postal_code),
        ) {
            key(
                DuplicateReason::SameNameAndPostalCode,
                Some(format!("{name}|{code}")),
            );
        }
        key(
            DuplicateReason::SamePhone,
            donor.phone.as_deref().and_then(normalized_phone),
        );
        if let Some(email) = donor.email.as_deref() {
            let own_mailbox = mailbox(email);
            key(DuplicateReason::SameMailbox, own_mailbox.clone());
            key(
                DuplicateReason::SameEmailLocalPart,
                distinctive_local_part(email),
            );
            if let Some(own) = own_mailbox {
                mailboxes.insert(donor.id, own);
            }
        }
    }
    let mut pairs: BTreeMap<(i64, i64), Vec<DuplicateReason>> = BTreeMap::new();
    for ((reason, _), mut ids) in groups {
        if ids.len() < 2 || ids.len() > MAX_GROUP {
            continue;
        }
        ids.sort_unstable();
        for (i, &first) in ids.iter().enumerate() {
            for &second in &ids[i + 1..] {
                // The same mailbox already says more than the same local part.
                if reason == DuplicateReason::SameEmailLocalPart
                    && mailboxes.contains_key(&first)
                    && mailboxes.get(&first) == mailboxes.get(&second)
                {
                    continue;
                }
                pairs.entry((first, second)).or_default().push(reason);
            }
        }
    }
    pairs
        .into_iter()
        .map(|((first_id, second_id), mut reasons)| {
            reasons.sort_unstable();
            DuplicatePair {
                first_id,
                second_id,
                reasons,
            }
        })
        .collect()
}

/// Id, display name, email, phone and postal code, as read.
type KeyColumns = (i64, String, Option<String>, Option<String>, Option<String>);

/// Every pair of donors that may be one person, by lower id then higher id.
pub async fn possible_duplicates(
    db: &impl ConnectionTrait,
) -> Result<Vec<DuplicatePair>, DomainError> {
    let rows: Vec<KeyColumns> = donor::Entity::find()
        .select_only()
        .column(donor::Column::Id)
        .column(donor::Column::DisplayName)
        .column(donor::Column::Email)
        .column(donor::Column::Phone)
        .column(donor::Column::PostalCode)
        .order_by_asc(donor::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let donors: Vec<DonorKeys> = rows
        .into_iter()
        .map(|(id, display_name, email, phone, postal_code)| DonorKeys {
            id,
            display_name,
            email,
            phone,
            postal_code,
        })
        .collect();
    Ok(find_pairs(&donors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn donor(
        id: i64,
        name: &str,
        email: Option<&str>,
        phone: Option<&str>,
        zip: Option<&str>,
    ) -> DonorKeys {
        DonorKeys {
            id,
            display_name: name.to_owned(),
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
            postal_code: zip.map(str::to_owned),
        }
    }

    #[test]
    fn gmail_dots_and_plus_tags_reach_one_mailbox() {
        assert_eq!(
            mailbox("Rosa.Vega+gala@GMAIL.com"),
            Some("rosavega@gmail.com".to_owned())
        );
        assert_eq!(
            mailbox("rosavega@googlemail.com"),
            mailbox("rosa.vega@gmail.com")
        );
        assert_ne!(mailbox("rosa.vega@work.org"), mailbox("rosavega@work.org"));
        assert_eq!(mailbox("rosa+x@work.org"), Some("rosa@work.org".to_owned()));
    }

    #[test]
    fn names_postal_codes_and_phones_ignore_formatting() {
        assert_eq!(
            normalized_name("  José  Núñez-Ortiz "),
            Some("jose nunez ortiz".to_owned())
        );
        assert_eq!(
            normalized_postal_code("94110-1234"),
            Some("94110".to_owned())
        );
        assert_eq!(normalized_postal_code("k1a 0b1"), Some("K1A0B1".to_owned()));
        assert_eq!(
            normalized_phone("+1 (415) 555-0100"),
            Some("4155550100".to_owned())
        );
        assert_eq!(
            normalized_phone("415.555.0100"),
            Some("4155550100".to_owned())
        );
        assert_eq!(normalized_phone("555"), None);
    }

    #[test]
    fn pairs_carry_every_reason_and_skip_role_addresses_and_crowds() {
        let mut donors = vec![
            donor(
                1,
                "Rosa Vega",
                Some("rosa.vega@gmail.com"),
                Some("415 555 0100"),
                Some("94110"),
            ),
            donor(
                2,
                "ROSA VEGA",
                Some("rosavega+church@gmail.com"),
                None,
                Some("94110-0001"),
            ),
            donor(
                3,
                "R. Vega",
                Some("rosa.vega@work.org"),
                Some("+1 415-555-0100"),
                None,
            ),
            donor(4, "Info Desk", Some("info@a.org"), None, None),
            donor(5, "Other Desk", Some("info@b.org"), None, None),
        ];
        for id in 10..(10 + MAX_GROUP as i64 + 1) {
            donors.push(donor(
                id,
                &format!("Walk-in {id}"),
                None,
                Some("000 000 0000"),
                None,
            ));
        }
        let pairs = find_pairs(&donors);
        let reasons = |a: i64, b: i64| {
            pairs
                .iter()
                .find(|p| p.first_id == a && p.second_id == b)
                .map(|p| p.reasons.clone())
        };
        assert_eq!(
            reasons(1, 2),
            Some(vec![
                DuplicateReason::SameNameAndPostalCode,
                DuplicateReason::SameMailbox
            ])
        );
        assert_eq!(
            reasons(1, 3),
            Some(vec![
                DuplicateReason::SamePhone,
                DuplicateReason::SameEmailLocalPart
            ])
        );
        assert_eq!(
            reasons(2, 3),
            Some(vec![DuplicateReason::SameEmailLocalPart])
        );
        assert_eq!(reasons(4, 5), None);
        assert_eq!(pairs.len(), 3, "{pairs:?}");
    }
}
