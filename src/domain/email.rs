//! `Email`: parsed once at the edge, so a malformed address never reaches storage.

use super::{Error, Result};

/// An email address as the user wrote it (trimmed), plus the key it is compared by:
/// lower-cased, and no other folding (`+tags` and dots stay significant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    address: String,
    key: String,
}

/// The longest address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

impl Email {
    /// Parses `raw` as reported under the field name `field`.
    pub fn parse_field(field: &str, raw: &str) -> Result<Email> {
        let address = raw.trim();
        if address.is_empty() {
            return Err(Error::invalid(
                field,
                "required",
                "an email address is required",
            ));
        }
        if address.chars().count() > MAX_EMAIL_LEN {
            return Err(Error::invalid(
                field,
                "too_long",
                format!("an email address has at most {MAX_EMAIL_LEN} characters"),
            ));
        }
        let valid = match address.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !address
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
            }
            None => false,
        };
        if !valid {
            return Err(Error::invalid(
                field,
                "invalid",
                "not a valid email address",
            ));
        }
        Ok(Email {
            address: address.to_owned(),
            key: address.to_lowercase(),
        })
    }

    pub fn parse(raw: &str) -> Result<Email> {
        Self::parse_field("email", raw)
    }

    /// The address as written, trimmed.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The comparison key: trimmed and lower-cased.
    pub fn key(&self) -> &str {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_keyed_case_insensitively() {
        let e = Email::parse("  Ada.Lovelace+x@Example.COM ").expect("valid");
        assert_eq!(e.as_str(), "Ada.Lovelace+x@Example.COM");
        assert_eq!(e.key(), "ada.lovelace+x@example.com");
    }

    #[test]
    fn malformed_and_oversized_addresses_are_refused() {
        for bad in [
            "",
            "   ",
            "no-at-sign",
            "@example.com",
            "a@",
            "a b@example.com",
            "a@b@c",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(1000));
        assert!(Email::parse(&long).is_err());
    }
}
