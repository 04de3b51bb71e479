//! Content in the donor's language: staff write a fund's, a tier's and an appeal's
//! texts in Spanish, French or Arabic, and the donation page, the recognition page,
//! receipts (text, HTML and PDF), welcome and appeal emails use them, falling back to
//! the English text where staff wrote none.

use entity::receipt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::club::{club_app, envelope_pledge, messages, rendered};
use crate::staff_api::{
    admin_token, check_gift, create_donor, fails, ok, record_gift, staff_token,
};
use tests::on_both_backends;
use tests::pdf::{pdf_flowing_text, receipt_pdf};
use tests::support::{Backend, TestApp};

const SANTA_ANA: &str = "Santa Ana Deportation Defense Fund";
const SANTA_ANA_ES: &str = "Fondo de Defensa contra Deportaciones de Santa Ana";
const SANTA_ANA_AR: &str = "صندوق سانتا آنا للدفاع ضد الترحيل";

const CREATE_FUND: &str = "mutation($input: CreateFundInput!) { createFund(input: $input) { id name translations { language field text } } }";
const UPDATE_FUND: &str = "mutation($input: UpdateFundInput!) { updateFund(input: $input) { id translations { language field text } } }";
const PREVIEW: &str = "query($id: ID!, $donor: ID!) { appealPreview(id: $id, donorId: $donor) { ... on AppealPreview { language contentLanguage fellBack subject body } } }";

/// The Santa Ana fund, named in Spanish and Arabic but not in French.
async fn santa_ana(app: &TestApp, admin: &str) -> String {
    let created = ok(
        app,
        admin,
        CREATE_FUND,
        json!({ "input": {
            "name": SANTA_ANA,
            "code": "SANTA-ANA",
            "translations": [
                { "language": "SPANISH", "field": "NAME", "text": SANTA_ANA_ES },
                { "language": "ARABIC", "field": "NAME", "text": SANTA_ANA_AR },
            ],
        } }),
    )
    .await["createFund"]
        .clone();
    assert_eq!(
        created["translations"],
        json!([
            { "language": "ARABIC", "field": "NAME", "text": SANTA_ANA_AR },
            { "language": "SPANISH", "field": "NAME", "text": SANTA_ANA_ES },
        ])
    );
    created["id"].as_str().unwrap().to_owned()
}

async fn page(app: &TestApp, path: &str) -> String {
    app.get(path).await.text().await.unwrap()
}

async fn a_spanish_donation_page_names_the_funds_in_spanish(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let admin = admin_token(&app).await;
    santa_ana(&app, &admin).await;
    ok(
        &app,
        &admin,
        UPDATE_FUND,
        json!({ "input": { "id": "1", "translations": [
            { "language": "SPANISH", "field": "NAME", "text": "Fondo General" },
        ] } }),
    )
    .await;

    let spanish = page(&app, "/donate?lang=es").await;
    let french = page(&app, "/donate?lang=fr").await;

    assert!(
        spanish.contains(&format!(">{SANTA_ANA_ES}</option>")),
        "{spanish}"
    );
    assert!(spanish.contains(">Fondo General</option>"), "{spanish}");
    assert!(!spanish.contains(SANTA_ANA), "{spanish}");
    // Listed in the order of the names the reader sees, not of the English ones.
    assert!(
        spanish.find(SANTA_ANA_ES) < spanish.find(">Fondo General<"),
        "{spanish}"
    );
    assert!(
        french.find(">General Fund<") < french.find(SANTA_ANA),
        "{french}"
    );
    // No French name: the French page falls back to the English one.
    assert!(
        french.contains(&format!(">{SANTA_ANA}</option>")),
        "{french}"
    );
    assert!(french.contains(">General Fund</option>"), "{french}");
}

async fn staff_cannot_translate_a_fund_into_english_or_give_it_a_subject(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let admin = admin_token(&app).await;

    for translation in [
        json!({ "language": "ENGLISH", "field": "NAME", "text": "General" }),
        json!({ "language": "SPANISH", "field": "SUBJECT", "text": "Hola" }),
    ] {
        let (code, field) = fails(
            &app,
            &admin,
            UPDATE_FUND,
            json!({ "input": { "id": "1", "translations": [translation] } }),
        )
        .await;
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("BAD_USER_INPUT", "translations")
        );
    }
}

async fn a_receipt_names_the_fund_in_the_donors_language(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let admin = admin_token(&app).await;
    let staff = staff_token(&app).await;
    let fund = santa_ana(&app, &admin).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana García", "email": "ana@example.org", "language": "SPANISH" }),
    )
    .await;
    let claire = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Claire Dubois", "email": "claire@example.org", "language": "FRENCH" }),
    )
    .await;

    for donor in [ana, claire] {
        record_gift(&app, &staff, check_gift(donor, json!({ "fundId": fund }))).await;
    }

    let receipt_of = |donor: i64| {
        receipt::Entity::find()
            .filter(receipt::Column::DonorId.eq(donor))
            .one(&app.db)
    };
    let spanish = receipt_of(ana).await.unwrap().unwrap();
    let pdf = pdf_flowing_text(&receipt_pdf(&app.db, &spanish).await);
    assert!(
        spanish.content_text.contains(SANTA_ANA_ES),
        "{}",
        spanish.content_text
    );
    let html = spanish.content_html.clone().unwrap_or_default();
    assert!(html.contains(SANTA_ANA_ES), "{html}");
    assert!(pdf.contains(SANTA_ANA_ES), "{pdf}");
    assert!(
        !spanish.content_text.contains(SANTA_ANA),
        "{}",
        spanish.content_text
    );
    let french = receipt_of(claire).await.unwrap().unwrap();
    assert!(
        french.content_text.contains(SANTA_ANA),
        "{}",
        french.content_text
    );
}

/// Sends the appeal `id` to its audience, as staff do.
pub(crate) async fn send_appeal(app: &TestApp, token: &str, id: &str) {
    ok(
        app,
        token,
        "mutation($id: ID!) { sendAppeal(input: { id: $id }) { queued } }",
        json!({ "id": id }),
    )
    .await;
}

/// An appeal's subject and message written in Arabic, with their merge fields.
pub(crate) fn arabic_appeal_text() -> Value {
    json!([
        { "language": "ARABIC", "field": "SUBJECT", "text": "{first_name}، قفوا مع العائلات هذا الخريف" },
        { "language": "ARABIC", "field": "MESSAGE", "text": "مرحباً {first_name}،\n\nهل تتبرعون بمبلغ {ask_amount} اليوم؟ {donate_link}" },
    ])
}

pub(crate) async fn an_appeal(app: &TestApp, staff: &str, translations: Value) -> String {
    let campaign = ok(
        app,
        staff,
        "mutation { createCampaign(input: { name: \"Fall 2026\", goal: { amountMinor: 500000 }, startsOn: \"2026-09-01\", defaultFundId: \"1\" }) { id } }",
        json!({}),
    )
    .await["createCampaign"]["id"]
        .clone();
    ok(
        app,
        staff,
        "mutation($input: CreateAppealInput!) { createAppeal(input: $input) { id translations { language field } } }",
        json!({ "input": {
            "campaignId": campaign,
            "name": "Fall email",
            "channel": "EMAIL",
            "sourceCode": "FALL26-EMAIL",
            "subject": "{first_name}, stand with families this fall",
            "message": "Dear {first_name},\n\nWill you give {ask_amount} today? {donate_link}",
            "translations": translations,
        } }),
    )
    .await["createAppeal"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn an_arabic_appeal_email_takes_its_subject_and_body_from_the_arabic_text(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let staff = staff_token(&app).await;
    let layla = create_donor(
        &app,
        &staff,
        json!({ "displayName": "ليلى حداد", "firstName": "ليلى", "email": "layla@example.org", "emailConsent": true, "language": "ARABIC" }),
    )
    .await;
    let appeal = an_appeal(&app, &staff, arabic_appeal_text()).await;

    let preview = ok(
        &app,
        &staff,
        PREVIEW,
        json!({ "id": appeal, "donor": layla.to_string() }),
    )
    .await["appealPreview"]
        .clone();
    assert_eq!(preview["contentLanguage"], "ARABIC");
    assert_eq!(preview["fellBack"], false);
    assert_eq!(preview["subject"], "ليلى، قفوا مع العائلات هذا الخريف");

    send_appeal(&app, &staff, &appeal).await;
    let queued = messages(&app, "appeal").await;
    assert_eq!(queued.len(), 1);
    let email = rendered(&app, &queued[0]).await;

    assert_eq!(email.subject, "ليلى، قفوا مع العائلات هذا الخريف");
    // The ask is written as Arabic writes amounts, not as English does.
    assert!(
        email.text.starts_with("مرحباً ليلى،\n\nهل تتبرعون بمبلغ 50,00\u{a0}$ اليوم؟ https://give.example.org/donate?appeal=FALL26-EMAIL&"),
        "{}",
        email.text
    );
    assert!(!email.text.contains("Dear"), "{}", email.text);
    assert!(!email.html.contains("lang=\"en\""), "{}", email.html);
}

async fn an_appeal_without_the_donors_language_says_it_falls_back_to_english(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let staff = staff_token(&app).await;
    let ana = create_donor(
        &app,
        &staff,
        json!({ "displayName": "Ana García", "firstName": "Ana", "email": "ana@example.org", "emailConsent": true, "language": "SPANISH" }),
    )
    .await;
    // An Arabic text, and a Spanish subject without its message: Ana reads English.
    let appeal = an_appeal(
        &app,
        &staff,
        json!([
            { "language": "ARABIC", "field": "SUBJECT", "text": "قفوا معنا" },
            { "language": "ARABIC", "field": "MESSAGE", "text": "رسالة" },
            { "language": "SPANISH", "field": "SUBJECT", "text": "Hola" },
        ]),
    )
    .await;

    let preview = ok(
        &app,
        &staff,
        PREVIEW,
        json!({ "id": appeal, "donor": ana.to_string() }),
    )
    .await["appealPreview"]
        .clone();

    assert_eq!(preview["language"], "SPANISH");
    assert_eq!(preview["contentLanguage"], "ENGLISH");
    assert_eq!(preview["fellBack"], true);
    assert_eq!(preview["subject"], "Ana, stand with families this fall");
    send_appeal(&app, &staff, &appeal).await;
    let email = rendered(&app, &messages(&app, "appeal").await[0]).await;
    // The English message is marked as English inside the Spanish email.
    assert!(
        email.html.contains("<div lang=\"en\" dir=\"ltr\">"),
        "{}",
        email.html
    );
}

async fn the_circle_page_and_welcome_speak_the_tiers_translated_name_and_benefits(
    backend: Backend,
) {
    let (app, _stripe) = club_app(backend).await;
    let admin = admin_token(&app).await;
    let tiers = ok(
        &app,
        &admin,
        "{ tiers { nodes { id isCircle } } }",
        json!({}),
    )
    .await["tiers"]["nodes"]
        .clone();
    let circle = tiers
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["isCircle"] == true)
        .unwrap()["id"]
        .clone();
    ok(
        &app,
        &admin,
        "mutation($input: UpdateTierInput!) { updateTier(input: $input) { id } }",
        json!({ "input": { "id": circle,
            "benefits": "Invitations to our spring gathering",
            "translations": [
                { "language": "SPANISH", "field": "NAME", "text": "Círculo de Amistad" },
                { "language": "SPANISH", "field": "BENEFITS", "text": "Invitaciones a nuestro encuentro de primavera" },
            ],
        } }),
    )
    .await;
    let luis = create_donor(
        &app,
        &admin,
        json!({ "displayName": "Luis Pérez", "email": "luis@example.org", "language": "SPANISH" }),
    )
    .await;
    envelope_pledge(&app, &admin, luis, 5_000, "MONTHLY", None).await;

    let spanish = page(&app, "/circle?lang=es").await;
    let welcome = rendered(&app, &messages(&app, "tier_welcome").await[0]).await;

    assert!(spanish.contains("Círculo de Amistad"), "{spanish}");
    assert_eq!(welcome.subject, "Bienvenido/a a Círculo de Amistad");
    assert!(
        welcome
            .text
            .contains("Invitaciones a nuestro encuentro de primavera"),
        "{}",
        welcome.text
    );
    // French has no text of its own: the built-in French name of the Circle.
    assert!(
        page(&app, "/circle?lang=fr")
            .await
            .contains("Cercle des amis")
    );
}

const REFUND: &str = "mutation($id: ID!, $amount: MoneyInput) { refundGift(input: { id: $id, amount: $amount }) { gift { status } } }";
const VOID: &str = "mutation($n: String!, $r: String!) { voidReceipt(input: { number: $n, reason: $r }) { voidReason } }";

/// A receipt voided by the service (a refund) tells the donor why in the donor's
/// language, with the amount written their way; the receipt's record for staff keeps
/// the English reason, and a reason staff typed reaches the donor as they wrote it.
async fn a_voided_receipt_says_why_in_the_donors_language(backend: Backend) {
    let (app, _stripe) = club_app(backend).await;
    let staff = staff_token(&app).await;
    let mut gifts = Vec::new();
    for (name, email, language) in [
        ("Ana García", "ana@example.org", "SPANISH"),
        ("ليلى حداد", "layla@example.org", "ARABIC"),
        ("Claire Dubois", "claire@example.org", "FRENCH"),
    ] {
        let donor = create_donor(
            &app,
            &staff,
            json!({ "displayName": name, "email": email, "language": language }),
        )
        .await;
        let gift = record_gift(&app, &staff, check_gift(donor, json!({}))).await;
        gifts.push((donor, gift["gift"]["id"].clone()));
    }
    ok(
        &app,
        &staff,
        REFUND,
        json!({ "id": gifts[0].1, "amount": { "amountMinor": 10_000 } }),
    )
    .await;
    ok(&app, &staff, REFUND, json!({ "id": gifts[1].1 })).await;
    let claire_receipt = receipt::Entity::find()
        .filter(receipt::Column::DonorId.eq(gifts[2].0))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .number;
    ok(
        &app,
        &admin_token(&app).await,
        VOID,
        json!({ "n": claire_receipt, "r": "reçu envoyé à la mauvaise adresse" }),
    )
    .await;

    let notices = messages(&app, "receipt_voided").await;
    assert_eq!(notices.len(), 3);
    let spanish = rendered(&app, &notices[0]).await;
    assert!(
        spanish
            .text
            .contains("Motivo: se le reembolsaron $100,00 de su donación."),
        "{}",
        spanish.text
    );
    let arabic = rendered(&app, &notices[1]).await;
    assert!(
        arabic.text.contains("السبب: تم رد مبلغ تبرعك بالكامل."),
        "{}",
        arabic.text
    );
    let french = rendered(&app, &notices[2]).await;
    assert!(
        french
            .text
            .contains("Motif : reçu envoyé à la mauvaise adresse."),
        "{}",
        french.text
    );
    for notice in [&spanish, &arabic, &french] {
        assert!(!notice.text.contains("refunded"), "{}", notice.text);
        assert!(!notice.html.contains("refunded"), "{}", notice.html);
    }

    let recorded = receipt::Entity::find()
        .filter(receipt::Column::VoidReason.is_not_null())
        .all(&app.db)
        .await
        .unwrap();
    let mut reasons: Vec<_> = recorded
        .iter()
        .filter_map(|r| r.void_reason.clone())
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "reçu envoyé à la mauvaise adresse",
            "the gift was refunded in full",
            "the gift was refunded in part ($100.00)",
        ]
    );
}

on_both_backends!(
    a_spanish_donation_page_names_the_funds_in_spanish,
    staff_cannot_translate_a_fund_into_english_or_give_it_a_subject,
    a_receipt_names_the_fund_in_the_donors_language,
    an_arabic_appeal_email_takes_its_subject_and_body_from_the_arabic_text,
    an_appeal_without_the_donors_language_says_it_falls_back_to_english,
    the_circle_page_and_welcome_speak_the_tiers_translated_name_and_benefits,
    a_voided_receipt_says_why_in_the_donors_language,
);
