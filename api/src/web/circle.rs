//! Recognition: `GET /circle` thanks the members of the Circle (the tier marked as the
//! Circle, whatever its name and threshold) by name (members who asked to stay
//! anonymous are left out, and nothing but names is shown), and
//! `GET /circle/roster.csv` gives staff the full roster with contact details.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use entity::enums::{Language, StaffRole};
use fluent_templates::fluent_bundle::FluentValue;

use super::amounts::whole_money;
use super::i18n::{Words, negotiate, tier_name};
use super::page::{Layout, message, respond};
use crate::domain::tiers::Circle;
use crate::domain::{club, tokens};
use crate::server::AppState;

/// The recognition page: the Circle's members, and the way to join them.
#[derive(Template)]
#[template(path = "circle.html")]
struct CirclePage {
    layout: Layout,
    t: Words,
    intro: String,
    names: Vec<String>,
    /// Where joining starts: the donation page with the monthly choice made.
    join_href: String,
    join: String,
}

fn circle_page(
    language: Language,
    circle: &Circle,
    names: Vec<String>,
    state: &AppState,
) -> CirclePage {
    let t = Words(language);
    let currency = state.config.org_currency;
    let name = tier_name(language, &circle.tier).to_owned();
    let yearly = whole_money(language, circle.tier.threshold_minor, currency);
    let monthly = whole_money(language, circle.monthly_minor(), currency);
    CirclePage {
        layout: Layout::new(language, name.clone(), "/circle", &[]),
        t,
        intro: t.with("circle-intro", &[("yearly", FluentValue::from(yearly))]),
        names,
        join_href: format!("/donate?lang={}&frequency=monthly", language.as_str()),
        join: t.with(
            "circle-join",
            &[
                ("monthly", FluentValue::from(monthly)),
                ("circle", FluentValue::from(name)),
            ],
        ),
    }
}

/// `GET /circle?lang=es`: the names of the Circle's members who did not ask to stay
/// anonymous, in English, Spanish, French or Arabic, and an invitation to join.
pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(request.query_string().as_bytes())
            .into_owned()
            .collect();
    let asked = query
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.as_str());
    let lang = negotiate(asked, &request);
    let unavailable = |status| {
        message(
            status,
            lang,
            "circle-untitled",
            ("/circle", &[]),
            Words(lang).get("circle-unavailable"),
        )
    };
    let roll = match club::circle_public_names(&state.db).await {
        Ok(roll) => roll,
        Err(error) => {
            tracing::error!(%error, "cannot read the Circle");
            return unavailable(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let Some((circle, names)) = roll else {
        return unavailable(StatusCode::NOT_FOUND);
    };
    respond(StatusCode::OK, &circle_page(lang, &circle, names, &state))
}

/// `GET /circle/roster.csv` with `Authorization: Bearer <staff token>`: the Circle's
/// full roster with contact details, anonymous members included and marked.
pub async fn roster_csv(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let identity = match presented {
        Some(token) => match tokens::authenticate(&state.db, &state.verified_tokens, token).await {
            Ok(identity) => identity,
            Err(error) => {
                tracing::error!(%error, "token check failed");
                return HttpResponse::ServiceUnavailable().finish();
            }
        },
        None => None,
    };
    let Some(identity) = identity else {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"giving\""))
            .body("a valid staff token is required\n");
    };
    if !identity.role.allows(StaffRole::Staff) {
        return HttpResponse::Forbidden().body("the roster needs a staff token\n");
    }
    let roster = club::circle_roster(&state.db).await.and_then(|roster| {
        club::circle_roster_csv(&roster.map(|(_, members)| members).unwrap_or_default())
    });
    match roster {
        Ok(csv) => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"circle-of-friends.csv\"",
            ))
            .insert_header(("Cache-Control", "no-store"))
            .body(csv),
        Err(error) => {
            tracing::error!(%error, "cannot read the Circle");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
