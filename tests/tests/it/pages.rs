//! The donor-facing pages say what happens: the Circle's note belongs to the monthly
//! choice, an amount typed in "Other" is the one sent, an error leads to its field, an
//! ended campaign shows its result, and `/circle`, `/manage` and the unsubscribe page
//! share the donation page's layout and speak the reader's language.

use chrono::Datelike;
use entity::pledge;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::amounts::{donation_app, unit_amounts_sent};
use crate::checkout::{mount_checkout, post_donation, valid_form};
use crate::club::{CLUB_LINK_KEY, club_app, envelope_pledge};
use crate::staff_api::{admin_token, create_donor, ok, staff_token};
use tests::on_both_backends;
use tests::support::{Backend, TestApp};

async fn page(app: &TestApp, path: &str) -> String {
    app.get(path).await.text().await.unwrap()
}

/// The markup of the element with `id`, up to the end of its line of markup.
fn element<'p>(page: &'p str, id: &str) -> &'p str {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let end = page[start..]
        .find("</label>")
        .map_or(page.len(), |e| start + e);
    &page[start..end]
}

async fn the_circle_note_belongs_to_the_monthly_choice(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let donate = page(&app, "/donate").await;
    let preset = element(&donate, "amount-42");
    assert!(
        preset.contains("class=\"hint circle-note\""),
        "the note is marked as the monthly choice's: {preset}"
    );
    assert!(
        preset
            .contains("$42 a month joins the Circle of Friends, for gifts of $500 or more a year."),
        "{preset}"
    );
    assert!(!donate.contains("))"), "doubled parentheses: {donate}");
    // Hidden while "Once" is checked, without a script.
    assert!(donate.contains("form:has(#frequency-once:checked) .circle-note{display:none}"));
    let french = page(&app, "/donate?lang=fr").await;
    assert!(
        element(&french, "amount-42").contains("42 $ par mois"),
        "{french}"
    );
}

async fn an_amount_typed_in_other_is_the_one_sent_even_with_a_preset_checked(backend: Backend) {
    let (app, stripe) = donation_app(backend).await;
    mount_checkout(&stripe).await;
    let mut form = valid_form();
    form.retain(|(k, _)| *k != "amount");
    form.extend([("amount", "25"), ("amount_other", "500")]);
    let response = post_donation(&app, &form).await;
    assert_eq!(response.status(), 303);
    assert_eq!(unit_amounts_sent(&stripe).await, ["50000"]);
}

async fn each_amount_error_links_to_the_field_at_fault(backend: Backend) {
    let (app, _stripe) = donation_app(backend).await;
    let with_amount = |amount: &'static str, other: &'static str| {
        let mut form = valid_form();
        form.retain(|(k, _)| *k != "amount");
        form.extend([("amount", amount), ("amount_other", other)]);
        form
    };
    let typed = post_donation(&app, &with_amount("other", "abc")).await;
    assert_eq!(typed.status(), 422);
    let typed = typed.text().await.unwrap();
    assert!(typed.contains("<a href=\"#amount_other\">"), "{typed}");
    let preset = post_donation(&app, &with_amount("0.5", "")).await;
    let preset = preset.text().await.unwrap();
    assert!(!preset.contains("<a href=\"#amount_other\">"), "{preset}");
    assert!(preset.contains("<a href=\"#amount-25\">"), "{preset}");
}

async fn an_ended_campaign_shows_its_result_not_a_progress_bar(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let admin = admin_token(&app).await;
    for (name, ends, code) in [
        ("Spring 2025", "\"2025-05-31\"", "SPRING-25"),
        ("Always", "null", "ALWAYS"),
    ] {
        let campaign = ok(
            &app,
            &admin,
            &format!(
                "mutation {{ createCampaign(input: {{ name: \"{name}\", goal: {{ amountMinor: 500000 }}, startsOn: \"2025-01-01\", endsOn: {ends}, defaultFundId: \"1\" }}) {{ id }} }}"
            ),
            json!({}),
        )
        .await["createCampaign"]["id"]
            .clone();
        ok(
            &app,
            &admin,
            "mutation($input: CreateAppealInput!) { createAppeal(input: $input) { id } }",
            json!({ "input": {
                "campaignId": campaign, "name": name, "channel": "EMAIL", "sourceCode": code,
                "subject": "s", "message": "m",
            } }),
        )
        .await;
    }
    let ended = page(&app, "/donate?appeal=SPRING-25").await;
    assert!(!ended.contains("<progress"), "{ended}");
    assert!(
        ended.contains("Spring 2025 has ended: $0.00 raised toward a goal of $5,000.00."),
        "{ended}"
    );
    let running = page(&app, "/donate?appeal=ALWAYS").await;
    assert!(running.contains("<progress"), "{running}");
}

/// The layout every page shares: the language links, the styles, a phone's viewport.
fn assert_shared_layout(page: &str, nav_label: &str) {
    assert!(
        page.contains(&format!("<nav aria-label=\"{nav_label}\">")),
        "{page}"
    );
    assert!(page.contains("<style>"), "{page}");
    assert!(page.contains("name=\"viewport\""), "{page}");
}

async fn the_circle_page_shares_the_layout_and_invites_people_to_join(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let spanish = page(&app, "/circle?lang=es").await;
    assert_shared_layout(&spanish, "Idioma");
    assert!(
        spanish.contains("href=\"/donate?lang=es&#38;frequency=monthly\""),
        "{spanish}"
    );
    assert!(spanish.contains("Done $42 al mes para unirse al Círculo de Amigos"));
    let english = page(&app, "/circle").await;
    assert!(english.contains("Give $42 a month to join the Circle of Friends"));
}

const SPANISH_MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

async fn the_self_service_page_shows_dates_and_amounts_in_the_donor_s_language(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(
        &app,
        &token,
        json!({ "displayName": "Lucía Pérez", "email": "lucia@example.org", "language": "SPANISH" }),
    )
    .await;
    let pledge_id = envelope_pledge(&app, &token, donor, 4_250, "MONTHLY", None).await;
    let starts = pledge::Entity::find_by_id(pledge_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .starts_on;
    let link = mailer::links::manage_token(
        CLUB_LINK_KEY,
        donor,
        0,
        chrono::Utc::now() + chrono::Duration::days(7),
    );
    let spanish = page(&app, &format!("/manage/{link}?lang=es")).await;
    assert_shared_layout(&spanish, "Idioma");
    let date = format!(
        "{} de {} de {}",
        starts.day(),
        SPANISH_MONTHS[starts.month0() as usize],
        starts.year()
    );
    assert!(spanish.contains(&date), "{date}: {spanish}");
    assert!(!spanish.contains(&starts.to_string()), "{spanish}");
    assert!(spanish.contains("$42,50"), "{spanish}");
}

async fn the_unsubscribe_page_speaks_the_reader_s_language_on_a_phone(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let token = staff_token(&app).await;
    let donor = create_donor(
        &app,
        &token,
        json!({ "displayName": "Camille Dubois", "email": "camille@example.org" }),
    )
    .await;
    let path = format!(
        "/{}&lang=fr",
        mailer::links::unsubscribe_path(CLUB_LINK_KEY, donor, 0)
    );
    let french = page(&app, &path).await;
    assert!(french.contains("lang=\"fr\""), "{french}");
    assert!(french.contains("name=\"viewport\""), "{french}");
    assert!(
        french.contains("Ne plus recevoir nos appels par e-mail ?"),
        "{french}"
    );
    let refused = app
        .client
        .get(app.url("/appeals/unsubscribe?donor=1&signature=x"))
        .header("Accept-Language", "es")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains("no es válido"), "{refused}");
    assert!(refused.contains("name=\"viewport\""), "{refused}");
}

/// The donation page stays light for donors on slow phones: under 30 KB of HTML in every
/// language, with an appeal's progress and every field in error.
async fn the_donation_page_weighs_under_30_kb(backend: Backend) {
    let (app, _stripe) = donation_app(backend).await;
    for lang in ["en", "es", "fr", "ar"] {
        let page = page(&app, &format!("/donate?lang={lang}")).await;
        assert!(page.len() < 30_000, "{lang}: {} bytes", page.len());
        eprintln!("the donation page in {lang}: {} bytes", page.len());
    }
    let errors = post_donation(&app, &[("attempt", "attempt-1"), ("lang", "ar")]).await;
    let errors = errors.text().await.unwrap();
    assert!(errors.len() < 30_000, "with errors: {} bytes", errors.len());
    eprintln!(
        "the Arabic donation page with every error: {} bytes",
        errors.len()
    );
}

on_both_backends!(
    the_donation_page_weighs_under_30_kb,
    the_circle_note_belongs_to_the_monthly_choice,
    an_amount_typed_in_other_is_the_one_sent_even_with_a_preset_checked,
    each_amount_error_links_to_the_field_at_fault,
    an_ended_campaign_shows_its_result_not_a_progress_bar,
    the_circle_page_shares_the_layout_and_invites_people_to_join,
    the_self_service_page_shows_dates_and_amounts_in_the_donor_s_language,
    the_unsubscribe_page_speaks_the_reader_s_language_on_a_phone,
);
