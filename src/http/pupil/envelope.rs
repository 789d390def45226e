//! The Pupil envelope `{"code", "status", "result"}` that every answer under `/pupil/v2` wears,
//! errors included, and `PupilError`, which renders the domain error in one exhaustive match.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    domain::{Error, FieldError},
    http::problem::InternalErrorReport,
};

/// Every Pupil answer: the HTTP status again as a number, `success` or `error`, and the payload.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    /// The HTTP status of the answer.
    pub code: u16,
    /// `success` or `error`.
    #[schema(example = "success")]
    pub status: &'static str,
    pub result: T,
}

/// A `200` answer with `result` in the envelope. Creates and updates answer 200 too: the
/// generated client reads a body only on exactly 200.
pub fn ok<T: Serialize>(result: T) -> Response {
    axum::Json(Envelope {
        code: 200,
        status: "success",
        result,
    })
    .into_response()
}

/// What an error envelope's `result` holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResult {
    /// A stable machine code (`not_found`, `insufficient_role`, `last_owner`, …).
    #[schema(example = "not_found")]
    pub error: String,
    /// A human-readable explanation.
    pub message: String,
    /// The offending fields of invalid input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// An error envelope (for the OpenAPI document).
pub type ErrorEnvelope = Envelope<ErrorResult>;

/// An error on its way out of the dialect.
#[derive(Debug)]
pub struct PupilError {
    pub status: StatusCode,
    pub result: ErrorResult,
    retry_after: Option<u64>,
    internal: Option<String>,
}

impl PupilError {
    pub fn new(status: StatusCode, error: &str, message: impl Into<String>) -> PupilError {
        PupilError {
            status,
            result: ErrorResult {
                error: error.to_owned(),
                message: message.into(),
                fields: Vec::new(),
            },
            retry_after: None,
            internal: None,
        }
    }

    /// Invalid input: `409`, as the Pupil API declares "Invalid input".
    pub fn invalid(fields: Vec<FieldError>) -> PupilError {
        let names: Vec<&str> = fields.iter().map(|e| e.field.as_str()).collect();
        let mut e = PupilError::new(
            StatusCode::CONFLICT,
            "invalid_input",
            format!("invalid input in: {}", names.join(", ")),
        );
        e.result.fields = fields;
        e
    }
}

impl From<Error> for PupilError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound => {
                PupilError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
            }
            Error::Unauthenticated => PupilError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "a valid API key is required in the api-key header",
            ),
            Error::InvalidCredentials => PupilError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "the credentials are wrong",
            ),
            Error::Rejected { code, detail } => {
                PupilError::new(StatusCode::UNAUTHORIZED, code, detail)
            }
            Error::Forbidden { code, detail } => {
                PupilError::new(StatusCode::FORBIDDEN, code, detail)
            }
            Error::Conflict { code, detail } => PupilError::new(StatusCode::CONFLICT, code, detail),
            Error::Missing { code, detail } => PupilError::new(StatusCode::NOT_FOUND, code, detail),
            Error::Gone { code, detail } => PupilError::new(StatusCode::GONE, code, detail),
            Error::LinkRefused(fault) => {
                let status = if fault.gone() {
                    StatusCode::GONE
                } else {
                    StatusCode::BAD_REQUEST
                };
                PupilError::new(status, fault.code(), fault.detail())
            }
            Error::Validation(fields) => PupilError::invalid(fields),
            Error::RateLimited { retry_after } => {
                let mut e = PupilError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many attempts; retry in {retry_after} s"),
                );
                e.retry_after = Some(retry_after);
                e
            }
            Error::QuotaExceeded {
                retry_after,
                detail,
            } => {
                let mut e =
                    PupilError::new(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", detail);
                e.retry_after = Some(retry_after);
                e
            }
            Error::Unavailable => {
                let mut e = PupilError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service cannot reach its database; retry shortly",
                );
                e.retry_after = Some(1);
                e
            }
            Error::Internal(report) => {
                let mut e = PupilError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred; it has been logged",
                );
                e.internal = Some(format!("{report:#}"));
                e
            }
        }
    }
}

impl From<anyhow::Error> for PupilError {
    fn from(e: anyhow::Error) -> Self {
        Error::Internal(e).into()
    }
}

impl IntoResponse for PupilError {
    fn into_response(self) -> Response {
        let body = Envelope {
            code: self.status.as_u16(),
            status: "error",
            result: self.result,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(report) = self.internal {
            response
                .extensions_mut()
                .insert(InternalErrorReport(report));
        }
        response
    }
}

/// The result type of Pupil handlers.
pub type PupilResult<T = Response> = Result<T, PupilError>;
