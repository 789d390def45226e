//! Personal API keys: `rk_` + 32 random bytes, shown once, stored as SHA-256.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{audit::Actor, secret, session::RequestMeta, Core, Error, Result};
use crate::store::NewApiKey;

/// Prefix of every API key.
pub const API_KEY_PREFIX: &str = "rk_";
/// How many leading characters of a key are kept in clear to recognise it.
const VISIBLE_PREFIX_LEN: usize = 11;
/// The longest key name, in characters.
pub const MAX_KEY_NAME_LEN: usize = 100;

/// An API key as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: Option<String>,
    pub prefix: String,
    pub read_only: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What creating a key takes.
#[derive(Debug, Default)]
pub struct NewKey {
    pub name: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub read_only: bool,
}

impl Core {
    /// Creates a key for `user_id`; the secret is in the answer and nowhere else.
    pub async fn create_api_key(
        &self,
        user_id: Uuid,
        input: NewKey,
        meta: &RequestMeta,
    ) -> Result<(ApiKey, String)> {
        let now = self.clock.now();
        let name = match input.name.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) if n.chars().count() > MAX_KEY_NAME_LEN => {
                return Err(Error::invalid(
                    "name",
                    "too_long",
                    format!("a key name has at most {MAX_KEY_NAME_LEN} characters"),
                ))
            }
            Some(n) if n.chars().any(char::is_control) => {
                return Err(Error::invalid(
                    "name",
                    "invalid",
                    "a key name has no control characters",
                ))
            }
            Some(n) => Some(n.to_owned()),
        };
        if input.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::invalid(
                "expires_at",
                "in_past",
                "the expiry must be in the future",
            ));
        }
        let secret = secret::generate(API_KEY_PREFIX);
        let key = NewApiKey {
            id: Uuid::now_v7(),
            user_id,
            name,
            prefix: secret.text[..VISIBLE_PREFIX_LEN].to_owned(),
            secret_hash: secret.hash,
            read_only: input.read_only,
            now,
            expires_at: input.expires_at,
        };
        let actor = Actor::new(Some(user_id), meta, now);
        let created = self.store.create_api_key(&key, &actor).await?;
        Ok((created, secret.text))
    }

    /// The user's keys that are not revoked, newest first (expired ones included, marked by
    /// their expiry).
    pub async fn api_keys(&self, user_id: Uuid) -> Result<Vec<ApiKey>> {
        Ok(self.store.api_keys(user_id).await?)
    }

    /// One of the user's keys.
    pub async fn api_key(&self, user_id: Uuid, id: Uuid) -> Result<ApiKey> {
        self.store
            .api_key(user_id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Revokes one of the user's keys; it stops working at once.
    pub async fn revoke_api_key(&self, user_id: Uuid, id: Uuid, meta: &RequestMeta) -> Result<()> {
        let actor = Actor::new(Some(user_id), meta, self.clock.now());
        if self.store.revoke_api_key(user_id, id, &actor).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}
