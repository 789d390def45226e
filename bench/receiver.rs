//! A webhook receiver for `bench/run`: answers every POST at once with 204 and records when it
//! arrived against the event's own `timestamp` (the time of the change that made it), so that
//! the commit-to-receipt latency and the delivery rate can be read from `GET /stats`;
//! `POST /reset` starts over. It checks no signature (the tests do that, with the
//! `standardwebhooks` package): it must not be what limits the rate.
//!
//!   bench-receiver 127.0.0.1:PORT

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::{get, post},
    Json, Router,
};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
    count: u64,
    latencies_us: Vec<i64>,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

type Shared = Arc<Mutex<Seen>>;

async fn receive(State(seen): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = Utc::now();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let at = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["timestamp"].as_str().map(str::to_owned))
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok());
    let Ok(mut s) = seen.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    s.count += 1;
    s.ids.insert(id);
    if let Some(at) = at {
        s.latencies_us.push(
            (now - at.with_timezone(&Utc))
                .num_microseconds()
                .unwrap_or(i64::MAX),
        );
    }
    s.first.get_or_insert(now);
    s.last = Some(now);
    StatusCode::NO_CONTENT
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

async fn stats(State(seen): State<Shared>) -> Json<Value> {
    let Ok(s) = seen.lock() else {
        return Json(json!({"error": "poisoned"}));
    };
    let mut l = s.latencies_us.clone();
    l.sort_unstable();
    Json(json!({
        "count": s.count,
        "unique": s.ids.len(),
        "first_ms": s.first.map(|t| t.timestamp_millis()),
        "last_ms": s.last.map(|t| t.timestamp_millis()),
        "p50_ms": percentile(&l, 0.50),
        "p99_ms": percentile(&l, 0.99),
        "max_ms": percentile(&l, 1.0),
    }))
}

async fn reset(State(seen): State<Shared>) -> StatusCode {
    if let Ok(mut s) = seen.lock() {
        *s = Seen::default();
    }
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: bench-receiver 127.0.0.1:PORT"))?;
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/stats", get(stats))
        .route("/reset", post(reset))
        .route("/hook", post(receive))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
