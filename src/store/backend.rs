//! What differs between SQLite and PostgreSQL, as one trait each backend implements: how a
//! write transaction begins, how a workspace row is locked, how outbox rows are claimed, how
//! the hourly usage rollups are bound (arrays or a multi-row list), online backups, and
//! migrations. Every other
//! statement is shared, in the noun modules.

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use uuid::Uuid;

use super::{
    db::{Arg, Conn},
    sqlite_read::SqliteReader,
    sqlite_write::SqliteWriter,
    turns::Turn,
    usage::HourRollup,
    Kind, PoolStats, StoreResult,
};
use crate::domain::token::SigningKey;

/// A statement with its arguments, built by a backend for the shared code to run.
pub struct Statement<'a> {
    pub sql: String,
    pub args: Vec<Arg<'a>>,
}

/// A begun write transaction, with the turn it holds (SQLite: this process's one writer;
/// PostgreSQL: its workspace's queue, for the writes that name one).
pub(super) type Began<'s> = (Conn<'s>, Option<Turn<'s>>);

/// One backend's side of the store.
#[async_trait]
pub trait Backend: Send + Sync {
    fn kind(&self) -> Kind;

    fn pool_stats(&self) -> PoolStats;

    /// The pool, for statements outside a transaction.
    fn pool(&self) -> Conn<'_>;

    /// Begins a write transaction. SQLite takes this process's write turn first, then the
    /// database's write lock up front (`BEGIN IMMEDIATE`), so writers queue in order and never
    /// deadlock upgrading a read lock; PostgreSQL begins a plain transaction and locks rows
    /// where an invariant spans them (`lock_workspace`).
    async fn begin_write(&self) -> StoreResult<Began<'_>>;

    /// Begins a write transaction that locks `workspace_id`'s row (`lock_workspace`).
    /// PostgreSQL first queues it in this process behind the workspace's earlier writers, so
    /// they wait without a connection (see `PostgresBackend`); SQLite as `begin_write`.
    async fn begin_workspace_write(&self, workspace_id: Uuid) -> StoreResult<Began<'_>>;

    /// Begins the write transaction of a usage batch of `workspace_id`. PostgreSQL first queues
    /// the batch in this process behind the workspace's earlier ones, in a queue of their own
    /// (see `PostgresBackend`).
    async fn begin_usage_write(&self, workspace_id: Uuid) -> StoreResult<Began<'_>>;

    /// Reads a workspace (`$1`) and a user's role in it (`$2`; NULL for a non-member), locking
    /// the workspace row until the transaction ends (SQLite's `BEGIN IMMEDIATE` already excludes
    /// every other writer). No row: no such workspace.
    fn lock_workspace(&self) -> &'static str;

    /// Marks up to `$2` due outbox rows (`next_attempt_at <= $1`) as being sent and returns
    /// them; several workers never claim the same row.
    fn claim_outbox(&self) -> &'static str;

    /// The statement that claims up to `$3` due webhook deliveries of enabled endpoints at `$1`,
    /// counting an attempt and leasing each for twice its endpoint's timeout (`$2` seconds
    /// where it has none) and five seconds; it returns `(event_id, endpoint_id)`.
    fn claim_webhook_deliveries(&self) -> &'static str;

    /// The expression for the hour a webhook delivery `d` was created in (a timestamp).
    fn delivery_hour(&self) -> &'static str;

    /// The statement that adds hourly usage totals of one workspace (at most 1,000 rows).
    fn hourly_upsert<'a>(&self, workspace_id: Uuid, hours: &'a [HourRollup]) -> Statement<'a>;

    /// The statement that writes a consistent copy of the database to the file `$1` while
    /// others keep writing, if this backend has one (SQLite: `VACUUM INTO`; PostgreSQL has
    /// `pg_dump` instead).
    fn backup_into(&self) -> Option<&'static str>;

    /// This backend's migrations, embedded in the binary.
    fn migrator(&self) -> &'static Migrator;

    /// SQLite's reader of the hot reads outside a transaction (`sqlite_read`); none on PostgreSQL,
    /// or for an in-memory SQLite database.
    fn reader(&self) -> Option<&SqliteReader> {
        None
    }

    /// SQLite's one writer of a database in a file (`sqlite_write`), which also runs the
    /// statements that write outside a transaction; none on PostgreSQL or in memory.
    fn writer(&self) -> Option<&SqliteWriter> {
        None
    }

    /// Applies pending migrations and stores `candidate` as the signing key if there is none,
    /// safely when several replicas start at once.
    async fn migrate(&self, candidate: &SigningKey) -> StoreResult<()>;
}
