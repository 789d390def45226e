//! `/assets/*`: the front-end files the pages use, embedded in the binary (nothing is loaded
//! from another origin): the console's stylesheet and script, and for `/docs` the vendored
//! Redoc bundle (`assets/vendor/`, refreshed by `scripts/vendor-assets`) with its starter.
//! `/docs` itself is a small page of our own whose policy lets in only these scripts.

use axum::{
    extract::Path,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use crate::app::AppState;

/// Every embedded file: its name under `/assets/`, content type and bytes.
const FILES: [(&str, &str, &[u8]); 4] = [
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/console.js"),
    ),
    (
        "docs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/docs.js"),
    ),
    (
        "redoc.standalone.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/redoc.standalone.js"),
    ),
];

const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Roster API reference</title>
  <script src="/assets/redoc.standalone.js" defer></script>
  <script src="/assets/docs.js" defer></script>
</head>
<body>
<noscript>The reference needs JavaScript; the OpenAPI document itself is at <a href="/v1/openapi.json">/v1/openapi.json</a>.</noscript>
<div id="reference" data-spec="/v1/openapi.json"></div>
</body>
</html>
"#;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/{name}", get(asset))
        .route("/docs", get(docs))
}

async fn asset(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                // Not content-addressed, so a deploy must be able to replace them soon.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=300"),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// The API reference: Redoc renders `/v1/openapi.json`. Redoc styles its elements inline and
/// runs its search in a worker made from a blob, so the policy allows exactly those.
async fn docs() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; worker-src blob:; \
                     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
                     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
                ),
            ),
        ],
        DOCS_PAGE,
    )
        .into_response()
}
