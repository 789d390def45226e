//! `/account/api-keys`: the caller's Roster API keys (list, create 201, read, update, delete 204,
//! regenerate, rotate 201, expiration, expiring).

use std::collections::BTreeMap;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    error::{ErrorResponse, SfError, SfResult, ValidationErrorResponse},
    extract::{SfJson, SfPrincipal, SfQuery},
    wire::{datetime_at, path_id},
};
use crate::{
    app::AppState,
    domain::{
        api_key::{ApiKey, ApiKeyPatch, NewKey},
        session::RequestMeta,
    },
    http::native::nullable::nullable,
};

/// The name of a key created without one.
const DEFAULT_NAME: &str = "Default";

/// `ApiKeyResponse`.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyResponse {
    id: String,
    name: String,
    key_prefix: String,
    /// Roster keys carry no scopes beyond `read_only`: always `[]`.
    permissions: Vec<String>,
    /// Not expired and not revoked (revoked keys are not listed; an update that deactivates a
    /// key answers with `false`).
    is_active: bool,
    /// Not counted by Roster: always 0.
    usage_count: u64,
    /// The service-wide limit; Roster has no per-key limit.
    rate_limit_per_hour: u64,
    last_used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    read_only: bool,
    description: Option<String>,
    workspace_id: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

/// The authenticated request budget per hour every key shares (Part H).
const RATE_LIMIT_PER_HOUR: u64 = 1000;

fn response(k: ApiKey, now: DateTime<Utc>) -> ApiKeyResponse {
    ApiKeyResponse {
        id: k.id.to_string(),
        is_active: k.is_active(now),
        name: k.name.unwrap_or_else(|| DEFAULT_NAME.to_owned()),
        key_prefix: k.prefix,
        permissions: Vec::new(),
        usage_count: 0,
        rate_limit_per_hour: RATE_LIMIT_PER_HOUR,
        last_used_at: k.last_used_at,
        created_at: k.created_at,
        read_only: k.read_only,
        description: k.description,
        workspace_id: None,
        expires_at: k.expires_at,
    }
}

/// The caller's keys, newest first.
#[utoipa::path(get, path = "/api/v1/account/api-keys", tag = "account",
    security(("JWTBearer" = [])),
    responses((status = 200, body = Vec<ApiKeyResponse>), (status = 401, body = ErrorResponse)))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    SfPrincipal(principal): SfPrincipal,
) -> SfResult<axum::Json<Vec<ApiKeyResponse>>> {
    let now = state.core.clock.now();
    let keys = state.core.api_keys(principal.user_id).await?;
    Ok(axum::Json(
        keys.into_iter().map(|k| response(k, now)).collect(),
    ))
}

/// `ApiKeyCreateRequest`.
#[derive(Deserialize, ToSchema)]
pub struct ApiKeyCreateRequest {
    /// `Default` unless given; at most 100 characters.
    name: Option<String>,
    /// Only `[]` (or none) is accepted: Roster keys have no scopes.
    #[schema(max_items = 0)]
    permissions: Option<Vec<String>>,
    read_only: Option<bool>,
    /// At most 500 characters.
    description: Option<String>,
}

/// `ApiKeyDetailSchema`.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyDetailSchema {
    id: String,
    name: String,
    /// The secret, shown this once.
    api_key: String,
    created_at: DateTime<Utc>,
    read_only: bool,
    description: Option<String>,
    permissions: Vec<String>,
}

/// `ApiKeyCreateResponse`.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyCreateResponse {
    message: String,
    api_key: ApiKeyDetailSchema,
}

/// Create a key; its secret is in this answer and nowhere else.
#[utoipa::path(post, path = "/api/v1/account/api-keys", tag = "account",
    security(("JWTBearer" = [])), request_body = ApiKeyCreateRequest,
    responses((status = 201, body = ApiKeyCreateResponse), (status = 401, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn create_api_key(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfPrincipal(principal): SfPrincipal,
    SfJson(body): SfJson<ApiKeyCreateRequest>,
) -> SfResult<impl IntoResponse> {
    no_permissions(body.permissions.as_ref())?;
    let input = NewKey {
        name: Some(body.name.unwrap_or_else(|| DEFAULT_NAME.to_owned())),
        expires_at: None,
        read_only: body.read_only.unwrap_or(false),
        description: body.description,
    };
    let (key, secret) = state
        .core
        .create_api_key(principal.user_id, input, &meta)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(issued(
            key,
            secret,
            "API key created; store it now, it is not shown again",
        )),
    ))
}

fn issued(key: ApiKey, secret: String, message: &str) -> ApiKeyCreateResponse {
    ApiKeyCreateResponse {
        message: message.to_owned(),
        api_key: ApiKeyDetailSchema {
            id: key.id.to_string(),
            name: key.name.unwrap_or_else(|| DEFAULT_NAME.to_owned()),
            api_key: secret,
            created_at: key.created_at,
            read_only: key.read_only,
            description: key.description,
            permissions: Vec::new(),
        },
    }
}

/// Roster keys have no scopes: a non-empty `permissions` list cannot be stored.
fn no_permissions(permissions: Option<&Vec<String>>) -> SfResult<()> {
    if permissions.is_some_and(|p| !p.is_empty()) {
        return Err(SfError::invalid(
            "value_error",
            &["body", "permissions"],
            "Roster keys have no scopes; use read_only",
        ));
    }
    Ok(())
}

/// One of the caller's keys.
#[utoipa::path(get, path = "/api/v1/account/api-keys/{api_key_id}", tag = "account",
    security(("JWTBearer" = [])), params(("api_key_id" = String, Path)),
    responses((status = 200, body = ApiKeyResponse), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
pub async fn get_api_key(
    State(state): State<AppState>,
    SfPrincipal(principal): SfPrincipal,
    Path(api_key_id): Path<String>,
) -> SfResult<axum::Json<ApiKeyResponse>> {
    let key = state
        .core
        .api_key(principal.user_id, path_id(&api_key_id)?)
        .await?;
    Ok(axum::Json(response(key, state.core.clock.now())))
}

/// Revoke one of the caller's keys; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/account/api-keys/{api_key_id}", tag = "account",
    security(("JWTBearer" = [])), params(("api_key_id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn delete_api_key(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfPrincipal(principal): SfPrincipal,
    Path(api_key_id): Path<String>,
) -> SfResult<StatusCode> {
    state
        .core
        .revoke_api_key(principal.user_id, path_id(&api_key_id)?, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `ApiKeyUpdateRequest`: every field optional; `null` clears `name` (shown as `Default`) and
/// `description`, and leaves the others alone.
#[derive(Deserialize, ToSchema)]
pub struct ApiKeyUpdateRequest {
    /// At most 100 characters.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    /// Only `[]` (or none) is accepted: Roster keys have no scopes.
    permissions: Option<Vec<String>>,
    /// `false` revokes the key at once (it is no longer listed); `true` is accepted for a key
    /// that is active (an expired key gets a new expiry through `/expiration` instead).
    is_active: Option<bool>,
    /// Only the service-wide 1000 (or none) is accepted: Roster has no per-key limit.
    #[serde(default, deserialize_with = "crate::http::extract::whole_number")]
    #[schema(minimum = 1000, maximum = 1000)]
    rate_limit_per_hour: Option<i64>,
    read_only: Option<bool>,
    /// At most 500 characters.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
}

/// Change one of the caller's keys; answers the key as `ApiKeyResponse`.
#[utoipa::path(put, path = "/api/v1/account/api-keys/{api_key_id}", tag = "account",
    security(("JWTBearer" = [])), params(("api_key_id" = String, Path)),
    request_body = ApiKeyUpdateRequest,
    responses((status = 200, body = ApiKeyResponse), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn update_api_key(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfPrincipal(principal): SfPrincipal,
    Path(api_key_id): Path<String>,
    SfJson(body): SfJson<ApiKeyUpdateRequest>,
) -> SfResult<axum::Json<ApiKeyResponse>> {
    let id = path_id(&api_key_id)?;
    no_permissions(body.permissions.as_ref())?;
    if body
        .rate_limit_per_hour
        .is_some_and(|n| u64::try_from(n).ok() != Some(RATE_LIMIT_PER_HOUR))
    {
        return Err(SfError::invalid(
            "value_error",
            &["body", "rate_limit_per_hour"],
            format!("Roster has no per-key limit; every key has {RATE_LIMIT_PER_HOUR} per hour"),
        ));
    }
    let patch = ApiKeyPatch {
        name: body.name,
        description: body.description,
        read_only: body.read_only,
        expires_at: None,
        active: body.is_active,
    };
    let key = state
        .core
        .update_api_key(principal.user_id, id, patch, &meta)
        .await?;
    Ok(axum::Json(response(key, state.core.clock.now())))
}

/// A new secret for the same key; the old secret stops working at once.
#[utoipa::path(post, path = "/api/v1/account/api-keys/{api_key_id}/regenerate", tag = "account",
    security(("JWTBearer" = [])), params(("api_key_id" = String, Path)),
    responses((status = 200, body = ApiKeyCreateResponse), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn regenerate_api_key(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfPrincipal(principal): SfPrincipal,
    Path(api_key_id): Path<String>,
) -> SfResult<axum::Json<ApiKeyCreateResponse>> {
    let (key, secret) = state
        .core
        .regenerate_api_key(principal.user_id, path_id(&api_key_id)?, &meta)
        .await?;
    Ok(axum::Json(issued(
        key,
        secret,
        "API key regenerated; the old secret no longer works",
    )))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RotateQuery {
    /// How long the old key keeps working: 0 to 90 days, 7 if absent.
    grace_period_days: Option<i64>,
}

/// A new key with the same name, description and read-only flag; the old key keeps working for
/// the grace period (never longer than its own expiry). A key can be rotated once.
#[utoipa::path(post, path = "/api/v1/account/api-keys/{api_key_id}/rotate", tag = "account",
    security(("JWTBearer" = [])), params(("api_key_id" = String, Path), RotateQuery),
    responses((status = 201, body = ApiKeyCreateResponse), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn rotate_api_key(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfPrincipal(principal): SfPrincipal,
    Path(api_key_id): Path<String>,
    SfQuery(q): SfQuery<RotateQuery>,
) -> SfResult<impl IntoResponse> {
    let id = path_id(&api_key_id)?;
    let (key, secret) = state
        .core
        .rotate_api_key(principal.user_id, id, q.grace_period_days, &meta)
        .await
        .map_err(SfError::in_query)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(issued(
            key,
            secret,
            "API key rotated; the old key works until its grace period ends",
        )),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpirationQuery {
    /// The new expiry (ISO 8601, with or without an offset; naive is UTC), in the future;
    /// absent removes the expiry.
    expires_at: Option<String>,
}

/// Set or remove a key's expiry. The answer is an empty object: the SDK declares it as
/// `Dict[str, Optional[str]]` and cannot read any non-null value of that type (it looks
/// `Optional[str]` up as a model name and raises), so the new expiry is read with a GET.
#[utoipa::path(patch, path = "/api/v1/account/api-keys/{api_key_id}/expiration", tag = "account",
    security(("JWTBearer" = [])), params(("api_key_id" = String, Path), ExpirationQuery),
    responses((status = 200, body = BTreeMap<String, Option<String>>),
        (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn set_expiration(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfPrincipal(principal): SfPrincipal,
    Path(api_key_id): Path<String>,
    SfQuery(q): SfQuery<ExpirationQuery>,
) -> SfResult<axum::Json<BTreeMap<String, Option<String>>>> {
    let id = path_id(&api_key_id)?;
    let expires_at = match q.expires_at.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(datetime_at(text, &["query", "expires_at"])?),
    };
    let patch = ApiKeyPatch {
        expires_at: Some(expires_at),
        ..ApiKeyPatch::default()
    };
    state
        .core
        .update_api_key(principal.user_id, id, patch, &meta)
        .await
        .map_err(SfError::in_query)?;
    Ok(axum::Json(BTreeMap::new()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpiringQuery {
    /// Look-ahead: 1 to 365 days, 30 if absent.
    days: Option<i64>,
}

/// One entry of the expiring-keys answer.
#[derive(Serialize, ToSchema)]
pub struct ExpiringKey {
    id: String,
    name: String,
    key_prefix: String,
    read_only: bool,
    expires_at: Option<DateTime<Utc>>,
    /// Whole days left (0 on the last day).
    days_until_expiry: i64,
}

/// The caller's live keys that expire within `days`, soonest first.
#[utoipa::path(get, path = "/api/v1/account/api-keys/expiring", tag = "account",
    security(("JWTBearer" = [])), params(ExpiringQuery),
    responses((status = 200, body = Vec<ExpiringKey>), (status = 401, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn expiring_api_keys(
    State(state): State<AppState>,
    SfPrincipal(principal): SfPrincipal,
    SfQuery(q): SfQuery<ExpiringQuery>,
) -> SfResult<axum::Json<Vec<ExpiringKey>>> {
    let now = state.core.clock.now();
    let keys = state
        .core
        .expiring_api_keys(principal.user_id, q.days.unwrap_or(30))
        .await
        .map_err(SfError::in_query)?;
    Ok(axum::Json(
        keys.into_iter()
            .map(|k| ExpiringKey {
                days_until_expiry: k.expires_at.map_or(0, |t| (t - now).num_days()),
                id: k.id.to_string(),
                name: k.name.unwrap_or_else(|| DEFAULT_NAME.to_owned()),
                key_prefix: k.prefix,
                read_only: k.read_only,
                expires_at: k.expires_at,
            })
            .collect(),
    ))
}
