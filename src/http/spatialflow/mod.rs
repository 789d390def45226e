//! The SpatialFlow-compatible dialect, mounted at `/spatialflow` (so the SDK's
//! `base_url=http://host:port/spatialflow` reaches `/spatialflow/api/v1/...`). It only
//! translates: SpatialFlow wire shapes in, the domain's calls, SpatialFlow shapes and errors out.

mod account;
mod api_keys;
mod audit;
mod auth;
pub mod error;
mod extract;
mod invitations;
mod members;
mod recovery;
mod webhooks;
mod wire;
mod workspace;

use axum::{http::StatusCode, routing::get, Router};
use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::app::AppState;
use error::SfError;

/// Where the dialect is mounted.
pub const MOUNT: &str = "/spatialflow";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roster: SpatialFlow-compatible API",
        description = "The SpatialFlow workspaces, auth, API-key, audit-log and webhook operations, as \
                       the `spatialflow` Python SDK 3.2.0 calls them. Paths are relative to \
                       `/spatialflow`."
    ),
    servers((url = "/spatialflow")),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Tokens, sign-up, passwords, accepting invitations"),
        (name = "workspaces", description = "The current workspace, its members and invitations"),
        (name = "account", description = "The caller's profile and API keys"),
        (name = "audit", description = "Audit logs"),
        (name = "webhooks", description = "The workspace's webhook endpoints, their \
            deliveries and dead letters"),
    )
)]
pub struct SpatialFlowApi;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "JWTBearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The dialect's routes with their OpenAPI description (paths relative to the mount).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(SpatialFlowApi::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::signup))
        .routes(routes!(auth::accept_invite))
        .routes(routes!(auth::accept_invite_passwordless))
        .routes(routes!(auth::health))
        .routes(routes!(auth::register))
        .routes(routes!(auth::change_password))
        .routes(routes!(
            account::get_profile,
            account::update_profile,
            account::delete_account
        ))
        .routes(routes!(recovery::forgot_password))
        .routes(routes!(recovery::password_reset_alias))
        .routes(routes!(recovery::confirm_password_reset))
        .routes(routes!(recovery::reset_password_deprecated))
        .routes(routes!(recovery::verify_email))
        .routes(routes!(recovery::resend_verification))
        .routes(routes!(recovery::resend_verification_email))
        .routes(routes!(recovery::resend_verification_authenticated))
        .routes(routes!(
            workspace::get_workspace,
            workspace::update_workspace,
            workspace::patch_workspace
        ))
        .routes(routes!(workspace::get_usage))
        .routes(routes!(workspace::revoke_all_sessions))
        .routes(routes!(workspace::available))
        .routes(routes!(workspace::select))
        .routes(routes!(members::list_members))
        .routes(routes!(members::update_member_role, members::remove_member))
        .routes(routes!(
            invitations::list_invitations,
            invitations::create_invitation
        ))
        .routes(routes!(invitations::resend_missing))
        .routes(routes!(
            invitations::extend_invitation,
            invitations::cancel_invitation
        ))
        .routes(routes!(invitations::resend_invitation))
        .routes(routes!(api_keys::list_api_keys, api_keys::create_api_key))
        .routes(routes!(api_keys::expiring_api_keys))
        .routes(routes!(
            api_keys::get_api_key,
            api_keys::update_api_key,
            api_keys::delete_api_key
        ))
        .routes(routes!(api_keys::regenerate_api_key))
        .routes(routes!(api_keys::rotate_api_key))
        .routes(routes!(api_keys::set_expiration))
        .routes(routes!(audit::list_audit_logs))
        .routes(routes!(audit::export_audit_logs))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(webhooks::get_webhook_metrics))
        .routes(routes!(webhooks::get_workspace_webhook_metrics))
        .routes(routes!(webhooks::get_webhook_success_timeline))
        .routes(routes!(webhooks::list_dlq_entries))
        .routes(routes!(webhooks::get_dlq_stats))
        .routes(routes!(webhooks::retry_from_dlq))
        .routes(routes!(webhooks::webhook_health_check))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::rotate_webhook_secret))
        .routes(routes!(webhooks::test_webhook))
        .routes(routes!(webhooks::get_webhook_deliveries))
        .routes(routes!(webhooks::get_webhook_delivery_detail))
        .routes(routes!(webhooks::retry_webhook_delivery))
}

/// The dialect's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = routes().into_openapi();
    crate::http::openapi::add_common_errors(&mut doc, &ERRORS);
    doc
}

/// The dialect's errors: `ErrorResponse`, and FastAPI's 422 detail list for invalid input.
const ERRORS: crate::http::openapi::CommonErrors = crate::http::openapi::CommonErrors {
    media_type: "application/json",
    schema: "ErrorResponse",
    invalid_body: (422, "ValidationErrorResponse"),
};

/// The router to nest at [`MOUNT`]: the routes, `/api/v1/openapi.json`, and SpatialFlow-shaped
/// answers for unknown routes and methods.
pub fn router() -> Router<AppState> {
    let (router, mut doc) = routes().split_for_parts();
    crate::http::openapi::add_common_errors(&mut doc, &ERRORS);
    let doc = std::sync::Arc::new(doc);
    router
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(|| async {
            SfError::Status(StatusCode::NOT_FOUND, "route_not_found", "Not Found".into())
        })
        .method_not_allowed_fallback(|| async {
            SfError::Status(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method Not Allowed".into(),
            )
        })
}
