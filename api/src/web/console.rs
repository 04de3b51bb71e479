//! The GraphQL console staff use in the browser. It is one self-contained page with
//! no scripts from elsewhere, so it works on a network without internet access.

use actix_web::HttpResponse;
use actix_web::http::header::ContentType;

const CONSOLE_HTML: &str = include_str!("console.html");

pub async fn console() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(CONSOLE_HTML)
}
