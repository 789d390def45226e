//! Members: listing (keyset pages, search, role filter), reading, adding directly, changing
//! roles, removing and leaving, and the last-owner rule. The permission and last-owner rules
//! are judged inside the transaction that applies a change, with the workspace locked.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    audit,
    auth::{Credential, Principal},
    custom_role::resolve_role,
    email::Email,
    paging::{Cursor, Page, PageRequest},
    permission::{Catalogue, Permission},
    policy::RoleWords,
    role::{check_grant, check_removal, check_role_change, Held, Role, RoleLabel, RoleName},
    session::RequestMeta,
    workspace::Access,
    Core, Error, Result,
};
use crate::store::Tx;

/// A member of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    /// The built-in role, or the base of the custom role.
    pub role: Role,
    pub custom_role: Option<RoleLabel>,
    pub joined_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Filters of a member listing.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// A `LIKE` pattern over the lower-cased email and name, with `%`, `_` and `\` escaped, so
    /// the user's text matches literally as a substring.
    pub pattern: Option<String>,
    pub role: Option<RoleFilter>,
}

/// Which members a role filter keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleFilter {
    /// Holders of the built-in role or of a custom role based on it (the dialects' words).
    Base(Role),
    /// Holders of exactly the built-in role.
    Builtin(Role),
    /// Holders of a custom role.
    Custom(Uuid),
}

/// The longest search text.
pub const MAX_QUERY_LEN: usize = 200;

impl MemberFilter {
    pub fn new(q: Option<&str>, role: Option<RoleFilter>) -> Result<MemberFilter> {
        let pattern = match q.map(str::trim).filter(|q| !q.is_empty()) {
            None => None,
            Some(q) if q.chars().count() > MAX_QUERY_LEN => {
                return Err(Error::invalid(
                    "q",
                    "too_long",
                    format!("a search has at most {MAX_QUERY_LEN} characters"),
                ))
            }
            Some(q) => {
                let mut p = String::from("%");
                for c in q.to_lowercase().chars() {
                    if matches!(c, '%' | '_' | '\\') {
                        p.push('\\');
                    }
                    p.push(c);
                }
                p.push('%');
                Some(p)
            }
        };
        Ok(MemberFilter { pattern, role })
    }
}

/// Who to add to a workspace directly.
#[derive(Debug, Clone)]
pub enum MemberTarget {
    Id(Uuid),
    Email(Email),
}

/// The error of a change that would leave a workspace without an owner.
fn last_owner() -> Error {
    Error::conflict(
        "last_owner",
        "a workspace must keep at least one owner; make someone else owner first",
    )
}

/// The last-owner rule, for every path that can take `owner` away (demote, remove, leave,
/// account deletion): judged after the change of a member whose role `was`, inside its
/// transaction, with the workspace locked, so two owners demoting or removing each other at
/// once cannot both succeed. Only taking away an owner can break it.
pub(super) async fn ensure_an_owner_remains(
    tx: &mut Tx<'_>,
    workspace_id: Uuid,
    was: Role,
) -> Result<()> {
    if was == Role::Owner && tx.owner_count(workspace_id).await? == 0 {
        return Err(last_owner());
    }
    Ok(())
}

/// Locks a workspace for a change and re-reads the actor's role and its permissions there (so
/// a race sees the truth, a custom role's permissions included); a missing workspace or a
/// non-member actor is `NotFound`.
pub(super) async fn lock_with_role(
    tx: &mut Tx<'_>,
    catalogue: &Catalogue,
    workspace_id: Uuid,
    actor: Uuid,
) -> Result<Held> {
    let role = tx
        .lock_workspace(workspace_id, Some(actor))
        .await?
        .flatten()
        .ok_or(Error::NotFound)?;
    Ok(catalogue.held(&role))
}

/// Locks a workspace for a change made by `access`'s caller and re-reads what they hold
/// there, inside the transaction: a person's role (as `lock_with_role`), or, for a workspace
/// API key, the key itself (live at `now`: a key revoked or expired since the request was
/// authorized is `Unauthenticated`) with its permissions on the base `demo`. Every write path
/// that judges the actor's grants starts here.
pub(super) async fn lock_actor(
    tx: &mut Tx<'_>,
    catalogue: &Catalogue,
    access: &Access,
    now: DateTime<Utc>,
) -> Result<Held> {
    let ws = access.workspace.id;
    match access.principal.credential {
        Credential::WorkspaceKey { key_id, .. } => {
            tx.lock_workspace(ws, None).await?.ok_or(Error::NotFound)?;
            let stored = tx
                .live_workspace_key_permissions(ws, key_id, now)
                .await?
                .ok_or(Error::Unauthenticated)?;
            Ok(Held {
                base: Role::Demo,
                grants: catalogue.parse_stored(&stored),
            })
        }
        Credential::Session { .. } | Credential::ApiKey { .. } => {
            lock_with_role(tx, catalogue, ws, access.user_id()).await
        }
    }
}

impl Core {
    /// A page of members, oldest membership first. An unfiltered list takes its total from
    /// the workspace's kept member count.
    pub async fn members(
        &self,
        access: &Access,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> Result<Page<Member>> {
        access.require(Permission::MembersList)?;
        let ws = access.workspace.id;
        let mut db = self.store.read();
        let found = db.members(ws, filter, page).await?;
        let total = if filter.pattern.is_none() && filter.role.is_none() {
            access.workspace.member_count
        } else {
            db.count_members(ws, filter).await?
        };
        Ok(Page::from_rows(found, page.limit, total, |m| Cursor {
            at: m.joined_at,
            id: m.user_id,
        }))
    }

    /// The filter a role key stands for on the native API: members holding exactly that
    /// built-in role, or that custom role (an unknown key is 422).
    pub async fn role_filter(&self, access: &Access, key: &str) -> Result<RoleFilter> {
        if let Some(role) = Role::parse(key) {
            return Ok(RoleFilter::Builtin(role));
        }
        let found = self
            .store
            .read()
            .custom_role(access.workspace.id, key)
            .await?;
        found.map(|r| RoleFilter::Custom(r.id)).ok_or_else(|| {
            Error::invalid(
                "role",
                "unknown_role",
                format!("{key:?} is neither a built-in role nor a custom role of this workspace"),
            )
        })
    }

    /// One member. An id outside the workspace is 404 whatever the caller's role.
    pub async fn member(&self, access: &Access, user_id: Uuid) -> Result<Member> {
        let member = self
            .store
            .read()
            .member(access.workspace.id, user_id)
            .await?
            .ok_or(Error::NotFound)?;
        access.require(Permission::MembersRead)?;
        Ok(member)
    }

    /// The caller's own membership of a workspace: anyone may read their own (e.g. right
    /// after accepting an invitation, whatever the role).
    pub async fn my_membership(&self, principal: &Principal, workspace_id: Uuid) -> Result<Member> {
        self.store
            .read()
            .member(workspace_id, principal.user_id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Adds an existing user to the workspace with `role` (built-in or custom).
    pub async fn add_member(
        &self,
        access: &Access,
        target: MemberTarget,
        role: RoleName,
        meta: &RequestMeta,
    ) -> Result<Member> {
        access.require(Permission::MembersManage)?;
        let ws = access.workspace.id;
        let catalogue = &self.settings.permissions;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(ws).await?;
        let actor_held = lock_actor(&mut tx, catalogue, access, actor.at).await?;
        actor_held.grants.require(Permission::MembersManage)?;
        let (role, held) = resolve_role(&mut tx, catalogue, ws, &role).await?;
        check_grant(&actor_held, &held)?;
        let user_id = match target {
            MemberTarget::Id(id) => tx.user(id).await?.map(|u| u.id),
            MemberTarget::Email(email) => tx.credentials(email.key()).await?.map(|c| c.user_id),
        }
        .ok_or_else(|| {
            Error::invalid(
                "user",
                "user_not_found",
                "no account has this id or email; invite them instead",
            )
        })?;
        if !tx.insert_member(ws, user_id, &role, actor.at).await? {
            return Err(Error::conflict(
                "already_member",
                "this user is already a member of the workspace",
            ));
        }
        tx.adjust_member_count(ws, 1).await?;
        audit::record(
            &mut tx,
            &audit::member_added(&actor, ws, user_id, &role, None),
        )
        .await?;
        let member = tx.member(ws, user_id).await?.ok_or(Error::NotFound)?;
        tx.commit().await?;
        Ok(member)
    }

    /// Changes a member's role (built-in or custom). A lower role (a lower base, or fewer
    /// permissions) takes effect on the member's next request, and their sessions bound to this
    /// workspace end. The target is found before the rules run (an id outside the workspace is
    /// 404 whatever the caller's role); the rules, the surface's role words and the last-owner
    /// rule are judged in the transaction.
    pub async fn change_role(
        &self,
        access: &Access,
        user_id: Uuid,
        role: RoleName,
        words: RoleWords,
        meta: &RequestMeta,
    ) -> Result<Member> {
        let ws = access.workspace.id;
        let catalogue = &self.settings.permissions;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(ws).await?;
        let actor_held = lock_actor(&mut tx, catalogue, access, actor.at).await?;
        let current = tx.role_of(ws, user_id).await?.ok_or(Error::NotFound)?;
        let requested = words.written(role, &current);
        let (new, new_held) = match requested {
            None => (current.clone(), catalogue.held(&current)),
            Some(name) => resolve_role(&mut tx, catalogue, ws, &name).await?,
        };
        let current_held = catalogue.held(&current);
        check_role_change(&actor_held, &current_held, &new_held)?;
        if current.base != new.base || current.custom_id() != new.custom_id() {
            tx.set_role(ws, user_id, &new, actor.at).await?;
            ensure_an_owner_remains(&mut tx, ws, current.base).await?;
            if new.base.rank() < current.base.rank()
                || !new_held.grants.contains(&current_held.grants)
            {
                tx.end_sessions_bound_to(ws, user_id, "role_lowered", actor.at)
                    .await?;
            }
            audit::record(
                &mut tx,
                &audit::member_role_changed(&actor, ws, user_id, &current, &new),
            )
            .await?;
        }
        let member = tx.member(ws, user_id).await?.ok_or(Error::NotFound)?;
        tx.commit().await?;
        Ok(member)
    }

    /// Removes a member (or, for the caller themself, leaves). Their access ends at once: their
    /// sessions bound to the workspace end, and it stops being their primary workspace. As with
    /// role changes, the target is found first and the rules run in the transaction.
    pub async fn remove_member(
        &self,
        access: &Access,
        user_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<()> {
        let ws = access.workspace.id;
        let catalogue = &self.settings.permissions;
        let actor = self.actor(access.actor_id(), meta);
        let leaving = user_id == access.user_id();
        let mut tx = self.store.write_workspace(ws).await?;
        let actor_held = lock_actor(&mut tx, catalogue, access, actor.at).await?;
        let current = tx.role_of(ws, user_id).await?.ok_or(Error::NotFound)?;
        check_removal(&actor_held, &catalogue.held(&current), leaving)?;
        tx.delete_member(ws, user_id).await?;
        ensure_an_owner_remains(&mut tx, ws, current.base).await?;
        tx.adjust_member_count(ws, -1).await?;
        tx.end_sessions_bound_to(ws, user_id, "removed_from_workspace", actor.at)
            .await?;
        tx.reset_primary_workspace(user_id, ws).await?;
        audit::record(
            &mut tx,
            &audit::member_removed(&actor, ws, user_id, &current, leaving),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Leaves the workspace; refused for its last owner.
    pub async fn leave(&self, access: &Access, meta: &RequestMeta) -> Result<()> {
        access.require_person()?;
        self.remove_member(access, access.user_id(), meta).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_matches_literally() {
        let f = MemberFilter::new(Some(" 50%_Off\\ "), None).expect("ok");
        assert_eq!(f.pattern.as_deref(), Some("%50\\%\\_off\\\\%"));
        assert!(MemberFilter::new(Some("   "), None)
            .expect("ok")
            .pattern
            .is_none());
        assert!(MemberFilter::new(Some(&"q".repeat(201)), None).is_err());
    }
}
