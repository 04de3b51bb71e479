//! The PDF letter of a receipt or statement, in the donor's language: letterhead, the
//! donor's name and address, the sentences, the table of gifts and the signature line,
//! right to left for Arabic.

use entity::enums::Language;
use krilla::metadata::{self, Metadata};

use super::typeset::{
    Align, Column, Direction, Letter, TypesetError, Weight, without_direction_marks,
};
use super::{Document, Parts};

/// Date, fund, method, amount, benefits, deductible: the fund gets the most room, the
/// amounts line up at the end of their columns.
const COLUMNS: [Column; 6] = [
    Column {
        share: 1.35,
        align: Align::Start,
    },
    Column {
        share: 1.9,
        align: Align::Start,
    },
    Column {
        share: 1.15,
        align: Align::Start,
    },
    Column {
        share: 0.95,
        align: Align::End,
    },
    Column {
        share: 0.95,
        align: Align::End,
    },
    Column {
        share: 1.0,
        align: Align::End,
    },
];

fn direction(language: Language) -> Direction {
    match language {
        Language::Arabic => Direction::RightToLeft,
        Language::English | Language::Spanish | Language::French => Direction::LeftToRight,
    }
}

pub(super) fn render(doc: &Document, p: &Parts) -> Result<Vec<u8>, TypesetError> {
    let direction = direction(doc.language);
    let mut letter = Letter::new(direction)?;
    if let Some(sample) = &p.sample {
        letter.warning(sample);
    }
    // Letterhead: names and addresses read in their own direction, so a street number
    // stays before its street inside an Arabic letter.
    letter.isolated(&doc.letterhead.legal_name, Weight::Bold, 16.0);
    letter.isolated(&doc.letterhead.address, Weight::Regular, 9.0);
    letter.isolated(&format!("EIN {}", doc.letterhead.ein), Weight::Regular, 9.0);
    letter.gap(2.0);
    letter.rule(None);
    letter.gap(18.0);
    letter.isolated(&doc.donor_name, Weight::Regular, 11.0);
    if let Some(address) = &doc.donor_address {
        letter.isolated(address, Weight::Regular, 11.0);
    }
    letter.gap(18.0);
    letter.paragraph(&p.title, Weight::Bold, 13.0);
    letter.paragraph(&p.issued, Weight::Regular, 10.0);
    if let Some(replaces) = &p.replaces {
        letter.paragraph(replaces, Weight::Regular, 10.0);
    }
    letter.gap(8.0);
    letter.paragraph(&p.intro, Weight::Regular, 10.0);
    for tribute in &p.tributes {
        letter.paragraph(tribute, Weight::Regular, 10.0);
    }
    letter.gap(10.0);
    let header: Vec<String> = p.columns.to_vec();
    let rows: Vec<Vec<String>> = p.rows.iter().map(|row| row.to_vec()).collect();
    letter.table(&COLUMNS, &header, &rows, &p.totals, 9.0);
    letter.gap(18.0);
    for sentence in &p.acknowledgment {
        letter.paragraph(sentence, Weight::Regular, 10.0);
        letter.gap(4.0);
    }
    letter.paragraph(&p.exempt, Weight::Regular, 9.0);
    letter.gap(10.0);
    if let Some(sample) = &p.sample {
        letter.warning(sample);
    }
    letter.gap(30.0);
    letter.rule(Some(200.0));
    letter.gap(6.0);
    letter.paragraph(&p.signature, Weight::Regular, 10.0);

    let mut metadata = Metadata::new()
        .title(without_direction_marks(&p.title))
        .language(doc.language.as_str().to_owned());
    if direction == Direction::RightToLeft {
        metadata = metadata.text_direction(metadata::TextDirection::RightToLeft);
    }
    letter.finish(metadata)
}
