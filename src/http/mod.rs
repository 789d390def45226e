//! HTTP: the router that nests the API surfaces and the operational endpoints, and the
//! middleware every request passes (request id, tracing, metrics, timeout, body limit).

mod account_pages;
mod assets;
pub mod auth;
mod client_ip;
mod console;
pub mod extract;
mod invite_page;
pub mod native;
pub mod openapi;
mod ops;
mod pages;
pub mod problem;
pub mod pupil;
pub mod spatialflow;
pub mod surface;

use std::time::Duration;

use axum::{
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderName, StatusCode},
    middleware::{self, Next},
    response::Response,
    Router,
};
use tower::ServiceBuilder;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::app::AppState;
use problem::Problem;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The native OpenAPI document, as generated from the handlers.
pub fn native_openapi() -> utoipa::openapi::OpenApi {
    let mut doc = native::router().into_openapi();
    openapi::add_common_errors(&mut doc, &openapi::NATIVE_ERRORS);
    doc
}

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    let (native, mut openapi) = native::router().split_for_parts();
    openapi::add_common_errors(&mut openapi, &openapi::NATIVE_ERRORS);
    let timeout = state.config.request_timeout;
    Router::new()
        .merge(native)
        .merge(ops::router(openapi))
        .merge(assets::router())
        .merge(console::router())
        .nest(spatialflow::MOUNT, spatialflow::router())
        .nest(pupil::PREFIX, pupil::router())
        .route(
            "/invite/{token}",
            axum::routing::get(invite_page::show).post(invite_page::answer),
        )
        .route(
            "/verify-email/{token}",
            axum::routing::get(account_pages::show_verify).post(account_pages::verify),
        )
        .route(
            "/reset-password/{token}",
            axum::routing::get(account_pages::show_reset).post(account_pages::reset),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(span))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(middleware::from_fn(crate::telemetry::track))
                .layer(middleware::from_fn_with_state(timeout, time_limit))
                .layer(middleware::from_fn(surface::readable_uri))
                .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES)),
        )
        .with_state(state)
}

/// The request's span: method, route template (never the raw path) and request id.
fn span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str());
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", method = %request.method(), route, request_id = id)
}

async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let surface = surface::Surface::of(request.uri().path());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => surface.refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long and was abandoned",
        ),
    }
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "route_not_found", "no such route")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
    )
}
