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

/// One step of a `loc` path: a field name, or the index of a list item.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(
    dead_code,
    reason = "only its schema is used: loc is built as JSON values"
)]
pub enum LocItem {
    Field(String),
    Index(u64),
}

/// One entry of a 422's `detail`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ValidationIssue {
    #[serde(rename = "type")]
    pub kind: String,
    /// e.g. `["body", "email"]`; an item of a list is named by its index (`["body", 0]`).
    #[schema(value_type = Vec<LocItem>)]
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
    /// A domain error on an operation that declares 409 (deleting one's account): a conflict
    /// is answered as 409 there, not 400.
    Conflict(Error),
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

/// A domain error as the dialect states it.
enum Stated {
    Error {
        status: StatusCode,
        code: &'static str,
        detail: String,
        /// A header the answer carries (`WWW-Authenticate`, `Retry-After`).
        header: Option<(header::HeaderName, HeaderValue)>,
        /// What is logged (never shown) for an internal error.
        report: Option<String>,
    },
    Invalid(Vec<ValidationIssue>),
}

fn stated(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Stated {
    Stated::Error {
        status,
        code,
        detail: detail.into(),
        header: None,
        report: None,
    }
}

fn with_header(s: Stated, name: header::HeaderName, value: HeaderValue) -> Stated {
    match s {
        Stated::Error {
            status,
            code,
            detail,
            report,
            ..
        } => Stated::Error {
            status,
            code,
            detail,
            header: Some((name, value)),
            report,
        },
        invalid => invalid,
    }
}

/// The one match from domain errors to the dialect; `root` is where validation issues point.
fn state(root: &'static str, e: Error) -> Stated {
    match e {
        Error::NotFound => stated(StatusCode::NOT_FOUND, "not_found", "Not found."),
        Error::Unauthenticated => with_header(
            stated(
                StatusCode::UNAUTHORIZED,
                "not_authenticated",
                "Authentication credentials were not provided or are no longer valid.",
            ),
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        ),
        Error::InvalidCredentials => stated(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Invalid email or password.",
        ),
        Error::Rejected { code, detail } => stated(StatusCode::UNAUTHORIZED, code, detail),
        Error::Forbidden { code, detail } => stated(StatusCode::FORBIDDEN, code, detail),
        // SpatialFlow declares no 409 on its workspace operations: a state conflict is a bad
        // request there. Accepting an invitation for another email is its one documented 409.
        Error::Conflict { code, detail } => {
            let status = if code == "invitation_email_mismatch" {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            stated(status, code, detail)
        }
        Error::Missing { code, detail } => stated(StatusCode::NOT_FOUND, code, detail),
        // The contract declares 400 for whatever can no longer be used.
        Error::Gone { code, detail } => stated(StatusCode::BAD_REQUEST, code, detail),
        // The contract declares 400 for every refused link.
        Error::LinkRefused(fault) => stated(StatusCode::BAD_REQUEST, fault.code(), fault.detail()),
        Error::Validation(fields) => Stated::Invalid(
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
        Error::RateLimited { retry_after } => with_header(
            stated(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("Too many requests; retry in {retry_after} seconds."),
            ),
            header::RETRY_AFTER,
            HeaderValue::from(retry_after.max(1)),
        ),
        Error::QuotaExceeded {
            retry_after,
            detail,
        } => with_header(
            stated(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", detail),
            header::RETRY_AFTER,
            HeaderValue::from(retry_after.max(1)),
        ),
        Error::Unavailable => with_header(
            stated(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "The service cannot reach its database; retry shortly.",
            ),
            header::RETRY_AFTER,
            HeaderValue::from_static("1"),
        ),
        Error::Internal(e) => Stated::Error {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal_error",
            detail: "An internal error occurred; it has been logged.".into(),
            header: None,
            report: Some(format!("{e:#}")),
        },
    }
}

fn domain(root: &'static str, e: Error) -> Response {
    match state(root, e) {
        Stated::Error {
            status,
            code,
            detail,
            header,
            report,
        } => {
            let mut r = error(status, code, detail);
            if let Some((name, value)) = header {
                r.headers_mut().insert(name, value);
            }
            if let Some(report) = report {
                r.extensions_mut().insert(InternalErrorReport(report));
            }
            r
        }
        Stated::Invalid(issues) => validation(issues),
    }
}

/// The `error_code` and detail of a domain error, for an answer that reports it inside a
/// success (a skipped row of a batch). An internal error is logged here.
pub fn code_and_detail(e: Error) -> (String, String) {
    match state("body", e) {
        Stated::Error {
            code,
            detail,
            report,
            ..
        } => {
            if let Some(report) = report {
                tracing::error!(error = %report, "a row of a batch failed");
            }
            (error_code(code), detail)
        }
        Stated::Invalid(issues) => (
            "VALIDATION_ERROR".to_owned(),
            issues
                .into_iter()
                .next()
                .map_or_else(|| "invalid".to_owned(), |i| i.msg),
        ),
    }
}

impl IntoResponse for SfError {
    fn into_response(self) -> Response {
        match self {
            SfError::Domain(e) => domain("body", e),
            SfError::At(root, e) => domain(root, e),
            SfError::Invalid(issues) => validation(issues),
            SfError::Status(status, code, detail) => error(status, code, detail),
            SfError::Conflict(e) => {
                let conflict = matches!(e, Error::Conflict { .. });
                let mut r = domain("body", e);
                if conflict {
                    *r.status_mut() = StatusCode::CONFLICT;
                }
                r
            }
        }
    }
}
