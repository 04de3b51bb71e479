//! Recognition: `GET /circle` thanks the Circle of Friends by name (members who asked to
//! stay anonymous are left out, and nothing but names is shown), and
//! `GET /circle/roster.csv` gives staff the full roster with contact details.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use entity::enums::StaffRole;

use super::donate::escape;
use super::i18n::Lang;
use crate::domain::{club, tokens};
use crate::server::AppState;

fn page(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

struct Words {
    title: &'static str,
    intro: &'static str,
    empty: &'static str,
    unavailable: &'static str,
}

fn words(lang: Lang) -> Words {
    match lang {
        Lang::Es => Words {
            title: "Círculo de Amigos",
            intro: "Gracias a quienes sostienen nuestro trabajo con un compromiso de $500 o más al año.",
            empty: "Pronto daremos aquí las gracias a nuestros primeros miembros.",
            unavailable: "Esta página no está disponible en este momento.",
        },
        Lang::En | Lang::Fr | Lang::Ar => Words {
            title: "Circle of Friends",
            intro: "Thank you to the friends who sustain our work with a pledge of $500 or more a year.",
            empty: "We will soon thank our first members here.",
            unavailable: "This page is not available right now.",
        },
    }
}

/// `GET /circle?lang=es`: the names of the Circle's members who did not ask to stay
/// anonymous. English and Spanish.
pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(request.query_string().as_bytes())
            .into_owned()
            .collect();
    let asked = query
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.as_str());
    let lang = match Lang::negotiate(asked, &request) {
        Lang::Es => Lang::Es,
        _ => Lang::En,
    };
    let text = words(lang);
    let roster = match club::circle_roster(&state.db).await {
        Ok(roster) => roster,
        Err(error) => {
            tracing::error!(%error, "cannot read the Circle of Friends");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                document(
                    lang,
                    text.title,
                    &format!("<p>{}</p>", escape(text.unavailable)),
                ),
            );
        }
    };
    let names: Vec<String> = roster
        .iter()
        .filter(|member| !member.donor.anonymous)
        .map(|member| format!("<li>{}</li>", escape(&member.donor.display_name)))
        .collect();
    let list = if names.is_empty() {
        format!("<p>{}</p>", escape(text.empty))
    } else {
        format!("<ul class=\"circle\">\n{}\n</ul>", names.join("\n"))
    };
    page(
        StatusCode::OK,
        document(
            lang,
            text.title,
            &format!("<p>{}</p>\n{list}", escape(text.intro)),
        ),
    )
}

fn document(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\" dir=\"{dir}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n<body style=\"font-family: Georgia, serif; max-width: 40rem; margin: 2rem auto;\">\n\
         <h1>{title}</h1>\n{body}\n</body>\n</html>\n",
        code = lang.code(),
        dir = lang.dir(),
        title = escape(title),
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
    match club::circle_roster(&state.db).await {
        Ok(roster) => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"circle-of-friends.csv\"",
            ))
            .insert_header(("Cache-Control", "no-store"))
            .body(club::circle_roster_csv(&roster)),
        Err(error) => {
            tracing::error!(%error, "cannot read the Circle of Friends");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
