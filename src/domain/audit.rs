//! The audit log: who did what to which target, before and after, from where and when. Every
//! event is built here, one constructor per action (the before/after computed here), and
//! appended in the same transaction as the change it records.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    api_key::ApiKey,
    invitation::Invitation,
    ownership::{Closing, Transfer},
    paging::{Page, PageRequest},
    permission::Permission,
    role::{Assignment, Role},
    session::RequestMeta,
    user::User,
    workspace::{Access, Workspace},
    workspace_key::WorkspaceApiKey,
    Core, Result,
};
use crate::store::NewApiKey;

pub(super) use super::chain::record;

/// Who is acting, from where, and when: the part of every audit event the caller supplies.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub at: DateTime<Utc>,
}

impl Actor {
    pub fn new(user_id: Option<Uuid>, meta: &RequestMeta, at: DateTime<Utc>) -> Actor {
        Actor {
            user_id,
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            at,
        }
    }
}

/// Action names, stable across releases (they are filtered on and exported).
pub mod actions {
    pub const USER_SIGNED_UP: &str = "user.signed_up";
    pub const USER_UPDATED: &str = "user.updated";
    pub const USER_DELETED: &str = "user.deleted";
    pub const SESSION_STARTED: &str = "session.started";
    pub const SESSION_ENDED: &str = "session.ended";
    pub const SESSION_REUSE_DETECTED: &str = "session.refresh_reuse_detected";
    pub const SESSIONS_REVOKED_ALL: &str = "sessions.revoked_all";
    pub const USER_PASSWORD_CHANGED: &str = "user.password_changed";
    pub const USER_EMAIL_VERIFICATION_SENT: &str = "user.email_verification_sent";
    pub const USER_EMAIL_VERIFIED: &str = "user.email_verified";
    pub const USER_EMAIL_CHANGE_REQUESTED: &str = "user.email_change_requested";
    pub const USER_EMAIL_CHANGED: &str = "user.email_changed";
    pub const USER_PASSWORD_RESET_REQUESTED: &str = "user.password_reset_requested";
    pub const USER_PASSWORD_RESET: &str = "user.password_reset";
    pub const MFA_TOTP_ENROLLED: &str = "mfa.totp_enrolled";
    pub const MFA_ENABLED: &str = "mfa.enabled";
    pub const MFA_DISABLED: &str = "mfa.disabled";
    pub const MFA_RECOVERY_CODE_USED: &str = "mfa.recovery_code_used";
    pub const MFA_RECOVERY_CODES_REGENERATED: &str = "mfa.recovery_codes_regenerated";
    pub const API_KEY_CREATED: &str = "api_key.created";
    pub const API_KEY_REVOKED: &str = "api_key.revoked";
    pub const API_KEY_UPDATED: &str = "api_key.updated";
    pub const API_KEY_REGENERATED: &str = "api_key.regenerated";
    pub const API_KEY_ROTATED: &str = "api_key.rotated";
    pub const WORKSPACE_CREATED: &str = "workspace.created";
    pub const WORKSPACE_UPDATED: &str = "workspace.updated";
    pub const WORKSPACE_DELETED: &str = "workspace.deleted";
    pub const WORKSPACE_SESSIONS_REVOKED: &str = "workspace.sessions_revoked";
    pub const WORKSPACE_PLAN_CHANGED: &str = "workspace.plan_changed";
    pub const MEMBER_ADDED: &str = "member.added";
    pub const MEMBER_ROLE_CHANGED: &str = "member.role_changed";
    pub const MEMBER_REMOVED: &str = "member.removed";
    pub const MEMBER_LEFT: &str = "member.left";
    pub const INVITATION_CREATED: &str = "invitation.created";
    pub const INVITATION_REVOKED: &str = "invitation.revoked";
    pub const INVITATION_EXTENDED: &str = "invitation.extended";
    pub const INVITATION_RESENT: &str = "invitation.resent";
    pub const INVITATION_ACCEPTED: &str = "invitation.accepted";
    pub const INVITATION_DECLINED: &str = "invitation.declined";
    pub const ROLE_CREATED: &str = "role.created";
    pub const ROLE_UPDATED: &str = "role.updated";
    pub const ROLE_DELETED: &str = "role.deleted";
    pub const OWNERSHIP_TRANSFER_PROPOSED: &str = "workspace.ownership_transfer_proposed";
    pub const OWNERSHIP_TRANSFERRED: &str = "workspace.ownership_transferred";
    pub const OWNERSHIP_TRANSFER_DECLINED: &str = "workspace.ownership_transfer_declined";
    pub const OWNERSHIP_TRANSFER_CANCELLED: &str = "workspace.ownership_transfer_cancelled";
    pub const OWNERSHIP_TRANSFER_EXPIRED: &str = "workspace.ownership_transfer_expired";
    pub const USAGE_THRESHOLD_REACHED: &str = "usage.threshold_reached";
    pub const WEBHOOK_CREATED: &str = "webhook.created";
    pub const WEBHOOK_UPDATED: &str = "webhook.updated";
    pub const WEBHOOK_DELETED: &str = "webhook.deleted";
    pub const WEBHOOK_SECRET_ROTATED: &str = "webhook.secret_rotated";
    pub const WEBHOOK_TESTED: &str = "webhook.tested";
    pub const WEBHOOK_DISABLED: &str = "webhook.disabled";
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    /// The actor's email, while their account exists.
    pub actor_email: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An event about to be written.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub workspace_id: Option<Uuid>,
    pub actor: &'a Actor,
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// An event about a target of some type.
fn event<'a>(
    actor: &'a Actor,
    workspace_id: Option<Uuid>,
    action: &'static str,
    (target_type, target_id): (&'static str, String),
    before: Option<Value>,
    after: Option<Value>,
) -> NewEvent<'a> {
    NewEvent {
        workspace_id,
        actor,
        action,
        target_type,
        target_id: Some(target_id),
        before,
        after,
    }
}

/// An event about a member of a workspace.
fn member<'a>(
    actor: &'a Actor,
    workspace_id: Uuid,
    user_id: Uuid,
    action: &'static str,
    before: Option<Value>,
    after: Option<Value>,
) -> NewEvent<'a> {
    event(
        actor,
        Some(workspace_id),
        action,
        user(user_id),
        before,
        after,
    )
}

fn user(id: Uuid) -> (&'static str, String) {
    ("user", id.to_string())
}

fn workspace(id: Uuid) -> (&'static str, String) {
    ("workspace", id.to_string())
}

fn session(id: Uuid) -> (&'static str, String) {
    ("session", id.to_string())
}

fn api_key(id: Uuid) -> (&'static str, String) {
    ("api_key", id.to_string())
}

fn invitation(inv: &Invitation) -> (&'static str, String) {
    ("invitation", inv.id.to_string())
}

fn transfer(t: &Transfer) -> (&'static str, String) {
    ("ownership_transfer", t.id.to_string())
}

/// The fields that differ between two snapshots, as (before, after).
pub fn diff(before: &Value, after: &Value) -> (Value, Value) {
    let (mut old, mut new) = (serde_json::Map::new(), serde_json::Map::new());
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (key, value) in a {
            if b.get(key) != Some(value) {
                old.insert(key.clone(), b.get(key).cloned().unwrap_or(Value::Null));
                new.insert(key.clone(), value.clone());
            }
        }
    }
    (Value::Object(old), Value::Object(new))
}

pub fn user_signed_up<'a>(actor: &'a Actor, u: &User) -> NewEvent<'a> {
    let after = json!({"email": u.email, "name": u.name});
    event(
        actor,
        None,
        actions::USER_SIGNED_UP,
        user(u.id),
        None,
        Some(after),
    )
}

/// A profile change; the fields that changed.
pub fn user_updated<'a>(actor: &'a Actor, before: &User, after: &User) -> NewEvent<'a> {
    let profile = |u: &User| {
        json!({
            "name": u.name, "photo_url": u.photo_url, "onboarded_at": u.onboarded_at,
            "product_updates_subscribed": u.product_updates_subscribed,
        })
    };
    let (old, new) = diff(&profile(before), &profile(after));
    event(
        actor,
        None,
        actions::USER_UPDATED,
        user(after.id),
        Some(old),
        Some(new),
    )
}

pub fn user_deleted(actor: &Actor, user_id: Uuid) -> NewEvent<'_> {
    event(
        actor,
        None,
        actions::USER_DELETED,
        user(user_id),
        None,
        None,
    )
}

/// A password changed by its owner; how many of their other sessions it ended.
pub fn user_password_changed(actor: &Actor, user_id: Uuid, sessions_ended: u64) -> NewEvent<'_> {
    event(
        actor,
        None,
        actions::USER_PASSWORD_CHANGED,
        user(user_id),
        None,
        Some(json!({"sessions_ended": sessions_ended})),
    )
}

/// A verification link sent (again) to the account's address.
pub fn email_verification_sent<'a>(actor: &'a Actor, user_id: Uuid, email: &str) -> NewEvent<'a> {
    let after = json!({"email": email});
    event(
        actor,
        None,
        actions::USER_EMAIL_VERIFICATION_SENT,
        user(user_id),
        None,
        Some(after),
    )
}

/// The account's address verified (by its link, or by the operator).
pub fn email_verified<'a>(actor: &'a Actor, user_id: Uuid, email: &str) -> NewEvent<'a> {
    event(
        actor,
        None,
        actions::USER_EMAIL_VERIFIED,
        user(user_id),
        Some(json!({"email_verified": false})),
        Some(json!({"email": email, "email_verified": true})),
    )
}

/// A change of address asked for; it waits for the new address to be verified.
pub fn email_change_requested<'a>(
    actor: &'a Actor,
    user_id: Uuid,
    email: &str,
    pending: &str,
) -> NewEvent<'a> {
    event(
        actor,
        None,
        actions::USER_EMAIL_CHANGE_REQUESTED,
        user(user_id),
        Some(json!({"email": email})),
        Some(json!({"pending_email": pending})),
    )
}

/// The account's address replaced by a verified new one.
pub fn email_changed<'a>(actor: &'a Actor, user_id: Uuid, old: &str, new: &str) -> NewEvent<'a> {
    event(
        actor,
        None,
        actions::USER_EMAIL_CHANGED,
        user(user_id),
        Some(json!({"email": old})),
        Some(json!({"email": new, "email_verified": true})),
    )
}

/// A password-reset link sent to an account.
pub fn password_reset_requested(actor: &Actor, user_id: Uuid) -> NewEvent<'_> {
    event(
        actor,
        None,
        actions::USER_PASSWORD_RESET_REQUESTED,
        user(user_id),
        None,
        None,
    )
}

/// A password set through a reset link; every session of the user ended.
pub fn user_password_reset(actor: &Actor, user_id: Uuid, sessions_ended: u64) -> NewEvent<'_> {
    event(
        actor,
        None,
        actions::USER_PASSWORD_RESET,
        user(user_id),
        None,
        Some(json!({"sessions_ended": sessions_ended})),
    )
}

/// A TOTP secret issued to a user, pending until a first code confirms it.
pub fn mfa_totp_enrolled(actor: &Actor, user_id: Uuid) -> NewEvent<'_> {
    event(
        actor,
        None,
        actions::MFA_TOTP_ENROLLED,
        user(user_id),
        None,
        None,
    )
}

/// A user's TOTP factor confirmed: the second factor is on, with fresh recovery codes.
pub fn mfa_enabled(actor: &Actor, user_id: Uuid, recovery_codes: usize) -> NewEvent<'_> {
    event(
        actor,
        None,
        actions::MFA_ENABLED,
        user(user_id),
        Some(json!({"mfa": false})),
        Some(json!({"mfa": true, "recovery_codes": recovery_codes})),
    )
}

/// A user's second factor removed, by themselves (with `proof`: `totp` or `recovery_code`)
/// or by the operator (`operator`).
pub fn mfa_disabled<'a>(actor: &'a Actor, user_id: Uuid, proof: &str) -> NewEvent<'a> {
    event(
        actor,
        None,
        actions::MFA_DISABLED,
        user(user_id),
        Some(json!({"mfa": true})),
        Some(json!({"mfa": false, "by": proof})),
    )
}

/// One of a user's recovery codes spent (`left` remain).
pub fn mfa_recovery_code_used(actor: &Actor, user_id: Uuid, left: u64) -> NewEvent<'_> {
    event(
        actor,
        None,
        actions::MFA_RECOVERY_CODE_USED,
        user(user_id),
        None,
        Some(json!({"recovery_codes_left": left})),
    )
}

/// A user's recovery codes replaced by a new set.
pub fn mfa_recovery_codes_regenerated(actor: &Actor, user_id: Uuid, count: usize) -> NewEvent<'_> {
    event(
        actor,
        None,
        actions::MFA_RECOVERY_CODES_REGENERATED,
        user(user_id),
        None,
        Some(json!({"recovery_codes": count})),
    )
}

/// Every session of a user ended at their request (the current one kept or not).
pub fn sessions_revoked_all(
    actor: &Actor,
    user_id: Uuid,
    ended: u64,
    kept_current: bool,
) -> NewEvent<'_> {
    event(
        actor,
        None,
        actions::SESSIONS_REVOKED_ALL,
        user(user_id),
        None,
        Some(json!({"sessions_ended": ended, "kept_current": kept_current})),
    )
}

pub fn workspace_created<'a>(actor: &'a Actor, ws: &Workspace) -> NewEvent<'a> {
    let after = if ws.is_personal {
        json!({"name": ws.name, "slug": ws.slug, "personal": true})
    } else {
        ws.snapshot()
    };
    event(
        actor,
        Some(ws.id),
        actions::WORKSPACE_CREATED,
        workspace(ws.id),
        None,
        Some(after),
    )
}

/// A change of name, slug or profile; the fields that changed.
pub fn workspace_updated<'a>(
    actor: &'a Actor,
    before: &Workspace,
    after: &Workspace,
) -> NewEvent<'a> {
    let (old, new) = diff(&before.snapshot(), &after.snapshot());
    let target = workspace(after.id);
    event(
        actor,
        Some(after.id),
        actions::WORKSPACE_UPDATED,
        target,
        Some(old),
        Some(new),
    )
}

pub fn workspace_plan_changed<'a>(actor: &'a Actor, ws: &Workspace, plan: &str) -> NewEvent<'a> {
    let (before, after) = (json!({"plan": ws.plan}), json!({"plan": plan}));
    let target = workspace(ws.id);
    event(
        actor,
        Some(ws.id),
        actions::WORKSPACE_PLAN_CHANGED,
        target,
        Some(before),
        Some(after),
    )
}

pub fn workspace_deleted<'a>(actor: &'a Actor, ws: &Workspace) -> NewEvent<'a> {
    let before = ws.snapshot();
    event(
        actor,
        Some(ws.id),
        actions::WORKSPACE_DELETED,
        workspace(ws.id),
        Some(before),
        None,
    )
}

/// A workspace deleted with the account of its last member.
pub fn workspace_deleted_with_last_member(actor: &Actor, workspace_id: Uuid) -> NewEvent<'_> {
    let after = json!({"reason": "last member deleted their account"});
    let target = workspace(workspace_id);
    event(
        actor,
        Some(workspace_id),
        actions::WORKSPACE_DELETED,
        target,
        None,
        Some(after),
    )
}

pub fn workspace_sessions_revoked(actor: &Actor, workspace_id: Uuid, ended: u64) -> NewEvent<'_> {
    let after = json!({"sessions_ended": ended});
    let target = workspace(workspace_id);
    event(
        actor,
        Some(workspace_id),
        actions::WORKSPACE_SESSIONS_REVOKED,
        target,
        None,
        Some(after),
    )
}

/// A member added directly, by creating a workspace, or by accepting `invitation`.
/// A custom role created, changed or deleted (`action`), with what it was and became.
pub fn role_changed<'a>(
    actor: &'a Actor,
    workspace_id: Uuid,
    action: &'static str,
    role_id: Uuid,
    before: Option<Value>,
    after: Option<Value>,
) -> NewEvent<'a> {
    event(
        actor,
        Some(workspace_id),
        action,
        ("role", role_id.to_string()),
        before,
        after,
    )
}

/// A held role as an event shows it: its key, and for a custom role its base and name.
fn role_json(role: &Assignment) -> Value {
    match &role.custom {
        None => json!({"role": role.base.as_str()}),
        Some((label, _)) => json!({
            "role": label.key, "role_name": label.name, "base_role": role.base.as_str(),
        }),
    }
}

pub fn member_added<'a>(
    actor: &'a Actor,
    workspace_id: Uuid,
    user_id: Uuid,
    role: &Assignment,
    invitation: Option<Uuid>,
) -> NewEvent<'a> {
    let mut after = role_json(role);
    if let Some(id) = invitation {
        after["invitation_id"] = json!(id);
    }
    member(
        actor,
        workspace_id,
        user_id,
        actions::MEMBER_ADDED,
        None,
        Some(after),
    )
}

pub fn member_role_changed<'a>(
    actor: &'a Actor,
    workspace_id: Uuid,
    user_id: Uuid,
    from: &Assignment,
    to: &Assignment,
) -> NewEvent<'a> {
    let (before, after) = (role_json(from), role_json(to));
    let action = actions::MEMBER_ROLE_CHANGED;
    member(
        actor,
        workspace_id,
        user_id,
        action,
        Some(before),
        Some(after),
    )
}

/// A member removed by someone else, or leaving (`left`).
pub fn member_removed<'a>(
    actor: &'a Actor,
    workspace_id: Uuid,
    user_id: Uuid,
    role: &Assignment,
    left: bool,
) -> NewEvent<'a> {
    let action = if left {
        actions::MEMBER_LEFT
    } else {
        actions::MEMBER_REMOVED
    };
    let before = role_json(role);
    member(actor, workspace_id, user_id, action, Some(before), None)
}

/// A member gone with their deleted account.
pub fn member_left_with_account(
    actor: &Actor,
    workspace_id: Uuid,
    user_id: Uuid,
    role: Role,
) -> NewEvent<'_> {
    let (before, after) = (
        json!({"role": role.as_str()}),
        json!({"reason": "account deleted"}),
    );
    let action = actions::MEMBER_LEFT;
    member(
        actor,
        workspace_id,
        user_id,
        action,
        Some(before),
        Some(after),
    )
}

pub fn session_started(actor: &Actor, session_id: Uuid, bound: Option<Uuid>) -> NewEvent<'_> {
    event(
        actor,
        bound,
        actions::SESSION_STARTED,
        session(session_id),
        None,
        None,
    )
}

pub fn session_ended<'a>(
    actor: &'a Actor,
    session_id: Uuid,
    bound: Option<Uuid>,
    reason: &str,
) -> NewEvent<'a> {
    let after = json!({"reason": reason});
    event(
        actor,
        bound,
        actions::SESSION_ENDED,
        session(session_id),
        None,
        Some(after),
    )
}

/// A spent refresh token presented again: its session was ended. `actor` is the session's user.
pub fn refresh_reuse_detected(
    actor: &Actor,
    session_id: Uuid,
    bound: Option<Uuid>,
) -> NewEvent<'_> {
    let after = json!({"ended": true});
    let action = actions::SESSION_REUSE_DETECTED;
    event(actor, bound, action, session(session_id), None, Some(after))
}

/// A key created, or (`replaces`) created by rotating another.
pub fn api_key_created<'a>(
    actor: &'a Actor,
    k: &NewApiKey,
    replaces: Option<Uuid>,
) -> NewEvent<'a> {
    let mut after = json!({
        "name": k.name, "prefix": k.prefix, "read_only": k.read_only,
        "description": k.description, "expires_at": k.expires_at,
    });
    if let Some(old) = replaces {
        after["replaces"] = json!(old);
    }
    event(
        actor,
        None,
        actions::API_KEY_CREATED,
        api_key(k.id),
        None,
        Some(after),
    )
}

/// A change of a key's name, description, read-only flag or expiry; `None` when nothing of
/// that changed.
pub fn api_key_updated<'a>(
    actor: &'a Actor,
    before: &ApiKey,
    after: &ApiKey,
) -> Option<NewEvent<'a>> {
    let fields = |k: &ApiKey| {
        json!({
            "name": k.name, "description": k.description, "read_only": k.read_only,
            "expires_at": k.expires_at,
        })
    };
    let (old, new) = diff(&fields(before), &fields(after));
    let changed = new.as_object().is_some_and(|m| !m.is_empty());
    changed.then(|| {
        event(
            actor,
            None,
            actions::API_KEY_UPDATED,
            api_key(after.id),
            Some(old),
            Some(new),
        )
    })
}

pub fn api_key_revoked(actor: &Actor, id: Uuid) -> NewEvent<'_> {
    event(
        actor,
        None,
        actions::API_KEY_REVOKED,
        api_key(id),
        None,
        None,
    )
}

pub fn api_key_regenerated<'a>(actor: &'a Actor, id: Uuid, prefix: &str) -> NewEvent<'a> {
    let after = json!({"prefix": prefix});
    event(
        actor,
        None,
        actions::API_KEY_REGENERATED,
        api_key(id),
        None,
        Some(after),
    )
}

/// A key replaced by `successor`, expiring at the end of its grace period.
pub fn api_key_rotated<'a>(actor: &'a Actor, old: &ApiKey, successor: Uuid) -> NewEvent<'a> {
    let after = json!({"replaced_by": successor, "expires_at": old.expires_at});
    event(
        actor,
        None,
        actions::API_KEY_ROTATED,
        api_key(old.id),
        None,
        Some(after),
    )
}

pub fn invitation_created<'a>(
    actor: &'a Actor,
    inv: &Invitation,
    email_queued: bool,
) -> NewEvent<'a> {
    let after = json!({
        "email": inv.email, "role": inv.role.as_str(), "expires_at": inv.expires_at,
        "email_queued": email_queued,
    });
    let ws = Some(inv.workspace_id);
    event(
        actor,
        ws,
        actions::INVITATION_CREATED,
        invitation(inv),
        None,
        Some(after),
    )
}

/// An invitation cancelled, or replaced by a new one for the same email (`replaced_by`).
pub fn invitation_revoked<'a>(
    actor: &'a Actor,
    inv: &Invitation,
    replaced_by: Option<Uuid>,
) -> NewEvent<'a> {
    let mut after = json!({"status": "revoked"});
    if let Some(id) = replaced_by {
        after["replaced_by"] = json!(id);
    }
    let (ws, before) = (Some(inv.workspace_id), json!({"status": "pending"}));
    event(
        actor,
        ws,
        actions::INVITATION_REVOKED,
        invitation(inv),
        Some(before),
        Some(after),
    )
}

/// A new expiry (`resent`: with a new token and mail).
pub fn invitation_expiry_moved<'a>(
    actor: &'a Actor,
    inv: &Invitation,
    before: DateTime<Utc>,
    resent: bool,
) -> NewEvent<'a> {
    let action = if resent {
        actions::INVITATION_RESENT
    } else {
        actions::INVITATION_EXTENDED
    };
    let (old, new) = (
        json!({"expires_at": before}),
        json!({"expires_at": inv.expires_at}),
    );
    event(
        actor,
        Some(inv.workspace_id),
        action,
        invitation(inv),
        Some(old),
        Some(new),
    )
}

pub fn invitation_accepted<'a>(actor: &'a Actor, inv: &Invitation, user_id: Uuid) -> NewEvent<'a> {
    let after = json!({"user_id": user_id});
    let ws = Some(inv.workspace_id);
    event(
        actor,
        ws,
        actions::INVITATION_ACCEPTED,
        invitation(inv),
        None,
        Some(after),
    )
}

pub fn invitation_declined<'a>(actor: &'a Actor, inv: &Invitation) -> NewEvent<'a> {
    let (before, after) = (json!({"status": "pending"}), json!({"status": "declined"}));
    let ws = Some(inv.workspace_id);
    event(
        actor,
        ws,
        actions::INVITATION_DECLINED,
        invitation(inv),
        Some(before),
        Some(after),
    )
}

pub fn ownership_transfer_proposed<'a>(actor: &'a Actor, t: &Transfer) -> NewEvent<'a> {
    let after = json!({
        "status": "pending", "from_user_id": t.from_user_id, "to_user_id": t.to_user_id,
        "keep_ownership": t.keep_ownership, "expires_at": t.expires_at,
    });
    event(
        actor,
        Some(t.workspace_id),
        actions::OWNERSHIP_TRANSFER_PROPOSED,
        transfer(t),
        None,
        Some(after),
    )
}

/// An accepted transfer: the target's and the proposer's roles before and after.
pub fn ownership_transferred<'a>(
    actor: &'a Actor,
    t: &Transfer,
    target_was: Role,
    proposer_now: Role,
) -> NewEvent<'a> {
    let before = json!({
        "status": "pending",
        "from": {"user_id": t.from_user_id, "role": Role::Owner.as_str()},
        "to": {"user_id": t.to_user_id, "role": target_was.as_str()},
    });
    let after = json!({
        "status": "accepted",
        "from": {"user_id": t.from_user_id, "role": proposer_now.as_str()},
        "to": {"user_id": t.to_user_id, "role": Role::Owner.as_str()},
    });
    event(
        actor,
        Some(t.workspace_id),
        actions::OWNERSHIP_TRANSFERRED,
        transfer(t),
        Some(before),
        Some(after),
    )
}

/// A pending transfer ended without a change of owner: declined, cancelled, expired, or
/// cancelled because it went stale (its proposer no longer an owner, its target no longer a
/// member below owner).
pub fn ownership_transfer_closed<'a>(actor: &'a Actor, t: &Transfer, how: Closing) -> NewEvent<'a> {
    let action = match how {
        Closing::Declined => actions::OWNERSHIP_TRANSFER_DECLINED,
        Closing::Cancelled | Closing::Stale => actions::OWNERSHIP_TRANSFER_CANCELLED,
        Closing::Expired => actions::OWNERSHIP_TRANSFER_EXPIRED,
    };
    let mut after = json!({"status": how.status().as_str()});
    if how == Closing::Stale {
        after["reason"] = json!("stale");
    }
    event(
        actor,
        Some(t.workspace_id),
        action,
        transfer(t),
        Some(json!({"status": "pending"})),
        Some(after),
    )
}

/// Filters of an audit query; all optional, all combined.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_id: Option<Uuid>,
    pub target_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The kind of target (`workspace`, `user`, `invitation`, …).
    pub target_type: Option<String>,
    /// A `LIKE` pattern over the lower-cased action, target type and target id; build it with
    /// [`AuditFilter::search_pattern`].
    pub search: Option<String>,
}

impl AuditFilter {
    /// The `search` pattern for free text: matched literally, as a substring, case-insensitively.
    pub fn search_pattern(text: Option<&str>) -> super::Result<Option<String>> {
        Ok(super::member::MemberFilter::new(text, None)?.pattern)
    }
}

impl Core {
    /// A page of the workspace's audit events, newest first.
    pub async fn audit_events(
        &self,
        access: &Access,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>> {
        access.require(Permission::AuditRead)?;
        let ws = access.workspace.id;
        let mut db = self.store.read();
        let found = db.audit_events(ws, filter, page).await?;
        let total = db.count_audit_events(ws, filter).await?;
        Ok(Page::from_rows(found, page.limit, total, |e| {
            super::paging::Cursor {
                at: e.created_at,
                id: e.id,
            }
        }))
    }
}

/// A workspace API key created (by `actor`, in the key's workspace), possibly as the
/// successor of `replaces`.
pub fn workspace_key_created<'a>(
    actor: &'a Actor,
    k: &WorkspaceApiKey,
    replaces: Option<Uuid>,
) -> NewEvent<'a> {
    let mut after = json!({
        "kind": "workspace", "name": k.name, "prefix": k.prefix,
        "permissions": k.permission_names(), "expires_at": k.expires_at,
    });
    if let Some(old) = replaces {
        after["replaces"] = json!(old);
    }
    event(
        actor,
        Some(k.workspace_id),
        actions::API_KEY_CREATED,
        api_key(k.id),
        None,
        Some(after),
    )
}

/// A change of a workspace key's name or expiry; `None` when nothing changed.
pub fn workspace_key_updated<'a>(
    actor: &'a Actor,
    before: &WorkspaceApiKey,
    after: &WorkspaceApiKey,
) -> Option<NewEvent<'a>> {
    let snapshot = |k: &WorkspaceApiKey| json!({"name": k.name, "expires_at": k.expires_at});
    let (b, a) = (snapshot(before), snapshot(after));
    (b != a).then(|| {
        event(
            actor,
            Some(after.workspace_id),
            actions::API_KEY_UPDATED,
            api_key(after.id),
            Some(b),
            Some(a),
        )
    })
}

pub fn workspace_key_revoked(actor: &Actor, workspace_id: Uuid, id: Uuid) -> NewEvent<'_> {
    event(
        actor,
        Some(workspace_id),
        actions::API_KEY_REVOKED,
        api_key(id),
        None,
        None,
    )
}

/// A workspace key replaced by `successor`, expiring at the end of its grace period.
pub fn workspace_key_rotated<'a>(
    actor: &'a Actor,
    old: &WorkspaceApiKey,
    successor: Uuid,
) -> NewEvent<'a> {
    let after = json!({"replaced_by": successor, "expires_at": old.expires_at});
    event(
        actor,
        Some(old.workspace_id),
        actions::API_KEY_ROTATED,
        api_key(old.id),
        None,
        Some(after),
    )
}

/// A change to a webhook endpoint (`action` one of the `webhook.*` actions).
pub fn webhook_changed<'a>(
    actor: &'a Actor,
    workspace_id: Uuid,
    endpoint_id: Uuid,
    action: &'static str,
    before: Option<Value>,
    after: Option<Value>,
) -> NewEvent<'a> {
    event(
        actor,
        Some(workspace_id),
        action,
        ("webhook", endpoint_id.to_string()),
        before,
        after,
    )
}

/// A workspace's usage passed a share of its month's allowance.
pub fn usage_threshold_reached<'a>(
    actor: &'a Actor,
    workspace_id: Uuid,
    month: &str,
    percent: i64,
    allowance: super::usage::Units,
    used: super::usage::Units,
) -> NewEvent<'a> {
    event(
        actor,
        Some(workspace_id),
        actions::USAGE_THRESHOLD_REACHED,
        ("workspace", workspace_id.to_string()),
        None,
        Some(json!({
            "month": month, "percent": percent,
            "allowance_units": allowance.as_f64(), "used_units": used.as_f64(),
        })),
    )
}
