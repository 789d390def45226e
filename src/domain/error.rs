//! The one domain error. Each API surface renders it with one exhaustive match.

use crate::store::StoreError;

/// A field that failed validation, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, as named in the request (`email`, `password`, …).
    pub field: String,
    /// A stable machine code (`invalid`, `too_long`, `required`, …).
    pub code: &'static str,
    /// A human-readable explanation.
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }
}

/// Everything a domain call can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist, or the caller may not know that it does.
    #[error("not found")]
    NotFound,
    /// No valid credential was presented (or it has been revoked or has expired).
    #[error("authentication required")]
    Unauthenticated,
    /// Email and password do not match an account (the same for both causes).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// A proof other than a bearer credential was refused (an MFA ticket, a second-factor
    /// code): 401 with a code saying which.
    #[error("{detail}")]
    Rejected { code: &'static str, detail: String },
    /// The caller is known but not allowed to do this.
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    /// The request conflicts with the current state.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// Nothing of this kind exists right now (no pending ownership transfer): 404 with a code
    /// saying what is missing, where plain `NotFound` would hide which.
    #[error("{detail}")]
    Missing { code: &'static str, detail: String },
    /// Something that could have been used once and no longer can (an expired ownership
    /// transfer): 410 with a code saying what.
    #[error("{detail}")]
    Gone { code: &'static str, detail: String },
    /// An emailed link (email verification, password reset) that cannot be used.
    #[error("{}", .0.detail())]
    LinkRefused(LinkFault),
    /// The input is not acceptable.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// Too many attempts; retry after this many seconds.
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    /// The workspace's plan allows no more usage this month; retry after this many seconds.
    #[error("{detail}")]
    QuotaExceeded { retry_after: u64, detail: String },
    /// A dependency (the database) is unreachable right now.
    #[error("service unavailable")]
    Unavailable,
    /// A bug or an unexpected failure; logged once, never shown to the caller.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Why an emailed link is refused. Unknown and malformed tokens are one case (`Invalid`), so
/// nothing tells them apart; the others name a real link that no longer works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFault {
    /// Malformed, unknown, or a link of another kind.
    Invalid,
    Expired,
    Used,
    /// A newer link of the same kind was sent, or the address changed since.
    Superseded,
}

impl LinkFault {
    /// The stable machine code.
    pub fn code(self) -> &'static str {
        match self {
            LinkFault::Invalid => "token_invalid",
            LinkFault::Expired => "token_expired",
            LinkFault::Used => "token_used",
            LinkFault::Superseded => "token_superseded",
        }
    }

    pub fn detail(self) -> &'static str {
        match self {
            LinkFault::Invalid => "this link is not valid",
            LinkFault::Expired => "this link has expired; ask for a new one",
            LinkFault::Used => "this link has already been used",
            LinkFault::Superseded => "a newer link was sent; use the latest one",
        }
    }

    /// A real link that worked once and no longer does (410), rather than a bad one (400).
    pub fn gone(self) -> bool {
        self != LinkFault::Invalid
    }
}

/// The result of a domain call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn rejected(code: &'static str, detail: impl Into<String>) -> Self {
        Error::Rejected {
            code,
            detail: detail.into(),
        }
    }

    pub fn missing(code: &'static str, detail: impl Into<String>) -> Self {
        Error::Missing {
            code,
            detail: detail.into(),
        }
    }

    pub fn gone(code: &'static str, detail: impl Into<String>) -> Self {
        Error::Gone {
            code,
            detail: detail.into(),
        }
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Error::Forbidden {
            code,
            detail: detail.into(),
        }
    }
}

/// What a storage failure means when the call site expected none: a missing row the call
/// needed is `NotFound`; a constraint the call did not anticipate is a bug.
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::NotFound,
            StoreError::Unavailable(_) => Error::Unavailable,
            StoreError::Conflict(c) => {
                Error::Internal(anyhow::anyhow!("unexpected constraint violation: {c:?}"))
            }
            StoreError::Other(e) => Error::Internal(e),
        }
    }
}
