//! Donors: one row per real person or organization.

use entity::donor;
use sea_orm::{ConnectionTrait, EntityTrait};

use super::DomainError;

pub async fn find_donor(db: &impl ConnectionTrait, id: i64) -> Result<donor::Model, DomainError> {
    donor::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("donor", id))
}

/// Name and email folded for search: lower case, accents removed ("José" finds "jose").
pub fn search_text(display_name: &str, email: Option<&str>) -> String {
    let mut text = fold_accents(&display_name.to_lowercase());
    if let Some(email) = email {
        text.push(' ');
        text.push_str(&fold_accents(&email.to_lowercase()));
    }
    text
}

/// Replaces the accented Latin letters donors' names commonly carry with their base letter.
pub fn fold_accents(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ā' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'ē' | 'ę' => 'e',
            'í' | 'ì' | 'î' | 'ï' | 'ī' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ō' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'ū' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            'ý' | 'ÿ' => 'y',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_ignores_case_and_accents() {
        assert_eq!(
            search_text("José Núñez", Some("jose@example.org")),
            "jose nunez jose@example.org"
        );
    }
}
