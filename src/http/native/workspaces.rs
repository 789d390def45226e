//! `/v1/workspaces`: list mine, create, read, update, delete, leave, revoke every session.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::created;
use super::nullable::nullable;
use crate::{
    app::AppState,
    domain::{
        auth::Principal,
        paging::PageRequest,
        policy::NATIVE,
        role::Role,
        session::RequestMeta,
        workspace::{Access, NewWorkspaceInput, Workspace, WorkspacePatch},
        Error,
    },
    http::{
        extract::{Json, Query},
        problem::{ApiResult, Problem},
    },
};

/// A workspace, with the caller's role in it.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceView {
    id: Uuid,
    slug: String,
    name: String,
    /// Created at sign-up for its owner; cannot be deleted.
    is_personal: bool,
    plan: String,
    member_count: u64,
    created_by: Option<Uuid>,
    /// The caller's role.
    my_role: Role,
    logo_url: Option<String>,
    description: Option<String>,
    website: Option<String>,
    timezone: Option<String>,
    billing_email: Option<String>,
    support_email: Option<String>,
    /// `imperial` or `metric`.
    unit_system: Option<String>,
    slack_connect_url: Option<String>,
    lane: Option<String>,
    /// A free-form JSON object.
    #[schema(value_type = Option<Object>)]
    map_home: Option<Value>,
    /// `NORMAL`, `NOUPLOAD` or `BLUR`.
    world_video_mode: Option<String>,
    raw_file_downloads: bool,
    /// Members without a confirmed second factor get `403 mfa_required` on this workspace.
    require_mfa: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub fn view(ws: Workspace, my_role: Role) -> WorkspaceView {
    let p = ws.profile;
    WorkspaceView {
        id: ws.id,
        slug: ws.slug,
        name: ws.name,
        is_personal: ws.is_personal,
        plan: ws.plan,
        member_count: ws.member_count,
        created_by: ws.created_by,
        my_role,
        logo_url: p.logo_url,
        description: p.description,
        website: p.website,
        timezone: p.timezone,
        billing_email: p.billing_email,
        support_email: p.support_email,
        unit_system: p.unit_system,
        slack_connect_url: p.slack_connect_url,
        lane: p.lane,
        map_home: p.map_home,
        world_video_mode: p.world_video_mode,
        raw_file_downloads: p.raw_file_downloads,
        require_mfa: ws.require_mfa,
        created_at: ws.created_at,
        updated_at: ws.updated_at,
    }
}

#[derive(Serialize, ToSchema)]
pub struct WorkspaceList {
    data: Vec<WorkspaceView>,
    next_cursor: Option<String>,
    total: u64,
}

/// A workspace's writable fields. On update, an absent field is left alone and `null` clears it.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceFields {
    /// Required when creating.
    #[schema(max_length = 255, example = "Acme Field Ops")]
    name: Option<String>,
    /// Derived from the name when absent at creation.
    #[schema(max_length = 63, example = "acme-field-ops")]
    slug: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2048)]
    logo_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 5000)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2048)]
    website: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 50)]
    timezone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Email)]
    billing_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Email)]
    support_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "metric")]
    unit_system: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2048)]
    slack_connect_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 50)]
    lane: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    map_home: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "NORMAL")]
    world_video_mode: Option<Option<String>>,
    raw_file_downloads: Option<bool>,
    /// Require a second factor of every member (owner only; an owner without MFA of their own
    /// cannot turn it on: 409 `mfa_required`).
    require_mfa: Option<bool>,
}

/// The body of `POST /v1/workspaces`: a name, and any other writable field. (Only its schema is
/// used: the body is read as [`WorkspaceFields`], whose refusal of a missing name is the
/// domain's.)
#[derive(Deserialize, ToSchema)]
#[allow(dead_code, reason = "only its schema is used")]
pub struct NewWorkspace {
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "\\S",
        example = "Acme Field Ops"
    )]
    name: String,
    #[serde(flatten)]
    rest: WorkspaceFields,
}

impl WorkspaceFields {
    fn into_patch(self) -> WorkspacePatch {
        WorkspacePatch {
            name: self.name,
            slug: self.slug,
            logo_url: self.logo_url,
            description: self.description,
            website: self.website,
            timezone: self.timezone,
            billing_email: self.billing_email,
            support_email: self.support_email,
            unit_system: self.unit_system,
            slack_connect_url: self.slack_connect_url,
            lane: self.lane,
            map_home: self.map_home,
            world_video_mode: self.world_video_mode,
            raw_file_downloads: self.raw_file_downloads,
            require_mfa: self.require_mfa,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 200; 50 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RevokedSessions {
    /// How many sessions were ended.
    sessions_ended: u64,
}

/// The workspaces you belong to, with your role in each.
#[utoipa::path(get, path = "/v1/workspaces", tag = "workspaces",
    security(("bearer" = []), ("api_key" = [])), params(PageQuery),
    responses((status = 200, body = WorkspaceList), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<PageQuery>,
) -> ApiResult<axum::Json<WorkspaceList>> {
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let found = state.core.my_workspaces(&principal, &page).await?;
    Ok(axum::Json(WorkspaceList {
        next_cursor: found.next_cursor.map(|c| c.encode()),
        total: found.total,
        data: found
            .data
            .into_iter()
            .map(|(ws, role)| view(ws, role))
            .collect(),
    }))
}

/// Create a workspace; you become its owner.
#[utoipa::path(post, path = "/v1/workspaces", tag = "workspaces",
    security(("bearer" = []), ("api_key" = [])), request_body = NewWorkspace,
    responses((status = 201, body = WorkspaceView, headers(("Location" = String))),
        (status = 409, description = "`slug_taken`", body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Json(body): Json<WorkspaceFields>,
) -> ApiResult<impl IntoResponse> {
    let mut profile = body.into_patch();
    let name = profile
        .name
        .take()
        .ok_or_else(|| Error::invalid("name", "required", "a workspace needs a name"))?;
    let input = NewWorkspaceInput {
        name,
        slug: profile.slug.take(),
        profile,
    };
    let ws = state
        .core
        .create_workspace(&principal, input, &meta)
        .await?;
    Ok(created(
        format!("/v1/workspaces/{}", ws.id),
        view(ws, Role::Owner),
    ))
}

/// Read a workspace (by id or slug).
#[utoipa::path(get, path = "/v1/workspaces/{ws}", tag = "workspaces",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = WorkspaceView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    access: Access,
) -> ApiResult<axum::Json<WorkspaceView>> {
    let ws = state.core.workspace(&access)?;
    Ok(axum::Json(view(ws, access.role)))
}

/// Update a workspace's name, slug or profile (owner, admin); `require_mfa` (owner only).
#[utoipa::path(patch, path = "/v1/workspaces/{ws}", tag = "workspaces",
    security(("bearer" = []), ("api_key" = [])), request_body = WorkspaceFields,
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = WorkspaceView),
        (status = 403, description = "`owner_only`: an admin changing `require_mfa`; `mfa_required`", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`slug_taken`; `mfa_required`: turning `require_mfa` on without MFA of your own", body = Problem),
        (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Json(body): Json<WorkspaceFields>,
) -> ApiResult<axum::Json<WorkspaceView>> {
    let patch = body.into_patch();
    let ws = state.core.update_workspace(&access, patch, &meta).await?;
    Ok(axum::Json(view(ws, access.role)))
}

/// Delete a workspace with its memberships and the sessions bound to it (owner; not a
/// personal workspace).
#[utoipa::path(delete, path = "/v1/workspaces/{ws}", tag = "workspaces",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`personal_workspace`", body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
) -> ApiResult<StatusCode> {
    state.core.delete_workspace(&access, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leave a workspace (refused for its last owner).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/leave", tag = "workspaces",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 204), (status = 404, body = Problem),
        (status = 409, description = "`last_owner`", body = Problem)))]
pub async fn leave(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
) -> ApiResult<StatusCode> {
    state.core.leave(&access, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of every member of this workspace, yours included (owner). API keys are
/// revoked separately.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/revoke-sessions", tag = "workspaces",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = RevokedSessions), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
) -> ApiResult<axum::Json<RevokedSessions>> {
    let sessions_ended = state
        .core
        .revoke_workspace_sessions(&access, &NATIVE, &meta)
        .await?;
    Ok(axum::Json(RevokedSessions { sessions_ended }))
}
