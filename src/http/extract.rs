//! Extractors whose rejections are problem documents: `Json` (size-limited, with the failing
//! field's path), `Path` and `Query`.

use axum::{
    extract::{rejection::BytesRejection, FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, StatusCode},
};
use bytes::Bytes;
use serde::{de::DeserializeOwned, Deserialize};

use super::{problem::Problem, surface::json_has_nul};
use crate::domain::FieldError;

/// Why a body with `\u0000` in a string is refused, on every surface: no text Roster keeps may
/// hold NUL (PostgreSQL cannot store it, and no name, email or password needs it).
pub const NUL_IN_TEXT: &str = "text must not contain the NUL character (\\u0000)";

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON body. Malformed JSON is 400, a wrong type or missing field 422 naming the field,
/// a missing JSON content type 415, a body over 1 MiB 413.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("the body exceeds {MAX_BODY_BYTES} bytes"),
                    )
                } else {
                    Problem::new(StatusCode::BAD_REQUEST, "unreadable_body", e.body_text())
                }
            })?;
        decode(&bytes).map(Json)
    }
}

/// Parses a JSON body, reporting the failing field's path.
#[expect(
    clippy::result_large_err,
    reason = "the error is the response; it is built once, on a failure path"
)]
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if json_has_nul(bytes) {
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "invalid input in: body",
        );
        p.errors = vec![FieldError::new("body", "nul_character", NUL_IN_TEXT)];
        return Err(p);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if !inner.is_data() {
            return malformed(&inner);
        }
        let field = if path == "." { "body".to_owned() } else { path };
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("invalid input in: {field}"),
        );
        p.errors = vec![FieldError::new(&field, "invalid", strip_position(&inner))];
        p
    })?;
    de.end().map_err(|e| malformed(&e))?;
    if !is_object(bytes) {
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "invalid input in: body",
        );
        p.errors = vec![FieldError::new("body", "invalid", NOT_AN_OBJECT)];
        return Err(p);
    }
    Ok(value)
}

/// Why a body that is JSON but not an object is refused, on every surface (serde would
/// otherwise fill a struct from an array, field by field).
pub const NOT_AN_OBJECT: &str = "the body must be a JSON object";

/// Whether a JSON document (already parsed) is an object: every request body Roster takes is.
pub fn is_object(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
        })
}

fn malformed(e: &serde_json::Error) -> Problem {
    Problem::new(
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

/// Path parameters; an unparseable one is 400.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "invalid_path", e.body_text()))
    }
}

/// Query parameters; an unparseable one is 400.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

/// For an optional integer field of a JSON body (`#[serde(default, deserialize_with =
/// "whole_number")]`): JSON Schema counts `13.0` as an integer, so a number without a
/// fractional part is accepted as one, as the documents promise. Other fractions and values
/// out of the field's range are refused.
pub fn whole_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::de::Error as _;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    });
    let whole =
        whole.ok_or_else(|| D::Error::custom(format!("expected an integer, not {number}")))?;
    T::try_from(whole)
        .map(Some)
        .map_err(|_| D::Error::custom(format!("{whole} is out of range")))
}
