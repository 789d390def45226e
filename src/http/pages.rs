//! What the server-rendered pages share: the headers that keep a token in the URL private (no
//! referrer, no caching, no framing, a strict CSP), the page for a failure on our side, and the
//! guard of their forms against cross-site request forgery. The pages keep no session cookie (a
//! form carries its own proof: the token in the URL, and a password where one is asked), so the
//! guard is the browser's own word: a form post that `Sec-Fetch-Site` says another site sent,
//! or (from a browser without Fetch Metadata) whose `Origin` is not this service's, is refused.
//! Clients that are not browsers send neither header and are not at risk.

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
};

use crate::domain::Error;

/// An HTML page with the headers every page gets.
pub fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, Html(body)).into_response();
    let h = r.headers_mut();
    // The token is in the URL: never send it onwards, never cache the page, never frame it.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    r
}

/// A page already rendered for a failure, given the status and the report for the logs that
/// the failure calls for (an internal error is a 500 with its detail logged; the rest 503).
pub fn failed(mut page: Response, e: Error) -> Response {
    *page.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    if let Error::Internal(detail) = e {
        *page.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        page.extensions_mut()
            .insert(crate::http::problem::InternalErrorReport(format!(
                "{detail:#}"
            )));
    }
    page
}

/// True when the browser says another site sent this request.
pub fn cross_site(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none`: the user's own doing (typed, bookmarked); `same-origin`: our page's form.
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // `null`: a no-referrer page's own form in an older browser.
        None | Some("null") => false,
        Some(origin) => url::Url::parse(public_url)
            .map(|u| u.origin().ascii_serialization() != origin.trim_end_matches('/'))
            .unwrap_or(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    const HERE: &str = "https://roster.example.com/";

    #[test]
    fn a_post_another_site_made_the_browser_send_is_cross_site() {
        assert!(cross_site(&with(&[("sec-fetch-site", "cross-site")]), HERE));
        assert!(cross_site(&with(&[("sec-fetch-site", "same-site")]), HERE));
        assert!(cross_site(
            &with(&[("origin", "https://evil.example")]),
            HERE
        ));
        assert!(cross_site(
            &with(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://roster.example.com")
            ]),
            HERE
        ));
    }

    #[test]
    fn the_pages_own_form_and_non_browser_clients_are_not() {
        assert!(!cross_site(
            &with(&[("sec-fetch-site", "same-origin"), ("origin", "null")]),
            HERE
        ));
        assert!(!cross_site(
            &with(&[("origin", "https://roster.example.com")]),
            HERE
        ));
        assert!(!cross_site(&with(&[("origin", "null")]), HERE));
        assert!(!cross_site(&HeaderMap::new(), HERE));
    }
}
