//! The SQLite backend: one file, WAL, a 5 s busy timeout, foreign keys on, and write
//! transactions that take the write lock up front (`BEGIN IMMEDIATE`) so they never deadlock
//! upgrading a read lock.

use std::{str::FromStr, time::Duration};

use tokio::sync::{Mutex, MutexGuard};

use sqlx::{
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Sqlite, SqlitePool, Transaction,
};

use super::{keep, sql::impl_store, ts::Ts, Backend, StoreResult};
use crate::domain::token::SigningKey;

/// Reads a workspace row inside a write transaction, locking it until commit where the backend
/// needs that (SQLite's `BEGIN IMMEDIATE` already excludes every other writer).
const LOCK_WORKSPACE: &str = "SELECT id FROM workspaces WHERE id = $1";

/// Reads a workspace row and a member's role in it (NULL for a non-member), in one trip.
const LOCK_WORKSPACE_ROLE: &str = "SELECT m.role FROM workspaces w \
     LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = $2 WHERE w.id = $1";

/// Claims due outbox rows (several workers never claim the same row).
const CLAIM_OUTBOX: &str =
    "UPDATE outbox SET status = 'sending', claimed_at = $1, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $1 \
     ORDER BY next_attempt_at LIMIT $2) \
     RETURNING id, attempts, recipient, subject, text_body, html_body";

/// How often a failed migration run is retried before it counts as a real failure.
const MIGRATION_ATTEMPTS: u32 = 8;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// A store on an SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    max: u32,
    /// SQLite has one writer at a time. Writers of this process queue here, in order, instead
    /// of in SQLite's sleep-and-retry busy handler; the busy timeout still covers writers in
    /// other processes on the same file.
    writer: Mutex<()>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database a `sqlite:` URL names.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode survives a process crash (kill -9) without losing a commit;
            // only an operating-system crash or power loss can drop the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
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
                Err(sqlx::Error::Database(e))
                    if e.code().as_deref() == Some("5") && attempt < MIGRATION_ATTEMPTS =>
                {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "database busy while opening; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        Ok(SqliteStore {
            pool,
            max: max_connections,
            writer: Mutex::new(()),
        })
    }

    /// Takes this process's write turn (before a connection, so queued writers hold none),
    /// then the database's write lock up front.
    async fn begin_write(
        &self,
    ) -> sqlx::Result<(Transaction<'static, Sqlite>, MutexGuard<'_, ()>)> {
        let turn = self.writer.lock().await;
        Ok((self.pool.begin_with("BEGIN IMMEDIATE").await?, turn))
    }

    /// A write transaction for a usage batch: any write waits for the one writer already.
    async fn begin_usage_write(
        &self,
        _workspace_id: uuid::Uuid,
    ) -> sqlx::Result<(Transaction<'static, Sqlite>, MutexGuard<'_, ()>)> {
        self.begin_write().await
    }

    async fn run_migrations(&self, candidate: SigningKey) -> StoreResult<()> {
        // SQLite has no advisory lock: when several processes start on one file, the losers'
        // first attempt fails on what the winner created, and a retry finds it all applied.
        let mut attempt = 0;
        loop {
            match MIGRATOR.run(&self.pool).await {
                Ok(()) => break,
                Err(e) if attempt < MIGRATION_ATTEMPTS => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "migration raced another process; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(e) => return Err(anyhow::anyhow!("SQLite migration failed: {e}").into()),
            }
        }
        let (mut tx, _writer) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_der, public_raw, created_at) \
             SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        )
        .bind(&candidate.kid)
        .bind(&candidate.private_der)
        .bind(&candidate.public_raw)
        .bind(Ts(candidate.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl SqliteStore {
    /// Adds hourly usage totals: multi-row upserts of up to 1,000 rows.
    async fn upsert_hours(
        tx: &mut Transaction<'static, Sqlite>,
        workspace_id: uuid::Uuid,
        hours: &[super::HourRollup],
    ) -> sqlx::Result<()> {
        for chunk in hours.chunks(1000) {
            let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO usage_hourly (workspace_id, meter, hour, month, quantity, units) ",
            );
            q.push_values(chunk, |mut row, h| {
                row.push_bind(workspace_id)
                    .push_bind(h.meter.as_str())
                    .push_bind(h.hour)
                    .push_bind(h.month)
                    .push_bind(h.quantity)
                    .push_bind(h.units);
            });
            q.push(
                " ON CONFLICT (workspace_id, hour, meter) DO UPDATE SET \
                 quantity = usage_hourly.quantity + excluded.quantity, \
                 units = usage_hourly.units + excluded.units",
            );
            q.build().execute(&mut **tx).await?;
        }
        Ok(())
    }
}

impl_store!(SqliteStore, Sqlite, Backend::Sqlite);
