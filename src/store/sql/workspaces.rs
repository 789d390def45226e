//! Shared SQL for workspaces, memberships and the audit log (`WorkspaceStore`). Every change
//! locks the workspace row first (`LOCK_WORKSPACE`), re-reads the roles involved, applies the
//! domain's rule and the last-owner check, and records its audit event before committing.

/// Implements `WorkspaceStore` for a backend (see the parent module for what it needs).
macro_rules! impl_workspace_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Locks the workspace and returns the actor's role in it; a missing workspace or a
            /// non-member actor is `NotFound`.
            async fn lock_and_role(
                tx: &mut sqlx::Transaction<'static, $db>,
                workspace_id: uuid::Uuid,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::role::Role> {
                use $crate::domain::Error;
                let actor_id = actor.user_id.ok_or(Error::NotFound)?;
                let found: Option<(Option<String>,)> = sqlx::query_as(LOCK_WORKSPACE_ROLE)
                    .bind(workspace_id)
                    .bind(actor_id)
                    .fetch_optional(&mut **tx)
                    .await?;
                match found {
                    Some((Some(role),)) => Ok($crate::store::rows::role(&role)?),
                    _ => Err(Error::NotFound.into()),
                }
            }

            async fn role_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                workspace_id: uuid::Uuid,
                user_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::domain::role::Role>> {
                let found: Option<(String,)> = sqlx::query_as(
                    "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2",
                )
                .bind(workspace_id)
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await?;
                Ok(found
                    .map(|(r,)| $crate::store::rows::role(&r))
                    .transpose()?)
            }

            pub(crate) async fn owner_count(
                tx: &mut sqlx::Transaction<'static, $db>,
                workspace_id: uuid::Uuid,
            ) -> sqlx::Result<i64> {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
                )
                .bind(workspace_id)
                .fetch_one(&mut **tx)
                .await
            }

            /// Ends a user's sessions bound to a workspace and moves their primary workspace
            /// back to their personal one if it was this workspace.
            async fn detach(
                tx: &mut sqlx::Transaction<'static, $db>,
                workspace_id: uuid::Uuid,
                user_id: uuid::Uuid,
                reason: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> sqlx::Result<()> {
                sqlx::query(
                    "UPDATE sessions SET ended_at = $3, end_reason = $4 \
                     WHERE user_id = $1 AND workspace_id = $2 AND ended_at IS NULL",
                )
                .bind(user_id)
                .bind(workspace_id)
                .bind($crate::store::ts::Ts(at))
                .bind(reason)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn read_workspace(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: uuid::Uuid,
            ) -> sqlx::Result<$crate::domain::workspace::Workspace> {
                let row: $crate::store::rows::WorkspaceRow = sqlx::query_as(&format!(
                    "SELECT {} FROM workspaces w WHERE w.id = $1",
                    $crate::store::rows::WORKSPACE_COLUMNS
                ))
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
                Ok(row.into())
            }

            async fn read_member(
                tx: &mut sqlx::Transaction<'static, $db>,
                workspace_id: uuid::Uuid,
                user_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<$crate::domain::member::Member> {
                let row: $crate::store::rows::MemberRow = sqlx::query_as(&format!(
                    "SELECT {} FROM memberships m JOIN users u ON u.id = m.user_id \
                     WHERE m.workspace_id = $1 AND m.user_id = $2",
                    $crate::store::rows::MEMBER_COLUMNS
                ))
                .bind(workspace_id)
                .bind(user_id)
                .fetch_one(&mut **tx)
                .await?;
                Ok(row.try_into()?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::WorkspaceStore for $store {
            async fn session_workspace_access(
                &self,
                session_id: uuid::Uuid,
                user_id: uuid::Uuid,
                ws: &$crate::domain::workspace::WorkspaceRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<
                Option<(
                    $crate::store::ActiveSession,
                    $crate::domain::workspace::Workspace,
                    $crate::domain::role::Role,
                )>,
            > {
                use $crate::domain::workspace::WorkspaceRef;
                use $crate::store::rows;
                let by = match ws {
                    WorkspaceRef::Id(_) => "w.id = $4",
                    WorkspaceRef::Slug(_) => "w.slug = $4",
                };
                let sql = format!(
                    "SELECT s.workspace_id AS bound_workspace_id, m.role AS member_role, {} \
                     FROM sessions s JOIN workspaces w ON {by} \
                     JOIN memberships m ON m.workspace_id = w.id AND m.user_id = s.user_id \
                     WHERE s.id = $1 AND s.user_id = $2 AND s.ended_at IS NULL \
                     AND s.expires_at > $3",
                    rows::WORKSPACE_COLUMNS
                );
                let q = sqlx::query_as::<_, rows::SessionAccessRow>(&sql)
                    .bind(session_id)
                    .bind(user_id)
                    .bind($crate::store::ts::Ts(now));
                let q = match ws {
                    WorkspaceRef::Id(id) => q.bind(*id),
                    WorkspaceRef::Slug(slug) => q.bind(slug.as_str()),
                };
                let Some(row) = q.fetch_optional(&self.pool).await? else {
                    return Ok(None);
                };
                Ok(Some((
                    $crate::store::ActiveSession {
                        workspace_id: row.bound_workspace_id,
                    },
                    row.workspace.into(),
                    rows::role(&row.member_role)?,
                )))
            }

            async fn key_workspace_access(
                &self,
                secret_hash: &[u8],
                ws: &$crate::domain::workspace::WorkspaceRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<
                Option<(
                    $crate::store::ApiKeyAuth,
                    $crate::domain::workspace::Workspace,
                    $crate::domain::role::Role,
                )>,
            > {
                use $crate::domain::workspace::WorkspaceRef;
                use $crate::store::rows;
                let by = match ws {
                    WorkspaceRef::Id(_) => "w.id = $3",
                    WorkspaceRef::Slug(_) => "w.slug = $3",
                };
                let sql = format!(
                    "SELECT k.id AS key_id, k.user_id AS key_user_id, k.read_only AS key_read_only, \
                     k.last_used_at AS key_last_used_at, m.role AS member_role, {} \
                     FROM api_keys k JOIN workspaces w ON {by} \
                     JOIN memberships m ON m.workspace_id = w.id AND m.user_id = k.user_id \
                     WHERE k.secret_hash = $1 AND k.revoked_at IS NULL \
                     AND (k.expires_at IS NULL OR k.expires_at > $2)",
                    rows::WORKSPACE_COLUMNS
                );
                let q = sqlx::query_as::<_, rows::KeyAccessRow>(&sql)
                    .bind(secret_hash)
                    .bind($crate::store::ts::Ts(now));
                let q = match ws {
                    WorkspaceRef::Id(id) => q.bind(*id),
                    WorkspaceRef::Slug(slug) => q.bind(slug.as_str()),
                };
                let Some(row) = q.fetch_optional(&self.pool).await? else {
                    return Ok(None);
                };
                Ok(Some((
                    $crate::store::ApiKeyAuth {
                        id: row.key_id,
                        user_id: row.key_user_id,
                        read_only: row.key_read_only,
                        last_used_at: row.key_last_used_at.map(|t| t.0),
                    },
                    row.workspace.into(),
                    rows::role(&row.member_role)?,
                )))
            }

            async fn workspaces_of(
                &self,
                user_id: uuid::Uuid,
                page: &$crate::domain::paging::PageRequest,
            ) -> $crate::store::StoreResult<
                $crate::domain::paging::Page<(
                    $crate::domain::workspace::Workspace,
                    $crate::domain::role::Role,
                )>,
            > {
                use $crate::domain::paging::{Cursor, Page};
                use $crate::store::{rows, ts::Ts};
                let after = if page.after.is_some() {
                    "AND (m.created_at, w.id) > ($2, $3)"
                } else {
                    ""
                };
                let sql = format!(
                    "SELECT m.role AS member_role, m.created_at AS member_since, {} \
                     FROM memberships m JOIN workspaces w ON w.id = m.workspace_id \
                     WHERE m.user_id = $1 {after} ORDER BY m.created_at, w.id LIMIT {}",
                    rows::WORKSPACE_COLUMNS,
                    page.limit + 1
                );
                let mut q = sqlx::query_as::<_, rows::RoledWorkspaceRow>(&sql).bind(user_id);
                if let Some(c) = page.after {
                    q = q.bind(Ts(c.at)).bind(c.id);
                }
                let found = q.fetch_all(&self.pool).await?;
                let total: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_one(&self.pool)
                        .await?;
                let mut out: Vec<(
                    chrono::DateTime<chrono::Utc>,
                    $crate::domain::workspace::Workspace,
                    $crate::domain::role::Role,
                )> = Vec::with_capacity(found.len());
                for r in found {
                    let role = rows::role(&r.member_role)?;
                    out.push((r.member_since.0, r.workspace.into(), role));
                }
                let page = Page::from_rows(out, page.limit, total.unsigned_abs(), |r| Cursor {
                    at: r.0,
                    id: r.1.id,
                });
                Ok(page.map(|(_, ws, role)| (ws, role)))
            }

            async fn create_workspace(
                &self,
                new: &$crate::domain::workspace::NewWorkspace,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::workspace::Workspace> {
                use $crate::domain::audit::{actions, NewEvent};
                use $crate::store::ts::Ts;
                let p = &new.profile;
                let (mut tx, _writer) = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO workspaces (id, slug, name, is_personal, created_by, member_count, \
                     logo_url, description, website, timezone, billing_email, support_email, \
                     unit_system, slack_connect_url, lane, map_home, world_video_mode, \
                     raw_file_downloads, created_at, updated_at) \
                     VALUES ($1, $2, $3, FALSE, $4, 1, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                     $14, $15, $16, $17, $17)",
                )
                .bind(new.id)
                .bind(&new.slug)
                .bind(&new.name)
                .bind(new.owner_id)
                .bind(&p.logo_url)
                .bind(&p.description)
                .bind(&p.website)
                .bind(&p.timezone)
                .bind(&p.billing_email)
                .bind(&p.support_email)
                .bind(&p.unit_system)
                .bind(&p.slack_connect_url)
                .bind(&p.lane)
                .bind(p.map_home.as_ref().map(|v| v.to_string()))
                .bind(&p.world_video_mode)
                .bind(p.raw_file_downloads)
                .bind(Ts(actor.at))
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO memberships (workspace_id, user_id, role, created_at, updated_at) \
                     VALUES ($1, $2, 'owner', $3, $3)",
                )
                .bind(new.id)
                .bind(new.owner_id)
                .bind(Ts(actor.at))
                .execute(&mut *tx)
                .await?;
                let ws = Self::read_workspace(&mut tx, new.id).await?;
                for e in [
                    NewEvent {
                        workspace_id: Some(new.id),
                        actor,
                        action: actions::WORKSPACE_CREATED,
                        target_type: "workspace",
                        target_id: Some(new.id.to_string()),
                        before: None,
                        after: Some(ws.snapshot()),
                    },
                    NewEvent {
                        workspace_id: Some(new.id),
                        actor,
                        action: actions::MEMBER_ADDED,
                        target_type: "user",
                        target_id: Some(new.owner_id.to_string()),
                        before: None,
                        after: Some(serde_json::json!({"role": "owner"})),
                    },
                ] {
                    Self::record(&mut tx, &e).await?;
                }
                tx.commit().await?;
                Ok(ws)
            }

            async fn update_workspace(
                &self,
                id: uuid::Uuid,
                patch: &$crate::domain::workspace::WorkspacePatch,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::workspace::Workspace> {
                use $crate::domain::{
                    audit::{actions, NewEvent},
                    role::Action,
                    workspace::diff,
                };
                use $crate::store::ts::Ts;
                let (mut tx, _writer) = self.begin_write().await?;
                Self::lock_and_role(&mut tx, id, actor)
                    .await?
                    .require(Action::UpdateWorkspace)?;
                let before = Self::read_workspace(&mut tx, id).await?;
                let mut after = before.clone();
                patch.apply(&mut after);
                if after == before {
                    return Ok(before);
                }
                let p = &after.profile;
                sqlx::query(
                    "UPDATE workspaces SET name = $2, slug = $3, logo_url = $4, description = $5, \
                     website = $6, timezone = $7, billing_email = $8, support_email = $9, \
                     unit_system = $10, slack_connect_url = $11, lane = $12, map_home = $13, \
                     world_video_mode = $14, raw_file_downloads = $15, updated_at = $16 \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(&after.name)
                .bind(&after.slug)
                .bind(&p.logo_url)
                .bind(&p.description)
                .bind(&p.website)
                .bind(&p.timezone)
                .bind(&p.billing_email)
                .bind(&p.support_email)
                .bind(&p.unit_system)
                .bind(&p.slack_connect_url)
                .bind(&p.lane)
                .bind(p.map_home.as_ref().map(|v| v.to_string()))
                .bind(&p.world_video_mode)
                .bind(p.raw_file_downloads)
                .bind(Ts(actor.at))
                .execute(&mut *tx)
                .await?;
                let (old, new) = diff(&before.snapshot(), &after.snapshot());
                Self::record(
                    &mut tx,
                    &NewEvent {
                        workspace_id: Some(id),
                        actor,
                        action: actions::WORKSPACE_UPDATED,
                        target_type: "workspace",
                        target_id: Some(id.to_string()),
                        before: Some(old),
                        after: Some(new),
                    },
                )
                .await?;
                let updated = Self::read_workspace(&mut tx, id).await?;
                tx.commit().await?;
                Ok(updated)
            }

            async fn delete_workspace(
                &self,
                id: uuid::Uuid,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<()> {
                use $crate::domain::{
                    audit::{actions, NewEvent},
                    role::Action,
                    Error,
                };
                let (mut tx, _writer) = self.begin_write().await?;
                Self::lock_and_role(&mut tx, id, actor)
                    .await?
                    .require(Action::DeleteWorkspace)?;
                let ws = Self::read_workspace(&mut tx, id).await?;
                if ws.is_personal {
                    return Err(Error::conflict(
                        "personal_workspace",
                        "a personal workspace cannot be deleted",
                    )
                    .into());
                }
                sqlx::query(
                    "UPDATE users SET primary_workspace_id = personal_workspace_id \
                     WHERE primary_workspace_id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                Self::record(
                    &mut tx,
                    &NewEvent {
                        workspace_id: Some(id),
                        actor,
                        action: actions::WORKSPACE_DELETED,
                        target_type: "workspace",
                        target_id: Some(id.to_string()),
                        before: Some(ws.snapshot()),
                        after: None,
                    },
                )
                .await?;
                // Queued mail of its invitations must not go out with dead links.
                sqlx::query(
                    "UPDATE outbox SET status = 'superseded', text_body = NULL, html_body = NULL \
                     WHERE status = 'queued' AND invitation_id IN \
                     (SELECT id FROM invitations WHERE workspace_id = $1)",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                // Memberships, invitations and the sessions bound to it go with it (cascade).
                sqlx::query("DELETE FROM workspaces WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn revoke_workspace_sessions(
                &self,
                id: uuid::Uuid,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<u64> {
                use $crate::domain::{
                    audit::{actions, NewEvent},
                    role::Action,
                };
                let (mut tx, _writer) = self.begin_write().await?;
                Self::lock_and_role(&mut tx, id, actor)
                    .await?
                    .require(Action::RevokeSessions)?;
                let ended = sqlx::query(
                    "UPDATE sessions SET ended_at = $2, end_reason = 'workspace_sessions_revoked' \
                     WHERE ended_at IS NULL AND user_id IN \
                     (SELECT user_id FROM memberships WHERE workspace_id = $1)",
                )
                .bind(id)
                .bind($crate::store::ts::Ts(actor.at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                Self::record(
                    &mut tx,
                    &NewEvent {
                        workspace_id: Some(id),
                        actor,
                        action: actions::WORKSPACE_SESSIONS_REVOKED,
                        target_type: "workspace",
                        target_id: Some(id.to_string()),
                        before: None,
                        after: Some(serde_json::json!({"sessions_ended": ended})),
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(ended)
            }

            async fn members(
                &self,
                workspace_id: uuid::Uuid,
                filter: &$crate::domain::member::MemberFilter,
                page: &$crate::domain::paging::PageRequest,
                total_hint: Option<u64>,
            ) -> $crate::store::StoreResult<
                $crate::domain::paging::Page<$crate::domain::member::Member>,
            > {
                use $crate::domain::paging::{Cursor, Page};
                use $crate::store::{rows, ts::Ts};
                let mut conditions = String::from("m.workspace_id = $1");
                let mut n = 1;
                if filter.role.is_some() {
                    n += 1;
                    conditions.push_str(&format!(" AND m.role = ${n}"));
                }
                if filter.pattern.is_some() {
                    n += 1;
                    conditions.push_str(&format!(
                        " AND (u.email_key LIKE ${n} ESCAPE '\\' OR u.name_key LIKE ${n} ESCAPE '\\')"
                    ));
                }
                let mut list_conditions = conditions.clone();
                if page.after.is_some() {
                    list_conditions.push_str(&format!(
                        " AND (m.created_at, m.user_id) > (${}, ${})",
                        n + 1,
                        n + 2
                    ));
                }
                let sql = format!(
                    "SELECT {} FROM memberships m JOIN users u ON u.id = m.user_id \
                     WHERE {list_conditions} ORDER BY m.created_at, m.user_id LIMIT {}",
                    rows::MEMBER_COLUMNS,
                    page.limit + 1
                );
                let mut q = sqlx::query_as::<_, rows::MemberRow>(&sql).bind(workspace_id);
                if let Some(role) = filter.role {
                    q = q.bind(role.as_str());
                }
                if let Some(p) = &filter.pattern {
                    q = q.bind(p.as_str());
                }
                if let Some(c) = page.after {
                    q = q.bind(Ts(c.at)).bind(c.id);
                }
                let found = q.fetch_all(&self.pool).await?;
                let total = match total_hint {
                    Some(t) => t,
                    None => {
                        let sql = format!(
                            "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id \
                             WHERE {conditions}"
                        );
                        let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(workspace_id);
                        if let Some(role) = filter.role {
                            q = q.bind(role.as_str());
                        }
                        if let Some(p) = &filter.pattern {
                            q = q.bind(p.as_str());
                        }
                        q.fetch_one(&self.pool).await?.unsigned_abs()
                    }
                };
                let members = found
                    .into_iter()
                    .map($crate::domain::member::Member::try_from)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                Ok(Page::from_rows(members, page.limit, total, |m| Cursor {
                    at: m.joined_at,
                    id: m.user_id,
                }))
            }

            async fn member(
                &self,
                workspace_id: uuid::Uuid,
                user_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::domain::member::Member>> {
                use $crate::store::rows;
                let found: Option<rows::MemberRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM memberships m JOIN users u ON u.id = m.user_id \
                     WHERE m.workspace_id = $1 AND m.user_id = $2",
                    rows::MEMBER_COLUMNS
                ))
                .bind(workspace_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(found.map(TryInto::try_into).transpose()?)
            }

            async fn add_member(
                &self,
                workspace_id: uuid::Uuid,
                target: &$crate::domain::member::MemberTarget,
                role: $crate::domain::role::Role,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::member::Member> {
                use $crate::domain::{
                    audit::{actions, NewEvent},
                    member::MemberTarget,
                    role::check_grant,
                    Error,
                };
                use $crate::store::ts::Ts;
                let (mut tx, _writer) = self.begin_write().await?;
                let actor_role = Self::lock_and_role(&mut tx, workspace_id, actor).await?;
                check_grant(actor_role, role)?;
                let user: Option<(uuid::Uuid,)> = match target {
                    MemberTarget::Id(id) => {
                        sqlx::query_as("SELECT id FROM users WHERE id = $1")
                            .bind(*id)
                            .fetch_optional(&mut *tx)
                            .await?
                    }
                    MemberTarget::Email(email) => {
                        sqlx::query_as("SELECT id FROM users WHERE email_key = $1")
                            .bind(email.key())
                            .fetch_optional(&mut *tx)
                            .await?
                    }
                };
                let (user_id,) = user.ok_or_else(|| {
                    Error::invalid(
                        "user",
                        "user_not_found",
                        "no account has this id or email; invite them instead",
                    )
                })?;
                let added = sqlx::query(
                    "INSERT INTO memberships (workspace_id, user_id, role, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (workspace_id, user_id) DO NOTHING",
                )
                .bind(workspace_id)
                .bind(user_id)
                .bind(role.as_str())
                .bind(Ts(actor.at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if added == 0 {
                    return Err(Error::conflict(
                        "already_member",
                        "this user is already a member of the workspace",
                    )
                    .into());
                }
                sqlx::query("UPDATE workspaces SET member_count = member_count + 1 WHERE id = $1")
                    .bind(workspace_id)
                    .execute(&mut *tx)
                    .await?;
                Self::record(
                    &mut tx,
                    &NewEvent {
                        workspace_id: Some(workspace_id),
                        actor,
                        action: actions::MEMBER_ADDED,
                        target_type: "user",
                        target_id: Some(user_id.to_string()),
                        before: None,
                        after: Some(serde_json::json!({"role": role.as_str()})),
                    },
                )
                .await?;
                let member = Self::read_member(&mut tx, workspace_id, user_id).await?;
                tx.commit().await?;
                Ok(member)
            }

            async fn change_role(
                &self,
                workspace_id: uuid::Uuid,
                user_id: uuid::Uuid,
                role: $crate::domain::role::Role,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::member::Member> {
                use $crate::domain::{
                    audit::{actions, NewEvent},
                    role::{check_role_change, last_owner, Role},
                    Error,
                };
                use $crate::store::ts::Ts;
                let (mut tx, _writer) = self.begin_write().await?;
                let actor_role = Self::lock_and_role(&mut tx, workspace_id, actor).await?;
                let current = Self::role_in(&mut tx, workspace_id, user_id)
                    .await?
                    .ok_or(Error::NotFound)?;
                check_role_change(actor_role, current, role)?;
                if current != role {
                    sqlx::query(
                        "UPDATE memberships SET role = $3, updated_at = $4 \
                         WHERE workspace_id = $1 AND user_id = $2",
                    )
                    .bind(workspace_id)
                    .bind(user_id)
                    .bind(role.as_str())
                    .bind(Ts(actor.at))
                    .execute(&mut *tx)
                    .await?;
                    if current == Role::Owner && Self::owner_count(&mut tx, workspace_id).await? == 0
                    {
                        return Err(last_owner().into());
                    }
                    if role.rank() < current.rank() {
                        Self::detach(&mut tx, workspace_id, user_id, "role_lowered", actor.at)
                            .await?;
                    }
                    Self::record(
                        &mut tx,
                        &NewEvent {
                            workspace_id: Some(workspace_id),
                            actor,
                            action: actions::MEMBER_ROLE_CHANGED,
                            target_type: "user",
                            target_id: Some(user_id.to_string()),
                            before: Some(serde_json::json!({"role": current.as_str()})),
                            after: Some(serde_json::json!({"role": role.as_str()})),
                        },
                    )
                    .await?;
                }
                let member = Self::read_member(&mut tx, workspace_id, user_id).await?;
                tx.commit().await?;
                Ok(member)
            }

            async fn remove_member(
                &self,
                workspace_id: uuid::Uuid,
                user_id: uuid::Uuid,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<()> {
                use $crate::domain::{
                    audit::{actions, NewEvent},
                    role::{check_removal, last_owner, Role},
                    Error,
                };
                let (mut tx, _writer) = self.begin_write().await?;
                let actor_role = Self::lock_and_role(&mut tx, workspace_id, actor).await?;
                let current = Self::role_in(&mut tx, workspace_id, user_id)
                    .await?
                    .ok_or(Error::NotFound)?;
                let leaving = actor.user_id == Some(user_id);
                check_removal(actor_role, current, leaving)?;
                if current == Role::Owner && Self::owner_count(&mut tx, workspace_id).await? <= 1 {
                    return Err(last_owner().into());
                }
                sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                    .bind(workspace_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE workspaces SET member_count = member_count - 1 WHERE id = $1")
                    .bind(workspace_id)
                    .execute(&mut *tx)
                    .await?;
                Self::detach(&mut tx, workspace_id, user_id, "removed_from_workspace", actor.at)
                    .await?;
                sqlx::query(
                    "UPDATE users SET primary_workspace_id = personal_workspace_id \
                     WHERE id = $1 AND primary_workspace_id = $2",
                )
                .bind(user_id)
                .bind(workspace_id)
                .execute(&mut *tx)
                .await?;
                Self::record(
                    &mut tx,
                    &NewEvent {
                        workspace_id: Some(workspace_id),
                        actor,
                        action: if leaving {
                            actions::MEMBER_LEFT
                        } else {
                            actions::MEMBER_REMOVED
                        },
                        target_type: "user",
                        target_id: Some(user_id.to_string()),
                        before: Some(serde_json::json!({"role": current.as_str()})),
                        after: None,
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn audit_events(
                &self,
                workspace_id: uuid::Uuid,
                filter: &$crate::domain::audit::AuditFilter,
                page: &$crate::domain::paging::PageRequest,
            ) -> $crate::store::StoreResult<
                $crate::domain::paging::Page<$crate::domain::audit::AuditEvent>,
            > {
                use $crate::domain::paging::{Cursor, Page};
                use $crate::store::{rows, ts::Ts};
                let mut conditions = String::from("workspace_id = $1");
                let mut n = 1;
                let mut next = |conditions: &mut String, clause: &str| {
                    n += 1;
                    conditions.push_str(&clause.replace("$?", &format!("${n}")));
                    n
                };
                if filter.action.is_some() {
                    next(&mut conditions, " AND action = $?");
                }
                if filter.actor_id.is_some() {
                    next(&mut conditions, " AND actor_id = $?");
                }
                if filter.target_id.is_some() {
                    next(&mut conditions, " AND target_id = $?");
                }
                if filter.from.is_some() {
                    next(&mut conditions, " AND created_at >= $?");
                }
                if filter.to.is_some() {
                    next(&mut conditions, " AND created_at < $?");
                }
                if filter.target_type.is_some() {
                    next(&mut conditions, " AND target_type = $?");
                }
                if filter.search.is_some() {
                    next(
                        &mut conditions,
                        " AND LOWER(action || ' ' || target_type || ' ' || COALESCE(target_id, '')) \
                         LIKE $? ESCAPE '\\'",
                    );
                }
                let mut list_conditions = conditions.clone();
                if page.after.is_some() {
                    let a = next(&mut list_conditions, "");
                    let b = next(&mut list_conditions, "");
                    list_conditions.push_str(&format!(" AND (created_at, id) < (${a}, ${b})"));
                }
                let mut args: Vec<$crate::store::sql::Arg> = vec![workspace_id.into()];
                if let Some(v) = &filter.action {
                    args.push(v.clone().into());
                }
                if let Some(v) = filter.actor_id {
                    args.push(v.into());
                }
                if let Some(v) = &filter.target_id {
                    args.push(v.clone().into());
                }
                if let Some(v) = filter.from {
                    args.push(Ts(v).into());
                }
                if let Some(v) = filter.to {
                    args.push(Ts(v).into());
                }
                if let Some(v) = &filter.target_type {
                    args.push(v.clone().into());
                }
                if let Some(v) = &filter.search {
                    args.push(v.clone().into());
                }
                let sql = format!(
                    "SELECT {} FROM audit_events WHERE {list_conditions} \
                     ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
                    rows::AUDIT_COLUMNS,
                    page.limit + 1,
                    page.offset
                );
                let mut q = sqlx::query_as::<_, rows::AuditRow>(&sql);
                for a in &args {
                    q = $crate::bind_arg!(q, a);
                }
                if let Some(c) = page.after {
                    q = q.bind(Ts(c.at)).bind(c.id);
                }
                let found = q.fetch_all(&self.pool).await?;
                let count_sql = format!("SELECT COUNT(*) FROM audit_events WHERE {conditions}");
                let mut q = sqlx::query_scalar::<_, i64>(&count_sql);
                for a in &args {
                    q = $crate::bind_arg!(q, a);
                }
                let total: i64 = q.fetch_one(&self.pool).await?;
                let events: Vec<$crate::domain::audit::AuditEvent> =
                    found.into_iter().map(Into::into).collect();
                Ok(Page::from_rows(events, page.limit, total.unsigned_abs(), |e| {
                    Cursor {
                        at: e.created_at,
                        id: e.id,
                    }
                }))
            }
        }
    };
}

pub(crate) use impl_workspace_store;
