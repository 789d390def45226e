//! The dialect's extractors: the caller from the `api-key` header (with or without `Bearer `),
//! the caller's standing in the `{workspace_id}` of the path (`default` is their personal
//! workspace), a tolerant JSON body and path segments, all rejecting in the envelope.

use axum::{
    extract::{rejection::BytesRejection, FromRequest, FromRequestParts, RawPathParams, Request},
    http::{header, request::Parts, StatusCode},
};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Deserializer};
use uuid::Uuid;

use super::envelope::PupilError;
use crate::{
    app::AppState,
    domain::{
        api_key::API_KEY_PREFIX,
        auth::Principal,
        workspace::{Access, WorkspaceRef, WorkspaceSelector},
        Error, FieldError,
    },
    http::{
        auth::require_write_if_changing,
        extract::{is_object, MAX_BODY_BYTES, NOT_AN_OBJECT, NUL_IN_TEXT},
        surface::json_has_nul,
    },
};

/// No credential is longer than this.
const MAX_CREDENTIAL_LEN: usize = 4096;
/// The path alias of the caller's personal workspace.
pub const DEFAULT_WORKSPACE: &str = "default";

/// The Roster API key in `api-key`, with an optional `Bearer ` prefix. `workspace-id` is never
/// read: the path names the workspace.
fn api_key(parts: &Parts) -> Result<&str, PupilError> {
    let value = parts
        .headers
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    let key = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => value,
    };
    if key.is_empty() || key.len() > MAX_CREDENTIAL_LEN || !key.starts_with(API_KEY_PREFIX) {
        return Err(Error::Unauthenticated.into());
    }
    Ok(key)
}

/// The authenticated caller.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = PupilError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PupilError> {
        let principal = state.core.authenticate(api_key(parts)?).await?;
        require_write_if_changing(&parts.method, &principal)?;
        Ok(Caller(principal))
    }
}

/// The caller's standing in the workspace the `{workspace_id}` segment names: a UUID, or
/// `default` for their personal workspace. Anything else, like a workspace the caller is not a
/// member of, is 404.
pub struct WsAccess(pub Access);

impl FromRequestParts<AppState> for WsAccess {
    type Rejection = PupilError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PupilError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| bad_path(&e.body_text()))?;
        let segment = params
            .iter()
            .find(|(name, _)| *name == "workspace_id")
            .map(|(_, value)| value.to_owned())
            .ok_or_else(|| anyhow::anyhow!("a workspace route without {{workspace_id}}"))?;
        let key = api_key(parts)?;
        let selector = if segment == DEFAULT_WORKSPACE {
            WorkspaceSelector::Personal
        } else if let Ok(id) = Uuid::parse_str(&segment) {
            WorkspaceSelector::Path(WorkspaceRef::Id(id))
        } else {
            state.core.authenticate(key).await?;
            return Err(Error::NotFound.into());
        };
        let access = state.core.authorize(key, &selector).await?;
        require_write_if_changing(&parts.method, &access.principal)?;
        Ok(WsAccess(access))
    }
}

fn bad_path(detail: &str) -> PupilError {
    PupilError::new(StatusCode::BAD_REQUEST, "invalid_path", detail)
}

/// The percent-decoded path segments after the route's workspace, in order.
pub struct Segments(pub Vec<String>);

impl<S: Send + Sync> FromRequestParts<S> for Segments {
    type Rejection = PupilError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PupilError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| bad_path(&e.body_text()))?;
        Ok(Segments(
            params
                .iter()
                .filter(|(name, _)| *name != "workspace_id")
                .map(|(_, v)| v.to_owned())
                .collect(),
        ))
    }
}

impl Segments {
    /// The `i`th segment as an id; one that is not an id names nothing (404).
    pub fn id(&self, i: usize) -> Result<Uuid, PupilError> {
        self.0
            .get(i)
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| Error::NotFound.into())
    }
}

/// A JSON body. The content type may be JSON or absent; malformed JSON is 400; a wrong type,
/// a missing or unknown field 409 (the dialect's "invalid input"); over 1 MiB 413.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = PupilError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PupilError> {
        // The body is read before the content type is judged, so that a refused request still
        // leaves the connection clean for the client's next request.
        let json = crate::http::extract::is_json(req.headers());
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    PupilError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("the body exceeds {MAX_BODY_BYTES} bytes"),
                    )
                } else {
                    PupilError::new(StatusCode::BAD_REQUEST, "unreadable_body", e.body_text())
                }
            })?;
        if let Some(ct) = content_type.filter(|_| !json) {
            return Err(PupilError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("send the body as application/json, not {ct}"),
            ));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(PupilError::new(
                StatusCode::BAD_REQUEST,
                "body_required",
                "this operation needs a JSON body",
            ));
        }
        decode(&bytes).map(Body)
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PupilError> {
    if json_has_nul(bytes) {
        return Err(PupilError::invalid(vec![FieldError::new(
            "body",
            "nul_character",
            NUL_IN_TEXT,
        )]));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if !inner.is_data() {
            return malformed(&inner);
        }
        let field = if path == "." { "body".to_owned() } else { path };
        PupilError::invalid(vec![FieldError::new(
            &field,
            "invalid",
            strip_position(&inner),
        )])
    })?;
    de.end().map_err(|e| malformed(&e))?;
    if !is_object(bytes) {
        return Err(PupilError::invalid(vec![FieldError::new(
            "body",
            "invalid",
            NOT_AN_OBJECT,
        )]));
    }
    Ok(value)
}

fn malformed(e: &serde_json::Error) -> PupilError {
    PupilError::new(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        format!("the body is not valid JSON: {e}"),
    )
}

fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// A request datetime as the generated client writes it (Python `isoformat()`): RFC 3339, or
/// without an offset (taken as UTC), or a bare date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LooseDateTime(pub DateTime<Utc>);

impl LooseDateTime {
    pub fn parse(text: &str) -> Option<LooseDateTime> {
        let text = text.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(LooseDateTime(t.with_timezone(&Utc)));
        }
        for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
            if let Ok(t) = DateTime::parse_from_str(text, format) {
                return Some(LooseDateTime(t.with_timezone(&Utc)));
            }
        }
        for format in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
                return Some(LooseDateTime(t.and_utc()));
            }
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| LooseDateTime(t.and_utc()))
    }
}

impl<'de> Deserialize<'de> for LooseDateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        LooseDateTime::parse(&text).ok_or_else(|| {
            serde::de::Error::custom("a date-time such as 2024-01-02T03:04:05 or with an offset")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_without_an_offset_are_utc() {
        let utc = |s: &str| LooseDateTime::parse(s).map(|t| t.0.to_rfc3339());
        assert_eq!(
            utc("2024-01-02T03:04:05").as_deref(),
            Some("2024-01-02T03:04:05+00:00")
        );
        assert_eq!(
            utc("2024-01-02T03:04:05.250000+02:00").as_deref(),
            Some("2024-01-02T01:04:05.250+00:00")
        );
        assert_eq!(utc("2024-01-02T03:04:05Z"), utc("2024-01-02T03:04:05+0000"));
        assert!(utc("2024-01-02").is_some());
        assert!(utc("").is_none());
        assert!(utc("Mon, 01 Jan 2024 00:00:00 GMT").is_none());
    }
}
