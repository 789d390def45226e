//! The `Principal` extractor: `Authorization: Bearer <access JWT | rk_ API key>` or
//! `X-API-Key: <key>`, resolved by the domain with one database read; the `Access` extractor,
//! which resolves the credential and the `{ws}` path segment together, also in one read; and
//! `RequestMeta` (client address and user agent).

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts, RawPathParams},
    http::{header, request::Parts, Method},
};

use super::{client_ip::client_ip, problem::ApiError};
use crate::{
    app::AppState,
    domain::{
        auth::Principal,
        session::RequestMeta,
        workspace::{Access, WorkspaceRef, WorkspaceSelector},
        Error,
    },
};

/// No credential is longer than this; longer ones are refused before any work.
const MAX_CREDENTIAL_LEN: usize = 4096;

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = state.core.authenticate(credential(parts)?).await?;
        require_write_if_changing(&parts.method, &principal)?;
        Ok(principal)
    }
}

/// A caller's standing in the workspace named by the `{ws}` path segment (an id or a slug).
impl FromRequestParts<AppState> for Access {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| anyhow::anyhow!("no path parameters on a workspace route: {e}"))?;
        let ws = params
            .iter()
            .find(|(name, _)| *name == "ws")
            .map(|(_, value)| WorkspaceSelector::Path(WorkspaceRef::parse(value)))
            .ok_or_else(|| anyhow::anyhow!("a workspace route without {{ws}}"))?;
        let access = state.core.authorize_native(credential(parts)?, &ws).await?;
        require_write_if_changing(&parts.method, &access.principal)?;
        Ok(access)
    }
}

/// A caller who may or may not be signed in: no credential is `None`; a bad one is still 401.
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybePrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if bearer(parts).is_none() {
            return Ok(MaybePrincipal(None));
        }
        Principal::from_request_parts(parts, state)
            .await
            .map(|p| MaybePrincipal(Some(p)))
    }
}

fn credential(parts: &Parts) -> Result<&str, ApiError> {
    match bearer(parts) {
        Some(c) if !c.is_empty() && c.len() <= MAX_CREDENTIAL_LEN => Ok(c),
        _ => Err(Error::Unauthenticated.into()),
    }
}

/// A read-only API key may only read: every surface refuses it any method but GET, HEAD and
/// OPTIONS (each renders the refusal in its own shape).
pub fn require_write_if_changing(method: &Method, principal: &Principal) -> Result<(), Error> {
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        principal.require_write()?;
    }
    Ok(())
}

fn bearer(parts: &Parts) -> Option<&str> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim());
    }
    parts
        .headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The longest user agent kept.
const MAX_USER_AGENT_LEN: usize = 512;

/// Where a request came from: the client address (`client_ip`: the TCP peer, or what a
/// trusted proxy forwarded) and the user agent.
impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| {
            client_ip(
                c.0.ip(),
                parts.headers.get_all("x-forwarded-for").iter(),
                &state.config.trusted_proxies,
            )
            .to_string()
        });
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_LEN).collect());
        Ok(RequestMeta { ip, user_agent })
    }
}
