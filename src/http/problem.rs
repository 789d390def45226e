//! The native error shape: RFC 9457 `application/problem+json` with a stable `code`.
//! `ApiError` renders every domain error in one exhaustive match.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Error, FieldError};

/// A problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; the same for every occurrence of a `code`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `unauthenticated`, `validation_failed`.
    pub code: String,
    /// The offending fields of a validation failure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:roster:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            errors: Vec::new(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// The error of an internal failure, attached to the response so that the logging middleware
/// records it once, inside the request's span.
#[derive(Clone, Debug)]
pub struct InternalErrorReport(pub String);

/// A domain error on its way out of a native handler.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl ApiError {
    /// The problem document of this error (for internal errors, a generic one).
    pub fn problem(&self) -> Problem {
        match &self.0 {
            Error::NotFound => Problem::new(StatusCode::NOT_FOUND, "not_found", "no such resource"),
            Error::Unauthenticated => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "a valid access token or API key is required",
            ),
            Error::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "the email or the password is wrong",
            ),
            Error::Rejected { code, detail } => {
                Problem::new(StatusCode::UNAUTHORIZED, code, detail)
            }
            Error::Forbidden { code, detail } => Problem::new(StatusCode::FORBIDDEN, code, detail),
            Error::Conflict { code, detail } => Problem::new(StatusCode::CONFLICT, code, detail),
            Error::Missing { code, detail } => Problem::new(StatusCode::NOT_FOUND, code, detail),
            Error::Gone { code, detail } => Problem::new(StatusCode::GONE, code, detail),
            Error::LinkRefused(fault) => {
                let status = if fault.gone() {
                    StatusCode::GONE
                } else {
                    StatusCode::BAD_REQUEST
                };
                Problem::new(status, fault.code(), fault.detail())
            }
            Error::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    format!("invalid input in: {}", fields.join(", ")),
                );
                p.errors = errors.clone();
                p
            }
            Error::RateLimited { retry_after } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many attempts; retry in {retry_after} s"),
            ),
            Error::QuotaExceeded { detail, .. } => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", detail)
            }
            Error::Unavailable => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service cannot reach its database; retry shortly",
            ),
            Error::Internal(_) => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an internal error occurred; it has been logged",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.problem().into_response();
        let headers = response.headers_mut();
        match &self.0 {
            Error::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::RateLimited { retry_after } | Error::QuotaExceeded { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Error::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Error::Internal(e) => {
                response
                    .extensions_mut()
                    .insert(InternalErrorReport(format!("{e:#}")));
            }
            _ => {}
        }
        response
    }
}

/// The result type of native handlers.
pub type ApiResult<T> = Result<T, ApiError>;
