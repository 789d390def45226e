//! `/account/api-keys`: the caller's Roster API keys (list, create 201, read, delete 204).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    error::{ErrorResponse, SfError, SfResult, ValidationErrorResponse},
    extract::{SfJson, SfPrincipal},
    wire::path_id,
};
use crate::{
    app::AppState,
    domain::{
        api_key::{ApiKey, NewKey},
        session::RequestMeta,
    },
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
    /// Not expired (revoked keys are not listed).
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

fn response(k: ApiKey, now: DateTime<Utc>) -> ApiKeyResponse {
    ApiKeyResponse {
        id: k.id.to_string(),
        name: k.name.unwrap_or_else(|| DEFAULT_NAME.to_owned()),
        key_prefix: k.prefix,
        permissions: Vec::new(),
        is_active: k.expires_at.is_none_or(|t| t > now),
        usage_count: 0,
        rate_limit_per_hour: 1000,
        last_used_at: k.last_used_at,
        created_at: k.created_at,
        read_only: k.read_only,
        description: None,
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
    permissions: Option<Vec<String>>,
    read_only: Option<bool>,
    /// Not stored by Roster; only `null` (or none) is accepted.
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
    if body.permissions.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(SfError::invalid(
            "value_error",
            &["body", "permissions"],
            "Roster keys have no scopes; use read_only",
        ));
    }
    if body.description.as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(SfError::invalid(
            "value_error",
            &["body", "description"],
            "key descriptions are not stored; name the key instead",
        ));
    }
    let input = NewKey {
        name: Some(body.name.unwrap_or_else(|| DEFAULT_NAME.to_owned())),
        expires_at: None,
        read_only: body.read_only.unwrap_or(false),
    };
    let (key, secret) = state
        .core
        .create_api_key(principal.user_id, input, &meta)
        .await?;
    let out = ApiKeyCreateResponse {
        message: "API key created; store it now, it is not shown again".into(),
        api_key: ApiKeyDetailSchema {
            id: key.id.to_string(),
            name: key.name.unwrap_or_else(|| DEFAULT_NAME.to_owned()),
            api_key: secret,
            created_at: key.created_at,
            read_only: key.read_only,
            description: None,
            permissions: Vec::new(),
        },
    };
    Ok((StatusCode::CREATED, axum::Json(out)))
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
