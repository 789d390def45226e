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

/// What a sign-in with an unknown email is verified against, so that both failures cost the
/// same: the hash of a random password nobody kept, with the parameters every new hash gets.
/// A constant rather than a hash computed at start-up, which kept argon2's 19 MiB working
/// buffer resident in the main thread from the first moment (measured in docs/BENCHMARKS.md).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$mqE3u6KiDOsrxDFgoTI8FQ$EQcpZvG/+UX66nnHjUo5jZDFjzKt7itBe0Y/J2gHTy8";

/// Hashes and verifies passwords, at most `limit` at a time.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Passwords {
    pub fn new(limit: usize) -> Result<Self> {
        Ok(Passwords {
            permits: Arc::new(Semaphore::new(limit)),
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
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_has_the_parameters_of_every_new_hash() {
        let dummy = PasswordHash::new(DUMMY_HASH).expect("a PHC string");
        let fresh = hash_now("a password of the same cost").expect("hash");
        let fresh = PasswordHash::new(&fresh).expect("a PHC string");
        assert_eq!(dummy.algorithm, fresh.algorithm);
        assert_eq!(dummy.version, fresh.version);
        assert_eq!(dummy.params, fresh.params);
        assert_eq!(dummy.hash.map(|h| h.len()), fresh.hash.map(|h| h.len()));
    }
}
