//! Storage: one `Store` trait and two backends (SQLite, PostgreSQL), each with its own
//! migrations embedded in the binary. SQL that both dialects accept lives once, in `sql.rs`.

mod postgres;
mod rows;
mod sql;
mod sqlite;
pub mod ts;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{api_key::ApiKey, session::Session, token::SigningKey, user::User};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A storage failure, as the domain needs to tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (its name or message attached).
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    /// The database cannot be reached or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::UniqueViolation(db.constraint().unwrap_or(db.message()).to_owned())
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Other(other.into()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Pool occupancy, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// A user and their personal workspace, created together.
pub struct NewAccount {
    pub user_id: Uuid,
    pub email: String,
    pub email_key: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub workspace_id: Uuid,
    pub workspace_slug: String,
    pub workspace_name: String,
    pub now: DateTime<Utc>,
}

/// A session and its first refresh token.
pub struct NewSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub refresh_hash: Vec<u8>,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live: it is now spent and the new one stored.
    Rotated {
        session_id: Uuid,
        user_id: Uuid,
        workspace_id: Option<Uuid>,
    },
    /// The token had been spent before: its session is now ended.
    Reused { session_id: Uuid },
    /// Unknown token, or its session is over.
    Invalid,
}

/// What an access token's session check returns.
#[derive(Debug, Clone, Copy)]
pub struct ActiveSession {
    pub workspace_id: Option<Uuid>,
}

/// A new API key (its secret only as a hash).
pub struct NewApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: Option<String>,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub read_only: bool,
    pub now: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What authenticating with an API key returns.
#[derive(Debug, Clone, Copy)]
pub struct ApiKeyAuth {
    pub id: Uuid,
    pub user_id: Uuid,
    pub read_only: bool,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Everything the domain asks of storage.
#[async_trait]
pub trait Store: Send + Sync {
    fn backend(&self) -> Backend;
    fn pool_stats(&self) -> PoolStats;

    /// Applies pending migrations and makes sure a signing key exists, safely when several
    /// replicas start at once.
    async fn migrate(&self, candidate_key: SigningKey) -> StoreResult<()>;
    /// True when the database answers and every embedded migration is applied.
    async fn ready(&self) -> StoreResult<bool>;

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKey>>;

    async fn create_account(&self, account: &NewAccount) -> StoreResult<User>;
    async fn user(&self, id: Uuid) -> StoreResult<Option<User>>;
    /// The user id and password hash for an email key.
    async fn credentials_by_email(
        &self,
        email_key: &str,
    ) -> StoreResult<Option<(Uuid, Option<String>)>>;
    async fn update_user(
        &self,
        id: Uuid,
        name: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;
    /// Sets the password of the user with this email key; false when there is none.
    async fn set_password(
        &self,
        email_key: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;
    async fn rotate_refresh_token(
        &self,
        presented: &[u8],
        next: &[u8],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<Rotation>;
    /// Ends a session of this user; false when there is no such active session.
    async fn end_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
        reason: &str,
    ) -> StoreResult<bool>;
    async fn active_sessions(&self, user_id: Uuid, now: DateTime<Utc>)
        -> StoreResult<Vec<Session>>;
    /// The per-request check: the session exists, belongs to the user, has not ended or
    /// expired. One primary-key read.
    async fn session_auth(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ActiveSession>>;

    async fn create_api_key(&self, key: &NewApiKey) -> StoreResult<ApiKey>;
    async fn api_keys(&self, user_id: Uuid) -> StoreResult<Vec<ApiKey>>;
    async fn api_key(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<ApiKey>>;
    async fn revoke_api_key(
        &self,
        user_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// The per-request check for an API key: by hash, not revoked, not expired.
    async fn api_key_auth(
        &self,
        secret_hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKeyAuth>>;
    async fn touch_api_key(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;
}

/// Opens the store a database URL names, creating an SQLite file if it is missing.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, max_connections).await?))
    } else {
        Ok(Arc::new(
            PostgresStore::connect(url, max_connections).await?,
        ))
    }
}
