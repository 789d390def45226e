//! Usage metering: a batch's idempotency record, the monthly counter as a conditional upsert
//! that refuses to pass the allowance (the row it holds orders parallel batches), the hourly
//! rollups, and the reads of reports.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{db::Db, StoreResult};
use crate::domain::usage::Granularity;

/// One hour's total of one meter.
#[derive(Debug)]
pub struct HourRollup {
    pub meter: String,
    pub hour: i64,
    pub month: i64,
    pub quantity: i64,
    pub units: i64,
}

/// A row of a usage report: a bucket (hour, day = hour / 24, or month number) and meter.
#[derive(Debug, sqlx::FromRow)]
pub struct UsageRow {
    pub bucket: i64,
    pub meter: String,
    pub quantity: i64,
    pub units: i64,
}

super::sqlite_read::read_row!(UsageRow {
    bucket,
    meter,
    quantity,
    units
});

/// The record that makes a batch's retries idempotent.
#[derive(Debug)]
pub struct IdempotencyRecord<'a> {
    pub key: &'a str,
    pub body_hash: &'a [u8],
    /// The answer to give retries.
    pub response: &'a str,
    /// A record older than this is expired: its key may be used afresh.
    pub reusable_before: DateTime<Utc>,
}

impl Db<'_> {
    /// Claims an idempotency key for a batch, or takes it over once the earlier record has
    /// expired; false when a live record holds it. A concurrent claim of the same key waits for
    /// the first (the unique key), then sees it.
    pub async fn claim_idempotency_key(
        &mut self,
        workspace_id: Uuid,
        record: &IdempotencyRecord<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let claimed = self
            .execute(
                "INSERT INTO usage_batches (workspace_id, idempotency_key, body_hash, response, \
                 created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (workspace_id, idempotency_key) DO UPDATE SET \
                 body_hash = excluded.body_hash, response = excluded.response, \
                 created_at = excluded.created_at WHERE usage_batches.created_at < $6",
                &[
                    workspace_id.into(),
                    record.key.into(),
                    record.body_hash.into(),
                    record.response.into(),
                    now.into(),
                    record.reusable_before.into(),
                ],
            )
            .await?;
        Ok(claimed == 1)
    }

    /// The digest and answer recorded for an idempotency key.
    pub async fn idempotency_record(
        &mut self,
        workspace_id: Uuid,
        key: &str,
    ) -> StoreResult<(Vec<u8>, String)> {
        self.one(
            "SELECT body_hash, response FROM usage_batches \
             WHERE workspace_id = $1 AND idempotency_key = $2",
            &[workspace_id.into(), key.into()],
        )
        .await
    }

    /// Adds `units` to a month's counter unless that would pass `limit`; the new total, or
    /// `None` when refused. The check and the increment are one statement holding the row.
    pub async fn count_month(
        &mut self,
        workspace_id: Uuid,
        month: i64,
        units: i64,
        limit: i64,
    ) -> StoreResult<Option<i64>> {
        let counted: Option<(i64,)> = self
            .optional(
                "INSERT INTO usage_monthly (workspace_id, month, units) \
                 SELECT $1, $2, $3 WHERE $3 <= $4 \
                 ON CONFLICT (workspace_id, month) DO UPDATE \
                 SET units = usage_monthly.units + excluded.units \
                 WHERE usage_monthly.units + excluded.units <= $4 RETURNING units",
                &[
                    workspace_id.into(),
                    month.into(),
                    units.into(),
                    limit.into(),
                ],
            )
            .await?;
        Ok(counted.map(|(u,)| u))
    }

    /// Adds hourly totals, in one statement (a batch has at most 1,000 rows).
    pub async fn add_hours(&mut self, workspace_id: Uuid, hours: &[HourRollup]) -> StoreResult<()> {
        let statement = self.backend.hourly_upsert(workspace_id, hours);
        self.execute(&statement.sql, &statement.args).await?;
        Ok(())
    }

    /// Totals per bucket and meter of the hours `[from_hour, to_hour)`.
    pub async fn usage_rows(
        &mut self,
        workspace_id: Uuid,
        from_hour: i64,
        to_hour: i64,
        granularity: Granularity,
    ) -> StoreResult<Vec<UsageRow>> {
        let bucket = match granularity {
            Granularity::Hour => "hour",
            Granularity::Day => "hour / 24",
            Granularity::Month => "month",
        };
        self.all(
            &format!(
                "SELECT {bucket} AS bucket, meter, CAST(SUM(quantity) AS BIGINT) AS quantity, \
                 CAST(SUM(units) AS BIGINT) AS units FROM usage_hourly \
                 WHERE workspace_id = $1 AND hour >= $2 AND hour < $3 \
                 GROUP BY {bucket}, meter ORDER BY {bucket}, meter"
            ),
            &[workspace_id.into(), from_hour.into(), to_hour.into()],
        )
        .await
    }

    /// Thousandths of event units counted in a month.
    pub async fn usage_month(&mut self, workspace_id: Uuid, month: i64) -> StoreResult<i64> {
        let units: Option<(i64,)> = self
            .optional(
                "SELECT units FROM usage_monthly WHERE workspace_id = $1 AND month = $2",
                &[workspace_id.into(), month.into()],
            )
            .await?;
        Ok(units.map_or(0, |(u,)| u))
    }

    /// Drops idempotency records created before `before`; the number dropped.
    pub async fn prune_usage_batches(&mut self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM usage_batches WHERE created_at < $1",
            &[before.into()],
        )
        .await
    }
}
