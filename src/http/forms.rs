//! The guard of the server-rendered pages' forms against cross-site request forgery. The pages
//! keep no session cookie (a form carries its own proof: the token in the URL and a password),
//! so the guard is the browser's own word: a form post that `Sec-Fetch-Site` says another site
//! sent, or (from a browser without Fetch Metadata) whose `Origin` is not this service's, is
//! refused. Clients that are not browsers send neither header and are not at risk.

use axum::http::{header, HeaderMap};

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
