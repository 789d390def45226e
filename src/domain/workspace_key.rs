//! Workspace API keys (service accounts): `rkw_` + 32 random bytes, shown once, stored as
//! SHA-256; a key of a workspace, holding permissions chosen within its creator's, that
//! authenticates for that workspace only and outlives its creator. Listed, read, renamed,
//! given or relieved of an expiry, revoked, and replaced by a successor with a grace period.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{
    audit, member::lock_actor, permission::Permission, role::beyond_message, secret,
    session::RequestMeta, workspace::Access, Core, Error, Result,
};
use crate::store::NewWorkspaceKey;

/// Prefix of every workspace API key (personal keys have `rk_`).
pub const WORKSPACE_KEY_PREFIX: &str = "rkw_";
/// How many leading characters of a key are kept in clear to recognise it.
const VISIBLE_PREFIX_LEN: usize = 12;
/// The longest key name, in characters.
pub const MAX_NAME_LEN: usize = 100;
/// How long a rotated key keeps working unless told otherwise: seven days.
pub const DEFAULT_GRACE_SECONDS: i64 = 7 * 86_400;
/// The longest grace period a rotation may give the old key: ninety days.
pub const MAX_GRACE_SECONDS: i64 = 90 * 86_400;

/// A workspace API key as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceApiKey {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub prefix: String,
    /// Its permissions as stored: names, space-separated.
    pub permissions: String,
    /// Who created it; `None` once their account is gone (the key lives on).
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Set only on a key revoked by the call that returned it (revoked keys are not listed).
    pub revoked_at: Option<DateTime<Utc>>,
    /// The key that replaced this one in a rotation.
    pub replaced_by: Option<Uuid>,
}

impl WorkspaceApiKey {
    /// The names of its permissions.
    pub fn permission_names(&self) -> Vec<String> {
        self.permissions
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect()
    }
}

/// What creating a workspace key takes.
#[derive(Debug, Default, Clone)]
pub struct NewKey {
    pub name: String,
    /// Permission names (Roster's or the product's).
    pub permissions: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A change to a key: `None` leaves a field alone; `expires_at: Some(None)` clears the expiry.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// A key name: trimmed, 1 to [`MAX_NAME_LEN`] characters, no control characters.
fn key_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "required", "a key needs a name"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(Error::invalid(
            "name",
            "too_long",
            format!("a key name has at most {MAX_NAME_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "invalid",
            "a key name has no control characters",
        ));
    }
    Ok(name.to_owned())
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

/// The grace period of a rotation, in seconds (0 to [`MAX_GRACE_SECONDS`]).
fn grace(seconds: Option<i64>) -> Result<Duration> {
    let seconds = seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
    if !(0..=MAX_GRACE_SECONDS).contains(&seconds) {
        return Err(Error::invalid(
            "grace_seconds",
            "out_of_range",
            format!("the grace period is 0 to {MAX_GRACE_SECONDS} seconds"),
        ));
    }
    Ok(Duration::seconds(seconds))
}

impl Core {
    /// Creates a key of the workspace with `input.permissions`, all of which the creator must
    /// hold themself (re-read in the transaction; 403 `permission_escalation` naming the
    /// others). A person creates keys: a workspace key cannot mint another. The secret is in
    /// the answer and nowhere else.
    pub async fn create_workspace_key(
        &self,
        access: &Access,
        input: NewKey,
        meta: &RequestMeta,
    ) -> Result<(WorkspaceApiKey, String)> {
        access.require(Permission::ApiKeysManage)?;
        access.require_person()?;
        let catalogue = &self.settings.permissions;
        let now = self.clock.now();
        let name = key_name(&input.name)?;
        let grants = catalogue.parse(&input.permissions, "permissions")?;
        future_expiry(input.expires_at, now)?;
        let secret = secret::generate(WORKSPACE_KEY_PREFIX);
        let ws = access.workspace.id;
        let key = NewWorkspaceKey {
            id: Uuid::now_v7(),
            workspace_id: ws,
            name,
            prefix: secret.text[..VISIBLE_PREFIX_LEN].to_owned(),
            secret_hash: secret.hash,
            permissions: catalogue.stored(&grants),
            created_by: access.actor_id(),
            now,
            expires_at: input.expires_at,
        };
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(ws).await?;
        let held = lock_actor(&mut tx, catalogue, access, now).await?;
        held.grants.require(Permission::ApiKeysManage)?;
        let extra = grants.beyond(&held.grants);
        if !extra.is_empty() {
            return Err(Error::forbidden(
                "permission_escalation",
                beyond_message("this key", &extra),
            ));
        }
        let created = tx.insert_workspace_key(&key).await?;
        audit::record(
            &mut tx,
            &audit::workspace_key_created(&actor, &created, None),
        )
        .await?;
        tx.commit().await?;
        Ok((created, secret.text))
    }

    /// The workspace's keys that are not revoked, newest first (expired ones included, marked
    /// by their expiry).
    pub async fn workspace_keys(&self, access: &Access) -> Result<Vec<WorkspaceApiKey>> {
        access.require(Permission::ApiKeysManage)?;
        Ok(self
            .store
            .read()
            .workspace_keys(access.workspace.id)
            .await?)
    }

    /// One of the workspace's unrevoked keys.
    pub async fn workspace_key(&self, access: &Access, id: Uuid) -> Result<WorkspaceApiKey> {
        access.require(Permission::ApiKeysManage)?;
        self.store
            .read()
            .workspace_key(access.workspace.id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Renames a key or changes its expiry (a past expiry is refused; `Some(None)` clears it).
    pub async fn update_workspace_key(
        &self,
        access: &Access,
        id: Uuid,
        patch: KeyPatch,
        meta: &RequestMeta,
    ) -> Result<WorkspaceApiKey> {
        access.require(Permission::ApiKeysManage)?;
        let now = self.clock.now();
        let name = patch.name.as_deref().map(key_name).transpose()?;
        if let Some(at) = patch.expires_at {
            future_expiry(at, now)?;
        }
        let ws = access.workspace.id;
        let catalogue = &self.settings.permissions;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(ws).await?;
        lock_actor(&mut tx, catalogue, access, now)
            .await?
            .grants
            .require(Permission::ApiKeysManage)?;
        let before = tx.workspace_key(ws, id).await?.ok_or(Error::NotFound)?;
        let name = name.unwrap_or_else(|| before.name.clone());
        let expires_at = patch.expires_at.unwrap_or(before.expires_at);
        let after = tx
            .update_workspace_key(ws, id, &name, expires_at)
            .await?
            .ok_or(Error::NotFound)?;
        if let Some(event) = audit::workspace_key_updated(&actor, &before, &after) {
            audit::record(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    /// Revokes a key of the workspace; it stops working at once (on every replica: each
    /// request reads the key).
    pub async fn revoke_workspace_key(
        &self,
        access: &Access,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<()> {
        access.require(Permission::ApiKeysManage)?;
        let ws = access.workspace.id;
        let catalogue = &self.settings.permissions;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(ws).await?;
        lock_actor(&mut tx, catalogue, access, actor.at)
            .await?
            .grants
            .require(Permission::ApiKeysManage)?;
        if !tx.revoke_workspace_key(ws, id, actor.at).await? {
            return Err(Error::NotFound);
        }
        audit::record(&mut tx, &audit::workspace_key_revoked(&actor, ws, id)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a live key by a new one with the same name and permissions (no expiry) and a
    /// new secret; the old key keeps working for `grace_seconds` (default seven days), or
    /// until its own earlier expiry. A key is rotated at most once. The successor's creator is
    /// the person rotating, whose grants must still cover the key's permissions.
    pub async fn rotate_workspace_key(
        &self,
        access: &Access,
        id: Uuid,
        grace_seconds: Option<i64>,
        meta: &RequestMeta,
    ) -> Result<(WorkspaceApiKey, String)> {
        access.require(Permission::ApiKeysManage)?;
        let grace = grace(grace_seconds)?;
        let now = self.clock.now();
        let ws = access.workspace.id;
        let catalogue = &self.settings.permissions;
        let actor = self.actor(access.actor_id(), meta);
        let secret = secret::generate(WORKSPACE_KEY_PREFIX);
        let mut tx = self.store.write_workspace(ws).await?;
        let held = lock_actor(&mut tx, catalogue, access, now).await?;
        held.grants.require(Permission::ApiKeysManage)?;
        let current = tx.workspace_key(ws, id).await?.ok_or(Error::NotFound)?;
        // A key of another workspace is 404 before anything else is judged.
        access.require_person()?;
        if current.replaced_by.is_some() {
            return Err(already_rotated());
        }
        let grants = catalogue.parse_stored(&current.permissions);
        let extra = grants.beyond(&held.grants);
        if !extra.is_empty() {
            return Err(Error::forbidden(
                "permission_escalation",
                beyond_message("this key", &extra),
            ));
        }
        // The successor first: the old key's `replaced_by` refers to it.
        let next = NewWorkspaceKey {
            id: Uuid::now_v7(),
            workspace_id: ws,
            name: current.name.clone(),
            prefix: secret.text[..VISIBLE_PREFIX_LEN].to_owned(),
            secret_hash: secret.hash,
            permissions: catalogue.stored(&grants),
            created_by: access.actor_id(),
            now,
            expires_at: None,
        };
        let key = tx.insert_workspace_key(&next).await?;
        let old = tx
            .mark_workspace_key_replaced(ws, id, key.id, now + grace, now)
            .await?
            // Expired meanwhile, or lost a race with another rotation (the transaction, and
            // with it the successor, is rolled back).
            .ok_or_else(|| {
                Error::conflict(
                    "api_key_expired",
                    "the key has expired; create a new key or give it a new expiry first",
                )
            })?;
        audit::record(&mut tx, &audit::workspace_key_rotated(&actor, &old, key.id)).await?;
        audit::record(
            &mut tx,
            &audit::workspace_key_created(&actor, &key, Some(id)),
        )
        .await?;
        tx.commit().await?;
        Ok((key, secret.text))
    }
}

fn already_rotated() -> Error {
    Error::conflict(
        "api_key_already_rotated",
        "the key has already been rotated; rotate its successor instead",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_name_is_trimmed_and_required() {
        assert_eq!(key_name("  ci  ").expect("ok"), "ci");
        assert!(key_name("   ").is_err());
        assert!(key_name(&"x".repeat(101)).is_err());
        assert!(key_name("a\u{7}").is_err());
    }

    #[test]
    fn the_grace_period_is_bounded() {
        assert_eq!(grace(None).expect("ok"), Duration::days(7));
        assert_eq!(grace(Some(0)).expect("ok"), Duration::zero());
        assert!(grace(Some(-1)).is_err());
        assert!(grace(Some(MAX_GRACE_SECONDS + 1)).is_err());
    }
}
