//! Workspaces: insert, read (by id or slug; a user's, in keyset pages), update, plan, member
//! count, delete.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    db::{Arg, Db, Tx},
    members::{role, RoleRow},
    ts::Ts,
    StoreResult,
};
use crate::domain::{
    paging::PageRequest,
    role::{Assignment, Role},
    workspace::{Profile, Workspace, WorkspaceRef},
};

/// Workspace columns, read through the alias `w`.
pub(super) const WORKSPACE_COLUMNS: &str = "w.id, w.slug, w.name, w.is_personal, w.plan, \
     w.member_count, w.created_by, w.logo_url, w.description, w.website, w.timezone, \
     w.billing_email, w.support_email, w.unit_system, w.slack_connect_url, w.lane, w.map_home, \
     w.world_video_mode, w.raw_file_downloads, w.require_mfa, w.created_at, w.updated_at";

#[derive(sqlx::FromRow)]
pub(super) struct WorkspaceRow {
    id: Uuid,
    slug: String,
    name: String,
    is_personal: bool,
    plan: String,
    member_count: i64,
    created_by: Option<Uuid>,
    logo_url: Option<String>,
    description: Option<String>,
    website: Option<String>,
    timezone: Option<String>,
    billing_email: Option<String>,
    support_email: Option<String>,
    unit_system: Option<String>,
    slack_connect_url: Option<String>,
    lane: Option<String>,
    map_home: Option<String>,
    world_video_mode: Option<String>,
    raw_file_downloads: bool,
    require_mfa: bool,
    created_at: Ts,
    updated_at: Ts,
}

super::sqlite_read::read_row!(WorkspaceRow {
    id,
    slug,
    name,
    is_personal,
    plan,
    member_count,
    created_by,
    logo_url,
    description,
    website,
    timezone,
    billing_email,
    support_email,
    unit_system,
    slack_connect_url,
    lane,
    map_home,
    world_video_mode,
    raw_file_downloads,
    require_mfa,
    created_at,
    updated_at
});

impl From<WorkspaceRow> for Workspace {
    fn from(r: WorkspaceRow) -> Self {
        Workspace {
            id: r.id,
            slug: r.slug,
            name: r.name,
            is_personal: r.is_personal,
            plan: r.plan,
            member_count: u64::try_from(r.member_count).unwrap_or(0),
            created_by: r.created_by,
            profile: Profile {
                logo_url: r.logo_url,
                description: r.description,
                website: r.website,
                timezone: r.timezone,
                billing_email: r.billing_email,
                support_email: r.support_email,
                unit_system: r.unit_system,
                slack_connect_url: r.slack_connect_url,
                lane: r.lane,
                map_home: r.map_home.and_then(|m| serde_json::from_str(&m).ok()),
                world_video_mode: r.world_video_mode,
                raw_file_downloads: r.raw_file_downloads,
            },
            require_mfa: r.require_mfa,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

/// A workspace with the role and membership time of the member it was read for.
#[derive(sqlx::FromRow)]
struct RoledWorkspaceRow {
    member_role: String,
    member_since: Ts,
    #[sqlx(flatten)]
    workspace: WorkspaceRow,
}

super::sqlite_read::read_row!(RoledWorkspaceRow {
    member_role,
    member_since,
    workspace: flatten
});

/// One of a user's workspaces, as a page lists it.
pub struct WorkspaceOfUser {
    pub workspace: Workspace,
    pub role: Role,
    /// When the user joined it: the page's order.
    pub since: DateTime<Utc>,
}

/// The profile's twelve columns, as `insert_workspace` and `update_workspace` bind them
/// (`map_home` as the JSON text stored).
fn profile_args<'a>(p: &'a Profile, map_home: &'a Option<String>) -> [Arg<'a>; 12] {
    [
        (&p.logo_url).into(),
        (&p.description).into(),
        (&p.website).into(),
        (&p.timezone).into(),
        (&p.billing_email).into(),
        (&p.support_email).into(),
        (&p.unit_system).into(),
        (&p.slack_connect_url).into(),
        (&p.lane).into(),
        map_home.into(),
        (&p.world_video_mode).into(),
        p.raw_file_downloads.into(),
    ]
}

impl Db<'_> {
    /// Inserts a workspace as `w` describes it, with a member count of one (its first owner,
    /// whom the caller adds in the same transaction). `Conflict(WorkspaceSlug)` when the slug
    /// is taken.
    pub async fn insert_workspace(&mut self, w: &Workspace) -> StoreResult<()> {
        let map_home = w.profile.map_home.as_ref().map(ToString::to_string);
        let mut args: Vec<Arg> = vec![
            w.id.into(),
            (&w.slug).into(),
            (&w.name).into(),
            w.is_personal.into(),
            (&w.plan).into(),
            w.created_by.into(),
            w.created_at.into(),
        ];
        args.extend(profile_args(&w.profile, &map_home));
        self.execute(
            "INSERT INTO workspaces (id, slug, name, is_personal, plan, created_by, created_at, \
             updated_at, member_count, logo_url, description, website, timezone, billing_email, \
             support_email, unit_system, slack_connect_url, lane, map_home, world_video_mode, \
             raw_file_downloads) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18, $19)",
            &args,
        )
        .await?;
        Ok(())
    }

    pub async fn workspace(&mut self, id: Uuid) -> StoreResult<Option<Workspace>> {
        let row: Option<WorkspaceRow> = self
            .optional(
                &format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.id = $1"),
                &[id.into()],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// A workspace by id or slug.
    pub async fn workspace_by_ref(&mut self, ws: &WorkspaceRef) -> StoreResult<Option<Workspace>> {
        let (by, arg): (&str, Arg) = match ws {
            WorkspaceRef::Id(id) => ("w.id", (*id).into()),
            WorkspaceRef::Slug(slug) => ("w.slug", slug.as_str().into()),
        };
        let row: Option<WorkspaceRow> = self
            .optional(
                &format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE {by} = $1"),
                &[arg],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// Writes every field of `w` (name, slug, profile) and its update time.
    /// `Conflict(WorkspaceSlug)` when the slug is taken.
    pub async fn update_workspace(&mut self, w: &Workspace) -> StoreResult<()> {
        let map_home = w.profile.map_home.as_ref().map(ToString::to_string);
        let mut args: Vec<Arg> = vec![
            w.id.into(),
            (&w.name).into(),
            (&w.slug).into(),
            w.updated_at.into(),
        ];
        args.extend(profile_args(&w.profile, &map_home));
        args.push(w.require_mfa.into());
        self.execute(
            "UPDATE workspaces SET name = $2, slug = $3, updated_at = $4, logo_url = $5, \
             description = $6, website = $7, timezone = $8, billing_email = $9, \
             support_email = $10, unit_system = $11, slack_connect_url = $12, lane = $13, \
             map_home = $14, world_video_mode = $15, raw_file_downloads = $16, \
             require_mfa = $17 WHERE id = $1",
            &args,
        )
        .await?;
        Ok(())
    }

    pub async fn set_workspace_plan(
        &mut self,
        id: Uuid,
        plan: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE workspaces SET plan = $2, updated_at = $3 WHERE id = $1",
            &[id.into(), plan.into(), at.into()],
        )
        .await?;
        Ok(())
    }

    /// Adds `delta` to the kept member count (kept in the transaction that adds or removes).
    pub async fn adjust_member_count(&mut self, id: Uuid, delta: i64) -> StoreResult<()> {
        self.execute(
            "UPDATE workspaces SET member_count = member_count + $2 WHERE id = $1",
            &[id.into(), delta.into()],
        )
        .await?;
        Ok(())
    }

    /// Deletes a workspace; its memberships, invitations and the sessions bound to it go with it
    /// (cascade).
    pub async fn delete_workspace(&mut self, id: Uuid) -> StoreResult<()> {
        self.execute("DELETE FROM workspaces WHERE id = $1", &[id.into()])
            .await?;
        Ok(())
    }

    /// Up to `page.limit + 1` of a user's workspaces, oldest membership first, after the cursor.
    pub async fn workspaces_of(
        &mut self,
        user_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Vec<WorkspaceOfUser>> {
        let after = if page.after.is_some() {
            "AND (m.created_at, w.id) > ($2, $3)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT m.role AS member_role, m.created_at AS member_since, {WORKSPACE_COLUMNS} \
             FROM memberships m JOIN workspaces w ON w.id = m.workspace_id \
             WHERE m.user_id = $1 {after} ORDER BY m.created_at, w.id LIMIT {}",
            page.limit + 1
        );
        let mut args: Vec<Arg> = vec![user_id.into()];
        if let Some(c) = page.after {
            args.extend([c.at.into(), c.id.into()]);
        }
        let rows: Vec<RoledWorkspaceRow> = self.all(&sql, &args).await?;
        rows.into_iter()
            .map(|r| {
                Ok(WorkspaceOfUser {
                    role: role(&r.member_role)?,
                    since: r.member_since.0,
                    workspace: r.workspace.into(),
                })
            })
            .collect()
    }
}

impl Tx<'_> {
    /// Locks a workspace until the transaction ends (see `Backend::lock_workspace`) and reads a
    /// user's role in it: `None` when there is no such workspace, `Some(None)` when the user is
    /// not a member.
    pub async fn lock_workspace(
        &mut self,
        workspace_id: Uuid,
        user_id: Option<Uuid>,
    ) -> StoreResult<Option<Option<Assignment>>> {
        let sql = self.backend().lock_workspace();
        let found: Option<LockedRow> = self
            .optional(sql, &[workspace_id.into(), user_id.into()])
            .await?;
        Ok(match found {
            None => None,
            Some(LockedRow { role: None, .. }) => Some(None),
            Some(r) => Some(Some(
                RoleRow {
                    role: r.role.unwrap_or_default(),
                    role_id: r.role_id,
                    role_key: r.role_key,
                    role_name: r.role_name,
                    role_permissions: r.role_permissions,
                }
                .try_into()?,
            )),
        })
    }
}

/// The row `lock_workspace` reads: the locking user's role columns, NULL for a non-member.
#[derive(sqlx::FromRow)]
struct LockedRow {
    role: Option<String>,
    role_id: Option<Uuid>,
    role_key: Option<String>,
    role_name: Option<String>,
    role_permissions: Option<String>,
}

super::sqlite_read::read_row!(LockedRow {
    role,
    role_id,
    role_key,
    role_name,
    role_permissions
});
