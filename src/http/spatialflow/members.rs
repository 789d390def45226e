//! `/workspaces/members`: list (at most 500, `truncated` beyond), change a role, remove.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    error::{ErrorResponse, SfResult, ValidationErrorResponse},
    extract::{SfAccess, SfJson},
    wire::{parse_role, path_id, role_word},
};
use crate::{
    app::AppState,
    domain::{
        member::{Member, MemberFilter},
        paging::PageRequest,
        policy::SPATIALFLOW,
        session::RequestMeta,
    },
};

/// `MemberOut`.
#[derive(Serialize, ToSchema)]
pub struct MemberOut {
    /// The user id.
    id: String,
    email: String,
    name: Option<String>,
    role: &'static str,
    joined_at: DateTime<Utc>,
    tracking_state: Option<String>,
    last_location_at: Option<DateTime<Utc>>,
}

impl From<Member> for MemberOut {
    fn from(m: Member) -> Self {
        MemberOut {
            id: m.user_id.to_string(),
            email: m.email,
            name: Some(m.name),
            role: role_word(m.role),
            joined_at: m.joined_at,
            tracking_state: None,
            last_location_at: None,
        }
    }
}

/// `MemberListResponse`.
#[derive(Serialize, ToSchema)]
pub struct MemberListResponse {
    members: Vec<MemberOut>,
    total: u64,
    truncated: bool,
}

/// The members of the current workspace, oldest first (any member).
#[utoipa::path(get, path = "/api/v1/workspaces/members", tag = "workspaces",
    security(("JWTBearer" = [])),
    responses((status = 200, body = MemberListResponse), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
pub async fn list_members(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
) -> SfResult<axum::Json<MemberListResponse>> {
    let page = state
        .core
        .members(
            &access,
            &MemberFilter::default(),
            &PageRequest::first(SPATIALFLOW.member_list),
        )
        .await?;
    Ok(axum::Json(MemberListResponse {
        truncated: page.next_cursor.is_some(),
        total: page.total,
        members: page.data.into_iter().map(Into::into).collect(),
    }))
}

/// `UpdateMemberRoleIn`.
#[derive(Deserialize, ToSchema)]
pub struct UpdateMemberRoleIn {
    /// `owner`, `manager`, `member`, `field_worker` (or `viewer`, `demo`).
    role: String,
}

/// `MemberActionOut`.
#[derive(Serialize, ToSchema)]
pub struct MemberActionOut {
    message: String,
    user_id: String,
    role: Option<&'static str>,
}

/// Change a member's role. Owners: anyone, any role, never leaving no owner. Managers: members
/// below manager, to any role but owner. A downgrade ends the member's sessions here at once.
#[utoipa::path(patch, path = "/api/v1/workspaces/members/{user_id}", tag = "workspaces",
    security(("JWTBearer" = [])), request_body = UpdateMemberRoleIn,
    params(("user_id" = String, Path)),
    responses((status = 200, body = MemberActionOut), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 422, body = ValidationErrorResponse)))]
pub async fn update_member_role(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    Path(user_id): Path<String>,
    SfJson(body): SfJson<UpdateMemberRoleIn>,
) -> SfResult<axum::Json<MemberActionOut>> {
    let role = parse_role(&body.role)?;
    let id = path_id(&user_id)?;
    let member = state
        .core
        .change_role(&access, id, role.into(), SPATIALFLOW.role_words, &meta)
        .await?;
    Ok(axum::Json(MemberActionOut {
        message: format!("Role updated to {}", role_word(member.role)),
        user_id: member.user_id.to_string(),
        role: Some(role_word(member.role)),
    }))
}

/// Remove a member (owners: anyone but the last owner; managers: members below manager;
/// anyone: themselves). Their access ends at once.
#[utoipa::path(delete, path = "/api/v1/workspaces/members/{user_id}", tag = "workspaces",
    security(("JWTBearer" = [])), params(("user_id" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
pub async fn remove_member(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    Path(user_id): Path<String>,
) -> SfResult<StatusCode> {
    let id = path_id(&user_id)?;
    state.core.remove_member(&access, id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
