//! `/v1/workspaces/{ws}/audit-events`: filtered keyset pages, a streamed CSV or JSON export
//! of every matching event, and the verification of the workspace's hash chain.

use axum::{
    body::Body,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    app::AppState,
    domain::{
        audit::{AuditEvent, AuditFilter},
        chain::{Fault, Verification},
        paging::{Page, PageRequest},
        workspace::Access,
        Error,
    },
    http::{
        extract::Query,
        problem::{ApiResult, Problem},
    },
};

/// One recorded change.
#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    id: Uuid,
    action: String,
    actor_id: Option<Uuid>,
    target_type: String,
    target_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    after: Option<Value>,
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        AuditEventView {
            id: e.id,
            action: e.action,
            actor_id: e.actor_id,
            target_type: e.target_type,
            target_id: e.target_id,
            before: e.before,
            after: e.after,
            ip: e.ip,
            user_agent: e.user_agent,
            created_at: e.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventList {
    data: Vec<AuditEventView>,
    next_cursor: Option<String>,
    total: u64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// e.g. `member.role_changed`
    action: Option<String>,
    /// The acting user's id.
    actor: Option<Uuid>,
    /// The target's id.
    target: Option<String>,
    /// Inclusive lower bound.
    from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    to: Option<DateTime<Utc>>,
    /// 1 to 200; 50 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    cursor: Option<String>,
}

impl AuditQuery {
    fn filter(&self) -> AuditFilter {
        AuditFilter {
            action: self.action.clone(),
            actor_id: self.actor,
            target_id: self.target.clone(),
            from: self.from,
            to: self.to,
            ..AuditFilter::default()
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` or `json`.
    #[param(pattern = "^(csv|json)$")]
    format: String,
    action: Option<String>,
    actor: Option<Uuid>,
    target: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

/// Audit events, newest first (owner, admin).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit-events", tag = "audit",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), AuditQuery),
    responses((status = 200, body = AuditEventList), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::Json<AuditEventList>> {
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let found = state.core.audit_events(&access, &q.filter(), &page).await?;
    Ok(axum::Json(AuditEventList {
        next_cursor: found.next_cursor.map(|c| c.encode()),
        total: found.total,
        data: found.data.into_iter().map(Into::into).collect(),
    }))
}

/// What is wrong at a broken link.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultView {
    /// The event's content no longer matches its hash.
    ContentEdited,
    /// Events before this one, or after the last one, are gone.
    EventMissing,
    /// The event links to an event that now comes after it.
    Reordered,
    /// The event's link to the event before it was changed.
    LinkBroken,
}

/// The first broken link of the chain.
#[derive(Serialize, ToSchema)]
pub struct BrokenLink {
    /// The event where the break shows; null when the chain's last events are missing.
    event_id: Option<Uuid>,
    seq: i64,
    problem: FaultView,
    detail: String,
}

/// The outcome of checking the workspace's audit hash chain.
#[derive(Serialize, ToSchema)]
pub struct AuditVerification {
    /// True when every event kept links to the one before it and matches its hash.
    ok: bool,
    /// Events checked.
    checked: u64,
    /// The seq of the oldest event kept (older ones may have gone by retention).
    first_seq: Option<i64>,
    /// The chain's recorded head: the seq and SHA-256 of its last event.
    head_seq: i64,
    head_hash: Option<String>,
    /// Events from before the chain existed, which it does not cover.
    unchained: u64,
    broken: Option<BrokenLink>,
}

impl From<Verification> for AuditVerification {
    fn from(v: Verification) -> Self {
        AuditVerification {
            ok: v.ok(),
            checked: v.checked,
            first_seq: v.first_seq,
            head_seq: v.head_seq,
            head_hash: v.head_hash,
            unchained: v.unchained,
            broken: v.broken.map(|b| BrokenLink {
                event_id: b.event_id,
                seq: b.seq,
                problem: match b.fault {
                    Fault::ContentEdited => FaultView::ContentEdited,
                    Fault::EventMissing => FaultView::EventMissing,
                    Fault::Reordered => FaultView::Reordered,
                    Fault::LinkBroken => FaultView::LinkBroken,
                },
                detail: b.detail,
            }),
        }
    }
}

/// Checks the workspace's audit hash chain and reports the first broken link (owner, admin).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit-events/verify", tag = "audit",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug")),
    responses((status = 200, body = AuditVerification),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn verify(
    State(state): State<AppState>,
    access: Access,
) -> ApiResult<axum::Json<AuditVerification>> {
    let report = state.core.verify_audit_log(&access).await?;
    Ok(axum::Json(report.into()))
}

/// Events per page while exporting.
const EXPORT_PAGE: u32 = 200;

/// Every matching event, newest first, streamed as CSV or as a JSON array (owner, admin).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit-events/export", tag = "audit",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), ExportQuery),
    responses((status = 200, description = "`format=csv`: CSV with a header row; `format=json`: a JSON array",
            content((String = "text/csv"), (Vec<AuditEventView> = "application/json"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn export(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let csv = match q.format.as_str() {
        "csv" => true,
        "json" => false,
        _ => return Err(Error::invalid("format", "invalid", "`csv` or `json`").into()),
    };
    let filter = AuditFilter {
        action: q.action,
        actor_id: q.actor,
        target_id: q.target,
        from: q.from,
        to: q.to,
        ..AuditFilter::default()
    };
    Ok(exported(state, access, filter, csv).await?)
}

/// Every event `filter` matches, newest first, as a streamed CSV or JSON attachment (the
/// console's export too). The first page is read before answering, so that a refusal is the
/// caller's to render.
pub async fn exported(
    state: AppState,
    access: Access,
    filter: AuditFilter,
    csv: bool,
) -> Result<Response, Error> {
    let first = state
        .core
        .audit_events(&access, &filter, &PageRequest::first(EXPORT_PAGE))
        .await?;
    let stream = futures_util::stream::unfold(
        (Some(first), true, state, access, filter),
        move |(page, first_chunk, state, access, filter)| async move {
            let page: Page<AuditEvent> = page?;
            let next = match page.next_cursor {
                Some(cursor) => {
                    let request = PageRequest {
                        after: Some(cursor),
                        ..PageRequest::first(EXPORT_PAGE)
                    };
                    match state.core.audit_events(&access, &filter, &request).await {
                        Ok(p) => Some(p),
                        Err(e) => {
                            tracing::error!(error = %e, "audit export stopped");
                            return Some((
                                Err(std::io::Error::other("export failed")),
                                (None, false, state, access, filter),
                            ));
                        }
                    }
                }
                None => None,
            };
            let last = next.is_none();
            let chunk = if csv {
                csv_chunk(&page.data, first_chunk)
            } else {
                json_chunk(&page.data, first_chunk, last)
            };
            Some((
                Ok::<Bytes, std::io::Error>(chunk),
                (next, false, state, access, filter),
            ))
        },
    );
    let (content_type, name) = if csv {
        ("text/csv; charset=utf-8", "audit-events.csv")
    } else {
        ("application/json", "audit-events.json")
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

const CSV_HEADER: [&str; 11] = [
    "id",
    "created_at",
    "action",
    "actor_id",
    "target_type",
    "target_id",
    "before",
    "after",
    "ip",
    "user_agent",
    "workspace_id",
];

/// A cell as written to CSV: text that a spreadsheet would run as a formula is quoted with `'`.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn csv_chunk(events: &[AuditEvent], with_header: bool) -> Bytes {
    let mut w = csv::Writer::from_writer(Vec::new());
    if with_header {
        let _ = w.write_record(CSV_HEADER);
    }
    let opt = |v: Option<String>| v.unwrap_or_default();
    for e in events {
        let _ = w.write_record([
            e.id.to_string(),
            e.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            cell(&e.action),
            opt(e.actor_id.map(|a| a.to_string())),
            cell(&e.target_type),
            cell(&opt(e.target_id.clone())),
            cell(&opt(e.before.as_ref().map(Value::to_string))),
            cell(&opt(e.after.as_ref().map(Value::to_string))),
            cell(&opt(e.ip.clone())),
            cell(&opt(e.user_agent.clone())),
            opt(e.workspace_id.map(|w| w.to_string())),
        ]);
    }
    Bytes::from(w.into_inner().unwrap_or_default())
}

fn json_chunk(events: &[AuditEvent], first: bool, last: bool) -> Bytes {
    let mut out = String::new();
    if first {
        out.push('[');
    }
    for (i, e) in events.iter().enumerate() {
        if !(first && i == 0) {
            out.push(',');
        }
        let view = AuditEventView::from(e.clone());
        out.push_str(&serde_json::to_string(&view).unwrap_or_else(|_| "null".into()));
    }
    if last {
        out.push(']');
    }
    Bytes::from(out)
}
