//! The PostgreSQL backend: a pool, migrations serialised across replicas by an advisory lock,
//! row locks where an invariant spans rows, in-process queues per workspace in front of them,
//! `SKIP LOCKED` claims, and array binds.

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    PgPool,
};
use uuid::Uuid;

use super::{
    backend::{Backend, Began, Statement},
    db::{Arg, Conn},
    keep,
    signing_keys::INSERT_FIRST_SIGNING_KEY,
    ts::Ts,
    turns::{Lane, Turn, Turns},
    usage::HourRollup,
    Kind, PoolStats, StoreResult,
};
use crate::domain::token::SigningKey;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock key held while migrating and creating the first signing key.
const MIGRATION_LOCK: i64 = 0x526f_7374_6572_4d31; // "RosterM1"

/// The PostgreSQL side of the store.
pub struct PostgresBackend {
    pool: PgPool,
    max: u32,
    /// One workspace's writers queue here, in this process and in order, before they take a
    /// connection: those that lock the workspace row in one lane, usage batches in another.
    /// Either would wait one at a time anyway, on the workspace row or on the monthly
    /// counter's row. Waiting inside PostgreSQL instead holds a connection per waiter: 120
    /// member and invitation writers of one workspace held 13 of 16 connections waiting on its
    /// row, and its usage batches and every request's read waited for a connection behind them
    /// (docs/BENCHMARKS.md, fair write queues). A usage batch waiting inside PostgreSQL also
    /// holds a snapshot, which keeps the rollup rows' old versions from being pruned.
    turns: Turns,
}

impl PostgresBackend {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .after_release(|conn, _| Box::pin(keep(conn)))
            .connect_with(options)
            .await?;
        Ok(PostgresBackend {
            pool,
            max: max_connections,
            turns: Turns::default(),
        })
    }
}

#[async_trait]
impl Backend for PostgresBackend {
    fn kind(&self) -> Kind {
        Kind::Postgres
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats::of(&self.pool, self.max)
    }

    fn pool(&self) -> Conn<'_> {
        Conn::PgPool(&self.pool)
    }

    async fn begin_write(&self) -> StoreResult<Began<'_>> {
        Ok((Conn::Pg(self.pool.begin().await?), None))
    }

    async fn begin_workspace_write(&self, workspace_id: Uuid) -> StoreResult<Began<'_>> {
        let turn = self.turns.take(Lane::Workspace, workspace_id).await;
        Ok((
            Conn::Pg(self.pool.begin().await?),
            Some(Turn::Workspace(turn)),
        ))
    }

    async fn begin_usage_write(&self, workspace_id: Uuid) -> StoreResult<Began<'_>> {
        let turn = self.turns.take(Lane::Usage, workspace_id).await;
        Ok((
            Conn::Pg(self.pool.begin().await?),
            Some(Turn::Workspace(turn)),
        ))
    }

    fn lock_workspace(&self) -> &'static str {
        "SELECT m.role, m.role_id, r.key AS role_key, r.name AS role_name, \
         r.permissions AS role_permissions FROM workspaces w \
         LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = $2 \
         LEFT JOIN roles r ON r.id = m.role_id \
         WHERE w.id = $1 FOR UPDATE OF w"
    }

    fn claim_outbox(&self) -> &'static str {
        "UPDATE outbox SET status = 'sending', claimed_at = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING id, attempts, recipient, subject, text_body, html_body"
    }

    fn claim_webhook_deliveries(&self) -> &'static str {
        "UPDATE webhook_deliveries AS d \
         SET next_attempt_at = $1 + (COALESCE(e.timeout_seconds, $2) * 2 + 5) * INTERVAL '1 second', \
         attempts = d.attempts + 1 FROM webhook_endpoints e \
         WHERE e.id = d.endpoint_id AND (d.event_id, d.endpoint_id) IN \
         (SELECT q.event_id, q.endpoint_id FROM webhook_deliveries q \
         JOIN webhook_endpoints qe ON qe.id = q.endpoint_id \
         WHERE q.status = 'pending' AND q.next_attempt_at <= $1 AND qe.enabled \
         ORDER BY q.next_attempt_at LIMIT $3 FOR UPDATE OF q SKIP LOCKED) \
         RETURNING d.event_id, d.endpoint_id"
    }

    fn delivery_hour(&self) -> &'static str {
        "date_trunc('hour', d.created_at)"
    }

    fn hourly_upsert<'a>(&self, workspace_id: Uuid, hours: &'a [HourRollup]) -> Statement<'a> {
        // Columns bound as arrays: one short statement, planned once whatever the number of
        // rows (a multi-row list with six arguments a row is planned anew for each size and
        // costs far more to parse).
        let column = |f: fn(&HourRollup) -> i64| Arg::IntArray(hours.iter().map(f).collect());
        Statement {
            sql: "INSERT INTO usage_hourly (workspace_id, meter, hour, month, quantity, units) \
                  SELECT $1, t.meter, t.hour, t.month, t.quantity, t.units \
                  FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) \
                    AS t (meter, hour, month, quantity, units) \
                  ON CONFLICT (workspace_id, hour, meter) DO UPDATE SET \
                  quantity = usage_hourly.quantity + excluded.quantity, \
                  units = usage_hourly.units + excluded.units"
                .to_owned(),
            args: vec![
                workspace_id.into(),
                Arg::TextArray(hours.iter().map(|h| h.meter.as_str()).collect()),
                column(|h| h.hour),
                column(|h| h.month),
                column(|h| h.quantity),
                column(|h| h.units),
            ],
        }
    }

    fn backup_into(&self) -> Option<&'static str> {
        None
    }

    fn migrator(&self) -> &'static Migrator {
        &MIGRATOR
    }

    async fn migrate(&self, candidate: &SigningKey) -> StoreResult<()> {
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
            sqlx::query(INSERT_FIRST_SIGNING_KEY)
                .bind(&candidate.kid)
                .bind(&candidate.private_der)
                .bind(&candidate.public_raw)
                .bind(Ts(candidate.created_at))
                .bind(candidate.sealed)
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
