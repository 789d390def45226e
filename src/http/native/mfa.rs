//! `/v1/me/mfa`: the caller's second factor — enrol a TOTP secret, confirm it (recovery codes
//! shown once), read the state, disable it, regenerate the recovery codes. A session only.

use axum::{extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    app::AppState,
    domain::{
        auth::Principal,
        mfa::{Enrolment, MfaStatus, SecondFactor},
        session::RequestMeta,
    },
    http::{
        extract::Json,
        problem::{ApiResult, Problem},
    },
};

/// A new TOTP secret, pending until confirmed (shown this once).
#[derive(Serialize, ToSchema)]
pub struct EnrolmentView {
    /// The secret in base32, to type into an authenticator by hand.
    secret: String,
    /// `otpauth://totp/Roster:<email>?secret=…&issuer=Roster` (SHA-1, 6 digits, 30 s).
    otpauth_uri: String,
    /// The `otpauth_uri` as a QR code (an SVG document).
    qr_svg: String,
}

impl From<Enrolment> for EnrolmentView {
    fn from(e: Enrolment) -> Self {
        EnrolmentView {
            secret: e.secret,
            otpauth_uri: e.otpauth_uri,
            qr_svg: e.qr_svg,
        }
    }
}

/// Where your second factor stands.
#[derive(Serialize, ToSchema)]
pub struct MfaStatusView {
    enabled: bool,
    /// A secret awaits its first code.
    pending: bool,
    confirmed_at: Option<DateTime<Utc>>,
    recovery_codes_left: u64,
}

impl From<MfaStatus> for MfaStatusView {
    fn from(s: MfaStatus) -> Self {
        MfaStatusView {
            enabled: s.enabled,
            pending: s.pending,
            confirmed_at: s.confirmed_at,
            recovery_codes_left: s.recovery_codes_left,
        }
    }
}

/// A current code from the authenticator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    #[schema(example = "123456", max_length = 64)]
    code: String,
}

/// Exactly one of a current code and a recovery code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorRequest {
    #[schema(example = "123456", max_length = 64)]
    code: Option<String>,
    #[schema(example = "abcd-efgh-ijkl-mnop", max_length = 64)]
    recovery_code: Option<String>,
}

/// One-time recovery codes (shown this once; each works once in place of a code).
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// Your second factor's state.
#[utoipa::path(get, path = "/v1/me/mfa", tag = "me",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = MfaStatusView)))]
pub async fn status(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<axum::Json<MfaStatusView>> {
    Ok(axum::Json(
        state.core.mfa_status(principal.user_id).await?.into(),
    ))
}

/// Start enrolling a TOTP authenticator: a new secret, pending until `confirm` (enrolling
/// again replaces a pending secret).
#[utoipa::path(post, path = "/v1/me/mfa/totp", tag = "me",
    security(("bearer" = [])),
    responses((status = 200, body = EnrolmentView),
        (status = 403, description = "`session_required`: not with an API key", body = Problem),
        (status = 409, description = "`mfa_already_enabled`", body = Problem)))]
pub async fn enrol(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
) -> ApiResult<axum::Json<EnrolmentView>> {
    Ok(axum::Json(
        state.core.enrol_totp(&principal, &meta).await?.into(),
    ))
}

/// Confirm the pending secret with a first code: MFA is on, and the 10 recovery codes are
/// answered, this once.
#[utoipa::path(post, path = "/v1/me/mfa/totp/confirm", tag = "me",
    security(("bearer" = [])), request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes),
        (status = 401, description = "`mfa_code_invalid`", body = Problem),
        (status = 403, description = "`session_required`", body = Problem),
        (status = 409, description = "`mfa_not_pending`: enrol first", body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn confirm(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Json(body): Json<CodeRequest>,
) -> ApiResult<axum::Json<RecoveryCodes>> {
    let recovery_codes = state
        .core
        .confirm_totp(&principal, &body.code, &meta)
        .await?;
    Ok(axum::Json(RecoveryCodes { recovery_codes }))
}

/// Turn MFA off, with a current code or a recovery code: the secret and the recovery codes go.
#[utoipa::path(post, path = "/v1/me/mfa/disable", tag = "me",
    security(("bearer" = [])), request_body = SecondFactorRequest,
    responses((status = 204, description = "MFA is off"),
        (status = 401, description = "`mfa_code_invalid`", body = Problem),
        (status = 403, description = "`session_required`", body = Problem),
        (status = 409, description = "`mfa_not_enabled`", body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn disable(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Json(body): Json<SecondFactorRequest>,
) -> ApiResult<StatusCode> {
    let proof = SecondFactor::from_fields(body.code, body.recovery_code)?;
    state.core.disable_mfa(&principal, proof, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace your recovery codes with 10 new ones, with a current code.
#[utoipa::path(post, path = "/v1/me/mfa/recovery-codes", tag = "me",
    security(("bearer" = [])), request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes),
        (status = 401, description = "`mfa_code_invalid`", body = Problem),
        (status = 403, description = "`session_required`", body = Problem),
        (status = 409, description = "`mfa_not_enabled`", body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn regenerate(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Json(body): Json<CodeRequest>,
) -> ApiResult<axum::Json<RecoveryCodes>> {
    let recovery_codes = state
        .core
        .regenerate_recovery_codes(&principal, &body.code, &meta)
        .await?;
    Ok(axum::Json(RecoveryCodes { recovery_codes }))
}
