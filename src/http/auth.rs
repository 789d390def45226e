//! The `Principal` extractor: `Authorization: Bearer <access JWT | rk_ API key>` or
//! `X-API-Key: <key>`, resolved by the domain with one database read. Also `RequestMeta`.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts, Method},
};

use super::problem::ApiError;
use crate::{
    app::AppState,
    domain::{auth::Principal, session::RequestMeta, Error},
};

/// No credential is longer than this; longer ones are refused before any work.
const MAX_CREDENTIAL_LEN: usize = 4096;

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let credential = bearer(parts).ok_or(Error::Unauthenticated)?;
        if credential.is_empty() || credential.len() > MAX_CREDENTIAL_LEN {
            return Err(Error::Unauthenticated.into());
        }
        let principal = state.core.authenticate(credential).await?;
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            principal.require_write()?;
        }
        Ok(principal)
    }
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

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_LEN).collect());
        Ok(RequestMeta { ip, user_agent })
    }
}
