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
}

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
        })
    }

    /// A transaction; invariants that span rows lock them explicitly (`LOCK_WORKSPACE`).
    async fn begin_write(&self) -> sqlx::Result<(Transaction<'static, Postgres>, ())> {
        Ok((self.pool.begin().await?, ()))
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

impl_store!(PostgresStore, Postgres, Backend::Postgres);
