//! The SpatialFlow error shapes: `ErrorResponse` (`detail`, `error_code`, `details`) for every
//! error but 422, which is `ValidationErrorResponse` (`detail` as a list of issues). Every
//! domain error is rendered here, in one exhaustive match; every 429 carries `Retry-After`.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::{domain::Error, http::problem::InternalErrorReport};

/// `ErrorResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub detail: String,
    pub error_code: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// One entry of a 422's `detail`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ValidationIssue {
    #[serde(rename = "type")]
    pub kind: String,
    /// e.g. `["body", "email"]`.
    #[schema(value_type = Vec<String>)]
    pub loc: Vec<Value>,
    pub msg: String,
    #[schema(value_type = Option<Object>)]
    pub ctx: Option<Value>,
}

impl ValidationIssue {
    pub fn new(kind: &str, loc: &[&str], msg: impl Into<String>) -> ValidationIssue {
        ValidationIssue {
            kind: kind.to_owned(),
            loc: loc.iter().map(|s| Value::String((*s).to_owned())).collect(),
            msg: msg.into(),
            ctx: None,
        }
    }
}

/// `ValidationErrorResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationErrorResponse {
    pub detail: Vec<ValidationIssue>,
}

/// Anything a SpatialFlow handler can answer besides success.
#[derive(Debug)]
pub enum SfError {
    /// A domain error; field errors are reported under `body`.
    Domain(Error),
    /// A domain error whose field errors are reported under `loc_root` (`query`, `path`).
    At(&'static str, Error),
    /// Input the dialect could not read.
    Invalid(Vec<ValidationIssue>),
    /// A refusal of the dialect's own making (unknown route, wrong content type).
    Status(StatusCode, &'static str, String),
}

impl<E: Into<Error>> From<E> for SfError {
    fn from(e: E) -> Self {
        SfError::Domain(e.into())
    }
}

pub type SfResult<T> = Result<T, SfError>;

impl SfError {
    pub fn invalid(kind: &str, loc: &[&str], msg: impl Into<String>) -> SfError {
        SfError::Invalid(vec![ValidationIssue::new(kind, loc, msg)])
    }

    pub fn in_query(e: impl Into<Error>) -> SfError {
        SfError::At("query", e.into())
    }
}

/// The SpatialFlow `error_code` of a domain code.
fn error_code(code: &str) -> String {
    match code {
        "insufficient_role" => "INSUFFICIENT_PERMISSIONS".to_owned(),
        "invitation_email_mismatch" => "INVITE_EMAIL_MISMATCH".to_owned(),
        other => other.to_ascii_uppercase(),
    }
}

fn error(status: StatusCode, code: &str, detail: impl Into<String>) -> Response {
    let body = ErrorResponse {
        detail: detail.into(),
        error_code: Some(error_code(code)),
        details: None,
    };
    (status, axum::Json(body)).into_response()
}

fn validation(issues: Vec<ValidationIssue>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(ValidationErrorResponse { detail: issues }),
    )
        .into_response()
}

fn domain(root: &'static str, e: Error) -> Response {
    match e {
        Error::NotFound => error(StatusCode::NOT_FOUND, "not_found", "Not found."),
        Error::Unauthenticated => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "not_authenticated",
                "Authentication credentials were not provided or are no longer valid.",
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
        Error::InvalidCredentials => error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Invalid email or password.",
        ),
        Error::Forbidden { code, detail } => error(StatusCode::FORBIDDEN, code, detail),
        // SpatialFlow declares no 409 on its workspace operations: a state conflict is a bad
        // request there. Accepting an invitation for another email is its one documented 409.
        Error::Conflict { code, detail } => {
            let status = if code == "invitation_email_mismatch" {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            error(status, code, detail)
        }
        Error::Validation(fields) => validation(
            fields
                .into_iter()
                .map(|f| ValidationIssue {
                    kind: f.code.to_owned(),
                    loc: vec![root.into(), f.field.into()],
                    msg: f.message,
                    ctx: None,
                })
                .collect(),
        ),
        Error::RateLimited { retry_after } => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("Too many requests; retry in {retry_after} seconds."),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            r
        }
        Error::QuotaExceeded {
            retry_after,
            detail,
        } => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", detail);
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            r
        }
        Error::Unavailable => {
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "The service cannot reach its database; retry shortly.",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Error::Internal(e) => {
            let mut r = error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "An internal error occurred; it has been logged.",
            );
            r.extensions_mut()
                .insert(InternalErrorReport(format!("{e:#}")));
            r
        }
    }
}

impl IntoResponse for SfError {
    fn into_response(self) -> Response {
        match self {
            SfError::Domain(e) => domain("body", e),
            SfError::At(root, e) => domain(root, e),
            SfError::Invalid(issues) => validation(issues),
            SfError::Status(status, code, detail) => error(status, code, detail),
        }
    }
}
