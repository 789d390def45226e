//! The invitee's side: `/v1/invitations/{token}` (preview, accept, decline) and
//! `/v1/me/invitations`. The token is the secret from the email link.

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::TokenResponse;
use crate::{
    app::AppState,
    domain::{
        auth::Principal,
        invitation::{Acceptance, InvitationRef, Preview, Status},
        role::Role,
        session::RequestMeta,
        Error,
    },
    http::{
        auth::MaybePrincipal,
        extract::{decode, is_json, Path},
        problem::{ApiResult, Problem},
    },
};

/// What an invitation shows its invitee.
#[derive(Serialize, ToSchema)]
pub struct InvitationPreview {
    id: Uuid,
    workspace_id: Uuid,
    workspace_name: String,
    inviter_name: Option<String>,
    email: String,
    role: Role,
    status: Status,
    expires_at: DateTime<Utc>,
    /// Whether an account exists for the invited email (then sign in to accept).
    account_exists: bool,
}

pub fn preview_view(p: Preview, now: DateTime<Utc>) -> InvitationPreview {
    InvitationPreview {
        status: p.invitation.status_at(now),
        id: p.invitation.id,
        workspace_id: p.invitation.workspace_id,
        workspace_name: p.workspace_name,
        inviter_name: p.inviter_name,
        email: p.invitation.email,
        role: p.invitation.role,
        expires_at: p.invitation.expires_at,
        account_exists: p.account_exists,
    }
}

#[derive(Serialize, ToSchema)]
pub struct MyInvitations {
    data: Vec<InvitationPreview>,
    next_cursor: Option<String>,
    total: u64,
}

/// To accept without signing in, for an email that has no account yet.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    name: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// The membership an acceptance created, and a token pair when it created the account.
#[derive(Serialize, ToSchema)]
pub struct AcceptedView {
    workspace_id: Uuid,
    user_id: Uuid,
    role: Role,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    tokens: Option<TokenResponse>,
}

#[derive(Deserialize)]
pub struct TokenPath {
    token: String,
}

/// Preview an invitation: workspace, inviter, role, status.
#[utoipa::path(get, path = "/v1/invitations/{token}", tag = "invitations",
    params(("token" = String, Path, description = "The secret from the invitation link")),
    responses((status = 200, body = InvitationPreview), (status = 404, body = Problem)))]
pub async fn preview(
    State(state): State<AppState>,
    Path(p): Path<TokenPath>,
) -> ApiResult<axum::Json<InvitationPreview>> {
    let found = state.core.preview(&p.token).await?;
    Ok(axum::Json(preview_view(found, state.core.clock.now())))
}

/// Accept. Signed in: your email must be the invited one. Not signed in, and no account for
/// that email: send `name` and `password` to create it (email verified) and join.
#[utoipa::path(post, path = "/v1/invitations/{token}/accept", tag = "invitations",
    security((), ("bearer" = []), ("api_key" = [])),
    params(("token" = String, Path, description = "The secret from the invitation link")),
    request_body(content = Option<AcceptBody>, description = "Only when not signed in"),
    responses((status = 200, description = "Joined", body = AcceptedView),
        (status = 201, description = "Account created and joined", body = AcceptedView),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`invitation_email_mismatch`, `invitation_expired`, `invitation_accepted`, `invitation_revoked`, `account_exists`, `already_member`, `inviter_lost_authority`", body = Problem),
        (status = 422, body = Problem)))]
pub async fn accept(
    State(state): State<AppState>,
    meta: RequestMeta,
    MaybePrincipal(principal): MaybePrincipal,
    Path(p): Path<TokenPath>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let how = match principal {
        Some(principal) => Acceptance::SignedIn(principal),
        None => {
            if body.is_empty() {
                // Without a session, only a new account can be created here.
                let found = state.core.preview(&p.token).await?;
                return Err(if found.account_exists {
                    Error::Unauthenticated
                } else {
                    Error::invalid(
                        "name",
                        "required",
                        "send name and password to create the account",
                    )
                }
                .into());
            }
            if !is_json(&headers) {
                return Ok(Problem::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as JSON with Content-Type: application/json",
                )
                .into_response());
            }
            let body: AcceptBody = match decode(&body) {
                Ok(b) => b,
                Err(problem) => return Ok(problem.into_response()),
            };
            Acceptance::NewAccount {
                name: body.name,
                password: body.password,
            }
        }
    };
    let accepted = state
        .core
        .accept(InvitationRef::Token(&p.token), how, &meta)
        .await?;
    let created = accepted.signed_in.is_some();
    let body = AcceptedView {
        workspace_id: accepted.workspace_id,
        user_id: accepted.user_id,
        role: accepted.role,
        tokens: accepted.signed_in.map(|s| s.tokens.into()),
    };
    Ok(if created {
        (
            StatusCode::CREATED,
            [(header::LOCATION, "/v1/me")],
            axum::Json(body),
        )
            .into_response()
    } else {
        axum::Json(body).into_response()
    })
}

/// Decline (the link's token proves you are the invitee).
#[utoipa::path(post, path = "/v1/invitations/{token}/decline", tag = "invitations",
    params(("token" = String, Path, description = "The secret from the invitation link")),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn decline(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(p): Path<TokenPath>,
) -> ApiResult<StatusCode> {
    state
        .core
        .decline(InvitationRef::Token(&p.token), None, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The pending invitations addressed to your email.
#[utoipa::path(get, path = "/v1/me/invitations", tag = "me",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = MyInvitations), (status = 401, body = Problem)))]
pub async fn mine(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<axum::Json<MyInvitations>> {
    let now = state.core.clock.now();
    let data: Vec<InvitationPreview> = state
        .core
        .my_invitations(&principal)
        .await?
        .into_iter()
        .map(|p| preview_view(p, now))
        .collect();
    Ok(axum::Json(MyInvitations {
        total: data.len() as u64,
        data,
        next_cursor: None,
    }))
}
