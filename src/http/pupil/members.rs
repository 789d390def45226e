//! `/workspaces/{workspace_id}/members`: list, add directly, read, change role, remove.

use axum::{extract::State, response::Response};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    envelope::{ok, Envelope, ErrorEnvelope, PupilResult},
    extract::{Body, LooseDateTime, Segments, WsAccess},
    models::{member, PupilRole, WorkspaceMember},
};
use crate::{
    app::AppState,
    domain::{
        member::{MemberFilter, MemberTarget},
        paging::PageRequest,
        policy::PUPIL,
        session::RequestMeta,
        workspace::Access,
        Error,
    },
};

/// Add an existing user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceMemberPostRequest {
    role: PupilRole,
    /// Required by Roster: who to add.
    user_id: Option<Uuid>,
}

/// Change a member's role. `updated_at` is accepted and ignored.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceMemberPatchRequest {
    role: PupilRole,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    updated_at: Option<LooseDateTime>,
}

/// The members, oldest first: at most `PUPIL.member_list` (the contract's array has no paging).
async fn listed_members(state: &AppState, access: &Access) -> PupilResult<Vec<WorkspaceMember>> {
    let page = PageRequest::first(PUPIL.member_list);
    let found = state
        .core
        .members(access, &MemberFilter::default(), &page)
        .await?;
    let ws = access.workspace.id;
    Ok(found.data.into_iter().map(|m| member(ws, m)).collect())
}

/// The members of the workspace (every role), oldest first: at most 500.
#[utoipa::path(get, path = "/workspaces/{workspace_id}/members", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("workspace_id" = String, Path, description = "A workspace id, or `default`")),
    responses((status = 200, body = Envelope<Vec<WorkspaceMember>>),
        (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn list(State(state): State<AppState>, WsAccess(access): WsAccess) -> PupilResult {
    Ok(ok(listed_members(&state, &access).await?))
}

/// Add an existing user by `user_id` (OWNER, ADMIN).
#[utoipa::path(post, path = "/workspaces/{workspace_id}/members", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    request_body = WorkspaceMemberPostRequest,
    params(("workspace_id" = String, Path, description = "A workspace id, or `default`")),
    responses((status = 200, body = Envelope<WorkspaceMember>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "Already a member, or invalid input", body = ErrorEnvelope)))]
pub async fn add(
    State(state): State<AppState>,
    meta: RequestMeta,
    WsAccess(access): WsAccess,
    Body(body): Body<WorkspaceMemberPostRequest>,
) -> PupilResult {
    let user_id = body
        .user_id
        .ok_or_else(|| Error::invalid("user_id", "required", "name the user to add"))?;
    let added = state
        .core
        .add_member(
            &access,
            MemberTarget::Id(user_id),
            body.role.role().into(),
            &meta,
        )
        .await?;
    Ok(ok(member(access.workspace.id, added)))
}

/// One member (every role but DEMO).
#[utoipa::path(get, path = "/workspaces/{workspace_id}/members/{user_id}", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("workspace_id" = String, Path, description = "A workspace id, or `default`"),
        ("user_id" = String, Path)),
    responses((status = 200, body = Envelope<WorkspaceMember>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    WsAccess(access): WsAccess,
    path: Segments,
) -> PupilResult {
    let found = state.core.member(&access, path.id(0)?).await?;
    Ok(ok(member(access.workspace.id, found)))
}

/// Change a member's role (OWNER: anyone but the last owner; ADMIN: members below admin).
/// `EDITOR` leaves a field worker a field worker: both read as `EDITOR`.
#[utoipa::path(patch, path = "/workspaces/{workspace_id}/members/{user_id}", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    request_body = WorkspaceMemberPatchRequest,
    params(("workspace_id" = String, Path, description = "A workspace id, or `default`"),
        ("user_id" = String, Path)),
    responses((status = 200, body = Envelope<WorkspaceMember>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`last_owner`, or invalid input", body = ErrorEnvelope)))]
pub async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    WsAccess(access): WsAccess,
    path: Segments,
    Body(body): Body<WorkspaceMemberPatchRequest>,
) -> PupilResult {
    let _ignored = body.updated_at;
    let user_id = path.id(0)?;
    let changed = state
        .core
        .change_role(
            &access,
            user_id,
            body.role.role().into(),
            PUPIL.role_words,
            &meta,
        )
        .await?;
    Ok(ok(member(access.workspace.id, changed)))
}

/// Remove a member, or yourself (leave). The answer lists the members that remain (empty when
/// you left: you no longer see them).
#[utoipa::path(delete, path = "/workspaces/{workspace_id}/members/{user_id}", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("workspace_id" = String, Path, description = "A workspace id, or `default`"),
        ("user_id" = String, Path)),
    responses((status = 200, body = Envelope<Vec<WorkspaceMember>>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`last_owner`", body = ErrorEnvelope)))]
pub async fn remove(
    State(state): State<AppState>,
    meta: RequestMeta,
    WsAccess(access): WsAccess,
    path: Segments,
) -> PupilResult<Response> {
    let user_id = path.id(0)?;
    state.core.remove_member(&access, user_id, &meta).await?;
    if user_id == access.user_id() {
        return Ok(ok(Vec::<WorkspaceMember>::new()));
    }
    Ok(ok(listed_members(&state, &access).await?))
}
