//! What every page shares: the layout's context (language, title, language links), the
//! one response builder that renders a page's template and sets its headers, and the
//! small message page used for errors and confirmations. The templates are in
//! `api/templates/`; askama checks them against these types at compile time and escapes
//! every value it writes.

use std::borrow::Cow;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use askama::Template;
use entity::enums::Language;

use super::i18n::{LANGUAGES, Words};

/// The policy every page states: its own inline style and images from this service,
/// nothing else ([`super::headers`] adds what every response carries).
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A link to the same page in another language.
pub struct LanguageLink {
    pub code: &'static str,
    pub name: Cow<'static, str>,
    pub href: String,
    pub current: bool,
}

/// What the base layout needs from every page.
pub struct Layout {
    pub t: Words,
    pub title: String,
    pub links: Vec<LanguageLink>,
    /// Pages opened from a personal link are kept out of search engines.
    pub noindex: bool,
}

impl Layout {
    /// A page at `path` titled `title`, with links to the same page in every language
    /// that keep the query pairs in `keep`.
    pub fn new(language: Language, title: String, path: &str, keep: &[(&str, &str)]) -> Layout {
        Layout {
            t: Words(language),
            title,
            links: language_links(language, path, keep),
            noindex: false,
        }
    }

    /// The same layout, kept out of search engines.
    pub fn private(self) -> Layout {
        Layout {
            noindex: true,
            ..self
        }
    }
}

fn language_links(current: Language, path: &str, keep: &[(&str, &str)]) -> Vec<LanguageLink> {
    LANGUAGES
        .into_iter()
        .map(|other| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("lang", other.as_str());
            for (key, value) in keep {
                if !value.is_empty() {
                    query.append_pair(key, value);
                }
            }
            LanguageLink {
                code: other.as_str(),
                name: Words(other).text("language-name"),
                href: format!("{path}?{}", query.finish()),
                current: other == current,
            }
        })
        .collect()
}

/// Renders `page` as the answer with `status`: HTML, the pages' policy, never cached.
pub fn respond(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type(ContentType::html())
            .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(error) => {
            tracing::error!(%error, "a page's template did not render");
            HttpResponse::InternalServerError()
                .content_type(ContentType::plaintext())
                .body("internal error")
        }
    }
}

/// A link under a message page's text.
pub struct Link {
    pub href: String,
    pub text: String,
}

/// A page that says something and perhaps links somewhere: errors, confirmations.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub paragraphs: Vec<String>,
    pub link: Option<Link>,
    /// `status` for news the reader waits for, `alert` for a problem; none otherwise.
    pub role: Option<&'static str>,
}

impl MessagePage {
    pub fn new(layout: Layout, paragraph: String) -> MessagePage {
        MessagePage {
            layout,
            paragraphs: vec![paragraph],
            link: None,
            role: None,
        }
    }

    pub fn with_link(self, href: String, text: String) -> MessagePage {
        MessagePage {
            link: Some(Link { href, text }),
            ..self
        }
    }

    pub fn with_role(self, role: &'static str) -> MessagePage {
        MessagePage {
            role: Some(role),
            ..self
        }
    }
}

/// The message page in `language` for `status`: titled by the message `title_id`, saying
/// `text`, with language links to `path` that keep the pairs in `keep`.
pub fn message(
    status: StatusCode,
    language: Language,
    title_id: &str,
    (path, keep): (&str, &[(&str, &str)]),
    text: String,
) -> HttpResponse {
    let t = Words(language);
    respond(
        status,
        &MessagePage::new(Layout::new(language, t.get(title_id), path, keep), text),
    )
}
