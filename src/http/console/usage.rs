//! A workspace's usage: this month against the plan, and a chart per meter of each day so far,
//! drawn here as SVG (bars computed from the report; no script).

use askama::Template;
use axum::{extract::State, http::StatusCode, response::Response};

use super::{refused, render, InWorkspace, Shell};
use crate::{
    app::AppState,
    domain::usage::{Granularity, Units, UsageQuery, UsageReport},
};

/// The chart's drawing area, in SVG units.
const WIDTH: f64 = 620.0;
const HEIGHT: f64 = 160.0;
/// Room left of the bars for the scale's labels.
const LEFT: f64 = 40.0;

pub struct Bar {
    x: String,
    y: String,
    width: String,
    height: String,
    /// What a screen reader and a hover say: the day and its quantity.
    label: String,
}

pub struct Chart {
    meter: String,
    total: i64,
    max: i64,
    bars: Vec<Bar>,
    /// The first and last day shown, under the axis.
    first_day: String,
    last_day: String,
}

#[derive(Template)]
#[template(path = "console/usage.html")]
struct UsagePage {
    shell: Shell,
    plan: String,
    used: String,
    allowance: Option<String>,
    /// Percent of the allowance used (0 to 100, for the meter element).
    percent: Option<u64>,
    remaining: Option<String>,
    overage: bool,
    period: String,
    charts: Vec<Chart>,
    width: f64,
    height: f64,
    left: f64,
}

fn units(u: Units) -> String {
    let v = u.as_f64();
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// One chart per meter that has any usage this month: a bar per day of the report.
fn charts(report: &UsageReport) -> Vec<Chart> {
    let days = report.series.len().max(1);
    let slot = (WIDTH - LEFT) / days as f64;
    report
        .totals
        .iter()
        .filter(|t| t.quantity > 0)
        .map(|total| {
            let per_day: Vec<(String, i64)> = report
                .series
                .iter()
                .map(|b| {
                    let q = b
                        .meters
                        .iter()
                        .find(|m| m.meter == total.meter)
                        .map_or(0, |m| m.quantity);
                    (b.start.format("%Y-%m-%d").to_string(), q)
                })
                .collect();
            let max = per_day.iter().map(|(_, q)| *q).max().unwrap_or(0).max(1);
            let bars = per_day
                .iter()
                .enumerate()
                .map(|(i, (day, q))| {
                    let h = HEIGHT * (*q as f64) / (max as f64);
                    Bar {
                        x: format!("{:.1}", LEFT + slot * i as f64 + slot * 0.1),
                        y: format!("{:.1}", HEIGHT - h),
                        width: format!("{:.1}", (slot * 0.8).max(1.0)),
                        height: format!("{h:.1}"),
                        label: format!("{day}: {q}"),
                    }
                })
                .collect();
            Chart {
                meter: total.meter.clone(),
                total: total.quantity,
                max,
                bars,
                first_day: per_day.first().map(|(d, _)| d.clone()).unwrap_or_default(),
                last_day: per_day.last().map(|(d, _)| d.clone()).unwrap_or_default(),
            }
        })
        .collect()
}

pub async fn page(State(state): State<AppState>, here: InWorkspace) -> Response {
    let query = UsageQuery {
        granularity: Some(Granularity::Day),
        ..UsageQuery::default()
    };
    let report = match state.core.usage_report(&here.access, &query).await {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    let month = &report.month;
    let allowance = report.plan.monthly_units;
    let percent = allowance.map(|a| {
        let used = month.used.as_f64().max(0.0);
        ((used / (a.max(1) as f64)) * 100.0).min(100.0) as u64
    });
    let page = UsagePage {
        plan: report.plan.name.clone(),
        used: units(month.used),
        allowance: allowance.map(|a| a.to_string()),
        percent,
        remaining: month.remaining.map(units),
        overage: report.plan.overage,
        period: format!(
            "{} to {}",
            month.start.format("%Y-%m-%d"),
            (month.end - chrono::Duration::seconds(1)).format("%Y-%m-%d")
        ),
        charts: charts(&report),
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        shell: here.shell("Usage", "usage"),
    };
    render(StatusCode::OK, &page)
}
