//! `GET /receipts/{number}.pdf?expires=…&signature=…`: a donor opens their own receipt or
//! statement through a signed, expiring link, without an account.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use entity::enums::ReceiptStatus;
use serde::Deserialize;

use crate::domain::{DomainError, receipts};
use crate::server::AppState;

#[derive(Deserialize)]
pub struct LinkQuery {
    /// Read with the links' strict parser, so a link has one spelling.
    expires: String,
    signature: String,
}

fn plain(status: actix_web::http::StatusCode, text: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(text.to_owned())
}

pub async fn download(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<LinkQuery>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let Some(number) = path.strip_suffix(".pdf") else {
        return plain(StatusCode::NOT_FOUND, "no such receipt");
    };
    let Some(key) = &state.config.download_link_key else {
        return plain(StatusCode::NOT_FOUND, "no such receipt");
    };
    let version = match receipts::link_version_for_receipt(&state.db, number).await {
        Ok(version) => version,
        Err(error) => {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "cannot read the link version of a receipt's donor"
            );
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the receipt could not be loaded; try again",
            );
        }
    };
    let genuine = mailer::links::parse_number(&query.expires).is_some_and(|expires| {
        receipts::download_link_is_valid(
            key.expose(),
            number,
            expires,
            &query.signature,
            version,
            Utc::now(),
        )
    });
    if !genuine {
        return plain(
            StatusCode::FORBIDDEN,
            "this link is not valid or has expired; ask us for a new one",
        );
    }
    match receipts::find_by_number(&state.db, number).await {
        Ok(receipt) if receipt.status == ReceiptStatus::Void => plain(
            StatusCode::GONE,
            "this receipt was voided; a corrected one was sent to you",
        ),
        Ok(receipt) => match receipts::receipt_pdf(&state.db, &receipt).await {
            Ok(Some(pdf)) => HttpResponse::Ok()
                .content_type("application/pdf")
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"receipt-{}.pdf\"", receipt.number),
                ))
                .insert_header((header::CACHE_CONTROL, "private, no-store"))
                .body(pdf),
            Ok(None) => plain(StatusCode::NOT_FOUND, "this receipt has no PDF"),
            Err(error) => failed(error),
        },
        Err(DomainError::NotFound { .. }) => plain(StatusCode::NOT_FOUND, "no such receipt"),
        Err(error) => failed(error),
    }
}

fn failed(error: DomainError) -> HttpResponse {
    tracing::error!(
        error = format!("{:#}", anyhow::Error::from(error)),
        "receipt download failed"
    );
    plain(
        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        "the receipt could not be loaded; try again",
    )
}
