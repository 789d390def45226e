//! Workspaces: profile, slug, plan; listing mine, creating, reading, updating, deleting, and
//! revoking every member's sessions. `WorkspaceSelector` names the workspace of a request;
//! `Access` is a caller's verified standing in it.

use chrono::{DateTime, Utc};
use rand::{rngs::OsRng, RngCore};
use serde_json::Value;
use uuid::Uuid;

use super::{
    audit::{self, Actor},
    auth::Principal,
    email::Email,
    member::lock_actor,
    paging::{Cursor, Page, PageRequest},
    permission::{Grants, Permission},
    policy::{self, Policy},
    role::{Assignment, Held, Role, RoleLabel},
    session::RequestMeta,
    Core, Error, FieldError, Result,
};
use crate::store::{Constraint, StoreError, Tx};

/// A workspace named in a path: by id, or by slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceRef {
    Id(Uuid),
    Slug(String),
}

impl WorkspaceRef {
    /// A UUID is an id; anything else is a slug (slugs can never look like a UUID).
    pub fn parse(text: &str) -> WorkspaceRef {
        match Uuid::parse_str(text) {
            Ok(id) => WorkspaceRef::Id(id),
            Err(_) => WorkspaceRef::Slug(text.to_ascii_lowercase()),
        }
    }
}

/// The profile fields of a workspace: every one reads back exactly as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub logo_url: Option<String>,
    pub description: Option<String>,
    pub website: Option<String>,
    pub timezone: Option<String>,
    pub billing_email: Option<String>,
    pub support_email: Option<String>,
    /// `imperial` or `metric`.
    pub unit_system: Option<String>,
    pub slack_connect_url: Option<String>,
    pub lane: Option<String>,
    /// A free-form JSON object.
    pub map_home: Option<Value>,
    /// `NORMAL`, `NOUPLOAD` or `BLUR`.
    pub world_video_mode: Option<String>,
    pub raw_file_downloads: bool,
}

/// A workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub is_personal: bool,
    pub plan: String,
    pub member_count: u64,
    pub created_by: Option<Uuid>,
    pub profile: Profile,
    /// Members without a confirmed second factor are refused its resources (`mfa_required`).
    pub require_mfa: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Workspace {
    /// The fields an audit event records.
    pub fn snapshot(&self) -> Value {
        let p = &self.profile;
        serde_json::json!({
            "name": self.name, "slug": self.slug, "plan": self.plan,
            "logo_url": p.logo_url, "description": p.description, "website": p.website,
            "timezone": p.timezone, "billing_email": p.billing_email,
            "support_email": p.support_email, "unit_system": p.unit_system,
            "slack_connect_url": p.slack_connect_url, "lane": p.lane, "map_home": p.map_home,
            "world_video_mode": p.world_video_mode, "raw_file_downloads": p.raw_file_downloads,
            "require_mfa": self.require_mfa,
        })
    }
}

/// Which workspace a request is about: one its path names (by id or slug), the caller's
/// current one (the workspace their session is bound to, else their primary one: what a
/// single-workspace client such as SpatialFlow sees as "my workspace"), or their personal one
/// (Pupil's `default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceSelector {
    Path(WorkspaceRef),
    Current,
    Personal,
}

/// A caller's verified standing in a workspace: who, which workspace, which role. Built by
/// `Core::authorize` from one database read.
#[derive(Debug, Clone)]
pub struct Access {
    pub principal: Principal,
    pub workspace: Workspace,
    /// The caller's built-in role (their custom role's base when they hold one).
    pub role: Role,
    /// The caller's custom role, if they hold one.
    pub custom_role: Option<RoleLabel>,
    /// What the caller may do here: their role's permissions.
    pub grants: Grants,
}

impl Access {
    /// Refuses with 403 unless the caller holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.grants.has(permission) {
            return Ok(());
        }
        if !self.principal.is_person() {
            return self.grants.require_as(permission, "this workspace API key");
        }
        let key = match &self.custom_role {
            Some(c) => c.key.as_str(),
            None => self.role.as_str(),
        };
        self.grants
            .require_as(permission, &format!("the {key} role"))
    }

    /// May the caller change `require_mfa` here (turning it on also needs their own second
    /// factor, checked when they do)?
    pub fn may_set_require_mfa(&self) -> bool {
        self.grants.has(Permission::WorkspaceUpdate) && require_mfa_changer(self.role).is_ok()
    }

    /// May the caller delete this workspace?
    pub fn may_delete_workspace(&self) -> bool {
        self.check_deletable().is_ok()
    }

    /// Deleting takes `workspace:delete`, and a personal workspace is never deleted.
    fn check_deletable(&self) -> Result<()> {
        self.require(Permission::WorkspaceDelete)?;
        if self.workspace.is_personal {
            return Err(personal_workspace());
        }
        Ok(())
    }

    /// The caller's role and permissions, as the grant rules take them.
    pub fn held(&self) -> Held {
        Held {
            base: self.role,
            grants: self.grants,
        }
    }

    pub fn user_id(&self) -> Uuid {
        self.principal.user_id
    }

    /// The person acting, for the audit log and `created_by`: `None` for a workspace API key.
    pub fn actor_id(&self) -> Option<Uuid> {
        self.principal.is_person().then_some(self.principal.user_id)
    }

    /// Refuses with 403 `person_required` what only a person may do (leave, transfer
    /// ownership, invite, mint keys) when the caller is a workspace API key.
    pub fn require_person(&self) -> Result<()> {
        if self.principal.is_person() {
            Ok(())
        } else {
            Err(Error::forbidden(
                "person_required",
                "a workspace API key cannot do this; a member must",
            ))
        }
    }
}

/// A change to a workspace. `None` leaves a field alone; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct WorkspacePatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub logo_url: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub website: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    pub billing_email: Option<Option<String>>,
    pub support_email: Option<Option<String>>,
    pub unit_system: Option<Option<String>>,
    pub slack_connect_url: Option<Option<String>>,
    pub lane: Option<Option<String>>,
    pub map_home: Option<Option<Value>>,
    pub world_video_mode: Option<Option<String>>,
    pub raw_file_downloads: Option<bool>,
    /// Owner only; an owner without MFA cannot turn it on (`mfa_required`).
    pub require_mfa: Option<bool>,
}

pub const MAX_WORKSPACE_NAME_LEN: usize = 255;
pub const MAX_SLUG_LEN: usize = 63;
const MAX_URL_LEN: usize = 2048;
const MAX_DESCRIPTION_LEN: usize = 5000;
const MAX_MAP_HOME_BYTES: usize = 16 * 1024;

impl WorkspacePatch {
    /// Checks every field that is set, reporting all problems at once.
    pub fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        if let Some(name) = &self.name {
            text(&mut errors, "name", Some(name), 1, MAX_WORKSPACE_NAME_LEN);
        }
        if let Some(slug) = &self.slug {
            if let Err(e) = validate_slug(slug) {
                errors.push(e);
            }
        }
        let urls = [
            ("logo_url", &self.logo_url),
            ("website", &self.website),
            ("slack_connect_url", &self.slack_connect_url),
        ];
        for (field, value) in urls {
            if let Some(v) = value {
                text(&mut errors, field, v.as_deref(), 0, MAX_URL_LEN);
            }
        }
        if let Some(v) = &self.description {
            text(
                &mut errors,
                "description",
                v.as_deref(),
                0,
                MAX_DESCRIPTION_LEN,
            );
        }
        if let Some(v) = &self.timezone {
            text(&mut errors, "timezone", v.as_deref(), 0, 50);
        }
        if let Some(v) = &self.lane {
            text(&mut errors, "lane", v.as_deref(), 0, 50);
        }
        for (field, value) in [
            ("billing_email", &self.billing_email),
            ("support_email", &self.support_email),
        ] {
            if let Some(Some(v)) = value {
                if !v.is_empty() {
                    if let Err(Error::Validation(mut e)) = Email::parse_field(field, v) {
                        errors.append(&mut e);
                    }
                }
            }
        }
        if let Some(Some(v)) = &self.unit_system {
            if v != "imperial" && v != "metric" {
                errors.push(FieldError::new(
                    "unit_system",
                    "invalid",
                    "`imperial` or `metric`",
                ));
            }
        }
        if let Some(Some(v)) = &self.world_video_mode {
            if !matches!(v.as_str(), "NORMAL" | "NOUPLOAD" | "BLUR") {
                errors.push(FieldError::new(
                    "world_video_mode",
                    "invalid",
                    "`NORMAL`, `NOUPLOAD` or `BLUR`",
                ));
            }
        }
        if let Some(Some(v)) = &self.map_home {
            if !v.is_object() {
                errors.push(FieldError::new("map_home", "invalid", "a JSON object"));
            } else if v.to_string().len() > MAX_MAP_HOME_BYTES {
                errors.push(FieldError::new("map_home", "too_long", "at most 16 KiB"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(errors))
        }
    }

    /// Applies the patch to a workspace (already validated).
    pub fn apply(&self, ws: &mut Workspace) {
        fn set<T: Clone>(target: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                *target = v.clone();
            }
        }
        set(
            &mut ws.name,
            &self.name.as_ref().map(|n| n.trim().to_owned()),
        );
        set(&mut ws.slug, &self.slug);
        let p = &mut ws.profile;
        set(&mut p.logo_url, &self.logo_url);
        set(&mut p.description, &self.description);
        set(&mut p.website, &self.website);
        set(&mut p.timezone, &self.timezone);
        set(&mut p.billing_email, &self.billing_email);
        set(&mut p.support_email, &self.support_email);
        set(&mut p.unit_system, &self.unit_system);
        set(&mut p.slack_connect_url, &self.slack_connect_url);
        set(&mut p.lane, &self.lane);
        set(&mut p.map_home, &self.map_home);
        set(&mut p.world_video_mode, &self.world_video_mode);
        set(&mut p.raw_file_downloads, &self.raw_file_downloads);
        set(&mut ws.require_mfa, &self.require_mfa);
    }
}

fn text(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>, min: usize, max: usize) {
    let Some(v) = value else { return };
    let n = v.trim().chars().count();
    if n < min {
        errors.push(FieldError::new(
            field,
            "required",
            format!("{field} must not be empty"),
        ));
    } else if v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("{field} has at most {max} characters"),
        ));
    } else if v
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        errors.push(FieldError::new(field, "invalid", "no control characters"));
    }
}

/// A slug: 1 to 63 lower-case ASCII letters, digits and single dashes, never a UUID.
pub fn validate_slug(slug: &str) -> std::result::Result<(), FieldError> {
    let well_formed = !slug.is_empty()
        && slug.len() <= MAX_SLUG_LEN
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if !well_formed {
        return Err(FieldError::new(
            "slug",
            "invalid",
            "1 to 63 lower-case letters, digits and single dashes",
        ));
    }
    if Uuid::parse_str(slug).is_ok() {
        return Err(FieldError::new(
            "slug",
            "invalid",
            "a slug cannot look like an id",
        ));
    }
    Ok(())
}

/// Turns a name into a URL-safe slug: lower-case ASCII letters and digits joined by `-`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() || Uuid::parse_str(&slug).is_ok() {
        "workspace".to_owned()
    } else {
        slug
    }
}

/// `base` with a random suffix, for when the plain slug is taken.
fn suffixed(base: &str) -> String {
    format!("{base}-{:08x}", OsRng.next_u32())
}

/// Whether `role` may turn `require_mfa` to `on`: owners only, and an owner turning it on must
/// have a confirmed second factor themselves (or they would lock themselves out).
/// Only an owner changes `require_mfa`.
fn require_mfa_changer(role: Role) -> Result<()> {
    if role != Role::Owner {
        return Err(Error::forbidden(
            "owner_only",
            "only an owner may change `require_mfa`",
        ));
    }
    Ok(())
}

async fn check_require_mfa_change(
    tx: &mut Tx<'_>,
    role: Role,
    user_id: Uuid,
    on: bool,
) -> Result<()> {
    require_mfa_changer(role)?;
    if on
        && tx
            .totp_factor(user_id)
            .await?
            .is_none_or(|f| f.confirmed_at.is_none())
    {
        return Err(Error::conflict(
            "mfa_required",
            "enable two-factor authentication on your own account before requiring it of the workspace",
        ));
    }
    Ok(())
}

/// A slug for a personal workspace: the owner's name and a random suffix.
pub fn personal_slug(owner_name: &str) -> String {
    suffixed(&slugify(owner_name))
}

/// The personal workspace sign-up creates for a user: named after them, with a random slug.
pub(super) fn personal(owner: Uuid, owner_name: &str, now: DateTime<Utc>) -> Workspace {
    Workspace {
        id: Uuid::now_v7(),
        slug: personal_slug(owner_name),
        name: format!("{owner_name}'s workspace"),
        is_personal: true,
        plan: super::usage::DEFAULT_PLAN.to_owned(),
        member_count: 1,
        created_by: Some(owner),
        profile: Profile::default(),
        require_mfa: false,
        created_at: now,
        updated_at: now,
    }
}

/// A new workspace: a name, optionally a slug, and profile fields.
#[derive(Debug, Clone, Default)]
pub struct NewWorkspaceInput {
    pub name: String,
    pub slug: Option<String>,
    pub profile: WorkspacePatch,
}

impl Core {
    /// The caller's workspaces with their role in each, oldest membership first.
    pub async fn my_workspaces(
        &self,
        principal: &Principal,
        page: &PageRequest,
    ) -> Result<Page<(Workspace, Role)>> {
        let mut db = self.store.read();
        let found = db.workspaces_of(principal.user_id, page).await?;
        let total = db.memberships_of(principal.user_id).await?.len() as u64;
        let page = Page::from_rows(found, page.limit, total, |w| Cursor {
            at: w.since,
            id: w.workspace.id,
        });
        Ok(page.map(|w| (w.workspace, w.role)))
    }

    /// Creates a workspace with the caller as its owner. A slug derived from the name gets a
    /// random suffix when it is taken; a slug the caller chose is `slug_taken`.
    pub async fn create_workspace(
        &self,
        principal: &Principal,
        input: NewWorkspaceInput,
        meta: &RequestMeta,
    ) -> Result<Workspace> {
        let mut check = input.profile.clone();
        check.name = Some(input.name.clone());
        check.slug = input.slug.clone();
        check.validate()?;
        let actor = self.actor(Some(principal.user_id), meta);
        let mut ws = Workspace {
            id: Uuid::now_v7(),
            slug: String::new(),
            name: input.name.trim().to_owned(),
            is_personal: false,
            plan: super::usage::DEFAULT_PLAN.to_owned(),
            member_count: 1,
            created_by: Some(principal.user_id),
            profile: Profile::default(),
            require_mfa: false,
            created_at: actor.at,
            updated_at: actor.at,
        };
        input.profile.apply(&mut ws);
        let base = input.slug.clone().unwrap_or_else(|| slugify(&input.name));
        ws.slug.clone_from(&base);
        for attempt in 0..5 {
            match self.insert_workspace(&ws, principal.user_id, &actor).await {
                Err(Error::Conflict {
                    code: "slug_taken", ..
                }) if input.slug.is_none() => {
                    tracing::debug!(attempt, slug = %ws.slug, "derived slug taken; adding a suffix");
                    ws.slug = suffixed(&base);
                }
                other => return other.map(|()| ws),
            }
        }
        Err(slug_taken())
    }

    /// Stores a new workspace with its first owner, in one transaction.
    async fn insert_workspace(&self, ws: &Workspace, owner: Uuid, actor: &Actor) -> Result<()> {
        let mut tx = self.store.write().await?;
        insert_with_owner(&mut tx, ws, owner, actor).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads a workspace.
    pub fn workspace(&self, access: &Access) -> Result<Workspace> {
        access.require(Permission::WorkspaceRead)?;
        Ok(access.workspace.clone())
    }

    /// Updates a workspace's name, slug or profile.
    pub async fn update_workspace(
        &self,
        access: &Access,
        patch: WorkspacePatch,
        meta: &RequestMeta,
    ) -> Result<Workspace> {
        access.require(Permission::WorkspaceUpdate)?;
        patch.validate()?;
        let ws = access.workspace.id;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(ws).await?;
        let held = lock_actor(&mut tx, &self.settings.permissions, access, actor.at).await?;
        held.grants.require(Permission::WorkspaceUpdate)?;
        let role = held.base;
        let before = tx.workspace(ws).await?.ok_or(Error::NotFound)?;
        let mut after = before.clone();
        patch.apply(&mut after);
        if after == before {
            return Ok(before);
        }
        if after.require_mfa != before.require_mfa {
            check_require_mfa_change(&mut tx, role, access.user_id(), after.require_mfa).await?;
        }
        after.updated_at = actor.at;
        match tx.update_workspace(&after).await {
            Err(StoreError::Conflict(Constraint::WorkspaceSlug)) => return Err(slug_taken()),
            other => other?,
        }
        audit::record(&mut tx, &audit::workspace_updated(&actor, &before, &after)).await?;
        let updated = tx.workspace(ws).await?.ok_or(Error::NotFound)?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Deletes a workspace with its memberships, invitations and the sessions bound to it.
    /// Owner only; a personal workspace cannot be deleted.
    pub async fn delete_workspace(&self, access: &Access, meta: &RequestMeta) -> Result<()> {
        access.check_deletable()?;
        let id = access.workspace.id;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(id).await?;
        lock_actor(&mut tx, &self.settings.permissions, access, actor.at)
            .await?
            .grants
            .require(Permission::WorkspaceDelete)?;
        let ws = tx.workspace(id).await?.ok_or(Error::NotFound)?;
        if ws.is_personal {
            return Err(personal_workspace());
        }
        tx.reset_primary_workspace_of_all(id).await?;
        audit::record(&mut tx, &audit::workspace_deleted(&actor, &ws)).await?;
        // Queued mail of its invitations must not go out with dead links.
        tx.withdraw_workspace_mail(id).await?;
        tx.delete_workspace(id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session of every member of the workspace, the caller's included. Owner only;
    /// a surface may add a budget per workspace, counted once the permission check has passed.
    pub async fn revoke_workspace_sessions(
        &self,
        access: &Access,
        policy: &Policy,
        meta: &RequestMeta,
    ) -> Result<u64> {
        access.require(Permission::SessionsRevoke)?;
        let id = access.workspace.id;
        let actor = self.actor(access.actor_id(), meta);
        if let Some(quota) = policy.revoke_all {
            let limit = quota.limit(format!("revoke_sessions:{id}"));
            policy::charge_alone(&self.store, &[limit], actor.at).await?;
        }
        let mut tx = self.store.write_workspace(id).await?;
        lock_actor(&mut tx, &self.settings.permissions, access, actor.at)
            .await?
            .grants
            .require(Permission::SessionsRevoke)?;
        let ended = tx
            .end_sessions_of_members(id, "workspace_sessions_revoked", actor.at)
            .await?;
        audit::record(
            &mut tx,
            &audit::workspace_sessions_revoked(&actor, id, ended),
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }
}

/// Inserts a workspace and its first owner's membership, with their audit events, inside the
/// caller's transaction (sign-up creates the personal workspace this way too).
pub(super) async fn insert_with_owner(
    tx: &mut Tx<'_>,
    ws: &Workspace,
    owner: Uuid,
    actor: &Actor,
) -> Result<()> {
    match tx.insert_workspace(ws).await {
        Err(StoreError::Conflict(Constraint::WorkspaceSlug)) => return Err(slug_taken()),
        other => other?,
    }
    tx.insert_member(
        ws.id,
        owner,
        &Assignment::builtin(Role::Owner),
        ws.created_at,
    )
    .await?;
    audit::record(tx, &audit::workspace_created(actor, ws)).await?;
    audit::record(
        tx,
        &audit::member_added(actor, ws.id, owner, &Assignment::builtin(Role::Owner), None),
    )
    .await?;
    Ok(())
}

fn personal_workspace() -> Error {
    Error::conflict(
        "personal_workspace",
        "a personal workspace cannot be deleted",
    )
}

fn slug_taken() -> Error {
    Error::conflict("slug_taken", "another workspace already uses this slug")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_ascii_joined_by_dashes() {
        assert_eq!(slugify("  Ada's  Big Team! "), "ada-s-big-team");
        assert_eq!(slugify("Ünïcode ☃"), "n-code");
        assert_eq!(slugify("!!!"), "workspace");
        assert!(slugify(&"x".repeat(500)).len() <= 40);
        assert!(validate_slug(&slugify("A name")).is_ok());
    }

    #[test]
    fn a_slug_is_never_mistaken_for_an_id() {
        let id = Uuid::new_v4().to_string();
        assert!(validate_slug(&id).is_err());
        assert_eq!(
            WorkspaceRef::parse(&id),
            WorkspaceRef::Id(Uuid::parse_str(&id).expect("uuid"))
        );
        assert_eq!(
            WorkspaceRef::parse("Acme"),
            WorkspaceRef::Slug("acme".into())
        );
        for bad in ["", "-a", "a-", "a--b", "A", "a b", &"a".repeat(64)] {
            assert!(validate_slug(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_patch_reports_every_bad_field_at_once() {
        let patch = WorkspacePatch {
            name: Some(String::new()),
            unit_system: Some(Some("furlongs".into())),
            map_home: Some(Some(serde_json::json!([1]))),
            billing_email: Some(Some("nope".into())),
            timezone: Some(Some("x".repeat(51))),
            ..WorkspacePatch::default()
        };
        let Err(Error::Validation(errors)) = patch.validate() else {
            panic!("must fail")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "timezone",
                "billing_email",
                "unit_system",
                "map_home"
            ]
        );
    }
}
