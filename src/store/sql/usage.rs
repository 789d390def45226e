//! Shared SQL for usage metering (`UsageStore`). A batch is one transaction: its idempotency
//! record (a unique key, so a concurrent retry waits for the first and then sees it), each
//! month's counter as a conditional upsert that refuses to pass the allowance (the counter row
//! is locked by the upsert, so parallel batches of one workspace are counted one after another
//! and can never overshoot together), then one multi-row upsert of the hourly rollups.

/// Implements `UsageStore` for a backend (see the parent module for what it needs).
macro_rules! impl_usage_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::UsageStore for $store {
            async fn record_usage(
                &self,
                batch: &$crate::store::UsageWrite<'_>,
            ) -> $crate::store::StoreResult<$crate::store::UsageWritten> {
                use $crate::store::{ts::Ts, UsageWritten};
                let (mut tx, _turn) = self.begin_usage_write(batch.workspace_id).await?;
                if let Some(key) = &batch.idempotency {
                    // Claims the key, or takes it over once the earlier record has expired.
                    let claimed = sqlx::query(
                        "INSERT INTO usage_batches (workspace_id, idempotency_key, body_hash, \
                         response, created_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (workspace_id, idempotency_key) DO UPDATE SET \
                         body_hash = excluded.body_hash, response = excluded.response, \
                         created_at = excluded.created_at \
                         WHERE usage_batches.created_at < $6",
                    )
                    .bind(batch.workspace_id)
                    .bind(key.key)
                    .bind(key.body_hash)
                    .bind(&key.response)
                    .bind(Ts(batch.now))
                    .bind(Ts(key.reusable_before))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if claimed == 0 {
                        let (body_hash, response): (Vec<u8>, String) = sqlx::query_as(
                            "SELECT body_hash, response FROM usage_batches \
                             WHERE workspace_id = $1 AND idempotency_key = $2",
                        )
                        .bind(batch.workspace_id)
                        .bind(key.key)
                        .fetch_one(&mut *tx)
                        .await?;
                        return Ok(UsageWritten::Replayed {
                            body_hash,
                            response,
                        });
                    }
                }
                let limit = batch.limit.unwrap_or(i64::MAX / 4);
                for &(month, units) in &batch.months {
                    let counted: Option<(i64,)> = sqlx::query_as(
                        "INSERT INTO usage_monthly (workspace_id, month, units) \
                         SELECT $1, $2, $3 WHERE $3 <= $4 \
                         ON CONFLICT (workspace_id, month) DO UPDATE \
                         SET units = usage_monthly.units + excluded.units \
                         WHERE usage_monthly.units + excluded.units <= $4 \
                         RETURNING units",
                    )
                    .bind(batch.workspace_id)
                    .bind(month)
                    .bind(units)
                    .bind(limit)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if counted.is_none() {
                        return Ok(UsageWritten::OverQuota { month });
                    }
                }
                Self::upsert_hours(&mut tx, batch.workspace_id, &batch.hours).await?;
                tx.commit().await?;
                Ok(UsageWritten::Recorded)
            }

            async fn usage_rows(
                &self,
                workspace_id: uuid::Uuid,
                from_hour: i64,
                to_hour: i64,
                granularity: $crate::domain::usage::Granularity,
            ) -> $crate::store::StoreResult<Vec<$crate::store::UsageRow>> {
                use $crate::domain::usage::Granularity;
                const HOUR: &str = "SELECT hour AS bucket, meter, \
                     CAST(SUM(quantity) AS BIGINT) AS quantity, CAST(SUM(units) AS BIGINT) AS units \
                     FROM usage_hourly WHERE workspace_id = $1 AND hour >= $2 AND hour < $3 \
                     GROUP BY hour, meter ORDER BY hour, meter";
                const DAY: &str = "SELECT hour / 24 AS bucket, meter, \
                     CAST(SUM(quantity) AS BIGINT) AS quantity, CAST(SUM(units) AS BIGINT) AS units \
                     FROM usage_hourly WHERE workspace_id = $1 AND hour >= $2 AND hour < $3 \
                     GROUP BY hour / 24, meter ORDER BY hour / 24, meter";
                const MONTH: &str = "SELECT month AS bucket, meter, \
                     CAST(SUM(quantity) AS BIGINT) AS quantity, CAST(SUM(units) AS BIGINT) AS units \
                     FROM usage_hourly WHERE workspace_id = $1 AND hour >= $2 AND hour < $3 \
                     GROUP BY month, meter ORDER BY month, meter";
                let sql = match granularity {
                    Granularity::Hour => HOUR,
                    Granularity::Day => DAY,
                    Granularity::Month => MONTH,
                };
                Ok(sqlx::query_as(sql)
                    .bind(workspace_id)
                    .bind(from_hour)
                    .bind(to_hour)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn usage_month(
                &self,
                workspace_id: uuid::Uuid,
                month: i64,
            ) -> $crate::store::StoreResult<i64> {
                let units: Option<(i64,)> = sqlx::query_as(
                    "SELECT units FROM usage_monthly WHERE workspace_id = $1 AND month = $2",
                )
                .bind(workspace_id)
                .bind(month)
                .fetch_optional(&self.pool)
                .await?;
                Ok(units.map_or(0, |(u,)| u))
            }

            async fn prune_usage_batches(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM usage_batches WHERE created_at < $1")
                    .bind($crate::store::ts::Ts(before))
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn set_workspace_plan(
                &self,
                ws: &$crate::domain::workspace::WorkspaceRef,
                plan: &str,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::workspace::Workspace> {
                use $crate::domain::{
                    audit::{actions, NewEvent},
                    workspace::WorkspaceRef,
                    Error,
                };
                let (mut tx, _writer) = self.begin_write().await?;
                let found: Option<(uuid::Uuid, String)> = match ws {
                    WorkspaceRef::Id(id) => {
                        sqlx::query_as("SELECT id, plan FROM workspaces WHERE id = $1").bind(*id)
                    }
                    WorkspaceRef::Slug(slug) => {
                        sqlx::query_as("SELECT id, plan FROM workspaces WHERE slug = $1")
                            .bind(slug.as_str())
                    }
                }
                .fetch_optional(&mut *tx)
                .await?;
                let Some((id, before)) = found else {
                    return Err(Error::NotFound.into());
                };
                if before != plan {
                    sqlx::query("UPDATE workspaces SET plan = $2, updated_at = $3 WHERE id = $1")
                        .bind(id)
                        .bind(plan)
                        .bind($crate::store::ts::Ts(actor.at))
                        .execute(&mut *tx)
                        .await?;
                    Self::record(
                        &mut tx,
                        &NewEvent {
                            workspace_id: Some(id),
                            actor,
                            action: actions::WORKSPACE_PLAN_CHANGED,
                            target_type: "workspace",
                            target_id: Some(id.to_string()),
                            before: Some(serde_json::json!({ "plan": before })),
                            after: Some(serde_json::json!({ "plan": plan })),
                        },
                    )
                    .await?;
                }
                let ws = Self::read_workspace(&mut tx, id).await?;
                tx.commit().await?;
                Ok(ws)
            }
        }
    };
}

pub(crate) use impl_usage_store;
