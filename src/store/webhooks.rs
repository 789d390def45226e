//! Webhooks: endpoints (insert, list, read, change, rotate, delete), the event and deliveries a
//! change queues in its own transaction, the listings of deliveries and their requeueing, and
//! the worker's statements: claim what is due, read what to send, record the outcome.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    db::{Db, Tx},
    ts::Ts,
    StoreResult,
};
use crate::domain::{
    paging::PageRequest,
    webhook::{Delivery, DeliveryStatus, Disabled, Endpoint, Subscription},
};

const ENDPOINT_COLUMNS: &str = "id, workspace_id, url, description, event_types, enabled, \
     disabled_reason, previous_until, failure_streak, failing_since, created_by, created_at, \
     updated_at";

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: Uuid,
    workspace_id: Uuid,
    url: String,
    description: String,
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

impl From<EndpointRow> for Endpoint {
    fn from(r: EndpointRow) -> Self {
        Endpoint {
            id: r.id,
            workspace_id: r.workspace_id,
            url: r.url,
            description: r.description,
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

/// A new endpoint (its secret as stored: sealed or not).
pub struct NewEndpoint<'a> {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a str,
    pub enabled: bool,
    pub disabled_reason: Option<&'a str>,
    pub secret: &'a [u8],
    pub sealed: bool,
    pub created_by: Option<Uuid>,
    pub now: DateTime<Utc>,
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

/// Which deliveries of an endpoint a listing shows.
pub struct DeliveryFilter {
    pub endpoint_id: Uuid,
    pub status: Option<DeliveryStatus>,
}

const DELIVERY_COLUMNS: &str = "d.event_id, d.endpoint_id, ev.type AS event_type, \
     ev.seq AS sequence, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, \
     d.last_status, d.last_error, d.last_response, d.last_latency_ms, d.delivered_at, \
     d.created_at, ev.payload";

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
}

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
    #[sqlx(flatten)]
    pub secrets: EndpointSecrets,
}

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
                    "INSERT INTO webhook_endpoints (id, workspace_id, url, description, \
                     event_types, enabled, disabled_reason, secret, sealed, created_by, \
                     created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
                     RETURNING {ENDPOINT_COLUMNS}"
                ),
                &[
                    e.id.into(),
                    e.workspace_id.into(),
                    e.url.into(),
                    e.description.into(),
                    e.event_types.into(),
                    e.enabled.into(),
                    e.disabled_reason.into(),
                    e.secret.into(),
                    e.sealed.into(),
                    e.created_by.into(),
                    e.now.into(),
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

    #[expect(clippy::too_many_arguments, reason = "one column each")]
    pub async fn update_webhook_endpoint(
        &mut self,
        workspace_id: Uuid,
        id: Uuid,
        url: &str,
        description: &str,
        event_types: &str,
        enabled: bool,
        disabled_reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Endpoint>> {
        // Enabling clears the run of failures.
        let row: Option<EndpointRow> = self
            .optional(
                &format!(
                    "UPDATE webhook_endpoints SET url = $3, description = $4, event_types = $5, \
                     enabled = $6, disabled_reason = $7, updated_at = $8, \
                     failure_streak = CASE WHEN $6 AND NOT enabled THEN 0 ELSE failure_streak END, \
                     failing_since = CASE WHEN $6 AND NOT enabled THEN NULL ELSE failing_since END \
                     WHERE workspace_id = $1 AND id = $2 RETURNING {ENDPOINT_COLUMNS}"
                ),
                &[
                    workspace_id.into(),
                    id.into(),
                    url.into(),
                    description.into(),
                    event_types.into(),
                    enabled.into(),
                    disabled_reason.into(),
                    now.into(),
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
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
                     JOIN webhook_events ev ON ev.id = d.event_id \
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
        let mut sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
             JOIN webhook_events ev ON ev.id = d.event_id WHERE d.endpoint_id = $1"
        );
        let mut args = vec![filter.endpoint_id.into()];
        if let Some(status) = filter.status {
            args.push(status.as_str().into());
            sql.push_str(&format!(" AND d.status = ${}", args.len()));
        }
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

    /// Makes one delivery of an endpoint pending and due now, whatever its status; whether it
    /// exists.
    pub async fn requeue_webhook_delivery(
        &mut self,
        endpoint_id: Uuid,
        event_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        Ok(self
            .execute(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, \
                 delivered_at = NULL WHERE endpoint_id = $1 AND event_id = $2",
                &[endpoint_id.into(), event_id.into(), now.into()],
            )
            .await?
            > 0)
    }

    /// Makes every dead letter of an endpoint pending and due now; how many.
    pub async fn requeue_failed_webhooks(
        &mut self,
        endpoint_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.execute(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2, \
             attempts = 0 WHERE endpoint_id = $1 AND status = 'failed'",
            &[endpoint_id.into(), now.into()],
        )
        .await
    }

    /// Claims up to `batch` due deliveries of enabled endpoints: each is counted as an attempt
    /// and becomes due again at `lease_until`, so a worker that dies mid-delivery loses none.
    /// PostgreSQL skips rows another worker holds.
    pub async fn claim_webhook_deliveries(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        batch: u32,
    ) -> StoreResult<Vec<(Uuid, Uuid)>> {
        let sql = self.backend.claim_webhook_deliveries();
        self.all(
            sql,
            &[now.into(), lease_until.into(), i64::from(batch).into()],
        )
        .await
    }

    /// What to send for a claimed delivery (`None` if its endpoint went meanwhile).
    pub async fn webhook_job(
        &mut self,
        event_id: Uuid,
        endpoint_id: Uuid,
    ) -> StoreResult<Option<DeliveryJob>> {
        self.optional(
            "SELECT d.event_id, d.endpoint_id, e.workspace_id, d.attempts, e.url, ev.payload, \
             ev.created_at AS event_created_at, e.failure_streak, e.failing_since, e.secret, \
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
