//! `/v1/workspaces/{ws}/ownership-transfer`: an owner proposes that a member become owner
//! (or cancels); the proposed member reads, accepts or declines it.

use axum::{extract::State, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::created;
use crate::{
    app::AppState,
    domain::{
        ownership::{Transfer, TransferStatus},
        session::RequestMeta,
        workspace::Access,
    },
    http::{
        extract::Json,
        problem::{ApiResult, Problem},
    },
};

/// A proposal that a member become an owner of the workspace.
#[derive(Serialize, ToSchema)]
pub struct TransferView {
    id: Uuid,
    workspace_id: Uuid,
    /// The owner who proposed it.
    from_user_id: Uuid,
    /// The member asked to become owner.
    to_user_id: Uuid,
    /// The proposer stays an owner on acceptance; otherwise they become admin.
    keep_ownership: bool,
    status: TransferStatus,
    created_at: DateTime<Utc>,
    /// Seven days after `created_at`.
    expires_at: DateTime<Utc>,
    /// When it was accepted, declined, cancelled or found expired.
    decided_at: Option<DateTime<Utc>>,
}

impl From<Transfer> for TransferView {
    fn from(t: Transfer) -> Self {
        TransferView {
            id: t.id,
            workspace_id: t.workspace_id,
            from_user_id: t.from_user_id,
            to_user_id: t.to_user_id,
            keep_ownership: t.keep_ownership,
            status: t.status,
            created_at: t.created_at,
            expires_at: t.expires_at,
            decided_at: t.decided_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeTransfer {
    /// A member of the workspace below owner.
    user_id: Uuid,
    /// Stay an owner beside the new one (default: become admin).
    #[serde(default)]
    keep_ownership: bool,
}

/// Propose that a member become owner (owners only). The member is emailed; one pending
/// transfer per workspace.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/ownership-transfer", tag = "members",
    security(("bearer" = []), ("api_key" = [])), request_body = ProposeTransfer,
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 201, body = TransferView, headers(("Location" = String))),
        (status = 403, description = "`owner_only`", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`already_owner`, `transfer_pending`", body = Problem),
        (status = 422, description = "`not_a_member`, `cannot_transfer_to_self` among others", body = Problem)))]
pub async fn propose(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Json(body): Json<ProposeTransfer>,
) -> ApiResult<impl IntoResponse> {
    let t = state
        .core
        .propose_transfer(&access, body.user_id, body.keep_ownership, &meta)
        .await?;
    let location = format!("/v1/workspaces/{}/ownership-transfer", t.workspace_id);
    Ok(created(location, TransferView::from(t)))
}

/// The pending transfer: for owners, and for the member it is proposed to.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/ownership-transfer", tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = TransferView),
        (status = 404, description = "`no_pending_transfer`, or `not_found` for the workspace", body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    access: Access,
) -> ApiResult<axum::Json<TransferView>> {
    Ok(axum::Json(
        state.core.pending_transfer(&access).await?.into(),
    ))
}

/// Withdraw the pending transfer (its proposer, or any owner).
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/ownership-transfer", tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = TransferView),
        (status = 403, description = "`owner_only`", body = Problem),
        (status = 404, description = "`no_pending_transfer`", body = Problem),
        (status = 410, description = "`transfer_expired`", body = Problem)))]
pub async fn withdraw(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
) -> ApiResult<axum::Json<TransferView>> {
    Ok(axum::Json(
        state.core.cancel_transfer(&access, &meta).await?.into(),
    ))
}

/// Withdraw the pending transfer (its proposer, or any owner); the same as `DELETE`.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/ownership-transfer/cancel", tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = TransferView),
        (status = 403, description = "`owner_only`", body = Problem),
        (status = 404, description = "`no_pending_transfer`", body = Problem),
        (status = 410, description = "`transfer_expired`", body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
) -> ApiResult<axum::Json<TransferView>> {
    Ok(axum::Json(
        state.core.cancel_transfer(&access, &meta).await?.into(),
    ))
}

/// Accept (the member it is proposed to): you become owner and, unless the proposer keeps
/// ownership, the proposer becomes admin. Both are emailed.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/ownership-transfer/accept", tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = TransferView),
        (status = 403, description = "`not_transfer_target`", body = Problem),
        (status = 404, description = "`no_pending_transfer`", body = Problem),
        (status = 409, description = "`transfer_stale`: the proposer is no longer an owner, or you no longer a member below owner", body = Problem),
        (status = 410, description = "`transfer_expired`", body = Problem)))]
pub async fn accept(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
) -> ApiResult<axum::Json<TransferView>> {
    Ok(axum::Json(
        state.core.accept_transfer(&access, &meta).await?.into(),
    ))
}

/// Decline (the member it is proposed to).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/ownership-transfer/decline", tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = TransferView),
        (status = 403, description = "`not_transfer_target`", body = Problem),
        (status = 404, description = "`no_pending_transfer`", body = Problem),
        (status = 410, description = "`transfer_expired`", body = Problem)))]
pub async fn decline(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
) -> ApiResult<axum::Json<TransferView>> {
    Ok(axum::Json(
        state.core.decline_transfer(&access, &meta).await?.into(),
    ))
}
