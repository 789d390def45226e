//! Workspace API keys (service accounts): insert, list, read, lock, change, revoke, the claim
//! of a rotation, last use, the re-read of a key's permissions inside a write, and the
//! per-request access read (key + selected workspace in one statement).

use chrono::{DateTime, Utc};
use sqlx::{Error as Sqlx, FromRow};
use uuid::Uuid;

use super::{db::Db, sqlite_read::ReadRow, ts::Ts, workspaces::WorkspaceRow, StoreResult};
use crate::domain::{
    workspace::{Workspace, WorkspaceRef},
    workspace_key::WorkspaceApiKey,
};

const COLUMNS: &str = "id, workspace_id, name, prefix, permissions, created_by, created_at, \
     expires_at, last_used_at, revoked_at, replaced_by";

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    prefix: String,
    permissions: String,
    created_by: Option<Uuid>,
    created_at: Ts,
    expires_at: Option<Ts>,
    last_used_at: Option<Ts>,
    revoked_at: Option<Ts>,
    replaced_by: Option<Uuid>,
}

super::sqlite_read::read_row!(KeyRow {
    id,
    workspace_id,
    name,
    prefix,
    permissions,
    created_by,
    created_at,
    expires_at,
    last_used_at,
    revoked_at,
    replaced_by
});

impl From<KeyRow> for WorkspaceApiKey {
    fn from(r: KeyRow) -> Self {
        WorkspaceApiKey {
            id: r.id,
            workspace_id: r.workspace_id,
            name: r.name,
            prefix: r.prefix,
            permissions: r.permissions,
            created_by: r.created_by,
            created_at: r.created_at.0,
            expires_at: r.expires_at.map(|t| t.0),
            last_used_at: r.last_used_at.map(|t| t.0),
            revoked_at: r.revoked_at.map(|t| t.0),
            replaced_by: r.replaced_by,
        }
    }
}

/// A new workspace key (its secret only as a hash; its permissions as stored text).
#[derive(Clone)]
pub struct NewWorkspaceKey {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub permissions: String,
    pub created_by: Option<Uuid>,
    pub now: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What the per-request read finds: the live key and, when the selector names the key's own
/// workspace, that workspace.
#[derive(Debug, Clone)]
pub struct WorkspaceKeyAccess {
    pub key_id: Uuid,
    pub workspace_id: Uuid,
    /// The key's permissions, as stored.
    pub permissions: String,
    pub last_used_at: Option<DateTime<Utc>>,
    pub workspace: Option<Workspace>,
}

/// The key's own columns of an access read, and the workspace's `id` (NULL when the selector
/// named another workspace).
#[derive(sqlx::FromRow)]
struct KeyAccessRow {
    key_id: Uuid,
    key_workspace_id: Uuid,
    key_permissions: String,
    key_last_used_at: Option<Ts>,
    id: Option<Uuid>,
}

super::sqlite_read::read_row!(KeyAccessRow {
    key_id,
    key_workspace_id,
    key_permissions,
    key_last_used_at,
    id
});

impl KeyAccessRow {
    /// The answer, with the workspace when the row has one (`workspace` reads it).
    fn with<E>(
        self,
        workspace: impl FnOnce() -> Result<WorkspaceRow, E>,
    ) -> Result<WorkspaceKeyAccess, E> {
        Ok(WorkspaceKeyAccess {
            key_id: self.key_id,
            workspace_id: self.key_workspace_id,
            permissions: self.key_permissions,
            last_used_at: self.key_last_used_at.map(|t| t.0),
            workspace: self.id.map(|_| workspace()).transpose()?.map(Into::into),
        })
    }
}

impl<'r, R> FromRow<'r, R> for WorkspaceKeyAccess
where
    R: sqlx::Row,
    KeyAccessRow: FromRow<'r, R>,
    WorkspaceRow: FromRow<'r, R>,
{
    fn from_row(row: &'r R) -> Result<Self, Sqlx> {
        KeyAccessRow::from_row(row)?.with(|| WorkspaceRow::from_row(row))
    }
}

impl ReadRow for WorkspaceKeyAccess {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        KeyAccessRow::read(row)?.with(|| WorkspaceRow::read(row))
    }
}

/// The per-request reads, one per kind of workspace reference: a live key by its hash (`$1`,
/// at `$2`), LEFT JOINed to its own workspace only when the path names it (`$3`), so that a
/// key used on another workspace still answers (with no workspace: 404, not 401).
const ACCESS_BY_ID: &str = "SELECT k.id AS key_id, k.workspace_id AS key_workspace_id, \
     k.permissions AS key_permissions, k.last_used_at AS key_last_used_at, \
     w.id, w.slug, w.name, w.is_personal, w.plan, w.member_count, w.created_by, w.logo_url, \
     w.description, w.website, w.timezone, w.billing_email, w.support_email, w.unit_system, \
     w.slack_connect_url, w.lane, w.map_home, w.world_video_mode, w.raw_file_downloads, \
     w.require_mfa, w.created_at, w.updated_at \
     FROM workspace_api_keys k LEFT JOIN workspaces w ON w.id = k.workspace_id AND w.id = $3 \
     WHERE k.secret_hash = $1 AND k.revoked_at IS NULL \
     AND (k.expires_at IS NULL OR k.expires_at > $2)";
const ACCESS_BY_SLUG: &str = "SELECT k.id AS key_id, k.workspace_id AS key_workspace_id, \
     k.permissions AS key_permissions, k.last_used_at AS key_last_used_at, \
     w.id, w.slug, w.name, w.is_personal, w.plan, w.member_count, w.created_by, w.logo_url, \
     w.description, w.website, w.timezone, w.billing_email, w.support_email, w.unit_system, \
     w.slack_connect_url, w.lane, w.map_home, w.world_video_mode, w.raw_file_downloads, \
     w.require_mfa, w.created_at, w.updated_at \
     FROM workspace_api_keys k LEFT JOIN workspaces w ON w.id = k.workspace_id AND w.slug = $3 \
     WHERE k.secret_hash = $1 AND k.revoked_at IS NULL \
     AND (k.expires_at IS NULL OR k.expires_at > $2)";

impl Db<'_> {
    pub async fn insert_workspace_key(
        &mut self,
        k: &NewWorkspaceKey,
    ) -> StoreResult<WorkspaceApiKey> {
        let row: KeyRow = self
            .one(
                &format!(
                    "INSERT INTO workspace_api_keys (id, workspace_id, name, prefix, secret_hash, \
                     permissions, created_by, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
                ),
                &[
                    k.id.into(),
                    k.workspace_id.into(),
                    k.name.as_str().into(),
                    k.prefix.as_str().into(),
                    (&k.secret_hash).into(),
                    k.permissions.as_str().into(),
                    k.created_by.into(),
                    k.now.into(),
                    k.expires_at.into(),
                ],
            )
            .await?;
        Ok(row.into())
    }

    /// A workspace's unrevoked keys, newest first.
    pub async fn workspace_keys(
        &mut self,
        workspace_id: Uuid,
    ) -> StoreResult<Vec<WorkspaceApiKey>> {
        let rows: Vec<KeyRow> = self
            .all(
                &format!(
                    "SELECT {COLUMNS} FROM workspace_api_keys WHERE workspace_id = $1 \
                     AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
                ),
                &[workspace_id.into()],
            )
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// One of a workspace's unrevoked keys.
    pub async fn workspace_key(
        &mut self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<WorkspaceApiKey>> {
        let row: Option<KeyRow> = self
            .optional(
                &format!(
                    "SELECT {COLUMNS} FROM workspace_api_keys WHERE id = $1 \
                     AND workspace_id = $2 AND revoked_at IS NULL"
                ),
                &[id.into(), workspace_id.into()],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// Changes the name and expiry of one of a workspace's unrevoked keys.
    pub async fn update_workspace_key(
        &mut self,
        workspace_id: Uuid,
        id: Uuid,
        name: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<WorkspaceApiKey>> {
        let row: Option<KeyRow> = self
            .optional(
                &format!(
                    "UPDATE workspace_api_keys SET name = $3, expires_at = $4 \
                     WHERE id = $1 AND workspace_id = $2 AND revoked_at IS NULL \
                     RETURNING {COLUMNS}"
                ),
                &[
                    id.into(),
                    workspace_id.into(),
                    name.into(),
                    expires_at.into(),
                ],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// Revokes one of a workspace's unrevoked keys; false when there is none.
    pub async fn revoke_workspace_key(
        &mut self,
        workspace_id: Uuid,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = self
            .execute(
                "UPDATE workspace_api_keys SET revoked_at = $3 \
                 WHERE id = $1 AND workspace_id = $2 AND revoked_at IS NULL",
                &[id.into(), workspace_id.into(), at.into()],
            )
            .await?;
        Ok(done == 1)
    }

    /// Marks one of a workspace's live, not yet rotated keys as replaced by `successor`, to
    /// expire at `until` (or earlier, if it already expires earlier). The conditional update is
    /// the claim: of two concurrent rotations one gets `None`.
    pub async fn mark_workspace_key_replaced(
        &mut self,
        workspace_id: Uuid,
        id: Uuid,
        successor: Uuid,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<WorkspaceApiKey>> {
        let row: Option<KeyRow> = self
            .optional(
                &format!(
                    "UPDATE workspace_api_keys SET replaced_by = $3, expires_at = CASE \
                     WHEN expires_at IS NOT NULL AND expires_at < $4 THEN expires_at ELSE $4 END \
                     WHERE id = $1 AND workspace_id = $2 AND revoked_at IS NULL \
                     AND replaced_by IS NULL AND (expires_at IS NULL OR expires_at > $5) \
                     RETURNING {COLUMNS}"
                ),
                &[
                    id.into(),
                    workspace_id.into(),
                    successor.into(),
                    until.into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// The stored permissions of a live key of the workspace, read inside a write (after the
    /// workspace lock); `None` when the key was revoked or expired meanwhile.
    pub async fn live_workspace_key_permissions(
        &mut self,
        workspace_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = self
            .optional(
                "SELECT permissions FROM workspace_api_keys WHERE id = $1 AND workspace_id = $2 \
                 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)",
                &[id.into(), workspace_id.into(), now.into()],
            )
            .await?;
        Ok(row.map(|(permissions,)| permissions))
    }

    /// The per-request read of a workspace key: live by its hash, with the workspace `ws` when
    /// it is the key's own.
    pub async fn workspace_key_access(
        &mut self,
        secret_hash: &[u8],
        ws: &WorkspaceRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<WorkspaceKeyAccess>> {
        let found = match ws {
            WorkspaceRef::Id(id) => {
                self.optional(
                    ACCESS_BY_ID,
                    &[secret_hash.into(), now.into(), (*id).into()],
                )
                .await?
            }
            WorkspaceRef::Slug(slug) => {
                self.optional(
                    ACCESS_BY_SLUG,
                    &[secret_hash.into(), now.into(), slug.as_str().into()],
                )
                .await?
            }
        };
        Ok(found)
    }

    /// Records when a workspace key was last used.
    pub async fn touch_workspace_key(&mut self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            "UPDATE workspace_api_keys SET last_used_at = $2 WHERE id = $1",
            &[id.into(), now.into()],
        )
        .await?;
        Ok(())
    }
}
