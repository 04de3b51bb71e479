//! Typesets the same year-end statement many times and prints what one took and
//! weighed: a steady, database-free measure of the PDF path, for `perf` or
//! `valgrind --tool=callgrind`.
//!
//! ```sh
//! cargo run --release -p mailer --example typeset -- 400 12 ar   # count, gift lines, language
//! ```

// A bad argument should stop the program where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use chrono::{DateTime, Utc};
use entity::Currency;
use entity::enums::{Language, PaymentMethod, ReceiptKind};
use mailer::documents::{Document, GiftLine, Letterhead, render_pdf};

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(400, |s| s.parse().unwrap());
    let lines: u32 = args.next().map_or(12, |s| s.parse().unwrap());
    let language = args.next().map_or(Language::English, |code| {
        Language::parse(&code).expect("a language: en, es, fr or ar")
    });
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let document = Document {
        letterhead: Letterhead {
            legal_name: "Immigrant Legal Defense Fund".to_owned(),
            ein: "12-3456789".to_owned(),
            address: "1458 Howard Street, San Francisco, CA 94103".to_owned(),
            timezone: "America/Los_Angeles".to_owned(),
            sample: false,
        },
        language,
        kind: ReceiptKind::YearEndStatement,
        number: "2025-S-000003".to_owned(),
        tax_year: 2025,
        issued_at: at("2026-01-15T12:00:00Z"),
        donor_name: "Ana Morales".to_owned(),
        donor_address: Some("2130 W. 6th Street\nLos Angeles, CA 90057".to_owned()),
        currency: Currency::parse("USD").unwrap(),
        lines: (0..lines)
            .map(|i| GiftLine {
                received_at: at(&format!("2025-{:02}-14T18:00:00Z", i % 12 + 1)),
                amount_minor: 4_200,
                refunded_minor: 0,
                benefits_minor: 0,
                benefits_description: None,
                method: PaymentMethod::Card,
                fund: "Santa Ana Deportation Defense Fund".to_owned(),
                tribute: None,
            })
            .collect(),
        replaces: None,
    };
    let started = Instant::now();
    let mut bytes = 0;
    for i in 0..count {
        let mut one = document.clone();
        // A different name each time, as a run of statements has.
        one.donor_name = format!("Ana Morales {i}");
        bytes += render_pdf(&one).unwrap().len();
    }
    let each = started.elapsed().as_secs_f64() * 1000.0 / count.max(1) as f64;
    println!(
        "{count} PDFs of {lines} lines: {:.3} ms and {} bytes each",
        each,
        bytes / count.max(1)
    );
}
