//! `/v1/me/api-keys`: personal API keys. The secret is in the creation answer only.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::created;
use crate::{
    app::AppState,
    domain::{
        api_key::{ApiKey, NewKey},
        auth::Principal,
        session::RequestMeta,
    },
    http::{
        extract::{Json, Path},
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
