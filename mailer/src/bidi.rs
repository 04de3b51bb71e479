//! Values inside sentences of a right-to-left language: an amount, a receipt number or
//! a name set among Arabic words is isolated, so its own characters keep their order
//! (`2026-000003`, not `000003-2026`). Text carries Unicode's isolate marks; HTML shows
//! each isolated value in a `<bdi>` instead.

use entity::enums::Language;

/// Starts a stretch that reads left to right whatever surrounds it (an amount, a number).
const LEFT_TO_RIGHT_ISOLATE: char = '\u{2066}';
/// Starts a stretch that reads in the direction of its own first letter (a name).
const FIRST_STRONG_ISOLATE: char = '\u{2068}';
const POP_DIRECTIONAL_ISOLATE: char = '\u{2069}';

/// Marks that steer the bidirectional order and have no glyph of their own.
pub(crate) fn is_direction_mark(c: char) -> bool {
    matches!(
        c,
        '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Text without its direction marks, for where no bidirectional order applies.
pub fn without_direction_marks(text: &str) -> String {
    text.chars().filter(|c| !is_direction_mark(*c)).collect()
}

/// How values are set inside the sentences of a document or an email in `language`: in a
/// right-to-left language each is isolated, as `<bdi>` does in HTML; elsewhere they are
/// left as they are.
#[derive(Clone, Copy)]
pub(crate) struct Isolation {
    right_to_left: bool,
}

impl Isolation {
    pub(crate) fn of(language: Language) -> Self {
        Isolation {
            right_to_left: language == Language::Arabic,
        }
    }

    fn wrap(self, open: char, text: &str) -> String {
        if self.right_to_left {
            format!("{open}{text}{POP_DIRECTIONAL_ISOLATE}")
        } else {
            text.to_owned()
        }
    }

    /// An amount, a receipt number, an EIN: digits and signs that read left to right.
    pub(crate) fn ltr(self, text: &str) -> String {
        self.wrap(LEFT_TO_RIGHT_ISOLATE, text)
    }

    /// A name or description typed by people, in whatever script.
    pub(crate) fn name(self, text: &str) -> String {
        self.wrap(FIRST_STRONG_ISOLATE, text)
    }
}

/// A stretch of a sentence as the HTML shows it: plain text, or a value isolated from
/// the text around it (`<bdi>`), left to right or in the direction of its own letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    LeftToRight(String),
    OwnDirection(String),
}

/// Splits a sentence at its isolate marks, for the template to set each isolated value
/// in a `<bdi>`; askama escapes every piece.
pub(crate) fn pieces(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut open: Option<char> = None;
    let flush = |open: Option<char>, current: &mut String, pieces: &mut Vec<Piece>| {
        if current.is_empty() {
            return;
        }
        let text = std::mem::take(current);
        pieces.push(match open {
            Some(LEFT_TO_RIGHT_ISOLATE) => Piece::LeftToRight(text),
            Some(_) => Piece::OwnDirection(text),
            None => Piece::Text(text),
        });
    };
    for c in text.chars() {
        match c {
            LEFT_TO_RIGHT_ISOLATE | FIRST_STRONG_ISOLATE if open.is_none() => {
                flush(open, &mut current, &mut pieces);
                open = Some(c);
            }
            POP_DIRECTIONAL_ISOLATE if open.is_some() => {
                flush(open, &mut current, &mut pieces);
                open = None;
            }
            LEFT_TO_RIGHT_ISOLATE | FIRST_STRONG_ISOLATE | POP_DIRECTIONAL_ISOLATE => {}
            _ => current.push(c),
        }
    }
    flush(open, &mut current, &mut pieces);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_arabic_isolates_and_each_value_its_own_way() {
        let arabic = Isolation::of(Language::Arabic);
        assert_eq!(arabic.ltr("2026-000003"), "\u{2066}2026-000003\u{2069}");
        assert_eq!(arabic.name("Ana"), "\u{2068}Ana\u{2069}");
        let spanish = Isolation::of(Language::Spanish);
        assert_eq!(spanish.ltr("2026-000003"), "2026-000003");
        assert_eq!(spanish.name("Ana"), "Ana");
    }

    #[test]
    fn isolated_values_become_pieces_and_markup_stays_text() {
        let sentence = "\u{2066}$5\u{2069} <b> \u{2068}Ana & Co\u{2069}";

        assert_eq!(
            pieces(sentence),
            vec![
                Piece::LeftToRight("$5".to_owned()),
                Piece::Text(" <b> ".to_owned()),
                Piece::OwnDirection("Ana & Co".to_owned()),
            ]
        );
    }

    #[test]
    fn a_mark_inside_a_value_or_outside_any_is_left_out() {
        // A name typed with its own isolate inside the one around it, and a stray close.
        let text = "a \u{2068}b \u{2066}c\u{2069} d\u{2069}\u{2069} e";
        assert_eq!(
            pieces(text),
            vec![
                Piece::Text("a ".to_owned()),
                Piece::OwnDirection("b c".to_owned()),
                Piece::Text(" d e".to_owned()),
            ]
        );
    }

    #[test]
    fn direction_marks_are_taken_out_of_text_and_nothing_else() {
        let marked = "\u{200E}\u{200F}\u{202A}\u{202E}\u{2066}\u{2069}2026-000003 ٢٠٢٦";
        assert_eq!(without_direction_marks(marked), "2026-000003 ٢٠٢٦");
        assert!(!is_direction_mark('\u{2065}'));
        assert!(!is_direction_mark('\u{206A}'));
        assert!(!is_direction_mark('\u{2029}'));
    }
}
