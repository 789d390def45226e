//! Personal API keys: `rk_` + 32 random bytes, shown once, stored as SHA-256. Keys can be
//! renamed, described, made read-only, given or relieved of an expiry, revoked, given a new
//! secret (regenerate) and replaced by a successor with a grace period (rotate).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{
    audit::{self, Actor},
    secret,
    session::RequestMeta,
    Core, Error, Result,
};
use crate::store::NewApiKey;

/// Prefix of every API key.
pub const API_KEY_PREFIX: &str = "rk_";
/// How many leading characters of a key are kept in clear to recognise it.
const VISIBLE_PREFIX_LEN: usize = 11;
/// The longest key name, in characters.
pub const MAX_KEY_NAME_LEN: usize = 100;
/// The longest key description, in characters.
pub const MAX_KEY_DESCRIPTION_LEN: usize = 500;
/// How long a rotated key keeps working unless told otherwise.
pub const DEFAULT_GRACE_DAYS: i64 = 7;
/// The longest grace period a rotation may give the old key.
pub const MAX_GRACE_DAYS: i64 = 90;
/// The longest look-ahead when listing keys about to expire.
pub const MAX_EXPIRING_DAYS: i64 = 365;

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
    pub description: Option<String>,
    /// Set only on a key revoked by the call that returned it (revoked keys are not listed).
    pub revoked_at: Option<DateTime<Utc>>,
    /// The key that replaced this one in a rotation.
    pub replaced_by: Option<Uuid>,
}

impl ApiKey {
    /// Whether the key authenticates at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|t| t > now)
    }
}

/// What creating a key takes.
#[derive(Debug, Default)]
pub struct NewKey {
    pub name: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub read_only: bool,
    pub description: Option<String>,
}

/// A change to a key: `None` leaves a field alone; `Some(None)` clears a nullable one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApiKeyPatch {
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub read_only: Option<bool>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// `Some(false)` revokes the key in the same change (it stops working at once and is no
    /// longer listed). `Some(true)` asks that the key be usable afterwards: refused for an
    /// expired key unless the same change clears its expiry or sets a future one.
    pub active: Option<bool>,
}

/// A key name: trimmed, at most [`MAX_KEY_NAME_LEN`] characters, no control characters; blank
/// means none.
fn key_name(name: Option<&str>) -> Result<Option<String>> {
    match name.map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) if n.chars().count() > MAX_KEY_NAME_LEN => Err(Error::invalid(
            "name",
            "too_long",
            format!("a key name has at most {MAX_KEY_NAME_LEN} characters"),
        )),
        Some(n) if n.chars().any(char::is_control) => Err(Error::invalid(
            "name",
            "invalid",
            "a key name has no control characters",
        )),
        Some(n) => Ok(Some(n.to_owned())),
    }
}

/// A key description: trimmed, at most [`MAX_KEY_DESCRIPTION_LEN`] characters, no control
/// characters but line breaks and tabs; blank means none.
fn key_description(text: Option<&str>) -> Result<Option<String>> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(d) if d.chars().count() > MAX_KEY_DESCRIPTION_LEN => Err(Error::invalid(
            "description",
            "too_long",
            format!("a key description has at most {MAX_KEY_DESCRIPTION_LEN} characters"),
        )),
        Some(d)
            if d.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
        {
            Err(Error::invalid(
                "description",
                "invalid",
                "a key description has no control characters but line breaks and tabs",
            ))
        }
        Some(d) => Ok(Some(d.to_owned())),
    }
}

/// An expiry must lie in the future.
fn future_expiry(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<()> {
    if at.is_some_and(|at| at <= now) {
        return Err(Error::invalid(
            "expires_at",
            "in_past",
            "the expiry must be in the future",
        ));
    }
    Ok(())
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
        let name = key_name(input.name.as_deref())?;
        let description = key_description(input.description.as_deref())?;
        future_expiry(input.expires_at, now)?;
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
            description,
        };
        let actor = Actor::new(Some(user_id), meta, now);
        let mut tx = self.store.write().await?;
        let created = tx.insert_api_key(&key).await?;
        audit::record(&mut tx, &audit::api_key_created(&actor, &key, None)).await?;
        tx.commit().await?;
        Ok((created, secret.text))
    }

    /// The user's keys that are not revoked, newest first (expired ones included, marked by
    /// their expiry).
    pub async fn api_keys(&self, user_id: Uuid) -> Result<Vec<ApiKey>> {
        Ok(self.store.read().api_keys(user_id).await?)
    }

    /// One of the user's keys.
    pub async fn api_key(&self, user_id: Uuid, id: Uuid) -> Result<ApiKey> {
        self.store
            .read()
            .api_key(user_id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Revokes one of the user's keys; it stops working at once.
    pub async fn revoke_api_key(&self, user_id: Uuid, id: Uuid, meta: &RequestMeta) -> Result<()> {
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        if !tx.revoke_api_key(user_id, id, actor.at).await? {
            return Err(Error::NotFound);
        }
        audit::record(&mut tx, &audit::api_key_revoked(&actor, id)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes one of the user's keys. Clearing the expiry or setting a future one is allowed;
    /// a past expiry is refused. `active: Some(false)` revokes the key; a revoked key is gone
    /// for good, and an expired one becomes usable only through a new expiry.
    pub async fn update_api_key(
        &self,
        user_id: Uuid,
        id: Uuid,
        mut patch: ApiKeyPatch,
        meta: &RequestMeta,
    ) -> Result<ApiKey> {
        let now = self.clock.now();
        if let Some(name) = &patch.name {
            patch.name = Some(key_name(name.as_deref())?);
        }
        if let Some(text) = &patch.description {
            patch.description = Some(key_description(text.as_deref())?);
        }
        if let Some(at) = patch.expires_at {
            future_expiry(at, now)?;
        }
        if patch.active == Some(true) && patch.expires_at.is_none() {
            let current = self.api_key(user_id, id).await?;
            if !current.is_active(now) {
                return Err(expired());
            }
        }
        let actor = Actor::new(Some(user_id), meta, now);
        let mut tx = self.store.write().await?;
        let before = tx.lock_api_key(user_id, id).await?.ok_or(Error::NotFound)?;
        let mut after = before.clone();
        if let Some(name) = patch.name {
            after.name = name;
        }
        if let Some(description) = patch.description {
            after.description = description;
        }
        if let Some(read_only) = patch.read_only {
            after.read_only = read_only;
        }
        if let Some(expires_at) = patch.expires_at {
            after.expires_at = expires_at;
        }
        let revoking = patch.active == Some(false);
        after.revoked_at = revoking.then_some(now);
        let after = tx.update_api_key(&after).await?;
        if let Some(event) = audit::api_key_updated(&actor, &before, &after) {
            audit::record(&mut tx, &event).await?;
        }
        if revoking {
            audit::record(&mut tx, &audit::api_key_revoked(&actor, id)).await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    /// Gives one of the user's live keys a new secret under the same id; the old secret stops
    /// working at once. Of concurrent calls, the last to commit holds the one working secret.
    pub async fn regenerate_api_key(
        &self,
        user_id: Uuid,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(ApiKey, String)> {
        let now = self.clock.now();
        let current = self.api_key(user_id, id).await?;
        if !current.is_active(now) {
            return Err(expired());
        }
        let secret = secret::generate(API_KEY_PREFIX);
        let actor = Actor::new(Some(user_id), meta, now);
        let prefix = &secret.text[..VISIBLE_PREFIX_LEN];
        let mut tx = self.store.write().await?;
        let key = tx
            .set_api_key_secret(user_id, id, prefix, &secret.hash, now)
            .await?
            .ok_or_else(expired)?;
        audit::record(&mut tx, &audit::api_key_regenerated(&actor, id, prefix)).await?;
        tx.commit().await?;
        Ok((key, secret.text))
    }

    /// Replaces one of the user's live keys by a new one with the same name, description and
    /// read-only flag (no expiry); the old key keeps working for `grace_days` (0 to
    /// [`MAX_GRACE_DAYS`]), or until its own earlier expiry. A key is rotated at most once.
    pub async fn rotate_api_key(
        &self,
        user_id: Uuid,
        id: Uuid,
        grace_days: Option<i64>,
        meta: &RequestMeta,
    ) -> Result<(ApiKey, String)> {
        let now = self.clock.now();
        let grace = grace_days.unwrap_or(DEFAULT_GRACE_DAYS);
        if !(0..=MAX_GRACE_DAYS).contains(&grace) {
            return Err(Error::invalid(
                "grace_period_days",
                "out_of_range",
                format!("the grace period is 0 to {MAX_GRACE_DAYS} days"),
            ));
        }
        let current = self.api_key(user_id, id).await?;
        if current.replaced_by.is_some() {
            return Err(already_rotated());
        }
        if !current.is_active(now) {
            return Err(expired());
        }
        let secret = secret::generate(API_KEY_PREFIX);
        let next = NewApiKey {
            id: Uuid::now_v7(),
            user_id,
            name: current.name,
            prefix: secret.text[..VISIBLE_PREFIX_LEN].to_owned(),
            secret_hash: secret.hash,
            read_only: current.read_only,
            now,
            expires_at: None,
            description: current.description,
        };
        let actor = Actor::new(Some(user_id), meta, now);
        let mut tx = self.store.write().await?;
        let old = tx
            .mark_api_key_replaced(user_id, id, next.id, now + Duration::days(grace), now)
            .await?
            // Lost a race with another rotation (or the key expired or went meanwhile).
            .ok_or_else(already_rotated)?;
        audit::record(&mut tx, &audit::api_key_rotated(&actor, &old, next.id)).await?;
        // The successor takes over what the key has now.
        let next = NewApiKey {
            name: old.name.clone(),
            read_only: old.read_only,
            description: old.description.clone(),
            ..next
        };
        let key = tx.insert_api_key(&next).await?;
        audit::record(&mut tx, &audit::api_key_created(&actor, &next, Some(id))).await?;
        tx.commit().await?;
        Ok((key, secret.text))
    }

    /// The user's live keys that expire within `days` (1 to [`MAX_EXPIRING_DAYS`]), soonest
    /// first.
    pub async fn expiring_api_keys(&self, user_id: Uuid, days: i64) -> Result<Vec<ApiKey>> {
        if !(1..=MAX_EXPIRING_DAYS).contains(&days) {
            return Err(Error::invalid(
                "days",
                "out_of_range",
                format!("days is 1 to {MAX_EXPIRING_DAYS}"),
            ));
        }
        let now = self.clock.now();
        let until = now + Duration::days(days);
        let mut keys: Vec<ApiKey> = self
            .store
            .read()
            .api_keys(user_id)
            .await?
            .into_iter()
            .filter(|k| k.expires_at.is_some_and(|t| t > now && t <= until))
            .collect();
        keys.sort_by_key(|k| (k.expires_at, k.id));
        Ok(keys)
    }
}

fn expired() -> Error {
    Error::conflict(
        "api_key_expired",
        "the key has expired; create a new key or give it a new expiry first",
    )
}

fn already_rotated() -> Error {
    Error::conflict(
        "api_key_already_rotated",
        "the key has already been rotated; rotate its successor instead",
    )
}
