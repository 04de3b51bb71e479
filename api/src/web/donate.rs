//! The donation pages: `GET /donate` (the form), `POST /donate` (checked, then a 303 to
//! Stripe Checkout), `GET /donate/thanks` and `GET /donate/cancelled`. Server-rendered
//! HTML that works without JavaScript; every donor-supplied text is escaped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use entity::enums::TributeKind;
use entity::{Currency, EmailAddress, format_minor};
use sha2::{Digest, Sha256};

use super::checkout_guard::{self, Refusal};
use super::i18n::{Lang, Text, circle_note};
use crate::domain::appeal_sends::{self, LinkDonor};
use crate::domain::donations::{self, CheckoutOutcome, Donation, Frequency};
use crate::domain::gifts::Tribute;
use crate::domain::payments::{self, AppealProgress};
use crate::domain::tiers::{self, Circle};
use crate::domain::{funds, text};
use crate::server::AppState;

/// Preset amounts, in whole dollars, besides the monthly amount that reaches the Circle.
const PRESETS: [u32; 4] = [25, 50, 100, 250];
/// The largest gift the page takes; bigger gifts are arranged with staff.
const MAX_WEB_GIFT_MINOR: i64 = 10_000_000;

/// Escapes text for HTML content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// What the donor typed, kept as text so the form can be shown again as it was.
#[derive(Debug, Clone, Default)]
pub struct DonationForm {
    pub frequency: String,
    pub amount: String,
    pub amount_other: String,
    pub fund: String,
    pub tribute_kind: String,
    pub tribute_name: String,
    pub notify_name: String,
    pub notify_email: String,
    pub tribute_show_amount: bool,
    pub name: String,
    pub email: String,
    pub email_consent: bool,
    pub anonymous: bool,
    pub appeal: String,
    pub attempt: String,
    pub lang: String,
}

impl DonationForm {
    fn from_pairs(pairs: &HashMap<String, String>) -> Self {
        let get = |key: &str| {
            pairs
                .get(key)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        DonationForm {
            frequency: get("frequency"),
            amount: get("amount"),
            amount_other: get("amount_other"),
            fund: get("fund"),
            tribute_kind: get("tribute_kind"),
            tribute_name: get("tribute_name"),
            notify_name: get("notify_name"),
            notify_email: get("notify_email"),
            tribute_show_amount: pairs.contains_key("tribute_show_amount"),
            name: get("name"),
            email: get("email"),
            email_consent: pairs.contains_key("email_consent"),
            anonymous: pairs.contains_key("anonymous"),
            appeal: get("appeal"),
            attempt: get("attempt"),
            lang: get("lang"),
        }
    }
}

/// A field the donor must fix, and what to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: Cow<'static, str>,
}

/// A name the page accepts: one line, no control character, at most
/// [`text::MAX_NAME`] characters.
fn one_line(name: &str) -> bool {
    text::check_one_line("name", name, text::MAX_NAME).is_ok()
}

/// Checks the form. `funds` are the active funds as (code, name); the amount is read in
/// `currency`, the organization's.
pub fn validate(
    form: &DonationForm,
    funds: &[(String, String)],
    text: &Text,
    lang: Lang,
    currency: Currency,
) -> Result<Donation, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut error = |field, message: &'static str| {
        errors.push(FieldError {
            field,
            message: Cow::Borrowed(message),
        })
    };
    let frequency = match form.frequency.as_str() {
        "once" => Some(Frequency::Once),
        "monthly" => Some(Frequency::Monthly),
        _ => {
            error("frequency", text.err_frequency);
            None
        }
    };
    let typed = if form.amount == "other" || form.amount.is_empty() {
        form.amount_other.as_str()
    } else {
        form.amount.as_str()
    };
    let amount = if typed.is_empty() {
        error("amount", text.err_amount);
        None
    } else {
        match super::amounts::read_amount(typed, lang, currency) {
            Ok(money) if (100..=MAX_WEB_GIFT_MINOR).contains(&money.amount_minor()) => Some(money),
            Ok(_) | Err(entity::MoneyError::NotPositive | entity::MoneyError::TooLarge) => {
                error("amount", text.err_amount_range);
                None
            }
            Err(entity::MoneyError::Ambiguous(_)) => {
                error("amount", super::amounts::ambiguous_amount_message(lang));
                None
            }
            Err(_) => {
                error("amount", text.err_amount);
                None
            }
        }
    };
    let fund = funds.iter().find(|(code, _)| *code == form.fund);
    if fund.is_none() {
        error("fund", text.err_fund);
    }
    let tribute_kind = match form.tribute_kind.as_str() {
        "" | "none" => None,
        "in_honor_of" => Some(TributeKind::InHonorOf),
        "in_memory_of" => Some(TributeKind::InMemoryOf),
        _ => {
            error("tribute_kind", text.err_tribute_kind);
            None
        }
    };
    let mut tribute = None;
    if let Some(kind) = tribute_kind {
        if form.tribute_name.is_empty() || !one_line(&form.tribute_name) {
            error("tribute_name", text.err_tribute_name);
        }
        if !one_line(&form.notify_name) {
            error("notify_name", text.err_notify_name);
        }
        let notify_email = if form.notify_email.is_empty() {
            None
        } else {
            match EmailAddress::parse(&form.notify_email) {
                Ok(email) => Some(email.as_str().to_owned()),
                Err(_) => {
                    error("notify_email", text.err_notify_email);
                    None
                }
            }
        };
        tribute = Some(Tribute {
            kind,
            name: form.tribute_name.clone(),
            notify_name: Some(form.notify_name.clone()).filter(|n| !n.is_empty()),
            notify_email,
            notify_address: None,
            show_amount: form.tribute_show_amount,
        });
    }
    if form.name.is_empty() || !one_line(&form.name) {
        error("name", text.err_name);
    }
    let email = match EmailAddress::parse(&form.email) {
        Ok(email) => Some(email),
        Err(_) => {
            error("email", text.err_email);
            None
        }
    };
    match (frequency, amount, fund, email) {
        (Some(frequency), Some(amount), Some((code, name)), Some(email)) if errors.is_empty() => {
            Ok(Donation {
                frequency,
                amount,
                fund_code: code.clone(),
                fund_name: name.clone(),
                appeal_code: Some(form.appeal.to_uppercase()).filter(|a| !a.is_empty()),
                tribute,
                name: form.name.clone(),
                email: email.as_str().to_owned(),
                language: lang.code().to_owned(),
                email_consent: form.email_consent,
                anonymous: form.anonymous,
            })
        }
        _ => Err(errors),
    }
}

/// The same form sent twice (a double click, a retry after an error) makes one
/// Checkout Session: the key covers the page's attempt token and every choice.
pub fn idempotency_key(form: &DonationForm, donation: &Donation) -> String {
    let mut hasher = Sha256::new();
    for part in [
        form.attempt.as_str(),
        &format!("{:?}", donation.frequency),
        &donation.amount.amount_minor().to_string(),
        &donation.fund_code,
        donation.appeal_code.as_deref().unwrap_or(""),
        &donation.name,
        &donation.email,
        &format!("{:?}", donation.tribute),
        &format!("{}{}", donation.email_consent, donation.anonymous),
        &donation.language,
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    format!("checkout-{}", hex::encode(hasher.finalize()))
}

fn query_map(request: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(request.query_string().as_bytes())
        .into_owned()
        .collect()
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

const STYLE: &str = "
*{box-sizing:border-box}
body{margin:0;font:1.0625rem/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;background:#fff}
main{max-width:36rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0}
fieldset{border:1px solid #767676;border-radius:.4rem;margin:0 0 1rem;padding:.75rem}
legend{font-weight:700;padding:0 .25rem}
label{display:block;margin:.25rem 0}
.choice{display:flex;gap:.5rem;align-items:flex-start;padding:.35rem 0}
.choice input{width:1.35rem;height:1.35rem;margin:.1rem 0 0;flex:none}
input[type=text],input[type=email],select{width:100%;font:inherit;padding:.6rem;border:2px solid #595959;border-radius:.3rem;background:#fff;color:#1a1a1a}
:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
button{font:inherit;font-weight:700;width:100%;padding:.9rem;border:0;border-radius:.4rem;background:#0b57d0;color:#fff;cursor:pointer}
button:hover{background:#0842a0}
.hint{color:#4a4a4a;font-size:.95rem}
.error{color:#b00020;font-weight:600;margin:.15rem 0}
[aria-invalid=true]{border-color:#b00020!important}
.summary{border:3px solid #b00020;border-radius:.4rem;padding:.75rem;margin:0 0 1rem}
.summary a{color:#b00020}
.notice{border:3px solid #8a5300;border-radius:.4rem;padding:.75rem;margin:0 0 1rem}
nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.75rem}
a{color:#0b57d0}
progress{width:100%;height:1rem}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
";

fn page(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{code}\" dir=\"{dir}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        code = lang.code(),
        dir = lang.dir(),
        title = escape(title),
    )
}

fn language_links(lang: Lang, path: &str, keep: &[(&str, &str)]) -> String {
    let mut out = format!("<nav aria-label=\"{}\"><ul>", escape(lang.text().language));
    for other in Lang::ALL {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("lang", other.code());
        for (key, value) in keep {
            if !value.is_empty() {
                query.append_pair(key, value);
            }
        }
        let current = if other == lang {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<li><a href=\"{path}?{}\" lang=\"{}\" hreflang=\"{}\"{current}>{}</a></li>",
            escape(&query.finish()),
            other.code(),
            other.code(),
            escape(other.name())
        );
    }
    out.push_str("</ul></nav>");
    out
}

struct FormView<'a> {
    lang: Lang,
    form: &'a DonationForm,
    errors: &'a [FieldError],
    funds: &'a [(String, String)],
    appeal: Option<&'a AppealProgress>,
    /// Said above the form: Stripe could not be reached, or the form must be sent again.
    notice: Option<&'static str>,
    guard: &'a checkout_guard::CheckoutGuard,
    /// The Circle, whose monthly amount is offered with a note.
    circle: Option<&'a Circle>,
}

/// The monthly amount, in whole units of the page's currency, that reaches the Circle.
fn circle_preset(circle: &Circle) -> Option<u32> {
    u32::try_from(circle.monthly_minor() / 100).ok()
}

/// The page's preset amounts in whole dollars, smallest first: the standing ones and
/// the Circle's monthly amount.
fn presets(circle: Option<&Circle>) -> Vec<u32> {
    let mut all = PRESETS.to_vec();
    if let Some(monthly) = circle.and_then(circle_preset)
        && !all.contains(&monthly)
    {
        all.push(monthly);
        all.sort_unstable();
    }
    all
}

fn field_error<'e>(errors: &'e [FieldError], field: &str) -> Option<&'e str> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.as_ref())
}

/// `aria-invalid` and `aria-describedby` for a field, and its message after it.
fn error_attrs(errors: &[FieldError], field: &str) -> (String, String) {
    match field_error(errors, field) {
        Some(message) => (
            format!(" aria-invalid=\"true\" aria-describedby=\"{field}-error\""),
            format!(
                "<p class=\"error\" id=\"{field}-error\">{}</p>",
                escape(message)
            ),
        ),
        None => (String::new(), String::new()),
    }
}

fn checked(on: bool) -> &'static str {
    if on { " checked" } else { "" }
}

fn render_form(view: &FormView<'_>) -> String {
    let t = view.lang.text();
    let form = view.form;
    let errors = view.errors;
    let mut body = language_links(
        view.lang,
        "/donate",
        &[("appeal", &form.appeal), ("frequency", &form.frequency)],
    );
    let _ = write!(
        body,
        "<h1>{}</h1><p>{}</p>",
        escape(t.title),
        escape(t.intro)
    );
    if let Some(progress) = view.appeal
        && progress.goal_minor > 0
    {
        let currency = Currency::parse(&progress.currency).unwrap_or(Currency::Usd);
        let _ = write!(
            body,
            "<section aria-label=\"{name}\"><p><strong>{name}</strong>: {raised} {raised_word}, {goal} {goal_word}</p>\
<progress max=\"{max}\" value=\"{value}\">{raised}</progress></section>",
            name = escape(&progress.campaign_name),
            raised = escape(&format_minor(progress.raised_minor, currency)),
            raised_word = escape(t.raised),
            goal = escape(&format_minor(progress.goal_minor, currency)),
            goal_word = escape(t.goal),
            max = progress.goal_minor,
            value = progress.raised_minor.min(progress.goal_minor),
        );
    }
    if let Some(notice) = view.notice {
        let _ = write!(
            body,
            "<div class=\"notice\" role=\"alert\" id=\"notice\" tabindex=\"-1\" autofocus><p>{}</p></div>",
            escape(notice)
        );
    }
    if !errors.is_empty() {
        let _ = write!(
            body,
            "<div class=\"summary\" role=\"alert\" aria-labelledby=\"summary-title\" id=\"error-summary\" tabindex=\"-1\" autofocus>\
<h2 id=\"summary-title\">{}</h2><ul>",
            escape(t.errors_heading)
        );
        for error in errors {
            let target = match error.field {
                "frequency" => "frequency-once",
                "amount" => "amount-25",
                "tribute_kind" => "tribute-none",
                other => other,
            };
            let _ = write!(
                body,
                "<li><a href=\"#{target}\">{}</a></li>",
                escape(&error.message)
            );
        }
        body.push_str("</ul></div>");
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/donate\" novalidate>\
<input type=\"hidden\" name=\"attempt\" value=\"{}\">\
<input type=\"hidden\" name=\"lang\" value=\"{}\">\
<input type=\"hidden\" name=\"appeal\" value=\"{}\">",
        escape(&form.attempt),
        view.lang.code(),
        escape(&form.appeal)
    );
    let guard_markup = view.guard.form_markup(view.lang);
    body.push_str(&guard_markup.honeypot);

    let (attrs, message) = error_attrs(errors, "frequency");
    let _ = write!(
        body,
        "<fieldset{attrs}><legend>{legend}</legend>{message}\
<label class=\"choice\"><input type=\"radio\" id=\"frequency-once\" name=\"frequency\" value=\"once\"{once}> {once_word}</label>\
<label class=\"choice\"><input type=\"radio\" id=\"frequency-monthly\" name=\"frequency\" value=\"monthly\"{monthly}> {monthly_word}</label></fieldset>",
        legend = escape(t.frequency),
        once = checked(form.frequency == "once" || form.frequency.is_empty()),
        once_word = escape(t.once),
        monthly = checked(form.frequency == "monthly"),
        monthly_word = escape(t.monthly),
    );

    let (attrs, message) = error_attrs(errors, "amount");
    let _ = write!(
        body,
        "<fieldset{attrs}><legend>{}</legend>{}{message}",
        escape(t.amount),
        guard_markup.minimum
    );
    let circle_monthly = view.circle.and_then(circle_preset);
    for preset in presets(view.circle) {
        let value = preset.to_string();
        let note = match view.circle {
            Some(circle) if Some(preset) == circle_monthly => format!(
                " <span class=\"hint\">({})</span>",
                escape(&circle_note(view.lang, circle))
            ),
            _ => String::new(),
        };
        let _ = write!(
            body,
            "<label class=\"choice\"><input type=\"radio\" id=\"amount-{value}\" name=\"amount\" value=\"{value}\"{}> ${value}{note}</label>",
            checked(form.amount == value)
        );
    }
    let _ = write!(
        body,
        "<label class=\"choice\"><input type=\"radio\" id=\"amount-other\" name=\"amount\" value=\"other\"{}> {other}</label>\
<label for=\"amount_other\" class=\"sr-only\">{other}</label>\
<input type=\"text\" inputmode=\"decimal\" id=\"amount_other\" name=\"amount_other\" value=\"{}\" placeholder=\"{}\" autocomplete=\"off\"{attrs}></fieldset>",
        checked(
            form.amount == "other" || (form.amount.is_empty() && !form.amount_other.is_empty())
        ),
        escape(&form.amount_other),
        super::amounts::amount_placeholder(view.lang),
        other = escape(t.other_amount),
    );

    let (attrs, message) = error_attrs(errors, "fund");
    let _ = write!(
        body,
        "<label for=\"fund\"><strong>{}</strong></label>{message}<select id=\"fund\" name=\"fund\"{attrs}>",
        escape(t.fund)
    );
    for (code, name) in view.funds {
        let selected = if *code == form.fund || (form.fund.is_empty() && code == "GENERAL") {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{}\"{selected}>{}</option>",
            escape(code),
            escape(name)
        );
    }
    body.push_str("</select><p></p>");

    let (kind_attrs, kind_message) = error_attrs(errors, "tribute_kind");
    let _ = write!(
        body,
        "<fieldset{kind_attrs}><legend>{legend}</legend>{kind_message}\
<label class=\"choice\"><input type=\"radio\" id=\"tribute-none\" name=\"tribute_kind\" value=\"none\"{none}> {none_word}</label>\
<label class=\"choice\"><input type=\"radio\" id=\"tribute-honor\" name=\"tribute_kind\" value=\"in_honor_of\"{honor}> {honor_word}</label>\
<label class=\"choice\"><input type=\"radio\" id=\"tribute-memory\" name=\"tribute_kind\" value=\"in_memory_of\"{memory}> {memory_word}</label>",
        legend = escape(t.tribute),
        none = checked(matches!(form.tribute_kind.as_str(), "" | "none")),
        none_word = escape(t.tribute_none),
        honor = checked(form.tribute_kind == "in_honor_of"),
        honor_word = escape(t.in_honor),
        memory = checked(form.tribute_kind == "in_memory_of"),
        memory_word = escape(t.in_memory),
    );
    for (field, label, kind, value, autocomplete) in [
        (
            "tribute_name",
            t.tribute_name,
            "text",
            &form.tribute_name,
            "off",
        ),
        (
            "notify_name",
            t.notify_name,
            "text",
            &form.notify_name,
            "off",
        ),
        (
            "notify_email",
            t.notify_email,
            "email",
            &form.notify_email,
            "off",
        ),
    ] {
        let (attrs, message) = error_attrs(errors, field);
        let _ = write!(
            body,
            "<label for=\"{field}\">{}</label>{message}<input type=\"{kind}\" id=\"{field}\" name=\"{field}\" value=\"{}\" autocomplete=\"{autocomplete}\"{attrs}>",
            escape(label),
            escape(value)
        );
    }
    let _ = write!(
        body,
        "<label class=\"choice\"><input type=\"checkbox\" id=\"tribute_show_amount\" name=\"tribute_show_amount\" value=\"yes\"{}> {}</label></fieldset>",
        checked(form.tribute_show_amount),
        escape(t.tribute_show_amount),
    );

    let _ = write!(body, "<fieldset><legend>{}</legend>", escape(t.about_you));
    for (field, label, kind, value, autocomplete) in [
        ("name", t.name, "text", &form.name, "name"),
        ("email", t.email, "email", &form.email, "email"),
    ] {
        let (attrs, message) = error_attrs(errors, field);
        let _ = write!(
            body,
            "<label for=\"{field}\">{} <span class=\"hint\">({})</span></label>{message}\
<input type=\"{kind}\" id=\"{field}\" name=\"{field}\" value=\"{}\" autocomplete=\"{autocomplete}\" required aria-required=\"true\"{attrs}>",
            escape(label),
            escape(t.required),
            escape(value)
        );
    }
    let _ = write!(
        body,
        "<label class=\"choice\"><input type=\"checkbox\" id=\"email_consent\" name=\"email_consent\" value=\"yes\"{}> {}</label>\
<label class=\"choice\"><input type=\"checkbox\" id=\"anonymous\" name=\"anonymous\" value=\"yes\"{}> {}</label></fieldset>\
<button type=\"submit\">{}</button><p class=\"hint\">{}</p></form>",
        checked(form.email_consent),
        escape(t.consent),
        checked(form.anonymous),
        escape(t.anonymous),
        escape(t.submit),
        escape(t.secure),
    );
    page(view.lang, t.title, &body)
}

async fn active_funds(state: &AppState) -> Result<Vec<(String, String)>, HttpResponse> {
    funds::list_funds(&state.db, false)
        .await
        .map(|list| list.into_iter().map(|f| (f.code, f.name)).collect())
        .map_err(|error| {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "cannot list funds"
            );
            HttpResponse::ServiceUnavailable()
                .body("The donation page is unavailable; please try again shortly.")
        })
}

/// The donor of a personal appeal link, when its token is genuine for the appeal.
/// Anything wrong (no key, an altered token, a database hiccup) means no pre-filling,
/// never an error page.
async fn link_donor(state: &AppState, source_code: &str, token: &str) -> Option<LinkDonor> {
    let key = state.config.download_link_key.as_ref()?;
    if token.is_empty() || source_code.is_empty() {
        return None;
    }
    match appeal_sends::donor_for_link(
        &state.db,
        key.expose(),
        source_code,
        token,
        chrono::Utc::now(),
    )
    .await
    {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(error = %error, "cannot read the donor of a personal appeal link");
            None
        }
    }
}

/// The amount fields for a suggested amount: its preset when there is one, otherwise
/// "other" with the amount typed in.
fn suggested_amount(minor: i64, presets: &[u32]) -> (String, String) {
    let dollars = minor / 100;
    let cents = minor % 100;
    match u32::try_from(dollars) {
        Ok(whole) if cents == 0 && presets.contains(&whole) => (whole.to_string(), String::new()),
        _ if cents == 0 => ("other".to_owned(), dollars.to_string()),
        _ => ("other".to_owned(), format!("{dollars}.{cents:02}")),
    }
}

/// The Circle the page offers; a database hiccup means a page without the note, never
/// an error page.
/// The Circle, when it is kept in the organization's currency, the one the page asks in.
async fn circle_for_page(state: &AppState) -> Option<Circle> {
    match tiers::circle(&state.db).await {
        Ok(found) => found.filter(|circle| {
            Currency::parse(&circle.tier.currency) == Ok(state.config.org_currency)
        }),
        Err(error) => {
            tracing::warn!(error = %error, "cannot read the Circle");
            None
        }
    }
}

async fn appeal_for(state: &AppState, code: &str) -> Option<AppealProgress> {
    if code.is_empty() {
        return None;
    }
    match payments::appeal_progress(&state.db, code).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(error = %error, "cannot read appeal progress");
            None
        }
    }
}

/// `GET /donate`
pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let query = query_map(&request);
    let lang = Lang::negotiate(query.get("lang").map(String::as_str), &request);
    let funds = match active_funds(&state).await {
        Ok(funds) => funds,
        Err(response) => return response,
    };
    let appeal_code = query
        .get("appeal")
        .map(|c| c.trim().to_uppercase())
        .unwrap_or_default();
    let appeal = appeal_for(&state, &appeal_code).await;
    let donor = match &appeal {
        Some(found) => {
            let token = query.get("t").map(|t| t.trim()).unwrap_or_default();
            link_donor(&state, &found.source_code, token).await
        }
        None => None,
    };
    let circle = circle_for_page(&state).await;
    let (amount, amount_other) = donor
        .as_ref()
        .filter(|d| d.ask_minor > 0)
        .map(|d| suggested_amount(d.ask_minor, &presets(circle.as_ref())))
        .unwrap_or_default();
    let form = DonationForm {
        frequency: match query.get("frequency").map(String::as_str) {
            Some("monthly") => "monthly".into(),
            _ => "once".into(),
        },
        fund: query.get("fund").cloned().unwrap_or_default(),
        appeal: appeal
            .as_ref()
            .map(|a| a.source_code.clone())
            .unwrap_or_default(),
        attempt: state.checkout_guard.issue_form_token(),
        lang: lang.code().into(),
        amount,
        amount_other,
        name: donor.as_ref().map(|d| d.name.clone()).unwrap_or_default(),
        email: donor
            .as_ref()
            .and_then(|d| d.email.clone())
            .unwrap_or_default(),
        ..DonationForm::default()
    };
    html(
        StatusCode::OK,
        render_form(&FormView {
            lang,
            form: &form,
            errors: &[],
            funds: &funds,
            appeal: appeal.as_ref(),
            notice: None,
            guard: &state.checkout_guard,
            circle: circle.as_ref(),
        }),
    )
}

/// `POST /donate`
pub async fn submit(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut form = DonationForm::from_pairs(&pairs);
    let lang = Lang::negotiate(Some(form.lang.as_str()).filter(|l| !l.is_empty()), &request);
    let guard = &state.checkout_guard;
    let screened = guard.screen(
        &request,
        pairs
            .get(checkout_guard::HONEYPOT_FIELD)
            .map(String::as_str),
        &form.attempt,
    );
    match screened {
        Ok(()) => {}
        Err(Refusal::FormToken(problem)) => {
            tracing::info!(?problem, "donation form refused for its token");
            form.attempt = guard.issue_form_token();
        }
        Err(refusal) => {
            tracing::info!(?refusal, "donation form refused");
            return checkout_guard::refused_page(lang);
        }
    }
    let funds = match active_funds(&state).await {
        Ok(funds) => funds,
        Err(response) => return response,
    };
    let appeal = appeal_for(&state, &form.appeal).await;
    if appeal.is_none() {
        form.appeal.clear();
    }
    let circle = circle_for_page(&state).await;
    let view = |errors: &[FieldError], notice: Option<&'static str>| {
        render_form(&FormView {
            lang,
            form: &form,
            errors,
            funds: &funds,
            appeal: appeal.as_ref(),
            notice,
            guard,
            circle: circle.as_ref(),
        })
    };
    if screened.is_err() {
        let notice = checkout_guard::form_token_notice(lang);
        return html(StatusCode::FORBIDDEN, view(&[], Some(notice)));
    }
    let validated = validate(&form, &funds, lang.text(), lang, state.config.org_currency);
    let donation = match validated.and_then(|d| match guard.below_minimum(&d, lang) {
        Some(error) => Err(vec![error]),
        None => Ok(d),
    }) {
        Ok(donation) => donation,
        Err(errors) => return html(StatusCode::UNPROCESSABLE_ENTITY, view(&errors, None)),
    };
    if let Err(wait) = guard.take_checkout_budget(guard.client_address(&request), &donation.email) {
        tracing::info!(
            wait_secs = wait.as_secs(),
            "donation refused: over a checkout budget"
        );
        return checkout_guard::over_budget_page(lang, wait);
    }
    let key = idempotency_key(&form, &donation);
    let started = donations::start_checkout(
        &state.db,
        &state.processor,
        &donation,
        &state.config.org.legal_name,
        &state.config.public_url,
        &key,
    )
    .await;
    match started {
        Ok(session) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, session.url))
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        Err(error) => {
            tracing::error!(%error, "cannot create a Checkout Session");
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                view(&[], Some(lang.text().unavailable)),
            )
        }
    }
}

/// `GET /donate/thanks?session_id=`: what we know of the payment, from our records
/// when its event has arrived, otherwise from Stripe, which is asked only about
/// sessions this service created.
pub async fn thanks(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let query = query_map(&request);
    let lang = Lang::negotiate(query.get("lang").map(String::as_str), &request);
    let t = lang.text();
    let session_id = query.get("session_id").cloned().unwrap_or_default();
    let outcome = donations::checkout_outcome(&state.db, &state.processor, &session_id).await;
    let message = match outcome {
        CheckoutOutcome::Paid => t.thanks_paid,
        CheckoutOutcome::Processing => t.thanks_processing,
        CheckoutOutcome::Failed => t.thanks_failed,
        CheckoutOutcome::Unknown => t.thanks_unknown,
    };
    let body = format!(
        "{}<h1>{}</h1><p role=\"status\">{}</p>",
        language_links(lang, "/donate/thanks", &[("session_id", &session_id)]),
        escape(t.thanks_title),
        escape(message)
    );
    html(StatusCode::OK, page(lang, t.thanks_title, &body))
}

/// `GET /donate/cancelled`
pub async fn cancelled(request: HttpRequest) -> HttpResponse {
    let query = query_map(&request);
    let lang = Lang::negotiate(query.get("lang").map(String::as_str), &request);
    let t = lang.text();
    let body = format!(
        "{}<h1>{}</h1><p>{}</p><p><a href=\"/donate?lang={}\">{}</a></p>",
        language_links(lang, "/donate/cancelled", &[]),
        escape(t.cancelled_title),
        escape(t.cancelled_body),
        lang.code(),
        escape(t.try_again)
    );
    html(StatusCode::OK, page(lang, t.cancelled_title, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralizes_markup() {
        assert_eq!(
            escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn a_personal_ask_selects_its_preset_or_is_typed_in() {
        let presets = presets(None);
        assert_eq!(
            suggested_amount(10_000, &presets),
            ("100".to_owned(), String::new())
        );
        assert_eq!(
            suggested_amount(7_500, &presets),
            ("other".to_owned(), "75".to_owned())
        );
        assert_eq!(
            suggested_amount(7_550, &presets),
            ("other".to_owned(), "75.50".to_owned())
        );
    }

    #[test]
    fn a_form_with_nothing_names_every_required_field() {
        let funds = vec![("GENERAL".to_owned(), "General".to_owned())];
        let errors = validate(
            &DonationForm::default(),
            &funds,
            Lang::En.text(),
            Lang::En,
            Currency::Usd,
        )
        .err()
        .unwrap_or_default();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["frequency", "amount", "fund", "name", "email"]);
    }

    #[test]
    fn a_line_break_in_a_name_is_a_field_error() {
        let funds = vec![("GENERAL".to_owned(), "General".to_owned())];
        let form = DonationForm {
            frequency: "once".to_owned(),
            amount: "25".to_owned(),
            fund: "GENERAL".to_owned(),
            tribute_kind: "in_honor_of".to_owned(),
            tribute_name: "Abuela\nJosefina".to_owned(),
            notify_name: "Tío\r\nPepe".to_owned(),
            name: "Rosa\r\nBcc: everyone@example.org".to_owned(),
            email: "rosa@example.org".to_owned(),
            ..DonationForm::default()
        };
        let errors = validate(&form, &funds, Lang::En.text(), Lang::En, Currency::Usd)
            .err()
            .unwrap_or_default();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["tribute_name", "notify_name", "name"]);
        let long = DonationForm {
            tribute_name: "a".repeat(201),
            notify_name: "b".repeat(201),
            name: "Rosa".to_owned(),
            ..form
        };
        let errors = validate(&long, &funds, Lang::En.text(), Lang::En, Currency::Usd)
            .err()
            .unwrap_or_default();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["tribute_name", "notify_name"]);
    }
}
