//! `/account/me`: the caller's profile as `UserProfileResponse` (read, update, delete 204). Of
//! the SDK's profile fields Roster keeps the name, the picture (`avatar_url`), the product-news
//! choice (`marketing_emails`) and onboarding (`has_completed_tour`); the display preferences
//! it does not keep are left out of answers (the SDK reads its defaults) and refused on update.

use axum::{extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    error::{ErrorResponse, SfError, SfResult, ValidationErrorResponse},
    extract::{SfCaller, SfJson, SfPrincipal},
    wire::role_word,
};
use crate::{
    app::AppState,
    domain::{auth::Caller, session::RequestMeta, user::ProfilePatch, user::User, Error},
    http::native::nullable::nullable,
};

/// `UserProfileResponse`, with the fields Roster keeps.
#[derive(Serialize, ToSchema)]
pub struct UserProfileResponse {
    id: String,
    email: String,
    name: String,
    /// The caller's role in their current workspace (`member` when they have none).
    role: &'static str,
    is_staff: bool,
    is_superuser: bool,
    email_verified: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    avatar_url: Option<String>,
    marketing_emails: bool,
    has_completed_tour: bool,
    workspace_role: Option<&'static str>,
    workspace_id: Option<String>,
    /// The plan of the current workspace.
    selected_plan: String,
    company: Option<String>,
}

fn profile(user: User, caller: &Caller) -> UserProfileResponse {
    let current = caller.membership.as_ref();
    let role = current.map(|(_, r)| role_word(*r));
    UserProfileResponse {
        id: user.id.to_string(),
        email: user.email,
        name: user.name,
        role: role.unwrap_or("member"),
        is_staff: false,
        is_superuser: false,
        email_verified: user.email_verified,
        created_at: user.created_at,
        updated_at: user.updated_at,
        avatar_url: user.photo_url,
        marketing_emails: user.product_updates_subscribed,
        has_completed_tour: user.onboarded_at.is_some(),
        workspace_role: role,
        workspace_id: current.map(|(w, _)| w.id.to_string()),
        selected_plan: current.map_or_else(|| "free".to_owned(), |(w, _)| w.plan.clone()),
        company: None,
    }
}

/// `UpdateProfileRequest`: only the fields sent change; `null` leaves a field alone, except
/// `avatar_url`, where it removes the picture.
#[derive(Deserialize, ToSchema)]
pub struct UpdateProfileRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^\\s*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    name: Option<String>,
    /// An http(s) URL of at most 2048 characters.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2048, pattern = "^\\s*https?://")]
    avatar_url: Option<Option<String>>,
    marketing_emails: Option<bool>,
    has_completed_tour: Option<bool>,
    #[serde(flatten)]
    unkept: UnkeptPreferences,
}

/// The SDK's display preferences Roster does not keep: only `null` (or absent) is accepted; a
/// value is refused (422 naming the field) rather than silently dropped.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct UnkeptPreferences {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    bio: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    phone_number: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    timezone: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    date_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    time_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    email_notifications: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    webhook_failure_notifications: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    workflow_failure_notifications: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    usage_alert_notifications: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    default_map_style: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    default_geofence_color: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    show_tutorial_tooltips: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    has_completed_workflow_tour: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = null_only)]
    default_api_version: Option<Value>,
}

/// The schema of a field that may only be `null`.
fn null_only() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .description(Some("Not kept by Roster: only `null` is accepted"))
        .build()
}

impl UnkeptPreferences {
    /// 422 under the first preference sent with a value.
    fn refuse_any(&self) -> SfResult<()> {
        let sent = serde_json::to_value(self).map_err(anyhow::Error::from)?;
        match sent.as_object().and_then(|o| o.keys().next()) {
            Some(field) => Err(SfError::invalid(
                "value_error",
                &["body", field],
                "Roster does not keep this preference; send null or leave it out",
            )),
            None => Ok(()),
        }
    }
}

/// The caller's profile.
#[utoipa::path(get, path = "/api/v1/account/me", tag = "account",
    security(("JWTBearer" = [])),
    responses((status = 200, body = UserProfileResponse), (status = 401, body = ErrorResponse)))]
pub async fn get_profile(SfCaller(caller): SfCaller) -> axum::Json<UserProfileResponse> {
    axum::Json(profile(caller.user.clone(), &caller))
}

/// Update the caller's profile; answers the profile.
#[utoipa::path(put, path = "/api/v1/account/me", tag = "account",
    security(("JWTBearer" = [])), request_body = UpdateProfileRequest,
    responses((status = 200, body = UserProfileResponse), (status = 401, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn update_profile(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfCaller(caller): SfCaller,
    SfJson(body): SfJson<UpdateProfileRequest>,
) -> SfResult<axum::Json<UserProfileResponse>> {
    body.unkept.refuse_any()?;
    let patch = ProfilePatch {
        name: body.name,
        photo_url: body.avatar_url,
        onboarded: body.has_completed_tour,
        product_updates_subscribed: body.marketing_emails,
    };
    let user = state
        .core
        .update_me(caller.user.id, patch, &meta)
        .await
        .map_err(|e| match e {
            // The domain names the picture `photo_url`; the SDK sends it as `avatar_url`.
            Error::Validation(mut fields) => {
                for f in fields.iter_mut().filter(|f| f.field == "photo_url") {
                    f.field = "avatar_url".into();
                }
                SfError::from(Error::Validation(fields))
            }
            other => other.into(),
        })?;
    Ok(axum::Json(profile(user, &caller)))
}

/// Delete the caller's account: every session and key ends, workspaces where they were the
/// only member go with it; refused with 409 `LAST_OWNER` while they are the last owner of a
/// workspace with other members.
#[utoipa::path(delete, path = "/api/v1/account/me", tag = "account",
    security(("JWTBearer" = [])),
    responses((status = 204), (status = 401, body = ErrorResponse),
        (status = 409, description = "`LAST_OWNER`", body = ErrorResponse)))]
pub async fn delete_account(
    State(state): State<AppState>,
    meta: RequestMeta,
    SfPrincipal(principal): SfPrincipal,
) -> SfResult<StatusCode> {
    state
        .core
        .delete_account(principal.user_id, &meta)
        .await
        .map_err(SfError::Conflict)?;
    Ok(StatusCode::NO_CONTENT)
}
