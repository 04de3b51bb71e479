//! `/appeals/unsubscribe?donor=…&signature=…`: the one-click unsubscribe link in every
//! email appeal. GET shows a page asking to confirm (so link scanners do not
//! unsubscribe anyone); POST, from that page or from a mail client honoring
//! `List-Unsubscribe-Post`, stops appeal email. Receipts keep coming.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use entity::enums::Language;
use serde::Deserialize;

use super::i18n::{Words, negotiate};
use super::page::{Layout, message, respond};
use crate::domain::{DomainError, appeal_sends, donors};
use crate::server::AppState;

#[derive(Deserialize)]
pub struct UnsubscribeQuery {
    /// Read with the links' strict parser, so a link has one spelling.
    donor: String,
    signature: String,
    /// The page's language, when the link names one; otherwise the browser's.
    lang: Option<String>,
}

impl UnsubscribeQuery {
    fn donor_id(&self) -> Option<i64> {
        mailer::links::parse_number(&self.donor)
    }

    fn language(&self, request: &HttpRequest) -> Language {
        negotiate(self.lang.as_deref(), request)
    }
}

/// The question before anything changes, with the button that unsubscribes.
#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct ConfirmPage {
    layout: Layout,
    t: Words,
    action: String,
}

impl UnsubscribeQuery {
    /// A page that says one thing about the reader's appeal email, with links to the
    /// same link in the other languages.
    fn said(
        &self,
        status: StatusCode,
        language: Language,
        title_id: &str,
        text_id: &str,
    ) -> HttpResponse {
        message(
            status,
            language,
            title_id,
            (PATH, &self.kept()),
            Words(language).get(text_id),
        )
    }

    /// The link's own pairs, which a link to it in another language keeps.
    fn kept(&self) -> [(&str, &str); 2] {
        [("donor", &self.donor), ("signature", &self.signature)]
    }
}

const PATH: &str = "/appeals/unsubscribe";

/// The donor a genuine link names, checked against the donor's current link version
/// (a donor who no longer exists is checked at version 0, so their genuine link is told
/// so); otherwise the page to show.
async fn signed(
    state: &AppState,
    query: &UnsubscribeQuery,
    language: Language,
) -> Result<i64, HttpResponse> {
    let refused = || {
        query.said(
            StatusCode::FORBIDDEN,
            language,
            "unsubscribe-title",
            "unsubscribe-invalid",
        )
    };
    let (Some(donor_id), Some(key)) = (query.donor_id(), &state.config.download_link_key) else {
        return Err(refused());
    };
    let version = match donors::link_version(&state.db, donor_id).await {
        Ok(version) => version.unwrap_or(0),
        Err(error) => {
            tracing::error!(%error, "cannot read a donor's link version");
            return Err(query.said(
                StatusCode::SERVICE_UNAVAILABLE,
                language,
                "unsubscribe-title",
                "page-error",
            ));
        }
    };
    if mailer::links::is_valid_unsubscribe(key.expose(), donor_id, version, &query.signature) {
        Ok(donor_id)
    } else {
        Err(refused())
    }
}

/// The confirmation page.
pub async fn confirm(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<UnsubscribeQuery>,
) -> HttpResponse {
    let language = query.language(&request);
    let donor_id = match signed(&state, &query, language).await {
        Ok(donor_id) => donor_id,
        Err(page) => return page,
    };
    let mut action = url::form_urlencoded::Serializer::new(String::new());
    action
        .append_pair("donor", &donor_id.to_string())
        .append_pair("signature", &query.signature)
        .append_pair("lang", language.as_str());
    let t = Words(language);
    let title = t.get("unsubscribe-confirm-title");
    respond(
        StatusCode::OK,
        &ConfirmPage {
            layout: Layout::new(language, title, PATH, &query.kept()).private(),
            t,
            action: format!("{PATH}?{}", action.finish()),
        },
    )
}

/// Unsubscribes the donor from appeals.
pub async fn unsubscribe(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<UnsubscribeQuery>,
) -> HttpResponse {
    let language = query.language(&request);
    let donor_id = match signed(&state, &query, language).await {
        Ok(donor_id) => donor_id,
        Err(page) => return page,
    };
    match appeal_sends::unsubscribe_from_appeals(&state.db, donor_id).await {
        Ok(()) => query.said(
            StatusCode::OK,
            language,
            "unsubscribe-done-title",
            "unsubscribe-done-body",
        ),
        // A genuine link to a donor since deleted or merged away.
        Err(DomainError::NotFound { .. }) => query.said(
            StatusCode::NOT_FOUND,
            language,
            "unsubscribe-title",
            "unsubscribe-gone",
        ),
        Err(error) => {
            tracing::error!(%error, donor = donor_id, "cannot unsubscribe from appeals");
            query.said(
                StatusCode::INTERNAL_SERVER_ERROR,
                language,
                "unsubscribe-title",
                "page-error",
            )
        }
    }
}
