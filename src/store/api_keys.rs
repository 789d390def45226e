//! Personal API keys: insert, read, the per-request check by secret hash, last use, changes,
//! revocation, a new secret, and the claim of a rotation.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{db::Db, ts::Ts, StoreResult};
use crate::domain::api_key::ApiKey;

const API_KEY_COLUMNS: &str = "id, user_id, name, prefix, read_only, created_at, \
     last_used_at, expires_at, description, revoked_at, replaced_by";

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: Uuid,
    user_id: Uuid,
    name: Option<String>,
    prefix: String,
    read_only: bool,
    created_at: Ts,
    last_used_at: Option<Ts>,
    expires_at: Option<Ts>,
    description: Option<String>,
    revoked_at: Option<Ts>,
    replaced_by: Option<Uuid>,
}

super::sqlite_read::read_row!(ApiKeyRow {
    id,
    user_id,
    name,
    prefix,
    read_only,
    created_at,
    last_used_at,
    expires_at,
    description,
    revoked_at,
    replaced_by
});

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            prefix: r.prefix,
            read_only: r.read_only,
            created_at: r.created_at.0,
            last_used_at: r.last_used_at.map(|t| t.0),
            expires_at: r.expires_at.map(|t| t.0),
            description: r.description,
            revoked_at: r.revoked_at.map(|t| t.0),
            replaced_by: r.replaced_by,
        }
    }
}

/// A new API key (its secret only as a hash).
#[derive(Clone)]
pub struct NewApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: Option<String>,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub read_only: bool,
    pub now: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub description: Option<String>,
}

/// What the per-request check of an API key finds.
#[derive(Debug, Clone, Copy)]
pub struct ApiKeyAuth {
    pub id: Uuid,
    pub user_id: Uuid,
    pub read_only: bool,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
pub(super) struct ApiKeyAuthRow {
    key_id: Uuid,
    key_user_id: Uuid,
    key_read_only: bool,
    key_last_used_at: Option<Ts>,
}

super::sqlite_read::read_row!(ApiKeyAuthRow {
    key_id,
    key_user_id,
    key_read_only,
    key_last_used_at
});

impl From<ApiKeyAuthRow> for ApiKeyAuth {
    fn from(r: ApiKeyAuthRow) -> Self {
        ApiKeyAuth {
            id: r.key_id,
            user_id: r.key_user_id,
            read_only: r.key_read_only,
            last_used_at: r.key_last_used_at.map(|t| t.0),
        }
    }
}

/// The columns of `ApiKeyAuthRow`, read through the alias `k`.
pub(super) const API_KEY_AUTH_COLUMNS: &str = "k.id AS key_id, k.user_id AS key_user_id, \
     k.read_only AS key_read_only, k.last_used_at AS key_last_used_at";

/// The condition of a live key with the secret hash `$1` at the time `$2`, through the alias `k`.
pub(super) const LIVE_KEY: &str = "k.secret_hash = $1 AND k.revoked_at IS NULL \
     AND (k.expires_at IS NULL OR k.expires_at > $2)";

impl Db<'_> {
    pub async fn insert_api_key(&mut self, k: &NewApiKey) -> StoreResult<ApiKey> {
        let row: ApiKeyRow = self
            .one(
                &format!(
                    "INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, read_only, \
                     created_at, expires_at, description) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {API_KEY_COLUMNS}"
                ),
                &[
                    k.id.into(),
                    k.user_id.into(),
                    (&k.name).into(),
                    (&k.prefix).into(),
                    (&k.secret_hash).into(),
                    k.read_only.into(),
                    k.now.into(),
                    k.expires_at.into(),
                    (&k.description).into(),
                ],
            )
            .await?;
        Ok(row.into())
    }

    /// A user's unrevoked keys, newest first.
    pub async fn api_keys(&mut self, user_id: Uuid) -> StoreResult<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = self
            .all(
                &format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE user_id = $1 \
                     AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
                ),
                &[user_id.into()],
            )
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// One of a user's unrevoked keys.
    pub async fn api_key(&mut self, user_id: Uuid, id: Uuid) -> StoreResult<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = self
            .optional(
                &format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = $1 AND user_id = $2 \
                     AND revoked_at IS NULL"
                ),
                &[id.into(), user_id.into()],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// Reads one of a user's unrevoked keys and locks it until the transaction ends (a no-op
    /// write, which takes the row lock on PostgreSQL).
    pub async fn lock_api_key(&mut self, user_id: Uuid, id: Uuid) -> StoreResult<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = self
            .optional(
                &format!(
                    "UPDATE api_keys SET revoked_at = revoked_at \
                     WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL \
                     RETURNING {API_KEY_COLUMNS}"
                ),
                &[id.into(), user_id.into()],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// Writes a key's name, description, read-only flag, expiry and revocation time as `k`
    /// has them.
    pub async fn update_api_key(&mut self, k: &ApiKey) -> StoreResult<ApiKey> {
        let row: ApiKeyRow = self
            .one(
                &format!(
                    "UPDATE api_keys SET name = $3, description = $4, read_only = $5, \
                     expires_at = $6, revoked_at = $7 WHERE id = $1 AND user_id = $2 \
                     RETURNING {API_KEY_COLUMNS}"
                ),
                &[
                    k.id.into(),
                    k.user_id.into(),
                    (&k.name).into(),
                    (&k.description).into(),
                    k.read_only.into(),
                    k.expires_at.into(),
                    k.revoked_at.into(),
                ],
            )
            .await?;
        Ok(row.into())
    }

    /// Revokes one of a user's unrevoked keys; false when there is none.
    pub async fn revoke_api_key(
        &mut self,
        user_id: Uuid,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = self
            .execute(
                "UPDATE api_keys SET revoked_at = $3 \
                 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
                &[id.into(), user_id.into(), at.into()],
            )
            .await?;
        Ok(done == 1)
    }

    /// Gives one of a user's live keys a new secret; `None` when there is no such live key.
    pub async fn set_api_key_secret(
        &mut self,
        user_id: Uuid,
        id: Uuid,
        prefix: &str,
        secret_hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = self
            .optional(
                &format!(
                    "UPDATE api_keys SET prefix = $3, secret_hash = $4 \
                     WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL \
                     AND (expires_at IS NULL OR expires_at > $5) RETURNING {API_KEY_COLUMNS}"
                ),
                &[
                    id.into(),
                    user_id.into(),
                    prefix.into(),
                    secret_hash.into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// Marks one of a user's live, not yet rotated keys as replaced by `successor`, to expire at
    /// `until` (or earlier, if it already expires earlier). The conditional update is the claim:
    /// of two concurrent rotations one gets `None`.
    pub async fn mark_api_key_replaced(
        &mut self,
        user_id: Uuid,
        id: Uuid,
        successor: Uuid,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = self
            .optional(
                &format!(
                    "UPDATE api_keys SET replaced_by = $3, expires_at = CASE \
                     WHEN expires_at IS NOT NULL AND expires_at < $4 THEN expires_at ELSE $4 END \
                     WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL \
                     AND replaced_by IS NULL AND (expires_at IS NULL OR expires_at > $5) \
                     RETURNING {API_KEY_COLUMNS}"
                ),
                &[
                    id.into(),
                    user_id.into(),
                    successor.into(),
                    until.into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// The per-request check of an API key: by hash, not revoked, not expired.
    pub async fn api_key_auth(
        &mut self,
        secret_hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKeyAuth>> {
        // The per-request read: its text is written out, not formatted per request.
        let row: Option<ApiKeyAuthRow> = self
            .optional(
                "SELECT k.id AS key_id, k.user_id AS key_user_id, k.read_only AS key_read_only, \
                 k.last_used_at AS key_last_used_at FROM api_keys k WHERE k.secret_hash = $1 \
                 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2)",
                &[secret_hash.into(), now.into()],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// Records when a key was last used.
    pub async fn touch_api_key(&mut self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            "UPDATE api_keys SET last_used_at = $2 WHERE id = $1",
            &[id.into(), now.into()],
        )
        .await?;
        Ok(())
    }
}
