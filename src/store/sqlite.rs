//! The SQLite backend: one file, WAL, a 5 s busy timeout, foreign keys on, and write
//! transactions that take this process's write turn, then the database's write lock up front
//! (`BEGIN IMMEDIATE`), so they never deadlock upgrading a read lock.

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Error as Sqlx, SqlitePool,
};
use tokio::sync::Mutex;
use uuid::Uuid;

use super::{
    backend::{Backend, Began, Statement},
    db::{Arg, Conn},
    keep,
    signing_keys::INSERT_FIRST_SIGNING_KEY,
    sqlite_read::SqliteReader,
    sqlite_write::SqliteWriter,
    ts::Ts,
    turns::Turn,
    usage::HourRollup,
    Kind, PoolStats, StoreResult,
};
use crate::domain::token::SigningKey;

/// How often a failed open or migration run is retried before it counts as a real failure.
const BUSY_ATTEMPTS: u32 = 8;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite side of the store.
pub struct SqliteBackend {
    pool: SqlitePool,
    max: u32,
    /// SQLite has one writer at a time. Writers of this process queue for it, in order,
    /// instead of in SQLite's sleep-and-retry busy handler.
    writing: Writing,
    /// The reads outside a transaction (`sqlite_read`), for a database in a file.
    reader: Option<SqliteReader>,
}

/// Where this process's writers queue.
enum Writing {
    /// A file: for its one writing connection (`sqlite_write`).
    File(SqliteWriter),
    /// In memory: for the turn, before a pool connection's transaction.
    Memory(Mutex<()>),
}

impl SqliteBackend {
    /// Opens (creating if missing) the database a `sqlite:` URL names.
    /// `full_sync`: `synchronous=FULL`, else `NORMAL`, on every connection of the pool.
    pub async fn connect(url: &str, max_connections: u32, full_sync: bool) -> anyhow::Result<Self> {
        // NORMAL in WAL mode survives a process crash (kill -9) without losing a commit; only
        // an operating-system crash or power loss can drop the last transactions. FULL syncs
        // the WAL at every commit, so those survive too, at the cost of a sync per commit.
        let synchronous = if full_sync {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        };
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // Each connection keeps its own page cache (2 MB by default): 16 of them were most
            // of the memory a long run grew by (docs/BENCHMARKS.md, issue 16). These run
            // one-row reads and the writes; the upper B-tree levels they revisit fit in 512 KiB,
            // and every other page is one read from the operating system's cache away.
            .pragma("cache_size", "-512")
            // On a file these run only what the reader and the writer do not (migrations,
            // `VACUUM INTO`). Each cached statement holds its compiled program, per connection.
            .statement_cache_capacity(16)
            // The writer's checkpoint thread copies the WAL back (`sqlite_write`), so no
            // connection does it as it commits. In memory there is no WAL.
            .pragma("wal_autocheckpoint", "0");
        // The first connection switches the file to WAL, which needs the file to itself: when
        // several processes start on one new file at once, SQLite may answer "database is
        // locked" at once rather than wait, so opening is retried like the migrations.
        let mut attempt = 0;
        let pool = loop {
            let opened = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(5))
                .after_release(|conn, _| Box::pin(keep(conn)))
                .connect_with(options.clone())
                .await;
            match opened {
                Ok(pool) => break pool,
                Err(Sqlx::Database(e))
                    if e.code().as_deref() == Some("5") && attempt < BUSY_ATTEMPTS =>
                {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "database busy while opening; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        // The reader's statements are CPU-bound: two per core keep the cores busy, and each holds
        // a page cache of its own.
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let readers = (max_connections as usize).min(2 * cpus);
        let (writing, reader) = if in_memory {
            (Writing::Memory(Mutex::new(())), None)
        } else {
            let path = options.get_filename().to_path_buf();
            (
                Writing::File(SqliteWriter::new(path.clone(), full_sync)?),
                Some(SqliteReader::new(path, readers)?),
            )
        };
        Ok(SqliteBackend {
            pool,
            max: max_connections,
            writing,
            reader,
        })
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    fn kind(&self) -> Kind {
        Kind::Sqlite
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats::of(&self.pool, self.max)
    }

    fn pool(&self) -> Conn<'_> {
        Conn::SqlitePool(&self.pool)
    }

    async fn begin_write(&self) -> StoreResult<Began<'_>> {
        let turn = match &self.writing {
            Writing::File(writer) => return Ok((Conn::SqliteWrite(writer.begin().await?), None)),
            // The turn comes before a connection, so queued writers hold none.
            Writing::Memory(turn) => turn.lock().await,
        };
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((Conn::Sqlite(tx), Some(Turn::Writer(turn))))
    }

    async fn begin_workspace_write(&self, _workspace_id: Uuid) -> StoreResult<Began<'_>> {
        // The one writer orders every write already.
        self.begin_write().await
    }

    async fn begin_usage_write(&self, _workspace_id: Uuid) -> StoreResult<Began<'_>> {
        // Any write waits for the one writer already.
        self.begin_write().await
    }

    fn lock_workspace(&self) -> &'static str {
        "SELECT m.role, m.role_id, r.key AS role_key, r.name AS role_name, \
         r.permissions AS role_permissions FROM workspaces w \
         LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = $2 \
         LEFT JOIN roles r ON r.id = m.role_id WHERE w.id = $1"
    }

    fn claim_outbox(&self) -> &'static str {
        "UPDATE outbox SET status = 'sending', claimed_at = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at LIMIT $2) \
         RETURNING id, attempts, recipient, subject, text_body, html_body"
    }

    fn claim_webhook_deliveries(&self) -> &'static str {
        // Timestamps are microseconds here.
        "UPDATE webhook_deliveries AS d \
         SET next_attempt_at = $1 + (COALESCE(e.timeout_seconds, $2) * 2 + 5) * 1000000, \
         attempts = d.attempts + 1 FROM webhook_endpoints e \
         WHERE e.id = d.endpoint_id AND (d.event_id, d.endpoint_id) IN \
         (SELECT q.event_id, q.endpoint_id FROM webhook_deliveries q \
         JOIN webhook_endpoints qe ON qe.id = q.endpoint_id \
         WHERE q.status = 'pending' AND q.next_attempt_at <= $1 AND qe.enabled \
         ORDER BY q.next_attempt_at LIMIT $3) \
         RETURNING event_id, endpoint_id"
    }

    fn delivery_hour(&self) -> &'static str {
        // Microseconds here.
        "(d.created_at / 3600000000) * 3600000000"
    }

    fn hourly_upsert<'a>(&self, workspace_id: Uuid, hours: &'a [HourRollup]) -> Statement<'a> {
        // One multi-row list of positional `?` arguments, six a row (6,000 for 1,000 rows,
        // within SQLite's 32,766). Not `$N`: SQLite looks a named argument up by a linear scan
        // of the statement's names, which makes binding thousands of them quadratic.
        let mut sql = String::from(
            "INSERT INTO usage_hourly (workspace_id, meter, hour, month, quantity, units) VALUES ",
        );
        let mut args: Vec<Arg<'a>> = Vec::with_capacity(hours.len() * 6);
        for (i, h) in hours.iter().enumerate() {
            sql.push_str(if i == 0 {
                "(?, ?, ?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?, ?, ?)"
            });
            args.extend([
                workspace_id.into(),
                h.meter.as_str().into(),
                h.hour.into(),
                h.month.into(),
                h.quantity.into(),
                h.units.into(),
            ]);
        }
        sql.push_str(
            " ON CONFLICT (workspace_id, hour, meter) DO UPDATE SET \
             quantity = usage_hourly.quantity + excluded.quantity, \
             units = usage_hourly.units + excluded.units",
        );
        Statement { sql, args }
    }

    fn backup_into(&self) -> Option<&'static str> {
        Some("VACUUM INTO $1")
    }

    fn migrator(&self) -> &'static Migrator {
        &MIGRATOR
    }

    fn reader(&self) -> Option<&SqliteReader> {
        self.reader.as_ref()
    }

    fn writer(&self) -> Option<&SqliteWriter> {
        match &self.writing {
            Writing::File(writer) => Some(writer),
            Writing::Memory(_) => None,
        }
    }

    async fn migrate(&self, candidate: &SigningKey) -> StoreResult<()> {
        // SQLite has no advisory lock: when several processes start on one file, the losers'
        // first attempt fails on what the winner created, and a retry finds it all applied.
        let mut attempt = 0;
        loop {
            match MIGRATOR.run(&self.pool).await {
                Ok(()) => break,
                Err(e) if attempt < BUSY_ATTEMPTS => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "migration raced another process; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(e) => return Err(anyhow::anyhow!("SQLite migration failed: {e}").into()),
            }
        }
        // Before any other write of this process; in memory, its turn all the same.
        let _turn = match &self.writing {
            Writing::Memory(turn) => Some(turn.lock().await),
            Writing::File(_) => None,
        };
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(INSERT_FIRST_SIGNING_KEY)
            .bind(&candidate.kid)
            .bind(&candidate.private_der)
            .bind(&candidate.public_raw)
            .bind(Ts(candidate.created_at))
            .bind(candidate.sealed)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
