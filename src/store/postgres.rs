//! The PostgreSQL backend: a pool, migrations serialised across replicas by an advisory lock,
//! and row locks where an invariant spans rows.

use std::{str::FromStr, time::Duration};

use sqlx::{
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    PgPool, Postgres, Transaction,
};

use super::{keep, sql::impl_store, ts::Ts, Backend, StoreResult};
use crate::domain::token::SigningKey;

/// Reads a workspace row inside a write transaction, locking it until commit where the backend
/// needs that (SQLite's `BEGIN IMMEDIATE` already excludes every other writer).
const LOCK_WORKSPACE: &str = "SELECT id FROM workspaces WHERE id = $1 FOR UPDATE";

/// Locks a workspace row and reads a member's role in it (NULL for a non-member), in one trip.
const LOCK_WORKSPACE_ROLE: &str = "SELECT m.role FROM workspaces w \
     LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = $2 \
     WHERE w.id = $1 FOR UPDATE OF w";

/// Claims due outbox rows (several workers never claim the same row).
const CLAIM_OUTBOX: &str =
    "UPDATE outbox SET status = 'sending', claimed_at = $1, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $1 \
     ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
     RETURNING id, attempts, recipient, subject, text_body, html_body";

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock key held while migrating and creating the first signing key.
const MIGRATION_LOCK: i64 = 0x526f_7374_6572_4d31; // "RosterM1"

/// A store on a PostgreSQL database.
pub struct PostgresStore {
    pool: PgPool,
    max: u32,
    /// Usage batches of one workspace queue here, in this process, before they open a
    /// transaction (striped by workspace id). They would be counted one at a time anyway, on
    /// the monthly counter's row lock; waiting inside PostgreSQL instead holds a snapshot per
    /// waiter, which keeps the rollup rows' old versions from being pruned, and every waiter
    /// makes the next upsert slower (docs/BENCHMARKS.md, usage ingestion).
    usage_turns: Vec<tokio::sync::Mutex<()>>,
}

/// Stripes of `PostgresStore::usage_turns`.
const USAGE_TURN_STRIPES: usize = 64;

impl PostgresStore {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .after_release(|conn, _| Box::pin(keep(conn)))
            .connect_with(options)
            .await?;
        Ok(PostgresStore {
            pool,
            max: max_connections,
            usage_turns: (0..USAGE_TURN_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        })
    }

    /// A transaction; invariants that span rows lock them explicitly (`LOCK_WORKSPACE`).
    async fn begin_write(&self) -> sqlx::Result<(Transaction<'static, Postgres>, ())> {
        Ok((self.pool.begin().await?, ()))
    }

    /// A write transaction for a usage batch of `workspace_id`, after this process's earlier
    /// batches of that workspace (see `usage_turns`).
    async fn begin_usage_write(
        &self,
        workspace_id: uuid::Uuid,
    ) -> sqlx::Result<(
        Transaction<'static, Postgres>,
        tokio::sync::MutexGuard<'_, ()>,
    )> {
        let stripe = (workspace_id.as_u128() % USAGE_TURN_STRIPES as u128) as usize;
        let turn = self.usage_turns[stripe].lock().await;
        Ok((self.pool.begin().await?, turn))
    }

    async fn run_migrations(&self, candidate: SigningKey) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
        let result = async {
            MIGRATOR
                .run_direct(&mut *conn)
                .await
                .map_err(|e| anyhow::anyhow!("PostgreSQL migration failed: {e}"))?;
            sqlx::query(
                "INSERT INTO signing_keys (kid, private_der, public_raw, created_at) \
                 SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
            )
            .bind(&candidate.kid)
            .bind(&candidate.private_der)
            .bind(&candidate.public_raw)
            .bind(Ts(candidate.created_at))
            .execute(&mut *conn)
            .await?;
            StoreResult::Ok(())
        }
        .await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
        result
    }
}

impl PostgresStore {
    /// Adds hourly usage totals in one statement whose columns are bound as arrays: one short
    /// statement, planned once, whatever the number of rows (a multi-row VALUES list with six
    /// parameters a row is planned anew for each size and costs far more to parse).
    async fn upsert_hours(
        tx: &mut Transaction<'static, Postgres>,
        workspace_id: uuid::Uuid,
        hours: &[super::HourRollup],
    ) -> sqlx::Result<()> {
        let meters: Vec<&str> = hours.iter().map(|h| h.meter.as_str()).collect();
        let column = |f: fn(&super::HourRollup) -> i64| hours.iter().map(f).collect::<Vec<i64>>();
        sqlx::query(
            "INSERT INTO usage_hourly (workspace_id, meter, hour, month, quantity, units) \
             SELECT $1, t.meter, t.hour, t.month, t.quantity, t.units \
             FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) \
               AS t (meter, hour, month, quantity, units) \
             ON CONFLICT (workspace_id, hour, meter) DO UPDATE SET \
             quantity = usage_hourly.quantity + excluded.quantity, \
             units = usage_hourly.units + excluded.units",
        )
        .bind(workspace_id)
        .bind(&meters)
        .bind(column(|h| h.hour))
        .bind(column(|h| h.month))
        .bind(column(|h| h.quantity))
        .bind(column(|h| h.units))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl_store!(PostgresStore, Postgres, Backend::Postgres);
