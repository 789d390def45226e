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
            let subject: String = subject.chars().take(300).collect();
            counters.push(quota.limit(format!("{kind}_subject:{subject}")));
        }
        counters
    }
}

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
