//! Custom roles of a workspace: a key, a name, a description, the built-in role it is based on
//! and a set of permissions. Listing shows the six built-in roles (fixed presets) first. Nobody
//! creates, changes or deletes a role carrying a permission they do not hold, judged in the
//! write transaction with the workspace locked; a role still held is deleted only with a
//! replacement for its holders.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{
    audit::{self, actions},
    member::lock_actor,
    permission::{Catalogue, Grants, Permission},
    role::{beyond_message, check_grant, Assignment, Held, Role, RoleLabel, RoleName},
    session::RequestMeta,
    workspace::Access,
    Core, Error, Result,
};
use crate::store::Tx;

/// The longest key and name, and description, in characters.
pub const MAX_ROLE_KEY_LEN: usize = 50;
pub const MAX_ROLE_NAME_LEN: usize = 100;
pub const MAX_ROLE_DESCRIPTION_LEN: usize = 500;
/// The most custom roles one workspace may define.
pub const MAX_ROLES_PER_WORKSPACE: i64 = 100;

/// A custom role as stored (its permissions as the stored text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRole {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub base: Role,
    pub permissions: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CustomRole {
    fn assignment(&self) -> Assignment {
        Assignment {
            base: self.base,
            custom: Some((
                RoleLabel {
                    id: self.id,
                    key: self.key.clone(),
                    name: self.name.clone(),
                },
                self.permissions.clone(),
            )),
        }
    }

    fn snapshot(&self) -> serde_json::Value {
        json!({
            "key": self.key, "name": self.name, "description": self.description,
            "base_role": self.base.as_str(), "permissions": self.permissions,
        })
    }
}

/// A role as listed: built-in (a fixed preset) or custom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleEntry {
    /// `None` for a built-in role.
    pub id: Option<Uuid>,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub base: Role,
    pub permissions: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// What creating a role takes.
#[derive(Debug, Clone)]
pub struct NewRole {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub base: Role,
    pub permissions: Vec<String>,
}

/// A change to a role; `None` leaves a field alone, `Some(None)` clears the description.
#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub permissions: Option<Vec<String>>,
}

fn builtin_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "Owner",
        Role::Admin => "Admin",
        Role::Editor => "Editor",
        Role::FieldWorker => "Field worker",
        Role::Viewer => "Viewer",
        Role::Demo => "Demo",
    }
}

fn builtin_description(role: Role) -> &'static str {
    match role {
        Role::Owner => "Everything, including deleting the workspace; only owners make owners",
        Role::Admin => "Manages the workspace, its members, invitations, roles and keys",
        Role::Editor => "Reads the workspace and its members",
        Role::FieldWorker => "As editor (SpatialFlow's field worker)",
        Role::Viewer => "Reads the workspace and its members",
        Role::Demo => "Lists the members only",
    }
}

fn role_key(key: &str) -> Result<String> {
    let key = key.trim();
    let ok = !key.is_empty()
        && key.len() <= MAX_ROLE_KEY_LEN
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(Error::invalid(
            "key",
            "invalid",
            format!(
                "a role key is 1 to {MAX_ROLE_KEY_LEN} characters of a-z, 0-9, '_' and '-', \
                 starting with a letter"
            ),
        ));
    }
    if Role::parse(key).is_some() {
        return Err(Error::invalid(
            "key",
            "reserved",
            "this key is a built-in role's; choose another",
        ));
    }
    Ok(key.to_owned())
}

fn role_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_ROLE_NAME_LEN {
        return Err(Error::invalid(
            "name",
            "invalid",
            format!("a role name is 1 to {MAX_ROLE_NAME_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "invalid",
            "a role name has no control characters",
        ));
    }
    Ok(name.to_owned())
}

fn role_description(text: Option<&str>) -> Result<Option<String>> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(d) if d.chars().count() > MAX_ROLE_DESCRIPTION_LEN => Err(Error::invalid(
            "description",
            "too_long",
            format!("a role description has at most {MAX_ROLE_DESCRIPTION_LEN} characters"),
        )),
        Some(d)
            if d.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t')) =>
        {
            Err(Error::invalid(
                "description",
                "invalid",
                "no control characters",
            ))
        }
        Some(d) => Ok(Some(d.to_owned())),
    }
}

fn base_role(base: Role) -> Result<Role> {
    if base == Role::Owner {
        return Err(Error::invalid(
            "base_role",
            "invalid",
            "a custom role cannot be based on owner (owners stay special); choose admin or below",
        ));
    }
    Ok(base)
}

fn unknown_role(name: &str) -> Error {
    Error::invalid(
        "role",
        "unknown_role",
        format!(
            "{name:?} is neither a built-in role nor a custom role of this workspace; \
             GET /v1/workspaces/{{ws}}/roles lists them"
        ),
    )
}

/// The role a caller names, as stored and as held, read in the caller's transaction (a
/// custom key must be one of the workspace's roles).
pub(super) async fn resolve_role(
    tx: &mut Tx<'_>,
    catalogue: &Catalogue,
    workspace_id: Uuid,
    name: &RoleName,
) -> Result<(Assignment, Held)> {
    let role = match name {
        RoleName::Builtin(r) => Assignment::builtin(*r),
        RoleName::Custom(key) => tx
            .custom_role(workspace_id, key)
            .await?
            .ok_or_else(|| unknown_role(key))?
            .assignment(),
    };
    let held = catalogue.held(&role);
    Ok((role, held))
}

/// Refuses an actor who does not hold every permission of `grants` (`what` names the role).
fn check_holds(actor: &Held, grants: &Grants, what: &str) -> Result<()> {
    let extra = grants.beyond(&actor.grants);
    if extra.is_empty() {
        Ok(())
    } else {
        Err(Error::forbidden(
            "permission_escalation",
            beyond_message(what, &extra),
        ))
    }
}

/// A role based on admin is made only by owners and admins.
fn check_base(actor: &Held, base: Role) -> Result<()> {
    if base.rank() > actor.base.rank() {
        return Err(Error::forbidden(
            "permission_escalation",
            format!(
                "only an owner or a role at least {} may make a role based on {}",
                base.as_str(),
                base.as_str()
            ),
        ));
    }
    Ok(())
}

impl Core {
    fn role_entry(&self, role: &CustomRole) -> RoleEntry {
        let catalogue = &self.settings.permissions;
        RoleEntry {
            id: Some(role.id),
            key: role.key.clone(),
            name: role.name.clone(),
            description: role.description.clone(),
            base: role.base,
            permissions: catalogue.names(&catalogue.parse_stored(&role.permissions)),
            created_at: Some(role.created_at),
            updated_at: Some(role.updated_at),
        }
    }

    fn builtin_entry(&self, role: Role) -> RoleEntry {
        let catalogue = &self.settings.permissions;
        RoleEntry {
            id: None,
            key: role.as_str().to_owned(),
            name: builtin_name(role).to_owned(),
            description: Some(builtin_description(role).to_owned()),
            base: role,
            permissions: catalogue.names(&catalogue.preset(role)),
            created_at: None,
            updated_at: None,
        }
    }

    /// The built-in roles, highest first, then the workspace's custom roles by key.
    pub async fn roles(&self, access: &Access) -> Result<Vec<RoleEntry>> {
        access.require(Permission::MembersList)?;
        let custom = self.store.read().custom_roles(access.workspace.id).await?;
        Ok(Role::ALL
            .into_iter()
            .map(|r| self.builtin_entry(r))
            .chain(custom.iter().map(|r| self.role_entry(r)))
            .collect())
    }

    /// One role by key, built-in or custom.
    pub async fn role(&self, access: &Access, key: &str) -> Result<RoleEntry> {
        access.require(Permission::MembersList)?;
        if let Some(r) = Role::parse(key) {
            return Ok(self.builtin_entry(r));
        }
        let role = self
            .store
            .read()
            .custom_role(access.workspace.id, key)
            .await?
            .ok_or(Error::NotFound)?;
        Ok(self.role_entry(&role))
    }

    /// Creates a custom role; the actor must hold each of its permissions.
    pub async fn create_role(
        &self,
        access: &Access,
        input: NewRole,
        meta: &RequestMeta,
    ) -> Result<RoleEntry> {
        access.require(Permission::RolesManage)?;
        let catalogue = &self.settings.permissions;
        let key = role_key(&input.key)?;
        let name = role_name(&input.name)?;
        let description = role_description(input.description.as_deref())?;
        let base = base_role(input.base)?;
        let grants = catalogue.parse(&input.permissions, "permissions")?;
        let ws = access.workspace.id;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(ws).await?;
        let actor_held = lock_actor(&mut tx, catalogue, access, actor.at).await?;
        actor_held.grants.require(Permission::RolesManage)?;
        check_base(&actor_held, base)?;
        check_holds(&actor_held, &grants, "this role")?;
        if tx.count_custom_roles(ws).await? >= MAX_ROLES_PER_WORKSPACE {
            return Err(Error::conflict(
                "too_many_roles",
                format!("a workspace has at most {MAX_ROLES_PER_WORKSPACE} custom roles"),
            ));
        }
        let role = CustomRole {
            id: Uuid::now_v7(),
            workspace_id: ws,
            key,
            name,
            description,
            base,
            permissions: catalogue.stored(&grants),
            created_at: actor.at,
            updated_at: actor.at,
        };
        if !tx.insert_custom_role(&role).await? {
            return Err(Error::conflict(
                "role_key_taken",
                "this workspace already has a role with this key",
            ));
        }
        audit::record(
            &mut tx,
            &audit::role_changed(
                &actor,
                ws,
                actions::ROLE_CREATED,
                role.id,
                None,
                Some(role.snapshot()),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(self.role_entry(&role))
    }

    /// Changes a custom role's name, description or permissions; the actor must hold every
    /// permission it carries before and after. Its holders are judged by the new permissions
    /// from their next request on.
    pub async fn update_role(
        &self,
        access: &Access,
        key: &str,
        patch: RolePatch,
        meta: &RequestMeta,
    ) -> Result<RoleEntry> {
        access.require(Permission::RolesManage)?;
        if Role::parse(key).is_some() {
            return Err(builtin_fixed());
        }
        let catalogue = &self.settings.permissions;
        let name = patch.name.as_deref().map(role_name).transpose()?;
        let description = patch
            .description
            .as_ref()
            .map(|d| role_description(d.as_deref()))
            .transpose()?;
        let grants = patch
            .permissions
            .as_ref()
            .map(|p| catalogue.parse(p, "permissions"))
            .transpose()?;
        let ws = access.workspace.id;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(ws).await?;
        let actor_held = lock_actor(&mut tx, catalogue, access, actor.at).await?;
        actor_held.grants.require(Permission::RolesManage)?;
        let before = tx.custom_role(ws, key).await?.ok_or(Error::NotFound)?;
        check_base(&actor_held, before.base)?;
        check_holds(
            &actor_held,
            &catalogue.parse_stored(&before.permissions),
            "this role",
        )?;
        let mut after = before.clone();
        if let Some(name) = name {
            after.name = name;
        }
        if let Some(description) = description {
            after.description = description;
        }
        if let Some(grants) = grants {
            check_holds(&actor_held, &grants, "the new permissions")?;
            after.permissions = catalogue.stored(&grants);
        }
        if after == before {
            return Ok(self.role_entry(&before));
        }
        after.updated_at = actor.at;
        tx.update_custom_role(&after).await?;
        audit::record(
            &mut tx,
            &audit::role_changed(
                &actor,
                ws,
                actions::ROLE_UPDATED,
                after.id,
                Some(before.snapshot()),
                Some(after.snapshot()),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(self.role_entry(&after))
    }

    /// Deletes a custom role. Held by members or pending invitations, it is refused with their
    /// count unless a `replacement` role is named: then its holders get the replacement (which
    /// the actor must be able to grant) in the same transaction.
    pub async fn delete_role(
        &self,
        access: &Access,
        key: &str,
        replacement: Option<RoleName>,
        meta: &RequestMeta,
    ) -> Result<()> {
        access.require(Permission::RolesManage)?;
        if Role::parse(key).is_some() {
            return Err(builtin_fixed());
        }
        let catalogue = &self.settings.permissions;
        let ws = access.workspace.id;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(ws).await?;
        let actor_held = lock_actor(&mut tx, catalogue, access, actor.at).await?;
        actor_held.grants.require(Permission::RolesManage)?;
        let role = tx.custom_role(ws, key).await?.ok_or(Error::NotFound)?;
        check_holds(
            &actor_held,
            &catalogue.parse_stored(&role.permissions),
            "this role",
        )?;
        let (members, invitations) = tx.custom_role_holders(role.id).await?;
        let mut after = json!({"members": members, "pending_invitations": invitations});
        if members + invitations > 0 {
            let Some(replacement) = replacement else {
                return Err(Error::conflict(
                    "role_in_use",
                    format!(
                        "this role is held by {members} member(s) and {invitations} pending \
                         invitation(s); give them another role first, or pass \
                         ?replacement=<role key>"
                    ),
                ));
            };
            let (new, held) = resolve_role(&mut tx, catalogue, ws, &replacement).await?;
            if new.custom_id() == Some(role.id) {
                return Err(Error::invalid(
                    "replacement",
                    "invalid",
                    "the replacement must be another role",
                ));
            }
            if new.base == Role::Owner {
                return Err(Error::invalid(
                    "replacement",
                    "invalid",
                    "owner cannot replace a custom role; make owners one by one",
                ));
            }
            check_grant(&actor_held, &held)?;
            tx.reassign_custom_role(ws, role.id, &new, actor.at).await?;
            after["replacement"] = json!(new.key());
        }
        tx.delete_custom_role(role.id).await?;
        audit::record(
            &mut tx,
            &audit::role_changed(
                &actor,
                ws,
                actions::ROLE_DELETED,
                role.id,
                Some(role.snapshot()),
                Some(after),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn builtin_fixed() -> Error {
    Error::conflict(
        "builtin_role",
        "the built-in roles are fixed presets; create a custom role instead",
    )
}

/// The most permissions one check may ask about.
pub const MAX_CHECKED: usize = 100;

/// A member's role and everything it lets them do here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPermissions {
    pub user_id: Uuid,
    pub role: Role,
    pub custom_role: Option<RoleLabel>,
    pub permissions: Vec<String>,
}

/// The answer to "may this member do these things here?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub user_id: Uuid,
    /// Each permission asked about, in the order asked, with whether it is held.
    pub results: Vec<(String, bool)>,
}

impl Checked {
    /// Every permission asked about is held.
    pub fn allowed(&self) -> bool {
        self.results.iter().all(|(_, held)| *held)
    }
}

impl Core {
    /// Every permission the catalogue has (Roster's, then the product's).
    pub fn permission_catalogue(&self) -> Vec<super::permission::CatalogueEntry> {
        self.settings.permissions.entries()
    }

    /// What `user_id` holds here: the caller's own standing comes from the request's access
    /// read; another member's takes one indexed read and `members:read`. A non-member is 404.
    async fn standing_of(
        &self,
        access: &Access,
        user_id: Option<Uuid>,
    ) -> Result<(Uuid, Assignment, Grants)> {
        let catalogue = &self.settings.permissions;
        match user_id.filter(|id| *id != access.user_id()) {
            None => Ok((
                access.user_id(),
                Assignment {
                    base: access.role,
                    custom: access.custom_role.clone().map(|l| (l, String::new())),
                },
                access.grants,
            )),
            Some(id) => {
                access.require(Permission::MembersRead)?;
                let role = self
                    .store
                    .read()
                    .role_of(access.workspace.id, id)
                    .await?
                    .ok_or(Error::NotFound)?;
                let grants = catalogue.held(&role).grants;
                Ok((id, role, grants))
            }
        }
    }

    /// A member's role and permissions (the caller's own, or another's with `members:read`).
    pub async fn member_permissions(
        &self,
        access: &Access,
        user_id: Uuid,
    ) -> Result<MemberPermissions> {
        let (user_id, role, grants) = self.standing_of(access, Some(user_id)).await?;
        Ok(MemberPermissions {
            user_id,
            role: role.base,
            custom_role: role.label(),
            permissions: self.settings.permissions.names(&grants),
        })
    }

    /// Whether a member (the caller when `user_id` is `None`) holds each of `names`, from live
    /// state: 1 to [`MAX_CHECKED`] names, each in the catalogue (else 422).
    pub async fn check_permissions(
        &self,
        access: &Access,
        user_id: Option<Uuid>,
        names: &[String],
    ) -> Result<Checked> {
        if names.is_empty() || names.len() > MAX_CHECKED {
            return Err(Error::invalid(
                "permissions",
                "out_of_range",
                format!("ask about 1 to {MAX_CHECKED} permissions"),
            ));
        }
        let catalogue = &self.settings.permissions;
        // Unknown names are refused before anything is read.
        catalogue.parse(names, "permissions")?;
        let (user_id, _, grants) = self.standing_of(access, user_id).await?;
        let results = names
            .iter()
            .map(|n| {
                let n = n.trim();
                (n.to_owned(), catalogue.holds(&grants, n).unwrap_or(false))
            })
            .collect();
        Ok(Checked { user_id, results })
    }
}

/// What a caller may do to the members and with the roles a page lists, by the same rules the
/// writes enforce (`check_grant`, `check_role_change`, `check_removal`), so that a page offers
/// only what would succeed (the last-owner rule aside, which needs a count).
pub struct Offers<'r> {
    actor: Held,
    catalogue: &'r Catalogue,
    roles: &'r [RoleEntry],
}

impl<'r> Offers<'r> {
    pub fn new(access: &Access, catalogue: &'r Catalogue, roles: &'r [RoleEntry]) -> Offers<'r> {
        Offers {
            actor: access.held(),
            catalogue,
            roles,
        }
    }

    fn held(&self, entry: &RoleEntry) -> Held {
        Held {
            base: entry.base,
            grants: self
                .catalogue
                .parse(&entry.permissions, "permissions")
                .unwrap_or(Grants::NONE),
        }
    }

    /// The roles the caller may hand out (to a member or an invitation).
    pub fn grantable(&self) -> impl Iterator<Item = &'r RoleEntry> + '_ {
        self.roles
            .iter()
            .filter(|r| check_grant(&self.actor, &self.held(r)).is_ok())
    }

    /// Whether the caller may change the role of a member holding `key`, and whether they may
    /// remove them (`is_self`: leaving, which anyone may).
    pub fn on_member(&self, key: &str, is_self: bool) -> (bool, bool) {
        let Some(current) = self
            .roles
            .iter()
            .find(|r| r.key == key)
            .map(|r| self.held(r))
        else {
            return (false, is_self);
        };
        let change = self.grantable().any(|new| {
            super::role::check_role_change(&self.actor, &current, &self.held(new)).is_ok()
        });
        let remove = super::role::check_removal(&self.actor, &current, is_self).is_ok();
        (change, remove)
    }
}

impl Core {
    /// What `access` may do with the members and roles a page lists (see `Offers`).
    pub fn offers<'r>(&'r self, access: &Access, roles: &'r [RoleEntry]) -> Offers<'r> {
        Offers::new(access, &self.settings.permissions, roles)
    }
}
