//! The words and layout of a receipt or year-end statement, in the donor's language: the
//! plain text, the HTML and the PDF letter (letterhead, donor address block, table of
//! gifts, signature line).
//!
//! A document is frozen when it is issued: what it states (`Document`) is stored with the
//! receipt as JSON beside its text and HTML, in the issuing transaction. The PDF, the
//! costly part, is typeset from that stored statement later, once, by whoever needs it
//! first (the mailer before the first send, or a download), and stored; every later
//! reader gets those stored bytes (`stored_pdf`), so what was sent and what is
//! downloaded stay byte-identical.
//!
//! In an Arabic document, amounts, numbers and names carry Unicode isolate marks, so
//! "2026-000003" or "$50.00" keep their order inside right-to-left sentences: the PDF
//! orders text by them, the HTML turns them into `<bdi>`, and the plain text drops them.

use chrono::{DateTime, Datelike, Utc};
use entity::Currency;
use entity::enums::{Language, PaymentMethod, ReceiptKind, TributeKind};
use serde::{Deserialize, Serialize};

use crate::bidi::{Isolation, Piece, pieces};
use crate::config::Organization;
use crate::templates::words::Words;

mod pdf;
mod stored;
mod typeset;

pub use stored::{
    PdfError, has_pdf, receipts_without_pdfs, store_typeset, stored_pdf, stored_pdfs,
    typeset_missing,
};

pub use typeset::TypesetError;
use typeset::without_direction_marks;

/// Gifts with benefits above this amount (in cents) carry the quid-pro-quo disclosure.
pub const QUID_PRO_QUO_THRESHOLD_MINOR: i64 = 7_500;

/// One gift as the document lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GiftLine {
    pub received_at: DateTime<Utc>,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    pub benefits_minor: i64,
    pub benefits_description: Option<String>,
    pub method: PaymentMethod,
    pub fund: String,
    pub tribute: Option<(TributeKind, String)>,
}

impl GiftLine {
    /// What the donor gave, net of refunds.
    pub fn net_minor(&self) -> i64 {
        (self.amount_minor - self.refunded_minor).max(0)
    }

    /// The part of the net gift that is deductible: net minus the value of benefits.
    pub fn deductible_minor(&self) -> i64 {
        (self.net_minor() - self.benefits_minor).max(0)
    }
}

/// The organization as a document states it, fixed at issue: a later change of name,
/// address or time zone does not change a document already issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Letterhead {
    pub legal_name: String,
    pub ein: String,
    pub address: String,
    /// The IANA name of the zone dates are shown in.
    pub timezone: String,
    /// Issued before the organization's identity was set: a sample, not a tax receipt.
    pub sample: bool,
}

impl From<&Organization> for Letterhead {
    fn from(org: &Organization) -> Self {
        Letterhead {
            legal_name: org.legal_name.clone(),
            ein: org.ein.clone(),
            address: org.address.clone(),
            timezone: org.timezone.name().to_owned(),
            sample: org.issues_samples(),
        }
    }
}

impl Letterhead {
    fn timezone(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
}

/// Everything a document states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub letterhead: Letterhead,
    pub language: Language,
    pub kind: ReceiptKind,
    pub number: String,
    pub tax_year: i32,
    pub issued_at: DateTime<Utc>,
    pub donor_name: String,
    pub donor_address: Option<String>,
    pub currency: Currency,
    pub lines: Vec<GiftLine>,
    /// The number of the receipt this one corrects.
    pub replaces: Option<String>,
}

/// The rendered document and its totals.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub text: String,
    pub html: String,
    pub amount_minor: i64,
    pub deductible_minor: i64,
}

fn method_key(method: PaymentMethod) -> &'static str {
    match method {
        PaymentMethod::Card => "card",
        PaymentMethod::Bank => "bank",
        PaymentMethod::Check => "check",
        PaymentMethod::Cash => "cash",
        PaymentMethod::Stock => "stock",
        PaymentMethod::Daf => "daf",
        PaymentMethod::Wire => "wire",
    }
}

/// A date as the document's language writes it, in the letterhead's time zone.
fn date_in(letterhead: &Letterhead, words: Words, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&letterhead.timezone());
    let month = words.get(&format!("document-month-{}", local.month()));
    words.with(
        "document-date",
        &[
            ("day", &local.day().to_string()),
            ("month", &month),
            ("year", &local.year().to_string()),
        ],
    )
}

/// The document's parts as sentences, shared by the text, HTML and PDF.
struct Parts {
    title: String,
    issued: String,
    replaces: Option<String>,
    intro: String,
    tributes: Vec<String>,
    columns: [String; 6],
    rows: Vec<[String; 6]>,
    totals: [String; 6],
    acknowledgment: Vec<String>,
    exempt: String,
    sample: Option<String>,
    signature: String,
}

fn parts(doc: &Document, language: Language) -> Parts {
    let w = Words::new(language);
    let iso = Isolation::of(language);
    // Amounts are written the way the document's language writes them.
    let money = |minor: i64| iso.ltr(&w.amount(minor, doc.currency));
    let date = |at: DateTime<Utc>| date_in(&doc.letterhead, w, at);
    let method = |m: PaymentMethod| w.with("document-method", &[("method", method_key(m))]);
    let org = iso.name(&doc.letterhead.legal_name);
    let net: i64 = doc.lines.iter().map(GiftLine::net_minor).sum();
    let benefits_total: i64 = doc.lines.iter().map(|l| l.benefits_minor).sum();
    let deductible: i64 = doc.lines.iter().map(GiftLine::deductible_minor).sum();
    let number = iso.ltr(&doc.number);
    let year = doc.tax_year.to_string();
    let title = match doc.kind {
        ReceiptKind::Gift => w.with("document-receipt", &[("number", &number)]),
        ReceiptKind::YearEndStatement => w.with(
            "document-statement",
            &[("year", &year), ("number", &number)],
        ),
    };
    let intro = match (doc.kind, doc.lines.first()) {
        (ReceiptKind::Gift, Some(line)) => w.with(
            "document-thanks-one",
            &[
                ("amount", &money(line.net_minor())),
                ("date", &date(line.received_at)),
                ("method", &method(line.method)),
                ("fund", &iso.name(&line.fund)),
            ],
        ),
        _ => w.with("document-thanks-year", &[("year", &year)]),
    };
    let tributes = doc
        .lines
        .iter()
        .filter_map(|line| line.tribute.as_ref())
        .map(|(kind, name)| {
            let kind = match kind {
                TributeKind::InHonorOf => "honor",
                TributeKind::InMemoryOf => "memory",
            };
            w.with(
                "document-tribute",
                &[("kind", kind), ("name", &iso.name(name))],
            )
        })
        .collect();
    let columns = [
        "document-column-date",
        "document-column-fund",
        "document-column-method",
        "document-column-amount",
        "document-column-benefits",
        "document-column-deductible",
    ]
    .map(|id| w.get(id));
    let rows = doc
        .lines
        .iter()
        .map(|line| {
            [
                date(line.received_at),
                line.fund.clone(),
                method(line.method),
                money(line.net_minor()),
                money(line.benefits_minor),
                money(line.deductible_minor()),
            ]
        })
        .collect();
    let totals = [
        w.get("document-total"),
        String::new(),
        String::new(),
        money(net),
        money(benefits_total),
        money(deductible),
    ];
    let mut acknowledgment = Vec::new();
    if benefits_total == 0 {
        acknowledgment.push(w.get("document-no-benefits"));
    } else {
        for line in doc.lines.iter().filter(|l| l.benefits_minor > 0) {
            acknowledgment.push(w.with(
                "document-benefits",
                &[
                    ("date", &date(line.received_at)),
                    (
                        "description",
                        &iso.name(line.benefits_description.as_deref().unwrap_or("—")),
                    ),
                    ("value", &money(line.benefits_minor)),
                ],
            ));
        }
        acknowledgment.push(w.with("document-deductible", &[("amount", &money(deductible))]));
        if doc
            .lines
            .iter()
            .any(|l| l.benefits_minor > 0 && l.amount_minor > QUID_PRO_QUO_THRESHOLD_MINOR)
        {
            acknowledgment.push(w.with("document-quid-pro-quo", &[("org", &org)]));
        }
    }
    Parts {
        title,
        issued: w.with("document-issued", &[("date", &date(doc.issued_at))]),
        replaces: doc
            .replaces
            .as_ref()
            .map(|number| w.with("document-replaces", &[("number", &iso.ltr(number))])),
        intro,
        tributes,
        columns,
        rows,
        totals,
        acknowledgment,
        exempt: w.with(
            "document-exempt",
            &[
                ("org", &org),
                ("section", &iso.ltr("501(c)(3)")),
                ("ein", &iso.ltr(&doc.letterhead.ein)),
            ],
        ),
        sample: doc.letterhead.sample.then(|| w.get("document-sample")),
        signature: w.with("document-signature", &[("org", &org)]),
    }
}

/// Renders the document's text and HTML in its language, with its totals: cheap enough
/// for the transaction that issues it.
pub fn render(doc: &Document) -> Result<Rendered, askama::Error> {
    let p = parts(doc, doc.language);
    Ok(Rendered {
        text: render_text(doc, &p)?,
        html: render_html(doc, &p)?,
        amount_minor: doc.lines.iter().map(GiftLine::net_minor).sum(),
        deductible_minor: doc.lines.iter().map(GiftLine::deductible_minor).sum(),
    })
}

/// Typesets the document's PDF letter in its language, with the fonts compiled into the
/// service, Arabic right to left. Costly: done once per document, outside the issuing
/// transaction (see `stored_pdf`).
pub fn render_pdf(doc: &Document) -> Result<Vec<u8>, TypesetError> {
    pdf::render(doc, &parts(doc, doc.language))
}

impl Document {
    /// The stored form, kept with the receipt.
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }

    /// Reads a stored document back.
    pub fn from_json(value: &serde_json::Value) -> Result<Document, serde_json::Error> {
        Document::deserialize(value)
    }
}

/// The plain-text document (`templates/document/receipt.txt`).
#[derive(askama::Template)]
#[template(path = "document/receipt.txt", escape = "none")]
struct TextDocument<'a> {
    doc: &'a Document,
    p: &'a Parts,
}

fn render_text(doc: &Document, p: &Parts) -> Result<String, askama::Error> {
    use askama::Template as _;
    let text = TextDocument { doc, p }.render()?;
    // Plain text has no markup to isolate with; mail readers order it by its letters.
    Ok(without_direction_marks(&text))
}

/// A sentence of the HTML document, as pieces.
type Sentence = Vec<Piece>;

/// The HTML document (`templates/document/receipt.html`): every sentence split into
/// pieces so isolated values sit in `<bdi>`; askama escapes the text.
#[derive(askama::Template)]
#[template(path = "document/receipt.html")]
struct HtmlDocument<'a> {
    doc: &'a Document,
    dir: &'static str,
    sample: Option<&'a str>,
    title: Sentence,
    issued: Sentence,
    replaces: Option<Sentence>,
    intro: Sentence,
    tributes: Vec<Sentence>,
    columns: Vec<Sentence>,
    /// Each column's heading as plain text, beside each cell for a narrow screen, where
    /// the rows are stacked and each value shows its heading (`templates/email/base.html`).
    labels: Vec<String>,
    rows: Vec<Vec<Sentence>>,
    totals: Vec<Sentence>,
    acknowledgment: Vec<Sentence>,
    exempt: Sentence,
    signature: Sentence,
}

fn render_html(doc: &Document, p: &Parts) -> Result<String, askama::Error> {
    use askama::Template as _;
    let all = |items: &[String]| items.iter().map(|s| pieces(s)).collect::<Vec<_>>();
    HtmlDocument {
        doc,
        dir: if doc.language == Language::Arabic {
            "rtl"
        } else {
            "ltr"
        },
        sample: p.sample.as_deref(),
        title: pieces(&p.title),
        issued: pieces(&p.issued),
        replaces: p.replaces.as_deref().map(pieces),
        intro: pieces(&p.intro),
        tributes: all(&p.tributes),
        columns: all(&p.columns),
        labels: p
            .columns
            .iter()
            .map(|c| without_direction_marks(c))
            .collect(),
        rows: p.rows.iter().map(|row| all(row)).collect(),
        totals: all(&p.totals),
        acknowledgment: all(&p.acknowledgment),
        exempt: pieces(&p.exempt),
        signature: pieces(&p.signature),
    }
    .render()
}

#[cfg(test)]
// Test data that does not parse should stop the test where it happened.
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use entity::enums::PaymentMethod;

    fn document(language: Language) -> Document {
        Document {
            letterhead: Letterhead {
                legal_name: "Immigrant Legal Defense Fund".to_owned(),
                ein: "12-3456789".to_owned(),
                address: "1458 Howard Street, San Francisco, CA 94103".to_owned(),
                timezone: "America/Los_Angeles".to_owned(),
                sample: false,
            },
            language,
            kind: ReceiptKind::Gift,
            number: "2026-000003".to_owned(),
            tax_year: 2026,
            issued_at: DateTime::parse_from_rfc3339("2026-03-15T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            donor_name: "ليلى حداد".to_owned(),
            donor_address: Some("2130 W. 6th Street\nLos Angeles, CA 90057".to_owned()),
            currency: Currency::parse("USD").unwrap(),
            lines: vec![GiftLine {
                received_at: DateTime::parse_from_rfc3339("2026-03-14T18:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
                amount_minor: 5_000,
                refunded_minor: 0,
                benefits_minor: 0,
                benefits_description: None,
                method: PaymentMethod::Card,
                fund: "Santa Ana Deportation Defense Fund".to_owned(),
                tribute: None,
            }],
            replaces: None,
        }
    }

    #[test]
    fn arabic_html_isolates_numbers_amounts_and_addresses() {
        let html = render(&document(Language::Arabic)).unwrap().html;

        assert!(
            html.contains(
                "إيصال <bdi dir=\"ltr\" style=\"white-space: nowrap;\">2026-000003</bdi>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<bdi dir=\"ltr\" style=\"white-space: nowrap;\">50,00\u{a0}$</bdi>"),
            "{html}"
        );
        assert!(
            html.contains("<bdi>Santa Ana Deportation Defense Fund</bdi>"),
            "{html}"
        );
        assert!(
            html.contains("<br><bdi dir=\"ltr\">2130 W. 6th Street</bdi>"),
            "{html}"
        );
        assert!(html.contains("<bdi>ليلى حداد</bdi>"), "{html}");
    }

    #[test]
    fn markup_in_a_donors_name_or_fund_is_escaped() {
        let mut document = document(Language::Spanish);
        document.donor_name = "<script>x</script>".to_owned();
        document.lines[0].fund = "A & B <i>".to_owned();

        let html = render(&document).unwrap().html;

        assert!(
            html.contains("&#60;script&#62;x&#60;/script&#62;"),
            "{html}"
        );
        assert!(html.contains("A &#38; B &#60;i&#62;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn the_plain_text_carries_no_direction_marks() {
        let text = render(&document(Language::Arabic)).unwrap().text;

        assert!(text.contains("إيصال 2026-000003"), "{text}");
        assert!(
            !text.contains(['\u{2066}', '\u{2068}', '\u{2069}']),
            "{text}"
        );
    }

    #[test]
    fn english_html_has_no_isolates_inside_its_sentences() {
        let html = render(&document(Language::English)).unwrap().html;

        assert!(html.contains("Receipt 2026-000003"), "{html}");
        assert!(html.contains("Thank you for your gift of $50.00"), "{html}");
    }

    #[test]
    fn a_document_reads_back_as_it_was_stored() {
        let document = document(Language::Arabic);

        let stored = document.to_json().unwrap();

        assert_eq!(Document::from_json(&stored).unwrap(), document);
    }

    #[test]
    fn dates_are_shown_in_the_letterhead_time_zone() {
        let mut document = document(Language::English);
        document.issued_at = DateTime::parse_from_rfc3339("2027-01-01T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc);

        let text = render(&document).unwrap().text;

        assert!(text.contains("Issued December 31, 2026"), "{text}");
    }
}
