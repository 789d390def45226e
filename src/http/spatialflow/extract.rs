//! The dialect's extractors: JSON bodies (required or optional) and query strings whose
//! failures are 422 `ValidationErrorResponse`s, and the caller: `Authorization: Bearer` only
//! (the SDK never sends `X-API-KEY` on these operations), resolved by the domain.

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, StatusCode},
};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{SfError, ValidationIssue};
use crate::{
    app::AppState,
    domain::{
        auth::{Caller, Principal},
        workspace::{Access, WorkspaceSelector},
        Error,
    },
    http::{
        auth::require_write_if_changing,
        extract::{is_json, is_object, MAX_BODY_BYTES, NOT_AN_OBJECT, NUL_IN_TEXT},
        surface::json_has_nul,
    },
};

/// No credential is longer than this.
const MAX_CREDENTIAL_LEN: usize = 4096;

/// A required JSON body.
pub struct SfJson<T>(pub T);

/// A JSON body that may be absent (no bytes at all), e.g. `/auth/refresh`.
pub struct SfOptionalJson<T>(pub Option<T>);

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, SfError> {
    let has_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_none_or(|v| v.as_bytes() != b"0");
    if has_body && req.headers().get(header::CONTENT_TYPE).is_some() && !is_json(req.headers()) {
        return Err(SfError::Status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON with Content-Type: application/json.".into(),
        ));
    }
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            SfError::Status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("The body exceeds {MAX_BODY_BYTES} bytes."),
            )
        } else {
            SfError::Status(StatusCode::BAD_REQUEST, "unreadable_body", e.body_text())
        }
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for SfJson<T> {
    type Rejection = SfError;

    async fn from_request(req: Request, state: &S) -> Result<Self, SfError> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(SfError::invalid("missing", &["body"], "Field required"));
        }
        decode(&bytes).map(SfJson)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for SfOptionalJson<T> {
    type Rejection = SfError;

    async fn from_request(req: Request, state: &S) -> Result<Self, SfError> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(SfOptionalJson(None));
        }
        decode(&bytes).map(|v| SfOptionalJson(Some(v)))
    }
}

/// Parses JSON, reporting the failing field as a pydantic-style issue under `body`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, SfError> {
    if json_has_nul(bytes) {
        return Err(SfError::invalid("string_type", &["body"], NUL_IN_TEXT));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if !inner.is_data() {
            return SfError::invalid("json_invalid", &["body"], strip_position(&inner));
        }
        let message = strip_position(&inner);
        let mut loc: Vec<Value> = vec!["body".into()];
        loc.extend(path.split('.').filter(|s| !s.is_empty()).map(|s| {
            match s.trim_matches(['[', ']']).parse::<u64>() {
                Ok(i) if s.starts_with('[') => Value::from(i),
                _ => Value::from(s),
            }
        }));
        let kind = if let Some(field) = missing_field(&message) {
            loc.push(field.into());
            "missing"
        } else {
            "type_error"
        };
        SfError::Invalid(vec![ValidationIssue {
            kind: kind.into(),
            loc,
            msg: message,
            ctx: None,
        }])
    })?;
    de.end()
        .map_err(|e| SfError::invalid("json_invalid", &["body"], strip_position(&e)))?;
    if !is_object(bytes) {
        return Err(SfError::invalid(
            "model_attributes_type",
            &["body"],
            NOT_AN_OBJECT,
        ));
    }
    Ok(value)
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Query parameters; a bad one is a 422 under `query`.
pub struct SfQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for SfQuery<T> {
    type Rejection = SfError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, SfError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| SfQuery(q.0))
            .map_err(|e| SfError::invalid("type_error", &["query"], e.body_text()))
    }
}

/// The bearer token of a request (JWT; the domain also accepts a Roster API key there).
pub fn bearer(parts: &Parts) -> Result<&str, SfError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or(Error::Unauthenticated)?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || token.len() > MAX_CREDENTIAL_LEN
    {
        return Err(Error::Unauthenticated.into());
    }
    Ok(token)
}

/// The signed-in caller.
pub struct SfPrincipal(pub Principal);

impl FromRequestParts<AppState> for SfPrincipal {
    type Rejection = SfError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, SfError> {
        let principal = state.core.authenticate(bearer(parts)?).await?;
        require_write_if_changing(&parts.method, &principal)?;
        Ok(SfPrincipal(principal))
    }
}

/// A caller who may be signed in (no `Authorization` header: `None`; a bad one: 401).
pub struct SfMaybePrincipal(pub Option<Principal>);

impl FromRequestParts<AppState> for SfMaybePrincipal {
    type Rejection = SfError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, SfError> {
        if parts.headers.get(header::AUTHORIZATION).is_none() {
            return Ok(SfMaybePrincipal(None));
        }
        let principal = state.core.authenticate(bearer(parts)?).await?;
        Ok(SfMaybePrincipal(Some(principal)))
    }
}

/// The caller's standing in their current workspace ("my workspace"): the one the token is
/// bound to, otherwise their primary workspace.
pub struct SfAccess(pub Access);

impl FromRequestParts<AppState> for SfAccess {
    type Rejection = SfError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, SfError> {
        let access = state
            .core
            .authorize(bearer(parts)?, &WorkspaceSelector::Current)
            .await?;
        require_write_if_changing(&parts.method, &access.principal)?;
        Ok(SfAccess(access))
    }
}

/// The caller with their account and current workspace, resolved in one read.
pub struct SfCaller(pub Caller);

impl FromRequestParts<AppState> for SfCaller {
    type Rejection = SfError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, SfError> {
        let caller = state
            .core
            .caller(bearer(parts)?, &WorkspaceSelector::Current)
            .await?;
        require_write_if_changing(&parts.method, &caller.principal)?;
        Ok(SfCaller(caller))
    }
}

/// The raw bearer token (for calls that resolve it again, e.g. against another workspace).
pub struct SfBearer(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SfBearer {
    type Rejection = SfError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, SfError> {
        bearer(parts).map(|t| SfBearer(t.to_owned()))
    }
}
