//! `/workspaces/{workspace_id}/invites`: create, list, read, revoke. `{token}` is the
//! invitation's public id; the secret token only ever travels in the invitation email.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    envelope::{ok, Envelope, ErrorEnvelope, PupilResult},
    extract::{Body, Segments, WsAccess},
    models::{invitation, PupilRole, WorkspaceInvitation},
};
use crate::{
    app::AppState,
    domain::{
        invitation::{InviteRequest, Status},
        paging::{PageRequest, MAX_LIMIT},
        session::RequestMeta,
    },
};

/// Invite someone by email.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceInvitationPostRequest {
    email: String,
    role: PupilRole,
}

/// Invite by email (OWNER, ADMIN). The email carries the link; a pending invitation for the
/// same email is replaced.
#[utoipa::path(post, path = "/workspaces/{workspace_id}/invites", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    request_body = WorkspaceInvitationPostRequest,
    params(("workspace_id" = String, Path, description = "A workspace id, or `default`")),
    responses((status = 200, body = Envelope<WorkspaceInvitation>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`already_member`, `cannot_invite_self`, or invalid input", body = ErrorEnvelope),
        (status = 429, description = "Rate limited, with Retry-After", body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    WsAccess(access): WsAccess,
    Body(body): Body<WorkspaceInvitationPostRequest>,
) -> PupilResult {
    let request = InviteRequest {
        email: body.email,
        role: body.role.role().into(),
        lifetime_days: None,
        send_email: true,
    };
    let issued = state.core.invite(&access, request, &meta).await?;
    Ok(ok(invitation(issued.invitation, state.core.clock.now())))
}

/// The workspace's pending invitations (OWNER, ADMIN).
#[utoipa::path(get, path = "/workspaces/{workspace_id}/invites", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("workspace_id" = String, Path, description = "A workspace id, or `default`")),
    responses((status = 200, body = Envelope<Vec<WorkspaceInvitation>>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn list(State(state): State<AppState>, WsAccess(access): WsAccess) -> PupilResult {
    let now = state.core.clock.now();
    let mut all = Vec::new();
    let mut page = PageRequest::first(MAX_LIMIT);
    loop {
        let found = state
            .core
            .invitations(&access, Some(Status::Pending), &page)
            .await?;
        all.extend(found.data.into_iter().map(|i| invitation(i, now)));
        match found.next_cursor {
            Some(c) => page.after = Some(c),
            None => break,
        }
    }
    Ok(ok(all))
}

/// One invitation of the workspace, by its public id (OWNER, ADMIN).
#[utoipa::path(get, path = "/workspaces/{workspace_id}/invites/{token}", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("workspace_id" = String, Path, description = "A workspace id, or `default`"),
        ("token" = String, Path, description = "The invitation's public id (its `token` field)")),
    responses((status = 200, body = Envelope<WorkspaceInvitation>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    WsAccess(access): WsAccess,
    path: Segments,
) -> PupilResult {
    let found = state.core.invitation(&access, path.id(0)?).await?;
    Ok(ok(invitation(found, state.core.clock.now())))
}

/// Revoke a pending invitation (OWNER, ADMIN): its link stops working at once.
#[utoipa::path(delete, path = "/workspaces/{workspace_id}/invites/{token}", tag = "workspaces",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("workspace_id" = String, Path, description = "A workspace id, or `default`"),
        ("token" = String, Path, description = "The invitation's public id (its `token` field)")),
    responses((status = 200, body = Envelope<Option<String>>, description = "Revoked; `result` is null"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "No longer pending", body = ErrorEnvelope)))]
pub async fn revoke(
    State(state): State<AppState>,
    meta: RequestMeta,
    WsAccess(access): WsAccess,
    path: Segments,
) -> PupilResult {
    state
        .core
        .cancel_invitation(&access, path.id(0)?, &meta)
        .await?;
    Ok(ok(()))
}
