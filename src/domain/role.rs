//! Roles: the six built-in ones, the custom role labels members carry, and the grant,
//! role-change and removal rules as pure functions over what actor and target hold. The write
//! paths apply them inside the transaction that makes the change.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    permission::{Grants, Permission},
    Error, Result,
};

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
}

/// A role a caller names: a built-in word or the key of one of the workspace's custom roles.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RoleName {
    Builtin(Role),
    Custom(String),
}

impl RoleName {
    /// A built-in word names the built-in role; anything else a custom role's key.
    pub fn parse(text: &str) -> RoleName {
        match Role::parse(text) {
            Some(r) => RoleName::Builtin(r),
            None => RoleName::Custom(text.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            RoleName::Builtin(r) => r.as_str(),
            RoleName::Custom(k) => k,
        }
    }
}

impl From<Role> for RoleName {
    fn from(r: Role) -> RoleName {
        RoleName::Builtin(r)
    }
}

/// A custom role as a member or an invitation carries it: its id, key and display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleLabel {
    pub id: Uuid,
    pub key: String,
    pub name: String,
}

/// A role as a membership or invitation stores it: the built-in role (a custom role's base)
/// and, for a custom role, its label and its permissions as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub base: Role,
    pub custom: Option<(RoleLabel, String)>,
}

impl Assignment {
    /// A built-in role.
    pub fn builtin(role: Role) -> Assignment {
        Assignment {
            base: role,
            custom: None,
        }
    }

    pub fn custom_id(&self) -> Option<Uuid> {
        self.custom.as_ref().map(|(l, _)| l.id)
    }

    pub fn label(&self) -> Option<RoleLabel> {
        self.custom.as_ref().map(|(l, _)| l.clone())
    }

    /// The key callers name the role by: the custom role's, else the built-in word.
    pub fn key(&self) -> &str {
        match &self.custom {
            Some((l, _)) => &l.key,
            None => self.base.as_str(),
        }
    }
}

/// The key a held role is named by: its custom role's, else the built-in word.
pub fn role_key(base: Role, custom: Option<&RoleLabel>) -> String {
    custom.map_or_else(|| base.as_str().to_owned(), |c| c.key.clone())
}

/// A role as held or about to be granted: its built-in role (a custom role's base, which
/// orders it among owners and admins and names it in the dialects) and its permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub base: Role,
    pub grants: Grants,
}

pub(super) fn beyond_message(what: &str, extra: &Grants) -> String {
    let names: Vec<&str> = Permission::ALL
        .iter()
        .filter(|p| extra.has(**p))
        .map(|p| p.as_str())
        .collect();
    if names.is_empty() {
        format!("{what} carries product permissions you do not hold")
    } else {
        format!(
            "{what} carries permissions you do not hold: {}",
            names.join(", ")
        )
    }
}

/// May `actor` grant `role` (when adding, inviting or changing a role)? Only an owner grants
/// `owner`, and nobody grants a role carrying a permission they do not hold themselves.
pub fn check_grant(actor: &Held, role: &Held) -> Result<()> {
    if role.base == Role::Owner && actor.base != Role::Owner {
        return Err(Error::forbidden(
            "cannot_grant_owner",
            "only an owner can make someone an owner",
        ));
    }
    if role.base.rank() > actor.base.rank() {
        return Err(Error::forbidden(
            "permission_escalation",
            format!(
                "a role based on {} outranks yours; only an owner or a higher role grants it",
                role.base.as_str()
            ),
        ));
    }
    let extra = role.grants.beyond(&actor.grants);
    if !extra.is_empty() {
        return Err(Error::forbidden(
            "permission_escalation",
            beyond_message("this role", &extra),
        ));
    }
    Ok(())
}

/// Refuses, unless `actor` is an owner, to act on a member who is a manager (owner, admin or
/// a role based on them) or holds a permission the actor lacks.
fn check_outranks(actor: &Held, target: &Held, what: &str) -> Result<()> {
    if actor.base == Role::Owner {
        return Ok(());
    }
    if target.base.is_manager() || !actor.grants.contains(&target.grants) {
        return Err(Error::forbidden(
            "target_outranks",
            format!("you can only {what} members below admin whose permissions are all yours too"),
        ));
    }
    Ok(())
}

/// May `actor` change a member's role from `current` to `new`? The last-owner rule is separate
/// (`member::ensure_an_owner_remains`): it needs the count of owners after the change.
pub fn check_role_change(actor: &Held, current: &Held, new: &Held) -> Result<()> {
    actor.grants.require(Permission::MembersManage)?;
    check_outranks(actor, current, "change the roles of")?;
    check_grant(actor, new)
}

/// May `actor` remove a member holding `current`? `is_self` means leaving.
pub fn check_removal(actor: &Held, current: &Held, is_self: bool) -> Result<()> {
    if is_self {
        return Ok(());
    }
    actor.grants.require(Permission::MembersManage)?;
    check_outranks(actor, current, "remove")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::permission::Catalogue;

    fn held(role: Role) -> Held {
        Held {
            base: role,
            grants: Catalogue::default().preset(role),
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
                        check_role_change(&held(actor), &held(current), &held(new)).is_ok(),
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
                assert_eq!(
                    check_removal(&held(actor), &held(current), false).is_ok(),
                    allowed
                );
                assert!(
                    check_removal(&held(actor), &held(current), true).is_ok(),
                    "anyone may leave"
                );
            }
        }
    }

    #[test]
    fn nobody_grants_a_permission_they_do_not_hold() {
        let support = Held {
            base: Role::Viewer,
            grants: Grants::of(&[Permission::MembersManage, Permission::WorkspaceRead]),
        };
        let auditor = Held {
            base: Role::Viewer,
            grants: Grants::of(&[Permission::AuditRead]),
        };
        let reader = Held {
            base: Role::Viewer,
            grants: Grants::of(&[Permission::WorkspaceRead]),
        };
        let err = check_grant(&support, &auditor).expect_err("escalation");
        assert!(
            err.to_string().contains("audit:read") || format!("{err:?}").contains("audit:read")
        );
        assert!(check_grant(&support, &reader).is_ok());
        assert!(check_role_change(&support, &reader, &auditor).is_err());
        assert!(check_role_change(&support, &held(Role::Editor), &reader).is_err());
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("manager"), None);
    }
}
