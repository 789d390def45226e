//! Webhooks: endpoints (insert, list, read, change, rotate, delete), the event and deliveries a
//! change queues in its own transaction, the listings of deliveries and their requeueing, and
//! the worker's statements: claim what is due, read what to send, record the outcome.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    db::{Arg, Db, Tx},
    ts::Ts,
    StoreResult,
};
use crate::domain::{
    paging::PageRequest,
    webhook::{
        DeadLetter, Delivery, DeliveryCounts, DeliverySettings, DeliveryStatus, Dialect, Disabled,
        Endpoint, Subscription,
    },
};

const ENDPOINT_COLUMNS: &str = "id, workspace_id, name, url, description, dialect, \
     max_retries, timeout_seconds, rate_limit_per_minute, event_types, enabled, \
     disabled_reason, previous_until, failure_streak, failing_since, created_by, created_at, \
     updated_at";

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    url: String,
    description: String,
    dialect: String,
    max_retries: Option<i64>,
    timeout_seconds: Option<i64>,
    rate_limit_per_minute: Option<i64>,
    event_types: String,
    enabled: bool,
    disabled_reason: Option<String>,
    previous_until: Option<Ts>,
    failure_streak: i64,
    failing_since: Option<Ts>,
    created_by: Option<Uuid>,
    created_at: Ts,
    updated_at: Ts,
}

super::sqlite_read::read_row!(EndpointRow {
    id,
    workspace_id,
    name,
    url,
    description,
    dialect,
    max_retries,
    timeout_seconds,
    rate_limit_per_minute,
    event_types,
    enabled,
    disabled_reason,
    previous_until,
    failure_streak,
    failing_since,
    created_by,
    created_at,
    updated_at
});

impl From<EndpointRow> for Endpoint {
    fn from(r: EndpointRow) -> Self {
        Endpoint {
            id: r.id,
            workspace_id: r.workspace_id,
            name: r.name,
            url: r.url,
            description: r.description,
            dialect: Dialect::parse(&r.dialect),
            settings: DeliverySettings {
                max_retries: r.max_retries,
                timeout_seconds: r.timeout_seconds,
                rate_limit_per_minute: r.rate_limit_per_minute,
            },
            subscription: Subscription::from_stored(&r.event_types),
            enabled: r.enabled,
            disabled: r.disabled_reason.as_deref().and_then(Disabled::parse),
            previous_secret_until: r.previous_until.map(|t| t.0),
            failure_streak: r.failure_streak,
            failing_since: r.failing_since.map(|t| t.0),
            created_by: r.created_by,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

/// What an endpoint's write sets: all of its changeable columns.
pub struct EndpointChange<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a str,
    pub enabled: bool,
    pub disabled_reason: Option<&'a str>,
    pub settings: DeliverySettings,
    pub now: DateTime<Utc>,
}

/// A new endpoint (its secret as stored: sealed or not).
pub struct NewEndpoint<'a> {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub change: EndpointChange<'a>,
    pub dialect: &'a str,
    pub secret: &'a [u8],
    pub sealed: bool,
    pub created_by: Option<Uuid>,
}

/// An endpoint's secrets as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointSecrets {
    pub secret: Vec<u8>,
    pub sealed: bool,
    pub previous_secret: Option<Vec<u8>>,
    pub previous_sealed: bool,
    pub previous_until: Option<Ts>,
}

super::sqlite_read::read_row!(EndpointSecrets {
    secret,
    sealed,
    previous_secret,
    previous_sealed,
    previous_until
});

/// Which deliveries of an endpoint a listing shows.
pub struct DeliveryFilter {
    pub endpoint_id: Uuid,
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<String>,
}

impl DeliveryFilter {
    /// The `WHERE` clause, its arguments pushed on `args`.
    fn clause<'a>(&'a self, args: &mut Vec<Arg<'a>>) -> String {
        args.push(self.endpoint_id.into());
        let mut sql = String::from(" WHERE d.endpoint_id = $1");
        if let Some(status) = self.status {
            args.push(status.as_str().into());
            sql.push_str(&format!(" AND d.status = ${}", args.len()));
        }
        if let Some(t) = &self.event_type {
            args.push(t.as_str().into());
            sql.push_str(&format!(" AND ev.type = ${}", args.len()));
        }
        sql
    }
}

const DEAD_LETTER_COLUMNS: &str = "l.id, l.event_id, l.endpoint_id, e.name AS endpoint_name, \
     ev.type AS event_type, l.attempts, l.last_status, l.last_error, l.failed_at, l.requeued_at";

const DEAD_LETTER_FROM: &str = "FROM webhook_dead_letters l \
     JOIN webhook_endpoints e ON e.id = l.endpoint_id \
     JOIN webhook_events ev ON ev.id = l.event_id";

#[derive(sqlx::FromRow)]
struct DeadLetterRow {
    id: Uuid,
    event_id: Uuid,
    endpoint_id: Uuid,
    endpoint_name: String,
    event_type: String,
    attempts: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    failed_at: Ts,
    requeued_at: Option<Ts>,
}

super::sqlite_read::read_row!(DeadLetterRow {
    id,
    event_id,
    endpoint_id,
    endpoint_name,
    event_type,
    attempts,
    last_status,
    last_error,
    failed_at,
    requeued_at
});

impl From<DeadLetterRow> for DeadLetter {
    fn from(r: DeadLetterRow) -> Self {
        DeadLetter {
            id: r.id,
            event_id: r.event_id,
            endpoint_id: r.endpoint_id,
            endpoint_name: r.endpoint_name,
            event_type: r.event_type,
            attempts: r.attempts,
            last_status: r.last_status,
            last_error: r.last_error,
            failed_at: r.failed_at.0,
            requeued_at: r.requeued_at.map(|t| t.0),
        }
    }
}

#[derive(sqlx::FromRow)]
struct CountsRow {
    endpoint_id: Uuid,
    total: i64,
    delivered: i64,
    failed: i64,
    pending: i64,
    attempts: i64,
    retries: i64,
    retried: i64,
    retried_delivered: i64,
    retried_failed: i64,
    latency_ms_sum: i64,
    latency_count: i64,
    last_attempt_at: Option<Ts>,
}

super::sqlite_read::read_row!(CountsRow {
    endpoint_id,
    total,
    delivered,
    failed,
    pending,
    attempts,
    retries,
    retried,
    retried_delivered,
    retried_failed,
    latency_ms_sum,
    latency_count,
    last_attempt_at
});

const DELIVERY_COLUMNS: &str = "d.event_id, d.endpoint_id, ev.type AS event_type, \
     ev.seq AS sequence, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, \
     d.last_status, d.last_error, d.last_response, d.last_latency_ms, d.delivered_at, \
     d.created_at, ev.payload, e.url";

/// What a delivery is read from: with its event, and its endpoint (for the URL).
const DELIVERY_FROM: &str =
    "FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id \
     JOIN webhook_endpoints e ON e.id = d.endpoint_id";

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    event_id: Uuid,
    endpoint_id: Uuid,
    event_type: String,
    sequence: i64,
    status: String,
    attempts: i64,
    next_attempt_at: Ts,
    last_attempt_at: Option<Ts>,
    last_status: Option<i64>,
    last_error: Option<String>,
    last_response: Option<String>,
    last_latency_ms: Option<i64>,
    delivered_at: Option<Ts>,
    created_at: Ts,
    payload: String,
    url: String,
}

super::sqlite_read::read_row!(DeliveryRow {
    event_id,
    endpoint_id,
    event_type,
    sequence,
    status,
    attempts,
    next_attempt_at,
    last_attempt_at,
    last_status,
    last_error,
    last_response,
    last_latency_ms,
    delivered_at,
    created_at,
    payload,
    url
});

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        let status = DeliveryStatus::parse(&r.status).unwrap_or(DeliveryStatus::Pending);
        Delivery {
            event_id: r.event_id,
            endpoint_id: r.endpoint_id,
            event_type: r.event_type,
            sequence: r.sequence,
            status,
            attempts: r.attempts,
            next_attempt_at: (status == DeliveryStatus::Pending).then_some(r.next_attempt_at.0),
            last_attempt_at: r.last_attempt_at.map(|t| t.0),
            last_status: r.last_status,
            last_error: r.last_error,
            last_response: r.last_response,
            last_latency_ms: r.last_latency_ms,
            delivered_at: r.delivered_at.map(|t| t.0),
            created_at: r.created_at.0,
            payload: r.payload,
            url: r.url,
        }
    }
}

/// A claimed delivery: what the worker needs to send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryJob {
    pub event_id: Uuid,
    pub endpoint_id: Uuid,
    pub workspace_id: Uuid,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub url: String,
    pub payload: String,
    pub event_created_at: Ts,
    pub failure_streak: i64,
    pub failing_since: Option<Ts>,
    pub dialect: String,
    pub max_retries: Option<i64>,
    pub timeout_seconds: Option<i64>,
    pub rate_limit_per_minute: Option<i64>,
    #[sqlx(flatten)]
    pub secrets: EndpointSecrets,
}

super::sqlite_read::read_row!(DeliveryJob {
    event_id,
    endpoint_id,
    workspace_id,
    attempts,
    url,
    payload,
    event_created_at,
    failure_streak,
    failing_since,
    dialect,
    max_retries,
    timeout_seconds,
    rate_limit_per_minute,
    secrets: flatten
});

/// What one attempt found.
pub struct AttemptResult<'a> {
    pub status: Option<i64>,
    pub error: Option<&'a str>,
    pub response: Option<&'a str>,
    pub latency_ms: i64,
    pub at: DateTime<Utc>,
}

impl Db<'_> {
    pub async fn count_webhook_endpoints(&mut self, workspace_id: Uuid) -> StoreResult<i64> {
        let (n,): (i64,) = self
            .one(
                "SELECT COUNT(*) FROM webhook_endpoints WHERE workspace_id = $1",
                &[workspace_id.into()],
            )
            .await?;
        Ok(n)
    }

    pub async fn insert_webhook_endpoint(&mut self, e: &NewEndpoint<'_>) -> StoreResult<Endpoint> {
        let row: EndpointRow = self
            .one(
                &format!(
                    "INSERT INTO webhook_endpoints (id, workspace_id, name, url, description, \
                     event_types, enabled, disabled_reason, max_retries, timeout_seconds, \
                     rate_limit_per_minute, created_at, updated_at, dialect, secret, sealed, \
                     created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, \
                     $15, $16) RETURNING {ENDPOINT_COLUMNS}"
                ),
                &[
                    e.id.into(),
                    e.workspace_id.into(),
                    e.change.name.into(),
                    e.change.url.into(),
                    e.change.description.into(),
                    e.change.event_types.into(),
                    e.change.enabled.into(),
                    e.change.disabled_reason.into(),
                    e.change.settings.max_retries.into(),
                    e.change.settings.timeout_seconds.into(),
                    e.change.settings.rate_limit_per_minute.into(),
                    e.change.now.into(),
                    e.dialect.into(),
                    e.secret.into(),
                    e.sealed.into(),
                    e.created_by.into(),
                ],
            )
            .await?;
        Ok(row.into())
    }

    /// A workspace's endpoints, oldest first.
    pub async fn webhook_endpoints(&mut self, workspace_id: Uuid) -> StoreResult<Vec<Endpoint>> {
        let rows: Vec<EndpointRow> = self
            .all(
                &format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = $1 \
                     ORDER BY created_at, id"
                ),
                &[workspace_id.into()],
            )
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn webhook_endpoint(
        &mut self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<Endpoint>> {
        let row: Option<EndpointRow> = self
            .optional(
                &format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
                     WHERE workspace_id = $1 AND id = $2"
                ),
                &[workspace_id.into(), id.into()],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    pub async fn update_webhook_endpoint(
        &mut self,
        workspace_id: Uuid,
        id: Uuid,
        c: &EndpointChange<'_>,
    ) -> StoreResult<Option<Endpoint>> {
        // Enabling clears the run of failures.
        let row: Option<EndpointRow> = self
            .optional(
                &format!(
                    "UPDATE webhook_endpoints SET name = $3, url = $4, description = $5, \
                     event_types = $6, enabled = $7, disabled_reason = $8, max_retries = $9, \
                     timeout_seconds = $10, rate_limit_per_minute = $11, updated_at = $12, \
                     failure_streak = CASE WHEN $7 AND NOT enabled THEN 0 ELSE failure_streak END, \
                     failing_since = CASE WHEN $7 AND NOT enabled THEN NULL ELSE failing_since END \
                     WHERE workspace_id = $1 AND id = $2 RETURNING {ENDPOINT_COLUMNS}"
                ),
                &[
                    workspace_id.into(),
                    id.into(),
                    c.name.into(),
                    c.url.into(),
                    c.description.into(),
                    c.event_types.into(),
                    c.enabled.into(),
                    c.disabled_reason.into(),
                    c.settings.max_retries.into(),
                    c.settings.timeout_seconds.into(),
                    c.settings.rate_limit_per_minute.into(),
                    c.now.into(),
                ],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// Makes an endpoint's pending deliveries due now (after it is enabled again).
    pub async fn replay_webhook_backlog(
        &mut self,
        endpoint_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = $2 \
             WHERE endpoint_id = $1 AND status = 'pending' AND next_attempt_at > $2",
            &[endpoint_id.into(), now.into()],
        )
        .await
    }

    pub async fn delete_webhook_endpoint(
        &mut self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> StoreResult<bool> {
        Ok(self
            .execute(
                "DELETE FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2",
                &[workspace_id.into(), id.into()],
            )
            .await?
            == 1)
    }

    /// Moves the current secret to `previous_secret` (signing until `previous_until`) and
    /// stores the new one.
    pub async fn rotate_webhook_secret(
        &mut self,
        workspace_id: Uuid,
        id: Uuid,
        secret: &[u8],
        sealed: bool,
        previous_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Endpoint>> {
        let row: Option<EndpointRow> = self
            .optional(
                &format!(
                    "UPDATE webhook_endpoints SET previous_secret = secret, \
                     previous_sealed = sealed, previous_until = $5, secret = $3, sealed = $4, \
                     updated_at = $6 WHERE workspace_id = $1 AND id = $2 \
                     RETURNING {ENDPOINT_COLUMNS}"
                ),
                &[
                    workspace_id.into(),
                    id.into(),
                    secret.into(),
                    sealed.into(),
                    previous_until.into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// One delivery of an endpoint.
    pub async fn webhook_delivery(
        &mut self,
        endpoint_id: Uuid,
        event_id: Uuid,
    ) -> StoreResult<Option<Delivery>> {
        let row: Option<DeliveryRow> = self
            .optional(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} {DELIVERY_FROM} \
                     WHERE d.endpoint_id = $1 AND d.event_id = $2"
                ),
                &[endpoint_id.into(), event_id.into()],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// Up to `page.limit + 1` deliveries of an endpoint, newest first, after the cursor.
    pub async fn webhook_deliveries(
        &mut self,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<Delivery>> {
        let mut args = Vec::new();
        let mut sql = format!(
            "SELECT {DELIVERY_COLUMNS} {DELIVERY_FROM}{}",
            filter.clause(&mut args)
        );
        if let Some(c) = page.after {
            args.push(c.at.into());
            args.push(c.id.into());
            sql.push_str(&format!(
                " AND (d.created_at, d.event_id) < (${}, ${})",
                args.len() - 1,
                args.len()
            ));
        }
        sql.push_str(&format!(
            " ORDER BY d.created_at DESC, d.event_id DESC LIMIT {}",
            page.limit + 1
        ));
        let rows: Vec<DeliveryRow> = self.all(&sql, &args).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// A window of an endpoint's deliveries by offset, newest first, and how many match.
    pub async fn webhook_deliveries_at(
        &mut self,
        filter: &DeliveryFilter,
        limit: u32,
        offset: u64,
    ) -> StoreResult<(Vec<Delivery>, i64)> {
        let mut args = Vec::new();
        let clause = filter.clause(&mut args);
        let (total,): (i64,) = self
            .one(&format!("SELECT COUNT(*) {DELIVERY_FROM}{clause}"), &args)
            .await?;
        let rows: Vec<DeliveryRow> = self
            .all(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} {DELIVERY_FROM}{clause} \
                     ORDER BY d.created_at DESC, d.event_id DESC LIMIT {limit} OFFSET {offset}"
                ),
                &args,
            )
            .await?;
        Ok((rows.into_iter().map(Into::into).collect(), total))
    }

    /// What the deliveries of each endpoint of a workspace created since `since` came to.
    pub async fn webhook_delivery_counts(
        &mut self,
        workspace_id: Uuid,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(Uuid, DeliveryCounts)>> {
        let rows: Vec<CountsRow> = self
            .all(
                "SELECT d.endpoint_id, COUNT(*) AS total, \
                 COUNT(*) FILTER (WHERE d.status = 'delivered') AS delivered, \
                 COUNT(*) FILTER (WHERE d.status = 'failed') AS failed, \
                 COUNT(*) FILTER (WHERE d.status = 'pending') AS pending, \
                 CAST(COALESCE(SUM(d.attempts + d.earlier_attempts), 0) AS BIGINT) AS attempts, \
                 CAST(COALESCE(SUM(CASE WHEN d.attempts + d.earlier_attempts > 1 \
                 THEN d.attempts + d.earlier_attempts - 1 ELSE 0 END), 0) AS BIGINT) AS retries, \
                 COUNT(*) FILTER (WHERE d.attempts > 1) AS retried, \
                 COUNT(*) FILTER (WHERE d.attempts > 1 AND d.status = 'delivered') \
                 AS retried_delivered, \
                 COUNT(*) FILTER (WHERE d.attempts > 1 AND d.status = 'failed') AS retried_failed, \
                 CAST(COALESCE(SUM(d.last_latency_ms), 0) AS BIGINT) AS latency_ms_sum, \
                 COUNT(d.last_latency_ms) AS latency_count, \
                 MAX(d.last_attempt_at) AS last_attempt_at \
                 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                 WHERE e.workspace_id = $1 AND d.created_at >= $2 GROUP BY d.endpoint_id",
                &[workspace_id.into(), since.into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.endpoint_id,
                    DeliveryCounts {
                        total: r.total,
                        delivered: r.delivered,
                        failed: r.failed,
                        pending: r.pending,
                        attempts: r.attempts,
                        retries: r.retries,
                        retried: r.retried,
                        retried_delivered: r.retried_delivered,
                        retried_failed: r.retried_failed,
                        latency_ms_sum: r.latency_ms_sum,
                        latency_count: r.latency_count,
                        last_attempt_at: r.last_attempt_at.map(|t| t.0),
                    },
                )
            })
            .collect())
    }

    /// The deliveries of a workspace created in `[from, to)` counted by the hour they were
    /// created in: `(hour, total, delivered, failed)`, oldest first.
    pub async fn webhook_hourly_outcomes(
        &mut self,
        workspace_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(DateTime<Utc>, i64, i64, i64)>> {
        let rows: Vec<(Ts, i64, i64, i64)> = self
            .all(
                &format!(
                    "SELECT {} AS hour, COUNT(*), \
                     COUNT(*) FILTER (WHERE d.status = 'delivered'), \
                     COUNT(*) FILTER (WHERE d.status = 'failed') \
                     FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                     WHERE e.workspace_id = $1 AND d.created_at >= $2 AND d.created_at < $3 \
                     GROUP BY 1 ORDER BY 1",
                    self.backend.delivery_hour()
                ),
                &[workspace_id.into(), from.into(), to.into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(h, t, d, f)| (h.0, t, d, f))
            .collect())
    }

    /// A window of a workspace's dead letters by offset, newest first (only the requeued ones,
    /// or only the others, when `requeued` says), and how many match.
    pub async fn webhook_dead_letters(
        &mut self,
        workspace_id: Uuid,
        requeued: Option<bool>,
        limit: u32,
        offset: u64,
    ) -> StoreResult<(Vec<DeadLetter>, i64)> {
        let filter = match requeued {
            None => "",
            Some(true) => " AND l.requeued_at IS NOT NULL",
            Some(false) => " AND l.requeued_at IS NULL",
        };
        let (total,): (i64,) = self
            .one(
                &format!(
                    "SELECT COUNT(*) FROM webhook_dead_letters l \
                     WHERE l.workspace_id = $1{filter}"
                ),
                &[workspace_id.into()],
            )
            .await?;
        let rows: Vec<DeadLetterRow> = self
            .all(
                &format!(
                    "SELECT {DEAD_LETTER_COLUMNS} {DEAD_LETTER_FROM} WHERE l.workspace_id = $1{filter} \
                     ORDER BY l.failed_at DESC, l.id DESC LIMIT {limit} OFFSET {offset}"
                ),
                &[workspace_id.into()],
            )
            .await?;
        Ok((rows.into_iter().map(Into::into).collect(), total))
    }

    /// One dead letter of a workspace.
    pub async fn webhook_dead_letter(
        &mut self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<DeadLetter>> {
        let row: Option<DeadLetterRow> = self
            .optional(
                &format!(
                    "SELECT {DEAD_LETTER_COLUMNS} {DEAD_LETTER_FROM} \
                     WHERE l.workspace_id = $1 AND l.id = $2"
                ),
                &[workspace_id.into(), id.into()],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// A workspace's dead letters counted: all, the requeued ones, and the `top` endpoints
    /// with the most, as `(endpoint_id, name, count)`.
    pub async fn webhook_dead_letter_stats(
        &mut self,
        workspace_id: Uuid,
        top: u32,
    ) -> StoreResult<(i64, i64, Vec<(Uuid, String, i64)>)> {
        let (total, requeued): (i64, i64) = self
            .one(
                "SELECT COUNT(*), COUNT(requeued_at) FROM webhook_dead_letters \
                 WHERE workspace_id = $1",
                &[workspace_id.into()],
            )
            .await?;
        let worst = self
            .all(
                &format!(
                    "SELECT l.endpoint_id, e.name, COUNT(*) AS n FROM webhook_dead_letters l \
                     JOIN webhook_endpoints e ON e.id = l.endpoint_id WHERE l.workspace_id = $1 \
                     GROUP BY l.endpoint_id, e.name ORDER BY n DESC, l.endpoint_id LIMIT {top}"
                ),
                &[workspace_id.into()],
            )
            .await?;
        Ok((total, requeued, worst))
    }

    /// Makes one delivery of an endpoint pending and due now with its retries afresh, whatever
    /// its status, closing its open dead letter; whether it exists.
    pub async fn requeue_webhook_delivery(
        &mut self,
        endpoint_id: Uuid,
        event_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let found = self
            .execute(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, \
                 earlier_attempts = earlier_attempts + attempts, attempts = 0, \
                 delivered_at = NULL WHERE endpoint_id = $1 AND event_id = $2",
                &[endpoint_id.into(), event_id.into(), now.into()],
            )
            .await?
            > 0;
        if found {
            self.execute(
                "UPDATE webhook_dead_letters SET requeued_at = $3 \
                 WHERE endpoint_id = $1 AND event_id = $2 AND requeued_at IS NULL",
                &[endpoint_id.into(), event_id.into(), now.into()],
            )
            .await?;
        }
        Ok(found)
    }

    /// Makes every dead letter of an endpoint pending and due now with its retries afresh;
    /// how many.
    pub async fn requeue_failed_webhooks(
        &mut self,
        endpoint_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let n = self
            .execute(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2, \
                 earlier_attempts = earlier_attempts + attempts, attempts = 0 \
                 WHERE endpoint_id = $1 AND status = 'failed'",
                &[endpoint_id.into(), now.into()],
            )
            .await?;
        self.execute(
            "UPDATE webhook_dead_letters SET requeued_at = $2 \
             WHERE endpoint_id = $1 AND requeued_at IS NULL",
            &[endpoint_id.into(), now.into()],
        )
        .await?;
        Ok(n)
    }

    /// Claims up to `batch` due deliveries of enabled endpoints: each is counted as an attempt
    /// and becomes due again once twice its endpoint's timeout (`default_timeout_secs` where
    /// it has none) and five seconds have passed, so a worker that dies mid-delivery loses
    /// none. PostgreSQL skips rows another worker holds.
    pub async fn claim_webhook_deliveries(
        &mut self,
        now: DateTime<Utc>,
        default_timeout_secs: i64,
        batch: u32,
    ) -> StoreResult<Vec<(Uuid, Uuid)>> {
        let sql = self.backend.claim_webhook_deliveries();
        self.all(
            sql,
            &[
                now.into(),
                default_timeout_secs.into(),
                i64::from(batch).into(),
            ],
        )
        .await
    }

    /// Opens a rate-limited endpoint's window at `now` if the current one began at or before
    /// `expired_before` (or none did), locking its row; the window's start and the attempts
    /// already started in it.
    pub async fn open_webhook_rate_window(
        &mut self,
        endpoint_id: Uuid,
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> StoreResult<Option<(DateTime<Utc>, i64)>> {
        let row: Option<(Ts, i64)> = self
            .optional(
                "UPDATE webhook_endpoints SET \
                 rate_window_count = CASE WHEN rate_window_start IS NULL \
                 OR rate_window_start <= $3 THEN 0 ELSE rate_window_count END, \
                 rate_window_start = CASE WHEN rate_window_start IS NULL \
                 OR rate_window_start <= $3 THEN $2 ELSE rate_window_start END \
                 WHERE id = $1 RETURNING rate_window_start, rate_window_count",
                &[endpoint_id.into(), now.into(), expired_before.into()],
            )
            .await?;
        Ok(row.map(|(start, n)| (start.0, n)))
    }

    /// Counts `n` more attempts in an endpoint's current window.
    pub async fn add_webhook_rate(&mut self, endpoint_id: Uuid, n: i64) -> StoreResult<()> {
        self.execute(
            "UPDATE webhook_endpoints SET rate_window_count = rate_window_count + $2 \
             WHERE id = $1",
            &[endpoint_id.into(), n.into()],
        )
        .await?;
        Ok(())
    }

    /// Hands a claimed delivery back unattempted, due at `at` (its endpoint's window is full).
    pub async fn defer_webhook_delivery(
        &mut self,
        event_id: Uuid,
        endpoint_id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = $3, attempts = attempts - 1 \
             WHERE event_id = $1 AND endpoint_id = $2 AND status = 'pending'",
            &[event_id.into(), endpoint_id.into(), at.into()],
        )
        .await?;
        Ok(())
    }

    /// What to send for a claimed delivery (`None` if its endpoint went meanwhile).
    pub async fn webhook_job(
        &mut self,
        event_id: Uuid,
        endpoint_id: Uuid,
    ) -> StoreResult<Option<DeliveryJob>> {
        self.optional(
            "SELECT d.event_id, d.endpoint_id, e.workspace_id, d.attempts, e.url, ev.payload, \
             ev.created_at AS event_created_at, e.failure_streak, e.failing_since, e.dialect, \
             e.max_retries, e.timeout_seconds, e.rate_limit_per_minute, e.secret, \
             e.sealed, e.previous_secret, e.previous_sealed, e.previous_until \
             FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.event_id = $1 AND d.endpoint_id = $2 AND d.status = 'pending'",
            &[event_id.into(), endpoint_id.into()],
        )
        .await
    }

    /// Records a delivered attempt and ends the endpoint's run of failures.
    pub async fn webhook_delivered(
        &mut self,
        event_id: Uuid,
        endpoint_id: Uuid,
        r: &AttemptResult<'_>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = $3, \
             last_attempt_at = $3, last_status = $4, last_error = NULL, last_response = $5, \
             last_latency_ms = $6 WHERE event_id = $1 AND endpoint_id = $2",
            &[
                event_id.into(),
                endpoint_id.into(),
                r.at.into(),
                r.status.into(),
                r.response.into(),
                r.latency_ms.into(),
            ],
        )
        .await?;
        self.execute(
            "UPDATE webhook_endpoints SET failure_streak = 0, failing_since = NULL \
             WHERE id = $1 AND failure_streak <> 0",
            &[endpoint_id.into()],
        )
        .await?;
        Ok(())
    }

    /// Records a failed attempt: due again at `retry_at`, or a dead letter when `None`; adds
    /// one to the endpoint's run of failures. Returns the run's length and start.
    pub async fn webhook_failed(
        &mut self,
        event_id: Uuid,
        endpoint_id: Uuid,
        r: &AttemptResult<'_>,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<(i64, DateTime<Utc>)>> {
        let status = if retry_at.is_some() {
            "pending"
        } else {
            "failed"
        };
        self.execute(
            "UPDATE webhook_deliveries SET status = $3, next_attempt_at = COALESCE($4, next_attempt_at), \
             last_attempt_at = $5, last_status = $6, last_error = $7, last_response = $8, \
             last_latency_ms = $9 WHERE event_id = $1 AND endpoint_id = $2",
            &[
                event_id.into(),
                endpoint_id.into(),
                status.into(),
                retry_at.into(),
                r.at.into(),
                r.status.into(),
                r.error.into(),
                r.response.into(),
                r.latency_ms.into(),
            ],
        )
        .await?;
        if retry_at.is_none() {
            self.execute(
                "INSERT INTO webhook_dead_letters (id, event_id, endpoint_id, workspace_id, \
                 attempts, last_status, last_error, failed_at) \
                 SELECT $3, d.event_id, d.endpoint_id, e.workspace_id, d.attempts, d.last_status, \
                 d.last_error, d.last_attempt_at FROM webhook_deliveries d \
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                 WHERE d.event_id = $1 AND d.endpoint_id = $2",
                &[event_id.into(), endpoint_id.into(), Uuid::now_v7().into()],
            )
            .await?;
        }
        let run: Option<(i64, Ts)> = self
            .optional(
                "UPDATE webhook_endpoints SET failure_streak = failure_streak + 1, \
                 failing_since = COALESCE(failing_since, $2) WHERE id = $1 \
                 RETURNING failure_streak, failing_since",
                &[endpoint_id.into(), r.at.into()],
            )
            .await?;
        Ok(run.map(|(n, since)| (n, since.0)))
    }

    /// Disables an endpoint whose deliveries kept failing; whether it was enabled.
    pub async fn disable_failing_webhook(
        &mut self,
        endpoint_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        Ok(self
            .execute(
                "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = 'failing', \
                 updated_at = $2 WHERE id = $1 AND enabled",
                &[endpoint_id.into(), now.into()],
            )
            .await?
            == 1)
    }

    /// Deletes the endpoints of deleted workspaces once nothing is pending for them, and
    /// events no delivery refers to any more; how many rows went.
    pub async fn retire_webhooks(&mut self, batch: u32) -> StoreResult<u64> {
        let endpoints = self
            .execute(
                &format!(
                    "DELETE FROM webhook_endpoints WHERE id IN (SELECT e.id FROM webhook_endpoints e \
                     WHERE NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.id = e.workspace_id) \
                     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id \
                     AND d.status = 'pending') LIMIT {batch})"
                ),
                &[],
            )
            .await?;
        let events = self
            .execute(
                &format!(
                    "DELETE FROM webhook_events WHERE id IN (SELECT ev.id FROM webhook_events ev \
                     WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
                     WHERE d.event_id = ev.id) LIMIT {batch})"
                ),
                &[],
            )
            .await?;
        Ok(endpoints + events)
    }

    /// The workspace's name and its owners' emails and names (for the notice that an endpoint
    /// was disabled).
    pub async fn workspace_owner_contacts(
        &mut self,
        workspace_id: Uuid,
    ) -> StoreResult<Vec<(String, String, String)>> {
        self.all(
            "SELECT w.name, u.email, u.name FROM memberships m \
             JOIN users u ON u.id = m.user_id JOIN workspaces w ON w.id = m.workspace_id \
             WHERE m.workspace_id = $1 AND m.role = 'owner' ORDER BY u.email",
            &[workspace_id.into()],
        )
        .await
    }

    /// Deliveries by status, for the metrics: (pending, delivered, failed), and the age of the
    /// oldest due pending one.
    pub async fn webhook_queue_stats(
        &mut self,
        now: DateTime<Utc>,
    ) -> StoreResult<(i64, Option<DateTime<Utc>>)> {
        let (pending, oldest): (i64, Option<Ts>) = self
            .one(
                "SELECT COUNT(*), MIN(created_at) FROM webhook_deliveries \
                 WHERE status = 'pending' AND next_attempt_at <= $1",
                &[now.into()],
            )
            .await?;
        Ok((pending, oldest.map(|t| t.0)))
    }
}

impl Tx<'_> {
    /// Writes an event and a pending delivery for each endpoint of its workspace that hears
    /// `pattern` (a `LIKE` pattern over the stored subscriptions), or for `only` alone. Nothing
    /// is written when no endpoint would receive it.
    #[expect(clippy::too_many_arguments, reason = "the event's columns")]
    pub async fn queue_webhook_event(
        &mut self,
        id: Uuid,
        workspace_id: Uuid,
        seq: i64,
        event_type: &str,
        pattern: &str,
        payload: &str,
        at: DateTime<Utc>,
        only: Option<Uuid>,
    ) -> StoreResult<u64> {
        // The endpoints that hear it: `$2` the workspace, `$3` the LIKE pattern, `$4` only this
        // endpoint (or NULL); the same numbering in both statements.
        let targets = "FROM webhook_endpoints e WHERE e.workspace_id = $2 AND \
             (($4 IS NOT NULL AND e.id = $4) OR ($4 IS NULL AND \
             (e.event_types = '*' OR e.event_types LIKE $3 ESCAPE '\\')))";
        let events = self
            .execute(
                &format!(
                    "INSERT INTO webhook_events (id, workspace_id, seq, type, payload, created_at) \
                     SELECT $1, $2, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 {targets})"
                ),
                &[
                    id.into(),
                    workspace_id.into(),
                    pattern.into(),
                    only.into(),
                    seq.into(),
                    event_type.into(),
                    payload.into(),
                    at.into(),
                ],
            )
            .await?;
        if events == 0 {
            return Ok(0);
        }
        let deliveries = self
            .execute(
                &format!(
                    "INSERT INTO webhook_deliveries (event_id, endpoint_id, status, \
                     next_attempt_at, created_at) SELECT $1, e.id, 'pending', $5, $5 {targets}"
                ),
                &[
                    id.into(),
                    workspace_id.into(),
                    pattern.into(),
                    only.into(),
                    at.into(),
                ],
            )
            .await?;
        self.queued_webhooks |= deliveries > 0;
        Ok(deliveries)
    }
}
