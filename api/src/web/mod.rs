//! Pages served to people's browsers.

pub mod amounts;
pub mod checkout_guard;
pub mod circle;
pub mod console;
pub mod donate;
pub mod exports;
pub mod headers;
pub mod i18n;
pub mod manage;
pub mod privacy;
pub mod receipts;
pub mod unsubscribe;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;

use self::donate::escape;
use self::i18n::Lang;

/// A small page in the organization's plain style, in `lang`, kept out of caches (the
/// security headers every response carries are set in [`headers`]). `body` is markup
/// the caller has escaped.
pub fn simple_page(status: StatusCode, lang: Lang, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header(("Cache-Control", "no-store"))
        .body(format!(
            "<!DOCTYPE html>\n<html lang=\"{code}\" dir=\"{dir}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"robots\" content=\"noindex\">\n<title>{title}</title>\n</head>\n\
             <body style=\"font-family: Georgia, serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem;\">\n\
             <h1>{title}</h1>\n{body}\n</body>\n</html>\n",
            code = lang.code(),
            dir = lang.dir(),
            title = escape(title),
        ))
}
