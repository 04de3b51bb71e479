//! A small typesetter for printed letters: text shaped (rustybuzz) with the Noto fonts kept
//! in `mailer/fonts` (Latin and Vietnamese in Noto Sans, Arabic in Noto Naskh Arabic), put in
//! the Unicode bidirectional order, wrapped to a width, and flowed onto US Letter pages
//! with krilla, which embeds only the glyphs a document uses.
//!
//! Text may carry the Unicode isolate marks (U+2066 to U+2069) around numbers and names,
//! as `<bdi>` does in HTML: they order the text and are never drawn.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex};

use crate::bidi::is_direction_mark;
pub use crate::bidi::without_direction_marks;

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Paint, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use unicode_bidi::{BidiInfo, Level};

static NOTO_SANS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fonts/NotoSans-Regular.ttf"
));
static NOTO_SANS_BOLD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fonts/NotoSans-Bold.ttf"
));
static NOTO_NASKH_ARABIC: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fonts/NotoNaskhArabic-Regular.ttf"
));
static NOTO_NASKH_ARABIC_BOLD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fonts/NotoNaskhArabic-Bold.ttf"
));

/// US Letter, in points.
pub const PAGE_WIDTH: f32 = 612.0;
pub const PAGE_HEIGHT: f32 = 792.0;
pub const MARGIN: f32 = 56.0;
/// The width between the margins.
pub const MEASURE: f32 = PAGE_WIDTH - 2.0 * MARGIN;

/// Why a letter could not be typeset.
#[derive(Debug, thiserror::Error)]
pub enum TypesetError {
    #[error("a font compiled into the service could not be read")]
    Font,
    #[error("the PDF could not be written: {0:?}")]
    Pdf(krilla::error::KrillaError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

/// The direction a letter reads in: it decides where lines start and the order of table
/// columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    LeftToRight,
    RightToLeft,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Where reading starts: left, or right in a right-to-left letter.
    Start,
    /// Where it ends; amounts line up there.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Arabic,
}

/// The characters a face that draws any digit embeds all of (`Face::embedded`).
const NUMERALS: &str = "0123456789,.";

/// A font, parsed once per process for shaping and for the PDF.
struct Face {
    pdf: Font,
    shaper: rustybuzz::Face<'static>,
    units_per_em: f32,
    /// Shaping plans by direction and script. Compiling a plan reads the font's feature
    /// lists, which costs more than shaping a short line with it; a plan depends only on
    /// the font, direction, script and language (never set here), so the same text
    /// shapes to the same glyphs with a kept plan as with a fresh one.
    plans: Mutex<HashMap<(rustybuzz::Direction, rustybuzz::Script), Arc<rustybuzz::ShapePlan>>>,
}

impl Face {
    fn load(data: &'static [u8]) -> Option<Face> {
        let shaper = rustybuzz::Face::from_slice(data, 0)?;
        Some(Face {
            pdf: Font::new(data.into(), 0)?,
            units_per_em: shaper.units_per_em() as f32,
            shaper,
            plans: Mutex::new(HashMap::new()),
        })
    }

    /// The glyphs a letter that draws `drawn` embeds in this face's subset, in ascending
    /// order of the face's ids, each numeral with the character it stands for. Numbers
    /// (amounts, dates, receipt numbers) are what differ most between letters, so a face
    /// that draws any digit embeds all of [`NUMERALS`]: letters that differ only in their
    /// numbers embed the same subset.
    fn embedded(&self, mut drawn: Vec<u32>) -> Vec<(GlyphId, Option<String>)> {
        let numerals: Vec<(u32, char)> = NUMERALS
            .chars()
            .filter_map(|c| Some((u32::from(self.shaper.glyph_index(c)?.0), c)))
            .collect();
        let draws_a_digit = numerals
            .iter()
            .any(|(g, c)| c.is_ascii_digit() && drawn.contains(g));
        if draws_a_digit {
            drawn.extend(numerals.iter().map(|(g, _)| *g));
        }
        drawn.sort_unstable();
        drawn.dedup();
        drawn
            .into_iter()
            .map(|g| {
                let numeral = numerals.iter().find(|(n, _)| *n == g);
                let text = numeral
                    .filter(|_| draws_a_digit)
                    .map(|(_, c)| c.to_string());
                (GlyphId::new(g), text)
            })
            .collect()
    }

    fn covers(&self, c: char) -> bool {
        self.shaper.glyph_index(c).is_some()
    }

    /// The plan for a buffer whose direction and script are set.
    fn plan(&self, buffer: &rustybuzz::UnicodeBuffer) -> Arc<rustybuzz::ShapePlan> {
        let direction = buffer.direction();
        let script = buffer.script();
        let key = (direction, script);
        let compile = || {
            // As `rustybuzz::shape` would make it: no script when none was found.
            let known = (script != rustybuzz::script::UNKNOWN).then_some(script);
            Arc::new(rustybuzz::ShapePlan::new(
                &self.shaper,
                direction,
                known,
                None,
                &[],
            ))
        };
        let Ok(mut plans) = self.plans.lock() else {
            return compile();
        };
        plans.entry(key).or_insert_with(compile).clone()
    }
}

struct Fonts {
    latin: [Face; 2],
    arabic: [Face; 2],
    lines: Mutex<ShapedLines>,
}

static FONTS: LazyLock<Option<Fonts>> = LazyLock::new(|| {
    Some(Fonts {
        latin: [Face::load(NOTO_SANS)?, Face::load(NOTO_SANS_BOLD)?],
        arabic: [
            Face::load(NOTO_NASKH_ARABIC)?,
            Face::load(NOTO_NASKH_ARABIC_BOLD)?,
        ],
        lines: Mutex::new(ShapedLines::default()),
    })
});

impl Fonts {
    fn face(&self, script: Script, weight: Weight) -> &Face {
        let faces = match script {
            Script::Latin => &self.latin,
            Script::Arabic => &self.arabic,
        };
        match weight {
            Weight::Regular => &faces[0],
            Weight::Bold => &faces[1],
        }
    }

    /// The font a character is drawn in: Arabic letters in the Arabic font, everything
    /// else in Noto Sans unless only the Arabic font has it.
    fn script_of(&self, c: char) -> Script {
        let arabic = matches!(
            u32::from(c),
            0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF
        );
        if arabic || (!self.latin[0].covers(c) && self.arabic[0].covers(c)) {
            Script::Arabic
        } else {
            Script::Latin
        }
    }
}

/// A run of glyphs in one font and one direction, ready to draw.
#[derive(Clone)]
struct Piece {
    script: Script,
    text: String,
    glyphs: Vec<KrillaGlyph>,
    /// Width in ems.
    advance: f32,
}

/// One line of text, shaped, its pieces in visual order (left to right).
#[derive(Clone)]
pub struct Line {
    pieces: Arc<[Piece]>,
    weight: Weight,
    size: f32,
    width: f32,
}

fn shape(face: &Face, text: &str, rtl: bool) -> (Vec<KrillaGlyph>, f32) {
    let mut buffer = rustybuzz::UnicodeBuffer::new();
    buffer.push_str(text);
    buffer.guess_segment_properties();
    buffer.set_direction(if rtl {
        rustybuzz::Direction::RightToLeft
    } else {
        rustybuzz::Direction::LeftToRight
    });
    // A mark keeps its own cluster, so each glyph stands for its own letters and a text
    // extractor reads the marks where they belong.
    buffer.set_cluster_level(rustybuzz::BufferClusterLevel::MonotoneCharacters);
    let plan = face.plan(&buffer);
    let output = rustybuzz::shape_with_plan(&face.shaper, &plan, buffer);
    let em = face.units_per_em;
    let mut clusters: Vec<usize> = output
        .glyph_infos()
        .iter()
        .map(|i| i.cluster as usize)
        .collect();
    clusters.sort_unstable();
    clusters.dedup();
    // A glyph stands for the text from its cluster to the next cluster in logical order.
    let end_of = |start: usize| {
        clusters
            .iter()
            .find(|c| **c > start)
            .copied()
            .unwrap_or(text.len())
    };
    let mut advance = 0.0;
    let glyphs = output
        .glyph_infos()
        .iter()
        .zip(output.glyph_positions())
        .map(|(info, pos)| {
            let start = info.cluster as usize;
            advance += pos.x_advance as f32 / em;
            KrillaGlyph::new(
                GlyphId::new(info.glyph_id),
                pos.x_advance as f32 / em,
                pos.x_offset as f32 / em,
                pos.y_offset as f32 / em,
                pos.y_advance as f32 / em,
                start..end_of(start),
                None,
            )
        })
        .collect();
    (glyphs, advance)
}

/// A line's pieces in visual order and its width in ems.
type Shaped = (Arc<[Piece]>, f32);

/// One generation of kept lines: a map for each direction a line may be given (none,
/// left to right, right to left) and each weight, so a lookup needs no key built.
#[derive(Default)]
struct Generation {
    maps: [HashMap<String, Shaped>; 6],
    len: usize,
}

/// Lines already shaped, kept for the next letter. Every letter repeats most of its
/// words and lines (the fixed paragraphs in its language, fund names, dates, amounts),
/// and shaping is most of the cost of typesetting one. A line's pieces depend only on
/// its text, the direction it is given and its weight (never on its size), so a kept
/// line is the line shaping would give again.
///
/// Bounded: a generation holds at most `GENERATION` lines; when it is full it becomes
/// the previous one and the one before is dropped. A line found in the previous
/// generation is moved into the current one, so lines every letter uses stay kept while
/// names and addresses seen once fall away.
#[derive(Default)]
struct ShapedLines {
    current: Generation,
    previous: Generation,
}

impl ShapedLines {
    const GENERATION: usize = 512;
    /// Longer texts are shaped each time: at most a few per letter, and they would make
    /// the bound on memory loose.
    const LONGEST: usize = 256;

    fn slot(base: Option<Direction>, weight: Weight) -> usize {
        let direction = match base {
            None => 0,
            Some(Direction::LeftToRight) => 1,
            Some(Direction::RightToLeft) => 2,
        };
        let weight = match weight {
            Weight::Regular => 0,
            Weight::Bold => 1,
        };
        direction * 2 + weight
    }

    fn get(&mut self, slot: usize, text: &str) -> Option<Shaped> {
        if let Some(shaped) = self.current.maps[slot].get(text) {
            return Some(shaped.clone());
        }
        let (text, shaped) = self.previous.maps[slot].remove_entry(text)?;
        self.previous.len -= 1;
        self.insert(slot, text, shaped.clone());
        Some(shaped)
    }

    fn insert(&mut self, slot: usize, text: String, shaped: Shaped) {
        if text.len() > Self::LONGEST {
            return;
        }
        if self.current.len >= Self::GENERATION {
            self.previous = std::mem::take(&mut self.current);
        }
        if self.current.maps[slot].insert(text, shaped).is_none() {
            self.current.len += 1;
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.current.len + self.previous.len
    }
}

/// Shapes one line, or takes it from the lines already shaped.
fn shape_line(
    fonts: &Fonts,
    text: &str,
    base: Option<Direction>,
    weight: Weight,
    size: f32,
) -> Line {
    let slot = ShapedLines::slot(base, weight);
    let kept = fonts
        .lines
        .lock()
        .ok()
        .and_then(|mut lines| lines.get(slot, text));
    let (pieces, ems) = kept.unwrap_or_else(|| {
        let shaped = shape_line_afresh(fonts, text, base, weight);
        if let Ok(mut lines) = fonts.lines.lock() {
            lines.insert(slot, text.to_owned(), shaped.clone());
        }
        shaped
    });
    Line {
        pieces,
        weight,
        size,
        width: ems * size,
    }
}

/// Shapes one line. The bidirectional algorithm orders its runs (a Latin name or an
/// isolated number inside Arabic keeps reading left to right), then each run is cut where
/// the font changes and shaped in its own direction. With no `base`, the line takes the
/// direction of its first letter.
fn shape_line_afresh(fonts: &Fonts, text: &str, base: Option<Direction>, weight: Weight) -> Shaped {
    let level = base.map(|direction| match direction {
        Direction::LeftToRight => Level::ltr(),
        Direction::RightToLeft => Level::rtl(),
    });
    let info = BidiInfo::new(text, level);
    let mut pieces = Vec::new();
    for paragraph in &info.paragraphs {
        let (levels, runs) = info.visual_runs(paragraph, paragraph.range.clone());
        for run in runs {
            let rtl = levels[run.start].is_rtl();
            let mut segments: Vec<(Script, Range<usize>)> = Vec::new();
            let mut open = false;
            for (offset, c) in text[run.clone()].char_indices() {
                if is_direction_mark(c) {
                    open = false;
                    continue;
                }
                let at = run.start + offset;
                let script = fonts.script_of(c);
                match segments.last_mut() {
                    Some((last, range)) if open && *last == script => range.end = at + c.len_utf8(),
                    _ => segments.push((script, at..at + c.len_utf8())),
                }
                open = true;
            }
            if rtl {
                segments.reverse();
            }
            for (script, range) in segments {
                let piece_text = &text[range];
                let (glyphs, advance) = shape(fonts.face(script, weight), piece_text, rtl);
                pieces.push(Piece {
                    script,
                    text: piece_text.to_owned(),
                    glyphs,
                    advance,
                });
            }
        }
    }
    let ems = pieces.iter().map(|p| p.advance).sum::<f32>();
    (pieces.into(), ems)
}

/// Cuts text into lines no wider than `width`, at spaces; a word wider than a whole line
/// is cut between letters rather than left to run into its neighbour.
fn wrap(
    fonts: &Fonts,
    text: &str,
    width: f32,
    base: Option<Direction>,
    weight: Weight,
    size: f32,
) -> Vec<Line> {
    let measure = |s: &str| shape_line(fonts, s, base, weight, size).width;
    let space = measure(" ");
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut line_width = 0.0;
    for word in text.split_whitespace() {
        let mut word = word.to_owned();
        let mut word_width = measure(&word);
        loop {
            let needed = if line.is_empty() {
                word_width
            } else {
                line_width + space + word_width
            };
            if needed <= width {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(&word);
                line_width = needed;
                break;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_width = 0.0;
                continue;
            }
            let mut fit = String::new();
            for c in word.chars() {
                let mut longer = fit.clone();
                longer.push(c);
                if !fit.is_empty() && measure(&longer) > width {
                    break;
                }
                fit = longer;
            }
            let rest = word[fit.len()..].to_owned();
            if rest.is_empty() {
                line = fit;
                line_width = word_width;
                break;
            }
            lines.push(fit);
            word = rest;
            word_width = measure(&word);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
        .iter()
        .map(|l| shape_line(fonts, l, base, weight, size))
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct Color(u8, u8, u8);

const BLACK: Color = Color(0, 0, 0);
const WARNING_RED: Color = Color(176, 0, 32);

enum Mark {
    Text {
        x: f32,
        baseline: f32,
        line: Line,
        color: Color,
    },
    Rule {
        from: f32,
        to: f32,
        y: f32,
        width: f32,
        color: Color,
    },
}

/// One column of a table: its share of the width and where its cells align.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub share: f32,
    pub align: Align,
}

fn line_height(size: f32) -> f32 {
    size * 1.5
}

/// A letter written top to bottom, page after page.
pub struct Letter {
    fonts: &'static Fonts,
    direction: Direction,
    pages: Vec<Vec<Mark>>,
    /// From the top of the page to the top of the next line.
    y: f32,
}

impl Letter {
    pub fn new(direction: Direction) -> Result<Self, TypesetError> {
        let fonts = FONTS.as_ref().ok_or(TypesetError::Font)?;
        Ok(Letter {
            fonts,
            direction,
            pages: vec![Vec::new()],
            y: MARGIN,
        })
    }

    fn marks(&mut self) -> &mut Vec<Mark> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page unless `height` fits on this one; says whether it did.
    fn room(&mut self, height: f32) -> bool {
        if self.y + height > PAGE_HEIGHT - MARGIN && self.y > MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
            return true;
        }
        false
    }

    pub fn gap(&mut self, height: f32) {
        self.y += height;
    }

    /// Where a line of `width` starts inside `[left, right]`.
    fn x_for(&self, left: f32, right: f32, width: f32, align: Align) -> f32 {
        let at_left = matches!(
            (self.direction, align),
            (Direction::LeftToRight, Align::Start) | (Direction::RightToLeft, Align::End)
        );
        if at_left { left } else { right - width }
    }

    fn put(&mut self, x: f32, line: Line, color: Color) {
        let baseline = self.y + line.size * 1.1;
        self.marks().push(Mark::Text {
            x,
            baseline,
            line,
            color,
        });
    }

    fn lines(&mut self, lines: Vec<Line>, size: f32, color: Color) {
        for line in lines {
            self.room(line_height(size));
            let x = self.x_for(MARGIN, PAGE_WIDTH - MARGIN, line.width, Align::Start);
            self.put(x, line, color);
            self.y += line_height(size);
        }
    }

    /// A paragraph in the letter's direction, wrapped to the page's width; each line
    /// break in `text` starts a new line.
    pub fn paragraph(&mut self, text: &str, weight: Weight, size: f32) {
        for source in text.lines() {
            let lines = wrap(
                self.fonts,
                source,
                MEASURE,
                Some(self.direction),
                weight,
                size,
            );
            self.lines(lines, size, BLACK);
        }
    }

    /// Lines that read in their own direction (a name, an address in Latin letters inside
    /// an Arabic letter), set where the letter's lines start.
    pub fn isolated(&mut self, text: &str, weight: Weight, size: f32) {
        for source in text.lines() {
            let lines = wrap(self.fonts, source, MEASURE, None, weight, size);
            self.lines(lines, size, BLACK);
        }
    }

    /// A rule across the page, or `length` long from where lines start.
    pub fn rule(&mut self, length: Option<f32>) {
        let length = length.unwrap_or(MEASURE);
        let (from, to) = match self.direction {
            Direction::LeftToRight => (MARGIN, MARGIN + length),
            Direction::RightToLeft => (PAGE_WIDTH - MARGIN - length, PAGE_WIDTH - MARGIN),
        };
        let y = self.y;
        self.marks().push(Mark::Rule {
            from,
            to,
            y,
            width: 0.6,
            color: BLACK,
        });
    }

    fn heavy_rule(&mut self) {
        let y = self.y;
        self.marks().push(Mark::Rule {
            from: MARGIN,
            to: PAGE_WIDTH - MARGIN,
            y,
            width: 2.0,
            color: WARNING_RED,
        });
    }

    /// A warning in bold red between two heavy rules, kept on one page.
    pub fn warning(&mut self, text: &str) {
        let size = 12.0;
        let lines = wrap(
            self.fonts,
            text,
            MEASURE,
            Some(self.direction),
            Weight::Bold,
            size,
        );
        self.room(lines.len() as f32 * line_height(size) + 16.0);
        self.heavy_rule();
        self.gap(6.0);
        self.lines(lines, size, WARNING_RED);
        self.gap(4.0);
        self.heavy_rule();
        self.gap(14.0);
    }

    /// A table whose cells wrap within their columns, so no cell runs into the next; the
    /// header repeats on each page the table continues on. Columns are given in reading
    /// order and laid right to left in a right-to-left letter.
    pub fn table(
        &mut self,
        columns: &[Column],
        header: &[String],
        rows: &[Vec<String>],
        footer: &[String],
        size: f32,
    ) {
        let padding = 4.0;
        let total: f32 = columns.iter().map(|c| c.share).sum();
        let mut edges = Vec::with_capacity(columns.len());
        let mut start = 0.0;
        for column in columns {
            let width = MEASURE * column.share / total;
            edges.push(match self.direction {
                Direction::LeftToRight => (MARGIN + start, MARGIN + start + width),
                Direction::RightToLeft => (
                    PAGE_WIDTH - MARGIN - start - width,
                    PAGE_WIDTH - MARGIN - start,
                ),
            });
            start += width;
        }
        let fonts = self.fonts;
        let direction = self.direction;
        let layout = |cells: &[String], weight: Weight| -> Vec<Vec<Line>> {
            cells
                .iter()
                .zip(&edges)
                .map(|(cell, (left, right))| {
                    let width = right - left - 2.0 * padding;
                    wrap(fonts, cell, width, Some(direction), weight, size)
                })
                .collect()
        };
        let height = |cells: &[Vec<Line>]| {
            cells.iter().map(Vec::len).max().unwrap_or(0).max(1) as f32 * line_height(size)
        };
        let draw_row = |letter: &mut Letter, cells: Vec<Vec<Line>>| {
            let top = letter.y;
            let row_height = height(&cells);
            for ((lines, (left, right)), column) in cells.into_iter().zip(&edges).zip(columns) {
                letter.y = top;
                for line in lines {
                    let x = letter.x_for(left + padding, right - padding, line.width, column.align);
                    letter.put(x, line, BLACK);
                    letter.y += line_height(size);
                }
            }
            letter.y = top + row_height;
        };
        let head = layout(header, Weight::Bold);
        let draw_head = |letter: &mut Letter| {
            draw_row(letter, head.clone());
            letter.gap(3.0);
            letter.rule(None);
            letter.gap(4.0);
        };
        self.room(height(&head) + 2.0 * line_height(size) + 8.0);
        draw_head(self);
        for row in rows {
            let cells = layout(row, Weight::Regular);
            if self.room(height(&cells)) {
                draw_head(self);
            }
            draw_row(self, cells);
        }
        let foot = layout(footer, Weight::Bold);
        self.room(height(&foot) + 8.0);
        self.gap(3.0);
        self.rule(None);
        self.gap(4.0);
        draw_row(self, foot);
    }

    /// Writes the pages as a PDF, with the used glyphs of each font embedded.
    pub fn finish(self, metadata: Metadata) -> Result<Vec<u8>, TypesetError> {
        let mut document = Document::new();
        document.set_metadata(metadata);
        // Each font's glyphs get their ids in ascending order of the font's own ids, so a
        // letter embeds the same subset for the same glyphs, and a subset made for one
        // letter is taken from krilla's memo for the next with the same glyphs.
        for (face, glyphs) in self.glyphs_by_face() {
            document.reserve_glyphs(face.pdf.clone(), face.embedded(glyphs));
        }
        for marks in &self.pages {
            let settings =
                PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).ok_or(TypesetError::Font)?;
            let mut page = document.start_page_with(settings);
            let mut surface = page.surface();
            for mark in marks {
                draw(&mut surface, self.fonts, mark);
            }
            surface.finish();
            page.finish();
        }
        document.finish().map_err(TypesetError::Pdf)
    }
}

impl Letter {
    /// The glyph ids each face draws, faces in the order they are first drawn.
    fn glyphs_by_face(&self) -> Vec<(&'static Face, Vec<u32>)> {
        let mut faces: Vec<(&'static Face, Vec<u32>)> = Vec::new();
        for mark in self.pages.iter().flatten() {
            let Mark::Text { line, .. } = mark else {
                continue;
            };
            for piece in line.pieces.iter() {
                let face = self.fonts.face(piece.script, line.weight);
                let at = match faces.iter().position(|(f, _)| std::ptr::eq(*f, face)) {
                    Some(at) => at,
                    None => {
                        faces.push((face, Vec::new()));
                        faces.len() - 1
                    }
                };
                faces[at]
                    .1
                    .extend(piece.glyphs.iter().map(|g| g.glyph_id.to_u32()));
            }
        }
        faces
    }
}

fn paint(color: Color) -> Paint {
    rgb::Color::new(color.0, color.1, color.2).into()
}

fn draw(surface: &mut Surface<'_>, fonts: &Fonts, mark: &Mark) {
    match mark {
        Mark::Text {
            x,
            baseline,
            line,
            color,
        } => {
            surface.set_stroke(None);
            surface.set_fill(Some(Fill {
                paint: paint(*color),
                opacity: NormalizedF32::ONE,
                rule: Default::default(),
            }));
            let mut at = *x;
            for piece in line.pieces.iter() {
                let face = fonts.face(piece.script, line.weight);
                surface.draw_glyphs(
                    Point::from_xy(at, *baseline),
                    &piece.glyphs,
                    face.pdf.clone(),
                    &piece.text,
                    line.size,
                    false,
                );
                at += piece.advance * line.size;
            }
        }
        Mark::Rule {
            from,
            to,
            y,
            width,
            color,
        } => {
            let mut path = PathBuilder::new();
            path.move_to(*from, *y);
            path.line_to(*to, *y);
            if let Some(path) = path.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: paint(*color),
                    width: *width,
                    ..Default::default()
                }));
                surface.draw_path(&path);
            }
        }
    }
}

#[cfg(test)]
// A font that does not load is a broken build: the test should stop there.
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn fonts() -> &'static Fonts {
        FONTS.as_ref().expect("the bundled fonts load")
    }

    fn visual(line: &Line) -> Vec<&str> {
        line.pieces.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn a_kept_shaping_plan_gives_the_glyphs_a_fresh_one_gives() {
        let fonts = fonts();
        let cases = [
            (
                Script::Latin,
                "Nguyễn Thị Minh, 2026-000003: $1,250.00",
                false,
            ),
            (Script::Arabic, "إيصال التبرع لصندوق الدفاع", true),
            (Script::Latin, "2026", true),
        ];
        for (script, text, rtl) in cases {
            for weight in [Weight::Regular, Weight::Bold] {
                let face = fonts.face(script, weight);
                let fresh = {
                    let mut buffer = rustybuzz::UnicodeBuffer::new();
                    buffer.push_str(text);
                    buffer.guess_segment_properties();
                    buffer.set_direction(if rtl {
                        rustybuzz::Direction::RightToLeft
                    } else {
                        rustybuzz::Direction::LeftToRight
                    });
                    buffer.set_cluster_level(rustybuzz::BufferClusterLevel::MonotoneCharacters);
                    rustybuzz::shape(&face.shaper, &[], buffer)
                };
                let expected: Vec<(u32, i32)> = fresh
                    .glyph_infos()
                    .iter()
                    .zip(fresh.glyph_positions())
                    .map(|(info, pos)| (info.glyph_id, pos.x_advance))
                    .collect();
                // Twice: the first call compiles the plan, the second reuses it.
                for _ in 0..2 {
                    let (glyphs, _) = shape(face, text, rtl);
                    let kept: Vec<(u32, i32)> = glyphs
                        .iter()
                        .map(|g| {
                            let em = face.units_per_em;
                            (g.glyph_id.to_u32(), (g.x_advance * em).round() as i32)
                        })
                        .collect();
                    assert_eq!(kept, expected, "{text}");
                }
            }
        }
    }

    /// A piece as drawn: its text, its font, its glyphs with their advances (as bits, so
    /// equal means the same), and its width.
    type Drawn = (String, Script, Vec<(u32, u32)>, u32);

    /// What a line draws.
    fn drawn(pieces: &[Piece]) -> Vec<Drawn> {
        pieces
            .iter()
            .map(|p| {
                let glyphs = p
                    .glyphs
                    .iter()
                    .map(|g| (g.glyph_id.to_u32(), g.x_advance.to_bits()))
                    .collect();
                (p.text.clone(), p.script, glyphs, p.advance.to_bits())
            })
            .collect()
    }

    #[test]
    fn a_kept_line_is_the_line_shaping_gives_afresh() {
        let fonts = fonts();
        let texts = [
            "Santa Ana",
            "لصندوق Santa Ana",
            "إيصال \u{2066}2026-000003\u{2069}",
            "Total: $1,250.00",
        ];
        let bases = [
            None,
            Some(Direction::LeftToRight),
            Some(Direction::RightToLeft),
        ];
        // Every text in every direction and weight, twice: the second time the line is
        // kept, and a kept line given for another direction or weight would differ.
        for round in 0..2 {
            for text in texts {
                for base in bases {
                    for weight in [Weight::Regular, Weight::Bold] {
                        let (pieces, ems) = shape_line_afresh(fonts, text, base, weight);
                        for size in [9.0, 12.0] {
                            let line = shape_line(fonts, text, base, weight, size);
                            let case = format!("{text:?} {base:?} {weight:?} round {round}");
                            assert_eq!(drawn(&line.pieces), drawn(&pieces), "{case}");
                            assert_eq!(line.width.to_bits(), (ems * size).to_bits(), "{case}");
                            assert_eq!(line.size, size, "{case}");
                            assert_eq!(line.weight, weight, "{case}");
                        }
                    }
                }
            }
        }
        let regular = shape_line(fonts, "Santa Ana", None, Weight::Regular, 10.0);
        let bold = shape_line(fonts, "Santa Ana", None, Weight::Bold, 10.0);
        assert_ne!(regular.width, bold.width);
    }

    fn shaped(text: &str) -> Shaped {
        let piece = Piece {
            script: Script::Latin,
            text: text.to_owned(),
            glyphs: Vec::new(),
            advance: text.len() as f32,
        };
        (vec![piece].into(), text.len() as f32)
    }

    fn kept(lines: &mut ShapedLines, slot: usize, text: &str) -> Option<String> {
        lines
            .get(slot, text)
            .map(|(pieces, _)| pieces[0].text.clone())
    }

    #[test]
    fn each_direction_and_weight_keeps_its_own_lines() {
        let mut slots = Vec::new();
        for base in [
            None,
            Some(Direction::LeftToRight),
            Some(Direction::RightToLeft),
        ] {
            for weight in [Weight::Regular, Weight::Bold] {
                slots.push(ShapedLines::slot(base, weight));
            }
        }
        let mut distinct = slots.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct, [0, 1, 2, 3, 4, 5], "{slots:?}");

        let mut lines = ShapedLines::default();
        lines.insert(slots[0], "Gift".to_owned(), shaped("regular, no direction"));
        assert_eq!(
            kept(&mut lines, slots[0], "Gift").as_deref(),
            Some("regular, no direction")
        );
        for slot in &slots[1..] {
            assert_eq!(kept(&mut lines, *slot, "Gift"), None);
        }
    }

    #[test]
    fn kept_lines_are_bounded_and_lines_in_use_stay() {
        let generation = ShapedLines::GENERATION;
        let mut lines = ShapedLines::default();
        lines.insert(0, "hot".to_owned(), shaped("hot"));
        lines.insert(0, "hot".to_owned(), shaped("hot"));
        assert_eq!(lines.len(), 1, "the same line kept twice counts once");

        for n in 0..3 * generation {
            let name = format!("donor {n}");
            lines.insert(0, name.clone(), shaped(&name));
            assert!(lines.len() <= 2 * generation, "{} kept", lines.len());
            if n % 100 == 0 {
                assert_eq!(
                    kept(&mut lines, 0, "hot").as_deref(),
                    Some("hot"),
                    "after {n}"
                );
            }
        }
        assert_eq!(kept(&mut lines, 0, "hot").as_deref(), Some("hot"));
        assert_eq!(kept(&mut lines, 0, "donor 0"), None, "seen once, long ago");
        let last = format!("donor {}", 3 * generation - 1);
        assert_eq!(kept(&mut lines, 0, &last), Some(last.clone()));
    }

    #[test]
    fn a_line_moved_from_the_previous_generation_is_counted_once() {
        let generation = ShapedLines::GENERATION;
        let mut lines = ShapedLines::default();
        for n in 0..generation {
            lines.insert(1, format!("{n}"), shaped("old"));
        }
        lines.insert(1, "new".to_owned(), shaped("new"));
        assert_eq!(lines.len(), generation + 1);
        assert_eq!(lines.current.len, 1);

        assert_eq!(kept(&mut lines, 1, "0").as_deref(), Some("old"));
        assert_eq!(lines.len(), generation + 1);
        assert_eq!(lines.current.len, 2);
        assert_eq!(lines.previous.len, generation - 1);
        assert_eq!(kept(&mut lines, 1, "0").as_deref(), Some("old"));
        assert_eq!(lines.len(), generation + 1);
    }

    #[test]
    fn only_lines_up_to_the_longest_kept_are_kept() {
        let mut lines = ShapedLines::default();
        let longest = "a".repeat(ShapedLines::LONGEST);
        let longer = "a".repeat(ShapedLines::LONGEST + 1);
        lines.insert(2, longest.clone(), shaped("longest"));
        lines.insert(2, longer.clone(), shaped("longer"));
        assert_eq!(kept(&mut lines, 2, &longest).as_deref(), Some("longest"));
        assert_eq!(kept(&mut lines, 2, &longer), None);
        assert_eq!(lines.len(), 1);
    }

    /// The page content streams of a PDF, inflated: the drawing operators as text.
    fn drawing(pdf: &[u8]) -> String {
        use std::io::Read;
        let mut drawn = String::new();
        for (_, stream) in streams(pdf) {
            let mut inflated = Vec::new();
            let read = flate2::read::ZlibDecoder::new(stream).read_to_end(&mut inflated);
            if let (Ok(_), Ok(text)) = (read, String::from_utf8(inflated)) {
                drawn.push_str(&text);
            }
        }
        drawn
    }

    /// Every stream of a PDF as written, with whether its dictionary says it is deflated.
    fn streams(pdf: &[u8]) -> Vec<(bool, &[u8])> {
        let mut found = Vec::new();
        let mut rest = pdf;
        while let Some(start) = rest.windows(7).position(|w| w == b"stream\n") {
            let dictionary = &rest[..start];
            let dictionary = dictionary
                .windows(4)
                .rposition(|w| w == b" obj")
                .map_or(dictionary, |at| &dictionary[at..]);
            let deflated = dictionary.windows(12).any(|w| w == b"/FlateDecode");
            let body = &rest[start + 7..];
            let end = body
                .windows(10)
                .position(|w| w == b"\nendstream")
                .unwrap_or(body.len());
            found.push((deflated, &body[..end]));
            rest = body[end..].get(b"\nendstream".len()..).unwrap_or_default();
        }
        found
    }

    /// Draws nothing: an outline is read only for its box.
    struct Ignore;
    impl rustybuzz::ttf_parser::OutlineBuilder for Ignore {
        fn move_to(&mut self, _: f32, _: f32) {}
        fn line_to(&mut self, _: f32, _: f32) {}
        fn quad_to(&mut self, _: f32, _: f32, _: f32, _: f32) {}
        fn curve_to(&mut self, _: f32, _: f32, _: f32, _: f32, _: f32, _: f32) {}
        fn close(&mut self) {}
    }

    /// Each embedded font's `/FontBBox` (left, bottom, right, top) and its font file,
    /// inflated.
    fn embedded_fonts(pdf: &[u8]) -> Vec<([f32; 4], Vec<u8>)> {
        let text = String::from_utf8_lossy(pdf);
        let mut found = Vec::new();
        for (at, _) in text.match_indices("/FontFile2 ") {
            let end = at + text[at..].find("endobj").expect("a whole object");
            let object = &text[text[..at].rfind(" obj").unwrap_or(0)..end];
            let numbers = &object[object.find("/FontBBox[").expect("a box") + 10..];
            let numbers: Vec<f32> = numbers[..numbers.find(']').expect("a whole box")]
                .split_whitespace()
                .map(|n| n.parse().expect("a number"))
                .collect();
            let [left, bottom, right, top] = numbers[..] else {
                panic!("a box of four numbers: {numbers:?}");
            };
            let data = referenced_stream(pdf, &text[at + "/FontFile2 ".len()..]);
            found.push(([left, bottom, right, top], data));
        }
        found
    }

    /// The deflated stream of the object `reference` (text that begins with an object
    /// number, as after a key such as `/FontFile2 `) names, inflated.
    fn referenced_stream(pdf: &[u8], reference: &str) -> Vec<u8> {
        use std::io::Read;
        let number = &reference[..reference.find(' ').expect("a reference")];
        let opening = format!("\n{number} 0 obj");
        let start = pdf
            .windows(opening.len())
            .position(|w| w == opening.as_bytes())
            .expect("the object");
        let (_, stream) = streams(&pdf[start..])[0];
        let mut data = Vec::new();
        flate2::read::ZlibDecoder::new(stream)
            .read_to_end(&mut data)
            .expect("the stream inflates");
        data
    }

    /// Each embedded font's `/FontBBox` beside the box of every outline in the font file
    /// it names, both in PDF units (1,000 to the em): `(written, drawn)`.
    fn font_boxes(pdf: &[u8]) -> Vec<([f32; 4], [f32; 4])> {
        use rustybuzz::ttf_parser::{Face, GlyphId};
        let mut found = Vec::new();
        for ([left, bottom, right, top], data) in embedded_fonts(pdf) {
            let face = Face::parse(&data, 0).expect("the font file parses");
            let scale = 1000.0 / f32::from(face.units_per_em());
            let mut drawn = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
            for glyph in 0..face.number_of_glyphs() {
                if let Some(b) = face.outline_glyph(GlyphId(glyph), &mut Ignore) {
                    drawn[0] = drawn[0].min(f32::from(b.x_min) * scale);
                    drawn[1] = drawn[1].min(f32::from(b.y_min) * scale);
                    drawn[2] = drawn[2].max(f32::from(b.x_max) * scale);
                    drawn[3] = drawn[3].max(f32::from(b.y_max) * scale);
                }
            }
            let written = [
                left.min(right),
                bottom.min(top),
                left.max(right),
                bottom.max(top),
            ];
            found.push((written, drawn));
        }
        found
    }

    #[test]
    fn the_same_glyphs_embed_the_same_subset_whatever_order_they_are_drawn_in() {
        use rustybuzz::ttf_parser::GlyphId as Gid;
        // Typeset one after another, so each letter takes what those before it left in
        // the memo of subsets if it may: the same letters in another order, other
        // numbers, then one letter different.
        let texts = [
            "Rosa gave $250.",
            "gave $250 Rosa.",
            "Rosa gave $1,987.",
            "Rosa paid $250.",
        ];
        let mut programs = Vec::new();
        for text in texts {
            let mut letter = Letter::new(Direction::LeftToRight).expect("the bundled fonts load");
            letter.paragraph(text, Weight::Regular, 10.0);
            let mut faces = letter.glyphs_by_face();
            assert_eq!(faces.len(), 1, "{text}: one face drawn");
            let (face, drawn) = faces.remove(0);
            assert!(std::ptr::eq(
                face,
                letter.fonts.face(Script::Latin, Weight::Regular)
            ));
            let embedded = face.embedded(drawn.clone());
            let pdf = letter
                .finish(Metadata::new())
                .expect("the letter is written");
            let [(_, program)]: [([f32; 4], Vec<u8>); 1] =
                embedded_fonts(&pdf).try_into().expect("one font embedded");
            // The subset holds .notdef, then each embedded glyph in ascending order of the
            // original font's ids, each with its original outline: every glyph drawn, and
            // every numeral.
            for g in drawn {
                assert!(embedded.iter().any(|(e, _)| e.to_u32() == g), "{text}: {g}");
            }
            for c in NUMERALS.chars() {
                let g = face.shaper.glyph_index(c).expect("a numeral");
                let numeral = (GlyphId::new(u32::from(g.0)), Some(c.to_string()));
                assert!(embedded.contains(&numeral), "{text}: {c}");
            }
            let subset =
                rustybuzz::ttf_parser::Face::parse(&program, 0).expect("the font file parses");
            assert_eq!(
                usize::from(subset.number_of_glyphs()),
                embedded.len() + 1,
                "{text}"
            );
            for (at, (original_id, _)) in embedded.iter().enumerate() {
                let new_id = u16::try_from(at + 1).expect("a small subset");
                let original_id = u16::try_from(original_id.to_u32()).expect("a glyph id");
                assert_eq!(
                    subset.outline_glyph(Gid(new_id), &mut Ignore),
                    face.shaper.outline_glyph(Gid(original_id), &mut Ignore),
                    "{text}: glyph {new_id} of the subset, {original_id} of the font"
                );
            }
            programs.push(program);
        }
        assert!(programs[0] == programs[1], "the same glyphs, another order");
        assert!(programs[0] == programs[2], "other numbers");
        assert!(programs[0] != programs[3], "another letter");
    }

    /// The inflated content of each stream of `pdf` that draws text (a page's).
    fn text_pages(pdf: &[u8]) -> Vec<Vec<u8>> {
        use std::io::Read;
        let mut pages = Vec::new();
        for (_, stream) in streams(pdf) {
            let mut page = Vec::new();
            if flate2::read::ZlibDecoder::new(stream)
                .read_to_end(&mut page)
                .is_ok()
                && page
                    .windows(3)
                    .any(|w| w.starts_with(b"BT") && matches!(w[2], b' ' | b'\n' | b'/'))
            {
                pages.push(page);
            }
        }
        pages
    }

    /// The bytes of a literal string whose `(` `bytes` has just passed, through its `)`.
    fn literal(bytes: &mut impl Iterator<Item = u8>) -> Vec<u8> {
        let mut codes = Vec::new();
        while let Some(b) = bytes.next() {
            match b {
                b')' => break,
                b'\\' => match bytes.next().expect("an escape") {
                    b'n' => codes.push(b'\n'),
                    b'r' => codes.push(b'\r'),
                    b't' => codes.push(b'\t'),
                    b'b' => codes.push(8),
                    b'f' => codes.push(12),
                    d @ b'0'..=b'7' => {
                        let mut value = u32::from(d - b'0');
                        for _ in 0..2 {
                            let d = bytes.next().expect("three octal digits");
                            value = value * 8 + u32::from(d - b'0');
                        }
                        codes.push(u8::try_from(value).expect("a byte"));
                    }
                    other => codes.push(other),
                },
                other => codes.push(other),
            }
        }
        codes
    }

    /// Each text object a one-font PDF's pages draw, in order: where it starts (its
    /// `Tm`'s x) and how far its glyphs advance, in points, by the widths its font gives
    /// each glyph (`/W`) and the adjustments between them (`TJ`); and how many
    /// text-showing operators it holds.
    fn drawn_runs(pdf: &[u8]) -> Vec<(f32, f32, usize)> {
        let text = String::from_utf8_lossy(pdf);
        let [widths] = text.matches("/W[").collect::<Vec<_>>()[..] else {
            panic!("one font's widths");
        };
        let at = text.find(widths).expect("the widths") + widths.len();
        // Ranges of `first last width`, as krilla writes them, and no nested arrays.
        let numbers = &text[at..at + text[at..].find(']').expect("whole widths")];
        assert!(!numbers.contains('['), "widths as ranges: {numbers}");
        let mut width = HashMap::new();
        let mut items = numbers
            .split_whitespace()
            .map(|n| n.parse::<f32>().expect("a number"));
        while let (Some(first), Some(last), Some(w)) = (items.next(), items.next(), items.next()) {
            for cid in first as u32..=last as u32 {
                width.insert(cid, w);
            }
        }
        let advance = |codes: &[u8], size: f32| -> f32 {
            codes
                .chunks(2)
                .map(|c| width[&(u32::from(c[0]) << 8 | u32::from(c[1]))] * size / 1000.0)
                .sum()
        };
        let mut runs = Vec::new();
        for page in text_pages(pdf) {
            let (mut numbers, mut size, mut run) = (Vec::<f32>::new(), 0.0, (0.0, 0.0, 0));
            let mut strings: Vec<Vec<u8>> = Vec::new();
            let mut bytes = page.iter().copied().peekable();
            let mut word = String::new();
            while let Some(b) = bytes.next() {
                if b == b'(' {
                    strings.push(literal(&mut bytes));
                    numbers.push(f32::NAN);
                    continue;
                }
                if !(b.is_ascii_whitespace() || b"[]/".contains(&b)) {
                    word.push(char::from(b));
                    if bytes
                        .peek()
                        .is_some_and(|n| !n.is_ascii_whitespace() && !b"[]/(".contains(n))
                    {
                        continue;
                    }
                }
                if word.is_empty() {
                    continue;
                }
                let token = std::mem::take(&mut word);
                match token.as_str() {
                    "BT" => run = (0.0, 0.0, 0),
                    "ET" => runs.push(run),
                    "Tf" => size = numbers[numbers.len() - 1],
                    "Tm" => run.0 = numbers[numbers.len() - 2],
                    "TJ" | "Tj" => {
                        let mut shown = strings.drain(..);
                        for n in &numbers {
                            run.1 += if n.is_nan() {
                                advance(&shown.next().expect("a string"), size)
                            } else {
                                -n * size / 1000.0
                            };
                        }
                        run.2 += 1;
                    }
                    _ => {
                        if let Ok(n) = token.parse::<f32>() {
                            numbers.push(n);
                            continue;
                        }
                    }
                }
                numbers.clear();
                strings.clear();
            }
        }
        runs
    }

    #[test]
    fn each_piece_is_drawn_as_one_run_where_shaping_put_it() {
        // Kerned pairs (AV, To, Yv, Wo), so that a run's adjustments are not all zero,
        // in a paragraph long enough to wrap.
        let text = "AVATAR: To Wolfgang Yves and Tomás Öztürk, who gave $1,250.00 \
                    to the Santa Ana Deportation Defense Fund. VAT, AWAY, Type, Yoyo.";
        let mut letter = Letter::new(Direction::LeftToRight).expect("the bundled fonts load");
        letter.paragraph(text, Weight::Regular, 10.0);
        let mut shaped = Vec::new();
        for mark in letter.pages.iter().flatten() {
            let Mark::Text { x, line, .. } = mark else {
                continue;
            };
            let mut at = *x;
            for piece in line.pieces.iter() {
                shaped.push((at, piece.advance * line.size, 1));
                at += piece.advance * line.size;
            }
        }
        assert!(shaped.len() > 1, "the paragraph wraps: {shaped:?}");
        let pdf = letter
            .finish(Metadata::new())
            .expect("the letter is written");
        let drawn = drawn_runs(&pdf);
        assert_eq!(drawn.len(), shaped.len(), "{drawn:?} against {shaped:?}");
        for (drawn, shaped) in drawn.iter().zip(&shaped) {
            assert!(
                (drawn.0 - shaped.0).abs() < 0.01
                    && (drawn.1 - shaped.1).abs() < 0.01
                    && drawn.2 == shaped.2,
                "drawn (x, advance, operators) {drawn:?}, shaped {shaped:?}"
            );
        }
    }

    /// The last number of each text matrix (`Tm`) the PDF's pages set: the height at
    /// which each run of glyphs is drawn.
    fn run_heights(pdf: &[u8]) -> Vec<f32> {
        let mut heights = Vec::new();
        for page in text_pages(pdf) {
            let page = String::from_utf8_lossy(&page).into_owned();
            for (at, _) in page.match_indices(" Tm") {
                let number = page[..at].rsplit(' ').next().expect("a number before Tm");
                heights.push(number.parse().expect("a height"));
            }
        }
        heights
    }

    /// Distinct values, each less the smallest, to two decimals.
    fn steps_above_lowest(values: impl IntoIterator<Item = f32>) -> Vec<i64> {
        let values: Vec<f32> = values.into_iter().collect();
        let lowest = values.iter().copied().fold(f32::INFINITY, f32::min);
        let mut steps: Vec<i64> = values
            .iter()
            .map(|v| ((v - lowest) * 100.0).round() as i64)
            .collect();
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    #[test]
    fn a_mark_shaping_raises_or_lowers_is_drawn_at_its_own_height() {
        // Arabic with its short vowels: shaping sets each mark above or below its letter.
        let size = 12.0;
        let mut letter = Letter::new(Direction::RightToLeft).expect("the bundled fonts load");
        letter.paragraph("مُحَمَّد وَعَلِيّ", Weight::Regular, size);
        let mut offsets = Vec::new();
        for mark in letter.pages.iter().flatten() {
            if let Mark::Text { line, .. } = mark {
                for piece in line.pieces.iter() {
                    offsets.extend(piece.glyphs.iter().map(|g| g.y_offset * size));
                }
            }
        }
        let shaped = steps_above_lowest(offsets);
        assert!(
            shaped.len() > 1,
            "some marks are raised or lowered: {shaped:?}"
        );
        let pdf = letter
            .finish(Metadata::new())
            .expect("the letter is written");
        // A run drawn at `y - offset`: the heights of the runs step as the offsets do.
        let drawn = steps_above_lowest(run_heights(&pdf).into_iter().map(|y| -y));
        assert_eq!(drawn, shaped, "heights drawn against offsets shaped");
    }

    #[test]
    fn a_word_drawn_again_is_read_from_the_character_map_not_from_actual_text() {
        // Right to left, so each run goes through the spans that may carry actual text;
        // no spaces, which another font draws.
        let text = "مصرمصرمصر";
        let mut letter = Letter::new(Direction::RightToLeft).expect("the bundled fonts load");
        letter.paragraph(text, Weight::Regular, 12.0);
        let pdf = letter
            .finish(Metadata::new())
            .expect("the letter is written");
        let pages = text_pages(&pdf);
        assert!(!pages.is_empty(), "the letter draws text");
        for page in pages {
            assert!(
                !page
                    .windows(b"/ActualText".len())
                    .any(|w| w == b"/ActualText"),
                "a glyph drawn again with the same letters needs no actual text: {}",
                String::from_utf8_lossy(&page)
            );
        }
        assert_eq!(text_read_back(&pdf), text.chars().rev().collect::<String>());
    }

    /// The text a one-font PDF draws, read back through its font's character map
    /// (`/ToUnicode`), as a reader that copies text does.
    fn text_read_back(pdf: &[u8]) -> String {
        let text = String::from_utf8_lossy(pdf);
        let at = text.find("/ToUnicode ").expect("a character map") + "/ToUnicode ".len();
        let map = String::from_utf8(referenced_stream(pdf, &text[at..])).expect("a text map");
        let hex = |h: &str| u32::from_str_radix(h, 16).expect("hex");
        let mut cids = HashMap::new();
        for section in map.split("beginbfchar").skip(1) {
            let section = &section[..section.find("endbfchar").expect("a whole section")];
            let codes: Vec<&str> = section
                .split(['<', '>'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            for pair in codes.chunks(2) {
                let units: Vec<u16> = (0..pair[1].len() / 4)
                    .map(|i| hex(&pair[1][4 * i..4 * i + 4]) as u16)
                    .collect();
                cids.insert(hex(pair[0]), String::from_utf16_lossy(&units));
            }
        }
        // The page's text objects: each glyph run a literal string of two-byte codes.
        let mut read = String::new();
        for page in text_pages(pdf) {
            let mut bytes = page.iter().copied();
            while let Some(b) = bytes.next() {
                if b != b'(' {
                    continue;
                }
                let codes = literal(&mut bytes);
                for code in codes.chunks(2) {
                    let cid = u32::from(code[0]) << 8 | u32::from(code[1]);
                    read.push_str(cids.get(&cid).map_or("\u{fffd}", String::as_str));
                }
            }
        }
        read
    }

    #[test]
    fn each_letter_reads_back_through_its_own_character_map() {
        // One after another, so each letter's map may come from the memo of maps: the
        // same glyphs, other numbers, another letter.
        for text in [
            "Rosa gave $250.",
            "gave $250 Rosa.",
            "Rosa gave $1,987.",
            "Rosa paid $250.",
            "Rosa gave $250.",
        ] {
            let mut letter = Letter::new(Direction::LeftToRight).expect("the bundled fonts load");
            letter.paragraph(text, Weight::Regular, 10.0);
            let pdf = letter
                .finish(Metadata::new())
                .expect("the letter is written");
            assert_eq!(text_read_back(&pdf), text);
        }
    }

    #[test]
    fn a_face_that_draws_no_digit_embeds_no_numeral() {
        let fonts = fonts();
        let face = fonts.face(Script::Latin, Weight::Bold);
        let drawn: Vec<u32> = "Thank you"
            .chars()
            .filter_map(|c| face.shaper.glyph_index(c))
            .map(|g| u32::from(g.0))
            .collect();
        let embedded = face.embedded(drawn.clone());
        let mut expected = drawn;
        expected.sort_unstable();
        expected.dedup();
        let ids: Vec<u32> = embedded.iter().map(|(g, _)| g.to_u32()).collect();
        assert_eq!(ids, expected);
        assert!(embedded.iter().all(|(_, text)| text.is_none()));
    }

    #[test]
    fn each_font_box_bounds_the_outlines_of_its_own_subset() {
        // The glyphs' boxes are remembered across letters, keyed by font and glyph:
        // letters typeset one after another in each weight, with different glyphs and
        // the same glyphs in the other weight, each box bounds exactly its own subset.
        let letters = [
            (
                Direction::LeftToRight,
                "Thank you, Rosa.",
                "Receipt 2026-000003",
            ),
            (
                Direction::LeftToRight,
                "Thank you, Rosa.",
                "Thank you, Rosa.",
            ),
            (
                Direction::LeftToRight,
                "Wolfgang Öztürk [$1,250.00]",
                "ÉÑ {ÿ} — ¿qué? |_|",
            ),
            (
                Direction::LeftToRight,
                "ÉÑ {ÿ} — ¿qué? |_|",
                "Wolfgang Öztürk [$1,250.00]",
            ),
            (
                Direction::RightToLeft,
                "شكرا لكم",
                "إيصال \u{2066}2026-000003\u{2069}",
            ),
            (Direction::RightToLeft, "إيصال لصندوق Santa Ana", "شكرا لكم"),
        ];
        for (direction, regular, bold) in letters {
            let mut letter = Letter::new(direction).expect("the bundled fonts load");
            letter.paragraph(regular, Weight::Regular, 10.0);
            letter.paragraph(bold, Weight::Bold, 12.0);
            let pdf = letter
                .finish(Metadata::new())
                .expect("the letter is written");
            let boxes = font_boxes(&pdf);
            assert!(
                boxes.len() >= 2,
                "{regular} / {bold}: {} fonts",
                boxes.len()
            );
            for (written, drawn) in boxes {
                let off = written
                    .iter()
                    .zip(drawn)
                    .map(|(w, d)| (w - d).abs())
                    .fold(0.0, f32::max);
                assert!(
                    off < 0.5,
                    "{regular} / {bold}: /FontBBox {written:?}, outlines {drawn:?}"
                );
            }
        }
    }

    #[test]
    fn every_stream_is_deflated_at_the_fastest_level_and_inflates_whole() {
        use std::io::{Read, Write};
        let mut letter = Letter::new(Direction::LeftToRight).expect("the bundled fonts load");
        letter.paragraph("Thank you, Rosa Martínez.", Weight::Regular, 10.0);
        letter.warning("Receipt 2026-000003 replaces receipt 2026-000001.");
        let mut arabic = Letter::new(Direction::RightToLeft).expect("the bundled fonts load");
        arabic.paragraph("شكرا لكم", Weight::Regular, 10.0);
        arabic.warning("إيصال \u{2066}2026-000003\u{2069} لصندوق Santa Ana");
        for letter in [letter, arabic] {
            let pdf = letter
                .finish(Metadata::new())
                .expect("the letter is written");
            let streams = streams(&pdf);
            let deflated: Vec<&[u8]> = streams
                .iter()
                .filter_map(|(deflated, stream)| deflated.then_some(*stream))
                .collect();
            // The page's drawing, and each font's subset and character map are deflated;
            // only the XMP metadata, which readers must find uncompressed, and each
            // font's set of glyphs (a few bytes, which deflating would make longer) are
            // not.
            assert!(deflated.len() >= 5, "{} deflated streams", deflated.len());
            for (_, stream) in streams.iter().filter(|(deflated, _)| !deflated) {
                assert!(
                    stream.starts_with(b"<?xpacket") || stream.len() <= 16,
                    "a stream of {} bytes is not deflated",
                    stream.len()
                );
            }
            for stream in deflated {
                // A zlib stream's second byte names the level it was made at: 0x01 for
                // the fastest, 0x9c for the default (RFC 1950, FLEVEL).
                let head = &stream[..stream.len().min(8)];
                assert_eq!(
                    stream.get(..2),
                    Some(&[0x78, 0x01][..]),
                    "a stream of {} bytes begins {head:02x?}",
                    stream.len()
                );
                let mut inflated = Vec::new();
                let read = flate2::read::ZlibDecoder::new(stream).read_to_end(&mut inflated);
                assert!(matches!(read, Ok(n) if n > 0), "{read:?}");
                // Each thread's one compressor, reset for every stream, writes the bytes
                // a fresh encoder writes.
                let mut fresh =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(1));
                fresh.write_all(&inflated).expect("deflated in memory");
                let fresh = fresh.finish().expect("deflated in memory");
                assert!(fresh == stream, "a stream of {} bytes", stream.len());
            }
        }
    }

    #[test]
    fn a_warning_is_set_between_two_heavy_red_rules() {
        let mut letter = Letter::new(Direction::LeftToRight).expect("the bundled fonts load");
        letter.rule(None);
        letter.warning("This receipt replaces receipt 2026-000001.");
        let pdf = letter
            .finish(Metadata::new())
            .expect("the letter is written");

        let drawn = drawing(&pdf);
        // The plain rule: black, thin. The warning's two rules: red, heavy, across the page.
        let thin_black = "0 0 0 RG 0.6 w 56 56 m 556 56 l";
        let heavy_red = "0.6901961 0 0.1254902 RG 2 w 56";
        assert_eq!(drawn.matches(thin_black).count(), 1, "{drawn}");
        assert_eq!(drawn.matches(heavy_red).count(), 2, "{drawn}");
        assert_eq!(drawn.matches(" RG ").count(), 3, "{drawn}");
        assert_eq!(drawn.matches("556 ").count(), 3, "{drawn}");
        // The warning's text is red too.
        assert!(drawn.contains("0.6901961 0 0.1254902 rg\nBT"), "{drawn}");
    }

    #[test]
    fn an_isolated_receipt_number_inside_arabic_keeps_its_digits_in_order() {
        let line = shape_line(
            fonts(),
            "إيصال \u{2066}2026-000003\u{2069}",
            Some(Direction::RightToLeft),
            Weight::Regular,
            10.0,
        );

        assert_eq!(visual(&line), ["2026-000003", " ", "إيصال"]);
    }

    #[test]
    fn a_latin_name_inside_arabic_reads_left_to_right_in_its_own_font() {
        let line = shape_line(
            fonts(),
            "لصندوق Santa Ana",
            Some(Direction::RightToLeft),
            Weight::Regular,
            10.0,
        );

        assert_eq!(line.pieces.len(), 3);
        assert_eq!(line.pieces[0].text, "Santa Ana");
        assert_eq!(line.pieces[0].script, Script::Latin);
        assert_eq!(line.pieces[2].text, "لصندوق");
        assert_eq!(line.pieces[2].script, Script::Arabic);
    }

    #[test]
    fn a_fund_name_wraps_within_a_narrow_column() {
        let lines = wrap(
            fonts(),
            "Santa Ana Deportation Defense Fund",
            90.0,
            Some(Direction::LeftToRight),
            Weight::Regular,
            9.0,
        );

        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.width <= 90.0));
        let lines: Vec<String> = lines
            .iter()
            .map(|l| l.pieces.iter().map(|p| p.text.as_str()).collect())
            .collect();
        assert_eq!(lines.join(" "), "Santa Ana Deportation Defense Fund");
    }

    #[test]
    fn a_word_wider_than_its_column_is_cut_between_letters() {
        let lines = wrap(
            fonts(),
            "Nguyễn-Thị-Minh-Foundation-Trust",
            40.0,
            Some(Direction::LeftToRight),
            Weight::Bold,
            9.0,
        );

        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| l.width <= 40.0));
    }
}
