//! Webhooks: a workspace's endpoints (a URL, the event types it hears, a `whsec_` secret shown
//! on creation and rotation only), the event every committed change of a workspace queues for
//! them in the change's own transaction (so an event exists if and only if its change
//! committed), and the deliveries an endpoint received, with redelivery and the dead letters.
//! Sending is the worker's (`crate::webhooks`); this module decides what is sent and to whom.

use std::collections::BTreeSet;

use base64::Engine as _;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::RngCore as _;
use serde_json::{json, Value};
use url::Url;
use uuid::Uuid;

use super::{
    audit::{self, NewEvent},
    member::lock_actor,
    paging::PageRequest,
    permission::Permission,
    policy::{Policy, WebhookBounds},
    session::RequestMeta,
    workspace::Access,
    Core, Error, Result,
};
use crate::store::{DeliveryFilter, EndpointChange, EndpointSecrets, NewEndpoint, Tx};

/// Prefix of every signing secret (Standard Webhooks), before the base64 of its bytes.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a signing secret.
pub const SECRET_LEN: usize = 32;
/// How long a rotated-out secret keeps signing beside the new one.
pub const PREVIOUS_SECRET_GRACE: Duration = Duration::hours(24);
/// The longest endpoint URL, in bytes.
pub const MAX_URL_LEN: usize = 2000;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 500;
/// Endpoints one workspace may have.
pub const MAX_ENDPOINTS: i64 = 50;
/// The type of the event `POST …/webhooks/{id}/test` sends (to that endpoint only).
pub const TEST_EVENT: &str = "webhook.test";
/// The longest endpoint name, in characters.
pub const MAX_NAME_LEN: usize = 255;

/// The event types a workspace's changes produce, each with the audit actions it reports.
/// An audit action not listed here (sign-ins, account changes, the webhooks' own changes)
/// produces no event.
const EVENT_TYPES: [(&str, &[&str]); 23] = [
    ("member.added", &[audit::actions::MEMBER_ADDED]),
    (
        "member.role_changed",
        &[audit::actions::MEMBER_ROLE_CHANGED],
    ),
    (
        "member.removed",
        &[audit::actions::MEMBER_REMOVED, audit::actions::MEMBER_LEFT],
    ),
    ("invitation.created", &[audit::actions::INVITATION_CREATED]),
    (
        "invitation.accepted",
        &[audit::actions::INVITATION_ACCEPTED],
    ),
    (
        "invitation.declined",
        &[audit::actions::INVITATION_DECLINED],
    ),
    ("invitation.revoked", &[audit::actions::INVITATION_REVOKED]),
    (
        "invitation.extended",
        &[audit::actions::INVITATION_EXTENDED],
    ),
    ("invitation.resent", &[audit::actions::INVITATION_RESENT]),
    ("workspace.updated", &[audit::actions::WORKSPACE_UPDATED]),
    (
        "workspace.plan_changed",
        &[audit::actions::WORKSPACE_PLAN_CHANGED],
    ),
    ("workspace.deleted", &[audit::actions::WORKSPACE_DELETED]),
    ("api_key.created", &[audit::actions::API_KEY_CREATED]),
    ("api_key.revoked", &[audit::actions::API_KEY_REVOKED]),
    (
        "sessions.revoked",
        &[audit::actions::WORKSPACE_SESSIONS_REVOKED],
    ),
    ("role.created", &[audit::actions::ROLE_CREATED]),
    ("role.updated", &[audit::actions::ROLE_UPDATED]),
    ("role.deleted", &[audit::actions::ROLE_DELETED]),
    (
        "ownership.transfer_proposed",
        &[audit::actions::OWNERSHIP_TRANSFER_PROPOSED],
    ),
    (
        "ownership.transfer_ended",
        &[
            audit::actions::OWNERSHIP_TRANSFER_DECLINED,
            audit::actions::OWNERSHIP_TRANSFER_CANCELLED,
            audit::actions::OWNERSHIP_TRANSFER_EXPIRED,
        ],
    ),
    (
        "ownership.transferred",
        &[audit::actions::OWNERSHIP_TRANSFERRED],
    ),
    (
        "usage.threshold_reached",
        &[audit::actions::USAGE_THRESHOLD_REACHED],
    ),
    ("webhook.test", &[]),
];

/// Every event type an endpoint may subscribe to.
pub fn event_types() -> impl Iterator<Item = &'static str> {
    EVENT_TYPES.iter().map(|(t, _)| *t)
}

/// The event type that reports an audit action of a workspace, if any.
pub fn event_type_of(action: &str) -> Option<&'static str> {
    EVENT_TYPES
        .iter()
        .find(|(_, actions)| actions.contains(&action))
        .map(|(t, _)| *t)
}

/// The event types an endpoint hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    All,
    Only(BTreeSet<&'static str>),
}

impl Subscription {
    /// Parses the names an API call gave (`None` or `["*"]`: every type).
    pub fn parse(names: Option<&[String]>) -> Result<Subscription> {
        let Some(names) = names else {
            return Ok(Subscription::All);
        };
        if names.iter().any(|n| n == "*") {
            return Ok(Subscription::All);
        }
        if names.is_empty() {
            return Err(Error::invalid(
                "event_types",
                "required",
                "name at least one event type, or \"*\" for all of them",
            ));
        }
        let mut set = BTreeSet::new();
        for name in names {
            set.insert(known_event_type("event_types", name)?);
        }
        Ok(Subscription::Only(set))
    }

    /// The stored form: `*`, or the types separated and surrounded by single spaces (what the
    /// queueing statement matches with `LIKE`).
    pub fn stored(&self) -> String {
        match self {
            Subscription::All => "*".into(),
            Subscription::Only(set) => {
                let mut s = String::from(" ");
                for t in set {
                    s.push_str(t);
                    s.push(' ');
                }
                s
            }
        }
    }

    /// Reads the stored form (unknown names, from an older version, are dropped).
    pub fn from_stored(s: &str) -> Subscription {
        if s.trim() == "*" {
            return Subscription::All;
        }
        Subscription::Only(
            s.split_ascii_whitespace()
                .filter_map(|n| event_types().find(|t| *t == n))
                .collect(),
        )
    }

    /// The names, as shown (`["*"]` for all).
    pub fn names(&self) -> Vec<String> {
        match self {
            Subscription::All => vec!["*".into()],
            Subscription::Only(set) => set.iter().map(|t| (*t).to_owned()).collect(),
        }
    }
}

/// Which of an endpoint's deliveries a listing shows.
#[derive(Debug, Clone, Default)]
pub struct DeliveriesOf {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<String>,
}

/// The event type `name` names; a name that is none is refused as `field`.
fn known_event_type(field: &str, name: &str) -> Result<&'static str> {
    event_types().find(|t| *t == name).ok_or_else(|| {
        Error::invalid(
            field,
            "unknown_event_type",
            format!("{name:?} is not an event type; GET /v1/webhook-event-types lists them"),
        )
    })
}

/// The `LIKE` pattern that finds `event_type` in a stored subscription (`_` escaped).
pub fn subscription_pattern(event_type: &str) -> String {
    format!("% {} %", event_type.replace('_', "\\_"))
}

/// Why an endpoint is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disabled {
    /// Someone turned it off.
    Manual,
    /// Deliveries kept failing; its owners were told.
    Failing,
}

impl Disabled {
    pub fn as_str(self) -> &'static str {
        match self {
            Disabled::Manual => "manual",
            Disabled::Failing => "failing",
        }
    }

    pub fn parse(s: &str) -> Option<Disabled> {
        match s {
            "manual" => Some(Disabled::Manual),
            "failing" => Some(Disabled::Failing),
            _ => None,
        }
    }
}

/// The API an endpoint was created through. A SpatialFlow endpoint's deliveries also carry
/// SpatialFlow's `X-SF-Signature` (an HMAC of the body keyed with the secret's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    #[default]
    Native,
    SpatialFlow,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Native => "native",
            Dialect::SpatialFlow => "spatialflow",
        }
    }

    pub fn parse(s: &str) -> Dialect {
        if s == "spatialflow" {
            Dialect::SpatialFlow
        } else {
            Dialect::Native
        }
    }
}

/// How an endpoint's deliveries are sent; `None` takes the default: retries for about three
/// days, the configured timeout, no rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliverySettings {
    /// Retries after the first attempt before a delivery becomes a dead letter.
    pub max_retries: Option<i64>,
    /// The most one attempt may take.
    pub timeout_seconds: Option<i64>,
    /// The most attempts started in any 60-second window (a fixed window from its first).
    pub rate_limit_per_minute: Option<i64>,
}

impl DeliverySettings {
    /// Checks each set value against the calling surface's bounds.
    fn check(&self, bounds: &WebhookBounds) -> Result<()> {
        let fields = [
            ("max_retries", self.max_retries, bounds.max_retries),
            (
                "timeout_seconds",
                self.timeout_seconds,
                bounds.timeout_seconds,
            ),
            (
                "rate_limit_per_minute",
                self.rate_limit_per_minute,
                bounds.rate_limit_per_minute,
            ),
        ];
        for (field, value, (least, most)) in fields {
            if value.is_some_and(|v| !(least..=most).contains(&v)) {
                return Err(Error::invalid(
                    field,
                    "out_of_range",
                    format!("{field} is from {least} to {most}"),
                ));
            }
        }
        Ok(())
    }
}

/// An endpoint, as shown (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub url: String,
    pub description: String,
    pub dialect: Dialect,
    pub settings: DeliverySettings,
    pub subscription: Subscription,
    pub enabled: bool,
    pub disabled: Option<Disabled>,
    /// Until when the previous secret still signs beside the current one.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub failure_streak: i64,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    /// What the audit log keeps of it.
    fn snapshot(&self) -> Value {
        json!({
            "name": self.name, "url": self.url, "description": self.description,
            "event_types": self.subscription.names(), "enabled": self.enabled,
            "max_retries": self.settings.max_retries,
            "timeout_seconds": self.settings.timeout_seconds,
            "rate_limit_per_minute": self.settings.rate_limit_per_minute,
        })
    }
}

/// What creating an endpoint takes.
#[derive(Debug, Clone, Default)]
pub struct NewEndpointInput {
    pub name: Option<String>,
    pub url: String,
    pub description: Option<String>,
    /// `None`: every event type.
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub dialect: Dialect,
    pub settings: DeliverySettings,
}

/// A change to an endpoint; `None` leaves a field alone, `Some(None)` returns a setting to
/// its default.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub max_retries: Option<Option<i64>>,
    pub timeout_seconds: Option<Option<i64>>,
    pub rate_limit_per_minute: Option<Option<i64>>,
}

impl EndpointPatch {
    /// The settings after this change.
    fn settings(&self, before: DeliverySettings) -> DeliverySettings {
        DeliverySettings {
            max_retries: self.max_retries.unwrap_or(before.max_retries),
            timeout_seconds: self.timeout_seconds.unwrap_or(before.timeout_seconds),
            rate_limit_per_minute: self
                .rate_limit_per_minute
                .unwrap_or(before.rate_limit_per_minute),
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Retries ran out: a dead letter, until retried.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: Uuid,
    pub endpoint_id: Uuid,
    pub event_type: String,
    pub sequence: i64,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    /// The start of the last response's body (at most `crate::webhooks::RESPONSE_CAP` bytes).
    pub last_response: Option<String>,
    pub last_latency_ms: Option<i64>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The body that is (or was) sent.
    pub payload: String,
    /// Its endpoint's URL now.
    pub url: String,
}

/// A delivery that ran out of retries (one entry each time it did), until it is requeued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: Uuid,
    pub event_id: Uuid,
    pub endpoint_id: Uuid,
    pub endpoint_name: String,
    pub event_type: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub failed_at: DateTime<Utc>,
    pub requeued_at: Option<DateTime<Utc>>,
}

/// What an endpoint's deliveries came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub total: i64,
    pub delivered: i64,
    pub failed: i64,
    pub pending: i64,
    /// Attempts ever made (before redeliveries too), all deliveries together, and of those the
    /// ones after a delivery's first.
    pub attempts: i64,
    pub retries: i64,
    /// Deliveries that took more than one attempt, and of those the delivered and the failed.
    pub retried: i64,
    pub retried_delivered: i64,
    pub retried_failed: i64,
    /// The last attempts' latencies added up, and how many there were.
    pub latency_ms_sum: i64,
    pub latency_count: i64,
    pub last_attempt_at: Option<DateTime<Utc>>,
}

impl DeliveryCounts {
    /// Adds another endpoint's counts.
    pub fn add(&mut self, o: &DeliveryCounts) {
        self.total += o.total;
        self.delivered += o.delivered;
        self.failed += o.failed;
        self.pending += o.pending;
        self.attempts += o.attempts;
        self.retries += o.retries;
        self.retried += o.retried;
        self.retried_delivered += o.retried_delivered;
        self.retried_failed += o.retried_failed;
        self.latency_ms_sum += o.latency_ms_sum;
        self.latency_count += o.latency_count;
        self.last_attempt_at = self.last_attempt_at.max(o.last_attempt_at);
    }
}

/// What a test event carries besides the defaults.
#[derive(Debug, Clone, Default)]
pub struct TestEvent {
    /// An event type the receiver wants to try its handling of (reported in `data`).
    pub event_type: Option<String>,
    /// A JSON object sent as `data.payload`.
    pub payload: Option<Value>,
}

/// A new signing secret: its text (shown once) and its bytes (kept).
pub struct NewSecret {
    pub text: String,
    pub bytes: Vec<u8>,
}

/// A fresh `whsec_` secret.
pub fn new_secret() -> NewSecret {
    let mut bytes = vec![0u8; SECRET_LEN];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    NewSecret {
        text: secret_text(&bytes),
        bytes,
    }
}

/// A secret's text as shown: `whsec_` and the base64 of its bytes.
pub fn secret_text(bytes: &[u8]) -> String {
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Checks an endpoint URL's shape: absolute `http` or `https`, a host, no user or password,
/// no fragment, at most [`MAX_URL_LEN`] bytes. Where it may point is checked by the network
/// guard, at creation and again at every delivery after resolving the name.
pub fn check_url(raw: &str) -> Result<Url> {
    let bad = |why: &str| Error::invalid("url", "invalid_url", why.to_owned());
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::invalid("url", "required", "an endpoint needs a URL"));
    }
    if raw.len() > MAX_URL_LEN {
        return Err(bad(&format!("a URL has at most {MAX_URL_LEN} bytes")));
    }
    let url = Url::parse(raw).map_err(|e| bad(&format!("not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the URL must be http or https"));
    }
    if url.host().is_none() {
        return Err(bad("the URL must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("the URL may not carry a user name or password"));
    }
    if url.fragment().is_some() {
        return Err(bad("the URL may not have a fragment (#…)"));
    }
    Ok(url)
}

fn name(n: Option<&str>) -> Result<String> {
    let n = n.unwrap_or("").trim();
    if n.chars().count() > MAX_NAME_LEN {
        return Err(Error::invalid(
            "name",
            "too_long",
            format!("a name has at most {MAX_NAME_LEN} characters"),
        ));
    }
    if n.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "invalid",
            "a name has no control characters",
        ));
    }
    Ok(n.to_owned())
}

fn description(d: Option<&str>) -> Result<String> {
    let d = d.unwrap_or("").trim();
    if d.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(Error::invalid(
            "description",
            "too_long",
            format!("a description has at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    if d.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::invalid(
            "description",
            "invalid",
            "a description has no control characters",
        ));
    }
    Ok(d.to_owned())
}

/// The JSON body of an event: what every endpoint receives for it.
fn payload(id: Uuid, event_type: &str, workspace_id: Uuid, seq: i64, e: &NewEvent<'_>) -> String {
    json!({
        "id": id,
        "type": event_type,
        "timestamp": e.actor.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "workspace_id": workspace_id,
        "sequence": seq,
        "actor": {"user_id": e.actor.user_id},
        "data": {
            "object": e.target_type,
            "id": e.target_id,
            "before": e.before,
            "after": e.after,
        },
    })
    .to_string()
}

/// Queues the webhook event of an audit event inside the change's transaction: an event row
/// and a delivery for each of the workspace's endpoints subscribed to its type, only when the
/// workspace has such an endpoint. `id` and `seq` are the audit event's.
pub(super) async fn queue(tx: &mut Tx<'_>, id: Uuid, seq: i64, e: &NewEvent<'_>) -> Result<()> {
    let (Some(ws), Some(event_type)) = (e.workspace_id, event_type_of(e.action)) else {
        return Ok(());
    };
    let pattern = subscription_pattern(event_type);
    let body = payload(id, event_type, ws, seq, e);
    tx.queue_webhook_event(id, ws, seq, event_type, &pattern, &body, e.actor.at, None)
        .await?;
    Ok(())
}

impl Core {
    /// The secret bytes as stored: sealed when a key-encryption key is configured.
    fn store_secret(&self, endpoint_id: Uuid, bytes: &[u8]) -> Result<(Vec<u8>, bool)> {
        match self.keys.kek() {
            Some(kek) => Ok((
                kek.seal(&seal_label(endpoint_id), bytes).map_err(|e| {
                    Error::Internal(anyhow::anyhow!("sealing a webhook secret: {e}"))
                })?,
                true,
            )),
            None => Ok((bytes.to_vec(), false)),
        }
    }

    /// The secrets that sign an endpoint's deliveries now: the current one, and the previous
    /// one while its grace lasts.
    pub fn signing_secrets(
        &self,
        endpoint_id: Uuid,
        s: &EndpointSecrets,
        now: DateTime<Utc>,
    ) -> Result<Vec<Vec<u8>>> {
        let open = |bytes: &[u8], sealed: bool| -> Result<Vec<u8>> {
            if !sealed {
                return Ok(bytes.to_vec());
            }
            let kek = self.keys.kek().ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "a webhook secret is sealed; set ROSTER_KEY_ENCRYPTION_KEY to the key that sealed it"
                ))
            })?;
            kek.open(&seal_label(endpoint_id), bytes).map_err(|e| {
                Error::Internal(anyhow::anyhow!("webhook secret of {endpoint_id}: {e}"))
            })
        };
        let mut out = vec![open(&s.secret, s.sealed)?];
        if let (Some(prev), Some(until)) = (&s.previous_secret, s.previous_until) {
            if until.0 > now {
                out.push(open(prev, s.previous_sealed)?);
            }
        }
        Ok(out)
    }

    /// Begins a write of the caller's workspace and re-reads, inside it, that they still
    /// manage its webhooks (a role changed meanwhile counts).
    async fn webhook_write(&self, access: &Access, now: DateTime<Utc>) -> Result<Tx<'_>> {
        let mut tx = self.store.write_workspace(access.workspace.id).await?;
        lock_actor(&mut tx, &self.settings.permissions, access, now)
            .await?
            .grants
            .require(Permission::WebhooksManage)?;
        Ok(tx)
    }

    /// Creates an endpoint (`webhooks:manage`). The secret is in the answer and nowhere else.
    pub async fn create_webhook(
        &self,
        access: &Access,
        input: NewEndpointInput,
        policy: &Policy,
        meta: &RequestMeta,
    ) -> Result<(Endpoint, String)> {
        access.require(Permission::WebhooksManage)?;
        let url = check_url(&input.url)?;
        self.settings.egress.check_url(&url)?;
        let subscription = Subscription::parse(input.event_types.as_deref())?;
        let description = description(input.description.as_deref())?;
        let name = name(input.name.as_deref())?;
        input.settings.check(&policy.webhook_settings)?;
        let id = Uuid::now_v7();
        let secret = new_secret();
        let (stored, sealed) = self.store_secret(id, &secret.bytes)?;
        let ws = access.workspace.id;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.webhook_write(access, actor.at).await?;
        if tx.count_webhook_endpoints(ws).await? >= MAX_ENDPOINTS {
            return Err(Error::conflict(
                "too_many_webhooks",
                format!("a workspace has at most {MAX_ENDPOINTS} webhook endpoints"),
            ));
        }
        let enabled = input.enabled.unwrap_or(true);
        let created = tx
            .insert_webhook_endpoint(&NewEndpoint {
                id,
                workspace_id: ws,
                change: EndpointChange {
                    name: &name,
                    url: url.as_str(),
                    description: &description,
                    event_types: &subscription.stored(),
                    enabled,
                    disabled_reason: (!enabled).then_some(Disabled::Manual.as_str()),
                    settings: input.settings,
                    now: actor.at,
                },
                dialect: input.dialect.as_str(),
                secret: &stored,
                sealed,
                created_by: access.actor_id(),
            })
            .await?;
        audit::record(
            &mut tx,
            &audit::webhook_changed(
                &actor,
                ws,
                id,
                audit::actions::WEBHOOK_CREATED,
                None,
                Some(created.snapshot()),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok((created, secret.text))
    }

    /// The workspace's endpoints, oldest first.
    pub async fn webhooks(&self, access: &Access) -> Result<Vec<Endpoint>> {
        access.require(Permission::WebhooksManage)?;
        Ok(self
            .store
            .read()
            .webhook_endpoints(access.workspace.id)
            .await?)
    }

    /// One endpoint of the workspace.
    pub async fn webhook(&self, access: &Access, id: Uuid) -> Result<Endpoint> {
        access.require(Permission::WebhooksManage)?;
        self.store
            .read()
            .webhook_endpoint(access.workspace.id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Changes an endpoint. Enabling a disabled one clears its failure run and makes what is
    /// pending due at once (the backlog is replayed).
    pub async fn update_webhook(
        &self,
        access: &Access,
        id: Uuid,
        patch: EndpointPatch,
        policy: &Policy,
        meta: &RequestMeta,
    ) -> Result<Endpoint> {
        access.require(Permission::WebhooksManage)?;
        let url = patch.url.as_deref().map(check_url).transpose()?;
        if let Some(url) = &url {
            self.settings.egress.check_url(url)?;
        }
        let subscription = patch
            .event_types
            .as_deref()
            .map(|names| Subscription::parse(Some(names)))
            .transpose()?;
        let new_description = patch
            .description
            .as_deref()
            .map(|d| description(Some(d)))
            .transpose()?;
        let new_name = patch.name.as_deref().map(|n| name(Some(n))).transpose()?;
        // What the change sets (what it leaves was checked when it was set).
        DeliverySettings {
            max_retries: patch.max_retries.flatten(),
            timeout_seconds: patch.timeout_seconds.flatten(),
            rate_limit_per_minute: patch.rate_limit_per_minute.flatten(),
        }
        .check(&policy.webhook_settings)?;
        let ws = access.workspace.id;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.webhook_write(access, actor.at).await?;
        let before = tx.webhook_endpoint(ws, id).await?.ok_or(Error::NotFound)?;
        let enabled = patch.enabled.unwrap_or(before.enabled);
        let disabled = match (enabled, patch.enabled) {
            (true, _) => None,
            (false, Some(false)) if before.enabled => Some(Disabled::Manual),
            (false, _) => before.disabled.or(Some(Disabled::Manual)),
        };
        let settings = patch.settings(before.settings);
        let after = tx
            .update_webhook_endpoint(
                ws,
                id,
                &EndpointChange {
                    name: new_name.as_deref().unwrap_or(&before.name),
                    url: url.as_ref().map_or(before.url.as_str(), Url::as_str),
                    description: new_description.as_deref().unwrap_or(&before.description),
                    event_types: &subscription
                        .as_ref()
                        .unwrap_or(&before.subscription)
                        .stored(),
                    enabled,
                    disabled_reason: disabled.map(Disabled::as_str),
                    settings,
                    now: actor.at,
                },
            )
            .await?
            .ok_or(Error::NotFound)?;
        if enabled && !before.enabled {
            tx.replay_webhook_backlog(id, actor.at).await?;
        }
        if before.snapshot() != after.snapshot() {
            audit::record(
                &mut tx,
                &audit::webhook_changed(
                    &actor,
                    ws,
                    id,
                    audit::actions::WEBHOOK_UPDATED,
                    Some(before.snapshot()),
                    Some(after.snapshot()),
                ),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes an endpoint and its deliveries.
    pub async fn delete_webhook(
        &self,
        access: &Access,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<()> {
        access.require(Permission::WebhooksManage)?;
        let ws = access.workspace.id;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.webhook_write(access, actor.at).await?;
        let before = tx.webhook_endpoint(ws, id).await?.ok_or(Error::NotFound)?;
        tx.delete_webhook_endpoint(ws, id).await?;
        audit::record(
            &mut tx,
            &audit::webhook_changed(
                &actor,
                ws,
                id,
                audit::actions::WEBHOOK_DELETED,
                Some(before.snapshot()),
                None,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives an endpoint a new secret; the old one keeps signing beside it for
    /// [`PREVIOUS_SECRET_GRACE`], so receivers can switch without missing a delivery.
    pub async fn rotate_webhook_secret(
        &self,
        access: &Access,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(Endpoint, String)> {
        access.require(Permission::WebhooksManage)?;
        let secret = new_secret();
        let (stored, sealed) = self.store_secret(id, &secret.bytes)?;
        let ws = access.workspace.id;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.webhook_write(access, actor.at).await?;
        let endpoint = tx
            .rotate_webhook_secret(
                ws,
                id,
                &stored,
                sealed,
                actor.at + PREVIOUS_SECRET_GRACE,
                actor.at,
            )
            .await?
            .ok_or(Error::NotFound)?;
        audit::record(
            &mut tx,
            &audit::webhook_changed(
                &actor,
                ws,
                id,
                audit::actions::WEBHOOK_SECRET_ROTATED,
                None,
                None,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok((endpoint, secret.text))
    }

    /// Queues a `webhook.test` event for this endpoint only (whether or not it subscribes to
    /// anything), delivered like any other.
    pub async fn send_test_webhook(
        &self,
        access: &Access,
        id: Uuid,
        test: &TestEvent,
        meta: &RequestMeta,
    ) -> Result<(Endpoint, Delivery)> {
        access.require(Permission::WebhooksManage)?;
        if let Some(t) = &test.event_type {
            known_event_type("event_type", t)?;
        }
        let mut data =
            json!({"object": "webhook", "id": id, "message": "a test event sent on request"});
        if let Some(t) = &test.event_type {
            data["event_type"] = json!(t);
        }
        if let Some(p) = &test.payload {
            if !p.is_object() {
                return Err(Error::invalid(
                    "payload",
                    "invalid",
                    "a test payload is a JSON object",
                ));
            }
            data["payload"] = p.clone();
        }
        let ws = access.workspace.id;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.webhook_write(access, actor.at).await?;
        let endpoint = tx.webhook_endpoint(ws, id).await?.ok_or(Error::NotFound)?;
        // The test is an audit event of its own, which gives it its id and its place in the
        // workspace's sequence; it is queued for this endpoint alone.
        let tested =
            audit::webhook_changed(&actor, ws, id, audit::actions::WEBHOOK_TESTED, None, None);
        let (event_id, seq) = audit::record(&mut tx, &tested).await?;
        let body = json!({
            "id": event_id,
            "type": TEST_EVENT,
            "timestamp": actor.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "workspace_id": ws,
            "sequence": seq,
            "actor": {"user_id": actor.user_id},
            "data": data,
        })
        .to_string();
        tx.queue_webhook_event(event_id, ws, seq, TEST_EVENT, "", &body, actor.at, Some(id))
            .await?;
        let delivery = tx
            .webhook_delivery(id, event_id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the test delivery was not queued")))?;
        tx.commit().await?;
        Ok((endpoint, delivery))
    }

    /// An endpoint's deliveries, newest first, optionally of one status and one event type.
    pub async fn webhook_deliveries(
        &self,
        access: &Access,
        id: Uuid,
        only: DeliveriesOf,
        page: &PageRequest,
    ) -> Result<Vec<Delivery>> {
        let filter = self.delivery_filter(access, id, only).await?;
        Ok(self.store.read().webhook_deliveries(&filter, page).await?)
    }

    /// A window of an endpoint's deliveries by offset, newest first, and how many match.
    pub async fn webhook_deliveries_at(
        &self,
        access: &Access,
        id: Uuid,
        only: DeliveriesOf,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<Delivery>, i64)> {
        let filter = self.delivery_filter(access, id, only).await?;
        Ok(self
            .store
            .read()
            .webhook_deliveries_at(&filter, limit, offset)
            .await?)
    }

    async fn delivery_filter(
        &self,
        access: &Access,
        id: Uuid,
        only: DeliveriesOf,
    ) -> Result<DeliveryFilter> {
        if let Some(t) = &only.event_type {
            known_event_type("event_type", t)?;
        }
        let endpoint = self.webhook(access, id).await?;
        Ok(DeliveryFilter {
            endpoint_id: endpoint.id,
            status: only.status,
            event_type: only.event_type,
        })
    }

    /// The first attempt at a delivery (the test event's), waiting up to `within` for a
    /// worker to make it; the delivery as it then stands.
    pub async fn first_attempt(
        &self,
        access: &Access,
        id: Uuid,
        event_id: Uuid,
        within: std::time::Duration,
    ) -> Result<Delivery> {
        let endpoint = self.webhook(access, id).await?;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let d = self
                .store
                .read()
                .webhook_delivery(endpoint.id, event_id)
                .await?
                .ok_or(Error::NotFound)?;
            let attempted = d.status != DeliveryStatus::Pending || d.last_attempt_at.is_some();
            if attempted || tokio::time::Instant::now() >= deadline {
                return Ok(d);
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// What each endpoint's deliveries created since `since` came to (endpoints without any
    /// are absent).
    pub async fn webhook_delivery_counts(
        &self,
        access: &Access,
        since: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<Uuid, DeliveryCounts>> {
        access.require(Permission::WebhooksManage)?;
        Ok(self
            .store
            .read()
            .webhook_delivery_counts(access.workspace.id, since)
            .await?
            .into_iter()
            .collect())
    }

    /// The workspace's deliveries created in `[from, to)` by the hour: `(hour, total,
    /// delivered, failed)`.
    pub async fn webhook_hourly_outcomes(
        &self,
        access: &Access,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, i64, i64, i64)>> {
        access.require(Permission::WebhooksManage)?;
        Ok(self
            .store
            .read()
            .webhook_hourly_outcomes(access.workspace.id, from, to)
            .await?)
    }

    /// A window of the workspace's dead letters, newest first, and how many match.
    pub async fn webhook_dead_letters(
        &self,
        access: &Access,
        requeued: Option<bool>,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<DeadLetter>, i64)> {
        access.require(Permission::WebhooksManage)?;
        Ok(self
            .store
            .read()
            .webhook_dead_letters(access.workspace.id, requeued, limit, offset)
            .await?)
    }

    /// The workspace's dead letters counted: all, requeued, and the endpoints with the most.
    pub async fn webhook_dead_letter_stats(
        &self,
        access: &Access,
    ) -> Result<(i64, i64, Vec<(Uuid, String, i64)>)> {
        access.require(Permission::WebhooksManage)?;
        Ok(self
            .store
            .read()
            .webhook_dead_letter_stats(access.workspace.id, 5)
            .await?)
    }

    /// Sends a dead letter's delivery again with its retries afresh, closing the entry; an
    /// entry already requeued is refused (`already_requeued`).
    pub async fn retry_dead_letter(&self, access: &Access, id: Uuid) -> Result<DeadLetter> {
        access.require(Permission::WebhooksManage)?;
        let ws = access.workspace.id;
        let now = self.clock.now();
        let mut tx = self.webhook_write(access, now).await?;
        let entry = tx
            .webhook_dead_letter(ws, id)
            .await?
            .ok_or(Error::NotFound)?;
        if entry.requeued_at.is_some() {
            return Err(Error::conflict(
                "already_requeued",
                "this dead letter was already sent again; its delivery shows how that went",
            ));
        }
        tx.requeue_webhook_delivery(entry.endpoint_id, entry.event_id, now)
            .await?;
        tx.commit().await?;
        Ok(DeadLetter {
            requeued_at: Some(now),
            ..entry
        })
    }

    /// One delivery of an endpoint.
    pub async fn webhook_delivery(
        &self,
        access: &Access,
        id: Uuid,
        event_id: Uuid,
    ) -> Result<Delivery> {
        let endpoint = self.webhook(access, id).await?;
        self.store
            .read()
            .webhook_delivery(endpoint.id, event_id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Sends a delivery again, whatever its status: it becomes pending and due now, with the
    /// same `webhook-id` (receivers drop what they already have).
    pub async fn redeliver_webhook(
        &self,
        access: &Access,
        id: Uuid,
        event_id: Uuid,
    ) -> Result<Delivery> {
        access.require(Permission::WebhooksManage)?;
        let ws = access.workspace.id;
        let now = self.clock.now();
        let mut tx = self.webhook_write(access, now).await?;
        tx.webhook_endpoint(ws, id).await?.ok_or(Error::NotFound)?;
        if !tx.requeue_webhook_delivery(id, event_id, now).await? {
            return Err(Error::NotFound);
        }
        let d = tx
            .webhook_delivery(id, event_id)
            .await?
            .ok_or(Error::NotFound)?;
        tx.commit().await?;
        Ok(d)
    }

    /// Puts every dead letter of an endpoint back in the queue; how many.
    pub async fn retry_failed_webhooks(&self, access: &Access, id: Uuid) -> Result<u64> {
        access.require(Permission::WebhooksManage)?;
        let ws = access.workspace.id;
        let now = self.clock.now();
        let mut tx = self.webhook_write(access, now).await?;
        tx.webhook_endpoint(ws, id).await?.ok_or(Error::NotFound)?;
        let n = tx.requeue_failed_webhooks(id, now).await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// The deliveries due and waiting for a worker, across every workspace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backlog {
    pub due: i64,
    /// How long the oldest due delivery has waited since it was queued (0 when none).
    pub oldest_due_seconds: f64,
    /// Whether a worker keeps up: nothing due has waited [`MAX_HEALTHY_WAIT_SECS`] or more.
    pub healthy: bool,
}

/// A due delivery waiting this long means no worker keeps up.
pub const MAX_HEALTHY_WAIT_SECS: f64 = 300.0;

impl Core {
    /// The deliveries due and waiting for a worker (for the metrics and the health check).
    pub async fn webhook_backlog(&self) -> Result<Backlog> {
        let now = self.clock.now();
        let (due, oldest) = self.store.read().webhook_queue_stats(now).await?;
        let oldest_due_seconds =
            oldest.map_or(0.0, |t| (now - t).num_milliseconds() as f64 / 1000.0);
        Ok(Backlog {
            due,
            oldest_due_seconds,
            healthy: oldest_due_seconds < MAX_HEALTHY_WAIT_SECS,
        })
    }

    /// Disables an endpoint whose deliveries kept failing, records it, and tells the
    /// workspace's owners by email, in one transaction (once: a disabled endpoint is left).
    pub async fn disable_failing_webhook(
        &self,
        workspace_id: Uuid,
        endpoint_id: Uuid,
        url: &str,
        failures: i64,
    ) -> Result<bool> {
        let actor = self.actor(
            None,
            &RequestMeta {
                ip: None,
                user_agent: Some("roster-webhooks".into()),
            },
        );
        let mut tx = self.store.write_workspace(workspace_id).await?;
        if !tx.disable_failing_webhook(endpoint_id, actor.at).await? {
            return Ok(false);
        }
        for (workspace, email, name) in tx.workspace_owner_contacts(workspace_id).await? {
            let mail = crate::mail::webhook_disabled(&email, &name, &workspace, url, failures);
            tx.queue_mail(None, &mail, actor.at).await?;
        }
        audit::record(
            &mut tx,
            &audit::webhook_changed(
                &actor,
                workspace_id,
                endpoint_id,
                audit::actions::WEBHOOK_DISABLED,
                None,
                Some(json!({"reason": "failing", "consecutive_failures": failures})),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// The associated data an endpoint's sealed secret is bound to.
fn seal_label(endpoint_id: Uuid) -> String {
    format!("webhook:{endpoint_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_event_type_is_found_from_its_audit_actions() {
        assert_eq!(event_type_of("member.left"), Some("member.removed"));
        assert_eq!(
            event_type_of("workspace.sessions_revoked"),
            Some("sessions.revoked")
        );
        assert_eq!(event_type_of("user.signed_up"), None);
        assert_eq!(event_type_of(audit::actions::WEBHOOK_CREATED), None);
    }

    #[test]
    fn a_subscription_round_trips_through_its_stored_form() {
        let names = vec!["member.added".to_owned(), "invitation.created".to_owned()];
        let s = Subscription::parse(Some(&names)).expect("valid");
        assert_eq!(s.stored(), " invitation.created member.added ");
        assert_eq!(Subscription::from_stored(&s.stored()), s);
        assert_eq!(Subscription::parse(None).expect("all"), Subscription::All);
        assert!(Subscription::parse(Some(&["nope".to_owned()])).is_err());
        assert!(Subscription::parse(Some(&[])).is_err());
        assert_eq!(
            subscription_pattern("member.role_changed"),
            "% member.role\\_changed %"
        );
    }

    #[test]
    fn an_endpoint_url_is_absolute_http_without_credentials() {
        assert!(check_url("https://example.com/hook").is_ok());
        assert!(check_url("ftp://example.com/").is_err());
        assert!(check_url("https://user:pw@example.com/").is_err());
        assert!(check_url("/relative").is_err());
        assert!(check_url("https://example.com/#frag").is_err());
        assert!(check_url(&format!("https://example.com/{}", "a".repeat(2000))).is_err());
    }

    #[test]
    fn a_secret_is_prefixed_base64_of_32_random_bytes() {
        let s = new_secret();
        let b64 = s.text.strip_prefix(SECRET_PREFIX).expect("prefix");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64");
        assert_eq!(decoded, s.bytes);
        assert_eq!(decoded.len(), SECRET_LEN);
        assert_ne!(new_secret().bytes, s.bytes);
    }
}
