//! `/auth/forgot-password` (and its alias `/auth/password-reset`), `/auth/password-reset/confirm`,
//! `/auth/verify-email`, the three resend routes, and the deprecated `/auth/reset-password`
//! (always 410): the emailed account links of domain/account_link.rs in the dialect's shapes.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    error::{ErrorResponse, SfError, SfResult, ValidationErrorResponse},
    extract::{SfJson, SfPrincipal},
};
use crate::{app::AppState, domain::session::RequestMeta};

/// `ForgotPasswordSchema`.
#[derive(Deserialize, ToSchema)]
pub struct ForgotPasswordSchema {
    email: String,
}

/// `ConfirmPasswordResetSchema`.
#[derive(Deserialize, ToSchema)]
pub struct ConfirmPasswordResetSchema {
    token: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// `ResetPasswordSchema` (the deprecated route's).
#[derive(Deserialize, ToSchema)]
#[expect(
    dead_code,
    reason = "only its schema is used: the deprecated route answers 410 to any body"
)]
pub struct ResetPasswordSchema {
    uid: String,
    token: String,
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
}

/// `VerifyEmailSchema`.
#[derive(Deserialize, ToSchema)]
pub struct VerifyEmailSchema {
    token: String,
}

/// `ResendVerificationSchema`.
#[derive(Deserialize, ToSchema)]
pub struct ResendVerificationSchema {
    email: String,
}

/// The free-form object these routes answer with.
#[derive(Serialize, ToSchema)]
pub struct Outcome {
    success: bool,
    message: &'static str,
}

fn ok(message: &'static str) -> axum::Json<Outcome> {
    axum::Json(Outcome {
        success: true,
        message,
    })
}

const RESET_SENT: &str =
    "If an account exists for this address, a password reset link has been sent.";

async fn forgot(
    state: &AppState,
    meta: &RequestMeta,
    email: &str,
) -> SfResult<axum::Json<Outcome>> {
    state.core.forgot_password(email, meta).await?;
    Ok(ok(RESET_SENT))
}

/// Ask for a password-reset link; the same answer whether or not the address has an account.
#[utoipa::path(post, path = "/api/v1/auth/forgot-password", tag = "auth",
    request_body = ForgotPasswordSchema,
    responses((status = 200, body = Outcome), (status = 422, body = ValidationErrorResponse),
        (status = 429, body = ErrorResponse)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfJson(body): SfJson<ForgotPasswordSchema>,
) -> SfResult<axum::Json<Outcome>> {
    forgot(&state, &meta, &body.email).await
}

/// The alias of `/auth/forgot-password`.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth",
    request_body = ForgotPasswordSchema,
    responses((status = 200, body = Outcome), (status = 422, body = ValidationErrorResponse),
        (status = 429, body = ErrorResponse)))]
pub async fn password_reset_alias(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfJson(body): SfJson<ForgotPasswordSchema>,
) -> SfResult<axum::Json<Outcome>> {
    forgot(&state, &meta, &body.email).await
}

/// Set a new password with the token of a reset link: every session of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth",
    request_body = ConfirmPasswordResetSchema,
    responses((status = 200, body = Outcome),
        (status = 400, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`, `TOKEN_USED`, `TOKEN_SUPERSEDED`", body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfJson(body): SfJson<ConfirmPasswordResetSchema>,
) -> SfResult<axum::Json<Outcome>> {
    state
        .core
        .reset_password(&body.token, body.password, &meta)
        .await?;
    Ok(ok(
        "Your password has been reset; sign in with the new one.",
    ))
}

/// Deprecated: always 410 (use `/auth/password-reset/confirm`).
#[utoipa::path(post, path = "/api/v1/auth/reset-password", tag = "auth",
    request_body = ResetPasswordSchema,
    responses((status = 410, body = ErrorResponse)))]
pub async fn reset_password_deprecated() -> SfError {
    SfError::Status(
        StatusCode::GONE,
        "endpoint_deprecated",
        "This endpoint is deprecated; use POST /api/v1/auth/password-reset/confirm.".into(),
    )
}

/// Use a verification link's token: the address is verified (or, for a change of address,
/// becomes the account's).
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth",
    request_body = VerifyEmailSchema,
    responses((status = 200, body = Outcome),
        (status = 400, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`, `TOKEN_USED`, `TOKEN_SUPERSEDED`, `EMAIL_TAKEN`", body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn verify_email(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfJson(body): SfJson<VerifyEmailSchema>,
) -> SfResult<axum::Json<Outcome>> {
    state.core.verify_email(&body.token, &meta).await?;
    Ok(ok("Your email address has been verified."))
}

const VERIFICATION_SENT: &str =
    "If an unverified account exists for this address, a verification link has been sent.";

async fn resend_to(
    state: &AppState,
    meta: &RequestMeta,
    email: &str,
) -> SfResult<axum::Json<Outcome>> {
    state.core.resend_verification_to(email, meta).await?;
    Ok(ok(VERIFICATION_SENT))
}

/// Send a verification link again to an address; the same answer whatever the account.
#[utoipa::path(post, path = "/api/v1/auth/resend-verification", tag = "auth",
    request_body = ResendVerificationSchema,
    responses((status = 200, body = Outcome), (status = 422, body = ValidationErrorResponse),
        (status = 429, body = ErrorResponse)))]
pub async fn resend_verification(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfJson(body): SfJson<ResendVerificationSchema>,
) -> SfResult<axum::Json<Outcome>> {
    resend_to(&state, &meta, &body.email).await
}

/// The same as `/auth/resend-verification`.
#[utoipa::path(post, path = "/api/v1/auth/resend-verification-email", tag = "auth",
    request_body = ResendVerificationSchema,
    responses((status = 200, body = Outcome), (status = 422, body = ValidationErrorResponse),
        (status = 429, body = ErrorResponse)))]
pub async fn resend_verification_email(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfJson(body): SfJson<ResendVerificationSchema>,
) -> SfResult<axum::Json<Outcome>> {
    resend_to(&state, &meta, &body.email).await
}

/// Send the signed-in user a new verification link.
#[utoipa::path(post, path = "/api/v1/auth/resend-verification-authenticated", tag = "auth",
    security(("JWTBearer" = [])),
    responses((status = 200, body = Outcome),
        (status = 400, description = "`ALREADY_VERIFIED`", body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 429, body = ErrorResponse)))]
pub async fn resend_verification_authenticated(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfPrincipal(principal): SfPrincipal,
) -> SfResult<impl IntoResponse> {
    state
        .core
        .resend_verification(principal.user_id, &meta)
        .await?;
    Ok(ok("A verification link has been sent."))
}
