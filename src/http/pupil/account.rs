//! The caller's side under `/auth`: profile, the invitations addressed to them (by public id;
//! being signed in with the invited email stands in for the link's secret), API tokens
//! (Roster API keys) and unregistering.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    envelope::{ok, Envelope, ErrorEnvelope, PupilResult},
    extract::{Body, Caller, Segments},
    models::{
        invitation, member, membership, token, Profile, Token, WorkspaceInvitation, WorkspaceMember,
    },
};
use crate::{
    app::AppState,
    domain::{
        api_key::NewKey,
        auth::Principal,
        invitation::{Acceptance, InvitationRef},
        paging::{PageRequest, MAX_LIMIT},
        session::RequestMeta,
        user::ProfilePatch,
    },
};

/// A profile change; absent keys are left alone.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatchRequest {
    name: Option<String>,
    /// An http(s) URL.
    photo_url: Option<String>,
    /// `true` records now as `onboarded_at` (once); `false` clears it.
    onboarded: Option<bool>,
    product_updates_subscribed: Option<bool>,
}

/// A new API token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenPostRequest {
    name: String,
}

async fn profile(state: &AppState, principal: &Principal) -> PupilResult<Profile> {
    let me = state.core.me(principal.user_id).await?;
    let mut user_workspaces = Vec::new();
    let mut page = PageRequest::first(MAX_LIMIT);
    loop {
        let found = state.core.my_workspaces(principal, &page).await?;
        user_workspaces.extend(found.data.into_iter().map(|(ws, r)| membership(ws, r)));
        match found.next_cursor {
            Some(c) => page.after = Some(c),
            None => break,
        }
    }
    Ok(Profile {
        id: me.id,
        email: me.email,
        email_verified: me.email_verified,
        name: me.name,
        photo_url: me.photo_url,
        onboarded_at: me.onboarded_at,
        product_updates_subscribed: me.product_updates_subscribed,
        default_workspace_id: me.personal_workspace_id,
        user_workspaces,
    })
}

/// Your profile, with your workspaces.
#[utoipa::path(get, path = "/auth/profile", tag = "auth",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    responses((status = 200, body = Envelope<Profile>), (status = 401, body = ErrorEnvelope)))]
pub async fn get_profile(State(state): State<AppState>, Caller(principal): Caller) -> PupilResult {
    Ok(ok(profile(&state, &principal).await?))
}

/// Change your name.
#[utoipa::path(patch, path = "/auth/profile", tag = "auth",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    request_body = ProfilePatchRequest,
    responses((status = 200, body = Envelope<Profile>), (status = 401, body = ErrorEnvelope),
        (status = 409, description = "Invalid input, or a field Roster does not store", body = ErrorEnvelope)))]
pub async fn patch_profile(
    State(state): State<AppState>,
    meta: RequestMeta,
    Caller(principal): Caller,
    Body(body): Body<ProfilePatchRequest>,
) -> PupilResult {
    let patch = ProfilePatch {
        name: body.name,
        photo_url: body.photo_url.map(Some),
        onboarded: body.onboarded,
        product_updates_subscribed: body.product_updates_subscribed,
    };
    state
        .core
        .update_me(principal.user_id, patch, &meta)
        .await?;
    Ok(ok(profile(&state, &principal).await?))
}

/// The pending invitations addressed to your email.
#[utoipa::path(get, path = "/auth/profile/invites", tag = "auth",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    responses((status = 200, body = Envelope<Vec<WorkspaceInvitation>>),
        (status = 401, body = ErrorEnvelope)))]
pub async fn my_invites(State(state): State<AppState>, Caller(principal): Caller) -> PupilResult {
    let now = state.core.clock.now();
    let found = state.core.my_invitations(&principal).await?;
    Ok(ok(found
        .into_iter()
        .map(|p| invitation(p.invitation, now))
        .collect::<Vec<_>>()))
}

/// One invitation addressed to you, by its public id.
#[utoipa::path(get, path = "/auth/profile/invites/{token}", tag = "auth",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("token" = String, Path, description = "The invitation's public id")),
    responses((status = 200, body = Envelope<WorkspaceInvitation>),
        (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn my_invite(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: Segments,
) -> PupilResult {
    let found = state.core.my_invitation(&principal, path.id(0)?).await?;
    Ok(ok(invitation(found.invitation, state.core.clock.now())))
}

/// Decline an invitation addressed to you.
#[utoipa::path(delete, path = "/auth/profile/invites/{token}", tag = "auth",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("token" = String, Path, description = "The invitation's public id")),
    responses((status = 200, body = Envelope<Option<String>>, description = "Declined; `result` is null"),
        (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, description = "No longer pending", body = ErrorEnvelope)))]
pub async fn decline_invite(
    State(state): State<AppState>,
    meta: RequestMeta,
    Caller(principal): Caller,
    path: Segments,
) -> PupilResult {
    state
        .core
        .decline(InvitationRef::Id(path.id(0)?), Some(&principal), &meta)
        .await?;
    Ok(ok(()))
}

/// Accept an invitation addressed to you; the answer is your new membership.
#[utoipa::path(post, path = "/auth/profile/invites/{token}/accept", tag = "auth",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("token" = String, Path, description = "The invitation's public id")),
    responses((status = 200, body = Envelope<WorkspaceMember>),
        (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, description = "Already a member, or no longer pending", body = ErrorEnvelope)))]
pub async fn accept_invite(
    State(state): State<AppState>,
    meta: RequestMeta,
    Caller(principal): Caller,
    path: Segments,
) -> PupilResult {
    let accepted = state
        .core
        .accept(
            InvitationRef::Id(path.id(0)?),
            Acceptance::SignedIn(principal.clone()),
            &meta,
        )
        .await?;
    let joined = state
        .core
        .my_membership(&principal, accepted.workspace_id)
        .await?;
    Ok(ok(member(accepted.workspace_id, joined)))
}

/// Your API tokens (Roster API keys), newest first; never their secrets.
#[utoipa::path(get, path = "/auth/tokens", tag = "auth",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    responses((status = 200, body = Envelope<Vec<Token>>), (status = 401, body = ErrorEnvelope)))]
pub async fn list_tokens(State(state): State<AppState>, Caller(principal): Caller) -> PupilResult {
    let keys = state.core.api_keys(principal.user_id).await?;
    Ok(ok(keys
        .into_iter()
        .map(|k| token(k, None))
        .collect::<Vec<_>>()))
}

/// Create an API token; its secret is in this answer only.
#[utoipa::path(post, path = "/auth/tokens", tag = "auth",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    request_body = TokenPostRequest,
    responses((status = 200, body = Envelope<Token>), (status = 401, body = ErrorEnvelope),
        (status = 409, description = "Invalid input", body = ErrorEnvelope)))]
pub async fn create_token(
    State(state): State<AppState>,
    meta: RequestMeta,
    Caller(principal): Caller,
    Body(body): Body<TokenPostRequest>,
) -> PupilResult {
    let input = NewKey {
        name: Some(body.name),
        ..NewKey::default()
    };
    let (key, secret) = state
        .core
        .create_api_key(principal.user_id, input, &meta)
        .await?;
    Ok(ok(token(key, Some(secret))))
}

/// One of your API tokens.
#[utoipa::path(get, path = "/auth/tokens/{token_id}", tag = "auth",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("token_id" = String, Path)),
    responses((status = 200, body = Envelope<Token>), (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn get_token(
    State(state): State<AppState>,
    Caller(principal): Caller,
    path: Segments,
) -> PupilResult {
    let key = state.core.api_key(principal.user_id, path.id(0)?).await?;
    Ok(ok(token(key, None)))
}

/// Revoke one of your API tokens; it stops working at once. The answer is the revoked token.
#[utoipa::path(delete, path = "/auth/tokens/{token_id}", tag = "auth",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    params(("token_id" = String, Path)),
    responses((status = 200, body = Envelope<Token>), (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn delete_token(
    State(state): State<AppState>,
    meta: RequestMeta,
    Caller(principal): Caller,
    path: Segments,
) -> PupilResult {
    let id = path.id(0)?;
    let key = state.core.api_key(principal.user_id, id).await?;
    state
        .core
        .revoke_api_key(principal.user_id, id, &meta)
        .await?;
    Ok(ok(token(key, None)))
}

/// Delete your account (refused while you are the last owner of a workspace with others).
#[utoipa::path(post, path = "/auth/unregister", tag = "auth",
    security(("api_key" = []), ("api_key" = [], "workspace_id" = [])),
    responses((status = 200, body = Envelope<Option<String>>, description = "Deleted; `result` is null"),
        (status = 401, body = ErrorEnvelope),
        (status = 409, description = "`last_owner`", body = ErrorEnvelope)))]
pub async fn unregister(
    State(state): State<AppState>,
    meta: RequestMeta,
    Caller(principal): Caller,
) -> PupilResult {
    state.core.delete_account(principal.user_id, &meta).await?;
    Ok(ok(()))
}
