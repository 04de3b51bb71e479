//! The donation pages: `GET /donate` (the form), `POST /donate` (checked, then a 303 to
//! Stripe Checkout), `GET /donate/thanks` and `GET /donate/cancelled`. Server-rendered
//! HTML that works without JavaScript, from the askama templates in `api/templates/`,
//! which escape every donor-supplied text. What the donor typed is read in `form`, what
//! the page shows is worked out in `page`, and the handlers here tie them to the domain.

mod form;
mod page;
mod reads;

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self};
use actix_web::{HttpRequest, HttpResponse, web};
use entity::enums::Language;

use super::checkout_guard::{self, Refusal};
use super::i18n::{Words, negotiate};
use super::page::{Layout, MessagePage, message, respond};
use crate::domain::appeal_sends::{self, LinkDonor};
use crate::domain::donations::{self, CheckoutOutcome};
use crate::domain::payments::AppealProgress;
use crate::server::AppState;

pub use self::form::FieldError;
use self::form::{DonationForm, idempotency_key, validate};
use self::page::{FormView, donate_page, suggested_amount};
use self::reads::PagePresets;
pub use self::reads::PageReads;

fn query_map(request: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(request.query_string().as_bytes())
        .into_owned()
        .collect()
}

async fn active_funds(
    state: &AppState,
    lang: Language,
) -> Result<Arc<[(String, String)]>, HttpResponse> {
    state
        .page_reads
        .active_funds(&state.db, lang)
        .await
        .map_err(|error| {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "cannot list funds"
            );
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                "donate-title",
                ("/donate", &[]),
                Words(lang).get("donate-page-unavailable"),
            )
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

/// The preset amounts the page in `lang` offers, with the Circle's; a database hiccup
/// means a page without the Circle's note, never an error page.
async fn presets_for_page(state: &AppState, lang: Language) -> Arc<PagePresets> {
    match state.page_reads.presets(&state.db, lang).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(error = %error, "cannot read the Circle");
            state.page_reads.standing_presets(lang)
        }
    }
}

async fn appeal_for(state: &AppState, code: &str) -> Option<AppealProgress> {
    if code.is_empty() {
        return None;
    }
    match state.page_reads.appeal(&state.db, code).await {
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
    let lang = negotiate(query.get("lang").map(String::as_str), &request);
    let funds = match active_funds(&state, lang).await {
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
    let presets = presets_for_page(&state, lang).await;
    let (amount, amount_other) = donor
        .as_ref()
        .filter(|d| d.ask_minor > 0)
        .map(|d| suggested_amount(d.ask_minor, &presets.amounts()))
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
        lang: lang.as_str().into(),
        amount,
        amount_other,
        name: donor.as_ref().map(|d| d.name.clone()).unwrap_or_default(),
        email: donor
            .as_ref()
            .and_then(|d| d.email.clone())
            .unwrap_or_default(),
        ..DonationForm::default()
    };
    respond(
        StatusCode::OK,
        &donate_page(&FormView {
            lang,
            form: &form,
            errors: &[],
            funds: &funds,
            appeal: appeal.as_ref(),
            notice: None,
            guard: &state.checkout_guard,
            presets: &presets,
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
    let lang = negotiate(Some(form.lang.as_str()).filter(|l| !l.is_empty()), &request);
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
    let funds = match active_funds(&state, lang).await {
        Ok(funds) => funds,
        Err(response) => return response,
    };
    let appeal = appeal_for(&state, &form.appeal).await;
    if appeal.is_none() {
        form.appeal.clear();
    }
    let presets = presets_for_page(&state, lang).await;
    let view = |status, errors: &[FieldError], notice: Option<String>| {
        respond(
            status,
            &donate_page(&FormView {
                lang,
                form: &form,
                errors,
                funds: &funds,
                appeal: appeal.as_ref(),
                notice,
                guard,
                presets: &presets,
            }),
        )
    };
    if screened.is_err() {
        let notice = checkout_guard::form_token_notice(lang);
        return view(StatusCode::FORBIDDEN, &[], Some(notice));
    }
    let validated = validate(&form, &funds, lang, state.config.org_currency);
    let donation = match validated.and_then(|d| match guard.below_minimum(&d, lang) {
        Some(error) => Err(vec![error]),
        None => Ok(d),
    }) {
        Ok(donation) => donation,
        Err(errors) => return view(StatusCode::UNPROCESSABLE_ENTITY, &errors, None),
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
        &state.created_sessions,
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
            view(
                StatusCode::SERVICE_UNAVAILABLE,
                &[],
                Some(Words(lang).get("donate-unavailable")),
            )
        }
    }
}

/// `GET /donate/thanks?session_id=`: what we know of the payment, from our records
/// when its event has arrived, otherwise from Stripe, which is asked only about
/// sessions this service created.
pub async fn thanks(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let query = query_map(&request);
    let lang = negotiate(query.get("lang").map(String::as_str), &request);
    let t = Words(lang);
    let session_id = query.get("session_id").cloned().unwrap_or_default();
    let outcome = donations::checkout_outcome(&state.db, &state.processor, &session_id).await;
    let said = match outcome {
        CheckoutOutcome::Paid => "donate-thanks-paid",
        CheckoutOutcome::Processing => "donate-thanks-processing",
        CheckoutOutcome::Failed => "donate-thanks-failed",
        CheckoutOutcome::Unknown => "donate-thanks-unknown",
    };
    let layout = Layout::new(
        lang,
        t.get("donate-thanks-title"),
        "/donate/thanks",
        &[("session_id", &session_id)],
    );
    respond(
        StatusCode::OK,
        &MessagePage::new(layout, t.get(said)).with_role("status"),
    )
}

/// `GET /donate/cancelled`
pub async fn cancelled(request: HttpRequest) -> HttpResponse {
    let query = query_map(&request);
    let lang = negotiate(query.get("lang").map(String::as_str), &request);
    let t = Words(lang);
    let layout = Layout::new(
        lang,
        t.get("donate-cancelled-title"),
        "/donate/cancelled",
        &[],
    );
    respond(
        StatusCode::OK,
        &MessagePage::new(layout, t.get("donate-cancelled-body")).with_link(
            format!("/donate?lang={}", lang.as_str()),
            t.get("donate-try-again"),
        ),
    )
}
