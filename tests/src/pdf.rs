//! What a PDF shows a reader, read with poppler's `pdftotext` (Debian's `poppler-utils`,
//! which `.ci/run` installs): its text in reading order, and each word with its box, so
//! tests can check that a name comes out whole and that no two words overlap.

use std::io::Write;
use std::process::Command;

/// One word as `pdftotext -bbox` places it, in points from the page's top left.
#[derive(Debug, Clone)]
pub struct Word {
    pub page: usize,
    pub x_min: f64,
    pub y_min: f64,
    pub x_max: f64,
    pub y_max: f64,
    pub text: String,
}

fn pdftotext(pdf: &[u8], flags: &[&str]) -> String {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(pdf).unwrap();
    let output = Command::new("pdftotext")
        .args(flags)
        .arg(file.path())
        .arg("-")
        .output()
        .expect("pdftotext runs (apt-get install poppler-utils)");
    assert!(
        output.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The bidirectional embedding and isolate marks pdftotext writes around right-to-left
/// and left-to-right stretches: they steer display, they are not the document's text.
fn is_direction_mark(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The PDF's text in reading order, as a reader copying it would get it.
pub fn pdf_text(pdf: &[u8]) -> String {
    pdftotext(pdf, &[])
        .chars()
        .filter(|c| !is_direction_mark(*c))
        .collect()
}

/// The PDF's text with every run of white space (line breaks included) made one space,
/// so a phrase wrapped over lines still reads as one.
pub fn pdf_flowing_text(pdf: &[u8]) -> String {
    pdf_text(pdf)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn attribute(tag: &str, name: &str) -> f64 {
    let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = start + tag[start..].find('"').unwrap();
    tag[start..end].parse().unwrap()
}

/// Every word of the PDF with its box.
pub fn pdf_words(pdf: &[u8]) -> Vec<Word> {
    let html = pdftotext(pdf, &["-bbox"]);
    let mut page = 0;
    let mut words = Vec::new();
    for line in html.lines() {
        let line = line.trim();
        if line.starts_with("<page ") {
            page += 1;
        }
        if let Some(rest) = line.strip_prefix("<word ") {
            let (tag, rest) = rest.split_once('>').unwrap();
            let text = rest.strip_suffix("</word>").unwrap_or(rest);
            words.push(Word {
                page,
                x_min: attribute(tag, "xMin"),
                y_min: attribute(tag, "yMin"),
                x_max: attribute(tag, "xMax"),
                y_max: attribute(tag, "yMax"),
                text: text
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
                    .replace("&amp;", "&"),
            });
        }
    }
    words
}

/// Pairs of words printed over each other. Boxes include the fonts' ascent and descent,
/// so consecutive lines touch a little: only an overlap of more than 0.5 pt across and
/// of more than a third of the shorter word's height counts.
pub fn overlapping_words(words: &[Word]) -> Vec<(Word, Word)> {
    let mut found = Vec::new();
    for (i, a) in words.iter().enumerate() {
        for b in &words[i + 1..] {
            if a.page != b.page {
                continue;
            }
            let across = a.x_max.min(b.x_max) - a.x_min.max(b.x_min);
            let down = a.y_max.min(b.y_max) - a.y_min.max(b.y_min);
            let shorter = (a.y_max - a.y_min).min(b.y_max - b.y_min);
            if across > 0.5 && down > shorter / 3.0 {
                found.push((a.clone(), b.clone()));
            }
        }
    }
    found
}

/// A receipt's PDF as the service hands it out: typeset from its frozen document by the
/// first reader, then the stored bytes.
pub async fn receipt_pdf(
    db: &sea_orm::DatabaseConnection,
    receipt: &entity::receipt::Model,
) -> Vec<u8> {
    api::domain::receipts::receipt_pdf(db, receipt)
        .await
        .unwrap()
        .expect("the receipt has a PDF")
}
