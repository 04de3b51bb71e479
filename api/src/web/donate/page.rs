//! The donation pages' HTML: the layout, the language links and the form with its
//! presets, the Circle's note and each field's error.

use std::fmt::Write;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use entity::{Currency, format_minor};

use super::super::checkout_guard::{self};
use super::super::i18n::{Lang, circle_note};
use super::form::{DonationForm, FieldError};
use crate::domain::payments::AppealProgress;
use crate::domain::tiers::Circle;

/// Preset amounts, in whole dollars, besides the monthly amount that reaches the Circle.
const PRESETS: [u32; 4] = [25, 50, 100, 250];
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

pub(super) fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

pub(super) const STYLE: &str = "
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

pub(super) fn page(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{code}\" dir=\"{dir}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        code = lang.code(),
        dir = lang.dir(),
        title = escape(title),
    )
}

pub(super) fn language_links(lang: Lang, path: &str, keep: &[(&str, &str)]) -> String {
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

pub(super) struct FormView<'a> {
    pub(super) lang: Lang,
    pub(super) form: &'a DonationForm,
    pub(super) errors: &'a [FieldError],
    pub(super) funds: &'a [(String, String)],
    pub(super) appeal: Option<&'a AppealProgress>,
    /// Said above the form: Stripe could not be reached, or the form must be sent again.
    pub(super) notice: Option<&'static str>,
    pub(super) guard: &'a checkout_guard::CheckoutGuard,
    /// The Circle, whose monthly amount is offered with a note.
    pub(super) circle: Option<&'a Circle>,
}

/// The monthly amount, in whole units of the page's currency, that reaches the Circle.
pub(super) fn circle_preset(circle: &Circle) -> Option<u32> {
    u32::try_from(circle.monthly_minor() / 100).ok()
}

/// The page's preset amounts in whole dollars, smallest first: the standing ones and
/// the Circle's monthly amount.
pub(super) fn presets(circle: Option<&Circle>) -> Vec<u32> {
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

pub(super) fn render_form(view: &FormView<'_>) -> String {
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
        super::super::amounts::amount_placeholder(view.lang),
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

/// The amount fields for a suggested amount: its preset when there is one, otherwise
/// "other" with the amount typed in.
pub(super) fn suggested_amount(minor: i64, presets: &[u32]) -> (String, String) {
    let dollars = minor / 100;
    let cents = minor % 100;
    match u32::try_from(dollars) {
        Ok(whole) if cents == 0 && presets.contains(&whole) => (whole.to_string(), String::new()),
        _ if cents == 0 => ("other".to_owned(), dollars.to_string()),
        _ => ("other".to_owned(), format!("{dollars}.{cents:02}")),
    }
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
}
