//! Roles and the permission table of PRODUCT.md, as pure functions. The write paths apply the
//! grant, role-change and removal rules inside the transaction that makes the change.

use serde::{Deserialize, Serialize};

use super::{Error, Result};

/// A member's role, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Editor,
    FieldWorker,
    Viewer,
    Demo,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::Admin,
        Role::Editor,
        Role::FieldWorker,
        Role::Viewer,
        Role::Demo,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::FieldWorker => "field_worker",
            Role::Viewer => "viewer",
            Role::Demo => "demo",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Standing, for telling a lowered role from a raised one (`editor` and `field_worker` are
    /// equal).
    pub fn rank(self) -> u8 {
        match self {
            Role::Owner => 5,
            Role::Admin => 4,
            Role::Editor | Role::FieldWorker => 3,
            Role::Viewer => 2,
            Role::Demo => 1,
        }
    }

    /// Owner and admin: the roles that manage a workspace.
    pub fn is_manager(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// May this role do `action` at all? (Role changes and removals have further rules.)
    pub fn may(self, action: Action) -> bool {
        match action {
            Action::ReadWorkspace | Action::ReadMember => self != Role::Demo,
            Action::ListMembers | Action::Leave => true,
            Action::UpdateWorkspace
            | Action::ManageMembers
            | Action::ManageInvitations
            | Action::ReadAudit
            | Action::ReadUsage
            | Action::RecordUsage => self.is_manager(),
            Action::DeleteWorkspace | Action::RevokeSessions => self == Role::Owner,
        }
    }

    /// Refuses `action` with 403 unless this role may do it.
    pub fn require(self, action: Action) -> Result<()> {
        if self.may(action) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "insufficient_role",
                format!("the {} role may not {}", self.as_str(), action.describe()),
            ))
        }
    }
}

/// What a member may be allowed to do in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ReadWorkspace,
    UpdateWorkspace,
    DeleteWorkspace,
    ListMembers,
    ReadMember,
    /// Add members directly, change roles, remove others (further limited by the rules below).
    ManageMembers,
    ManageInvitations,
    Leave,
    RevokeSessions,
    ReadAudit,
    ReadUsage,
    RecordUsage,
}

impl Action {
    fn describe(self) -> &'static str {
        match self {
            Action::ReadWorkspace => "read this workspace",
            Action::UpdateWorkspace => "update this workspace",
            Action::DeleteWorkspace => "delete this workspace",
            Action::ListMembers => "list members",
            Action::ReadMember => "read members",
            Action::ManageMembers => "manage members",
            Action::ManageInvitations => "manage invitations",
            Action::Leave => "leave",
            Action::RevokeSessions => "revoke the sessions of this workspace",
            Action::ReadAudit => "read the audit log",
            Action::ReadUsage => "read usage",
            Action::RecordUsage => "record usage",
        }
    }
}

/// May `actor` grant `role` (when adding or inviting)? An admin cannot grant `owner`.
pub fn check_grant(actor: Role, role: Role) -> Result<()> {
    actor.require(Action::ManageMembers)?;
    if role == Role::Owner && actor != Role::Owner {
        return Err(Error::forbidden(
            "cannot_grant_owner",
            "only an owner can make someone an owner",
        ));
    }
    Ok(())
}

/// May `actor` change `target`'s role (currently `current`) to `new`? The last-owner rule is
/// separate (`member::ensure_an_owner_remains`): it needs the count of owners after the change.
pub fn check_role_change(actor: Role, current: Role, new: Role) -> Result<()> {
    actor.require(Action::ManageMembers)?;
    match actor {
        Role::Owner => Ok(()),
        _ if current.is_manager() => Err(Error::forbidden(
            "target_outranks",
            "an admin can only change the roles of members below admin",
        )),
        _ => check_grant(actor, new),
    }
}

/// May `actor` remove `target` (whose role is `current`)? `is_self` means leaving.
pub fn check_removal(actor: Role, current: Role, is_self: bool) -> Result<()> {
    if is_self {
        return Ok(());
    }
    actor.require(Action::ManageMembers)?;
    if actor == Role::Admin && current.is_manager() {
        return Err(Error::forbidden(
            "target_outranks",
            "an admin can only remove members below admin",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permission_table_matches_the_product_design() {
        use Action::*;
        use Role::*;
        for role in Role::ALL {
            assert_eq!(role.may(ReadWorkspace), role != Demo);
            assert_eq!(role.may(ReadMember), role != Demo);
            assert!(role.may(ListMembers));
            assert_eq!(role.may(UpdateWorkspace), matches!(role, Owner | Admin));
            assert_eq!(role.may(ManageInvitations), matches!(role, Owner | Admin));
            assert_eq!(role.may(ReadAudit), matches!(role, Owner | Admin));
            assert_eq!(role.may(DeleteWorkspace), role == Owner);
            assert_eq!(role.may(RevokeSessions), role == Owner);
        }
    }

    #[test]
    fn every_role_change_follows_the_table() {
        use Role::*;
        for actor in Role::ALL {
            for current in Role::ALL {
                for new in Role::ALL {
                    let allowed = match actor {
                        Owner => true,
                        Admin => !current.is_manager() && new != Owner,
                        _ => false,
                    };
                    assert_eq!(
                        check_role_change(actor, current, new).is_ok(),
                        allowed,
                        "{actor:?} changing {current:?} to {new:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_removal_follows_the_table() {
        use Role::*;
        for actor in Role::ALL {
            for current in Role::ALL {
                let allowed = match actor {
                    Owner => true,
                    Admin => !current.is_manager(),
                    _ => false,
                };
                assert_eq!(check_removal(actor, current, false).is_ok(), allowed);
                assert!(
                    check_removal(actor, current, true).is_ok(),
                    "anyone may leave"
                );
            }
        }
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("manager"), None);
    }
}
