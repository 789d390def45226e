//! `/v1/workspaces/{ws}/invitations`: create (one or many), list, read, extend, cancel, resend.
//! The token and link are in the create and resend answers only.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::created;
use crate::{
    app::AppState,
    domain::{
        invitation::{Invitation, InviteRequest, Issued, NewExpiry, Status},
        paging::PageRequest,
        policy::NATIVE,
        role::{role_key, Role, RoleName},
        session::RequestMeta,
        workspace::Access,
        Error,
    },
    http::{
        extract::{Json, Path, Query},
        problem::{ApiError, ApiResult, Problem},
    },
};

/// An invitation (never its token).
#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    id: Uuid,
    workspace_id: Uuid,
    email: String,
    /// The role's key: a built-in role, or one of the workspace's custom roles.
    #[schema(example = "editor")]
    role: String,
    /// A custom role's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    role_name: Option<String>,
    /// The built-in role a custom role is based on.
    #[serde(skip_serializing_if = "Option::is_none")]
    base_role: Option<Role>,
    /// As of now: a pending invitation past its expiry is `expired`.
    status: Status,
    inviter_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
}

pub fn view(i: Invitation, now: DateTime<Utc>) -> InvitationView {
    let custom = i.custom_role();
    InvitationView {
        status: i.status_at(now),
        role: role_key(i.role, custom.as_ref()),
        role_name: custom.as_ref().map(|c| c.name.clone()),
        base_role: custom.is_some().then_some(i.role),
        id: i.id,
        workspace_id: i.workspace_id,
        email: i.email,
        inviter_id: i.inviter_id,
        created_at: i.created_at,
        expires_at: i.expires_at,
        ended_at: i.ended_at,
    }
}

/// A new invitation with its secret: shown this once.
#[derive(Serialize, ToSchema)]
pub struct IssuedInvitation {
    #[serde(flatten)]
    invitation: InvitationView,
    /// The secret token (`inv_…`); it works once.
    token: String,
    /// The link the invitee opens: the public URL + `/invite/{token}`.
    invite_url: String,
}

fn issued(i: Issued, now: DateTime<Utc>) -> IssuedInvitation {
    IssuedInvitation {
        invitation: view(i.invitation, now),
        token: i.token,
        invite_url: i.invite_url,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    #[schema(example = "new.colleague@example.com")]
    email: String,
    /// A built-in role or a custom role's key.
    role: String,
    /// 1 to 90; 7 by default.
    expires_in_days: Option<u32>,
    /// Queue the invitation email (default true).
    send_email: Option<bool>,
}

impl From<CreateInvitation> for InviteRequest {
    fn from(c: CreateInvitation) -> Self {
        InviteRequest {
            email: c.email,
            role: RoleName::parse(&c.role),
            lifetime_days: c.expires_in_days,
            send_email: c.send_email.unwrap_or(true),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInvitations {
    /// 1 to 100 invitations.
    invitations: Vec<CreateInvitation>,
}

/// One row of a bulk answer: the invitation, or the problem that refused it.
#[derive(Serialize, ToSchema)]
pub struct BulkRow {
    email: String,
    /// HTTP status this row would have had alone.
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    invitation: Option<IssuedInvitation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Problem>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    results: Vec<BulkRow>,
    created: usize,
    failed: usize,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationList {
    data: Vec<InvitationView>,
    next_cursor: Option<String>,
    total: u64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListInvitations {
    /// `pending` (default), `accepted`, `declined`, `revoked` or `expired`.
    status: Option<Status>,
    /// 1 to 200; 50 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendInvitation {
    /// The new lifetime from now, 1 to 90 days; 7 by default.
    #[schema(minimum = 1, maximum = 90)]
    #[serde(default, deserialize_with = "crate::http::extract::whole_number")]
    expires_in_days: Option<u32>,
}

/// The path of one invitation.
#[derive(Deserialize)]
pub struct InvitationPath {
    #[expect(dead_code, reason = "resolved by the Access extractor")]
    ws: String,
    id: Uuid,
}

/// Invite someone by email (owner, admin; an admin cannot invite as owner). A pending
/// invitation for the same email is replaced.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/invitations", tag = "invitations",
    security(("bearer" = []), ("api_key" = [])), request_body = CreateInvitation,
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 201, body = IssuedInvitation, headers(("Location" = String))),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`cannot_invite_self`, `already_member`", body = Problem),
        (status = 422, body = Problem), (status = 429, description = "`rate_limited`, with Retry-After", body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Json(body): Json<CreateInvitation>,
) -> ApiResult<impl IntoResponse> {
    let invitation = state.core.invite(&access, body.into(), &meta).await?;
    let location = format!(
        "/v1/workspaces/{}/invitations/{}",
        access.workspace.id, invitation.invitation.id
    );
    Ok(created(
        location,
        issued(invitation, state.core.clock.now()),
    ))
}

/// Invite many at once; each row succeeds or fails on its own.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/invitations/bulk", tag = "invitations",
    security(("bearer" = []), ("api_key" = [])), request_body = BulkInvitations,
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = BulkResult), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn bulk(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Json(body): Json<BulkInvitations>,
) -> ApiResult<axum::Json<BulkResult>> {
    let emails: Vec<String> = body.invitations.iter().map(|i| i.email.clone()).collect();
    let requests = body.invitations.into_iter().map(Into::into).collect();
    let outcomes = state.core.invite_many(&access, requests, &meta).await?;
    let now = state.core.clock.now();
    let mut results = Vec::with_capacity(outcomes.len());
    for (email, outcome) in emails.into_iter().zip(outcomes) {
        results.push(match outcome {
            Ok(i) => BulkRow {
                email,
                status: 201,
                invitation: Some(issued(i, now)),
                error: None,
            },
            Err(e) => {
                if let Error::Internal(detail) = &e {
                    tracing::error!(error = %format!("{detail:#}"), "bulk invitation row failed");
                }
                let problem = ApiError(e).problem();
                BulkRow {
                    email,
                    status: problem.status,
                    invitation: None,
                    error: Some(problem),
                }
            }
        });
    }
    let created = results.iter().filter(|r| r.status == 201).count();
    Ok(axum::Json(BulkResult {
        failed: results.len() - created,
        created,
        results,
    }))
}

/// Invitations with one status, oldest first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/invitations", tag = "invitations",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), ListInvitations),
    responses((status = 200, body = InvitationList), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<ListInvitations>,
) -> ApiResult<axum::Json<InvitationList>> {
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let found = state.core.invitations(&access, q.status, &page).await?;
    let now = state.core.clock.now();
    Ok(axum::Json(InvitationList {
        next_cursor: found.next_cursor.map(|c| c.encode()),
        total: found.total,
        data: found.data.into_iter().map(|i| view(i, now)).collect(),
    }))
}

/// One invitation.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/invitations/{id}", tag = "invitations",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), ("id" = Uuid, Path)),
    responses((status = 200, body = InvitationView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    access: Access,
    Path(p): Path<InvitationPath>,
) -> ApiResult<axum::Json<InvitationView>> {
    let found = state.core.invitation(&access, p.id).await?;
    Ok(axum::Json(view(found, state.core.clock.now())))
}

/// Extend a pending invitation's expiry.
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/invitations/{id}", tag = "invitations",
    security(("bearer" = []), ("api_key" = [])), request_body = ExtendInvitation,
    params(("ws" = String, Path, description = "Workspace id or slug"), ("id" = Uuid, Path)),
    responses((status = 200, body = InvitationView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`invitation_expired`, `invitation_accepted`, …", body = Problem)))]
pub async fn extend(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(p): Path<InvitationPath>,
    Json(body): Json<ExtendInvitation>,
) -> ApiResult<axum::Json<InvitationView>> {
    let inv = state
        .core
        .extend_invitation(
            &access,
            p.id,
            NewExpiry::InDays(body.expires_in_days),
            &meta,
        )
        .await?;
    Ok(axum::Json(view(inv, state.core.clock.now())))
}

/// Cancel a pending invitation: its link stops working at once.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/invitations/{id}", tag = "invitations",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), ("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(p): Path<InvitationPath>,
) -> ApiResult<StatusCode> {
    state.core.cancel_invitation(&access, p.id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send again with a new token and expiry; the old link dies.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/invitations/{id}/resend", tag = "invitations",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), ("id" = Uuid, Path)),
    responses((status = 200, body = IssuedInvitation), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn resend(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(p): Path<InvitationPath>,
) -> ApiResult<axum::Json<IssuedInvitation>> {
    let again = state
        .core
        .resend_invitation(&access, p.id, &NATIVE, &meta)
        .await?;
    Ok(axum::Json(issued(again, state.core.clock.now())))
}
