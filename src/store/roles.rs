//! Custom roles: list and read by key, insert (false when the key is taken), update, count,
//! count their holders, hand their holders another role, delete.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{db::Db, members::role, ts::Ts, StoreResult};
use crate::domain::{custom_role::CustomRole, role::Assignment};

const COLUMNS: &str = "id, workspace_id, key, name, description, base_role, permissions, \
     created_at, updated_at";

#[derive(sqlx::FromRow)]
struct RoleRow {
    id: Uuid,
    workspace_id: Uuid,
    key: String,
    name: String,
    description: Option<String>,
    base_role: String,
    permissions: String,
    created_at: Ts,
    updated_at: Ts,
}

super::sqlite_read::read_row!(RoleRow {
    id,
    workspace_id,
    key,
    name,
    description,
    base_role,
    permissions,
    created_at,
    updated_at
});

impl TryFrom<RoleRow> for CustomRole {
    type Error = anyhow::Error;
    fn try_from(r: RoleRow) -> anyhow::Result<Self> {
        Ok(CustomRole {
            id: r.id,
            workspace_id: r.workspace_id,
            key: r.key,
            name: r.name,
            description: r.description,
            base: role(&r.base_role)?,
            permissions: r.permissions,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

impl Db<'_> {
    /// A workspace's custom roles, by key.
    pub async fn custom_roles(&mut self, workspace_id: Uuid) -> StoreResult<Vec<CustomRole>> {
        let rows: Vec<RoleRow> = self
            .all(
                &format!("SELECT {COLUMNS} FROM roles WHERE workspace_id = $1 ORDER BY key"),
                &[workspace_id.into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(CustomRole::try_from)
            .collect::<anyhow::Result<_>>()?)
    }

    /// A workspace's custom role by key.
    pub async fn custom_role(
        &mut self,
        workspace_id: Uuid,
        key: &str,
    ) -> StoreResult<Option<CustomRole>> {
        let found: Option<RoleRow> = self
            .optional(
                &format!("SELECT {COLUMNS} FROM roles WHERE workspace_id = $1 AND key = $2"),
                &[workspace_id.into(), key.into()],
            )
            .await?;
        Ok(found.map(CustomRole::try_from).transpose()?)
    }

    pub async fn count_custom_roles(&mut self, workspace_id: Uuid) -> StoreResult<i64> {
        let (n,): (i64,) = self
            .one(
                "SELECT COUNT(*) FROM roles WHERE workspace_id = $1",
                &[workspace_id.into()],
            )
            .await?;
        Ok(n)
    }

    /// Stores a role; false when the workspace already has one with its key.
    pub async fn insert_custom_role(&mut self, r: &CustomRole) -> StoreResult<bool> {
        let added = self
            .execute(
                "INSERT INTO roles (id, workspace_id, key, name, description, base_role, \
                 permissions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                 ON CONFLICT (workspace_id, key) DO NOTHING",
                &[
                    r.id.into(),
                    r.workspace_id.into(),
                    r.key.as_str().into(),
                    r.name.as_str().into(),
                    (&r.description).into(),
                    r.base.as_str().into(),
                    r.permissions.as_str().into(),
                    r.created_at.into(),
                ],
            )
            .await?;
        Ok(added == 1)
    }

    /// Writes a role's name, description and permissions.
    pub async fn update_custom_role(&mut self, r: &CustomRole) -> StoreResult<()> {
        self.execute(
            "UPDATE roles SET name = $2, description = $3, permissions = $4, updated_at = $5 \
             WHERE id = $1",
            &[
                r.id.into(),
                r.name.as_str().into(),
                (&r.description).into(),
                r.permissions.as_str().into(),
                r.updated_at.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// How many members and pending invitations hold a role.
    pub async fn custom_role_holders(&mut self, role_id: Uuid) -> StoreResult<(i64, i64)> {
        let (members, invitations): (i64, i64) = self
            .one(
                "SELECT (SELECT COUNT(*) FROM memberships WHERE role_id = $1), \
                 (SELECT COUNT(*) FROM invitations WHERE role_id = $1 AND status = 'pending')",
                &[role_id.into()],
            )
            .await?;
        Ok((members, invitations))
    }

    /// Gives every member and pending invitation holding `role_id` the role `to`.
    pub async fn reassign_custom_role(
        &mut self,
        workspace_id: Uuid,
        role_id: Uuid,
        to: &Assignment,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let args = [
            workspace_id.into(),
            role_id.into(),
            to.base.as_str().into(),
            to.custom_id().into(),
            at.into(),
        ];
        self.execute(
            "UPDATE memberships SET role = $3, role_id = $4, updated_at = $5 \
             WHERE workspace_id = $1 AND role_id = $2",
            &args,
        )
        .await?;
        self.execute(
            "UPDATE invitations SET role = $3, role_id = $4 \
             WHERE workspace_id = $1 AND role_id = $2 AND status = 'pending'",
            &args[..4],
        )
        .await?;
        Ok(())
    }

    pub async fn delete_custom_role(&mut self, role_id: Uuid) -> StoreResult<()> {
        self.execute("DELETE FROM roles WHERE id = $1", &[role_id.into()])
            .await?;
        Ok(())
    }
}
