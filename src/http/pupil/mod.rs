//! The Pupil Cloud v2 dialect under `/pupil/v2`: a translator from the wire shapes of the
//! generated Pupil client to the domain calls the native API makes, and back, in the envelope.

mod account;
pub(crate) mod envelope;
mod extract;
mod invitations;
mod members;
mod models;
mod workspaces;

use axum::{http::StatusCode, routing::get, Router};
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, SecurityScheme},
    Modify, OpenApi,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::app::AppState;
use envelope::PupilError;

/// Where the dialect is mounted.
pub const PREFIX: &str = "/pupil/v2";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roster: Pupil Cloud v2 dialect",
        version = "2.0",
        description = "Workspaces, members and invitations as the generated Pupil Cloud v2 \
                       client expects them. Every answer is the envelope \
                       `{code, status, result}`."
    ),
    servers((url = "/pupil/v2")),
    modifiers(&Security),
    tags(
        (name = "workspaces", description = "Workspaces, their invitations and members"),
        (name = "auth", description = "The caller's profile, invitations and API tokens"),
    )
)]
struct PupilApi;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "api-key",
                "A Roster API key (rk_…), optionally prefixed with `Bearer `",
            ))),
        );
        components.add_security_scheme(
            "workspace_id",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "workspace-id",
                "Context only: accepted and ignored; the path names the workspace",
            ))),
        );
    }
}

fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(PupilApi::openapi())
        .routes(routes!(workspaces::list, workspaces::create))
        .routes(routes!(
            workspaces::get,
            workspaces::update,
            workspaces::delete
        ))
        .routes(routes!(invitations::create, invitations::list))
        .routes(routes!(invitations::get, invitations::revoke))
        .routes(routes!(members::list, members::add))
        .routes(routes!(members::get, members::update, members::remove))
        .routes(routes!(account::get_profile, account::patch_profile))
        .routes(routes!(account::my_invites))
        .routes(routes!(account::my_invite, account::decline_invite))
        .routes(routes!(account::accept_invite))
        .routes(routes!(account::list_tokens, account::create_token))
        .routes(routes!(account::get_token, account::delete_token))
        .routes(routes!(account::unregister))
}

/// The dialect's routes, to be nested at [`PREFIX`]; unknown paths and methods under it
/// answer in the envelope too.
pub fn router() -> Router<AppState> {
    let (router, mut document) = routes().split_for_parts();
    crate::http::openapi::add_common_errors(
        &mut document,
        &crate::http::openapi::CommonErrors {
            media_type: "application/json",
            schema: "ErrorEnvelope",
            invalid_body: (409, "ErrorEnvelope"),
        },
    );
    router
        .route(
            "/openapi.json",
            get(move || async move { axum::Json(document) }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(read_body_first))
}

/// Reads the whole request body before routing, so that an answer given without reading it
/// (401, 404, 405, …) still leaves the connection reusable: the generated client pools
/// connections, and an unread body would make the server drop the next request on it. A body
/// over the limit is still read (and dropped) up to `DRAIN_BYTES`, so that the client, still
/// sending, receives the 413 instead of a reset connection.
async fn read_body_first(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use futures_util::StreamExt;
    const DRAIN_BYTES: usize = 8 * crate::http::extract::MAX_BODY_BYTES;
    let (parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    let mut readable = true;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            readable = false;
            break;
        };
        seen += chunk.len();
        if seen <= crate::http::extract::MAX_BODY_BYTES {
            kept.extend_from_slice(&chunk);
        } else if seen > DRAIN_BYTES {
            break;
        }
    }
    if readable && seen <= crate::http::extract::MAX_BODY_BYTES {
        return next
            .run(axum::extract::Request::from_parts(parts, kept.into()))
            .await;
    }
    PupilError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the body exceeds {} bytes, or could not be read",
            crate::http::extract::MAX_BODY_BYTES
        ),
    )
    .into_response()
}

async fn not_found() -> PupilError {
    PupilError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route")
}

async fn method_not_allowed() -> PupilError {
    PupilError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
    )
}
