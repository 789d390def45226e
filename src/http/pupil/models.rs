//! The Pupil wire shapes and their translation from domain values: role words, the owner rule
//! (no `role`, `"is_owner": true`), workspace, invitation, member, token and profile payloads.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{
    api_key::ApiKey,
    invitation::{Invitation, Status},
    member::Member,
    role::Role,
    workspace::Workspace,
};

/// A role as Pupil names it. `owner` has no Pupil word; `field_worker` is shown as `EDITOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum PupilRole {
    #[serde(rename = "ADMIN")]
    Admin,
    #[serde(rename = "EDITOR")]
    Editor,
    #[serde(rename = "VIEWER")]
    Viewer,
    #[serde(rename = "DEMO")]
    Demo,
}

impl PupilRole {
    /// The Pupil word of a role; `None` for `owner`.
    pub fn of(role: Role) -> Option<PupilRole> {
        match role {
            Role::Owner => None,
            Role::Admin => Some(PupilRole::Admin),
            Role::Editor | Role::FieldWorker => Some(PupilRole::Editor),
            Role::Viewer => Some(PupilRole::Viewer),
            Role::Demo => Some(PupilRole::Demo),
        }
    }

    pub fn role(self) -> Role {
        match self {
            PupilRole::Admin => Role::Admin,
            PupilRole::Editor => Role::Editor,
            PupilRole::Viewer => Role::Viewer,
            PupilRole::Demo => Role::Demo,
        }
    }
}

/// How world video is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum WorldVideoMode {
    #[serde(rename = "NORMAL")]
    Normal,
    #[serde(rename = "NOUPLOAD")]
    NoUpload,
    #[serde(rename = "BLUR")]
    Blur,
}

impl WorldVideoMode {
    pub fn as_str(self) -> &'static str {
        match self {
            WorldVideoMode::Normal => "NORMAL",
            WorldVideoMode::NoUpload => "NOUPLOAD",
            WorldVideoMode::Blur => "BLUR",
        }
    }

    fn parse(s: &str) -> Option<WorldVideoMode> {
        [
            WorldVideoMode::Normal,
            WorldVideoMode::NoUpload,
            WorldVideoMode::Blur,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// A workspace (Pupil's `WorkspaceResponse`).
#[derive(Serialize, ToSchema)]
pub struct WorkspaceResponse {
    id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
    created_by_user_id: Option<Uuid>,
    updated_at: DateTime<Utc>,
    /// Roster's `logo_url`.
    picture_url: Option<String>,
    world_video_mode: Option<WorldVideoMode>,
    /// Roster's plan.
    plan_id: String,
    raw_file_downloads: bool,
}

impl From<Workspace> for WorkspaceResponse {
    fn from(ws: Workspace) -> Self {
        WorkspaceResponse {
            id: ws.id,
            name: ws.name,
            created_at: ws.created_at,
            created_by_user_id: ws.created_by,
            updated_at: ws.updated_at,
            world_video_mode: ws
                .profile
                .world_video_mode
                .as_deref()
                .and_then(WorldVideoMode::parse),
            picture_url: ws.profile.logo_url,
            plan_id: ws.plan,
            raw_file_downloads: ws.profile.raw_file_downloads,
        }
    }
}

/// An invitation (Pupil's `WorkspaceInvitation`). `token` is the public id that the invitation
/// paths take, never the secret of the email link.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceInvitation {
    id: Uuid,
    token: String,
    workspace_id: Uuid,
    email: String,
    /// Absent for an invitation to become owner (Pupil has no word for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<PupilRole>,
    /// True for an invitation to become owner.
    is_owner: bool,
    /// `pending`, `accepted`, `declined`, `revoked` or `expired` (a Roster addition).
    status: Status,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    created_by_user_id: Option<Uuid>,
}

pub fn invitation(i: Invitation, now: DateTime<Utc>) -> WorkspaceInvitation {
    WorkspaceInvitation {
        status: i.status_at(now),
        id: i.id,
        token: i.id.to_string(),
        workspace_id: i.workspace_id,
        email: i.email,
        role: PupilRole::of(i.role),
        is_owner: i.role == Role::Owner,
        created_at: i.created_at,
        expires_at: i.expires_at,
        created_by_user_id: i.inviter_id,
    }
}

/// The user of a member row.
#[derive(Serialize, ToSchema)]
pub struct User {
    id: Uuid,
    email: String,
    name: String,
}

/// A member (Pupil's `WorkspaceMember`). An owner's row has no `role` and `is_owner: true`.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceMember {
    user_id: Uuid,
    workspace_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<PupilRole>,
    is_owner: bool,
    user: User,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub fn member(workspace_id: Uuid, m: Member) -> WorkspaceMember {
    WorkspaceMember {
        user_id: m.user_id,
        workspace_id,
        role: PupilRole::of(m.role),
        is_owner: m.role == Role::Owner,
        user: User {
            id: m.user_id,
            email: m.email,
            name: m.name,
        },
        created_at: m.joined_at,
        updated_at: m.updated_at,
    }
}

/// A personal API token (a Roster API key). `token`, the secret, is only in the create answer.
#[derive(Serialize, ToSchema)]
pub struct Token {
    id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

pub fn token(key: ApiKey, secret: Option<String>) -> Token {
    Token {
        id: key.id,
        token: secret,
        created_at: key.created_at,
        last_used_at: key.last_used_at,
    }
}

/// One of the caller's memberships, in the profile.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceMembership {
    workspace_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<PupilRole>,
    is_owner: bool,
    workspace: WorkspaceResponse,
}

pub fn membership(ws: Workspace, role: Role) -> WorkspaceMembership {
    WorkspaceMembership {
        workspace_id: ws.id,
        role: PupilRole::of(role),
        is_owner: role == Role::Owner,
        workspace: ws.into(),
    }
}

/// The caller's profile.
#[derive(Serialize, ToSchema)]
pub struct Profile {
    pub id: Uuid,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onboarded_at: Option<DateTime<Utc>>,
    pub product_updates_subscribed: bool,
    /// The personal workspace, which the `default` path alias names.
    pub default_workspace_id: Option<Uuid>,
    pub user_workspaces: Vec<WorkspaceMembership>,
}
