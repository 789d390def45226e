//! `/v1/auth/verify-email`, `/v1/me/verify-email`, `/v1/auth/forgot-password`,
//! `/v1/auth/reset-password`: the emailed account links (domain/account_link.rs).

use axum::{extract::State, http::StatusCode};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::me::UserView;
use crate::{
    app::AppState,
    domain::{auth::Principal, session::RequestMeta},
    http::{
        extract::Json,
        problem::{ApiResult, Problem},
    },
};

/// A token from an emailed link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    /// The `ev_…` token of the verification link.
    token: String,
}

/// An address that forgot its password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    #[schema(example = "ada@example.com")]
    email: String,
}

/// A new password, with the token of the reset link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The `pr_…` token of the reset link.
    token: String,
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 256)]
    password: SecretString,
}

/// The same answer whatever the address.
#[derive(Serialize, ToSchema)]
pub struct ResetRequested {
    /// Always the same text.
    message: &'static str,
}

/// How many sessions a reset ended.
#[derive(Serialize, ToSchema)]
pub struct PasswordReset {
    sessions_ended: u64,
}

/// A message queued.
#[derive(Serialize, ToSchema)]
pub struct VerificationSent {
    /// The address the link went to.
    sent_to: String,
}

/// Use a verification link: the address it was sent to is verified (for a change of address,
/// it becomes the account's). Single use.
#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "auth",
    request_body = VerifyEmailRequest,
    responses((status = 200, body = UserView),
        (status = 400, description = "`token_invalid`: malformed or unknown", body = Problem),
        (status = 409, description = "`email_taken`: the new address got an account meanwhile", body = Problem),
        (status = 410, description = "`token_expired`, `token_used`, `token_superseded`", body = Problem)))]
pub async fn verify_email(
    State(state): State<AppState>,
    meta: RequestMeta,
    Json(body): Json<VerifyEmailRequest>,
) -> ApiResult<axum::Json<UserView>> {
    let verified = state.core.verify_email(&body.token, &meta).await?;
    Ok(axum::Json(verified.user.into()))
}

/// Send the verification email again; the previous link stops working. Limited per account
/// and per address (429 with `Retry-After`).
#[utoipa::path(post, path = "/v1/me/verify-email", tag = "me",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 202, body = VerificationSent), (status = 401, body = Problem),
        (status = 409, description = "`already_verified`", body = Problem),
        (status = 429, body = Problem)))]
pub async fn resend_verification(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
) -> ApiResult<(StatusCode, axum::Json<VerificationSent>)> {
    state
        .core
        .resend_verification(principal.user_id, &meta)
        .await?;
    let me = state.core.me(principal.user_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(VerificationSent { sent_to: me.email }),
    ))
}

/// Ask for a password-reset link. The answer is the same, in about the same time, whether or
/// not the address has an account; when it has one, a link (1 h, single use; the previous one
/// stops working) is emailed. Per address at most one link a minute and three an hour go out
/// (further requests answer the same and send nothing); per client IP requests are limited.
#[utoipa::path(post, path = "/v1/auth/forgot-password", tag = "auth",
    request_body = ForgotPasswordRequest,
    responses((status = 202, body = ResetRequested), (status = 422, body = Problem),
        (status = 429, description = "too many requests from this client", body = Problem)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    Json(body): Json<ForgotPasswordRequest>,
) -> ApiResult<(StatusCode, axum::Json<ResetRequested>)> {
    state.core.forgot_password(&body.email, &meta).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ResetRequested {
            message: "if this address has an account, a reset link is on its way",
        }),
    ))
}

/// Set a new password with a reset link: every session and refresh token of the account ends
/// at once, and the address is marked verified. Single use.
#[utoipa::path(post, path = "/v1/auth/reset-password", tag = "auth",
    request_body = ResetPasswordRequest,
    responses((status = 200, body = PasswordReset),
        (status = 400, description = "`token_invalid`: malformed or unknown", body = Problem),
        (status = 410, description = "`token_expired`, `token_used`, `token_superseded`", body = Problem),
        (status = 422, body = Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    Json(body): Json<ResetPasswordRequest>,
) -> ApiResult<axum::Json<PasswordReset>> {
    let sessions_ended = state
        .core
        .reset_password(&body.token, body.password, &meta)
        .await?;
    Ok(axum::Json(PasswordReset { sessions_ended }))
}
