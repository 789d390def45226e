//! Row shapes shared by both backends, and their conversion into domain types.

use uuid::Uuid;

use super::ts::Ts;
use super::OutboxMail;
use crate::domain::{
    api_key::ApiKey,
    audit::AuditEvent,
    invitation::{Invitation, Preview, Status},
    member::Member,
    role::Role,
    session::Session,
    token::SigningKey,
    user::User,
    workspace::{Profile, Workspace},
};
use crate::mail::Mail;

pub const USER_COLUMNS: &str = "id, email, name, email_verified, personal_workspace_id, \
     primary_workspace_id, photo_url, onboarded_at, product_updates_subscribed, created_at, \
     updated_at";

#[derive(sqlx::FromRow)]
pub struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    email_verified: bool,
    personal_workspace_id: Option<Uuid>,
    primary_workspace_id: Option<Uuid>,
    photo_url: Option<String>,
    onboarded_at: Option<Ts>,
    product_updates_subscribed: bool,
    created_at: Ts,
    updated_at: Ts,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            email: r.email,
            name: r.name,
            email_verified: r.email_verified,
            personal_workspace_id: r.personal_workspace_id,
            primary_workspace_id: r.primary_workspace_id,
            photo_url: r.photo_url,
            onboarded_at: r.onboarded_at.map(|t| t.0),
            product_updates_subscribed: r.product_updates_subscribed,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

pub const SESSION_COLUMNS: &str =
    "id, user_id, workspace_id, created_at, last_used_at, expires_at, ip, user_agent";

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    workspace_id: Option<Uuid>,
    created_at: Ts,
    last_used_at: Ts,
    expires_at: Ts,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            id: r.id,
            user_id: r.user_id,
            workspace_id: r.workspace_id,
            created_at: r.created_at.0,
            last_used_at: r.last_used_at.0,
            expires_at: r.expires_at.0,
            ip: r.ip,
            user_agent: r.user_agent,
        }
    }
}

pub const API_KEY_COLUMNS: &str = "id, user_id, name, prefix, read_only, created_at, \
     last_used_at, expires_at, description, revoked_at, replaced_by";

#[derive(sqlx::FromRow)]
pub struct ApiKeyRow {
    id: Uuid,
    user_id: Uuid,
    name: Option<String>,
    prefix: String,
    read_only: bool,
    created_at: Ts,
    last_used_at: Option<Ts>,
    expires_at: Option<Ts>,
    description: Option<String>,
    revoked_at: Option<Ts>,
    replaced_by: Option<Uuid>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            prefix: r.prefix,
            read_only: r.read_only,
            created_at: r.created_at.0,
            last_used_at: r.last_used_at.map(|t| t.0),
            expires_at: r.expires_at.map(|t| t.0),
            description: r.description,
            revoked_at: r.revoked_at.map(|t| t.0),
            replaced_by: r.replaced_by,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct SigningKeyRow {
    kid: String,
    private_der: Vec<u8>,
    public_raw: Vec<u8>,
    created_at: Ts,
}

impl From<SigningKeyRow> for SigningKey {
    fn from(r: SigningKeyRow) -> Self {
        SigningKey {
            kid: r.kid,
            private_der: r.private_der,
            public_raw: r.public_raw,
            created_at: r.created_at.0,
        }
    }
}

/// Workspace columns, read through the alias `w`.
pub const WORKSPACE_COLUMNS: &str = "w.id, w.slug, w.name, w.is_personal, w.plan, \
     w.member_count, w.created_by, w.logo_url, w.description, w.website, w.timezone, \
     w.billing_email, w.support_email, w.unit_system, w.slack_connect_url, w.lane, w.map_home, \
     w.world_video_mode, w.raw_file_downloads, w.created_at, w.updated_at";

#[derive(sqlx::FromRow)]
pub struct WorkspaceRow {
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
    created_at: Ts,
    updated_at: Ts,
}

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
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

/// A workspace with the role of the member it was read for (`member_role`).
#[derive(sqlx::FromRow)]
pub struct RoledWorkspaceRow {
    pub member_role: String,
    pub member_since: Ts,
    #[sqlx(flatten)]
    pub workspace: WorkspaceRow,
}

/// A workspace-scoped access check made with an access token.
#[derive(sqlx::FromRow)]
pub struct SessionAccessRow {
    pub bound_workspace_id: Option<Uuid>,
    pub member_role: String,
    #[sqlx(flatten)]
    pub workspace: WorkspaceRow,
}

/// A workspace-scoped access check made with an API key.
#[derive(sqlx::FromRow)]
pub struct KeyAccessRow {
    pub key_id: Uuid,
    pub key_user_id: Uuid,
    pub key_read_only: bool,
    pub key_last_used_at: Option<Ts>,
    pub member_role: String,
    #[sqlx(flatten)]
    pub workspace: WorkspaceRow,
}

/// Parses a role column (constrained by a CHECK, so a miss is a bug).
pub fn role(text: &str) -> anyhow::Result<Role> {
    Role::parse(text).ok_or_else(|| anyhow::anyhow!("unknown role {text:?} in the database"))
}

pub const MEMBER_COLUMNS: &str =
    "m.user_id, u.email, u.name, m.role, m.created_at AS joined_at, m.updated_at";

#[derive(sqlx::FromRow)]
pub struct MemberRow {
    user_id: Uuid,
    email: String,
    name: String,
    role: String,
    joined_at: Ts,
    updated_at: Ts,
}

impl TryFrom<MemberRow> for Member {
    type Error = anyhow::Error;
    fn try_from(r: MemberRow) -> anyhow::Result<Self> {
        Ok(Member {
            user_id: r.user_id,
            email: r.email,
            name: r.name,
            role: role(&r.role)?,
            joined_at: r.joined_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

pub const AUDIT_COLUMNS: &str = "id, workspace_id, actor_id, action, target_type, target_id, \
     before, after, ip, user_agent, created_at";

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    id: Uuid,
    workspace_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    action: String,
    target_type: String,
    target_id: Option<String>,
    before: Option<String>,
    after: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: Ts,
}

impl From<AuditRow> for AuditEvent {
    fn from(r: AuditRow) -> Self {
        let json = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
        AuditEvent {
            id: r.id,
            workspace_id: r.workspace_id,
            actor_id: r.actor_id,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            before: json(r.before),
            after: json(r.after),
            ip: r.ip,
            user_agent: r.user_agent,
            created_at: r.created_at.0,
        }
    }
}

/// Invitation columns, read through the alias `i`.
pub const INVITATION_COLUMNS: &str = "i.id, i.workspace_id, i.email, i.role, i.status, \
     i.inviter_id, i.created_at, i.expires_at, i.ended_at";

/// The same columns without the alias, for `RETURNING`.
pub const INVITATION_FIELDS: &str =
    "id, workspace_id, email, role, status, inviter_id, created_at, expires_at, ended_at";

#[derive(sqlx::FromRow)]
pub struct InvitationRow {
    id: Uuid,
    workspace_id: Uuid,
    email: String,
    role: String,
    status: String,
    inviter_id: Option<Uuid>,
    created_at: Ts,
    expires_at: Ts,
    ended_at: Option<Ts>,
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = anyhow::Error;
    fn try_from(r: InvitationRow) -> anyhow::Result<Self> {
        Ok(Invitation {
            id: r.id,
            workspace_id: r.workspace_id,
            email: r.email,
            role: role(&r.role)?,
            stored_status: Status::parse(&r.status)
                .ok_or_else(|| anyhow::anyhow!("unknown invitation status {:?}", r.status))?,
            inviter_id: r.inviter_id,
            created_at: r.created_at.0,
            expires_at: r.expires_at.0,
            ended_at: r.ended_at.map(|t| t.0),
        })
    }
}

/// An invitation with what its preview shows.
pub const PREVIEW_COLUMNS: &str = "w.name AS workspace_name, inv.name AS inviter_name, \
     EXISTS (SELECT 1 FROM users x WHERE x.email_key = i.email_key) AS account_exists";

/// The joins `PREVIEW_COLUMNS` needs.
pub const PREVIEW_JOINS: &str = "JOIN workspaces w ON w.id = i.workspace_id \
     LEFT JOIN users inv ON inv.id = i.inviter_id";

#[derive(sqlx::FromRow)]
pub struct PreviewRow {
    workspace_name: String,
    inviter_name: Option<String>,
    account_exists: bool,
    #[sqlx(flatten)]
    invitation: InvitationRow,
}

impl TryFrom<PreviewRow> for Preview {
    type Error = anyhow::Error;
    fn try_from(r: PreviewRow) -> anyhow::Result<Self> {
        Ok(Preview {
            invitation: r.invitation.try_into()?,
            workspace_name: r.workspace_name,
            inviter_name: r.inviter_name,
            account_exists: r.account_exists,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct OutboxRow {
    id: Uuid,
    attempts: i64,
    recipient: String,
    subject: String,
    text_body: Option<String>,
    html_body: Option<String>,
}

impl From<OutboxRow> for OutboxMail {
    fn from(r: OutboxRow) -> Self {
        OutboxMail {
            id: r.id,
            attempts: r.attempts,
            mail: Mail {
                to: r.recipient,
                subject: r.subject,
                text: r.text_body.unwrap_or_default(),
                html: r.html_body.unwrap_or_default(),
            },
        }
    }
}
