//! `/workspaces/`: list mine, create, and `/workspaces/{workspace_id}`: read, update, delete.

use axum::{extract::State, response::Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    envelope::{ok, Envelope, ErrorEnvelope, PupilResult},
    extract::{Body, Caller, LooseDateTime, WsAccess},
    models::{WorkspaceResponse, WorldVideoMode},
};
use crate::{
    app::AppState,
    domain::{
        paging::{PageRequest, MAX_LIMIT},
        session::RequestMeta,
        workspace::{NewWorkspaceInput, WorkspacePatch},
    },
};

/// The body of a create. `id` and the timestamps are accepted (the client may send them) and
/// ignored: the service assigns them.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePostRequest {
    name: String,
    picture_url: Option<String>,
    world_video_mode: Option<WorldVideoMode>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    created_at: Option<LooseDateTime>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    updated_at: Option<LooseDateTime>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    deleted_at: Option<LooseDateTime>,
}

/// The body of an update: an absent key leaves its field alone. `id` and the timestamps are
/// accepted and ignored.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatchRequest {
    name: Option<String>,
    picture_url: Option<String>,
    raw_file_downloads: Option<bool>,
    world_video_mode: Option<WorldVideoMode>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    created_at: Option<LooseDateTime>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    updated_at: Option<LooseDateTime>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    deleted_at: Option<LooseDateTime>,
}

/// Every workspace the caller belongs to, oldest membership first.
#[utoipa::path(get, path = "/workspaces/", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    responses((status = 200, body = Envelope<Vec<WorkspaceResponse>>),
        (status = 401, body = ErrorEnvelope)))]
pub async fn list(State(state): State<AppState>, Caller(principal): Caller) -> PupilResult {
    let mut all = Vec::new();
    let mut page = PageRequest::first(MAX_LIMIT);
    loop {
        let found = state.core.my_workspaces(&principal, &page).await?;
        all.extend(
            found
                .data
                .into_iter()
                .map(|(ws, _)| WorkspaceResponse::from(ws)),
        );
        match found.next_cursor {
            Some(c) => page.after = Some(c),
            None => break,
        }
    }
    Ok(ok(all))
}

/// Create a workspace; the caller becomes its owner. Answers 200 (not 201) so the client reads it.
#[utoipa::path(post, path = "/workspaces/", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    request_body = WorkspacePostRequest,
    responses((status = 200, body = Envelope<WorkspaceResponse>),
        (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope),
        (status = 409, description = "Invalid input", body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    Caller(principal): Caller,
    Body(body): Body<WorkspacePostRequest>,
) -> PupilResult {
    let _ignored = (body.id, body.created_at, body.updated_at, body.deleted_at);
    let input = NewWorkspaceInput {
        name: body.name,
        slug: None,
        profile: WorkspacePatch {
            logo_url: body.picture_url.map(Some),
            world_video_mode: body.world_video_mode.map(|m| Some(m.as_str().to_owned())),
            ..WorkspacePatch::default()
        },
    };
    let ws = state
        .core
        .create_workspace(&principal, input, &meta)
        .await?;
    Ok(ok(WorkspaceResponse::from(ws)))
}

/// Read a workspace (every role but DEMO).
#[utoipa::path(get, path = "/workspaces/{workspace_id}", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("workspace_id" = String, Path, description = "A workspace id, or `default` for your personal workspace")),
    responses((status = 200, body = Envelope<WorkspaceResponse>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn get(State(state): State<AppState>, WsAccess(access): WsAccess) -> PupilResult {
    Ok(ok(WorkspaceResponse::from(state.core.workspace(&access)?)))
}

/// Update a workspace (OWNER, ADMIN).
#[utoipa::path(patch, path = "/workspaces/{workspace_id}", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    request_body = WorkspacePatchRequest,
    params(("workspace_id" = String, Path, description = "A workspace id, or `default`")),
    responses((status = 200, body = Envelope<WorkspaceResponse>),
        (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "Invalid input", body = ErrorEnvelope)))]
pub async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    WsAccess(access): WsAccess,
    Body(body): Body<WorkspacePatchRequest>,
) -> PupilResult {
    let _ignored = (body.id, body.created_at, body.updated_at, body.deleted_at);
    let patch = WorkspacePatch {
        name: body.name,
        logo_url: body.picture_url.map(Some),
        raw_file_downloads: body.raw_file_downloads,
        world_video_mode: body.world_video_mode.map(|m| Some(m.as_str().to_owned())),
        ..WorkspacePatch::default()
    };
    let ws = state.core.update_workspace(&access, patch, &meta).await?;
    Ok(ok(WorkspaceResponse::from(ws)))
}

/// Delete a workspace (OWNER; not a personal workspace).
#[utoipa::path(delete, path = "/workspaces/{workspace_id}", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("workspace_id" = String, Path, description = "A workspace id, or `default`")),
    responses((status = 200, body = Envelope<Option<String>>, description = "Deleted; `result` is null"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`personal_workspace`", body = ErrorEnvelope)))]
pub async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    WsAccess(access): WsAccess,
) -> PupilResult<Response> {
    state.core.delete_workspace(&access, &meta).await?;
    Ok(ok(()))
}
