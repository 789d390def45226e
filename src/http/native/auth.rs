//! `/v1/auth`: sign-up, sign-in (with its second step for accounts with MFA), refresh and
//! sign-out.

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::IntoResponse,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::me::UserView;
use crate::{
    app::AppState,
    domain::{
        auth::Principal,
        mfa::{Login, SecondFactor},
        policy::NATIVE,
        session::RequestMeta,
        session::TokenPair,
        user::Signup,
        Error,
    },
    http::{
        extract::Json,
        problem::{ApiResult, Problem},
    },
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(example = "ada@example.com")]
    email: String,
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 256)]
    password: SecretString,
    #[schema(example = "Ada Lovelace")]
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// An access token and a refresh token.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    access_token: String,
    refresh_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// The session these tokens belong to.
    session_id: uuid::Uuid,
}

impl From<TokenPair> for TokenResponse {
    fn from(p: TokenPair) -> Self {
        TokenResponse {
            access_token: p.access_token,
            refresh_token: p.refresh_token,
            token_type: "Bearer",
            expires_in: p.expires_in,
            session_id: p.session_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SignupResponse {
    user: UserView,
    #[serde(flatten)]
    tokens: TokenResponse,
}

/// Create an account (and its personal workspace, with you as owner) and sign in.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 201, body = SignupResponse, headers(("Location" = String))),
        (status = 409, description = "`email_taken`", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    meta: RequestMeta,
    Json(body): Json<SignupRequest>,
) -> ApiResult<impl IntoResponse> {
    let signed_in = state
        .core
        .signup(
            Signup {
                email: body.email,
                password: body.password,
                name: body.name,
            },
            &NATIVE,
            &meta,
        )
        .await?;
    let body = SignupResponse {
        user: signed_in.caller.user.into(),
        tokens: signed_in.tokens.into(),
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, "/v1/me")],
        axum::Json(body),
    ))
}

/// A sign-in that awaits its second factor (the account has MFA): no tokens yet.
#[derive(Serialize, ToSchema)]
pub struct MfaRequiredResponse {
    /// Always `true`.
    mfa_required: bool,
    /// Give it to `POST /v1/auth/mfa` with a code; works once, for 5 minutes.
    mfa_ticket: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

/// Sign in with email and password. An account with two-factor authentication gets `202`
/// with an MFA ticket instead of tokens; `POST /v1/auth/mfa` completes the sign-in.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 202, description = "The account has MFA: complete with `POST /v1/auth/mfa`", body = MfaRequiredResponse),
        (status = 401, description = "`invalid_credentials`, the same for an unknown email and a wrong password", body = Problem),
    ))]
pub async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    Json(body): Json<LoginRequest>,
) -> ApiResult<axum::response::Response> {
    let login = state
        .core
        .login(&body.email, body.password, &NATIVE, &meta)
        .await?;
    Ok(match login {
        Login::SignedIn(signed_in) => {
            axum::Json(TokenResponse::from(signed_in.tokens)).into_response()
        }
        Login::MfaRequired(challenge) => (
            StatusCode::ACCEPTED,
            axum::Json(MfaRequiredResponse {
                mfa_required: true,
                mfa_ticket: challenge.ticket,
                expires_at: challenge.expires_at,
            }),
        )
            .into_response(),
    })
}

/// The second step of a sign-in: the ticket and exactly one of `code` and `recovery_code`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaLoginRequest {
    /// The `mfa_ticket` the sign-in answered.
    #[schema(max_length = 100)]
    ticket: String,
    /// The 6-digit code the authenticator shows.
    #[schema(example = "123456", max_length = 64)]
    code: Option<String>,
    /// One of the recovery codes (each works once).
    #[schema(example = "abcd-efgh-ijkl-mnop", max_length = 64)]
    recovery_code: Option<String>,
}

/// Complete a sign-in with a second factor: answers what a sign-in without MFA answers. A
/// code works once; a ticket closes after 5 wrong codes, and 10 wrong codes lock the account's
/// second step for up to 15 minutes (429).
#[utoipa::path(post, path = "/v1/auth/mfa", tag = "auth",
    request_body = MfaLoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "`mfa_ticket_invalid` (unknown, expired, used or closed ticket: sign in again); `mfa_code_invalid` (wrong or already used code)", body = Problem),
        (status = 422, body = Problem),
        (status = 429, description = "Too many wrong codes", body = Problem),
    ))]
pub async fn complete_mfa(
    State(state): State<AppState>,
    meta: RequestMeta,
    Json(body): Json<MfaLoginRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let proof = SecondFactor::from_fields(body.code, body.recovery_code)?;
    let signed_in = state.core.complete_mfa(&body.ticket, proof, &meta).await?;
    Ok(axum::Json(signed_in.tokens.into()))
}

/// Spend a refresh token for a new pair. Presenting a spent refresh token ends its session.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, body = Problem),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    meta: RequestMeta,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let signed_in = state
        .core
        .refresh(&body.refresh_token, &NATIVE, &meta)
        .await?;
    Ok(axum::Json(signed_in.tokens.into()))
}

/// End the current session: its access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session is over"),
        (status = 401, body = Problem),
        (status = 422, description = "`not_a_session`: an API key has no session to end", body = Problem),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
) -> ApiResult<StatusCode> {
    let session_id = principal.session_id().ok_or_else(|| {
        Error::invalid(
            "authorization",
            "not_a_session",
            "logout ends a session; an API key is revoked with DELETE /v1/me/api-keys/{id}",
        )
    })?;
    state
        .core
        .end_session(principal.user_id, session_id, "logout", &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
