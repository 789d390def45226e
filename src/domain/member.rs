//! Members: listing (keyset pages, search, role filter), reading, adding directly, changing
//! roles, removing and leaving. The permission and last-owner rules are checked again inside the
//! transaction that applies a change.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    audit::Actor,
    auth::Principal,
    email::Email,
    paging::{Page, PageRequest},
    role::{check_grant, Action, Role},
    session::RequestMeta,
    workspace::Access,
    Core, Error, Result,
};

/// A member of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Filters of a member listing.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// A `LIKE` pattern over the lower-cased email and name, with `%`, `_` and `\` escaped, so
    /// the user's text matches literally as a substring.
    pub pattern: Option<String>,
    pub role: Option<Role>,
}

/// The longest search text.
pub const MAX_QUERY_LEN: usize = 200;

impl MemberFilter {
    pub fn new(q: Option<&str>, role: Option<Role>) -> Result<MemberFilter> {
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

impl Core {
    /// A page of members, oldest membership first.
    pub async fn members(
        &self,
        access: &Access,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> Result<Page<Member>> {
        access.require(Action::ListMembers)?;
        let total_hint = (filter.pattern.is_none() && filter.role.is_none())
            .then_some(access.workspace.member_count);
        Ok(self
            .store
            .members(access.workspace.id, filter, page, total_hint)
            .await?)
    }

    /// One member. An id outside the workspace is 404 whatever the caller's role.
    pub async fn member(&self, access: &Access, user_id: Uuid) -> Result<Member> {
        let member = self
            .store
            .member(access.workspace.id, user_id)
            .await?
            .ok_or(Error::NotFound)?;
        access.require(Action::ReadMember)?;
        Ok(member)
    }

    /// The caller's own membership of a workspace: anyone may read their own (e.g. right
    /// after accepting an invitation, whatever the role).
    pub async fn my_membership(&self, principal: &Principal, workspace_id: Uuid) -> Result<Member> {
        self.store
            .member(workspace_id, principal.user_id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Adds an existing user to the workspace with `role`.
    pub async fn add_member(
        &self,
        access: &Access,
        target: MemberTarget,
        role: Role,
        meta: &RequestMeta,
    ) -> Result<Member> {
        check_grant(access.role, role)?;
        let actor = Actor::new(Some(access.user_id()), meta, self.clock.now());
        Ok(self
            .store
            .add_member(access.workspace.id, &target, role, &actor)
            .await?)
    }

    /// Changes a member's role. A lower role takes effect on the member's next request, and
    /// their sessions bound to this workspace end. The rules (`role::check_role_change` and the
    /// last-owner check) are applied inside the transaction, after the target is found, so an
    /// id outside the workspace is 404 whatever the caller's role.
    pub async fn change_role(
        &self,
        access: &Access,
        user_id: Uuid,
        role: Role,
        meta: &RequestMeta,
    ) -> Result<Member> {
        let actor = Actor::new(Some(access.user_id()), meta, self.clock.now());
        Ok(self
            .store
            .change_role(access.workspace.id, user_id, role, &actor)
            .await?)
    }

    /// Removes a member (or, for the caller themself, leaves). Their access ends at once. As
    /// with role changes, `role::check_removal` and the last-owner check run in the transaction,
    /// after the target is found.
    pub async fn remove_member(
        &self,
        access: &Access,
        user_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<()> {
        let actor = Actor::new(Some(access.user_id()), meta, self.clock.now());
        Ok(self
            .store
            .remove_member(access.workspace.id, user_id, &actor)
            .await?)
    }

    /// Leaves the workspace; refused for its last owner.
    pub async fn leave(&self, access: &Access, meta: &RequestMeta) -> Result<()> {
        access.require(Action::Leave)?;
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
