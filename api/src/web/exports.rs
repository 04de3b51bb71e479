//! `GET /exports/{id}.csv?expires=…&signature=…`: the CSV file of an export staff asked
//! for through the API, opened by its signed, expiring link and streamed a page of rows
//! at a time.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde::Deserialize;

use crate::domain::exports::{self, ExportCursor, ExportLinkRefused};
use crate::server::AppState;

#[derive(Deserialize)]
pub struct LinkQuery {
    /// Read with the links' strict parser, so a link has one spelling.
    expires: String,
    signature: String,
}

fn plain(status: StatusCode, text: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(text.to_owned())
}

pub async fn download(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<LinkQuery>,
) -> HttpResponse {
    let (Some(id), Some(key)) = (
        path.strip_suffix(".csv"),
        state.config.download_link_key.as_ref(),
    ) else {
        return plain(StatusCode::NOT_FOUND, "no such export");
    };
    let opened = exports::open_export(
        &state.db,
        key.expose(),
        id,
        &query.expires,
        &query.signature,
        Utc::now(),
    )
    .await;
    let (id, request) = match opened {
        Ok(opened) => opened,
        Err(ExportLinkRefused::NotValid) => {
            return plain(
                StatusCode::FORBIDDEN,
                "this link is not valid or has expired; ask for the export again",
            );
        }
        Err(ExportLinkRefused::Failed(error)) => {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "cannot open an export"
            );
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the export could not be read; try again",
            );
        }
    };
    let file_name = exports::file_name(id, &request);
    let start = (state.db.clone(), ExportCursor::new(request));
    let parts = futures_util::stream::unfold(Some(start), next_part);
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .streaming(parts)
}

type Part = Result<web::Bytes, actix_web::Error>;

/// The next part of the file. A failure ends the response early (the client sees a
/// cut-off download, never a file that looks whole) and is logged.
async fn next_part(
    state: Option<(DatabaseConnection, ExportCursor)>,
) -> Option<(Part, Option<(DatabaseConnection, ExportCursor)>)> {
    let (db, mut cursor) = state?;
    match cursor.next_part(&db).await {
        Ok(Some(bytes)) => Some((Ok(web::Bytes::from(bytes)), Some((db, cursor)))),
        Ok(None) => None,
        Err(error) => {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "an export stopped part way"
            );
            Some((
                Err(actix_web::error::ErrorInternalServerError(
                    "the export stopped part way",
                )),
                None,
            ))
        }
    }
}
