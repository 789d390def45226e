//! Storage: the `Store` traits and two backends (SQLite, PostgreSQL), each with its own
//! migrations embedded in the binary. SQL that both dialects accept lives once, in `sql/`.

mod postgres;
mod rows;
mod sql;
mod sqlite;
pub mod ts;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{
    api_key::{ApiKey, ApiKeyPatch},
    audit::{Actor, AuditEvent, AuditFilter},
    invitation::{Invitation, NewInvitation, Preview, Status},
    member::{Member, MemberFilter, MemberTarget},
    paging::{Page, PageRequest},
    role::Role,
    session::Session,
    token::SigningKey,
    user::User,
    workspace::{NewWorkspace, Workspace, WorkspacePatch, WorkspaceRef},
    Error,
};

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
    /// A domain rule refused the change inside its transaction (which was rolled back).
    #[error("refused: {0}")]
    Refused(Box<Error>),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        StoreError::Refused(Box::new(e))
    }
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
#[derive(Clone)]
pub struct NewApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: Option<String>,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub read_only: bool,
    pub now: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub description: Option<String>,
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
pub trait Store: StoreCore + AccountStore + WorkspaceStore + InvitationStore + UsageStore {}

impl<T: StoreCore + AccountStore + WorkspaceStore + InvitationStore + UsageStore> Store for T {}

/// The database itself: migrations, readiness, pool, signing keys.
#[async_trait]
pub trait StoreCore: Send + Sync {
    fn backend(&self) -> Backend;
    fn pool_stats(&self) -> PoolStats;

    /// Applies pending migrations and makes sure a signing key exists, safely when several
    /// replicas start at once.
    async fn migrate(&self, candidate_key: SigningKey) -> StoreResult<()>;
    /// True when the database answers and every embedded migration is applied.
    async fn ready(&self) -> StoreResult<bool>;

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKey>>;
}

/// Users, sessions and API keys. Every change writes its audit event in its transaction.
#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn create_account(&self, account: &NewAccount, actor: &Actor) -> StoreResult<User>;
    async fn user(&self, id: Uuid) -> StoreResult<Option<User>>;
    /// The user id and password hash for an email key.
    async fn credentials_by_email(
        &self,
        email_key: &str,
    ) -> StoreResult<Option<(Uuid, Option<String>)>>;
    async fn update_user(
        &self,
        id: Uuid,
        change: &UserChange<'_>,
        actor: &Actor,
    ) -> StoreResult<Option<User>>;
    /// Sets the password of the user with this email key; false when there is none.
    async fn set_password(
        &self,
        email_key: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    async fn create_session(&self, session: &NewSession, actor: &Actor) -> StoreResult<()>;
    async fn rotate_refresh_token(
        &self,
        presented: &[u8],
        next: &[u8],
        expires_at: DateTime<Utc>,
        actor: &Actor,
    ) -> StoreResult<Rotation>;
    /// Ends a session of this user; false when there is no such active session.
    async fn end_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        reason: &str,
        actor: &Actor,
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

    async fn create_api_key(&self, key: &NewApiKey, actor: &Actor) -> StoreResult<ApiKey>;
    async fn api_keys(&self, user_id: Uuid) -> StoreResult<Vec<ApiKey>>;
    async fn api_key(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<ApiKey>>;
    async fn revoke_api_key(&self, user_id: Uuid, id: Uuid, actor: &Actor) -> StoreResult<bool>;
    /// Applies `patch` to one of the user's unrevoked keys; `None` if there is no such key.
    async fn update_api_key(
        &self,
        user_id: Uuid,
        id: Uuid,
        patch: &ApiKeyPatch,
        actor: &Actor,
    ) -> StoreResult<Option<ApiKey>>;
    /// Gives one of the user's live (unrevoked, unexpired) keys a new secret; `None` if there is
    /// no such key.
    async fn regenerate_api_key(
        &self,
        user_id: Uuid,
        id: Uuid,
        prefix: &str,
        secret_hash: &[u8],
        actor: &Actor,
    ) -> StoreResult<Option<ApiKey>>;
    /// Replaces one of the user's live, not yet rotated keys by `next` (which takes over its
    /// name, description and read-only flag) and lets the old one expire at `old_until` (or
    /// earlier, if it already expires earlier); `None` if there is no such key.
    async fn rotate_api_key(
        &self,
        user_id: Uuid,
        id: Uuid,
        next: &NewApiKey,
        old_until: DateTime<Utc>,
        actor: &Actor,
    ) -> StoreResult<Option<ApiKey>>;
    /// The per-request check for an API key: by hash, not revoked, not expired.
    async fn api_key_auth(
        &self,
        secret_hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKeyAuth>>;
    async fn touch_api_key(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;

    /// Deletes a user with their sessions, keys and memberships. Workspaces where they are the
    /// only member go with them; being the last owner of a workspace with other members
    /// refuses the deletion (checked under the workspaces' row locks).
    async fn delete_account(&self, user_id: Uuid, actor: &Actor) -> StoreResult<()>;
}

/// Workspaces, memberships and the audit log.
#[async_trait]
pub trait WorkspaceStore: Send + Sync {
    /// The per-request check of a workspace-scoped call made with an access token: session
    /// active, workspace found, caller a member — one indexed query. `None` on any miss.
    async fn session_workspace_access(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        ws: &WorkspaceRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(ActiveSession, Workspace, Role)>>;
    /// The same for an API key.
    async fn key_workspace_access(
        &self,
        secret_hash: &[u8],
        ws: &WorkspaceRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(ApiKeyAuth, Workspace, Role)>>;

    async fn workspaces_of(
        &self,
        user_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<(Workspace, Role)>>;
    async fn create_workspace(&self, ws: &NewWorkspace, actor: &Actor) -> StoreResult<Workspace>;
    async fn update_workspace(
        &self,
        id: Uuid,
        patch: &WorkspacePatch,
        actor: &Actor,
    ) -> StoreResult<Workspace>;
    /// Deletes a workspace if the actor is still its owner.
    async fn delete_workspace(&self, id: Uuid, actor: &Actor) -> StoreResult<()>;
    /// Ends every session of every member; the number ended.
    async fn revoke_workspace_sessions(&self, id: Uuid, actor: &Actor) -> StoreResult<u64>;

    /// A page of members; `total_hint` spares the count when no filter applies.
    async fn members(
        &self,
        workspace_id: Uuid,
        filter: &MemberFilter,
        page: &PageRequest,
        total_hint: Option<u64>,
    ) -> StoreResult<Page<Member>>;
    async fn member(&self, workspace_id: Uuid, user_id: Uuid) -> StoreResult<Option<Member>>;
    async fn add_member(
        &self,
        workspace_id: Uuid,
        target: &MemberTarget,
        role: Role,
        actor: &Actor,
    ) -> StoreResult<Member>;
    async fn change_role(
        &self,
        workspace_id: Uuid,
        user_id: Uuid,
        role: Role,
        actor: &Actor,
    ) -> StoreResult<Member>;
    async fn remove_member(
        &self,
        workspace_id: Uuid,
        user_id: Uuid,
        actor: &Actor,
    ) -> StoreResult<()>;

    async fn audit_events(
        &self,
        workspace_id: Uuid,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>>;
}

/// A fixed-window counter: at most `limit` hits per `window_secs` for `bucket` (0: no limit).
#[derive(Debug, Clone)]
pub struct RateLimit {
    pub bucket: String,
    pub window_secs: i64,
    pub limit: u32,
}

/// A claimed outbox row, ready to send.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    pub id: Uuid,
    pub attempts: i64,
    pub mail: crate::mail::Mail,
}

/// Invitations, the mail outbox and rate-limit counters. Every invitation change writes its
/// outbox row and audit event in its transaction.
#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// Revokes any pending invitation for the same email, stores the new one and its mail.
    /// Refused (in the transaction) unless the actor may invite with this role, under the rate
    /// limit, and the email is neither the actor's nor a member's.
    async fn create_invitation(
        &self,
        workspace_id: Uuid,
        invitation: &NewInvitation,
        limit: &RateLimit,
        actor: &Actor,
    ) -> StoreResult<Invitation>;
    async fn invitations(
        &self,
        workspace_id: Uuid,
        status: Status,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> StoreResult<Page<Invitation>>;
    async fn invitation(&self, workspace_id: Uuid, id: Uuid) -> StoreResult<Option<Invitation>>;
    async fn extend_invitation(
        &self,
        workspace_id: Uuid,
        id: Uuid,
        expires_at: DateTime<Utc>,
        actor: &Actor,
    ) -> StoreResult<Invitation>;
    async fn cancel_invitation(
        &self,
        workspace_id: Uuid,
        id: Uuid,
        actor: &Actor,
    ) -> StoreResult<()>;
    /// Replaces a pending invitation's token and expiry and queues its new mail; queued mail
    /// with the old token is withdrawn. `limit` is the resend limit (none for the worker).
    #[allow(clippy::too_many_arguments)]
    async fn reissue_invitation(
        &self,
        workspace_id: Uuid,
        id: Uuid,
        token_hash: &[u8],
        expires_at: DateTime<Utc>,
        mail: &crate::mail::Mail,
        limit: Option<&RateLimit>,
        actor: &Actor,
    ) -> StoreResult<Invitation>;
    /// Pending, unexpired invitations addressed to an email key.
    async fn invitations_for_email(
        &self,
        email_key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Preview>>;
    async fn invitation_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<Preview>>;
    async fn invitation_by_id(&self, id: Uuid) -> StoreResult<Option<Preview>>;
    /// Spends the token and adds the user (whose email must be the invited one).
    async fn accept_invitation(
        &self,
        token_hash: &[u8],
        user_id: Uuid,
        actor: &Actor,
    ) -> StoreResult<Role>;
    /// Creates the account and accepts, in one transaction.
    async fn accept_invitation_with_signup(
        &self,
        token_hash: &[u8],
        account: &NewAccount,
        actor: &Actor,
    ) -> StoreResult<Role>;
    async fn decline_invitation(&self, token_hash: &[u8], actor: &Actor) -> StoreResult<()>;
    /// Accepts by the invitation's public id, for a signed-in user (whose email must be the
    /// invited one, as with a token).
    async fn accept_invitation_by_id(
        &self,
        id: Uuid,
        user_id: Uuid,
        actor: &Actor,
    ) -> StoreResult<Role>;
    /// Declines by public id; only the invitation addressed to `email_key`.
    async fn decline_invitation_by_id(
        &self,
        id: Uuid,
        email_key: &str,
        actor: &Actor,
    ) -> StoreResult<()>;

    /// Counts a hit in its own transaction; refused with `RateLimited` when over the limit.
    async fn hit_rate_limit(&self, limit: &RateLimit, now: DateTime<Utc>) -> StoreResult<()>;
    /// Counts one hit against each limit in one transaction (in bucket order, so concurrent
    /// callers lock alike): all are counted, or, when any is over, none and `RateLimited`
    /// with the longest wait.
    async fn hit_rate_limits(&self, limits: &[RateLimit], now: DateTime<Utc>) -> StoreResult<()>;
    /// Drops counters of windows that started before `before`; the number dropped.
    async fn prune_rate_limits(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    /// Claims up to `batch` due messages (marking them as being sent).
    async fn claim_outbox(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<Vec<OutboxMail>>;
    /// Marks a message sent and drops its body (which holds a secret link).
    async fn outbox_sent(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;
    /// Records a failure; `retry_at` None gives up on the message.
    async fn outbox_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
    /// Messages claimed before `before` and never marked: a sender died mid-delivery. They are
    /// marked superseded (never sent as they are); returned with their invitation, if any.
    async fn take_stale_outbox(&self, before: DateTime<Utc>) -> StoreResult<Vec<Option<Uuid>>>;
}

/// A checked change to a user's profile; `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct UserChange<'a> {
    pub name: Option<&'a str>,
    pub photo_url: Option<Option<&'a str>>,
    pub onboarded: Option<bool>,
    pub product_updates_subscribed: Option<bool>,
}

/// A batch of usage, aggregated per hour and meter, ready to count.
#[derive(Debug)]
pub struct UsageWrite<'a> {
    pub workspace_id: Uuid,
    pub idempotency: Option<IdempotencyRecord<'a>>,
    /// Sorted by (hour, meter), each pair once.
    pub hours: Vec<HourRollup>,
    /// Event units (thousandths) per month the batch touches, by month number, ascending.
    pub months: Vec<(i64, i64)>,
    /// The monthly allowance in thousandths of a unit; `None`: no limit is checked.
    pub limit: Option<i64>,
    pub now: DateTime<Utc>,
}

/// The idempotency record written with a batch.
#[derive(Debug)]
pub struct IdempotencyRecord<'a> {
    pub key: &'a str,
    pub body_hash: &'a [u8],
    /// The answer to give retries.
    pub response: String,
    /// A record older than this is expired: its key may be used afresh.
    pub reusable_before: DateTime<Utc>,
}

/// One hour's total of one meter.
#[derive(Debug)]
pub struct HourRollup {
    pub meter: String,
    pub hour: i64,
    pub month: i64,
    pub quantity: i64,
    pub units: i64,
}

/// What became of a usage batch.
#[derive(Debug)]
pub enum UsageWritten {
    Recorded,
    /// The key was used within its window; nothing was counted. The first batch's digest and
    /// answer.
    Replayed {
        body_hash: Vec<u8>,
        response: String,
    },
    /// Counting it would pass the allowance of this month; nothing was counted.
    OverQuota {
        month: i64,
    },
}

/// A row of a usage report: a bucket (hour, day = hour / 24, or month number) and meter.
#[derive(Debug, sqlx::FromRow)]
pub struct UsageRow {
    pub bucket: i64,
    pub meter: String,
    pub quantity: i64,
    pub units: i64,
}

/// Usage rollups, monthly counters and batch idempotency records.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Counts a batch in one transaction: its idempotency record, then each month's counter
    /// (a conditional upsert that refuses to pass `limit`), then the hourly rollups.
    async fn record_usage(&self, batch: &UsageWrite<'_>) -> StoreResult<UsageWritten>;
    /// Totals per bucket and meter of the hours `[from_hour, to_hour)`.
    async fn usage_rows(
        &self,
        workspace_id: Uuid,
        from_hour: i64,
        to_hour: i64,
        granularity: crate::domain::usage::Granularity,
    ) -> StoreResult<Vec<UsageRow>>;
    /// Thousandths of event units counted in a month.
    async fn usage_month(&self, workspace_id: Uuid, month: i64) -> StoreResult<i64>;
    /// Drops idempotency records created before `before`; the number dropped.
    async fn prune_usage_batches(&self, before: DateTime<Utc>) -> StoreResult<u64>;
    /// Sets a workspace's plan (an operator's change, audited).
    async fn set_workspace_plan(
        &self,
        ws: &WorkspaceRef,
        plan: &str,
        actor: &Actor,
    ) -> StoreResult<Workspace>;
}

/// Whether a connection coming back to its pool may be reused. One still inside a transaction
/// was abandoned mid-way (a request dropped while `BEGIN` ran, before its `Transaction` guard
/// existed); reusing it would keep that transaction — on SQLite, the write lock — forever.
/// Closing it rolls the transaction back. A dropped `Transaction` queues its rollback (on
/// SQLite, to the connection's worker thread), so a round trip first lets that land.
async fn keep<C: sqlx::Connection>(conn: &mut C) -> Result<bool, sqlx::Error> {
    if conn.is_in_transaction() {
        conn.ping().await?;
    }
    let clean = !conn.is_in_transaction();
    if !clean {
        tracing::warn!("closing a database connection returned inside an abandoned transaction");
    }
    Ok(clean)
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
