//! `/v1/permissions` (the catalogue), `/v1/workspaces/{ws}/roles` (built-in presets and custom
//! roles: list, create, read, update, delete with a replacement), and asking Roster what a
//! member may do: `…/members/{user_id}/permissions` and `…/permissions/check`.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{created, nullable};
use crate::{
    app::AppState,
    domain::{
        custom_role::{Checked, MemberPermissions, NewRole, RoleEntry, RolePatch},
        role::{role_key, Role, RoleName},
        session::RequestMeta,
        workspace::Access,
    },
    http::{
        extract::{Json, Path, Query},
        problem::{ApiResult, Problem},
    },
};

/// One permission of the catalogue.
#[derive(Serialize, ToSchema)]
pub struct PermissionView {
    #[schema(example = "members:manage")]
    key: String,
    description: String,
    /// Declared by the product in the configuration file (not one of Roster's).
    product: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PermissionList {
    data: Vec<PermissionView>,
}

/// Every permission: Roster's, then the product's own.
#[utoipa::path(get, path = "/v1/permissions", tag = "roles",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = PermissionList), (status = 401, body = Problem)))]
pub async fn catalogue(
    State(state): State<AppState>,
    _principal: crate::domain::auth::Principal,
) -> axum::Json<PermissionList> {
    axum::Json(PermissionList {
        data: state
            .core
            .permission_catalogue()
            .into_iter()
            .map(|e| PermissionView {
                key: e.key,
                description: e.description,
                product: e.product,
            })
            .collect(),
    })
}

/// A role: built-in (a fixed preset; no `id`) or one of the workspace's custom roles.
#[derive(Serialize, ToSchema)]
pub struct RoleView {
    id: Option<Uuid>,
    #[schema(example = "support")]
    key: String,
    name: String,
    description: Option<String>,
    /// The built-in role it is based on (itself for a built-in role): it orders the role among
    /// owners and admins and names it in the SpatialFlow and Pupil dialects.
    base_role: Role,
    builtin: bool,
    permissions: Vec<String>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl From<RoleEntry> for RoleView {
    fn from(r: RoleEntry) -> Self {
        RoleView {
            builtin: r.id.is_none(),
            id: r.id,
            key: r.key,
            name: r.name,
            description: r.description,
            base_role: r.base,
            permissions: r.permissions,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RoleList {
    data: Vec<RoleView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// 1 to 50 of a-z, 0-9, `_`, `-`, starting with a letter; not a built-in role's word.
    #[schema(example = "support")]
    key: String,
    name: String,
    description: Option<String>,
    /// admin, editor, field_worker, viewer or demo (never owner).
    base_role: Role,
    /// Permission keys from `GET /v1/permissions`; each must be one you hold.
    permissions: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable::nullable")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    /// The whole new set (replaces the old one).
    permissions: Option<Vec<String>>,
}

/// The path of one role.
#[derive(Deserialize)]
pub struct RolePath {
    #[expect(dead_code, reason = "resolved by the Access extractor")]
    ws: String,
    key: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteRoleQuery {
    /// The role (built-in or custom) its members and pending invitations get instead.
    replacement: Option<String>,
}

/// The roles of a workspace: the six built-in presets, highest first, then its custom roles.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/roles", tag = "roles",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = RoleList), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access,
) -> ApiResult<axum::Json<RoleList>> {
    let roles = state.core.roles(&access).await?;
    Ok(axum::Json(RoleList {
        data: roles.into_iter().map(Into::into).collect(),
    }))
}

/// Create a custom role (`roles:manage`; only permissions you hold yourself).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/roles", tag = "roles",
    security(("bearer" = []), ("api_key" = [])), request_body = CreateRole,
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 201, body = RoleView, headers(("Location" = String))),
        (status = 403, description = "`insufficient_role`, `permission_escalation`", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`role_key_taken`, `too_many_roles`", body = Problem),
        (status = 422, description = "`unknown_permission`, `reserved` among others", body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Json(body): Json<CreateRole>,
) -> ApiResult<impl IntoResponse> {
    let input = NewRole {
        key: body.key,
        name: body.name,
        description: body.description,
        base: body.base_role,
        permissions: body.permissions,
    };
    let role = state.core.create_role(&access, input, &meta).await?;
    let location = format!("/v1/workspaces/{}/roles/{}", access.workspace.id, role.key);
    Ok(created(location, RoleView::from(role)))
}

/// One role, built-in or custom, by key.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/roles/{key}", tag = "roles",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), ("key" = String, Path)),
    responses((status = 200, body = RoleView), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    access: Access,
    Path(RolePath { key, .. }): Path<RolePath>,
) -> ApiResult<axum::Json<RoleView>> {
    Ok(axum::Json(state.core.role(&access, &key).await?.into()))
}

/// Change a custom role's name, description or permissions; its holders are judged by the new
/// permissions from their next request on, on every replica.
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/roles/{key}", tag = "roles",
    security(("bearer" = []), ("api_key" = [])), request_body = UpdateRole,
    params(("ws" = String, Path, description = "Workspace id or slug"), ("key" = String, Path)),
    responses((status = 200, body = RoleView),
        (status = 403, description = "`insufficient_role`, `permission_escalation`", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`builtin_role`", body = Problem),
        (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(RolePath { key, .. }): Path<RolePath>,
    Json(body): Json<UpdateRole>,
) -> ApiResult<axum::Json<RoleView>> {
    let patch = RolePatch {
        name: body.name,
        description: body.description,
        permissions: body.permissions,
    };
    let role = state.core.update_role(&access, &key, patch, &meta).await?;
    Ok(axum::Json(role.into()))
}

/// Delete a custom role. Still held, it is refused with the count (`role_in_use`) unless
/// `replacement` names the role its holders get instead.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/roles/{key}", tag = "roles",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), ("key" = String, Path), DeleteRoleQuery),
    responses((status = 204),
        (status = 403, description = "`insufficient_role`, `permission_escalation`", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`role_in_use`, `builtin_role`", body = Problem),
        (status = 422, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(RolePath { key, .. }): Path<RolePath>,
    Query(q): Query<DeleteRoleQuery>,
) -> ApiResult<StatusCode> {
    let replacement = q.replacement.as_deref().map(RoleName::parse);
    state
        .core
        .delete_role(&access, &key, replacement, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A member's role and every permission it gives them here.
#[derive(Serialize, ToSchema)]
pub struct MemberPermissionsView {
    user_id: Uuid,
    /// The role's key (built-in word or custom key).
    role: String,
    role_name: Option<String>,
    base_role: Role,
    permissions: Vec<String>,
}

impl From<MemberPermissions> for MemberPermissionsView {
    fn from(m: MemberPermissions) -> Self {
        MemberPermissionsView {
            user_id: m.user_id,
            role: role_key(m.role, m.custom_role.as_ref()),
            role_name: m.custom_role.map(|c| c.name),
            base_role: m.role,
            permissions: m.permissions,
        }
    }
}

/// The path of one member's permissions.
#[derive(Deserialize)]
pub struct MemberPath {
    #[expect(dead_code, reason = "resolved by the Access extractor")]
    ws: String,
    user_id: Uuid,
}

/// What a member may do here (yours, or another member's with `members:read`), from live state.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/members/{user_id}/permissions", tag = "roles",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), ("user_id" = Uuid, Path)),
    responses((status = 200, body = MemberPermissionsView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn member(
    State(state): State<AppState>,
    access: Access,
    Path(MemberPath { user_id, .. }): Path<MemberPath>,
) -> ApiResult<axum::Json<MemberPermissionsView>> {
    Ok(axum::Json(
        state
            .core
            .member_permissions(&access, user_id)
            .await?
            .into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckPermissions {
    /// The member to ask about (needs `members:read`); absent: the caller.
    user_id: Option<Uuid>,
    /// 1 to 100 permission keys.
    #[schema(example = json!(["members:manage", "reports:export"]))]
    permissions: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CheckAnswer {
    user_id: Uuid,
    /// Every permission asked about is held.
    allowed: bool,
    /// Each permission asked about, with whether it is held.
    #[schema(value_type = Object, example = json!({"members:manage": true, "reports:export": false}))]
    permissions: serde_json::Map<String, serde_json::Value>,
}

impl From<Checked> for CheckAnswer {
    fn from(c: Checked) -> Self {
        CheckAnswer {
            user_id: c.user_id,
            allowed: c.allowed(),
            permissions: c
                .results
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::Bool(v)))
                .collect(),
        }
    }
}

/// May this member (the caller when `user_id` is absent) do these things here? Answered from
/// live state: call it before showing or doing something.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/permissions/check", tag = "roles",
    security(("bearer" = []), ("api_key" = [])), request_body = CheckPermissions,
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = CheckAnswer), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 422, description = "`unknown_permission` among others", body = Problem)))]
pub async fn check(
    State(state): State<AppState>,
    access: Access,
    Json(body): Json<CheckPermissions>,
) -> ApiResult<axum::Json<CheckAnswer>> {
    let checked = state
        .core
        .check_permissions(&access, body.user_id, &body.permissions)
        .await?;
    Ok(axum::Json(checked.into()))
}
