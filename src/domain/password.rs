//! Password hashing with argon2id (m = 19 MiB, t = 2, p = 1, the crate's defaults), on blocking
//! threads behind a semaphore so parallel sign-ins cannot exhaust memory.

use std::sync::Arc;

use argon2::{
    password_hash::{
        rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
    },
    Argon2,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use super::{Error, Result};

/// Shortest and longest accepted password, in characters.
pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 256;

/// Checks a new password: 8 to 256 characters, any of them but NUL (which no client sends on
/// purpose, and which C-based verifiers elsewhere would cut the password at); reported under
/// `field`.
pub fn validate(field: &str, password: &SecretString) -> Result<()> {
    if password.expose_secret().contains('\0') {
        return Err(Error::invalid(
            field,
            "invalid",
            "a password must not contain the NUL character",
        ));
    }
    let n = password.expose_secret().chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(Error::invalid(
            field,
            "too_short",
            format!("a password has at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(Error::invalid(
            field,
            "too_long",
            format!("a password has at most {MAX_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// Hashes and verifies passwords, at most `limit` at a time.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Verified against when the email is unknown, so both failures cost the same.
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new(limit: usize) -> Result<Self> {
        let dummy = hash_now("roster-dummy-password-for-timing")?;
        Ok(Passwords {
            permits: Arc::new(Semaphore::new(limit)),
            dummy_hash: dummy.into(),
        })
    }

    /// Hashes a password into its PHC string.
    pub async fn hash(&self, password: SecretString) -> Result<String> {
        let _permit = self.permits.acquire().await.map_err(anyhow::Error::from)?;
        tokio::task::spawn_blocking(move || hash_now(password.expose_secret()))
            .await
            .map_err(anyhow::Error::from)?
    }

    /// True when `password` matches `stored`; with no stored hash, verifies against a dummy
    /// hash and answers false, taking the same time.
    pub async fn verify(&self, password: SecretString, stored: Option<String>) -> Result<bool> {
        let _permit = self.permits.acquire().await.map_err(anyhow::Error::from)?;
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&phc).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.expose_secret().as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .map_err(anyhow::Error::from)?;
        Ok(known && ok)
    }
}

fn hash_now(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}
