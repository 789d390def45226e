//! `/audit-logs/`: the current workspace's audit log as numbered pages, and its export (CSV or
//! JSON, at most 10,000 rows, without `changes`). Owners and managers.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    error::{ErrorResponse, SfError, SfResult, ValidationErrorResponse},
    extract::{SfAccess, SfQuery},
    wire::datetime_at,
};
use crate::{
    app::AppState,
    domain::{
        audit::{AuditEvent, AuditFilter},
        paging::PageRequest,
        workspace::Access,
        Error,
    },
};

const DEFAULT_PAGE_SIZE: i64 = 50;
const MAX_PAGE_SIZE: i64 = 200;
const MAX_EXPORT_ROWS: usize = 10_000;

/// `AuditLogOut`.
#[derive(Serialize, ToSchema)]
pub struct AuditLogOut {
    id: String,
    /// The actor's email; empty for the service itself or a deleted account.
    user_email: String,
    action: String,
    resource_type: String,
    description: String,
    /// Roster records changes, not requests: always empty.
    http_method: String,
    /// Roster records changes, not requests: always empty.
    path: String,
    resource_id: Option<String>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    /// `{"before": …, "after": …}`; left out of exports.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<Value>,
    status_code: Option<u16>,
    created_at: DateTime<Utc>,
}

/// `AuditLogListResponse`.
#[derive(Serialize, ToSchema)]
pub struct AuditLogListResponse {
    logs: Vec<AuditLogOut>,
    total: u64,
    page: i64,
    page_size: i64,
    has_more: bool,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// e.g. `member.role_changed`
    action: Option<String>,
    /// The acting user's id.
    user_id: Option<String>,
    /// `workspace`, `user`, `invitation`, `session`, `api_key`.
    resource_type: Option<String>,
    /// Inclusive; a datetime (with or without offset) or a date.
    date_from: Option<String>,
    /// Exclusive; a datetime (with or without offset) or a date.
    date_to: Option<String>,
    /// Text matched in the action, resource type and resource id.
    search: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
    /// Export only: `csv` (default) or `json`.
    export_format: Option<String>,
}

impl AuditQuery {
    fn filter(&self) -> SfResult<AuditFilter> {
        let text = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let actor_id = match text(&self.user_id) {
            Some(id) => Some(Uuid::parse_str(id.trim()).map_err(|_| {
                SfError::invalid(
                    "uuid_parsing",
                    &["query", "user_id"],
                    "Input should be a valid UUID",
                )
            })?),
            None => None,
        };
        let from = text(&self.date_from)
            .map(|t| datetime_at(&t, &["query", "date_from"]))
            .transpose()?;
        let to = text(&self.date_to)
            .map(|t| datetime_at(&t, &["query", "date_to"]))
            .transpose()?;
        Ok(AuditFilter {
            action: text(&self.action),
            actor_id,
            from,
            to,
            target_type: text(&self.resource_type),
            search: AuditFilter::search_pattern(self.search.as_deref())
                .map_err(SfError::in_query)?,
            ..AuditFilter::default()
        })
    }
}

fn log_out(e: AuditEvent, with_changes: bool) -> AuditLogOut {
    let description = match &e.target_id {
        Some(id) => format!("{} on {} {}", e.action, e.target_type, id),
        None => format!("{} on {}", e.action, e.target_type),
    };
    let changes = (with_changes && (e.before.is_some() || e.after.is_some()))
        .then(|| serde_json::json!({"before": e.before, "after": e.after}));
    AuditLogOut {
        id: e.id.to_string(),
        user_email: e.actor_email.unwrap_or_default(),
        action: e.action,
        resource_type: e.target_type,
        description,
        http_method: String::new(),
        path: String::new(),
        resource_id: e.target_id,
        ip_address: e.ip,
        user_agent: e.user_agent,
        changes,
        status_code: None,
        created_at: e.created_at,
    }
}

/// The audit log of the current workspace, newest first, in numbered pages.
#[utoipa::path(get, path = "/api/v1/audit-logs/", tag = "audit",
    security(("JWTBearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditLogListResponse), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn list_audit_logs(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
    SfQuery(q): SfQuery<AuditQuery>,
) -> SfResult<axum::Json<AuditLogListResponse>> {
    let page = q.page.unwrap_or(1);
    if page < 1 {
        return Err(SfError::invalid(
            "greater_than_equal",
            &["query", "page"],
            "Input should be greater than or equal to 1",
        ));
    }
    let page_size = q.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(SfError::invalid(
            "range",
            &["query", "page_size"],
            format!("Input should be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    let offset = (page - 1).saturating_mul(page_size);
    let request = PageRequest {
        offset: u32::try_from(offset)
            .map_err(|_| SfError::invalid("range", &["query", "page"], "Input is too large"))?,
        ..PageRequest::first(u32::try_from(page_size).unwrap_or(50))
    };
    let found = state
        .core
        .audit_events(&access, &q.filter()?, &request)
        .await?;
    Ok(axum::Json(AuditLogListResponse {
        has_more: found.next_cursor.is_some(),
        total: found.total,
        page,
        page_size,
        logs: found.data.into_iter().map(|e| log_out(e, true)).collect(),
    }))
}

async fn collect(
    state: &AppState,
    access: &Access,
    filter: &AuditFilter,
) -> SfResult<Vec<AuditEvent>> {
    let mut all = Vec::new();
    let mut request = PageRequest::first(200);
    loop {
        let page = state.core.audit_events(access, filter, &request).await?;
        all.extend(page.data);
        match page.next_cursor {
            Some(c) if all.len() < MAX_EXPORT_ROWS => request.after = Some(c),
            _ => break,
        }
    }
    all.truncate(MAX_EXPORT_ROWS);
    Ok(all)
}

/// Export the matching events (at most 10,000, newest first, without `changes`): `csv` as
/// `text/csv`, `json` as a JSON string holding the JSON array (the SDK types this body as a
/// string).
#[utoipa::path(get, path = "/api/v1/audit-logs/export/", tag = "audit",
    security(("JWTBearer" = [])), params(AuditQuery),
    responses((status = 200, description = "CSV, or a JSON string holding a JSON array",
            content((String = "text/csv"), (String = "application/json"))),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 422, body = ValidationErrorResponse)))]
pub async fn export_audit_logs(
    State(state): State<AppState>,
    SfAccess(access): SfAccess,
    SfQuery(q): SfQuery<AuditQuery>,
) -> SfResult<Response> {
    let csv = match q.export_format.as_deref().unwrap_or("csv") {
        "csv" => true,
        "json" => false,
        _ => {
            return Err(SfError::invalid(
                "enum",
                &["query", "export_format"],
                "Input should be 'csv' or 'json'",
            ))
        }
    };
    let events = collect(&state, &access, &q.filter()?).await?;
    let rows: Vec<AuditLogOut> = events.into_iter().map(|e| log_out(e, false)).collect();
    if csv {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header = [
            "id",
            "created_at",
            "user_email",
            "action",
            "resource_type",
            "resource_id",
            "description",
            "ip_address",
            "user_agent",
        ];
        let write = |w: &mut csv::Writer<Vec<u8>>| -> csv::Result<()> {
            w.write_record(header)?;
            for r in &rows {
                w.write_record([
                    r.id.as_str(),
                    &r.created_at.to_rfc3339(),
                    &r.user_email,
                    &r.action,
                    &r.resource_type,
                    r.resource_id.as_deref().unwrap_or(""),
                    &r.description,
                    r.ip_address.as_deref().unwrap_or(""),
                    r.user_agent.as_deref().unwrap_or(""),
                ])?;
            }
            w.flush()?;
            Ok(())
        };
        write(&mut w).map_err(|e| Error::Internal(e.into()))?;
        let body = w
            .into_inner()
            .map_err(|e| Error::Internal(anyhow::anyhow!("csv: {e}")))?;
        Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
    } else {
        let text = serde_json::to_string(&rows).map_err(|e| Error::Internal(e.into()))?;
        Ok(axum::Json(Value::String(text)).into_response())
    }
}
