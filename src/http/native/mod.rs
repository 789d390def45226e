//! The native API (`/v1`): one file per resource; each handler extracts, calls one domain
//! function and shapes the answer.

mod account_links;
mod api_keys;
mod audit;
pub(crate) use audit::exported as export_audit;
pub mod auth;
mod invitations;
pub mod invitees;
mod me;
mod members;
mod mfa;
pub mod nullable;
mod ownership;
mod roles;
mod usage;
mod webhooks;
mod workspace_api_keys;
mod workspaces;

use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{app::AppState, http::openapi::NativeApi};

/// A `201 Created` answer with its `Location` and body.
fn created<T: serde::Serialize>(location: String, body: T) -> axum::response::Response {
    use axum::response::IntoResponse;
    match axum::http::HeaderValue::try_from(location) {
        Ok(location) => (
            axum::http::StatusCode::CREATED,
            [(axum::http::header::LOCATION, location)],
            axum::Json(body),
        )
            .into_response(),
        Err(e) => crate::http::problem::ApiError(anyhow::Error::from(e).into()).into_response(),
    }
}

/// The native routes together with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(NativeApi::openapi())
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::complete_mfa))
        .routes(routes!(me::get_me, me::update_me, me::delete_me))
        .routes(routes!(me::list_sessions))
        .routes(routes!(me::end_session))
        .routes(routes!(me::change_password))
        .routes(routes!(me::revoke_all_sessions))
        .routes(routes!(account_links::verify_email))
        .routes(routes!(account_links::resend_verification))
        .routes(routes!(account_links::forgot_password))
        .routes(routes!(account_links::reset_password))
        .routes(routes!(mfa::status))
        .routes(routes!(mfa::enrol))
        .routes(routes!(mfa::confirm))
        .routes(routes!(mfa::disable))
        .routes(routes!(mfa::regenerate))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::get, api_keys::update, api_keys::revoke))
        .routes(routes!(api_keys::regenerate))
        .routes(routes!(api_keys::rotate))
        .routes(routes!(workspaces::list, workspaces::create))
        .routes(routes!(
            workspaces::get,
            workspaces::update,
            workspaces::delete
        ))
        .routes(routes!(
            workspace_api_keys::list,
            workspace_api_keys::create
        ))
        .routes(routes!(
            workspace_api_keys::get,
            workspace_api_keys::update,
            workspace_api_keys::revoke
        ))
        .routes(routes!(workspace_api_keys::rotate))
        .routes(routes!(workspaces::leave))
        .routes(routes!(workspaces::revoke_sessions))
        .routes(routes!(members::list, members::add))
        .routes(routes!(members::get, members::update, members::remove))
        .routes(routes!(
            ownership::propose,
            ownership::get,
            ownership::withdraw
        ))
        .routes(routes!(ownership::cancel))
        .routes(routes!(ownership::accept))
        .routes(routes!(ownership::decline))
        .routes(routes!(roles::catalogue))
        .routes(routes!(roles::list, roles::create))
        .routes(routes!(roles::get, roles::update, roles::delete))
        .routes(routes!(roles::member))
        .routes(routes!(roles::check))
        .routes(routes!(webhooks::event_types))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::test))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::delivery))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::retry_failed))
        .routes(routes!(audit::list))
        .routes(routes!(audit::export))
        .routes(routes!(audit::verify))
        .routes(routes!(usage::record))
        .routes(routes!(usage::report))
        .routes(routes!(invitations::list, invitations::create))
        .routes(routes!(invitations::bulk))
        .routes(routes!(
            invitations::get,
            invitations::extend,
            invitations::cancel
        ))
        .routes(routes!(invitations::resend))
        .routes(routes!(invitees::preview))
        .routes(routes!(invitees::accept))
        .routes(routes!(invitees::decline))
        .routes(routes!(invitees::mine))
}
