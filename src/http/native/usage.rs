//! `/v1/workspaces/{ws}/usage`: record batches of metered events (idempotent by
//! `Idempotency-Key`) and read totals, series, the plan and this month's standing.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    app::AppState,
    domain::{
        usage::{
            EventInput, Granularity, MeterTotal, RecordedBatch, UsageBucket, UsageQuery,
            UsageReport,
        },
        workspace::Access,
        Error,
    },
    http::{
        extract::{Json, Query},
        problem::{ApiResult, Problem},
    },
};

/// The header that makes a batch idempotent.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// One metered event.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageEventBody {
    /// `location_events`, `action_deliveries`, or any meter name (a-z, 0-9, `_`, `.`, `-`).
    meter: String,
    /// Default 1; 1 to 1,000,000.
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "crate::http::extract::whole_number")]
    quantity: Option<i64>,
    /// Default: now. At most 35 days old, not in the future.
    occurred_at: Option<DateTime<Utc>>,
}

/// A batch of 1 to 1,000 events, recorded all together or not at all.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageBatchBody {
    events: Vec<UsageEventBody>,
}

/// A meter's total.
#[derive(Serialize, ToSchema)]
pub struct MeterTotalView {
    meter: String,
    quantity: i64,
    event_units: f64,
}

impl From<MeterTotal> for MeterTotalView {
    fn from(t: MeterTotal) -> Self {
        MeterTotalView {
            meter: t.meter,
            quantity: t.quantity,
            event_units: t.units.as_f64(),
        }
    }
}

/// What a batch recorded. A retry with the same `Idempotency-Key` gets the same answer, with
/// `replayed: true`, and counts nothing.
#[derive(Serialize, ToSchema)]
pub struct RecordedView {
    events: u64,
    event_units: f64,
    meters: Vec<MeterTotalView>,
    recorded_at: DateTime<Utc>,
    replayed: bool,
}

impl RecordedView {
    fn new(b: RecordedBatch, replayed: bool) -> Self {
        RecordedView {
            events: b.events,
            event_units: b.units.as_f64(),
            meters: b.meters.into_iter().map(Into::into).collect(),
            recorded_at: b.recorded_at,
            replayed,
        }
    }
}

/// Records a batch of usage events (an API key whose holder has `usage:record`).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/usage/events", tag = "usage",
    security(("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retries within 24 h get the first answer and count nothing")),
    request_body = UsageBatchBody,
    responses((status = 200, body = RecordedView),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "the key was used for a different batch", body = Problem),
        (status = 422, body = Problem),
        (status = 429, description = "`quota_exceeded`: the plan's monthly allowance would be passed; `Retry-After` until the month turns", body = Problem)))]
pub async fn record(
    State(state): State<AppState>,
    access: Access,
    headers: HeaderMap,
    Json(body): Json<UsageBatchBody>,
) -> ApiResult<Response> {
    let key = match headers.get(IDEMPOTENCY_KEY) {
        Some(v) => Some(v.to_str().map_err(|_| {
            Error::invalid(
                "Idempotency-Key",
                "invalid",
                "must be 1 to 255 visible ASCII characters",
            )
        })?),
        None => None,
    };
    let events: Vec<EventInput> = body
        .events
        .into_iter()
        .map(|e| EventInput {
            meter: e.meter,
            quantity: e.quantity,
            occurred_at: e.occurred_at,
        })
        .collect();
    let recorded = state.core.record_usage(&access, &events, key).await?;
    let mut response =
        axum::Json(RecordedView::new(recorded.batch, recorded.replayed)).into_response();
    if recorded.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// Inclusive; default: the start of this month (UTC).
    from: Option<DateTime<Utc>>,
    /// Exclusive; default: now.
    to: Option<DateTime<Utc>>,
    /// `hour`, `day` (default) or `month`, in UTC.
    #[param(pattern = "^(hour|day|month)$")]
    granularity: Option<String>,
}

/// A plan and its allowance.
#[derive(Serialize, ToSchema)]
pub struct PlanView {
    name: String,
    /// Event units a month; null: unlimited.
    monthly_units: Option<u64>,
    /// Whether usage past the allowance is accepted.
    overage: bool,
}

/// This month's standing against the plan.
#[derive(Serialize, ToSchema)]
pub struct MonthView {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    event_units_used: f64,
    /// Null when the plan is unlimited.
    event_units_remaining: Option<f64>,
}

/// One bucket of the series.
#[derive(Serialize, ToSchema)]
pub struct BucketView {
    start: DateTime<Utc>,
    event_units: f64,
    meters: Vec<MeterTotalView>,
}

impl From<UsageBucket> for BucketView {
    fn from(b: UsageBucket) -> Self {
        BucketView {
            start: b.start,
            event_units: b.units.as_f64(),
            meters: b.meters.into_iter().map(Into::into).collect(),
        }
    }
}

/// Usage of a period: the rollup hours starting in `[from, to)`.
#[derive(Serialize, ToSchema)]
pub struct UsageReportView {
    workspace_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    granularity: String,
    plan: PlanView,
    month: MonthView,
    totals: Vec<MeterTotalView>,
    event_units: f64,
    series: Vec<BucketView>,
}

impl UsageReportView {
    fn new(workspace_id: Uuid, r: UsageReport) -> Self {
        UsageReportView {
            workspace_id,
            from: r.from,
            to: r.to,
            granularity: r.granularity.as_str().to_owned(),
            plan: PlanView {
                name: r.plan.name,
                monthly_units: r.plan.monthly_units,
                overage: r.plan.overage,
            },
            month: MonthView {
                start: r.month.start,
                end: r.month.end,
                event_units_used: r.month.used.as_f64(),
                event_units_remaining: r.month.remaining.map(|u| u.as_f64()),
            },
            totals: r.totals.into_iter().map(Into::into).collect(),
            event_units: r.units.as_f64(),
            series: r.series.into_iter().map(Into::into).collect(),
        }
    }
}

/// Usage totals, a series, the plan and what remains this month (owner, admin).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/usage", tag = "usage",
    security(("bearer" = []), ("api_key" = [])),
    params(("ws" = String, Path, description = "Workspace id or slug"), UsageParams),
    responses((status = 200, body = UsageReportView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn report(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<UsageParams>,
) -> ApiResult<axum::Json<UsageReportView>> {
    let granularity = match q.granularity.as_deref() {
        None => Granularity::Day,
        Some(g) => Granularity::parse(g)
            .ok_or_else(|| Error::invalid("granularity", "invalid", "`hour`, `day` or `month`"))?,
    };
    let query = UsageQuery {
        from: q.from,
        to: q.to,
        granularity: Some(granularity),
    };
    let report = state.core.usage_report(&access, &query).await?;
    Ok(axum::Json(UsageReportView::new(
        access.workspace.id,
        report,
    )))
}
