//! `/v1/me`: the caller's profile and sessions.

use axum::{extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    app::AppState,
    domain::{
        auth::Principal, session::RequestMeta, session::Session, user::ProfilePatch, user::User,
        Error,
    },
    http::{
        extract::{Json, Path, Query},
        problem::{ApiResult, Problem},
    },
};

/// A user account.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    id: Uuid,
    email: String,
    name: String,
    email_verified: bool,
    /// A new address waiting to be verified (`PATCH /v1/me` with `email`); the account keeps
    /// `email` until the link sent there is used. Only shown on `/v1/me`.
    pending_email: Option<String>,
    /// Created at sign-up; cannot be deleted.
    personal_workspace_id: Option<Uuid>,
    /// What single-workspace clients see as "my workspace".
    primary_workspace_id: Option<Uuid>,
    photo_url: Option<String>,
    /// When onboarding was completed (`onboarded: true`).
    onboarded_at: Option<DateTime<Utc>>,
    product_updates_subscribed: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            email: u.email,
            name: u.name,
            email_verified: u.email_verified,
            pending_email: None,
            personal_workspace_id: u.personal_workspace_id,
            primary_workspace_id: u.primary_workspace_id,
            photo_url: u.photo_url,
            onboarded_at: u.onboarded_at,
            product_updates_subscribed: u.product_updates_subscribed,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

impl UserView {
    fn with_pending_email(mut self, pending: Option<String>) -> Self {
        self.pending_email = pending;
        self
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    /// A new address: sent with `current_password` and no other field. The account keeps its
    /// address until the link emailed to the new one is used; the old one gets a notice.
    #[schema(example = "ada@example.com")]
    email: Option<String>,
    /// Your password, required with `email`.
    #[schema(value_type = Option<String>, format = Password)]
    current_password: Option<secrecy::SecretString>,
    #[schema(max_length = 200)]
    name: Option<String>,
    /// An http(s) URL; `null` removes it.
    #[serde(default, deserialize_with = "super::nullable::nullable")]
    #[schema(value_type = Option<String>, max_length = 2048)]
    photo_url: Option<Option<String>>,
    /// `true` records now as the onboarding time (once); `false` clears it.
    onboarded: Option<bool>,
    product_updates_subscribed: Option<bool>,
}

/// A session (one sign-in).
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    id: Uuid,
    /// True for the session making this request.
    current: bool,
    workspace_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
}

/// A list: every item fits on one page.
#[derive(Serialize, ToSchema)]
pub struct SessionList {
    data: Vec<SessionView>,
    next_cursor: Option<String>,
    total: u64,
}

fn session_view(s: Session, current: Option<Uuid>) -> SessionView {
    SessionView {
        current: Some(s.id) == current,
        id: s.id,
        workspace_id: s.workspace_id,
        created_at: s.created_at,
        last_used_at: s.last_used_at,
        expires_at: s.expires_at,
        ip: s.ip,
        user_agent: s.user_agent,
    }
}

/// Your account.
#[utoipa::path(get, path = "/v1/me", tag = "me", security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem)))]
pub async fn get_me(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<axum::Json<UserView>> {
    let me = UserView::from(state.core.me(principal.user_id).await?);
    let pending = state.core.pending_email(principal.user_id).await?;
    Ok(axum::Json(me.with_pending_email(pending)))
}

/// Change your profile, or (alone, with `current_password`) ask to change your address.
#[utoipa::path(patch, path = "/v1/me", tag = "me", security(("bearer" = []), ("api_key" = [])),
    request_body = UpdateMe,
    responses((status = 200, body = UserView),
        (status = 401, description = "`invalid_credentials`: `current_password` is wrong", body = Problem),
        (status = 409, description = "`email_taken`", body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Json(body): Json<UpdateMe>,
) -> ApiResult<axum::Json<UserView>> {
    if let Some(email) = body.email {
        let alone = body.name.is_none()
            && body.photo_url.is_none()
            && body.onboarded.is_none()
            && body.product_updates_subscribed.is_none();
        let (Some(password), true) = (body.current_password, alone) else {
            return Err(Error::invalid(
                "current_password",
                "required",
                "a change of email comes with current_password and no other field",
            )
            .into());
        };
        let me = state
            .core
            .request_email_change(principal.user_id, &email, password, &meta)
            .await?;
        let pending = state.core.pending_email(principal.user_id).await?;
        return Ok(axum::Json(UserView::from(me).with_pending_email(pending)));
    }
    if body.current_password.is_some() {
        return Err(Error::invalid(
            "current_password",
            "unexpected",
            "current_password goes with email",
        )
        .into());
    }
    let patch = ProfilePatch {
        name: body.name,
        photo_url: body.photo_url,
        onboarded: body.onboarded,
        product_updates_subscribed: body.product_updates_subscribed,
    };
    let user = state
        .core
        .update_me(principal.user_id, patch, &meta)
        .await?;
    let pending = state.core.pending_email(principal.user_id).await?;
    Ok(axum::Json(UserView::from(user).with_pending_email(pending)))
}

/// Delete your account. Workspaces where you are the only member go with it; while you are the
/// last owner of a workspace with other members, it is refused.
#[utoipa::path(delete, path = "/v1/me", tag = "me", security(("bearer" = []), ("api_key" = [])),
    responses((status = 204), (status = 401, body = Problem),
        (status = 409, description = "`last_owner`", body = Problem)))]
pub async fn delete_me(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
) -> ApiResult<StatusCode> {
    state.core.delete_account(principal.user_id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Your active sessions, newest first.
#[utoipa::path(get, path = "/v1/me/sessions", tag = "me", security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = Problem)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<axum::Json<SessionList>> {
    let current = principal.session_id();
    let data: Vec<SessionView> = state
        .core
        .sessions(principal.user_id)
        .await?
        .into_iter()
        .map(|s| session_view(s, current))
        .collect();
    Ok(axum::Json(SessionList {
        total: data.len() as u64,
        data,
        next_cursor: None,
    }))
}

/// End one of your sessions (its tokens stop working at once).
#[utoipa::path(delete, path = "/v1/me/sessions/{id}", tag = "me",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn end_session(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state
        .core
        .end_session(principal.user_id, id, "ended_by_user", &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(value_type = String, format = Password)]
    current_password: secrecy::SecretString,
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 256)]
    new_password: secrecy::SecretString,
}

/// How many sessions a change ended.
#[derive(Serialize, ToSchema)]
pub struct SessionsEnded {
    sessions_ended: u64,
}

/// Change your password. The current one is checked like a sign-in (a wrong one is 401
/// `invalid_credentials` and counts against the sign-in limit); every other session of yours
/// ends at once, the one making the call stays.
#[utoipa::path(post, path = "/v1/me/password", tag = "me",
    security(("bearer" = []), ("api_key" = [])), request_body = ChangePassword,
    responses((status = 200, body = SessionsEnded),
        (status = 401, description = "`invalid_credentials`: the current password is wrong", body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Json(body): Json<ChangePassword>,
) -> ApiResult<axum::Json<SessionsEnded>> {
    let sessions_ended = state
        .core
        .change_password(
            principal.user_id,
            principal.session_id(),
            body.current_password,
            body.new_password,
            &meta,
        )
        .await?;
    Ok(axum::Json(SessionsEnded { sessions_ended }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevokeAllParams {
    /// Keep the session making the call (default `false`: sign out everywhere, here too).
    keep_current: Option<bool>,
}

/// Sign out everywhere: every session of yours ends at once, on every replica (each request
/// reads its session), optionally but the one making the call.
#[utoipa::path(post, path = "/v1/me/sessions/revoke-all", tag = "me",
    security(("bearer" = []), ("api_key" = [])), params(RevokeAllParams),
    responses((status = 200, body = SessionsEnded)))]
pub async fn revoke_all_sessions(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Query(q): Query<RevokeAllParams>,
) -> ApiResult<axum::Json<SessionsEnded>> {
    let keep = principal
        .session_id()
        .filter(|_| q.keep_current.unwrap_or(false));
    let sessions_ended = state
        .core
        .end_all_sessions(principal.user_id, keep, &meta)
        .await?;
    Ok(axum::Json(SessionsEnded { sessions_ended }))
}
