//! Rate limits, and the stricter rules a caller (an API surface with a tighter contract) may
//! ask a domain call to apply on top of the permanent ones: extra rate budgets, refusals, how
//! role words map onto roles. The rules live here and in the calls that take them; each surface
//! names its `Policy`, and the dialects' values are the constants at the end.

use chrono::{DateTime, Utc};

use super::{
    role::{Assignment, Role, RoleName},
    Error, Result,
};
use crate::store::Tx;

/// A fixed-window counter: at most `limit` hits per `window_secs` for `bucket` (0: no limit).
#[derive(Debug, Clone)]
pub struct RateLimit {
    pub bucket: String,
    pub window_secs: i64,
    pub limit: u32,
}

/// Counts one hit against each limit inside `tx`, in bucket order (so concurrent callers lock
/// alike), after the permission checks of the change it guards. When any is over its limit the
/// answer is `RateLimited` with the longest wait, and the caller's transaction, rolled back,
/// uncounts every hit: a refused attempt is not counted.
pub(crate) async fn charge(
    tx: &mut Tx<'_>,
    limits: &[RateLimit],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut ordered: Vec<&RateLimit> = limits.iter().filter(|l| l.limit > 0).collect();
    ordered.sort_by(|a, b| a.bucket.cmp(&b.bucket));
    let t = now.timestamp();
    let mut wait: Option<u64> = None;
    for limit in ordered {
        let window = t - t.rem_euclid(limit.window_secs);
        let hits = tx.hit_rate_limit(&limit.bucket, window).await?;
        if hits > i64::from(limit.limit) {
            let retry_after = (window + limit.window_secs - t).max(1).unsigned_abs();
            wait = Some(wait.unwrap_or(0).max(retry_after));
        }
    }
    match wait {
        Some(retry_after) => Err(Error::RateLimited { retry_after }),
        None => Ok(()),
    }
}

/// Takes back one hit `charge` counted against `limit` in this transaction (an attempt that
/// turned out right, when only wrong ones count).
pub(crate) async fn refund(tx: &mut Tx<'_>, limit: &RateLimit, now: DateTime<Utc>) -> Result<()> {
    if limit.limit > 0 {
        let t = now.timestamp();
        let window = t - t.rem_euclid(limit.window_secs);
        tx.unhit_rate_limit(&limit.bucket, window).await?;
    }
    Ok(())
}

/// `charge` in a transaction of its own, committed when every limit allows the attempt.
pub(crate) async fn charge_alone(
    store: &crate::store::Store,
    limits: &[RateLimit],
    now: DateTime<Utc>,
) -> Result<()> {
    if limits.iter().all(|l| l.limit == 0) {
        return Ok(());
    }
    let mut tx = store.write().await?;
    charge(&mut tx, limits, now).await?;
    tx.commit().await?;
    Ok(())
}

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

/// Extra budgets on an attempt to sign in, refresh or sign up: per client IP and per subject
/// (the email of a sign-in or sign-up; the presented refresh token, counted by its hash).
/// Every attempt that reaches the check is counted, whatever its outcome; an attempt refused
/// by a budget is not (the refusal changes nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttemptLimits {
    pub per_ip: Option<Quota>,
    pub per_subject: Option<Quota>,
}

impl AttemptLimits {
    /// No extra budget.
    pub const NONE: AttemptLimits = AttemptLimits {
        per_ip: None,
        per_subject: None,
    };

    /// The counters one attempt of `kind` (`login`, `refresh`, `signup`) is charged to. No
    /// per-IP counter when the client address is unknown.
    pub(crate) fn counters(&self, kind: &str, ip: Option<&str>, subject: &str) -> Vec<RateLimit> {
        let mut counters = Vec::with_capacity(2);
        if let (Some(quota), Some(ip)) = (self.per_ip, ip) {
            counters.push(quota.limit(format!("{kind}_ip:{}", ip_bucket(ip))));
        }
        if let Some(quota) = self.per_subject {
            counters.push(quota.limit(format!("{kind}_subject:{}", subject_key(subject))));
        }
        counters
    }
}

/// What a counter keyed by something the client typed (an email, a token) is named by: trimmed,
/// lower-cased, without control characters and at most 300 characters, so that the raw input
/// is never what reaches the database, whether or not it later turns out valid.
pub(crate) fn subject_key(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(char::to_lowercase)
        .take(300)
        .collect()
}

/// How role words of a surface map onto roles when they are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleWords {
    /// `editor` written to a field worker keeps them a field worker: the surface shows both
    /// with one word, so writing back what it read must change nothing. Judged inside the
    /// role change's transaction.
    pub editor_keeps_field_worker: bool,
    /// A custom role is shown as the word of its base: writing that word back keeps the custom
    /// role (the surface cannot name custom roles).
    pub base_word_keeps_custom: bool,
}

impl RoleWords {
    /// What a role written on this surface asks for, given the member's current role: `None`
    /// keeps the current role (the word written is the one the surface shows for it).
    pub fn written(&self, role: RoleName, current: &Assignment) -> Option<RoleName> {
        let RoleName::Builtin(word) = role else {
            return Some(role);
        };
        let field_worker_as_editor =
            self.editor_keeps_field_worker && current.base == Role::FieldWorker;
        let shown = if field_worker_as_editor {
            Role::Editor
        } else {
            current.base
        };
        let keeps = word == shown
            && (field_worker_as_editor
                || (self.base_word_keeps_custom && current.custom.is_some()));
        (!keeps).then_some(RoleName::Builtin(word))
    }
}

/// What one surface asks of the domain beyond the permanent rules.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Sign-in: extra budgets, and whether the session is bound to the primary workspace (for
    /// clients that see one workspace at a time: a removal or downgrade there ends it).
    pub login: AttemptLimits,
    pub bind_login_to_primary: bool,
    pub refresh: AttemptLimits,
    pub signup: AttemptLimits,
    /// A budget per workspace on revoking every session of it.
    pub revoke_all: Option<Quota>,
    pub resend: ResendPolicy,
    pub batch_resend: BatchResendPolicy,
    pub role_words: RoleWords,
    /// The most members a listing without paging answers with (oldest first).
    pub member_list: u32,
    /// The bounds on a webhook endpoint's own delivery settings.
    pub webhook_settings: WebhookBounds,
}

/// The values a surface accepts for an endpoint's delivery settings, each `(least, most)`
/// (the database's checks are the native ones).
#[derive(Debug, Clone, Copy)]
pub struct WebhookBounds {
    pub max_retries: (i64, i64),
    pub timeout_seconds: (i64, i64),
    pub rate_limit_per_minute: (i64, i64),
}

/// The native API: the permanent rules only.
pub const NATIVE: Policy = Policy {
    login: AttemptLimits::NONE,
    bind_login_to_primary: false,
    refresh: AttemptLimits::NONE,
    signup: AttemptLimits::NONE,
    revoke_all: None,
    resend: ResendPolicy {
        refuse_expired: false,
    },
    batch_resend: BatchResendPolicy {
        max_rows: super::paging::MAX_LIMIT,
        quota: None,
        resend: ResendPolicy {
            refuse_expired: false,
        },
    },
    role_words: RoleWords {
        editor_keeps_field_worker: false,
        base_word_keeps_custom: false,
    },
    member_list: super::paging::MAX_LIMIT,
    webhook_settings: WebhookBounds {
        max_retries: (0, 100),
        timeout_seconds: (1, 300),
        rate_limit_per_minute: (1, 100_000),
    },
};

/// The SpatialFlow contract (docs/API-DESIGN.md): sign-in 60 a minute per client IP and 15 a
/// minute per email (on top of the service-wide per-email limit); refresh 100 a minute per IP
/// and 30 per token; sign-up 10 an hour per IP and 3 per email; one revoke-all a minute per
/// workspace; no resending an expired invitation (invite again); batch resends of at most 200
/// rows, 10 calls an hour per user. Sessions are bound to the primary workspace. The member
/// listing answers at most 500 members (`truncated` says when more exist).
pub const SPATIALFLOW: Policy = Policy {
    login: AttemptLimits {
        per_ip: Some(Quota::per_minute(60)),
        per_subject: Some(Quota::per_minute(15)),
    },
    bind_login_to_primary: true,
    refresh: AttemptLimits {
        per_ip: Some(Quota::per_minute(100)),
        per_subject: Some(Quota::per_minute(30)),
    },
    signup: AttemptLimits {
        per_ip: Some(Quota::per_hour(10)),
        per_subject: Some(Quota::per_hour(3)),
    },
    revoke_all: Some(Quota::per_minute(1)),
    resend: ResendPolicy {
        refuse_expired: true,
    },
    batch_resend: BatchResendPolicy {
        max_rows: 200,
        quota: Some(Quota::per_hour(10)),
        resend: ResendPolicy {
            refuse_expired: true,
        },
    },
    role_words: RoleWords {
        editor_keeps_field_worker: false,
        base_word_keeps_custom: true,
    },
    member_list: 500,
    // The SDK's own bounds on `CreateWebhookRequest`.
    webhook_settings: WebhookBounds {
        max_retries: (0, 10),
        timeout_seconds: (1, 300),
        rate_limit_per_minute: (1, 1000),
    },
};

/// The Pupil Cloud v2 contract: `EDITOR` names both editor and field worker; the member
/// listing (an array, with no paging in the contract) answers the 500 oldest members.
pub const PUPIL: Policy = Policy {
    role_words: RoleWords {
        editor_keeps_field_worker: true,
        base_word_keeps_custom: true,
    },
    member_list: 500,
    ..NATIVE
};

/// The client an IP address stands for: an IPv4 address itself (also when IPv4-mapped), an
/// IPv6 address by its /64, which one client usually holds whole.
fn ip_bucket(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let net = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(net))
            }
        },
        Err(_) => ip.chars().take(64).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_itself() {
        assert_eq!(ip_bucket("203.0.113.9"), "203.0.113.9");
        assert_eq!(ip_bucket("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(ip_bucket("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(ip_bucket("2001:db8:1:2:bbbb::7"), "2001:db8:1:2::/64");
    }

    #[test]
    fn an_attempt_is_charged_per_ip_and_per_subject_only_where_asked() {
        let both = AttemptLimits {
            per_ip: Some(Quota::per_minute(60)),
            per_subject: Some(Quota::per_hour(3)),
        };
        let c = both.counters("signup", Some("127.0.0.1"), "a@example.com");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].bucket, "signup_ip:127.0.0.1");
        assert_eq!((c[0].limit, c[0].window_secs), (60, 60));
        assert_eq!(c[1].bucket, "signup_subject:a@example.com");
        assert_eq!((c[1].limit, c[1].window_secs), (3, 3600));
        assert_eq!(both.counters("signup", None, "a@example.com").len(), 1);
        assert!(AttemptLimits::NONE
            .counters("login", Some("127.0.0.1"), "x")
            .is_empty());
    }
}
