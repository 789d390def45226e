//! Stricter rules a caller (an API surface with a tighter contract) may ask a domain call to
//! apply on top of the permanent ones: extra rate budgets and refusals. The rules live here and
//! in the calls that take them; a surface only chooses the values.

use crate::store::RateLimit;

/// An extra budget: at most `limit` calls per `window_secs` per bucket (0: no budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub window_secs: i64,
}

impl Quota {
    pub const fn per_hour(limit: u32) -> Quota {
        Quota {
            limit,
            window_secs: 3600,
        }
    }

    pub const fn per_minute(limit: u32) -> Quota {
        Quota {
            limit,
            window_secs: 60,
        }
    }

    /// The counter of this budget for `bucket`.
    pub fn limit(&self, bucket: String) -> RateLimit {
        RateLimit {
            bucket,
            window_secs: self.window_secs,
            limit: self.limit,
        }
    }
}

/// How a resend is judged.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResendPolicy {
    /// Refuse an invitation that has expired (the caller must invite again) instead of
    /// reissuing it.
    pub refuse_expired: bool,
}

/// How a batch resend is judged.
#[derive(Debug, Clone, Copy)]
pub struct BatchResendPolicy {
    /// The most rows one call handles.
    pub max_rows: u32,
    /// Charged once per call that reissues at least one row, per user.
    pub quota: Option<Quota>,
    pub resend: ResendPolicy,
}
