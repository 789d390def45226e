//! Memberships: a member's role, the owner count, adding, changing a role, removing, reading
//! one member and keyset pages of them (with search and a role filter).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    db::{Arg, Db},
    ts::Ts,
    StoreResult,
};
use crate::domain::{
    member::{Member, MemberFilter, RoleFilter},
    paging::PageRequest,
    role::{Assignment, Role, RoleLabel},
};

/// Parses a role column (constrained by a CHECK, so a miss is a bug).
pub(super) fn role(text: &str) -> anyhow::Result<Role> {
    Role::parse(text).ok_or_else(|| anyhow::anyhow!("unknown role {text:?} in the database"))
}

/// The columns of a held role, from a membership `m` (or an invitation aliased `m`) LEFT
/// JOINed to its custom role `r` ([`ROLE_JOIN`]).
pub(super) const ROLE_COLUMNS: &str = "m.role, m.role_id, r.key AS role_key, \
     r.name AS role_name, r.permissions AS role_permissions";
/// The join [`ROLE_COLUMNS`] read.
pub(super) const ROLE_JOIN: &str = "LEFT JOIN roles r ON r.id = m.role_id";

/// A held role's columns ([`ROLE_COLUMNS`]).
#[derive(sqlx::FromRow)]
pub(super) struct RoleRow {
    pub role: String,
    pub role_id: Option<Uuid>,
    pub role_key: Option<String>,
    pub role_name: Option<String>,
    pub role_permissions: Option<String>,
}

super::sqlite_read::read_row!(RoleRow {
    role,
    role_id,
    role_key,
    role_name,
    role_permissions
});

impl TryFrom<RoleRow> for Assignment {
    type Error = anyhow::Error;
    fn try_from(r: RoleRow) -> anyhow::Result<Self> {
        let custom = match (r.role_id, r.role_key, r.role_name) {
            (Some(id), Some(key), Some(name)) => Some((
                RoleLabel { id, key, name },
                r.role_permissions.unwrap_or_default(),
            )),
            _ => None,
        };
        Ok(Assignment {
            base: role(&r.role)?,
            custom,
        })
    }
}

const MEMBER_COLUMNS: &str = "m.user_id, u.email, u.name, m.role, m.role_id, \
     r.key AS role_key, r.name AS role_name, r.permissions AS role_permissions, \
     m.created_at AS joined_at, m.updated_at";

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: Uuid,
    email: String,
    name: String,
    #[sqlx(flatten)]
    role: RoleRow,
    joined_at: Ts,
    updated_at: Ts,
}

super::sqlite_read::read_row!(MemberRow {
    user_id,
    email,
    name,
    role: flatten,
    joined_at,
    updated_at
});

impl TryFrom<MemberRow> for Member {
    type Error = anyhow::Error;
    fn try_from(r: MemberRow) -> anyhow::Result<Self> {
        let held = Assignment::try_from(r.role)?;
        Ok(Member {
            user_id: r.user_id,
            email: r.email,
            name: r.name,
            role: held.base,
            custom_role: held.label(),
            joined_at: r.joined_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

/// The conditions of a filtered member query and their arguments after `$1` (the workspace).
fn filter_conditions<'a>(filter: &'a MemberFilter) -> (String, Vec<Arg<'a>>) {
    let mut conditions = String::from("m.workspace_id = $1");
    let mut args = Vec::new();
    match &filter.role {
        None => {}
        Some(RoleFilter::Base(role)) => {
            args.push(role.as_str().into());
            conditions.push_str(&format!(" AND m.role = ${}", args.len() + 1));
        }
        Some(RoleFilter::Builtin(role)) => {
            args.push(role.as_str().into());
            conditions.push_str(&format!(
                " AND m.role = ${} AND m.role_id IS NULL",
                args.len() + 1
            ));
        }
        Some(RoleFilter::Custom(id)) => {
            args.push((*id).into());
            conditions.push_str(&format!(" AND m.role_id = ${}", args.len() + 1));
        }
    }
    if let Some(p) = &filter.pattern {
        args.push(p.as_str().into());
        let n = args.len() + 1;
        conditions.push_str(&format!(
            " AND (u.email_key LIKE ${n} ESCAPE '\\' OR u.name_key LIKE ${n} ESCAPE '\\')"
        ));
    }
    (conditions, args)
}

impl Db<'_> {
    /// A user's role in a workspace; `None` for a non-member.
    pub async fn role_of(
        &mut self,
        workspace_id: Uuid,
        user_id: Uuid,
    ) -> StoreResult<Option<Assignment>> {
        let found: Option<RoleRow> = self
            .optional(
                &format!(
                    "SELECT {ROLE_COLUMNS} FROM memberships m {ROLE_JOIN} \
                     WHERE m.workspace_id = $1 AND m.user_id = $2"
                ),
                &[workspace_id.into(), user_id.into()],
            )
            .await?;
        Ok(found.map(Assignment::try_from).transpose()?)
    }

    pub async fn owner_count(&mut self, workspace_id: Uuid) -> StoreResult<i64> {
        let (n,): (i64,) = self
            .one(
                "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
                &[workspace_id.into()],
            )
            .await?;
        Ok(n)
    }

    /// The number of members, counted.
    pub async fn member_count(&mut self, workspace_id: Uuid) -> StoreResult<i64> {
        let (n,): (i64,) = self
            .one(
                "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1",
                &[workspace_id.into()],
            )
            .await?;
        Ok(n)
    }

    /// Adds a member; false when the user already is one.
    pub async fn insert_member(
        &mut self,
        workspace_id: Uuid,
        user_id: Uuid,
        role: &Assignment,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let added = self
            .execute(
                "INSERT INTO memberships (workspace_id, user_id, role, role_id, created_at, \
                 updated_at) VALUES ($1, $2, $3, $5, $4, $4) \
                 ON CONFLICT (workspace_id, user_id) DO NOTHING",
                &[
                    workspace_id.into(),
                    user_id.into(),
                    role.base.as_str().into(),
                    at.into(),
                    role.custom_id().into(),
                ],
            )
            .await?;
        Ok(added == 1)
    }

    pub async fn set_role(
        &mut self,
        workspace_id: Uuid,
        user_id: Uuid,
        role: &Assignment,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE memberships SET role = $3, role_id = $5, updated_at = $4 \
             WHERE workspace_id = $1 AND user_id = $2",
            &[
                workspace_id.into(),
                user_id.into(),
                role.base.as_str().into(),
                at.into(),
                role.custom_id().into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Removes a member; false when the user was none.
    pub async fn delete_member(&mut self, workspace_id: Uuid, user_id: Uuid) -> StoreResult<bool> {
        let removed = self
            .execute(
                "DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2",
                &[workspace_id.into(), user_id.into()],
            )
            .await?;
        Ok(removed == 1)
    }

    pub async fn member(
        &mut self,
        workspace_id: Uuid,
        user_id: Uuid,
    ) -> StoreResult<Option<Member>> {
        let found: Option<MemberRow> = self
            .optional(
                &format!(
                    "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id \
                     LEFT JOIN roles r ON r.id = m.role_id \
                     WHERE m.workspace_id = $1 AND m.user_id = $2"
                ),
                &[workspace_id.into(), user_id.into()],
            )
            .await?;
        Ok(found.map(TryInto::try_into).transpose()?)
    }

    /// Whether someone with this email key is a member.
    pub async fn is_member_email(
        &mut self,
        workspace_id: Uuid,
        email_key: &str,
    ) -> StoreResult<bool> {
        let (member,): (bool,) = self
            .one(
                "SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.workspace_id = $1 AND u.email_key = $2)",
                &[workspace_id.into(), email_key.into()],
            )
            .await?;
        Ok(member)
    }

    /// Every workspace a user is a member of, with their role there, in workspace id order.
    pub async fn memberships_of(&mut self, user_id: Uuid) -> StoreResult<Vec<(Uuid, Role)>> {
        let rows: Vec<(Uuid, String)> = self
            .all(
                "SELECT workspace_id, role FROM memberships WHERE user_id = $1 \
                 ORDER BY workspace_id",
                &[user_id.into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(ws, r)| Ok((ws, role(&r)?)))
            .collect::<anyhow::Result<_>>()?)
    }

    /// Up to `page.limit + 1` members that match, oldest membership first, after the cursor.
    pub async fn members(
        &mut self,
        workspace_id: Uuid,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<Member>> {
        let (mut conditions, rest) = filter_conditions(filter);
        let mut args: Vec<Arg> = vec![workspace_id.into()];
        args.extend(rest);
        if let Some(c) = page.after {
            let n = args.len();
            conditions.push_str(&format!(
                " AND (m.created_at, m.user_id) > (${}, ${})",
                n + 1,
                n + 2
            ));
            args.extend([c.at.into(), c.id.into()]);
        }
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id \
             LEFT JOIN roles r ON r.id = m.role_id \
             WHERE {conditions} ORDER BY m.created_at, m.user_id LIMIT {}",
            page.limit + 1
        );
        let found: Vec<MemberRow> = self.all(&sql, &args).await?;
        Ok(found
            .into_iter()
            .map(Member::try_from)
            .collect::<anyhow::Result<_>>()?)
    }

    /// The number of members that match.
    pub async fn count_members(
        &mut self,
        workspace_id: Uuid,
        filter: &MemberFilter,
    ) -> StoreResult<u64> {
        let (conditions, rest) = filter_conditions(filter);
        let mut args: Vec<Arg> = vec![workspace_id.into()];
        args.extend(rest);
        let (n,): (i64,) = self
            .one(
                &format!(
                    "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id \
                     WHERE {conditions}"
                ),
                &args,
            )
            .await?;
        Ok(n.unsigned_abs())
    }
}
