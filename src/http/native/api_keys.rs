//! `/v1/me/api-keys`: personal API keys (create, list, read, change, revoke, regenerate,
//! rotate). A secret is in the answer that issues it only.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{created, nullable::nullable};
use crate::{
    app::AppState,
    domain::{
        api_key::{ApiKey, ApiKeyPatch, NewKey},
        auth::Principal,
        session::RequestMeta,
    },
    http::{
        extract::{Json, Path, Query},
        problem::{ApiResult, Problem},
    },
};

/// An API key, without its secret.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    id: Uuid,
    name: Option<String>,
    /// The first characters of the key, to recognise it.
    #[schema(example = "rk_3hG9xQ2a")]
    prefix: String,
    /// A read-only key may only make GET requests.
    read_only: bool,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    description: Option<String>,
    /// After a rotation: the key that replaces this one (this one works until `expires_at`).
    replaced_by: Option<Uuid>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        ApiKeyView {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            read_only: k.read_only,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            expires_at: k.expires_at,
            description: k.description,
            replaced_by: k.replaced_by,
        }
    }
}

/// A new key, with its secret: store it now, it is never shown again.
#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    key: ApiKeyView,
    /// The key itself (`rk_…`), shown this once.
    secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    data: Vec<ApiKeyView>,
    next_cursor: Option<String>,
    total: u64,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    #[schema(max_length = 100)]
    name: Option<String>,
    /// When the key stops working; never, if absent.
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    read_only: bool,
    #[schema(max_length = 500)]
    description: Option<String>,
}

/// Your API keys (not revoked), newest first.
#[utoipa::path(get, path = "/v1/me/api-keys", tag = "me", security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = ApiKeyList), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<axum::Json<ApiKeyList>> {
    let data: Vec<ApiKeyView> = state
        .core
        .api_keys(principal.user_id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(ApiKeyList {
        total: data.len() as u64,
        data,
        next_cursor: None,
    }))
}

/// Create an API key.
#[utoipa::path(post, path = "/v1/me/api-keys", tag = "me", security(("bearer" = []), ("api_key" = [])),
    request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey, headers(("Location" = String))),
        (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Json(body): Json<CreateApiKey>,
) -> ApiResult<impl IntoResponse> {
    let input = NewKey {
        name: body.name,
        expires_at: body.expires_at,
        read_only: body.read_only,
        description: body.description,
    };
    let (key, secret) = state
        .core
        .create_api_key(principal.user_id, input, &meta)
        .await?;
    Ok(created(
        format!("/v1/me/api-keys/{}", key.id),
        CreatedApiKey {
            key: key.into(),
            secret,
        },
    ))
}

/// One of your API keys.
#[utoipa::path(get, path = "/v1/me/api-keys/{id}", tag = "me", security(("bearer" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "API key id")),
    responses((status = 200, body = ApiKeyView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<ApiKeyView>> {
    Ok(axum::Json(
        state.core.api_key(principal.user_id, id).await?.into(),
    ))
}

/// Revoke an API key: it stops working at once.
#[utoipa::path(delete, path = "/v1/me/api-keys/{id}", tag = "me", security(("bearer" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "API key id")),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state
        .core
        .revoke_api_key(principal.user_id, id, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A change to a key: absent fields stay, `null` clears a nullable one.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKey {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 100)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 500)]
    description: Option<Option<String>>,
    read_only: Option<bool>,
    /// A future time, or `null` for never.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    expires_at: Option<Option<DateTime<Utc>>>,
}

/// Change an API key's name, description, read-only flag or expiry.
#[utoipa::path(patch, path = "/v1/me/api-keys/{id}", tag = "me", security(("bearer" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "API key id")), request_body = UpdateApiKey,
    responses((status = 200, body = ApiKeyView), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateApiKey>,
) -> ApiResult<axum::Json<ApiKeyView>> {
    let patch = ApiKeyPatch {
        name: body.name,
        description: body.description,
        read_only: body.read_only,
        expires_at: body.expires_at,
        active: None,
    };
    Ok(axum::Json(
        state
            .core
            .update_api_key(principal.user_id, id, patch, &meta)
            .await?
            .into(),
    ))
}

/// Give a key a new secret; the old secret stops working at once.
#[utoipa::path(post, path = "/v1/me/api-keys/{id}/regenerate", tag = "me", security(("bearer" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "API key id")),
    responses((status = 200, body = CreatedApiKey), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn regenerate(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<CreatedApiKey>> {
    let (key, secret) = state
        .core
        .regenerate_api_key(principal.user_id, id, &meta)
        .await?;
    Ok(axum::Json(CreatedApiKey {
        key: key.into(),
        secret,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RotateParams {
    /// How long the old key keeps working: 0 to 90 days (default 7), never past its own expiry.
    #[param(minimum = 0, maximum = 90)]
    grace_period_days: Option<i64>,
}

/// Replace a key by a new one with the same name, description and read-only flag; the old key
/// keeps working for the grace period. A key is rotated at most once.
#[utoipa::path(post, path = "/v1/me/api-keys/{id}/rotate", tag = "me", security(("bearer" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "API key id"), RotateParams),
    responses((status = 201, body = CreatedApiKey, headers(("Location" = String))),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn rotate(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(params): Query<RotateParams>,
) -> ApiResult<impl IntoResponse> {
    let (key, secret) = state
        .core
        .rotate_api_key(principal.user_id, id, params.grace_period_days, &meta)
        .await?;
    Ok(created(
        format!("/v1/me/api-keys/{}", key.id),
        CreatedApiKey {
            key: key.into(),
            secret,
        },
    ))
}
