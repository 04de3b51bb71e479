//! `/appeals/unsubscribe?donor=…&signature=…`: the one-click unsubscribe link in every
//! email appeal. GET shows a page asking to confirm (so link scanners do not
//! unsubscribe anyone); POST, from that page or from a mail client honoring
//! `List-Unsubscribe-Post`, stops appeal email. Receipts keep coming.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::{DomainError, appeal_sends, donors};
use crate::server::AppState;
use mailer::templates::escape;

#[derive(Deserialize)]
pub struct UnsubscribeQuery {
    /// Read with the links' strict parser, so a link has one spelling.
    donor: String,
    signature: String,
}

impl UnsubscribeQuery {
    fn donor_id(&self) -> Option<i64> {
        mailer::links::parse_number(&self.donor)
    }
}

fn page(status: StatusCode, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Appeal email</title></head>\n<body>\n{body}\n</body>\n</html>\n"
        ))
}

/// The donor a genuine link names, checked against the donor's current link version
/// (a donor who no longer exists is checked at version 0, so their genuine link is told
/// so); otherwise the page to show.
async fn signed(state: &AppState, query: &UnsubscribeQuery) -> Result<i64, HttpResponse> {
    let (Some(donor_id), Some(key)) = (query.donor_id(), &state.config.download_link_key) else {
        return Err(refused());
    };
    let version = match donors::link_version(&state.db, donor_id).await {
        Ok(version) => version.unwrap_or(0),
        Err(error) => {
            tracing::error!(%error, "cannot read a donor's link version");
            return Err(page(
                StatusCode::SERVICE_UNAVAILABLE,
                "<p>Something went wrong. Please try again later.</p>",
            ));
        }
    };
    if mailer::links::is_valid_unsubscribe(key.expose(), donor_id, version, &query.signature) {
        Ok(donor_id)
    } else {
        Err(refused())
    }
}

fn refused() -> HttpResponse {
    page(
        StatusCode::FORBIDDEN,
        "<p>This unsubscribe link is not valid. Reply to any of our emails and we will stop them.</p>",
    )
}

/// The confirmation page.
pub async fn confirm(
    state: web::Data<AppState>,
    query: web::Query<UnsubscribeQuery>,
) -> HttpResponse {
    let donor_id = match signed(&state, &query).await {
        Ok(donor_id) => donor_id,
        Err(page) => return page,
    };
    page(
        StatusCode::OK,
        &format!(
            "<h1>Stop appeal emails?</h1>\n<p>You will no longer receive fundraising appeals from us. \
             Your gift receipts and year-end statements will still be sent.</p>\n\
             <form method=\"post\" action=\"/appeals/unsubscribe?donor={}&amp;signature={}\">\n\
             <button type=\"submit\">Unsubscribe</button>\n</form>",
            donor_id,
            escape(&query.signature)
        ),
    )
}

/// Unsubscribes the donor from appeals.
pub async fn unsubscribe(
    state: web::Data<AppState>,
    query: web::Query<UnsubscribeQuery>,
) -> HttpResponse {
    let donor_id = match signed(&state, &query).await {
        Ok(donor_id) => donor_id,
        Err(page) => return page,
    };
    match appeal_sends::unsubscribe_from_appeals(&state.db, donor_id).await {
        Ok(()) => page(
            StatusCode::OK,
            "<h1>You are unsubscribed</h1>\n<p>We will send no more appeals. Receipts for your gifts will still reach you.</p>",
        ),
        // A genuine link to a donor since deleted or merged away.
        Err(DomainError::NotFound { .. }) => page(
            StatusCode::NOT_FOUND,
            "<p>We have no record of this address any more, so no appeals will reach it.</p>",
        ),
        Err(error) => {
            tracing::error!(%error, donor = donor_id, "cannot unsubscribe from appeals");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<p>Something went wrong. Please try again later.</p>",
            )
        }
    }
}
