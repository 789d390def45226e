//! A workspace's audit log: filters by action, actor (an email or a user id) and time, keyset
//! pages, and the same filters exported to CSV.

use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::{query_string, refused, render, shown, InWorkspace, Shell, Shown};
use crate::{
    app::AppState,
    domain::{
        audit::{actions, AuditFilter},
        member::MemberFilter,
        paging::PageRequest,
        workspace::Access,
        Error,
    },
};

/// Events per page.
const PAGE: u32 = 50;

/// Actions offered as suggestions in the action filter.
const SUGGESTED: [&str; 12] = [
    actions::MEMBER_ADDED,
    actions::MEMBER_ROLE_CHANGED,
    actions::MEMBER_REMOVED,
    actions::INVITATION_CREATED,
    actions::INVITATION_ACCEPTED,
    actions::INVITATION_REVOKED,
    actions::WORKSPACE_CREATED,
    actions::WORKSPACE_UPDATED,
    actions::API_KEY_CREATED,
    actions::API_KEY_REVOKED,
    actions::SESSION_STARTED,
    actions::SESSION_ENDED,
];

pub struct Row {
    at: Shown,
    actor: String,
    action: String,
    target: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    shell: Shell,
    ws: String,
    rows: Vec<Row>,
    total: u64,
    action: String,
    actor: String,
    from: String,
    to: String,
    suggested: [&'static str; 12],
    next: Option<String>,
    paged: bool,
    /// The filters as a query string, for the pager and the export link.
    query: String,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    /// A day (`YYYY-MM-DD`, UTC): events from its start.
    from: Option<String>,
    /// A day (`YYYY-MM-DD`, UTC): events up to its end.
    to: Option<String>,
    cursor: Option<String>,
}

fn nonempty(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

fn day(field: &str, text: Option<String>, end: bool) -> Result<Option<DateTime<Utc>>, Error> {
    let Some(text) = text else { return Ok(None) };
    let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map_err(|_| Error::invalid(field, "invalid", format!("{field}: a day as YYYY-MM-DD")))?;
    let time = if end {
        date.and_hms_opt(23, 59, 59)
    } else {
        date.and_hms_opt(0, 0, 0)
    };
    Ok(time.map(|t| t.and_utc()))
}

/// The actor filter: a user id, or the email of one of the workspace's members.
async fn actor_id(state: &AppState, access: &Access, text: &str) -> Result<Option<Uuid>, Error> {
    if let Ok(id) = Uuid::parse_str(text) {
        return Ok(Some(id));
    }
    let filter = MemberFilter::new(Some(text), None)?;
    let found = state
        .core
        .members(access, &filter, &PageRequest::first(10))
        .await?;
    let wanted = text.to_lowercase();
    found
        .data
        .into_iter()
        .find(|m| m.email.to_lowercase() == wanted)
        .map(|m| Some(m.user_id))
        .ok_or_else(|| {
            Error::invalid(
                "actor",
                "unknown",
                format!("no member of this workspace has the email {text}"),
            )
        })
}

async fn filter_of(
    state: &AppState,
    access: &Access,
    q: &AuditQuery,
) -> Result<AuditFilter, Error> {
    let actor = match nonempty(&q.actor) {
        Some(a) => actor_id(state, access, &a).await?,
        None => None,
    };
    Ok(AuditFilter {
        action: nonempty(&q.action),
        actor_id: actor,
        from: day("from", nonempty(&q.from), false)?,
        to: day("to", nonempty(&q.to), true)?,
        ..AuditFilter::default()
    })
}

fn filters(q: &AuditQuery) -> String {
    query_string([
        ("action", q.action.as_deref().map(str::trim)),
        ("actor", q.actor.as_deref().map(str::trim)),
        ("from", q.from.as_deref().map(str::trim)),
        ("to", q.to.as_deref().map(str::trim)),
    ])
}

pub async fn page(
    State(state): State<AppState>,
    here: InWorkspace,
    Query(q): Query<AuditQuery>,
) -> Response {
    let access = &here.access;
    let filter = match filter_of(&state, access, &q).await {
        Ok(f) => f,
        Err(e) => return refused(e),
    };
    let request = match PageRequest::parse(Some(PAGE), q.cursor.as_deref()) {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    let found = match state.core.audit_events(access, &filter, &request).await {
        Ok(f) => f,
        Err(e) => return refused(e),
    };
    let rows = found
        .data
        .into_iter()
        .map(|e| Row {
            at: shown(e.created_at),
            actor: e
                .actor_email
                .or_else(|| e.actor_id.map(|id| id.to_string()))
                .unwrap_or_else(|| "—".into()),
            target: match e.target_id {
                Some(id) => format!("{} {id}", e.target_type),
                None => e.target_type,
            },
            action: e.action,
            ip: e.ip.unwrap_or_default(),
        })
        .collect();
    let page = AuditPage {
        ws: access.workspace.id.to_string(),
        rows,
        total: found.total,
        action: nonempty(&q.action).unwrap_or_default(),
        actor: nonempty(&q.actor).unwrap_or_default(),
        from: nonempty(&q.from).unwrap_or_default(),
        to: nonempty(&q.to).unwrap_or_default(),
        suggested: SUGGESTED,
        next: found.next_cursor.map(|c| c.encode()),
        paged: q.cursor.is_some(),
        query: filters(&q),
        shell: here.shell("Audit log", "audit"),
    };
    render(StatusCode::OK, &page)
}

/// Every event the filters match, as CSV (the API's export).
pub async fn export(
    State(state): State<AppState>,
    here: InWorkspace,
    Query(q): Query<AuditQuery>,
) -> Response {
    let filter = match filter_of(&state, &here.access, &q).await {
        Ok(f) => f,
        Err(e) => return refused(e),
    };
    match crate::http::native::export_audit(state, here.access, filter, true).await {
        Ok(r) => r,
        Err(e) => refused(e),
    }
}
