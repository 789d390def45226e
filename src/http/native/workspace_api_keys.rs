//! `/v1/workspaces/{ws}/api-keys`: workspace API keys, or service accounts (create, list, read,
//! change, revoke, rotate). A secret is in the answer that issues it only.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{created, nullable::nullable};
use crate::{
    app::AppState,
    domain::{
        session::RequestMeta,
        workspace::Access,
        workspace_key::{KeyPatch, NewKey, WorkspaceApiKey},
    },
    http::{
        extract::{Json, Path},
        problem::{ApiResult, Problem},
    },
};

/// A workspace API key, without its secret.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceKeyView {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    /// The first characters of the key, to recognise it.
    #[schema(example = "rkw_3hG9xQ2a")]
    prefix: String,
    /// What the key may do in its workspace, and nothing else.
    permissions: Vec<String>,
    /// The member who created it; `null` once their account is gone (the key lives on).
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    /// After a rotation: the key that replaces this one (this one works until `expires_at`).
    replaced_by: Option<Uuid>,
}

impl From<WorkspaceApiKey> for WorkspaceKeyView {
    fn from(k: WorkspaceApiKey) -> Self {
        WorkspaceKeyView {
            permissions: k.permission_names(),
            id: k.id,
            workspace_id: k.workspace_id,
            name: k.name,
            prefix: k.prefix,
            created_by: k.created_by,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            replaced_by: k.replaced_by,
        }
    }
}

/// A new workspace key, with its secret: store it now, it is never shown again.
#[derive(Serialize, ToSchema)]
pub struct CreatedWorkspaceKey {
    #[serde(flatten)]
    key: WorkspaceKeyView,
    /// The key itself (`rkw_…`), shown this once.
    secret: String,
}

/// `/v1/workspaces/{ws}/api-keys/{id}`.
#[derive(Deserialize)]
pub struct KeyPath {
    #[expect(dead_code, reason = "the Access extractor reads the workspace")]
    ws: String,
    id: Uuid,
}

#[derive(Serialize, ToSchema)]
pub struct WorkspaceKeyList {
    data: Vec<WorkspaceKeyView>,
    next_cursor: Option<String>,
    total: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspaceKey {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Permission names (`GET /v1/permissions`), each one you hold yourself.
    permissions: Vec<String>,
    /// When the key stops working; never, if absent.
    expires_at: Option<DateTime<Utc>>,
}

/// A change to a key: absent fields stay, `null` clears the expiry.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspaceKey {
    #[schema(min_length = 1, max_length = 100)]
    name: Option<String>,
    /// A future time, or `null` for never.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    expires_at: Option<Option<DateTime<Utc>>>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateWorkspaceKey {
    /// How long the old key keeps working: 0 to 7,776,000 seconds (90 days; default 7 days),
    /// never past its own expiry.
    #[schema(minimum = 0, maximum = 7_776_000)]
    grace_seconds: Option<i64>,
}

/// The workspace's API keys (not revoked), newest first (`api_keys:manage`).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/api-keys", tag = "api-keys",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = WorkspaceKeyList), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access,
) -> ApiResult<axum::Json<WorkspaceKeyList>> {
    let data: Vec<WorkspaceKeyView> = state
        .core
        .workspace_keys(&access)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(WorkspaceKeyList {
        total: data.len() as u64,
        data,
        next_cursor: None,
    }))
}

/// Create a workspace API key with some of your own permissions (`api_keys:manage`; a person,
/// not another workspace key).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/api-keys", tag = "api-keys",
    security(("bearer" = []), ("api_key" = [])), request_body = CreateWorkspaceKey,
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 201, body = CreatedWorkspaceKey, headers(("Location" = String))),
        (status = 401, body = Problem),
        (status = 403, description = "`permission_escalation`: a permission you do not hold; `person_required`", body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Json(body): Json<CreateWorkspaceKey>,
) -> ApiResult<impl IntoResponse> {
    let input = NewKey {
        name: body.name,
        permissions: body.permissions,
        expires_at: body.expires_at,
    };
    let (key, secret) = state
        .core
        .create_workspace_key(&access, input, &meta)
        .await?;
    Ok(created(
        format!("/v1/workspaces/{}/api-keys/{}", key.workspace_id, key.id),
        CreatedWorkspaceKey {
            key: key.into(),
            secret,
        },
    ))
}

/// One of the workspace's API keys (`api_keys:manage`).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/api-keys/{id}", tag = "api-keys",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "API key id")),
    responses((status = 200, body = WorkspaceKeyView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    access: Access,
    Path(KeyPath { id, .. }): Path<KeyPath>,
) -> ApiResult<axum::Json<WorkspaceKeyView>> {
    Ok(axum::Json(
        state.core.workspace_key(&access, id).await?.into(),
    ))
}

/// Rename a workspace API key or change its expiry (`api_keys:manage`).
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/api-keys/{id}", tag = "api-keys",
    security(("bearer" = []), ("api_key" = [])), request_body = UpdateWorkspaceKey,
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "API key id")),
    responses((status = 200, body = WorkspaceKeyView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(KeyPath { id, .. }): Path<KeyPath>,
    Json(body): Json<UpdateWorkspaceKey>,
) -> ApiResult<axum::Json<WorkspaceKeyView>> {
    let patch = KeyPatch {
        name: body.name,
        expires_at: body.expires_at,
    };
    Ok(axum::Json(
        state
            .core
            .update_workspace_key(&access, id, patch, &meta)
            .await?
            .into(),
    ))
}

/// Revoke a workspace API key: it stops working at once (`api_keys:manage`).
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/api-keys/{id}", tag = "api-keys",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "API key id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(KeyPath { id, .. }): Path<KeyPath>,
) -> ApiResult<StatusCode> {
    state.core.revoke_workspace_key(&access, id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace a workspace API key by a new one with the same name and permissions and a new
/// secret; the old key keeps working for the grace period. A key is rotated at most once
/// (`api_keys:manage`; a person, whose permissions still cover the key's).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/api-keys/{id}/rotate", tag = "api-keys",
    security(("bearer" = []), ("api_key" = [])), request_body = RotateWorkspaceKey,
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "API key id")),
    responses((status = 201, body = CreatedWorkspaceKey, headers(("Location" = String))),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn rotate(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(KeyPath { id, .. }): Path<KeyPath>,
    Json(body): Json<RotateWorkspaceKey>,
) -> ApiResult<impl IntoResponse> {
    let (key, secret) = state
        .core
        .rotate_workspace_key(&access, id, body.grace_seconds, &meta)
        .await?;
    Ok(created(
        format!("/v1/workspaces/{}/api-keys/{}", key.workspace_id, key.id),
        CreatedWorkspaceKey {
            key: key.into(),
            secret,
        },
    ))
}
