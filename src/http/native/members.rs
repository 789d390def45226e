//! `/v1/workspaces/{ws}/members`: list, add directly, read, change role, remove.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::created;
use crate::{
    app::AppState,
    domain::{
        email::Email,
        member::{Member, MemberFilter, MemberTarget},
        paging::PageRequest,
        policy::NATIVE,
        role::{role_key, Role, RoleName},
        session::RequestMeta,
        workspace::Access,
        Error,
    },
    http::{
        extract::{Json, Path, Query},
        problem::{ApiResult, Problem},
    },
};

/// A member of a workspace.
#[derive(Serialize, ToSchema)]
pub struct MemberView {
    user_id: Uuid,
    email: String,
    name: String,
    /// The role's key: a built-in role, or one of the workspace's custom roles.
    #[schema(example = "admin")]
    role: String,
    /// A custom role's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    role_name: Option<String>,
    /// The built-in role a custom role is based on.
    #[serde(skip_serializing_if = "Option::is_none")]
    base_role: Option<Role>,
    joined_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        MemberView {
            user_id: m.user_id,
            email: m.email,
            name: m.name,
            role: role_key(m.role, m.custom_role.as_ref()),
            role_name: m.custom_role.as_ref().map(|c| c.name.clone()),
            base_role: m.custom_role.is_some().then_some(m.role),
            joined_at: m.joined_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    data: Vec<MemberView>,
    next_cursor: Option<String>,
    /// How many members match the filters.
    total: u64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListMembers {
    /// Case-insensitive substring of the email or name; `%` and `_` match themselves.
    q: Option<String>,
    /// A built-in role or a custom role's key: members holding exactly that role.
    role: Option<String>,
    /// 1 to 200; 50 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Add an existing user, named by `user_id` or `email` (exactly one).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    user_id: Option<Uuid>,
    email: Option<String>,
    /// A built-in role or a custom role's key.
    role: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    /// A built-in role or a custom role's key.
    role: String,
}

/// The path of one member.
#[derive(Deserialize)]
pub struct MemberPath {
    #[expect(dead_code, reason = "resolved by the Access extractor")]
    ws: String,
    user_id: Uuid,
}

/// Members, oldest first, in keyset pages.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/members", tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), ListMembers),
    responses((status = 200, body = MemberList),
        (status = 400, description = "The path, query or body could not be read (`invalid_query`, also when `role` names no role of this workspace)", body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<ListMembers>,
) -> ApiResult<axum::response::Response> {
    let role = match q.role.as_deref() {
        None => None,
        Some(key) => match state.core.role_filter(&access, key).await {
            Ok(filter) => Some(filter),
            // A query parameter that names no role is a bad query, as any other.
            Err(Error::Validation(_)) => {
                return Ok(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("role: {key:?} is neither a built-in role nor a custom role here"),
                )
                .into_response())
            }
            Err(other) => return Err(other.into()),
        },
    };
    let filter = MemberFilter::new(q.q.as_deref(), role)?;
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let found = state.core.members(&access, &filter, &page).await?;
    Ok(axum::Json(MemberList {
        next_cursor: found.next_cursor.map(|c| c.encode()),
        total: found.total,
        data: found.data.into_iter().map(Into::into).collect(),
    })
    .into_response())
}

/// Add an existing user directly (owner, admin; an admin cannot grant owner).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/members", tag = "members",
    security(("bearer" = []), ("api_key" = [])), request_body = AddMember,
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 201, body = MemberView, headers(("Location" = String))),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`already_member`", body = Problem),
        (status = 422, description = "`user_not_found` among others", body = Problem)))]
pub async fn add(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Json(body): Json<AddMember>,
) -> ApiResult<impl IntoResponse> {
    let target = match (body.user_id, body.email) {
        (Some(id), None) => MemberTarget::Id(id),
        (None, Some(email)) => MemberTarget::Email(Email::parse(&email)?),
        _ => {
            return Err(Error::invalid(
                "user_id",
                "one_of",
                "give exactly one of user_id and email",
            )
            .into())
        }
    };
    let member = state
        .core
        .add_member(&access, target, RoleName::parse(&body.role), &meta)
        .await?;
    let location = format!(
        "/v1/workspaces/{}/members/{}",
        access.workspace.id, member.user_id
    );
    Ok(created(location, MemberView::from(member)))
}

/// One member.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/members/{user_id}", tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), ("user_id" = Uuid, Path)),
    responses((status = 200, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    access: Access,
    Path(MemberPath { user_id, .. }): Path<MemberPath>,
) -> ApiResult<axum::Json<MemberView>> {
    Ok(axum::Json(
        state.core.member(&access, user_id).await?.into(),
    ))
}

/// Change a member's role. Owners may set any role but never leave zero owners; admins may
/// change members below admin to any role but owner.
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/members/{user_id}", tag = "members",
    security(("bearer" = []), ("api_key" = [])), request_body = ChangeRole,
    params(("ws" = String, Path, description = "Workspace id or slug"), ("user_id" = Uuid, Path)),
    responses((status = 200, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`last_owner`", body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(MemberPath { user_id, .. }): Path<MemberPath>,
    Json(body): Json<ChangeRole>,
) -> ApiResult<axum::Json<MemberView>> {
    let member = state
        .core
        .change_role(
            &access,
            user_id,
            RoleName::parse(&body.role),
            NATIVE.role_words,
            &meta,
        )
        .await?;
    Ok(axum::Json(member.into()))
}

/// Remove a member (or yourself). Their access ends at once.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/members/{user_id}", tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`last_owner`", body = Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(MemberPath { user_id, .. }): Path<MemberPath>,
) -> ApiResult<StatusCode> {
    state.core.remove_member(&access, user_id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
