//! Translations shared by the dialect's handlers: role words, datetimes as the SDK sends them,
//! the invitation cursor, and `UserResponse`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::SfError;
use crate::domain::{auth::Caller, paging::Cursor, role::Role, Error};

/// The SpatialFlow word of a role.
pub fn role_word(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Admin => "manager",
        Role::Editor => "member",
        Role::FieldWorker => "field_worker",
        Role::Viewer => "viewer",
        Role::Demo => "demo",
    }
}

/// The role a SpatialFlow word names (422 under `body.role` otherwise).
pub fn parse_role(word: &str) -> Result<Role, SfError> {
    match word.trim() {
        "owner" => Ok(Role::Owner),
        "manager" => Ok(Role::Admin),
        "member" => Ok(Role::Editor),
        "field_worker" => Ok(Role::FieldWorker),
        "viewer" => Ok(Role::Viewer),
        "demo" => Ok(Role::Demo),
        _ => Err(SfError::invalid(
            "enum",
            &["body", "role"],
            "Input should be 'owner', 'manager', 'member' or 'field_worker'",
        )),
    }
}

/// An ISO-8601 datetime with or without an offset (Python's `isoformat()` of a naive value has
/// none; it is read as UTC), or a bare date (midnight UTC).
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    // The SDK formats query datetimes with `%Y-%m-%dT%H:%M:%S.%f%z`: an offset without a colon.
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// A datetime or a 422 naming `loc`.
pub fn datetime_at(text: &str, loc: &[&str]) -> Result<DateTime<Utc>, SfError> {
    parse_datetime(text).ok_or_else(|| {
        SfError::invalid(
            "datetime_parsing",
            loc,
            "Input should be a valid datetime (ISO 8601)",
        )
    })
}

/// The invitation listing's keyset cursor: `<created_at ISO-8601>,<id>`.
pub fn format_cursor(c: &Cursor) -> String {
    format!(
        "{},{}",
        c.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        c.id
    )
}

pub fn parse_cursor(text: &str, loc: &[&str]) -> Result<Cursor, SfError> {
    let bad = || {
        SfError::invalid(
            "value_error",
            loc,
            "a cursor is `<created_at ISO-8601>,<id>` as returned in next_cursor",
        )
    };
    let (at, id) = text.rsplit_once(',').ok_or_else(bad)?;
    Ok(Cursor {
        at: parse_datetime(at).ok_or_else(bad)?,
        id: Uuid::parse_str(id.trim()).map_err(|_| bad())?,
    })
}

/// A path id: anything that is not a UUID names nothing (404).
pub fn path_id(text: &str) -> Result<Uuid, SfError> {
    Uuid::parse_str(text).map_err(|_| SfError::Domain(Error::NotFound))
}

/// `UserResponse`.
#[derive(Serialize, ToSchema)]
pub struct UserResponse {
    id: String,
    email: String,
    name: String,
    /// The caller's role in their current workspace (`member` when they have none).
    role: &'static str,
    email_verified: bool,
    /// The plan of the current workspace.
    selected_plan: String,
    company: Option<String>,
    language_preference: &'static str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    is_superuser: bool,
    is_staff: bool,
    roles: Vec<&'static str>,
    workspace_id: Option<String>,
    workspace_slug: Option<String>,
    workspace_role: Option<&'static str>,
}

/// The caller as `UserResponse`: their account, with their role and plan in their current
/// workspace (`member` and `free` when they have none).
pub fn user_response(caller: &Caller) -> UserResponse {
    let user = &caller.user;
    let current = caller.membership.as_ref();
    let role = current.map(|(_, r)| role_word(*r));
    UserResponse {
        id: user.id.to_string(),
        email: user.email.clone(),
        name: user.name.clone(),
        role: role.unwrap_or("member"),
        email_verified: user.email_verified,
        selected_plan: current.map_or_else(|| "free".to_owned(), |(w, _)| w.plan.clone()),
        company: None,
        language_preference: "en",
        created_at: user.created_at,
        updated_at: user.updated_at,
        is_superuser: false,
        is_staff: false,
        roles: role.into_iter().collect(),
        workspace_id: current.map(|(w, _)| w.id.to_string()),
        workspace_slug: current.map(|(w, _)| w.slug.clone()),
        workspace_role: role,
    }
}
