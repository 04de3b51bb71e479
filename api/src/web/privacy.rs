//! `GET /privacy/exports/{token}`: everything held about a donor, as JSON, through the
//! signed, expiring link staff made with `donorDataExport`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use chrono::Utc;
use mailer::links::{ManageTokenError, data_export_token_donor, verify_data_export_token};

use crate::domain::{donors, privacy};
use crate::server::AppState;

fn plain(status: StatusCode, text: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text.to_owned())
}

fn unavailable(error: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(%error, "a donor's data export cannot be read");
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "the data could not be loaded; try again",
    )
}

pub async fn download(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let invalid = || plain(StatusCode::NOT_FOUND, "this link is not valid");
    let (Some(key), Some(claimed)) = (
        state.config.download_link_key.as_ref(),
        data_export_token_donor(&token),
    ) else {
        return invalid();
    };
    let version = match donors::link_version(&state.db, claimed).await {
        Ok(Some(version)) => version,
        Ok(None) => return invalid(),
        Err(error) => return unavailable(error),
    };
    let donor_id = match verify_data_export_token(key.expose(), &token, version, Utc::now()) {
        Ok(id) => id,
        Err(ManageTokenError::Invalid) => return invalid(),
        Err(ManageTokenError::Expired) => {
            return plain(
                StatusCode::GONE,
                "this link has expired; ask us for a new one",
            );
        }
    };
    match privacy::donor_data(&state.db, donor_id).await {
        Ok(data) => HttpResponse::Ok()
            .content_type("application/json")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"donor-{donor_id}.json\""),
            ))
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .body(data.to_string()),
        Err(error) => unavailable(anyhow::Error::from(error)),
    }
}
