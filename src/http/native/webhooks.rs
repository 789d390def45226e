//! `/v1/workspaces/{ws}/webhooks`: a workspace's webhook endpoints (create, list, read, change,
//! delete, rotate the secret, send a test) and their deliveries (list, read, redeliver, retry
//! the dead letters); `/v1/webhook-event-types` lists what an endpoint may hear. A secret is in
//! the answer that issues it only.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{created, nullable::nullable};
use crate::{
    app::AppState,
    domain::{
        paging::{Cursor, PageRequest},
        policy,
        session::RequestMeta,
        webhook::{
            self, DeliveriesOf, Delivery, DeliverySettings, DeliveryStatus, Dialect, Endpoint,
            EndpointPatch, NewEndpointInput, TestEvent,
        },
        workspace::Access,
        Error,
    },
    http::{
        extract::{Json, Path, Query},
        problem::{ApiResult, Problem},
    },
};

/// A webhook endpoint, without its secret.
#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    id: Uuid,
    workspace_id: Uuid,
    /// A label (may be empty).
    name: String,
    #[schema(example = "https://example.com/roster-events")]
    url: String,
    description: String,
    /// The API it was created through: `native`, or `spatialflow`, whose deliveries also
    /// carry SpatialFlow's `X-SF-Signature`.
    #[schema(example = "native")]
    dialect: &'static str,
    /// Retries after the first attempt before a delivery becomes a dead letter; `null`:
    /// retried for about three days.
    max_retries: Option<i64>,
    /// The most one attempt may take; `null`: the server's setting (`ROSTER_WEBHOOK_TIMEOUT`).
    timeout_seconds: Option<i64>,
    /// The most attempts started in any 60-second window; `null`: no limit.
    rate_limit_per_minute: Option<i64>,
    /// The event types it receives; `["*"]` for all.
    event_types: Vec<String>,
    enabled: bool,
    /// Why it is disabled: `manual`, or `failing` when Roster stopped after a long run of
    /// failed deliveries (enable it again to replay what is pending).
    #[schema(value_type = Option<String>, example = "failing")]
    disabled_reason: Option<&'static str>,
    /// After a rotation: until when the previous secret still signs beside the new one.
    previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Failed attempts in a row.
    consecutive_failures: i64,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Endpoint> for WebhookView {
    fn from(e: Endpoint) -> Self {
        WebhookView {
            event_types: e.subscription.names(),
            disabled_reason: e.disabled.map(|d| d.as_str()),
            id: e.id,
            workspace_id: e.workspace_id,
            name: e.name,
            url: e.url,
            description: e.description,
            dialect: e.dialect.as_str(),
            max_retries: e.settings.max_retries,
            timeout_seconds: e.settings.timeout_seconds,
            rate_limit_per_minute: e.settings.rate_limit_per_minute,
            enabled: e.enabled,
            previous_secret_expires_at: e.previous_secret_until,
            consecutive_failures: e.failure_streak,
            created_by: e.created_by,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its signing secret: store it now, it is never shown again.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    webhook: WebhookView,
    /// `whsec_` and the base64 of 32 random bytes (Standard Webhooks).
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    data: Vec<WebhookView>,
    next_cursor: Option<String>,
    total: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    #[schema(max_length = 255)]
    name: Option<String>,
    /// An absolute http(s) URL at a public address (see `ROSTER_WEBHOOK_ALLOW`).
    #[schema(max_length = 2000)]
    url: String,
    #[schema(max_length = 500)]
    description: Option<String>,
    /// Event types (`GET /v1/webhook-event-types`); all of them if absent or `["*"]`.
    event_types: Option<Vec<String>>,
    /// `true` unless told otherwise.
    enabled: Option<bool>,
    /// 0 to 100; absent: retried for about three days.
    #[schema(minimum = 0, maximum = 100)]
    max_retries: Option<i64>,
    /// 1 to 300; absent: the server's setting.
    #[schema(minimum = 1, maximum = 300)]
    timeout_seconds: Option<i64>,
    /// 1 to 100,000; absent: no limit.
    #[schema(minimum = 1, maximum = 100000)]
    rate_limit_per_minute: Option<i64>,
}

/// A change to an endpoint: absent fields stay.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[schema(max_length = 255)]
    name: Option<String>,
    #[schema(max_length = 2000)]
    url: Option<String>,
    #[schema(max_length = 500)]
    description: Option<String>,
    event_types: Option<Vec<String>>,
    /// Enabling a disabled endpoint replays what is pending for it.
    enabled: Option<bool>,
    /// `null` returns a setting to its default.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 100)]
    max_retries: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 300)]
    timeout_seconds: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 100000)]
    rate_limit_per_minute: Option<Option<i64>>,
}

/// `/v1/workspaces/{ws}/webhooks/{id}`.
#[derive(Deserialize)]
pub struct WebhookPath {
    #[expect(dead_code, reason = "the Access extractor reads the workspace")]
    ws: String,
    id: Uuid,
}

/// `/v1/workspaces/{ws}/webhooks/{id}/deliveries/{event_id}`.
#[derive(Deserialize)]
pub struct DeliveryPath {
    #[expect(dead_code, reason = "the Access extractor reads the workspace")]
    ws: String,
    id: Uuid,
    event_id: Uuid,
}

/// One event sent (or to be sent) to one endpoint.
#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    /// The event's id: the `webhook-id` header of every attempt.
    event_id: Uuid,
    webhook_id: Uuid,
    event_type: String,
    /// The event's place in its workspace's sequence.
    sequence: i64,
    /// `pending`, `delivered`, or `failed` (retries ran out: a dead letter).
    #[schema(example = "delivered")]
    status: &'static str,
    attempts: i64,
    /// When it is tried next, while pending.
    next_attempt_at: Option<DateTime<Utc>>,
    last_attempt_at: Option<DateTime<Utc>>,
    /// The last answer's HTTP status.
    response_status: Option<i64>,
    /// The start of the last answer's body (at most 1 KiB).
    response_body: Option<String>,
    /// Why the last attempt failed.
    error: Option<String>,
    latency_ms: Option<i64>,
    delivered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    /// The event as sent.
    #[schema(value_type = Object)]
    payload: serde_json::Value,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
            event_id: d.event_id,
            webhook_id: d.endpoint_id,
            event_type: d.event_type,
            sequence: d.sequence,
            status: d.status.as_str(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_attempt_at: d.last_attempt_at,
            response_status: d.last_status,
            response_body: d.last_response,
            error: d.last_error,
            latency_ms: d.last_latency_ms,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    data: Vec<DeliveryView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDeliveries {
    /// `pending`, `delivered` or `failed`.
    #[param(pattern = "^(pending|delivered|failed)$")]
    status: Option<String>,
    /// Only events of this type (`GET /v1/webhook-event-types`).
    event_type: Option<String>,
    /// 1 to 200; 50 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Requeued {
    /// How many dead letters are pending again.
    requeued: u64,
}

#[derive(Serialize, ToSchema)]
pub struct EventTypes {
    data: Vec<&'static str>,
}

/// Every event type a webhook endpoint may subscribe to.
#[utoipa::path(get, path = "/v1/webhook-event-types", tag = "webhooks",
    responses((status = 200, body = EventTypes)))]
pub async fn event_types() -> axum::Json<EventTypes> {
    axum::Json(EventTypes {
        data: webhook::event_types().collect(),
    })
}

/// The workspace's webhook endpoints, oldest first (`webhooks:manage`).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/webhooks", tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = WebhookList), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access,
) -> ApiResult<axum::Json<WebhookList>> {
    let data: Vec<WebhookView> = state
        .core
        .webhooks(&access)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(WebhookList {
        total: data.len() as u64,
        data,
        next_cursor: None,
    }))
}

/// Create a webhook endpoint (`webhooks:manage`); the answer holds its signing secret, once.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/webhooks", tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])), request_body = CreateWebhook,
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 201, body = WebhookWithSecret, headers(("Location" = String))),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`too_many_webhooks`", body = Problem),
        (status = 422, description = "`url_not_allowed` among others", body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Json(body): Json<CreateWebhook>,
) -> ApiResult<impl IntoResponse> {
    let input = NewEndpointInput {
        name: body.name,
        url: body.url,
        description: body.description,
        event_types: body.event_types,
        enabled: body.enabled,
        dialect: Dialect::Native,
        settings: DeliverySettings {
            max_retries: body.max_retries,
            timeout_seconds: body.timeout_seconds,
            rate_limit_per_minute: body.rate_limit_per_minute,
        },
    };
    let (endpoint, secret) = state
        .core
        .create_webhook(&access, input, &policy::NATIVE, &meta)
        .await?;
    Ok(created(
        format!(
            "/v1/workspaces/{}/webhooks/{}",
            endpoint.workspace_id, endpoint.id
        ),
        WebhookWithSecret {
            webhook: endpoint.into(),
            secret,
        },
    ))
}

/// One webhook endpoint (`webhooks:manage`).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/webhooks/{id}", tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "Webhook endpoint id")),
    responses((status = 200, body = WebhookView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    access: Access,
    Path(WebhookPath { id, .. }): Path<WebhookPath>,
) -> ApiResult<axum::Json<WebhookView>> {
    Ok(axum::Json(state.core.webhook(&access, id).await?.into()))
}

/// Change a webhook endpoint (`webhooks:manage`).
#[utoipa::path(patch, path = "/v1/workspaces/{ws}/webhooks/{id}", tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])), request_body = UpdateWebhook,
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "Webhook endpoint id")),
    responses((status = 200, body = WebhookView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(WebhookPath { id, .. }): Path<WebhookPath>,
    Json(body): Json<UpdateWebhook>,
) -> ApiResult<axum::Json<WebhookView>> {
    let patch = EndpointPatch {
        name: body.name,
        url: body.url,
        description: body.description,
        event_types: body.event_types,
        enabled: body.enabled,
        max_retries: body.max_retries,
        timeout_seconds: body.timeout_seconds,
        rate_limit_per_minute: body.rate_limit_per_minute,
    };
    Ok(axum::Json(
        state
            .core
            .update_webhook(&access, id, patch, &policy::NATIVE, &meta)
            .await?
            .into(),
    ))
}

/// Delete a webhook endpoint and its deliveries (`webhooks:manage`).
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/webhooks/{id}", tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "Webhook endpoint id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(WebhookPath { id, .. }): Path<WebhookPath>,
) -> ApiResult<StatusCode> {
    state.core.delete_webhook(&access, id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a webhook endpoint a new signing secret; the previous one keeps signing beside it
/// for 24 hours (`webhooks:manage`).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/webhooks/{id}/rotate-secret", tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "Webhook endpoint id")),
    responses((status = 200, body = WebhookWithSecret), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(WebhookPath { id, .. }): Path<WebhookPath>,
) -> ApiResult<axum::Json<WebhookWithSecret>> {
    let (endpoint, secret) = state.core.rotate_webhook_secret(&access, id, &meta).await?;
    Ok(axum::Json(WebhookWithSecret {
        webhook: endpoint.into(),
        secret,
    }))
}

/// Queue a `webhook.test` event for this endpoint alone (`webhooks:manage`); it is delivered
/// like any other, and its delivery is the answer.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/webhooks/{id}/test", tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "Webhook endpoint id")),
    responses((status = 202, body = DeliveryView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn test(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Access,
    Path(WebhookPath { id, .. }): Path<WebhookPath>,
) -> ApiResult<impl IntoResponse> {
    let (_, delivery) = state
        .core
        .send_test_webhook(&access, id, &TestEvent::default(), &meta)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(DeliveryView::from(delivery)),
    ))
}

/// An endpoint's deliveries, newest first (`webhooks:manage`).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/webhooks/{id}/deliveries", tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "Webhook endpoint id"), ListDeliveries),
    responses((status = 200, body = DeliveryList), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn deliveries(
    State(state): State<AppState>,
    access: Access,
    Path(WebhookPath { id, .. }): Path<WebhookPath>,
    Query(q): Query<ListDeliveries>,
) -> ApiResult<axum::Json<DeliveryList>> {
    let status = q
        .status
        .as_deref()
        .map(|s| {
            DeliveryStatus::parse(s).ok_or_else(|| {
                Error::invalid(
                    "status",
                    "invalid",
                    "status is pending, delivered or failed",
                )
            })
        })
        .transpose()?;
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let mut found = state
        .core
        .webhook_deliveries(
            &access,
            id,
            DeliveriesOf {
                status,
                event_type: q.event_type,
            },
            &page,
        )
        .await?;
    let next_cursor = (found.len() > page.limit as usize).then(|| {
        found.truncate(page.limit as usize);
        found.last().map(|d| {
            Cursor {
                at: d.created_at,
                id: d.event_id,
            }
            .encode()
        })
    });
    Ok(axum::Json(DeliveryList {
        data: found.into_iter().map(Into::into).collect(),
        next_cursor: next_cursor.flatten(),
    }))
}

/// One delivery of an endpoint (`webhooks:manage`).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/webhooks/{id}/deliveries/{event_id}",
    tag = "webhooks", security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "Webhook endpoint id"),
        ("event_id" = Uuid, Path, description = "Event id")),
    responses((status = 200, body = DeliveryView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delivery(
    State(state): State<AppState>,
    access: Access,
    Path(DeliveryPath { id, event_id, .. }): Path<DeliveryPath>,
) -> ApiResult<axum::Json<DeliveryView>> {
    Ok(axum::Json(
        state
            .core
            .webhook_delivery(&access, id, event_id)
            .await?
            .into(),
    ))
}

/// Send a delivery again, now, with the same `webhook-id` (`webhooks:manage`).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/webhooks/{id}/deliveries/{event_id}/redeliver",
    tag = "webhooks", security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "Webhook endpoint id"),
        ("event_id" = Uuid, Path, description = "Event id")),
    responses((status = 202, body = DeliveryView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn redeliver(
    State(state): State<AppState>,
    access: Access,
    Path(DeliveryPath { id, event_id, .. }): Path<DeliveryPath>,
) -> ApiResult<impl IntoResponse> {
    let d = state.core.redeliver_webhook(&access, id, event_id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(DeliveryView::from(d))))
}

/// Put every dead letter of an endpoint back in the queue (`webhooks:manage`).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/webhooks/{id}/retry-failed", tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("id" = Uuid, Path, description = "Webhook endpoint id")),
    responses((status = 202, body = Requeued), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn retry_failed(
    State(state): State<AppState>,
    access: Access,
    Path(WebhookPath { id, .. }): Path<WebhookPath>,
) -> ApiResult<impl IntoResponse> {
    let requeued = state.core.retry_failed_webhooks(&access, id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(Requeued { requeued })))
}
