//! The donation pages: `GET /donate` (the form), `POST /donate` (checked, then a 303 to
//! Stripe Checkout), `GET /donate/thanks` and `GET /donate/cancelled`. Server-rendered
//! HTML that works without JavaScript; every donor-supplied text is escaped. What the
//! donor typed is read in `form`, the HTML is written in `page`, and the handlers here
//! tie them to the domain.

mod form;
mod page;

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self};
use actix_web::{HttpRequest, HttpResponse, web};
use entity::Currency;

use super::checkout_guard::{self, Refusal};
use super::i18n::Lang;
use crate::domain::appeal_sends::{self, LinkDonor};
use crate::domain::donations::{self, CheckoutOutcome};
use crate::domain::funds;
use crate::domain::payments::{self, AppealProgress};
use crate::domain::tiers::{self, Circle};
use crate::server::AppState;

pub use self::form::FieldError;
use self::form::{DonationForm, idempotency_key, validate};
pub use self::page::escape;
use self::page::{FormView, html, language_links, page, presets, render_form, suggested_amount};

fn query_map(request: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(request.query_string().as_bytes())
        .into_owned()
        .collect()
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
