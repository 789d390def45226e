//! Logs (`tracing`, text or JSON) and Prometheus metrics: the recorder, and the middleware that
//! counts requests by route and status, times them, and logs each internal error once.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::{config::LogFormat, http::problem::InternalErrorReport};

/// Installs the global log subscriber; `RUST_LOG` overrides the default `info` filter.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry.with(fmt::layer().json()).try_init(),
        LogFormat::Text => registry.with(fmt::layer()).try_init(),
    };
}

/// How often the histograms' samples are folded into their buckets.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(1);

/// The process-wide Prometheus recorder (installed once, shared by every app in the process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0, 10.0,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed, in which case ours stays private.
            let _ = metrics::set_global_recorder(recorder);
            // The recorder keeps every histogram sample until an upkeep folds it into the
            // buckets; without one (or a scrape) each request's timing stayed in memory, some
            // 20 bytes a request (docs/BENCHMARKS.md, issue 16). `build_recorder` starts none.
            let upkept = handle.clone();
            let started = std::thread::Builder::new()
                .name("roster-metrics".into())
                .spawn(move || loop {
                    std::thread::sleep(METRICS_UPKEEP);
                    upkept.run_upkeep();
                });
            if let Err(e) = started {
                tracing::warn!(error = %e, "no metrics upkeep thread: histograms fold only when scraped");
            }
            handle
        })
        .clone()
}

/// Counts and times every request by route template (never the raw path, which may carry a
/// secret) and logs the detail of an internal error once, inside the request's span.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    if let Some(InternalErrorReport(detail)) = response.extensions().get::<InternalErrorReport>() {
        tracing::error!(%method, %route, error = %detail, "internal error");
    }
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}
