//! `/manage/{token}`: a donor's own pledges, opened from the signed, expiring link in
//! every club email, without a password. The donor can change an installment, pause,
//! resume or cancel a pledge, and update their card in Stripe's billing portal. Envelope
//! pledges change here at once; card pledges change at Stripe, whose events then change
//! the pledge. A tampered or expired link gets a page that says so and shows nothing.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use entity::enums::{Language, PledgeSource, PledgeStatus};
use entity::{Currency, MoneyError, pledge};
use fluent_templates::fluent_bundle::FluentValue;
use mailer::links::{ManageTokenError, manage_token_donor, verify_manage_token};
use sha2::{Digest, Sha256};

use super::amounts::{ambiguous_amount_message, amount_for_input, money, read_amount};
use super::i18n::{Words, negotiate};
use super::page::{Layout, message, respond};
use crate::domain::pledge_actions::{self, PledgeAction};
use crate::domain::{Actor, DomainError, donors};
use crate::server::AppState;

/// The message id of a pledge's status.
fn status_id(status: PledgeStatus) -> &'static str {
    match status {
        PledgeStatus::Active => "manage-active",
        PledgeStatus::Paused => "manage-paused",
        PledgeStatus::PastDue => "manage-past-due",
        PledgeStatus::Cancelled => "manage-cancelled",
        PledgeStatus::Completed => "manage-completed",
    }
}

fn query_lang(request: &HttpRequest) -> Language {
    let asked: Option<String> = url::form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned());
    negotiate(asked.as_deref(), request)
}

fn notice(request: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(k, _)| k == "done")
        .map(|(_, v)| v.into_owned())
}

fn message_page(status: StatusCode, lang: Language, token: &str, text: String) -> HttpResponse {
    message(
        status,
        lang,
        "manage-title",
        (&format!("/manage/{token}"), &[]),
        text,
    )
}

/// One pledge as the page shows it.
struct PledgeView {
    id: i64,
    amount: String,
    amount_input: String,
    every: String,
    since: String,
    status: String,
    /// A cancelled or completed pledge is shown without the forms that change it.
    open: bool,
    paused: bool,
    action: String,
}

/// The donor's pledges, each with the forms that can change it.
#[derive(Template)]
#[template(path = "manage.html")]
struct ManagePage {
    layout: Layout,
    t: Words,
    /// `status` or `alert`, and what to say.
    notice: Option<(&'static str, String)>,
    pledges: Vec<PledgeView>,
    card_action: Option<String>,
}

fn pledge_view(pledge: &pledge::Model, token: &str, lang: Language) -> PledgeView {
    let t = Words(lang);
    let every = match crate::domain::pledges::months_between_installments(pledge.frequency) {
        1 => "manage-month",
        3 => "manage-quarter",
        _ => "manage-year",
    };
    let amount = Currency::parse(&pledge.currency)
        .map(|currency| money(lang, pledge.installment_minor, currency))
        .unwrap_or_else(|_| {
            format!(
                "{} {}",
                amount_for_input(pledge.installment_minor, lang),
                pledge.currency
            )
        });
    PledgeView {
        id: pledge.id,
        amount,
        amount_input: amount_for_input(pledge.installment_minor, lang),
        every: t.get(every),
        since: t.with(
            "manage-since-date",
            &[("date", FluentValue::from(t.long_date(pledge.starts_on)))],
        ),
        status: t.get(status_id(pledge.status)),
        open: !matches!(
            pledge.status,
            PledgeStatus::Cancelled | PledgeStatus::Completed
        ),
        paused: pledge.status == PledgeStatus::Paused,
        action: format!(
            "/manage/{token}/pledges/{}?lang={}",
            pledge.id,
            lang.as_str()
        ),
    }
}

/// The donor the link was signed for, checked against the donor's current link
/// version, or the page to show instead. A link made before staff revoked the donor's
/// links reads as not valid.
async fn donor_from_link(
    state: &AppState,
    lang: Language,
    token: &str,
) -> Result<i64, Box<HttpResponse>> {
    let t = Words(lang);
    let refused = |status, id| Box::new(message_page(status, lang, token, t.get(id)));
    let (Some(key), Some(claimed)) = (
        state.config.download_link_key.as_ref(),
        manage_token_donor(token),
    ) else {
        return Err(refused(StatusCode::NOT_FOUND, "manage-invalid"));
    };
    let version = match donors::link_version(&state.db, claimed).await {
        Ok(version) => version.unwrap_or(0),
        Err(error) => return Err(Box::new(unavailable(lang, token, error))),
    };
    match verify_manage_token(key.expose(), token, version, Utc::now()) {
        Ok(id) => Ok(id),
        Err(ManageTokenError::Invalid) => Err(refused(StatusCode::NOT_FOUND, "manage-invalid")),
        Err(ManageTokenError::Expired) => Err(refused(StatusCode::GONE, "manage-expired")),
    }
}

fn unavailable(lang: Language, token: &str, error: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(%error, "the self-service page cannot read or change pledges");
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        token,
        Words(lang).get("manage-unavailable"),
    )
}

/// `GET /manage/{token}?lang=es`
pub async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    let lang = query_lang(&request);
    let donor_id = match donor_from_link(&state, lang, &token).await {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let notice = match notice(&request).as_deref() {
        Some("here") => Some(Words(lang).get("manage-done-here")),
        Some("processor") => Some(Words(lang).get("manage-done-at-processor")),
        _ => None,
    };
    render(&state, lang, &token, donor_id, StatusCode::OK, notice).await
}

async fn render(
    state: &AppState,
    lang: Language,
    token: &str,
    donor_id: i64,
    status: StatusCode,
    notice: Option<String>,
) -> HttpResponse {
    let pledges = match pledge_actions::pledges_of_donor(&state.db, donor_id).await {
        Ok(pledges) => pledges,
        Err(error) => return unavailable(lang, token, error),
    };
    let has_card_pledge = pledges.iter().any(|p| {
        p.source == PledgeSource::StripeSubscription
            && !matches!(p.status, PledgeStatus::Cancelled | PledgeStatus::Completed)
    });
    let t = Words(lang);
    let role = if status.is_success() {
        "status"
    } else {
        "alert"
    };
    let page = ManagePage {
        layout: Layout::new(
            lang,
            t.get("manage-title"),
            &format!("/manage/{token}"),
            &[],
        )
        .private(),
        t,
        notice: notice.map(|text| (role, text)),
        pledges: pledges
            .iter()
            .map(|p| pledge_view(p, token, lang))
            .collect(),
        card_action: has_card_pledge
            .then(|| format!("/manage/{token}/card?lang={}", lang.as_str())),
    };
    respond(status, &page)
}

/// The page again, with what stood in the way of the donor's request.
async fn refuse(
    state: &AppState,
    lang: Language,
    token: &str,
    donor_id: i64,
    notice: String,
) -> HttpResponse {
    render(
        state,
        lang,
        token,
        donor_id,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(notice),
    )
    .await
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// The actor a donor's own change is recorded under in the audit log.
fn donor_actor(donor_id: i64) -> Actor {
    Actor {
        name: format!("donor {donor_id} (self-service link)"),
        token_id: None,
    }
}

/// `POST /manage/{token}/pledges/{id}` with `action` = `change_amount` (and `amount`),
/// `pause`, `resume` or `cancel` (and `confirm=yes`).
pub async fn change(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, i64)>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (token, pledge_id) = path.into_inner();
    let lang = query_lang(&request);
    let t = Words(lang);
    let donor_id = match donor_from_link(&state, lang, &token).await {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    // A pledge of someone else is answered as if it did not exist.
    let pledge = match pledge_actions::find_pledge(&state.db, pledge_id).await {
        Ok(pledge) if pledge.donor_id == donor_id => pledge,
        Ok(_) | Err(DomainError::NotFound { .. }) => {
            return message_page(StatusCode::NOT_FOUND, lang, &token, t.get("manage-invalid"));
        }
        Err(error) => return unavailable(lang, &token, error),
    };
    let refuse = |id: &str| refuse(&state, lang, &token, donor_id, t.get(id));
    let action = match field("action").as_str() {
        "pause" => PledgeAction::Pause,
        "resume" => PledgeAction::Resume,
        "cancel" if field("confirm") == "yes" => PledgeAction::Cancel {
            reason: Some("cancelled by the donor from the self-service page".into()),
        },
        "cancel" => return refuse("manage-needs-confirmation").await,
        "change_amount" => {
            let currency = Currency::parse(&pledge.currency).unwrap_or(Currency::Usd);
            match read_amount(&field("amount"), lang, currency) {
                Ok(amount) => PledgeAction::ChangeAmount(amount),
                Err(MoneyError::Ambiguous(_)) => {
                    let said = ambiguous_amount_message(lang);
                    return self::refuse(&state, lang, &token, donor_id, said).await;
                }
                Err(_) => return refuse("manage-bad-amount").await,
            }
        }
        _ => return refuse("manage-cannot-change").await,
    };
    let outcome = pledge_actions::change_pledge(
        &state.db,
        &state.processor,
        &state.config.club_policy(),
        &donor_actor(donor_id),
        pledge.id,
        action,
        None,
    )
    .await;
    match outcome {
        Ok(outcome) => {
            let done = if outcome.requested_of_processor {
                "processor"
            } else {
                "here"
            };
            see_other(format!(
                "/manage/{token}?lang={}&done={done}",
                lang.as_str()
            ))
        }
        Err(DomainError::Validation { .. } | DomainError::Conflict { .. }) => {
            refuse("manage-cannot-change").await
        }
        Err(DomainError::Payment(_)) => refuse("manage-try-later").await,
        Err(error) => unavailable(lang, &token, error),
    }
}

/// `POST /manage/{token}/card`: opens Stripe's billing portal, where the donor updates
/// the card their pledges are paid with, and comes back here.
pub async fn update_card(
    state: web::Data<AppState>,
    request: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    let lang = query_lang(&request);
    let t = Words(lang);
    let donor_id = match donor_from_link(&state, lang, &token).await {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let refuse = |id: &str| refuse(&state, lang, &token, donor_id, t.get(id));
    let return_url = state
        .config
        .public_url
        .join(&format!("manage/{}?lang={}", token.as_str(), lang.as_str()))
        .map(String::from)
        .unwrap_or_default();
    // One portal session per donor, minute and return address: a double tap opens the
    // same one, and a page in another language asks for a session of its own (Stripe
    // refuses a key sent again with other parameters).
    let return_to = Sha256::digest(return_url.as_bytes());
    let key = format!(
        "portal-{donor_id}-{}-{:x}",
        Utc::now().timestamp() / 60,
        u64::from_be_bytes(return_to[..8].try_into().unwrap_or_default())
    );
    let portal = pledge_actions::billing_portal_url(
        &state.db,
        &state.processor,
        donor_id,
        &return_url,
        &key,
    )
    .await;
    match portal {
        Ok(Some(url)) => see_other(url),
        Ok(None) => refuse("manage-no-card").await,
        Err(DomainError::Payment(error)) => {
            tracing::warn!(%error, donor_id, "cannot open the billing portal");
            refuse("manage-try-later").await
        }
        Err(error) => unavailable(lang, &token, error),
    }
}
