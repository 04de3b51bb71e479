//! `GET /manage/{token}`: a donor's own pledges, opened from the signed, expiring link
//! in every club email, without a password. A tampered or expired link gets a page
//! that says so and shows nothing about anyone.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use entity::enums::PledgeStatus;
use entity::{Currency, format_minor, pledge};
use mailer::links::{ManageTokenError, verify_manage_token};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::donate::escape;
use super::i18n::Lang;
use crate::server::AppState;

fn page(status: StatusCode, lang: Lang, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(format!(
            "<!DOCTYPE html>\n<html lang=\"{code}\" dir=\"{dir}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"robots\" content=\"noindex\">\n<title>{title}</title>\n</head>\n\
             <body style=\"font-family: Georgia, serif; max-width: 40rem; margin: 2rem auto;\">\n\
             <h1>{title}</h1>\n{body}\n</body>\n</html>\n",
            code = lang.code(),
            dir = lang.dir(),
            title = escape(title),
        ))
}

fn status_words(status: PledgeStatus, lang: Lang) -> &'static str {
    match (lang, status) {
        (Lang::Es, PledgeStatus::Active) => "activo",
        (Lang::Es, PledgeStatus::Paused) => "en pausa",
        (Lang::Es, PledgeStatus::PastDue) => "pago pendiente",
        (Lang::Es, PledgeStatus::Cancelled) => "cancelado",
        (Lang::Es, PledgeStatus::Completed) => "completado",
        (_, PledgeStatus::Active) => "active",
        (_, PledgeStatus::Paused) => "paused",
        (_, PledgeStatus::PastDue) => "payment due",
        (_, PledgeStatus::Cancelled) => "cancelled",
        (_, PledgeStatus::Completed) => "completed",
    }
}

/// `GET /manage/{token}?lang=es`
pub async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    let asked: Option<String> = url::form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned());
    let lang = match Lang::negotiate(asked.as_deref(), &request) {
        Lang::Es => Lang::Es,
        _ => Lang::En,
    };
    let (title, invalid, expired) = match lang {
        Lang::Es => (
            "Sus compromisos de donación",
            "Este enlace no es válido. Use el enlace más reciente que le enviamos por correo.",
            "Este enlace ha vencido. Le enviaremos uno nuevo con nuestro próximo correo, o escríbanos.",
        ),
        _ => (
            "Your pledges",
            "This link is not valid. Please use the most recent link we emailed you.",
            "This link has expired. Our next email will bring a new one, or write to us.",
        ),
    };
    let Some(key) = state.config.download_link_key.as_ref() else {
        return page(
            StatusCode::NOT_FOUND,
            lang,
            title,
            &format!("<p>{}</p>", escape(invalid)),
        );
    };
    let donor_id = match verify_manage_token(key.expose(), &token, Utc::now()) {
        Ok(id) => id,
        Err(ManageTokenError::Invalid) => {
            return page(
                StatusCode::NOT_FOUND,
                lang,
                title,
                &format!("<p>{}</p>", escape(invalid)),
            );
        }
        Err(ManageTokenError::Expired) => {
            return page(
                StatusCode::GONE,
                lang,
                title,
                &format!("<p>{}</p>", escape(expired)),
            );
        }
    };
    let pledges = pledge::Entity::find()
        .filter(pledge::Column::DonorId.eq(donor_id))
        .order_by_asc(pledge::Column::StartsOn)
        .order_by_asc(pledge::Column::Id)
        .all(&state.db)
        .await;
    let pledges = match pledges {
        Ok(pledges) => pledges,
        Err(error) => {
            tracing::error!(%error, "cannot read a donor's pledges");
            return HttpResponse::ServiceUnavailable().finish();
        }
    };
    let rows: Vec<String> = pledges
        .iter()
        .map(|p| {
            let amount = Currency::parse(&p.currency)
                .map(|c| format_minor(p.installment_minor, c))
                .unwrap_or_else(|_| format!("{} {}", p.installment_minor, p.currency));
            let words = crate::domain::pledges::months_between_installments(p.frequency);
            let every = match (lang, words) {
                (Lang::Es, 1) => "al mes",
                (Lang::Es, 3) => "cada trimestre",
                (Lang::Es, _) => "al año",
                (_, 1) => "a month",
                (_, 3) => "a quarter",
                (_, _) => "a year",
            };
            format!(
                "<li>{} {} · {} · {}</li>",
                escape(&amount),
                every,
                escape(&p.starts_on.to_string()),
                status_words(p.status, lang)
            )
        })
        .collect();
    let body = if rows.is_empty() {
        match lang {
            Lang::Es => "<p>No tiene compromisos de donación.</p>".to_owned(),
            _ => "<p>You have no pledges.</p>".to_owned(),
        }
    } else {
        format!("<ul>\n{}\n</ul>", rows.join("\n"))
    };
    page(StatusCode::OK, lang, title, &body)
}
