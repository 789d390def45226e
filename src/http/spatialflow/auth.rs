//! `/auth/*` and `/public/signup`: what the SDK needs to obtain and use tokens, and accepting
//! an invitation. Sign-in binds the session to the user's primary workspace, so that a removal,
//! downgrade or revoke-all there ends it at once.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    error::{ErrorResponse, SfError, SfResult, ValidationErrorResponse},
    extract::{SfCaller, SfJson, SfMaybePrincipal, SfOptionalJson, SfPrincipal},
    wire::{user_response, UserResponse},
};
use crate::{
    app::AppState,
    domain::{
        invitation::{Acceptance, InvitationRef},
        policy::SPATIALFLOW,
        session::{RequestMeta, SignedIn},
        user::Signup,
        Error,
    },
};

/// `LoginSchema`.
#[derive(Deserialize, ToSchema)]
pub struct LoginSchema {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// `RefreshTokenSchema`: the body itself may be absent.
#[derive(Deserialize, ToSchema)]
pub struct RefreshTokenSchema {
    refresh_token: Option<String>,
}

/// `LoginResponse`.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    access_token: String,
    refresh_token: String,
    /// Always `bearer`.
    token_type: &'static str,
    expires_in: u64,
    user: UserResponse,
}

/// `MessageResponse`.
#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    message: String,
}

impl From<SignedIn> for LoginResponse {
    fn from(s: SignedIn) -> Self {
        LoginResponse {
            user: user_response(&s.caller),
            access_token: s.tokens.access_token,
            refresh_token: s.tokens.refresh_token,
            token_type: "bearer",
            expires_in: s.tokens.expires_in,
        }
    }
}

/// Sign in with email and password (refused, 403, for an account with a second factor).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginSchema,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorResponse),
        (status = 403, description = "`mfa_required`: the account uses two-factor authentication, which this dialect cannot complete", body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse), (status = 429, body = ErrorResponse)))]
pub async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfJson(body): SfJson<LoginSchema>,
) -> SfResult<axum::Json<LoginResponse>> {
    let signed_in = state
        .core
        .login(&body.email, body.password, &SPATIALFLOW, &meta)
        .await?
        .without_second_step()?;
    Ok(axum::Json(signed_in.into()))
}

/// Spend a refresh token for a new pair (bound to the same workspace). The body is optional;
/// without a refresh token the answer is 401.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body(content = Option<RefreshTokenSchema>),
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorResponse),
        (status = 429, body = ErrorResponse)))]
pub async fn refresh(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfOptionalJson(body): SfOptionalJson<RefreshTokenSchema>,
) -> SfResult<axum::Json<LoginResponse>> {
    let token = body
        .and_then(|b| b.refresh_token)
        .ok_or(Error::Unauthenticated)?;
    let signed_in = state.core.refresh(&token, &SPATIALFLOW, &meta).await?;
    Ok(axum::Json(signed_in.into()))
}

/// End the session of this access token.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    security(("JWTBearer" = [])),
    responses((status = 200, body = MessageResponse), (status = 401, body = ErrorResponse)))]
pub async fn logout(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfPrincipal(principal): SfPrincipal,
) -> SfResult<axum::Json<MessageResponse>> {
    if let Some(session) = principal.session_id() {
        state
            .core
            .end_session(principal.user_id, session, "logout", &meta)
            .await?;
    }
    Ok(axum::Json(MessageResponse {
        message: "Successfully logged out".into(),
    }))
}

/// The signed-in user, with their current workspace.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    security(("JWTBearer" = [])),
    responses((status = 200, body = UserResponse), (status = 401, body = ErrorResponse)))]
pub async fn me(SfCaller(caller): SfCaller) -> axum::Json<UserResponse> {
    axum::Json(user_response(&caller))
}

/// `SignupRequest` (the marketing fields are accepted and not kept).
#[derive(Deserialize, ToSchema)]
pub struct SignupRequest {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    /// Accepted for compatibility; the plan of a new workspace is the service's default.
    selected_plan: Option<String>,
    name: Option<String>,
    company: Option<String>,
}

/// What sign-up answers: the account and a token pair.
#[derive(Serialize, ToSchema)]
pub struct SignupResponse {
    message: &'static str,
    user: UserResponse,
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
}

/// The local part of an email, as the name of an account created without one.
fn name_from_email(email: &str) -> String {
    let local = email.trim().split('@').next().unwrap_or("").trim();
    if local.is_empty() {
        "New user".to_owned()
    } else {
        local.chars().take(100).collect()
    }
}

/// Create an account and its personal workspace (the user as owner) and sign in.
#[utoipa::path(post, path = "/api/v1/public/signup", tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = SignupResponse), (status = 400, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse), (status = 429, body = ErrorResponse)))]
pub async fn signup(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfJson(body): SfJson<SignupRequest>,
) -> SfResult<impl IntoResponse> {
    let _ = (&body.selected_plan, &body.company);
    let name = body
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| name_from_email(&body.email));
    let signed_in = state
        .core
        .signup(
            Signup {
                email: body.email,
                password: body.password,
                name,
            },
            &SPATIALFLOW,
            &meta,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(SignupResponse {
            message: "Account created",
            user: user_response(&signed_in.caller),
            access_token: signed_in.tokens.access_token,
            refresh_token: signed_in.tokens.refresh_token,
            token_type: "bearer",
            expires_in: signed_in.tokens.expires_in,
        }),
    ))
}

/// `AcceptInviteSchema`.
#[derive(Deserialize, ToSchema)]
pub struct AcceptInviteSchema {
    token: String,
    invite_id: String,
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<SecretString>,
}

/// `AcceptInvitePasswordlessSchema`.
#[derive(Deserialize, ToSchema)]
pub struct AcceptInvitePasswordlessSchema {
    token: String,
    invite_id: String,
}

/// What accepting answers: a token pair bound to the workspace joined.
#[derive(Serialize, ToSchema)]
pub struct AcceptInviteResponse {
    message: &'static str,
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
    user: UserResponse,
    workspace_id: String,
    role: &'static str,
}

/// Accepts with `how` after checking that `invite_id` is the token's invitation, then signs
/// in with a session bound to the workspace joined (which is now the primary one).
async fn accept(
    state: &AppState,
    token: &str,
    invite_id: &str,
    how: impl FnOnce(bool, String) -> SfResult<Acceptance>,
    meta: &RequestMeta,
) -> SfResult<axum::Json<AcceptInviteResponse>> {
    let preview = state.core.preview(token).await?;
    if preview.invitation.id.to_string() != invite_id.trim().to_ascii_lowercase() {
        return Err(Error::NotFound.into());
    }
    let accepted = state
        .core
        .accept(
            InvitationRef::Token(token),
            how(
                preview.account_exists,
                name_from_email(&preview.invitation.email),
            )?,
            meta,
        )
        .await?;
    if let Some(unbound) = accepted.signed_in {
        // Replaced by the bound session below.
        state
            .core
            .end_session(
                accepted.user_id,
                unbound.tokens.session_id,
                "replaced",
                meta,
            )
            .await?;
    }
    let bound = state
        .core
        .start_session(accepted.user_id, Some(accepted.workspace_id), meta)
        .await?;
    Ok(axum::Json(AcceptInviteResponse {
        message: "Invitation accepted",
        user: user_response(&bound.caller),
        access_token: bound.tokens.access_token,
        refresh_token: bound.tokens.refresh_token,
        token_type: "bearer",
        expires_in: bound.tokens.expires_in,
        workspace_id: accepted.workspace_id.to_string(),
        role: super::wire::role_word(accepted.role),
    }))
}

/// Accept an invitation: signed in (the account's email must be the invited one, else 409
/// `INVITE_EMAIL_MISMATCH`), with the existing account's password, or creating the account
/// with `password`.
#[utoipa::path(post, path = "/api/v1/auth/accept-invite", tag = "auth",
    request_body = AcceptInviteSchema,
    responses((status = 200, body = AcceptInviteResponse),
        (status = 400, description = "used, revoked or expired", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "`INVITE_EMAIL_MISMATCH`", body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn accept_invite(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfMaybePrincipal(principal): SfMaybePrincipal,
    SfJson(body): SfJson<AcceptInviteSchema>,
) -> SfResult<axum::Json<AcceptInviteResponse>> {
    let password = body.password;
    accept(
        &state,
        &body.token,
        &body.invite_id,
        move |account_exists, name| {
            Ok(match (principal, password) {
                (Some(p), _) => Acceptance::SignedIn(p),
                (None, Some(pw)) if account_exists => Acceptance::Password(pw),
                (None, Some(pw)) => Acceptance::NewAccount { name, password: pw },
                (None, None) => {
                    return Err(SfError::invalid(
                        "missing",
                        &["body", "password"],
                        "a password is required unless signed in",
                    ))
                }
            })
        },
        &meta,
    )
    .await
}

/// Accept an invitation without a password: creates the invited account with none, or
/// accepts for an existing account that has none. An account with a password is refused.
#[utoipa::path(post, path = "/api/v1/auth/accept-invite/passwordless", tag = "auth",
    request_body = AcceptInvitePasswordlessSchema,
    responses((status = 200, body = AcceptInviteResponse),
        (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "`INVITE_EMAIL_MISMATCH`", body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn accept_invite_passwordless(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfMaybePrincipal(principal): SfMaybePrincipal,
    SfJson(body): SfJson<AcceptInvitePasswordlessSchema>,
) -> SfResult<axum::Json<AcceptInviteResponse>> {
    accept(
        &state,
        &body.token,
        &body.invite_id,
        move |_, name| {
            Ok(match principal {
                Some(p) => Acceptance::SignedIn(p),
                None => Acceptance::Passwordless { name },
            })
        },
        &meta,
    )
    .await
}

/// `GET /auth/health`: the service can reach its database with every migration applied (503
/// otherwise, like `/readyz`).
#[utoipa::path(get, path = "/api/v1/auth/health", tag = "auth",
    responses((status = 200, body = HealthResponse), (status = 503, body = ErrorResponse)))]
pub async fn health(State(state): State<AppState>) -> SfResult<axum::Json<HealthResponse>> {
    match state.core.store.ready().await {
        Ok(true) => Ok(axum::Json(HealthResponse {
            status: "healthy",
            service: "authentication",
        })),
        Ok(false) => Err(Error::Unavailable.into()),
        Err(e) => {
            tracing::warn!(error = %e, "auth health check failed");
            Err(Error::Unavailable.into())
        }
    }
}

/// What `/auth/health` answers.
#[derive(Serialize, ToSchema)]
pub struct HealthResponse {
    /// Always `healthy` (an unhealthy service answers 503).
    status: &'static str,
    service: &'static str,
}

/// The deprecated `POST /auth/register`: the SDK declares no success for it, only `410`, so it
/// is gone here too, whatever the body (sign up with `/public/signup`). Nothing is created.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body(content = Option<Object>, description = "`RegisterSchema`; not read"),
    responses((status = 410, description = "`ENDPOINT_DEPRECATED`", body = ErrorResponse)))]
pub async fn register() -> SfError {
    SfError::Status(
        StatusCode::GONE,
        "endpoint_deprecated",
        "This endpoint is deprecated; sign up with POST /api/v1/public/signup.".into(),
    )
}

/// `ChangePasswordSchema`.
#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordSchema {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 256)]
    new_password: SecretString,
}

/// What a password change answers.
#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    message: &'static str,
    /// How many other sessions ended.
    sessions_ended: u64,
}

/// Change the caller's password. The current one is checked like a sign-in and counted against
/// its limit; a wrong one is 400 `INVALID_CURRENT_PASSWORD` (the SDK declares 400 here, and a
/// 401 would read as an expired token). Every other session ends at once; the caller's stays.
#[utoipa::path(post, path = "/api/v1/auth/change-password", tag = "auth",
    security(("JWTBearer" = [])), request_body = ChangePasswordSchema,
    responses((status = 200, body = PasswordChanged),
        (status = 400, description = "`INVALID_CURRENT_PASSWORD`", body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 422, body = ValidationErrorResponse),
        (status = 429, body = ErrorResponse)))]
pub async fn change_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfPrincipal(principal): SfPrincipal,
    SfJson(body): SfJson<ChangePasswordSchema>,
) -> SfResult<axum::Json<PasswordChanged>> {
    let sessions_ended = state
        .core
        .change_password(
            principal.user_id,
            principal.session_id(),
            body.current_password,
            body.new_password,
            &meta,
        )
        .await
        .map_err(|e| match e {
            Error::InvalidCredentials => SfError::Status(
                StatusCode::BAD_REQUEST,
                "invalid_current_password",
                "The current password is incorrect.".into(),
            ),
            other => other.into(),
        })?;
    Ok(axum::Json(PasswordChanged {
        message: "Password changed",
        sessions_ended,
    }))
}
