//! `/workspaces/`: the caller's current workspace (read, PUT, PATCH), revoking every session
//! of it, and the web workspace picker (`available`, `select`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    error::{ErrorResponse, SfResult, ValidationErrorResponse},
    extract::{SfAccess, SfBearer, SfCaller, SfJson, SfPrincipal},
    wire::{path_id, role_word, user_response, UserResponse},
};
use crate::{
    app::AppState,
    domain::{
        paging::PageRequest,
        policy::SPATIALFLOW,
        role::Role,
        session::RequestMeta,
        workspace::{Workspace, WorkspacePatch, WorkspaceRef, WorkspaceSelector},
        Error,
    },
    http::native::nullable::nullable,
};

/// `WorkspaceOut`.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceOut {
    id: String,
    name: String,
    slug: String,
    logo_url: Option<String>,
    website: Option<String>,
    billing_email: Option<String>,
    description: Option<String>,
    timezone: Option<String>,
    support_email: Option<String>,
    slack_connect_url: Option<String>,
    unit_system: Option<String>,
    lane: Option<String>,
    #[schema(value_type = Option<Object>)]
    map_home: Option<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Workspace> for WorkspaceOut {
    fn from(w: Workspace) -> Self {
        let p = w.profile;
        WorkspaceOut {
            id: w.id.to_string(),
            name: w.name,
            slug: w.slug,
            logo_url: p.logo_url,
            website: p.website,
            billing_email: p.billing_email,
            description: p.description,
            timezone: p.timezone,
            support_email: p.support_email,
            slack_connect_url: p.slack_connect_url,
            unit_system: p.unit_system,
            lane: p.lane,
            map_home: p.map_home,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// `WorkspaceIn` (PUT): `name` is required; every other field present is written (`null`
/// clears it), every absent one is left alone.
#[derive(Deserialize, ToSchema)]
pub struct WorkspaceIn {
    #[schema(min_length = 1, max_length = 255, pattern = "\\S")]
    name: String,
    #[serde(flatten)]
    rest: WorkspacePatchIn,
}

/// `WorkspacePatchIn` (PATCH): every field optional; `null` clears.
#[derive(Deserialize, ToSchema, Default)]
pub struct WorkspacePatchIn {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255, pattern = "\\S")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    logo_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    website: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    billing_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    timezone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    support_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    slack_connect_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "^(imperial|metric)$")]
    unit_system: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    map_home: Option<Option<Value>>,
}

impl WorkspacePatchIn {
    /// The domain patch. A `null` name leaves the name alone (a workspace always has one).
    fn into_patch(self) -> WorkspacePatch {
        WorkspacePatch {
            name: self.name.flatten(),
            logo_url: self.logo_url,
            website: self.website,
            billing_email: self.billing_email,
            description: self.description,
            timezone: self.timezone,
            support_email: self.support_email,
            slack_connect_url: self.slack_connect_url,
            unit_system: self.unit_system,
            map_home: self.map_home,
            ..WorkspacePatch::default()
        }
    }
}

/// The caller's current workspace.
#[utoipa::path(get, path = "/api/v1/workspaces/", tag = "workspaces",
    security(("JWTBearer" = [])),
    responses((status = 200, body = WorkspaceOut), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn get_workspace(
    axum::extract::State(state): axum::extract::State<AppState>,
    SfAccess(access): SfAccess,
) -> SfResult<axum::Json<WorkspaceOut>> {
    Ok(axum::Json(state.core.workspace(&access)?.into()))
}

/// Update the current workspace (owners and managers).
#[utoipa::path(put, path = "/api/v1/workspaces/", tag = "workspaces",
    security(("JWTBearer" = [])), request_body = WorkspaceIn,
    responses((status = 200, body = WorkspaceOut), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn update_workspace(
    axum::extract::State(state): axum::extract::State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    SfJson(body): SfJson<WorkspaceIn>,
) -> SfResult<axum::Json<WorkspaceOut>> {
    let mut patch = body.rest.into_patch();
    patch.name = Some(body.name);
    let ws = state.core.update_workspace(&access, patch, &meta).await?;
    Ok(axum::Json(ws.into()))
}

/// Change some fields of the current workspace (owners and managers); `{}` changes nothing.
#[utoipa::path(patch, path = "/api/v1/workspaces/", tag = "workspaces",
    security(("JWTBearer" = [])), request_body = WorkspacePatchIn,
    responses((status = 200, body = WorkspaceOut), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn patch_workspace(
    axum::extract::State(state): axum::extract::State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    SfJson(body): SfJson<WorkspacePatchIn>,
) -> SfResult<axum::Json<WorkspaceOut>> {
    let ws = state
        .core
        .update_workspace(&access, body.into_patch(), &meta)
        .await?;
    Ok(axum::Json(ws.into()))
}

/// `UsageResponse`: the current UTC day, from midnight until now.
#[derive(Serialize, ToSchema)]
pub struct UsageResponse {
    location_events: i64,
    action_deliveries: i64,
    /// location events + 0.5 × action deliveries.
    event_units: f64,
    /// The plan's name.
    tier: String,
    /// The plan's monthly allowance in event units; null: unlimited.
    tier_limit: Option<u64>,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
}

/// Usage of the current workspace today (owners and managers), from the hourly rollups.
#[utoipa::path(get, path = "/api/v1/workspaces/usage", tag = "workspaces",
    security(("JWTBearer" = [])),
    responses((status = 200, body = UsageResponse), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn get_usage(
    axum::extract::State(state): axum::extract::State<AppState>,
    SfAccess(access): SfAccess,
) -> SfResult<axum::Json<UsageResponse>> {
    let today = state.core.usage_today(&access).await?;
    Ok(axum::Json(UsageResponse {
        location_events: today.location_events,
        action_deliveries: today.action_deliveries,
        event_units: today.units.as_f64(),
        tier: today.tier,
        tier_limit: today.tier_limit,
        period_start: today.period_start,
        period_end: today.period_end,
    }))
}

/// `RevokeAllSessionsOut`.
#[derive(Serialize, ToSchema)]
pub struct RevokeAllSessionsOut {
    message: String,
    members_affected: u64,
    sessions_revoked: u64,
    workspace_id: String,
}

/// End every session of every member, the caller's included (owner only; once a minute).
#[utoipa::path(post, path = "/api/v1/workspaces/revoke-all-sessions", tag = "workspaces",
    security(("JWTBearer" = [])),
    responses((status = 200, body = RevokeAllSessionsOut), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 429, body = ErrorResponse, headers(("Retry-After" = u64)))))]
pub async fn revoke_all_sessions(
    axum::extract::State(state): axum::extract::State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
) -> SfResult<axum::Json<RevokeAllSessionsOut>> {
    let revoked = state
        .core
        .revoke_workspace_sessions(&access, &SPATIALFLOW, &meta)
        .await?;
    Ok(axum::Json(RevokeAllSessionsOut {
        message: format!("Revoked {revoked} sessions; every member must sign in again"),
        members_affected: access.workspace.member_count,
        sessions_revoked: revoked,
        workspace_id: access.workspace.id.to_string(),
    }))
}

/// `MobileWorkspaceRow`.
#[derive(Serialize, ToSchema, Clone)]
pub struct MobileWorkspaceRow {
    id: String,
    name: String,
    slug: String,
    role: &'static str,
    logo_url: Option<String>,
    /// `UTC` when the workspace has none (the SDK requires a value here).
    timezone: String,
    /// `imperial` when the workspace has none (the SDK's own default).
    unit_system: String,
    is_selected: bool,
    member_count: u64,
    tracking_consent_required: bool,
}

/// `MobileWorkspaceBootstrapOut`.
#[derive(Serialize, ToSchema)]
pub struct MobileWorkspaceBootstrapOut {
    eligible_workspaces: Vec<MobileWorkspaceRow>,
    eligible_count: u64,
    selected_workspace_id: Option<String>,
    selected_workspace: Option<MobileWorkspaceRow>,
    skip_picker: bool,
    selection_required: bool,
}

/// The most workspaces listed by the picker.
const PICKER_MAX: u32 = 200;

async fn bootstrap(
    state: &AppState,
    principal: &crate::domain::auth::Principal,
    selected: Option<Uuid>,
) -> SfResult<MobileWorkspaceBootstrapOut> {
    let mine = state
        .core
        .my_workspaces(principal, &PageRequest::first(PICKER_MAX))
        .await?;
    let rows: Vec<MobileWorkspaceRow> = mine
        .data
        .into_iter()
        .map(|(w, role): (Workspace, Role)| MobileWorkspaceRow {
            is_selected: Some(w.id) == selected,
            id: w.id.to_string(),
            name: w.name,
            slug: w.slug,
            role: role_word(role),
            logo_url: w.profile.logo_url,
            timezone: w.profile.timezone.unwrap_or_else(|| "UTC".into()),
            unit_system: w.profile.unit_system.unwrap_or_else(|| "imperial".into()),
            member_count: w.member_count,
            tracking_consent_required: false,
        })
        .collect();
    let selected_row = rows.iter().find(|r| r.is_selected).cloned();
    Ok(MobileWorkspaceBootstrapOut {
        eligible_count: mine.total,
        skip_picker: mine.total == 1,
        selection_required: selected_row.is_none() && mine.total > 1,
        selected_workspace_id: selected_row.as_ref().map(|r| r.id.clone()),
        selected_workspace: selected_row,
        eligible_workspaces: rows,
    })
}

/// Every workspace the signed-in user could switch to.
#[utoipa::path(get, path = "/api/v1/workspaces/available", tag = "workspaces",
    security(("JWTBearer" = [])),
    responses((status = 200, body = MobileWorkspaceBootstrapOut), (status = 401, body = ErrorResponse)))]
pub async fn available(
    axum::extract::State(state): axum::extract::State<AppState>,
    SfCaller(caller): SfCaller,
) -> SfResult<axum::Json<MobileWorkspaceBootstrapOut>> {
    // The workspace the caller currently sees: their session's, otherwise their primary one.
    let selected = caller.membership.as_ref().map(|(w, _)| w.id);
    Ok(axum::Json(
        bootstrap(&state, &caller.principal, selected).await?,
    ))
}

/// `MobileWorkspaceSelectIn`.
#[derive(Deserialize, ToSchema)]
pub struct MobileWorkspaceSelectIn {
    workspace_id: String,
}

/// `MobileWorkspaceSelectionOut`: the picker state plus tokens bound to the chosen workspace.
#[derive(Serialize, ToSchema)]
pub struct MobileWorkspaceSelectionOut {
    #[serde(flatten)]
    bootstrap: MobileWorkspaceBootstrapOut,
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
    user: UserResponse,
}

/// Switch to one of the caller's workspaces: a new session bound to it. A workspace the caller
/// is not a member of is 404.
#[utoipa::path(post, path = "/api/v1/workspaces/select", tag = "workspaces",
    security(("JWTBearer" = [])), request_body = MobileWorkspaceSelectIn,
    responses((status = 200, body = MobileWorkspaceSelectionOut), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 422, body = ValidationErrorResponse)))]
pub async fn select(
    axum::extract::State(state): axum::extract::State<AppState>,
    meta: RequestMeta,
    SfBearer(token): SfBearer,
    SfPrincipal(principal): SfPrincipal,
    SfJson(body): SfJson<MobileWorkspaceSelectIn>,
) -> SfResult<axum::Json<MobileWorkspaceSelectionOut>> {
    let id = path_id(&body.workspace_id)?;
    let access = state
        .core
        .authorize(&token, &WorkspaceSelector::Path(WorkspaceRef::Id(id)))
        .await?;
    if principal.session_id().is_none() {
        // Only a signed-in session may pick a workspace for its tokens.
        return Err(Error::Unauthenticated.into());
    }
    let bound = state
        .core
        .start_session(principal.user_id, Some(access.workspace.id), &meta)
        .await?;
    let picker = bootstrap(&state, &principal, Some(access.workspace.id)).await?;
    Ok(axum::Json(MobileWorkspaceSelectionOut {
        bootstrap: picker,
        user: user_response(&bound.caller),
        access_token: bound.tokens.access_token,
        refresh_token: bound.tokens.refresh_token,
        token_type: "bearer",
        expires_in: bound.tokens.expires_in,
    }))
}
