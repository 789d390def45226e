//! The audit log: who did what to which target, before and after, from where and when.
//! Events are written by storage in the same transaction as the change they record.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{
    paging::{Page, PageRequest},
    role::Action,
    session::RequestMeta,
    workspace::Access,
    Core, Result,
};

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
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
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

/// Filters of an audit query; all optional, all combined.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_id: Option<Uuid>,
    pub target_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The kind of target (`workspace`, `user`, `invitation`, …).
    pub target_type: Option<String>,
    /// A `LIKE` pattern over the lower-cased action, target type and target id; build it with
    /// [`super::member::MemberFilter::new`]'s escaping via [`AuditFilter::search_pattern`].
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
        access.require(Action::ReadAudit)?;
        Ok(self
            .store
            .audit_events(access.workspace.id, filter, page)
            .await?)
    }
}
