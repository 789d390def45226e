//! Storage: `Store`, the handle the domain holds; `Db` and `Tx`, a connection and a write
//! transaction, whose verbs (one statement each) live in the module of their noun; and the two
//! backends, which differ only in what `Backend` names. Each backend has its own migrations,
//! embedded in the binary. The store runs statements; it decides nothing.

mod access;
mod account_tokens;
mod api_keys;
mod audit;
mod backend;
mod db;
mod invitations;
mod members;
mod mfa;
mod outbox;
mod ownership_transfers;
mod postgres;
mod rate_limits;
mod roles;
mod sessions;
mod signing_keys;
mod sqlite;
mod sqlite_read;
mod sqlite_write;
pub mod ts;
mod turns;
mod usage;
mod users;
mod webhooks;
mod workspace_api_keys;
mod workspaces;

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use sqlx::Error as Sqlx;
use uuid::Uuid;

pub use access::{CookieAccess, KeyAccess, SessionAccess, Standing};
pub use account_tokens::{AccountTokenRow, NewAccountToken};
pub use api_keys::{ApiKeyAuth, NewApiKey};
pub use audit::{ChainHead, ChainRow, ChainedEvent};
pub use db::{Db, Tx};
pub use invitations::{InvitationKey, NewInvitationRow};
pub use mfa::{MfaTicketRow, TotpFactorRow, UserListRow};
pub use outbox::OutboxMail;
pub use sessions::{ActiveSession, NewSession, RefreshToken};
pub use usage::{HourRollup, IdempotencyRecord, UsageRow};
pub use users::{Credentials, NewUser, UserChange};
pub use webhooks::{
    AttemptResult, DeliveryFilter, DeliveryJob, EndpointChange, EndpointSecrets, NewEndpoint,
};
pub use workspace_api_keys::{NewWorkspaceKey, WorkspaceKeyAccess};
pub use workspaces::WorkspaceOfUser;

use crate::domain::token::SigningKey;
use backend::Backend;

/// A named constraint of the schema that can refuse a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// One account per email key.
    UserEmail,
    /// One workspace per slug.
    WorkspaceSlug,
    /// One membership per (workspace, user).
    Membership,
    /// At most one pending invitation per (workspace, email).
    PendingInvitation,
    /// At most one live account link per (user, purpose).
    LiveAccountToken,
    /// At most one pending ownership transfer per workspace.
    PendingOwnershipTransfer,
}

impl Constraint {
    /// The constraint as PostgreSQL names it and as SQLite describes it.
    const ALL: [(Constraint, &'static str, &'static str); 6] = [
        (
            Constraint::UserEmail,
            "uq_users_email_key",
            "users.email_key",
        ),
        (
            Constraint::WorkspaceSlug,
            "uq_workspaces_slug",
            "workspaces.slug",
        ),
        (
            Constraint::Membership,
            "memberships_pkey",
            "memberships.workspace_id, memberships.user_id",
        ),
        (
            Constraint::PendingInvitation,
            "uq_invitations_pending",
            "invitations.workspace_id, invitations.email_key",
        ),
        (
            Constraint::LiveAccountToken,
            "uq_account_tokens_live",
            "account_tokens.user_id, account_tokens.purpose",
        ),
        (
            Constraint::PendingOwnershipTransfer,
            "uq_ownership_transfers_pending",
            "ownership_transfers.workspace_id",
        ),
    ];

    fn of(db: &dyn sqlx::error::DatabaseError) -> Option<Constraint> {
        Constraint::named(db.constraint(), db.message())
    }

    /// The constraint PostgreSQL names (`name`), or SQLite's `message` describes.
    fn named(name: Option<&str>, message: &str) -> Option<Constraint> {
        Constraint::ALL
            .into_iter()
            .find(|(_, pg, columns)| {
                name == Some(*pg) || message.ends_with(&format!(": {columns}"))
            })
            .map(|(c, _, _)| c)
    }
}

/// A storage failure, as the domain needs to tell them apart. The store builds no user-facing
/// error: the domain decides what each of these means.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A statement that must return a row found none.
    #[error("no such row")]
    NotFound,
    /// A named constraint refused the write.
    #[error("constraint refused the write: {0:?}")]
    Conflict(Constraint),
    /// The database cannot be reached or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<Sqlx> for StoreError {
    fn from(e: Sqlx) -> Self {
        match e {
            Sqlx::RowNotFound => Self::NotFound,
            Sqlx::Database(db) => match Constraint::of(db.as_ref()) {
                Some(c) => Self::Conflict(c),
                None => Self::Other(Sqlx::Database(db).into()),
            },
            Sqlx::PoolTimedOut | Sqlx::Io(_) | Sqlx::PoolClosed => Self::Unavailable(e.to_string()),
            other => Self::Other(other.into()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
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

impl PoolStats {
    fn of<DB: sqlx::Database>(pool: &sqlx::Pool<DB>, max: u32) -> PoolStats {
        PoolStats {
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max,
        }
    }
}

/// What the store counts: every statement it runs (not `BEGIN`/`COMMIT`), for `/metrics` and
/// for tests that check how many statements a request costs; and the signal a commit that
/// queued webhook deliveries gives this process's webhook worker.
#[derive(Debug, Default)]
pub struct Stats {
    statements: AtomicU64,
    webhooks_queued: tokio::sync::Notify,
}

impl Stats {
    fn count_statement(&self) {
        self.statements.fetch_add(1, Ordering::Relaxed);
    }
}

/// The store: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    stats: Arc<Stats>,
}

impl Store {
    /// A connection for reads (and single-statement writes) outside a transaction.
    pub fn read(&self) -> Db<'_> {
        Db {
            conn: self.backend.pool(),
            backend: self.backend.as_ref(),
            stats: &self.stats,
        }
    }

    /// Begins a write transaction (see `Backend::begin_write`).
    pub async fn write(&self) -> StoreResult<Tx<'_>> {
        let (conn, turn) = self.backend.begin_write().await?;
        Ok(self.tx(conn, turn))
    }

    /// Begins a write transaction that will lock `workspace_id` (see
    /// `Backend::begin_workspace_write`).
    pub async fn write_workspace(&self, workspace_id: Uuid) -> StoreResult<Tx<'_>> {
        let (conn, turn) = self.backend.begin_workspace_write(workspace_id).await?;
        Ok(self.tx(conn, turn))
    }

    /// Begins the write transaction of a usage batch (see `Backend::begin_usage_write`).
    pub async fn write_usage(&self, workspace_id: Uuid) -> StoreResult<Tx<'_>> {
        let (conn, turn) = self.backend.begin_usage_write(workspace_id).await?;
        Ok(self.tx(conn, turn))
    }

    fn tx<'s>(&'s self, conn: db::Conn<'s>, turn: Option<turns::Turn<'s>>) -> Tx<'s> {
        Tx::new(
            Db {
                conn,
                backend: self.backend.as_ref(),
                stats: &self.stats,
            },
            turn,
        )
    }

    /// Signalled after each commit of this process that queued webhook deliveries, so its
    /// worker sends them without waiting for its next round (other replicas find them then).
    pub fn webhooks_queued(&self) -> &tokio::sync::Notify {
        &self.stats.webhooks_queued
    }

    pub fn kind(&self) -> Kind {
        self.backend.kind()
    }

    pub fn pool_stats(&self) -> PoolStats {
        self.backend.pool_stats()
    }

    /// Statements run since the store opened.
    pub fn statements(&self) -> u64 {
        self.stats.statements.load(Ordering::Relaxed)
    }

    /// Applies pending migrations and makes sure a signing key exists, safely when several
    /// replicas start at once.
    pub async fn migrate(&self, candidate: SigningKey) -> StoreResult<()> {
        self.backend.migrate(&candidate).await
    }

    /// Writes a consistent copy of the database to `path` while it stays in use; `false` when
    /// this backend has no such statement (see `Backend::backup_into`).
    pub async fn backup_into(&self, path: &str) -> StoreResult<bool> {
        let Some(sql) = self.backend.backup_into() else {
            return Ok(false);
        };
        // Not in the writer's transaction: `VACUUM INTO` runs outside any.
        self.read().execute_here(sql, &[path.into()]).await?;
        Ok(true)
    }

    /// SQLite's `synchronous` mode in effect on the connection that commits the writes (0
    /// off, 1 normal, 2 full, 3 extra), read in a write transaction that changes nothing;
    /// `None` on PostgreSQL.
    pub async fn sqlite_synchronous(&self) -> StoreResult<Option<i64>> {
        if self.kind() != Kind::Sqlite {
            return Ok(None);
        }
        let (mode,): (i64,) = self.write().await?.one("PRAGMA synchronous", &[]).await?;
        Ok(Some(mode))
    }

    /// True when the database answers and every embedded migration is applied.
    pub async fn ready(&self) -> StoreResult<bool> {
        let applied: Vec<(i64,)> = self
            .read()
            .all("SELECT version FROM _sqlx_migrations WHERE success", &[])
            .await?;
        Ok(self
            .backend
            .migrator()
            .iter()
            .all(|m| applied.iter().any(|(v,)| *v == m.version)))
    }
}

/// Whether a connection coming back to its pool may be reused. One still inside a transaction
/// was abandoned mid-way (a request dropped while `BEGIN` ran, before its `Transaction` guard
/// existed); reusing it would keep that transaction — on SQLite, the write lock — forever.
/// Closing it rolls the transaction back. A dropped `Transaction` queues its rollback (on
/// SQLite, to the connection's worker thread), so a round trip first lets that land.
async fn keep<C: sqlx::Connection>(conn: &mut C) -> Result<bool, Sqlx> {
    if conn.is_in_transaction() {
        conn.ping().await?;
    }
    let clean = !conn.is_in_transaction();
    if !clean {
        tracing::warn!("closing a database connection returned inside an abandoned transaction");
    }
    Ok(clean)
}

/// How the store opens its database.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub max_connections: u32,
    /// SQLite only: `synchronous=FULL` on every connection (else `NORMAL`).
    pub sqlite_full_sync: bool,
}

/// The database a URL names.
pub fn kind_of(url: &str) -> Kind {
    if url.starts_with("sqlite:") {
        Kind::Sqlite
    } else {
        Kind::Postgres
    }
}

/// Opens the store a database URL names, creating an SQLite file if it is missing.
pub async fn connect(url: &str, options: Options) -> anyhow::Result<Store> {
    let max_connections = options.max_connections;
    let backend: Arc<dyn Backend> = if kind_of(url) == Kind::Sqlite {
        Arc::new(
            sqlite::SqliteBackend::connect(url, max_connections, options.sqlite_full_sync).await?,
        )
    } else {
        Arc::new(postgres::PostgresBackend::connect(url, max_connections).await?)
    };
    Ok(Store {
        backend,
        stats: Arc::default(),
    })
}
