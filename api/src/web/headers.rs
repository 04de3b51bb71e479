//! The security headers every response carries, set in one place: a middleware wrapped
//! around the whole application, so a page, an error, a 404, a 429 or a redirect gets
//! them alike and no handler can forget them.
//!
//! - `Content-Security-Policy`: a page may state its own (the donation page shows the
//!   logo, the console runs its script); every other response gets [`DEFAULT_CSP`], and
//!   a policy without `frame-ancestors` gets `frame-ancestors 'none'`, so no response can
//!   be framed by another site.
//! - `X-Content-Type-Options: nosniff`.
//! - `Referrer-Policy`: see [`referrer_policy`].
//! - `Strict-Transport-Security` when `PUBLIC_URL` is https.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::server::AppState;

/// The policy of a response that states none: nothing loads from anywhere except the
/// page's own inline style, and no site may frame it.
pub const DEFAULT_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

/// Browsers remember for a year to reach the service only over https.
pub const HSTS: &str = "max-age=31536000";

/// What a browser may tell the next site about the page it comes from.
///
/// `no-referrer` everywhere: links to the self-service page, receipts and unsubscribe
/// pages carry a credential in their URL, and no page needs to name itself to anyone.
/// The donation page alone sends `strict-origin` (its origin, never its path or query):
/// under `no-referrer` browsers post its form with `Origin: null`, and the checkout
/// refuses a post that does not come from our own origin.
pub fn referrer_policy(path: &str) -> &'static str {
    if path == "/donate" {
        "strict-origin"
    } else {
        "no-referrer"
    }
}

/// The middleware: sets the headers on whatever the application answers. An error that
/// left a handler or another middleware as `Err` is turned into its response here, with
/// the headers, and passed on as that response.
pub async fn security_headers(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let https = request
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.config.public_url.scheme() == "https");
    let policy = referrer_policy(request.path());
    match next.call(request).await {
        Ok(mut response) => {
            apply(response.headers_mut(), https, policy);
            Ok(response)
        }
        Err(error) => {
            let mut answer = error.error_response();
            apply(answer.headers_mut(), https, policy);
            Err(InternalError::from_response(error.to_string(), answer).into())
        }
    }
}

fn apply(headers: &mut HeaderMap, https: bool, referrer_policy: &'static str) {
    let csp = match headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|value| value.to_str().ok())
    {
        None => HeaderValue::from_static(DEFAULT_CSP),
        Some(stated) if stated.contains("frame-ancestors") => {
            HeaderValue::from_str(stated).unwrap_or_else(|_| HeaderValue::from_static(DEFAULT_CSP))
        }
        Some(stated) => HeaderValue::from_str(&format!("{stated}; frame-ancestors 'none'"))
            .unwrap_or_else(|_| HeaderValue::from_static(DEFAULT_CSP)),
    };
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static(referrer_policy),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csp_after(stated: Option<&str>) -> String {
        let mut headers = HeaderMap::new();
        if let Some(stated) = stated {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(stated).unwrap_or_else(|_| HeaderValue::from_static("")),
            );
        }
        apply(&mut headers, false, "no-referrer");
        headers
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn a_response_without_a_policy_gets_the_default() {
        assert_eq!(csp_after(None), DEFAULT_CSP);
    }

    #[test]
    fn a_page_keeps_its_own_policy_and_is_never_framed() {
        assert_eq!(
            csp_after(Some(
                "default-src 'none'; img-src 'self'; frame-ancestors 'none'"
            )),
            "default-src 'none'; img-src 'self'; frame-ancestors 'none'"
        );
        assert_eq!(
            csp_after(Some("default-src 'self'")),
            "default-src 'self'; frame-ancestors 'none'"
        );
    }

    #[test]
    fn hsts_only_over_https() {
        let mut headers = HeaderMap::new();
        apply(&mut headers, true, "no-referrer");
        assert_eq!(
            headers.get(header::STRICT_TRANSPORT_SECURITY),
            Some(&HeaderValue::from_static(HSTS))
        );
        let mut headers = HeaderMap::new();
        apply(&mut headers, false, "no-referrer");
        assert_eq!(headers.get(header::STRICT_TRANSPORT_SECURITY), None);
        assert_eq!(
            headers.get(header::X_CONTENT_TYPE_OPTIONS),
            Some(&HeaderValue::from_static("nosniff"))
        );
    }

    #[test]
    fn only_the_donation_page_names_its_origin() {
        assert_eq!(referrer_policy("/donate"), "strict-origin");
        for path in ["/manage/1.2.ab", "/receipts/1.pdf", "/donate/thanks", "/"] {
            assert_eq!(referrer_policy(path), "no-referrer", "{path}");
        }
    }
}
