//! Row shapes shared by both backends, and their conversion into domain types.

use uuid::Uuid;

use super::ts::Ts;
use crate::domain::{api_key::ApiKey, session::Session, token::SigningKey, user::User};

pub const USER_COLUMNS: &str = "id, email, name, email_verified, personal_workspace_id, \
     primary_workspace_id, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    email_verified: bool,
    personal_workspace_id: Option<Uuid>,
    primary_workspace_id: Option<Uuid>,
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

pub const API_KEY_COLUMNS: &str =
    "id, user_id, name, prefix, read_only, created_at, last_used_at, expires_at";

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
