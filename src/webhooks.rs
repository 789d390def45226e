//! The webhook worker: claims due deliveries (several replicas share the queue: PostgreSQL
//! skips rows another worker holds), POSTs each event to its endpoint signed per Standard
//! Webhooks, and records the outcome. At least once: a claim is a lease, so a worker that
//! dies mid-delivery leaves the delivery due again, sent with the same `webhook-id`.
//! Retries back off exponentially with jitter for about three days, then the delivery is a
//! dead letter; an endpoint that keeps failing is disabled and its owners are told.
//! Every send goes through the SSRF guard: names are resolved here and every address judged
//! by the egress rule before connecting, so DNS rebinding cannot reach a refused address.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use rand::Rng as _;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::{
    domain::{
        egress::Egress,
        webhook::{self, Dialect},
        Core,
    },
    store::{AttemptResult, DeliveryJob, Tx},
};

/// Deliveries claimed per round.
const BATCH: u32 = 100;
/// The most response-body bytes kept with a delivery.
pub const RESPONSE_CAP: usize = 1024;
/// How long after its event a delivery is retried before it becomes a dead letter.
pub const RETRY_WINDOW: chrono::Duration = chrono::Duration::days(3);
/// The first retry's delay; each next one doubles, up to [`MAX_DELAY`].
const FIRST_DELAY_SECS: i64 = 5;
const MAX_DELAY: chrono::Duration = chrono::Duration::hours(12);
/// An endpoint is disabled once this many attempts in a row failed and the failures have
/// lasted at least [`DISABLE_AFTER_TIME`].
pub const DISABLE_AFTER_FAILURES: i64 = 50;
pub const DISABLE_AFTER_TIME: chrono::Duration = chrono::Duration::hours(24);
/// Endpoints of deleted workspaces and unreferenced events retired per round.
const RETIRE_BATCH: u32 = 500;
/// How often an idle worker retires them.
const RETIRE_EVERY: Duration = Duration::from_secs(60);
/// The window an endpoint's `rate_limit_per_minute` counts attempts in.
const RATE_WINDOW: chrono::Duration = chrono::Duration::seconds(60);
/// SpatialFlow's signature of the body, and its copies of the event id.
const SF_SIGNATURE: &str = "X-SF-Signature";
const SF_EVENT_ID: &str = "X-SF-Event-ID";
const IDEMPOTENCY_KEY: &str = "X-Idempotency-Key";

/// The delay before the retry that follows attempt `attempts` (1-based), without jitter.
fn base_delay(attempts: i64) -> chrono::Duration {
    let exp = u32::try_from((attempts - 1).clamp(0, 20)).unwrap_or(20);
    chrono::Duration::seconds(FIRST_DELAY_SECS.saturating_mul(1_i64 << exp)).min(MAX_DELAY)
}

/// The delay before the retry that follows attempt `attempts` (1-based), with ±20 % jitter.
pub fn retry_delay(attempts: i64) -> chrono::Duration {
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    chrono::Duration::milliseconds((base_delay(attempts).num_milliseconds() as f64 * jitter) as i64)
}

/// How many retries the default schedule makes within [`RETRY_WINDOW`] (without jitter):
/// what an endpoint without `max_retries` of its own is shown to have.
pub fn scheduled_retries() -> i64 {
    let mut elapsed = chrono::Duration::zero();
    let mut attempts = 1;
    while elapsed + base_delay(attempts) <= RETRY_WINDOW {
        elapsed += base_delay(attempts);
        attempts += 1;
    }
    attempts - 1
}

/// A resolver that refuses names resolving to an address the egress rule refuses.
struct GuardedResolver {
    egress: Egress,
}

#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to {1}, which is not a public address (ROSTER_WEBHOOK_ALLOW)")]
struct Refused(String, std::net::IpAddr);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let egress = self.egress.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !egress.allows_host(&host) {
                if let Some(bad) = addrs.iter().find(|a| !egress.allows_ip(a.ip())) {
                    return Err(Box::new(Refused(host, bad.ip())) as _);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub delivered: usize,
    pub failed: usize,
    pub dead: usize,
}

/// Sends webhook deliveries.
pub struct Worker {
    core: Arc<Core>,
    client: reqwest::Client,
    timeout: Duration,
    /// When retiring is next due (`None`: at the next idle round).
    retire_due: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Worker {
    pub fn new(core: Arc<Core>, timeout: Duration) -> anyhow::Result<Worker> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("Roster-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                egress: core.settings.egress.clone(),
            }))
            .build()?;
        Ok(Worker {
            core,
            client,
            timeout,
            retire_due: std::sync::Mutex::new(None),
        })
    }

    /// One round: claim what is due, send it all at once, record each outcome.
    pub async fn run_once(&self) -> anyhow::Result<Round> {
        let now = self.core.clock.now();
        // Each claim is a lease of twice its attempt's timeout and a margin: a live worker
        // records well within it.
        let default_timeout = i64::try_from(self.timeout.as_secs().max(1))?;
        let claimed = {
            let mut tx = self.core.store.write().await?;
            let claimed = tx
                .claim_webhook_deliveries(now, default_timeout, BATCH)
                .await?;
            tx.commit().await?;
            claimed
        };
        let mut round = Round::default();
        if claimed.is_empty() {
            self.retire().await?;
            self.gauge_queue().await;
            return Ok(round);
        }
        let mut jobs = Vec::with_capacity(claimed.len());
        for (event_id, endpoint_id) in claimed {
            if let Some(job) = self
                .core
                .store
                .read()
                .webhook_job(event_id, endpoint_id)
                .await?
            {
                jobs.push(job);
            }
        }
        let jobs = self.within_rate_limits(jobs, now).await?;
        let outcomes = join_all(jobs.iter().map(|job| self.send(job))).await;
        // Every outcome of the batch in one transaction: one turn of the writer for the lot.
        // Should it fail, each delivery is sent again once its lease ends.
        let mut tx = self.core.store.write().await?;
        let mut failing = Vec::new();
        for (job, attempt) in jobs.iter().zip(outcomes) {
            let at = attempt.at;
            let (recorded, run) = record(&mut tx, job, attempt).await?;
            match recorded {
                Recorded::Delivered => round.delivered += 1,
                Recorded::Retry => round.failed += 1,
                Recorded::Dead => round.dead += 1,
            }
            if let Some((failures, since)) = run {
                if failures >= DISABLE_AFTER_FAILURES && at - since >= DISABLE_AFTER_TIME {
                    failing.push((job, failures));
                }
            }
        }
        tx.commit().await?;
        for (job, failures) in failing {
            if self
                .core
                .disable_failing_webhook(job.workspace_id, job.endpoint_id, &job.url, failures)
                .await?
            {
                tracing::warn!(endpoint_id = %job.endpoint_id, failures,
                    "webhook endpoint disabled after a long run of failed deliveries");
            }
        }
        self.gauge_queue().await;
        metrics::counter!("roster_webhook_deliveries_total", "outcome" => "delivered")
            .increment(round.delivered as u64);
        metrics::counter!("roster_webhook_deliveries_total", "outcome" => "failed")
            .increment(round.failed as u64);
        metrics::counter!("roster_webhook_deliveries_total", "outcome" => "dead")
            .increment(round.dead as u64);
        Ok(round)
    }

    /// Keeps, of the claimed jobs, those their endpoints' rate limits allow now; the others are
    /// handed back unattempted, due when their endpoint's window ends. The window is counted
    /// on the endpoint's row, so every worker of every replica shares it.
    async fn within_rate_limits(
        &self,
        jobs: Vec<DeliveryJob>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<DeliveryJob>> {
        if jobs.iter().all(|j| j.rate_limit_per_minute.is_none()) {
            return Ok(jobs);
        }
        let mut wanted: std::collections::BTreeMap<uuid::Uuid, (i64, i64)> = Default::default();
        for j in &jobs {
            if let Some(limit) = j.rate_limit_per_minute {
                wanted.entry(j.endpoint_id).or_insert((limit, 0)).1 += 1;
            }
        }
        let mut tx = self.core.store.write().await?;
        // Per endpoint: how many may go now, and when its window ends.
        let mut allowed = std::collections::HashMap::new();
        for (endpoint_id, (limit, n)) in wanted {
            let Some((start, used)) = tx
                .open_webhook_rate_window(endpoint_id, now, now - RATE_WINDOW)
                .await?
            else {
                continue;
            };
            let granted = n.min(limit - used).max(0);
            if granted > 0 {
                tx.add_webhook_rate(endpoint_id, granted).await?;
            }
            allowed.insert(endpoint_id, (granted, start + RATE_WINDOW));
        }
        let mut kept = Vec::with_capacity(jobs.len());
        for job in jobs {
            match allowed.get_mut(&job.endpoint_id) {
                Some((0, window_end)) => {
                    tx.defer_webhook_delivery(job.event_id, job.endpoint_id, *window_end)
                        .await?;
                }
                Some((left, _)) => {
                    *left -= 1;
                    kept.push(job);
                }
                None if job.rate_limit_per_minute.is_none() => kept.push(job),
                // The endpoint went meanwhile: nothing to send.
                None => {}
            }
        }
        tx.commit().await?;
        Ok(kept)
    }

    /// Sets the queue's gauges: due pending deliveries, and how long the oldest has waited.
    async fn gauge_queue(&self) {
        if let Ok(b) = self.core.webhook_backlog().await {
            metrics::gauge!("roster_webhook_queue_depth").set(b.due as f64);
            metrics::gauge!("roster_webhook_oldest_pending_seconds").set(b.oldest_due_seconds);
        }
    }

    /// Deletes, now and then, the endpoints of deleted workspaces that have nothing pending and
    /// the events no delivery refers to.
    async fn retire(&self) -> anyhow::Result<()> {
        let now = std::time::Instant::now();
        {
            let due = self
                .retire_due
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?;
            if due.is_some_and(|d| d > now) {
                return Ok(());
            }
        }
        let mut tx = self.core.store.write().await?;
        let retired = tx.retire_webhooks(RETIRE_BATCH).await?;
        tx.commit().await?;
        let next = if retired >= u64::from(RETIRE_BATCH) {
            now
        } else {
            now + RETIRE_EVERY
        };
        *self
            .retire_due
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))? = Some(next);
        Ok(())
    }

    /// One attempt: the signed POST and what came back.
    async fn send(&self, job: &DeliveryJob) -> Attempt {
        let started = std::time::Instant::now();
        let at = self.core.clock.now();
        let outcome = self.post(job, at).await;
        Attempt {
            at,
            latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            outcome,
        }
    }

    async fn post(&self, job: &DeliveryJob, at: DateTime<Utc>) -> Result<(u16, String), String> {
        let url = url::Url::parse(&job.url).map_err(|e| format!("invalid URL: {e}"))?;
        self.core
            .settings
            .egress
            .check_url(&url)
            .map_err(|e| e.to_string())?;
        let secrets = self
            .core
            .signing_secrets(job.endpoint_id, &job.secrets, at)
            .map_err(|e| format!("{e}"))?;
        let id = job.event_id.to_string();
        let timestamp = at.timestamp();
        let mut signatures = Vec::with_capacity(secrets.len());
        for secret in &secrets {
            let signer = standardwebhooks::Webhook::from_bytes(secret.clone())
                .map_err(|e| format!("signing: {e}"))?;
            signatures.push(
                signer
                    .sign(&id, timestamp, job.payload.as_bytes())
                    .map_err(|e| format!("signing: {e}"))?,
            );
        }
        let mut request = self.client.post(url);
        if let Some(t) = job.timeout_seconds {
            request = request.timeout(Duration::from_secs(t.unsigned_abs()));
        }
        if Dialect::parse(&job.dialect) == Dialect::SpatialFlow {
            // SpatialFlow's scheme: the current secret alone, as the text it was shown as.
            let current = secrets.first().ok_or("no signing secret")?;
            request = request
                .header(SF_SIGNATURE, sf_signature(current, job.payload.as_bytes()))
                .header(SF_EVENT_ID, &id)
                .header(IDEMPOTENCY_KEY, &id);
        }
        let response = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &id)
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                timestamp.to_string(),
            )
            .header(
                standardwebhooks::HEADER_WEBHOOK_SIGNATURE,
                signatures.join(" "),
            )
            .body(job.payload.clone())
            .send()
            .await
            .map_err(describe)?;
        let status = response.status().as_u16();
        Ok((status, read_capped(response).await))
    }

    /// Runs rounds until `stop` resolves: at once again after a full batch, else every
    /// `interval`.
    pub async fn run(self, interval: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let busy = match self.run_once().await {
                Ok(r) => r.delivered + r.failed + r.dead >= BATCH as usize,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "webhook round failed");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                () = &mut stop => break,
                () = self.core.store.webhooks_queued().notified() => {}
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}

/// Records one attempt in `tx`: delivered, due again, or a dead letter; with the endpoint's run
/// of failures after a failure.
async fn record(
    tx: &mut Tx<'_>,
    job: &DeliveryJob,
    attempt: Attempt,
) -> anyhow::Result<(Recorded, Option<(i64, DateTime<Utc>)>)> {
    let delivered = matches!(attempt.outcome, Ok((s, _)) if (200..300).contains(&s));
    let (status, error, body) = match &attempt.outcome {
        Ok((s, body)) if delivered => (Some(i64::from(*s)), None, Some(body.as_str())),
        Ok((s, body)) => (
            Some(i64::from(*s)),
            Some(format!("the endpoint answered {s}")),
            Some(body.as_str()),
        ),
        Err(e) => (None, Some(e.clone()), None),
    };
    let result = AttemptResult {
        status,
        error: error.as_deref(),
        response: body,
        latency_ms: attempt.latency_ms,
        at: attempt.at,
    };
    if delivered {
        tx.webhook_delivered(job.event_id, job.endpoint_id, &result)
            .await?;
        return Ok((Recorded::Delivered, None));
    }
    let next = attempt.at + retry_delay(job.attempts);
    // `attempts` counts this one: the retries so far are one fewer.
    let retries_left = job.max_retries.is_none_or(|m| job.attempts <= m);
    let retry_at = (retries_left && next <= job.event_created_at.0 + RETRY_WINDOW).then_some(next);
    let run = tx
        .webhook_failed(job.event_id, job.endpoint_id, &result, retry_at)
        .await?;
    let recorded = if retry_at.is_some() {
        Recorded::Retry
    } else {
        Recorded::Dead
    };
    Ok((recorded, run))
}

enum Recorded {
    Delivered,
    Retry,
    Dead,
}

struct Attempt {
    at: DateTime<Utc>,
    latency_ms: i64,
    outcome: Result<(u16, String), String>,
}

/// SpatialFlow's `X-SF-Signature`: `sha256=` and the hex HMAC-SHA256 of the body, keyed with
/// the UTF-8 of the secret's text (`whsec_…`) as the API showed it.
pub fn sf_signature(secret: &[u8], body: &[u8]) -> String {
    let text = webhook::secret_text(secret);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, text.as_bytes());
    format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, body).as_ref())
    )
}

/// A transport error in a line, with its cause (the guard's refusal among them).
fn describe(e: reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The start of a response body, at most [`RESPONSE_CAP`] bytes (the rest is not read).
async fn read_capped(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < RESPONSE_CAP {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(RESPONSE_CAP);
    String::from_utf8_lossy(&body).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_twelve_hours() {
        for _ in 0..50 {
            let first = retry_delay(1).num_milliseconds();
            assert!((4_000..=6_000).contains(&first), "{first}");
            let fourth = retry_delay(4).num_milliseconds();
            assert!((32_000..=48_000).contains(&fourth), "{fourth}");
            let late = retry_delay(30).num_milliseconds();
            assert!(late <= 12 * 3_600_000 * 12 / 10, "{late}");
        }
    }

    #[test]
    fn about_three_days_of_retries_take_a_couple_of_dozen_attempts() {
        let mut elapsed = chrono::Duration::zero();
        let mut attempts = 0;
        while elapsed <= RETRY_WINDOW {
            attempts += 1;
            elapsed += retry_delay(attempts);
        }
        assert!((12..=30).contains(&attempts), "{attempts}");
    }
}
