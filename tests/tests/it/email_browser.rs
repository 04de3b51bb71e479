//! The emails a donor gets, as a mail reader's browser shows them: every kind (the
//! club's and the Circle's welcomes, a receipt, the notice and new receipt of its
//! correction, a tribute's notification, a failed payment, a cancelled pledge, an
//! appeal), in English, Spanish, French and Arabic, at 360 px and 1280 px: screenshotted, not one
//! axe-core violation, never wider than the window (a phone's reader would scroll it
//! sideways), and every receipt number reading left to right, in Arabic too
//! (isolated, or Arabic's rules for numbers would show 2026-000003 as 000003-2026), in
//! the page and in the subject.

use entity::enums::Language;
use entity::outbox;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::json;

use crate::club::{club_app, envelope_pledge, subscription_event, try_rendered};
use crate::staff_api::{check_gift, create_donor, ok, record_gift, staff_token};
use crate::translations::{an_appeal, arabic_appeal_text, send_appeal};
use tests::browser::{Browser, axe_source, browser_available};
use tests::on_both_backends;
use tests::stripe::{event, paid_invoice};
use tests::support::Backend;

const REFUND: &str = "mutation($id: ID!, $amount: MoneyInput) { refundGift(input: { id: $id, amount: $amount }) { gift { status } } }";

/// The receipt numbers on the page whose first character is not left of their last on
/// one line, each with why: `reversed`, or `broken` over two lines (which a left-to-right
/// language may do at its hyphen; in Arabic a number is kept whole).
const REVERSED_NUMBERS: &str = "const reversed = [];\
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);\
    const range = document.createRange();\
    const box = (node, at) => { range.setStart(node, at); range.setEnd(node, at + 1);\
      return range.getBoundingClientRect(); };\
    while (walker.nextNode()) {\
      const node = walker.currentNode;\
      for (const found of node.data.matchAll(/\\d{4}-\\d{6}/g)) {\
        const first = box(node, found.index);\
        const last = box(node, found.index + found[0].length - 1);\
        if (Math.abs(first.top - last.top) >= 1) {\
          reversed.push([found[0], 'broken']);\
        } else if (!(first.left < last.left)) {\
          reversed.push([found[0], 'reversed']);\
        }\
      }\
    }\
    return reversed;";

/// Every receipt number in `text` (`2026-000003`), with the characters around it.
fn numbers_in(text: &str) -> Vec<(Option<char>, String, Option<char>)> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut at = 0;
    while at + 11 <= chars.len() {
        let candidate = &chars[at..at + 11];
        let is_number = candidate.iter().enumerate().all(|(i, c)| match i {
            4 => *c == '-',
            _ => c.is_ascii_digit(),
        });
        if is_number {
            let before = at.checked_sub(1).map(|i| chars[i]);
            found.push((
                before,
                candidate.iter().collect(),
                chars.get(at + 11).copied(),
            ));
            at += 11;
        } else {
            at += 1;
        }
    }
    found
}

async fn every_email_in_every_language_passes_axe_and_keeps_its_numbers_in_order(backend: Backend) {
    if !browser_available() {
        return;
    }
    let Some(axe) = axe_source() else {
        return;
    };
    let (app, _stripe) = club_app(backend).await;
    let staff = staff_token(&app).await;
    let donors = [
        ("Sam Lee", "sam", "ENGLISH"),
        ("Ana García", "ana", "SPANISH"),
        ("Claire Dubois", "claire", "FRENCH"),
        ("ليلى حداد", "layla", "ARABIC"),
    ];
    for (name, key, language) in donors {
        let email = format!("{key}@example.org");
        let donor = create_donor(
            &app,
            &staff,
            json!({ "displayName": name, "firstName": name, "email": email, "language": language, "emailConsent": true }),
        )
        .await;
        // The club's and the Circle's welcomes.
        envelope_pledge(&app, &staff, donor, 4_200, "MONTHLY", None).await;
        // A receipt, a tribute's notification, then a partial refund: the void notice
        // and the new receipt.
        let tribute = json!({ "tribute": { "kind": "IN_MEMORY_OF", "name": "Rosa López", "notifyEmail": format!("family.{key}@example.org") } });
        let gift = record_gift(&app, &staff, check_gift(donor, tribute)).await;
        ok(
            &app,
            &staff,
            REFUND,
            json!({ "id": gift["gift"]["id"], "amount": { "amountMinor": 10_000 } }),
        )
        .await;
        // A card pledge whose payment fails and which is then cancelled.
        let sub = format!("sub_{key}");
        for (id, kind, status) in [
            ("created", "customer.subscription.created", "active"),
            ("deleted", "customer.subscription.deleted", "canceled"),
        ] {
            if kind.ends_with("deleted") {
                let failed = paid_invoice(&format!("in_{key}"), &sub, &email, 3_000);
                app.deliver(&event(
                    &format!("evt_{key}_failed"),
                    "invoice.payment_failed",
                    failed,
                ))
                .await;
            }
            app.deliver(&subscription_event(
                &format!("evt_{key}_{id}"),
                kind,
                &sub,
                &email,
                3_000,
                status,
            ))
            .await;
        }
    }
    // An appeal, written in Arabic too; the others read it in English inside their
    // language's frame.
    let appeal = an_appeal(&app, &staff, arabic_appeal_text()).await;
    send_appeal(&app, &staff, &appeal).await;
    let messages = outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    let mut kinds: Vec<(&str, Language)> = messages
        .iter()
        .map(|m| (m.kind.as_str(), m.language))
        .collect();
    kinds.sort_by_key(|(kind, language)| (*kind, language.as_str()));
    kinds.dedup();
    let every_kind = [
        mailer::templates::appeal::KIND,
        mailer::templates::club_welcome::KIND,
        mailer::templates::payment_failed::KIND,
        mailer::templates::pledge_cancelled::KIND,
        mailer::templates::receipt::KIND,
        mailer::templates::receipt_voided::KIND,
        mailer::templates::tier_welcome::KIND,
        mailer::templates::tribute::KIND,
    ];
    assert_eq!(kinds.len(), every_kind.len() * donors.len(), "{kinds:?}");

    // A folder for each database, as both runs write pages of the same names at once.
    let folder = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("email-screenshots")
        .join(format!("{backend:?}").to_lowercase());
    std::fs::create_dir_all(&folder).unwrap();
    let browser = Browser::start().await;
    let mut problems = Vec::new();
    for message in &messages {
        let mail = match try_rendered(&app, message).await {
            Ok(mail) => mail,
            // A receipt voided before it was sent is not sent; its notice and the new
            // receipt are.
            Err(mailer::templates::RenderError::Missing(_)) if message.kind == "receipt" => {
                continue;
            }
            Err(error) => panic!("{} {}: {error}", message.kind, message.id),
        };
        let name = format!(
            "{}-{}-{}",
            message.kind,
            message.language.as_str(),
            message.id
        );
        let page = folder.join(format!("{name}.html"));
        std::fs::write(&page, &mail.html).unwrap();
        for width in [360, 1280] {
            browser.set_window_width(width).await;
            browser.goto(&format!("file://{}", page.display())).await;
            browser
                .save_screenshot(&folder.join(format!("{name}-{width}.png")))
                .await;
            for found in browser.axe_violations(&axe).await {
                problems.push(format!("{name} {width}px: {found}"));
            }
            let wider = browser.wider_than_the_window().await;
            if !wider.is_empty() {
                problems.push(format!("{name} {width}px: {}", wider.join(", ")));
            }
            let out_of_order = browser.script(REVERSED_NUMBERS).await;
            let Some(out_of_order) = out_of_order.as_array() else {
                panic!("the page's numbers: {out_of_order}");
            };
            for found in out_of_order {
                if found[1] == "reversed" || message.language == Language::Arabic {
                    problems.push(format!("{name} {width}px: {} {}", found[0], found[1]));
                }
            }
        }
        // The subject carries Unicode's isolate marks in Arabic only; the text part, as
        // a receipt's text, none.
        for (before, number, after) in numbers_in(&mail.subject) {
            let isolated = (before, after) == (Some('\u{2066}'), Some('\u{2069}'));
            if isolated != (message.language == Language::Arabic) {
                problems.push(format!(
                    "{name} subject: {number} between {before:?} and {after:?}"
                ));
            }
        }
        if mail.text.contains(['\u{2066}', '\u{2068}', '\u{2069}']) {
            problems.push(format!("{name} text: isolate marks"));
        }
    }
    browser.quit().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

on_both_backends!(every_email_in_every_language_passes_axe_and_keeps_its_numbers_in_order);
