//! Password hashing with argon2id (m = 19 MiB, t = 2, p = 1, the crate's defaults), on a small
//! pool of threads of its own: parallel sign-ins queue for it rather than exhaust memory or
//! take every core, and argon2's working memory stays with those few threads instead of
//! spreading over the runtime's growing pool of blocking threads.

use argon2::{
    password_hash::{
        rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
    },
    Argon2,
};
use secrecy::{ExposeSecret, SecretString};

use super::{Error, Result};
use crate::job_threads::JobThreads;

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

/// Hashes and verifies passwords on `limit` threads of their own, in the order asked.
#[derive(Clone)]
pub struct Passwords {
    threads: JobThreads<()>,
}

impl Passwords {
    /// Starts the `limit` hashing threads; they end when the last `Passwords` is dropped.
    pub fn new(limit: usize) -> Result<Self> {
        let threads = JobThreads::start("roster-hash", limit, || ())
            .map_err(|e| Error::Internal(anyhow::anyhow!("starting a hashing thread: {e}")))?;
        Ok(Passwords { threads })
    }

    /// Runs `work` on a hashing thread, unless the caller has stopped waiting by then (a
    /// request cancelled while queued costs no hash).
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        self.threads
            .run(move |()| work())
            .await
            .map_err(|e| Error::Internal(e.into()))
    }

    /// Hashes a password into its PHC string.
    pub async fn hash(&self, password: SecretString) -> Result<String> {
        self.run(move || hash_now(password.expose_secret())).await?
    }

    /// True when `password` matches `stored`; with no stored hash, verifies against a dummy
    /// hash and answers false, taking the same time.
    pub async fn verify(&self, password: SecretString, stored: Option<String>) -> Result<bool> {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let ok = self
            .run(move || {
                PasswordHash::new(&phc).is_ok_and(|parsed| {
                    Argon2::default()
                        .verify_password(password.expose_secret().as_bytes(), &parsed)
                        .is_ok()
                })
            })
            .await?;
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

    #[tokio::test]
    async fn a_hash_made_on_the_pool_verifies_and_a_wrong_password_does_not() {
        let pool = Passwords::new(1).expect("pool");
        let stored = pool
            .hash("correct horse battery".to_owned().into())
            .await
            .expect("hash");
        assert!(pool
            .verify(
                "correct horse battery".to_owned().into(),
                Some(stored.clone())
            )
            .await
            .expect("verify"));
        assert!(!pool
            .verify("wrong horse battery".to_owned().into(), Some(stored))
            .await
            .expect("verify"));
        assert!(!pool
            .verify("correct horse battery".to_owned().into(), None)
            .await
            .expect("verify"));
    }

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
