//! Recognition: `GET /circle` thanks the members of the Circle (the tier marked as the
//! Circle, whatever its name and threshold) by name (members who asked to stay
//! anonymous are left out, and nothing but names is shown), and
//! `GET /circle/roster.csv` gives staff the full roster with contact details.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use entity::enums::StaffRole;

use super::amounts::whole_amount;
use super::donate::escape;
use super::i18n::{Lang, tier_name};
use super::simple_page;
use crate::domain::tiers::Circle;
use crate::domain::{club, tokens};
use crate::server::AppState;

struct Words {
    intro: String,
    empty: &'static str,
}

/// What the page says about `circle`: its threshold comes from the tier.
fn words(lang: Lang, circle: &Circle) -> Words {
    let yearly = whole_amount(circle.tier.threshold_minor, lang);
    match lang {
        Lang::Es => Words {
            intro: format!(
                "Gracias a quienes sostienen nuestro trabajo con un compromiso de ${yearly} o más al año."
            ),
            empty: "Pronto daremos aquí las gracias a nuestros primeros miembros.",
        },
        Lang::Fr => Words {
            intro: format!(
                "Merci aux amis qui soutiennent notre travail par un engagement de {yearly} $ ou plus par an."
            ),
            empty: "Nous remercierons bientôt ici nos premiers membres.",
        },
        Lang::Ar => Words {
            intro: format!(
                "شكرًا للأصدقاء الذين يدعمون عملنا بتعهّد قدره {yearly} دولار أو أكثر في السنة."
            ),
            empty: "سنشكر هنا قريبًا أول أعضائنا.",
        },
        Lang::En => Words {
            intro: format!(
                "Thank you to the friends who sustain our work with a pledge of ${yearly} or more a year."
            ),
            empty: "We will soon thank our first members here.",
        },
    }
}

/// The page's title when there is no Circle to name.
fn untitled(lang: Lang) -> &'static str {
    match lang {
        Lang::Es => "El Círculo",
        Lang::Fr => "Le Cercle",
        Lang::Ar => "الدائرة",
        Lang::En => "The Circle",
    }
}

fn unavailable(lang: Lang) -> &'static str {
    match lang {
        Lang::Es => "Esta página no está disponible en este momento.",
        Lang::Fr => "Cette page n’est pas disponible pour le moment.",
        Lang::Ar => "هذه الصفحة غير متاحة الآن.",
        Lang::En => "This page is not available right now.",
    }
}

/// `GET /circle?lang=es`: the names of the Circle's members who did not ask to stay
/// anonymous, in English, Spanish, French or Arabic.
pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(request.query_string().as_bytes())
            .into_owned()
            .collect();
    let asked = query
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.as_str());
    let lang = Lang::negotiate(asked, &request);
    let roll = match club::circle_public_names(&state.db).await {
        Ok(roll) => roll,
        Err(error) => {
            tracing::error!(%error, "cannot read the Circle");
            return simple_page(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                untitled(lang),
                &format!("<p>{}</p>", escape(unavailable(lang))),
            );
        }
    };
    let Some((circle, names)) = roll else {
        return simple_page(
            StatusCode::NOT_FOUND,
            lang,
            untitled(lang),
            &format!("<p>{}</p>", escape(unavailable(lang))),
        );
    };
    let text = words(lang, &circle);
    let names: Vec<String> = names
        .iter()
        .map(|name| format!("<li>{}</li>", escape(name)))
        .collect();
    let list = if names.is_empty() {
        format!("<p>{}</p>", escape(text.empty))
    } else {
        format!("<ul class=\"circle\">\n{}\n</ul>", names.join("\n"))
    };
    simple_page(
        StatusCode::OK,
        lang,
        tier_name(lang, &circle.tier.name),
        &format!("<p>{}</p>\n{list}", escape(&text.intro)),
    )
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
        Some(token) => match tokens::authenticate(&state.db, token).await {
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
