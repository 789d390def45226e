//! `/webhooks`: the current workspace's webhook endpoints and their deliveries in SpatialFlow's
//! shapes (offset pages with a `pagination` object, `success` for delivered, dead letters as
//! the DLQ), over the same endpoints and deliveries as the native API. An endpoint created here
//! is a SpatialFlow one: its deliveries also carry `X-SF-Signature`. What Roster cannot honour
//! (other methods, auth configs, custom headers or payload templates) is refused with a 422.

use std::collections::{BTreeMap, HashMap};

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::{
    error::{ErrorResponse, SfError, SfResult, ValidationErrorResponse},
    extract::{SfAccess, SfJson, SfPrincipal, SfQuery},
    wire::path_id,
};
use crate::{
    app::AppState,
    domain::{
        policy,
        session::RequestMeta,
        webhook::{
            DeadLetter, DeliveriesOf, Delivery, DeliveryCounts, DeliverySettings, DeliveryStatus,
            Dialect, Endpoint, EndpointPatch, NewEndpointInput, TestEvent,
        },
        workspace::Access,
        Error,
    },
    http::native::nullable::nullable,
};

/// The method, auth type and content type Roster delivers with.
const METHOD: &str = "POST";
const AUTH_TYPE: &str = "none";
const CONTENT_TYPE: &str = "application/json";
/// The window `GET /webhooks/metrics/workspace` reports.
const METRICS_WINDOW_HOURS: i64 = 24;
/// The longest a test waits for its first attempt before answering.
const TEST_WAIT_CAP: std::time::Duration = std::time::Duration::from_secs(10);
/// The longest range a success timeline covers.
const MAX_TIMELINE_DAYS: i64 = 366;

/// `WebhookResponse`: an endpoint and what its deliveries came to (never its secret).
#[derive(Serialize, ToSchema)]
pub struct WebhookResponse {
    id: String,
    name: String,
    description: Option<String>,
    url: String,
    /// Roster event types; `["*"]` for all.
    events: Vec<String>,
    /// Always `{}`: Roster sends no custom headers.
    headers: BTreeMap<String, String>,
    sensitive_headers_configured: Vec<String>,
    /// Always `none`.
    auth_type: &'static str,
    /// Always `POST`.
    method: &'static str,
    /// Always `application/json`.
    content_type: &'static str,
    /// Always `null`: every delivery carries the standard event body.
    custom_payload_template: Option<String>,
    is_active: bool,
    /// For an endpoint without a setting of its own, what Roster's schedule allows.
    max_retries: i64,
    timeout_seconds: i64,
    /// 0: no limit (an endpoint created through the native API without one).
    rate_limit_per_minute: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_triggered_at: Option<DateTime<Utc>>,
    total_deliveries: i64,
    successful_deliveries: i64,
    failed_deliveries: i64,
    /// Delivered as a percentage of all deliveries; `null` before the first.
    success_rate: Option<f64>,
    /// Always 0: Roster has no geofences.
    attached_geofence_count: i64,
}

/// What the dialect shows for the settings an endpoint leaves to Roster.
struct Defaults {
    max_retries: i64,
    timeout_seconds: i64,
}

fn defaults(state: &AppState) -> Defaults {
    Defaults {
        max_retries: crate::webhooks::scheduled_retries(),
        timeout_seconds: i64::try_from(state.config.webhook_timeout.as_secs()).unwrap_or(10),
    }
}

fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

fn response(e: Endpoint, counts: &DeliveryCounts, d: &Defaults) -> WebhookResponse {
    WebhookResponse {
        id: e.id.to_string(),
        events: e.subscription.names(),
        description: (!e.description.is_empty()).then_some(e.description),
        name: e.name,
        url: e.url,
        headers: BTreeMap::new(),
        sensitive_headers_configured: Vec::new(),
        auth_type: AUTH_TYPE,
        method: METHOD,
        content_type: CONTENT_TYPE,
        custom_payload_template: None,
        is_active: e.enabled,
        max_retries: e.settings.max_retries.unwrap_or(d.max_retries),
        timeout_seconds: e.settings.timeout_seconds.unwrap_or(d.timeout_seconds),
        rate_limit_per_minute: e.settings.rate_limit_per_minute.unwrap_or(0),
        created_at: e.created_at,
        updated_at: e.updated_at,
        last_triggered_at: counts.last_attempt_at,
        total_deliveries: counts.total,
        successful_deliveries: counts.delivered,
        failed_deliveries: counts.failed,
        success_rate: percent(counts.delivered, counts.total),
        attached_geofence_count: 0,
    }
}

/// Every endpoint's delivery counts, all time.
async fn all_counts(
    state: &AppState,
    access: &Access,
) -> SfResult<HashMap<uuid::Uuid, DeliveryCounts>> {
    Ok(state
        .core
        .webhook_delivery_counts(access, DateTime::UNIX_EPOCH)
        .await?)
}

async fn one_response(state: &AppState, access: &Access, e: Endpoint) -> SfResult<WebhookResponse> {
    let counts = all_counts(state, access).await?;
    let c = counts.get(&e.id).copied().unwrap_or_default();
    Ok(response(e, &c, &defaults(state)))
}

/// `WebhookSecretResponse`: the endpoint with its signing secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookSecretResponse {
    #[serde(flatten)]
    webhook: WebhookResponse,
    /// `whsec_…`: the key of `X-SF-Signature` (its UTF-8 text) and of the Standard Webhooks
    /// `webhook-signature` (the base64 after the prefix).
    secret: String,
}

/// An offset page's place: the SDK's paginator reads `total`.
#[derive(Serialize, ToSchema)]
pub struct Pagination {
    total: i64,
    limit: u32,
    offset: u64,
    has_more: bool,
}

impl Pagination {
    fn new(total: i64, limit: u32, offset: u64) -> Pagination {
        Pagination {
            total,
            limit,
            offset,
            has_more: offset.saturating_add(u64::from(limit)) < total.unsigned_abs(),
        }
    }
}

/// `WebhookListResponse`.
#[derive(Serialize, ToSchema)]
pub struct WebhookListResponse {
    webhooks: Vec<WebhookResponse>,
    pagination: Pagination,
}

/// A page by `limit` (1 to `max`, `default` when absent) and `offset`; 422 under `query`.
fn window(limit: Option<u32>, offset: Option<i64>, default: u32, max: u32) -> SfResult<(u32, u64)> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(SfError::invalid(
            "less_than_equal",
            &["query", "limit"],
            format!("limit is from 1 to {max}"),
        ));
    }
    let offset = u64::try_from(offset.unwrap_or(0)).map_err(|_| {
        SfError::invalid(
            "greater_than_equal",
            &["query", "offset"],
            "offset is 0 or more",
        )
    })?;
    Ok((limit, offset))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListWebhooks {
    /// 1 to 200; 100 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(minimum = 0)]
    offset: Option<i64>,
    /// Only the active (or only the inactive) endpoints.
    is_active: Option<bool>,
}

/// The workspace's endpoints, oldest first.
#[utoipa::path(get, path = "/api/v1/webhooks/", tag = "webhooks",
    security(("JWTBearer" = [])), params(ListWebhooks),
    responses((status = 200, body = WebhookListResponse), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ValidationErrorResponse)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
    SfQuery(q): SfQuery<ListWebhooks>,
) -> SfResult<axum::Json<WebhookListResponse>> {
    let (limit, offset) = window(q.limit, q.offset, 100, 200)?;
    let endpoints: Vec<Endpoint> = state
        .core
        .webhooks(&access)
        .await?
        .into_iter()
        .filter(|e| q.is_active.is_none_or(|a| e.enabled == a))
        .collect();
    let total = i64::try_from(endpoints.len()).unwrap_or(i64::MAX);
    let counts = all_counts(&state, &access).await?;
    let d = defaults(&state);
    let webhooks = endpoints
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(limit as usize)
        .map(|e| {
            let c = counts.get(&e.id).copied().unwrap_or_default();
            response(e, &c, &d)
        })
        .collect();
    Ok(axum::Json(WebhookListResponse {
        webhooks,
        pagination: Pagination::new(total, limit, offset),
    }))
}

/// `CreateWebhookRequest`.
#[derive(Deserialize, ToSchema)]
pub struct CreateWebhookRequest {
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    #[schema(max_length = 500)]
    description: Option<String>,
    /// An absolute http(s) URL at a public address.
    #[schema(min_length = 1, max_length = 2048)]
    url: String,
    /// Roster event types; all of them when absent.
    events: Option<Vec<String>>,
    #[serde(flatten)]
    unsupported: Unsupported,
    is_active: Option<bool>,
    /// 0 to 10: retries after the first attempt, then the delivery is a dead letter.
    #[schema(minimum = 0, maximum = 10)]
    max_retries: Option<i64>,
    #[schema(minimum = 1, maximum = 300)]
    timeout_seconds: Option<i64>,
    /// 1 to 1,000 attempts started per 60-second window.
    #[schema(minimum = 1, maximum = 1000)]
    rate_limit_per_minute: Option<i64>,
}

/// `UpdateWebhookRequest`: absent fields stay; `null` is refused where a value is needed.
#[derive(Deserialize, ToSchema)]
pub struct UpdateWebhookRequest {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 500)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 2048)]
    url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    events: Option<Option<Vec<String>>>,
    #[serde(flatten)]
    unsupported: Unsupported,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<bool>)]
    is_active: Option<Option<bool>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10)]
    max_retries: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 300)]
    timeout_seconds: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    rate_limit_per_minute: Option<Option<i64>>,
}

/// The fields Roster cannot honour, refused unless they ask for what Roster does anyway.
#[derive(Deserialize, ToSchema, Default)]
pub struct Unsupported {
    /// Only `{}` (or none): Roster sends no custom headers.
    headers: Option<BTreeMap<String, String>>,
    /// Only `none`: every delivery is signed instead.
    auth_type: Option<String>,
    /// Only `{}` (or none).
    #[schema(value_type = Option<Object>)]
    auth_config: Option<Value>,
    /// Only `POST`.
    method: Option<String>,
    /// Only `application/json`.
    content_type: Option<String>,
    /// Only `null`.
    custom_payload_template: Option<String>,
}

impl Unsupported {
    fn check(&self) -> SfResult<()> {
        let refuse = |field: &str, msg: &str| -> SfResult<()> {
            Err(SfError::invalid("value_error", &["body", field], msg))
        };
        if self.headers.as_ref().is_some_and(|h| !h.is_empty()) {
            return refuse(
                "headers",
                "Roster sends no custom headers; leave headers empty",
            );
        }
        if self.auth_type.as_deref().is_some_and(|t| t != AUTH_TYPE) {
            return refuse(
                "auth_type",
                "Roster signs every delivery instead (X-SF-Signature); auth_type is none",
            );
        }
        if self
            .auth_config
            .as_ref()
            .is_some_and(|c| !(c.is_null() || c.as_object().is_some_and(|o| o.is_empty())))
        {
            return refuse("auth_config", "Roster takes no auth config; leave it empty");
        }
        if self.method.as_deref().is_some_and(|m| m != METHOD) {
            return refuse("method", "Roster delivers with POST only");
        }
        if self
            .content_type
            .as_deref()
            .is_some_and(|c| c != CONTENT_TYPE)
        {
            return refuse("content_type", "Roster delivers application/json only");
        }
        if self.custom_payload_template.is_some() {
            return refuse(
                "custom_payload_template",
                "Roster sends the standard event body; payload templates are not supported",
            );
        }
        Ok(())
    }
}

/// SpatialFlow's `name` is required text (Roster's may be empty).
fn check_name(name: Option<&str>) -> SfResult<()> {
    if name.is_some_and(|n| n.trim().is_empty()) {
        return Err(SfError::invalid(
            "string_too_short",
            &["body", "name"],
            "String should have at least 1 character",
        ));
    }
    Ok(())
}

/// A domain error with its fields named as this dialect names them.
fn sf_fields(e: Error) -> SfError {
    match e {
        Error::Validation(mut fields) => {
            for f in &mut fields {
                let renamed = match f.field.as_str() {
                    "event_types" => "events",
                    "enabled" => "is_active",
                    "payload" => "test_payload",
                    _ => continue,
                };
                f.field = renamed.into();
            }
            SfError::Domain(Error::Validation(fields))
        }
        other => SfError::Domain(other),
    }
}

/// Create an endpoint; the answer holds its signing secret, once.
#[utoipa::path(post, path = "/api/v1/webhooks/", tag = "webhooks",
    security(("JWTBearer" = [])), request_body = CreateWebhookRequest,
    responses((status = 201, body = WebhookSecretResponse), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    SfJson(body): SfJson<CreateWebhookRequest>,
) -> SfResult<impl IntoResponse> {
    body.unsupported.check()?;
    let settings = DeliverySettings {
        max_retries: body.max_retries,
        timeout_seconds: body.timeout_seconds,
        rate_limit_per_minute: body.rate_limit_per_minute,
    };
    check_name(Some(&body.name))?;
    let input = NewEndpointInput {
        name: Some(body.name),
        url: body.url,
        description: body.description,
        event_types: body.events,
        enabled: body.is_active,
        dialect: Dialect::SpatialFlow,
        settings,
    };
    let (endpoint, secret) = state
        .core
        .create_webhook(&access, input, &policy::SPATIALFLOW, &meta)
        .await
        .map_err(sf_fields)?;
    let webhook = response(endpoint, &DeliveryCounts::default(), &defaults(&state));
    Ok((
        StatusCode::CREATED,
        axum::Json(WebhookSecretResponse { webhook, secret }),
    ))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/webhooks/{webhook_id}", tag = "webhooks",
    security(("JWTBearer" = [])), params(("webhook_id" = String, Path)),
    responses((status = 200, body = WebhookResponse), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
    Path(webhook_id): Path<String>,
) -> SfResult<axum::Json<WebhookResponse>> {
    let endpoint = state.core.webhook(&access, path_id(&webhook_id)?).await?;
    Ok(axum::Json(one_response(&state, &access, endpoint).await?))
}

/// A value a field needs, or 422 for an explicit `null`.
fn not_null<T>(v: Option<Option<T>>, field: &str) -> SfResult<Option<T>> {
    match v {
        Some(None) => Err(SfError::invalid(
            "none_forbidden",
            &["body", field],
            "Input should not be null",
        )),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    }
}

/// Change an endpoint (a PUT that changes only what it names). Enabling it again replays what
/// is pending.
#[utoipa::path(put, path = "/api/v1/webhooks/{webhook_id}", tag = "webhooks",
    security(("JWTBearer" = [])), params(("webhook_id" = String, Path)),
    request_body = UpdateWebhookRequest,
    responses((status = 200, body = WebhookResponse), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn update_webhook(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    Path(webhook_id): Path<String>,
    SfJson(body): SfJson<UpdateWebhookRequest>,
) -> SfResult<axum::Json<WebhookResponse>> {
    let id = path_id(&webhook_id)?;
    body.unsupported.check()?;
    let patch = EndpointPatch {
        name: not_null(body.name, "name")?,
        url: not_null(body.url, "url")?,
        // `null` clears the description; `null` events means every type.
        description: body.description.map(Option::unwrap_or_default),
        event_types: body
            .events
            .map(|e| e.unwrap_or_else(|| vec!["*".to_owned()])),
        enabled: not_null(body.is_active, "is_active")?,
        max_retries: not_null(body.max_retries, "max_retries")?.map(Some),
        timeout_seconds: not_null(body.timeout_seconds, "timeout_seconds")?.map(Some),
        rate_limit_per_minute: not_null(body.rate_limit_per_minute, "rate_limit_per_minute")?
            .map(Some),
    };
    check_name(patch.name.as_deref())?;
    let endpoint = state
        .core
        .update_webhook(&access, id, patch, &policy::SPATIALFLOW, &meta)
        .await
        .map_err(sf_fields)?;
    Ok(axum::Json(one_response(&state, &access, endpoint).await?))
}

/// Delete an endpoint and its deliveries.
#[utoipa::path(delete, path = "/api/v1/webhooks/{webhook_id}", tag = "webhooks",
    security(("JWTBearer" = [])), params(("webhook_id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    Path(webhook_id): Path<String>,
) -> SfResult<StatusCode> {
    state
        .core
        .delete_webhook(&access, path_id(&webhook_id)?, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret. `X-SF-Signature` uses it alone from now on; the Standard Webhooks
/// `webhook-signature` carries the previous one beside it for 24 hours.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/rotate-secret", tag = "webhooks",
    security(("JWTBearer" = [])), params(("webhook_id" = String, Path)),
    responses((status = 200, body = WebhookSecretResponse), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    Path(webhook_id): Path<String>,
) -> SfResult<axum::Json<WebhookSecretResponse>> {
    let (endpoint, secret) = state
        .core
        .rotate_webhook_secret(&access, path_id(&webhook_id)?, &meta)
        .await?;
    let webhook = one_response(&state, &access, endpoint).await?;
    Ok(axum::Json(WebhookSecretResponse { webhook, secret }))
}

/// `TestWebhookRequest`.
#[derive(Deserialize, ToSchema)]
pub struct TestWebhookRequest {
    /// An event type the receiver wants to try; sent as `data.event_type`.
    event_type: Option<String>,
    /// A JSON object sent as `data.payload` (`test_payload` wins when both are given).
    #[schema(value_type = Option<Object>)]
    custom_payload: Option<Value>,
    #[schema(value_type = Option<Object>)]
    test_payload: Option<Value>,
}

/// `WebhookTestResponse`.
#[derive(Serialize, ToSchema)]
pub struct WebhookTestResponse {
    /// The endpoint answered 2xx to the first attempt.
    success: bool,
    /// The test event's id (its `webhook-id`, `X-SF-Event-ID` and body `id`).
    test_id: String,
    #[schema(value_type = Object)]
    payload_sent: Value,
    message: String,
    response_status_code: Option<i64>,
    response_time_ms: Option<i64>,
    error: Option<String>,
}

/// Send a `webhook.test` event to this endpoint alone and answer with its first attempt
/// (waiting up to the endpoint's timeout, at most 10 s); a failed one is retried like any
/// delivery.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/test", tag = "webhooks",
    security(("JWTBearer" = [])), params(("webhook_id" = String, Path)),
    request_body = TestWebhookRequest,
    responses((status = 200, body = WebhookTestResponse), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn test_webhook(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfAccess(access): SfAccess,
    Path(webhook_id): Path<String>,
    SfJson(body): SfJson<TestWebhookRequest>,
) -> SfResult<axum::Json<WebhookTestResponse>> {
    let id = path_id(&webhook_id)?;
    let test = TestEvent {
        event_type: body.event_type,
        payload: body
            .test_payload
            .or(body.custom_payload)
            .filter(|p| !p.is_null()),
    };
    let (endpoint, queued) = state
        .core
        .send_test_webhook(&access, id, &test, &meta)
        .await
        .map_err(sf_fields)?;
    let timeout = endpoint
        .settings
        .timeout_seconds
        .map_or(state.config.webhook_timeout, |t| {
            std::time::Duration::from_secs(t.unsigned_abs())
        });
    let wait = timeout.min(TEST_WAIT_CAP) + std::time::Duration::from_secs(1);
    let d = state
        .core
        .first_attempt(&access, id, queued.event_id, wait)
        .await?;
    let success = d.status == DeliveryStatus::Delivered;
    let message = if success {
        "Delivered.".to_owned()
    } else if d.last_attempt_at.is_some() {
        "The endpoint did not accept the test event; it will be retried.".to_owned()
    } else {
        format!(
            "Queued, but not sent within {} s; it appears in the deliveries once sent.",
            wait.as_secs()
        )
    };
    Ok(axum::Json(WebhookTestResponse {
        success,
        test_id: d.event_id.to_string(),
        payload_sent: serde_json::from_str(&d.payload).unwrap_or(Value::Null),
        message,
        response_status_code: d.last_status,
        response_time_ms: d.last_latency_ms,
        error: d.last_error,
    }))
}

/// SpatialFlow's word for a delivery's status.
fn status_word(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Delivered => "success",
        DeliveryStatus::Failed => "failed",
    }
}

/// `WebhookDeliveryResponse`.
#[derive(Serialize, ToSchema)]
pub struct WebhookDeliveryResponse {
    /// The event's id: one delivery per event and endpoint.
    id: String,
    webhook_id: Option<String>,
    /// Always `null`: Roster has no geofences.
    geofence_id: Option<String>,
    event_type: String,
    event_id: String,
    /// The endpoint's URL now.
    url: String,
    method: &'static str,
    /// `pending`, `success` or `failed` (retries ran out: a dead letter).
    #[schema(example = "success")]
    status: &'static str,
    response_status_code: Option<i64>,
    response_status: Option<i64>,
    response_time_ms: Option<i64>,
    error_message: Option<String>,
    /// Attempts since it was queued (or last sent again).
    attempt_count: i64,
    retry_count: i64,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    next_retry_at: Option<DateTime<Utc>>,
}

fn delivery_response(d: &Delivery) -> WebhookDeliveryResponse {
    WebhookDeliveryResponse {
        id: d.event_id.to_string(),
        webhook_id: Some(d.endpoint_id.to_string()),
        geofence_id: None,
        event_type: d.event_type.clone(),
        event_id: d.event_id.to_string(),
        url: d.url.clone(),
        method: METHOD,
        status: status_word(d.status),
        response_status_code: d.last_status,
        response_status: d.last_status,
        response_time_ms: d.last_latency_ms,
        error_message: d.last_error.clone(),
        attempt_count: d.attempts,
        retry_count: (d.attempts - 1).max(0),
        created_at: d.created_at,
        delivered_at: d.delivered_at,
        next_retry_at: d.next_attempt_at,
    }
}

/// `WebhookDeliveryListResponse`.
#[derive(Serialize, ToSchema)]
pub struct WebhookDeliveryListResponse {
    deliveries: Vec<WebhookDeliveryResponse>,
    pagination: Pagination,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDeliveries {
    /// 1 to 100; 100 by default.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    #[param(minimum = 0)]
    offset: Option<i64>,
    /// `pending`, `success` or `failed`.
    #[param(pattern = "^(pending|success|failed)$")]
    status: Option<String>,
    /// A Roster event type.
    event_type: Option<String>,
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{webhook_id}/deliveries", tag = "webhooks",
    security(("JWTBearer" = [])), params(("webhook_id" = String, Path), ListDeliveries),
    responses((status = 200, body = WebhookDeliveryListResponse),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 422, body = ValidationErrorResponse)))]
pub async fn get_webhook_deliveries(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
    Path(webhook_id): Path<String>,
    SfQuery(q): SfQuery<ListDeliveries>,
) -> SfResult<axum::Json<WebhookDeliveryListResponse>> {
    let id = path_id(&webhook_id)?;
    let (limit, offset) = window(q.limit, q.offset, 100, 100)?;
    let status = match q.status.as_deref() {
        None => None,
        Some("pending") => Some(DeliveryStatus::Pending),
        Some("success") => Some(DeliveryStatus::Delivered),
        Some("failed") => Some(DeliveryStatus::Failed),
        Some(_) => {
            return Err(SfError::invalid(
                "enum",
                &["query", "status"],
                "Input should be 'pending', 'success' or 'failed'",
            ))
        }
    };
    let only = DeliveriesOf {
        status,
        event_type: q.event_type,
    };
    let (found, total) = state
        .core
        .webhook_deliveries_at(&access, id, only, limit, offset)
        .await
        .map_err(SfError::in_query)?;
    Ok(axum::Json(WebhookDeliveryListResponse {
        deliveries: found.iter().map(delivery_response).collect(),
        pagination: Pagination::new(total, limit, offset),
    }))
}

/// `WebhookDeliveryDetailResponse`.
#[derive(Serialize, ToSchema)]
pub struct WebhookDeliveryDetailResponse {
    #[serde(flatten)]
    delivery: WebhookDeliveryResponse,
    /// The body as sent.
    #[schema(value_type = Option<Object>)]
    payload: Option<Value>,
    /// The start of the last answer's body (at most 1 KiB): an object when it was a JSON
    /// object, else the text.
    #[schema(value_type = Option<Object>)]
    response_body: Option<Value>,
    /// Always `null`: Roster keeps no response headers.
    #[schema(value_type = Option<Object>)]
    response_headers: Option<Value>,
}

/// One delivery of an endpoint, with what was sent and what came back.
#[utoipa::path(get, path = "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}",
    tag = "webhooks", security(("JWTBearer" = [])),
    params(("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, body = WebhookDeliveryDetailResponse),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
pub async fn get_webhook_delivery_detail(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
    Path((webhook_id, delivery_id)): Path<(String, String)>,
) -> SfResult<axum::Json<WebhookDeliveryDetailResponse>> {
    let d = state
        .core
        .webhook_delivery(&access, path_id(&webhook_id)?, path_id(&delivery_id)?)
        .await?;
    let response_body =
        d.last_response
            .as_deref()
            .map(|text| match serde_json::from_str::<Value>(text) {
                Ok(v) if v.is_object() => v,
                _ => Value::String(text.to_owned()),
            });
    Ok(axum::Json(WebhookDeliveryDetailResponse {
        delivery: delivery_response(&d),
        payload: serde_json::from_str::<Value>(&d.payload)
            .ok()
            .filter(Value::is_object),
        response_body,
        response_headers: None,
    }))
}

/// Send a delivery again now, with the same event id and its retries afresh.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    tag = "webhooks", security(("JWTBearer" = [])),
    params(("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, description = "`success`, `delivery_id`, `status`, `message`",
            body = Object),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
pub async fn retry_webhook_delivery(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
    Path((webhook_id, delivery_id)): Path<(String, String)>,
) -> SfResult<axum::Json<Value>> {
    let d = state
        .core
        .redeliver_webhook(&access, path_id(&webhook_id)?, path_id(&delivery_id)?)
        .await?;
    Ok(axum::Json(json!({
        "success": true,
        "delivery_id": d.event_id.to_string(),
        "webhook_id": d.endpoint_id.to_string(),
        "status": status_word(d.status),
        "message": "Queued for delivery now.",
    })))
}

/// SpatialFlow's platform-wide metrics are for its staff; Roster has no staff accounts in this
/// dialect, so everyone gets 403 (a workspace's own figures are at `/webhooks/metrics/workspace`,
/// the service's at `/metrics`).
#[utoipa::path(get, path = "/api/v1/webhooks/metrics", tag = "webhooks",
    security(("JWTBearer" = [])),
    responses((status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse)))]
pub async fn get_webhook_metrics(_caller: SfPrincipal) -> SfError {
    SfError::Domain(Error::forbidden(
        "staff_only",
        "Platform-wide webhook metrics are for SpatialFlow staff, and Roster has none: read \
         /api/v1/webhooks/metrics/workspace for your workspace, or the service's /metrics.",
    ))
}

/// `WorkspaceWebhookMetricsResponse`.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceWebhookMetricsResponse {
    summary: MetricsSummary,
    performance: MetricsPerformance,
    webhooks: WebhookCounts,
    window_hours: i64,
    generated_at: DateTime<Utc>,
}

/// Deliveries created in the window.
#[derive(Serialize, ToSchema)]
pub struct MetricsSummary {
    total_attempts: i64,
    successful_deliveries: i64,
    failed_deliveries: i64,
    pending_deliveries: i64,
    /// Attempts after the first, all deliveries together.
    total_retries: i64,
    /// Delivered as a percentage of the window's deliveries.
    success_rate: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct MetricsPerformance {
    /// The mean latency of each delivery's last attempt.
    average_response_time_ms: Option<f64>,
    /// Of the deliveries that needed a retry, the percentage delivered.
    retry_success_rate: Option<f64>,
    /// Deliveries that needed a retry and are now delivered or dead letters.
    retried_terminal_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookCounts {
    total: i64,
    active: i64,
}

/// The workspace's delivery figures over the last 24 hours.
#[utoipa::path(get, path = "/api/v1/webhooks/metrics/workspace", tag = "webhooks",
    security(("JWTBearer" = [])),
    responses((status = 200, body = WorkspaceWebhookMetricsResponse),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse)))]
pub async fn get_workspace_webhook_metrics(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
) -> SfResult<axum::Json<WorkspaceWebhookMetricsResponse>> {
    let now = state.core.clock.now();
    let since = now - Duration::hours(METRICS_WINDOW_HOURS);
    let mut sum = DeliveryCounts::default();
    for c in state
        .core
        .webhook_delivery_counts(&access, since)
        .await?
        .values()
    {
        sum.add(c);
    }
    let endpoints = state.core.webhooks(&access).await?;
    let count = |f: fn(&Endpoint) -> bool| {
        i64::try_from(endpoints.iter().filter(|e| f(e)).count()).unwrap_or(i64::MAX)
    };
    Ok(axum::Json(WorkspaceWebhookMetricsResponse {
        summary: MetricsSummary {
            total_attempts: sum.attempts,
            successful_deliveries: sum.delivered,
            failed_deliveries: sum.failed,
            pending_deliveries: sum.pending,
            total_retries: sum.retries,
            success_rate: percent(sum.delivered, sum.total),
        },
        performance: MetricsPerformance {
            average_response_time_ms: (sum.latency_count > 0)
                .then(|| sum.latency_ms_sum as f64 / sum.latency_count as f64),
            retry_success_rate: percent(sum.retried_delivered, sum.retried),
            retried_terminal_count: sum.retried_delivered + sum.retried_failed,
        },
        webhooks: WebhookCounts {
            total: count(|_| true),
            active: count(|e| e.enabled),
        },
        window_hours: METRICS_WINDOW_HOURS,
        generated_at: now,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// `today` (by the hour, the default), `week` and `month` (the last 7 or 30 days, by the
    /// day), or `custom` (`start_date` to `end_date`, by the hour up to two days, else by day).
    #[param(pattern = "^(today|week|month|custom)$")]
    time_range: Option<String>,
    /// `YYYY-MM-DD` (UTC), with `custom`.
    start_date: Option<String>,
    /// `YYYY-MM-DD` (UTC, inclusive), with `custom`.
    end_date: Option<String>,
}

fn date_at(text: Option<&str>, field: &str) -> SfResult<NaiveDate> {
    let text = text.ok_or_else(|| {
        SfError::invalid(
            "missing",
            &["query", field],
            format!("{field} is required with time_range=custom"),
        )
    })?;
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        SfError::invalid(
            "date_parsing",
            &["query", field],
            "Input should be a date as YYYY-MM-DD",
        )
    })
}

/// The range `[from, to)` a timeline covers and whether it is by the hour.
fn timeline_range(
    q: &TimelineQuery,
    now: DateTime<Utc>,
) -> SfResult<(DateTime<Utc>, DateTime<Utc>, bool)> {
    let midnight = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    let end = now + Duration::microseconds(1);
    match q.time_range.as_deref().unwrap_or("today") {
        "today" => Ok((midnight, end, true)),
        "week" => Ok((midnight - Duration::days(6), end, false)),
        "month" => Ok((midnight - Duration::days(29), end, false)),
        "custom" => {
            let start = date_at(q.start_date.as_deref(), "start_date")?;
            let last = date_at(q.end_date.as_deref(), "end_date")?;
            let days = (last - start).num_days() + 1;
            if !(1..=MAX_TIMELINE_DAYS).contains(&days) {
                return Err(SfError::invalid(
                    "value_error",
                    &["query", "end_date"],
                    format!(
                        "end_date is on or after start_date, at most {MAX_TIMELINE_DAYS} days on"
                    ),
                ));
            }
            let from = start.and_time(chrono::NaiveTime::MIN).and_utc();
            Ok((from, from + Duration::days(days), days <= 2))
        }
        _ => Err(SfError::invalid(
            "enum",
            &["query", "time_range"],
            "Input should be 'today', 'week', 'month' or 'custom'",
        )),
    }
}

/// The workspace's delivery success over time: every hour (or day) of the range, oldest first,
/// with the deliveries created in it, in UTC.
#[utoipa::path(get, path = "/api/v1/webhooks/success-timeline", tag = "webhooks",
    security(("JWTBearer" = [])), params(TimelineQuery),
    responses((status = 200, description = "`time_range`, `bucket` (`hour` or `day`), \
            `start`, `end`, `timeline` [{`timestamp`, `total`, `successful`, `failed`, \
            `pending`, `success_rate`}], `current_rate`, `total_deliveries`, \
            `successful_deliveries`", body = Object),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn get_webhook_success_timeline(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
    SfQuery(q): SfQuery<TimelineQuery>,
) -> SfResult<axum::Json<Value>> {
    let now = state.core.clock.now();
    let (from, to, hourly) = timeline_range(&q, now)?;
    let hours = state
        .core
        .webhook_hourly_outcomes(&access, from, to)
        .await?;
    let step = if hourly {
        Duration::hours(1)
    } else {
        Duration::days(1)
    };
    // Every bucket of the range, empty ones included: (total, delivered, failed).
    let mut buckets: BTreeMap<DateTime<Utc>, (i64, i64, i64)> = BTreeMap::new();
    let mut t = from;
    while t < to {
        buckets.insert(t, (0, 0, 0));
        t += step;
    }
    for (hour, total, delivered, failed) in hours {
        let key = if hourly {
            hour
        } else {
            hour.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
        };
        let b = buckets.entry(key).or_default();
        b.0 += total;
        b.1 += delivered;
        b.2 += failed;
    }
    let (mut all, mut ok) = (0, 0);
    let timeline: Vec<Value> = buckets
        .into_iter()
        .map(|(at, (total, delivered, failed))| {
            all += total;
            ok += delivered;
            json!({
                "timestamp": at, "total": total, "successful": delivered, "failed": failed,
                "pending": total - delivered - failed,
                "success_rate": percent(delivered, total),
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "time_range": q.time_range.as_deref().unwrap_or("today"),
        "bucket": if hourly { "hour" } else { "day" },
        "start": from,
        "end": to.min(now),
        "timeline": timeline,
        "current_rate": percent(ok, all),
        "total_deliveries": all,
        "successful_deliveries": ok,
    })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDeadLetters {
    /// 1 to 100; 50 by default.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    #[param(minimum = 0)]
    offset: Option<i64>,
    /// Only the entries sent again (`true`) or only the others (`false`).
    requeued: Option<bool>,
}

fn dead_letter(l: &DeadLetter) -> Value {
    json!({
        "id": l.id.to_string(),
        "webhook_id": l.endpoint_id.to_string(),
        "webhook_name": l.endpoint_name,
        "delivery_id": l.event_id.to_string(),
        "event_id": l.event_id.to_string(),
        "event_type": l.event_type,
        "error_message": l.last_error,
        "response_status_code": l.last_status,
        "attempt_count": l.attempts,
        "failed_at": l.failed_at,
        "requeued": l.requeued_at.is_some(),
        "requeued_at": l.requeued_at,
    })
}

/// The workspace's dead letters (deliveries whose retries ran out), newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/dlq", tag = "webhooks",
    security(("JWTBearer" = [])), params(ListDeadLetters),
    responses((status = 200, description = "`entries` [{`id`, `webhook_id`, `webhook_name`, \
            `delivery_id`, `event_id`, `event_type`, `error_message`, `response_status_code`, \
            `attempt_count`, `failed_at`, `requeued`, `requeued_at`}] and `pagination`",
            body = Object),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn list_dlq_entries(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
    SfQuery(q): SfQuery<ListDeadLetters>,
) -> SfResult<axum::Json<Value>> {
    let (limit, offset) = window(q.limit, q.offset, 50, 100)?;
    let (entries, total) = state
        .core
        .webhook_dead_letters(&access, q.requeued, limit, offset)
        .await?;
    Ok(axum::Json(json!({
        "entries": entries.iter().map(dead_letter).collect::<Vec<_>>(),
        "pagination": Pagination::new(total, limit, offset),
    })))
}

/// The workspace's dead letters counted, with the endpoints that have the most.
#[utoipa::path(get, path = "/api/v1/webhooks/dlq/stats", tag = "webhooks",
    security(("JWTBearer" = [])),
    responses((status = 200, description = "`total_entries`, `not_requeued`, `requeued`, \
            `top_failed_webhooks` [{`webhook_id`, `webhook_name`, `count`}], `workspace_id`",
            body = Object),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse)))]
pub async fn get_dlq_stats(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
) -> SfResult<axum::Json<Value>> {
    let (total, requeued, worst) = state.core.webhook_dead_letter_stats(&access).await?;
    Ok(axum::Json(json!({
        "total_entries": total,
        "not_requeued": total - requeued,
        "requeued": requeued,
        "top_failed_webhooks": worst
            .into_iter()
            .map(|(id, name, count)| json!({
                "webhook_id": id.to_string(), "webhook_name": name, "count": count,
            }))
            .collect::<Vec<_>>(),
        "workspace_id": access.workspace.id.to_string(),
    })))
}

/// Send a dead letter's delivery again with its retries afresh; an entry already sent again
/// is a 400 (`ALREADY_REQUEUED`).
#[utoipa::path(post, path = "/api/v1/webhooks/dlq/{dlq_id}/retry", tag = "webhooks",
    security(("JWTBearer" = [])), params(("dlq_id" = String, Path)),
    responses((status = 200, description = "`success`, `dlq_id`, `delivery_id`, \
            `webhook_id`, `message`", body = Object),
        (status = 400, description = "`ALREADY_REQUEUED`", body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
pub async fn retry_from_dlq(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
    Path(dlq_id): Path<String>,
) -> SfResult<axum::Json<Value>> {
    let entry = state
        .core
        .retry_dead_letter(&access, path_id(&dlq_id)?)
        .await?;
    Ok(axum::Json(json!({
        "success": true,
        "dlq_id": entry.id.to_string(),
        "delivery_id": entry.event_id.to_string(),
        "webhook_id": entry.endpoint_id.to_string(),
        "message": "Queued for delivery now.",
    })))
}

/// Whether webhooks are being delivered: the database answers and no due delivery has waited
/// five minutes or more for a worker (503 otherwise). No credentials needed; nothing of any
/// workspace is shown.
#[utoipa::path(get, path = "/api/v1/webhooks/health", tag = "webhooks",
    responses((status = 200, description = "`status` `healthy`, `service`, \
            `oldest_due_seconds`", body = Object),
        (status = 503, description = "`status` `unhealthy` and why", body = Object)))]
pub async fn webhook_health_check(State(state): State<AppState>) -> impl IntoResponse {
    let unhealthy = |reason: &str, lag: Option<f64>| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({"status": "unhealthy", "service": "webhooks", "reason": reason,
                "oldest_due_seconds": lag}),
            ),
        )
    };
    match state.core.webhook_backlog().await {
        Ok(b) if b.healthy => (
            StatusCode::OK,
            axum::Json(json!({"status": "healthy", "service": "webhooks",
                "oldest_due_seconds": b.oldest_due_seconds})),
        ),
        Ok(b) => unhealthy(
            "due deliveries are waiting for a worker",
            Some(b.oldest_due_seconds),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "webhook health check failed");
            unhealthy("the database cannot be reached", None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_has_more_while_rows_lie_beyond_it() {
        assert!(Pagination::new(5, 2, 0).has_more);
        assert!(Pagination::new(5, 2, 2).has_more);
        assert!(!Pagination::new(5, 2, 4).has_more);
        assert!(!Pagination::new(0, 100, 0).has_more);
    }

    #[test]
    fn percentages_have_one_decimal_and_none_without_deliveries() {
        assert_eq!(percent(2, 3), Some(66.7));
        assert_eq!(percent(0, 0), None);
        assert_eq!(percent(5, 5), Some(100.0));
    }

    #[test]
    fn only_what_roster_does_anyway_passes_the_unsupported_fields() {
        let fine = || Unsupported {
            headers: Some(BTreeMap::new()),
            auth_type: Some("none".into()),
            auth_config: Some(Value::Null),
            method: Some("POST".into()),
            content_type: Some("application/json".into()),
            custom_payload_template: None,
        };
        assert!(fine().check().is_ok());
        assert!(Unsupported::default().check().is_ok());
        let put = Unsupported {
            method: Some("PUT".into()),
            ..fine()
        };
        assert!(put.check().is_err());
        let auth = Unsupported {
            auth_config: Some(json!({"token": "x"})),
            ..fine()
        };
        assert!(auth.check().is_err());
        let template = Unsupported {
            custom_payload_template: Some("{}".into()),
            ..fine()
        };
        assert!(template.check().is_err());
    }

    #[test]
    fn a_custom_timeline_needs_both_dates_in_order() {
        let now = Utc::now();
        let q = |r: &str, s: Option<&str>, e: Option<&str>| TimelineQuery {
            time_range: Some(r.into()),
            start_date: s.map(Into::into),
            end_date: e.map(Into::into),
        };
        assert!(timeline_range(&q("custom", None, Some("2026-01-02")), now).is_err());
        assert!(timeline_range(&q("custom", Some("2026-01-03"), Some("2026-01-02")), now).is_err());
        let (from, to, hourly) =
            timeline_range(&q("custom", Some("2026-01-01"), Some("2026-01-02")), now).expect("ok");
        assert_eq!((to - from).num_days(), 2);
        assert!(hourly);
        assert!(!timeline_range(&q("week", None, None), now).expect("ok").2);
        assert!(timeline_range(&q("year", None, None), now).is_err());
    }
}
