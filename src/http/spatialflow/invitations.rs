//! `/workspaces/invitations`: list (pending, newest first, keyset `before`), create (201),
//! extend, cancel, resend, and the batch resend. The link with its token is in the create and
//! resend answers only.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    error::{code_and_detail, ErrorResponse, SfError, SfResult, ValidationErrorResponse},
    extract::{SfAccess, SfJson, SfQuery},
    wire::{datetime_at, format_cursor, parse_cursor, parse_role, path_id, role_word},
};
use crate::{
    app::AppState,
    domain::{
        invitation::{Invitation, InviteRequest, Issued, NewExpiry, Status},
        paging::PageRequest,
        policy::SPATIALFLOW,
        session::RequestMeta,
    },
};

/// A listing page holds at most this many rows.
const MAX_PAGE: u32 = 100;

/// `InvitationOut`.
#[derive(Serialize, ToSchema)]
pub struct InvitationOut {
    id: String,
    email: String,
    role: &'static str,
    status: &'static str,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    invited_by_email: Option<String>,
}

/// `InvitationIssuedOut`.
#[derive(Serialize, ToSchema)]
pub struct InvitationIssuedOut {
    #[serde(flatten)]
    invitation: InvitationOut,
    /// The link the invitation email contains (with the secret token).
    invite_link: String,
    invite_ttl_hours: i64,
}

impl InvitationOut {
    fn new(i: Invitation, now: DateTime<Utc>) -> Self {
        InvitationOut {
            status: i.status_at(now).as_str(),
            invited_by_email: i.inviter_email,
            id: i.id.to_string(),
            email: i.email,
            role: role_word(i.role),
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

impl InvitationIssuedOut {
    fn new(i: Issued, now: DateTime<Utc>) -> Self {
        let lifetime = i.invitation.expires_at - now;
        InvitationIssuedOut {
            invite_ttl_hours: (lifetime.num_seconds() + 1800).div_euclid(3600),
            invitation: InvitationOut::new(i.invitation, now),
            invite_link: i.invite_url,
        }
    }
}

/// `InvitationListResponse`.
#[derive(Serialize, ToSchema)]
pub struct InvitationListResponse {
    invitations: Vec<InvitationOut>,
    /// Every pending invitation, not just this page.
    total: u64,
    /// `<created_at ISO-8601>,<id>` of the last row, when more follow.
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1 or more; pages hold at most 100 rows.
    limit: Option<i64>,
    offset: Option<i64>,
    /// A `next_cursor` from an earlier page.
    before: Option<String>,
}

/// Pending invitations of the current workspace, newest first (owners and managers).
#[utoipa::path(get, path = "/api/v1/workspaces/invitations", tag = "workspaces",
    security(("JWTBearer" = [])), params(ListQuery),
    responses((status = 200, body = InvitationListResponse), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn list_invitations(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
    SfQuery(q): SfQuery<ListQuery>,
) -> SfResult<axum::Json<InvitationListResponse>> {
    let limit = match q.limit {
        None => MAX_PAGE,
        Some(n) if n >= 1 => u32::try_from(n.min(i64::from(MAX_PAGE))).unwrap_or(MAX_PAGE),
        Some(_) => {
            return Err(SfError::invalid(
                "greater_than_equal",
                &["query", "limit"],
                "Input should be greater than or equal to 1",
            ))
        }
    };
    let offset = match q.offset {
        None => 0,
        Some(n) if n >= 0 => u32::try_from(n).unwrap_or(u32::MAX),
        Some(_) => {
            return Err(SfError::invalid(
                "greater_than_equal",
                &["query", "offset"],
                "Input should be greater than or equal to 0",
            ))
        }
    };
    let after = match q.before.as_deref().filter(|b| !b.is_empty()) {
        Some(b) => Some(parse_cursor(b, &["query", "before"])?),
        None => None,
    };
    let page = PageRequest {
        after,
        newest_first: true,
        offset,
        ..PageRequest::first(limit)
    };
    let found = state
        .core
        .invitations(&access, Some(Status::Pending), &page)
        .await?;
    let now = state.core.clock.now();
    Ok(axum::Json(InvitationListResponse {
        invitations: found
            .data
            .into_iter()
            .map(|i| InvitationOut::new(i, now))
            .collect(),
        total: found.total,
        next_cursor: found.next_cursor.as_ref().map(format_cursor),
    }))
}

/// `CreateInvitationIn`.
#[derive(Deserialize, ToSchema)]
pub struct CreateInvitationIn {
    email: String,
    /// `field_worker` unless given.
    role: Option<String>,
}

/// Invite someone by email (owners: any role; managers: any but owner). A pending invitation
/// for the same email is replaced. 100 an hour per user.
#[utoipa::path(post, path = "/api/v1/workspaces/invitations", tag = "workspaces",
    security(("JWTBearer" = [])), request_body = CreateInvitationIn,
    responses((status = 201, body = InvitationIssuedOut), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 422, body = ValidationErrorResponse),
        (status = 429, body = ErrorResponse, headers(("Retry-After" = u64)))))]
pub async fn create_invitation(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    SfJson(body): SfJson<CreateInvitationIn>,
) -> SfResult<impl IntoResponse> {
    let role = parse_role(body.role.as_deref().unwrap_or("field_worker"))?;
    let request = InviteRequest {
        email: body.email,
        role: role.into(),
        lifetime_days: None,
        send_email: true,
    };
    let issued = state.core.invite(&access, request, &meta).await?;
    let out = InvitationIssuedOut::new(issued, state.core.clock.now());
    Ok((StatusCode::CREATED, axum::Json(out)))
}

/// Cancel a pending invitation; its link stops working at once.
#[utoipa::path(delete, path = "/api/v1/workspaces/invitations/{invite_id}", tag = "workspaces",
    security(("JWTBearer" = [])), params(("invite_id" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
pub async fn cancel_invitation(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    Path(invite_id): Path<String>,
) -> SfResult<axum::Json<serde_json::Value>> {
    let id = path_id(&invite_id)?;
    state.core.cancel_invitation(&access, id, &meta).await?;
    Ok(axum::Json(serde_json::json!({
        "message": "Invitation cancelled",
        "invitation_id": id.to_string(),
    })))
}

/// `ExtendInvitationIn`.
#[derive(Deserialize, ToSchema)]
pub struct ExtendInvitationIn {
    /// In the future, at most 90 days from now; with or without an offset (none: UTC).
    expires_at: String,
}

/// Move a pending invitation's expiry; the token stays and no mail is sent.
#[utoipa::path(patch, path = "/api/v1/workspaces/invitations/{invite_id}", tag = "workspaces",
    security(("JWTBearer" = [])), params(("invite_id" = String, Path)),
    request_body = ExtendInvitationIn,
    responses((status = 200, body = InvitationOut), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 422, body = ValidationErrorResponse)))]
pub async fn extend_invitation(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    Path(invite_id): Path<String>,
    SfJson(body): SfJson<ExtendInvitationIn>,
) -> SfResult<axum::Json<InvitationOut>> {
    let expires_at = datetime_at(&body.expires_at, &["body", "expires_at"])?;
    let id = path_id(&invite_id)?;
    let inv = state
        .core
        .extend_invitation(&access, id, NewExpiry::At(expires_at), &meta)
        .await?;
    Ok(axum::Json(InvitationOut::new(inv, state.core.clock.now())))
}

/// Send a pending invitation again: a new token and expiry, the old link dies. 10 an hour per
/// user; an expired invitation is refused (invite again).
#[utoipa::path(post, path = "/api/v1/workspaces/invitations/{invite_id}/resend", tag = "workspaces",
    security(("JWTBearer" = [])), params(("invite_id" = String, Path)),
    responses((status = 200, body = InvitationIssuedOut), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 429, body = ErrorResponse, headers(("Retry-After" = u64)))))]
pub async fn resend_invitation(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    Path(invite_id): Path<String>,
) -> SfResult<axum::Json<InvitationIssuedOut>> {
    let id = path_id(&invite_id)?;
    let issued = state
        .core
        .resend_invitation(&access, id, &SPATIALFLOW, &meta)
        .await?;
    Ok(axum::Json(InvitationIssuedOut::new(
        issued,
        state.core.clock.now(),
    )))
}

/// `BatchResendIn`.
#[derive(Deserialize, ToSchema, Default)]
pub struct BatchResendIn {
    invitation_ids: Option<Vec<String>>,
    before: Option<String>,
}

/// `BatchResendItemOut`.
#[derive(Serialize, ToSchema)]
pub struct BatchResendItemOut {
    invitation_id: String,
    /// `resent` or `skipped`.
    status: &'static str,
    invitation: Option<InvitationIssuedOut>,
    detail: Option<String>,
    error_code: Option<String>,
}

/// `BatchResendOut`.
#[derive(Serialize, ToSchema)]
pub struct BatchResendOut {
    results: Vec<BatchResendItemOut>,
    resent_count: u64,
    skipped_count: u64,
    next_cursor: Option<String>,
    remaining_count: u64,
}

/// Resend many: the ids given, or the next page of pending invitations (newest first, after
/// `before`). Rows that cannot be resent are `skipped`. 10 calls an hour per user, charged only
/// when a row is resent.
#[utoipa::path(post, path = "/api/v1/workspaces/invitations/resend-missing", tag = "workspaces",
    security(("JWTBearer" = [])), request_body = BatchResendIn,
    responses((status = 200, body = BatchResendOut), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse),
        (status = 429, body = ErrorResponse, headers(("Retry-After" = u64)))))]
pub async fn resend_missing(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    SfJson(body): SfJson<BatchResendIn>,
) -> SfResult<axum::Json<BatchResendOut>> {
    let before = match body.before.as_deref().filter(|b| !b.is_empty()) {
        Some(b) => Some(parse_cursor(b, &["body", "before"])?),
        None => None,
    };
    // An id that is not a UUID names no invitation: it is reported as skipped, as the domain
    // reports an unknown one.
    let named: Option<Vec<(String, Uuid)>> = body.invitation_ids.map(|ids| {
        ids.into_iter()
            .map(|s| {
                let id = Uuid::parse_str(s.trim()).unwrap_or(Uuid::nil());
                (s, id)
            })
            .collect()
    });
    let ids = named
        .as_ref()
        .map(|n| n.iter().map(|(_, id)| *id).collect());
    let done = state
        .core
        .resend_many(&access, ids, before, &SPATIALFLOW, &meta)
        .await?;
    let now = state.core.clock.now();
    let mut results = Vec::with_capacity(done.results.len());
    for (i, (id, outcome)) in done.results.into_iter().enumerate() {
        let invitation_id = named
            .as_ref()
            .and_then(|n| n.get(i))
            .map_or_else(|| id.to_string(), |(text, _)| text.clone());
        results.push(match outcome {
            Ok(issued) => BatchResendItemOut {
                invitation_id,
                status: "resent",
                invitation: Some(InvitationIssuedOut::new(issued, now)),
                detail: None,
                error_code: None,
            },
            Err(e) => {
                let (code, detail) = code_and_detail(e);
                BatchResendItemOut {
                    invitation_id,
                    status: "skipped",
                    invitation: None,
                    detail: Some(detail),
                    error_code: Some(code),
                }
            }
        });
    }
    let resent = results.iter().filter(|r| r.status == "resent").count() as u64;
    Ok(axum::Json(BatchResendOut {
        skipped_count: results.len() as u64 - resent,
        resent_count: resent,
        results,
        next_cursor: done.next_cursor.as_ref().map(format_cursor),
        remaining_count: done.remaining,
    }))
}
