//! Usage metering: batches counted exactly into hourly rollups, idempotent by key, refused whole
//! past the plan's monthly allowance (also when many batches race), and read back by period.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use roster::{
    config::PlanSettings,
    domain::{
        audit::Actor,
        session::RequestMeta,
        workspace::{WorkspaceRef, WorkspaceSelector},
    },
};
use serde_json::{json, Value};

use crate::{
    helpers::{Account, Resp, TestApp},
    on_both_databases,
};

on_both_databases!(
    a_batch_is_counted_into_exact_hourly_rollups_and_read_back_by_hour_day_and_month,
    parallel_batches_with_retries_are_counted_exactly_once,
    the_quota_refuses_the_batch_that_would_overshoot_even_when_batches_race,
    a_plan_with_overage_accepts_usage_past_its_allowance,
    a_retry_gets_the_first_answer_and_a_different_batch_under_the_same_key_is_refused,
    a_bad_batch_is_refused_whole_and_counts_nothing,
    only_an_api_key_of_an_owner_or_admin_records_usage,
    the_current_day_gives_every_field_of_spatialflows_usage_response,
    an_operator_puts_a_workspace_on_a_plan_and_the_workspace_shows_it,
    a_report_with_a_bad_period_or_granularity_is_refused,
);

/// An owner with a workspace and a write API key for it: (owner, workspace id, key).
async fn metered(app: &TestApp, email: &str) -> (Account, String, String) {
    let owner = app.signup(email, "Meter Owner").await;
    let ws = app.workspace(&owner.access, "Metered").await;
    let (_, key) = app.api_key(&owner.access, json!({})).await;
    (owner, ws["id"].as_str().expect("id").to_owned(), key)
}

async fn ingest(app: &TestApp, ws: &str, key: &str, idem: Option<&str>, events: Value) -> Resp {
    let mut req = app
        .client
        .post(app.url(&format!("/v1/workspaces/{ws}/usage/events")))
        .bearer_auth(key)
        .json(&json!({ "events": events }));
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k);
    }
    app.send(req).await
}

fn locations(n: usize) -> Value {
    Value::Array(vec![json!({"meter": "location_events"}); n])
}

/// Rows summed with a cast, so both backends return an integer.
async fn sum(app: &TestApp, column: &str, table: &str, ws: &str) -> i64 {
    let ws = uuid::Uuid::parse_str(ws).expect("uuid");
    let key = match app.raw {
        crate::helpers::Raw::Sqlite(_) => format!("x'{}'", ws.simple()),
        crate::helpers::Raw::Postgres(_) => format!("'{ws}'"),
    };
    app.raw
        .count(&format!(
            "SELECT CAST(COALESCE(SUM({column}), 0) AS BIGINT) FROM {table} WHERE workspace_id = {key}"
        ))
        .await
}

fn plans(entries: &[(&str, Option<u64>, bool)]) -> BTreeMap<String, PlanSettings> {
    entries
        .iter()
        .map(|(name, monthly_units, overage)| {
            (
                (*name).to_owned(),
                PlanSettings {
                    monthly_units: *monthly_units,
                    overage: *overage,
                },
            )
        })
        .collect()
}

fn hour_start(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp() - t.timestamp().rem_euclid(3600), 0).expect("hour")
}

async fn a_batch_is_counted_into_exact_hourly_rollups_and_read_back_by_hour_day_and_month(
    app: TestApp,
) {
    let (owner, ws, key) = metered(&app, "rollups@example.com").await;
    let now = app.state.core.clock.now();
    let this_hour = hour_start(now);
    let two_hours_ago = this_hour - chrono::Duration::hours(2);
    let at = |t: DateTime<Utc>, m: i64| (t + chrono::Duration::minutes(m)).to_rfc3339();
    let events = json!([
        {"meter": "location_events", "occurred_at": at(two_hours_ago, 1)},
        {"meter": "location_events", "quantity": 4, "occurred_at": at(two_hours_ago, 59)},
        {"meter": "action_deliveries", "quantity": 3, "occurred_at": at(two_hours_ago, 30)},
        {"meter": "location_events"},
        {"meter": "api.calls", "quantity": 7},
    ]);
    let r = ingest(&app, &ws, &key, None, events).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["events"], 5);
    // 1 + 4 + 1 locations, 3 deliveries at half a unit, 7 calls of an unconfigured meter.
    assert_eq!(r.body["event_units"], 14.5);
    assert_eq!(r.body["replayed"], false);
    assert_eq!(
        r.body["meters"],
        json!([
            {"meter": "action_deliveries", "quantity": 3, "event_units": 1.5},
            {"meter": "api.calls", "quantity": 7, "event_units": 7.0},
            {"meter": "location_events", "quantity": 6, "event_units": 6.0},
        ])
    );
    // Two hours x their meters, each one row.
    assert_eq!(app.rows("usage_hourly", "").await, 4);
    assert_eq!(sum(&app, "quantity", "usage_hourly", &ws).await, 16);
    assert_eq!(sum(&app, "units", "usage_hourly", &ws).await, 14_500);
    assert_eq!(sum(&app, "units", "usage_monthly", &ws).await, 14_500);

    let from = two_hours_ago.to_rfc3339();
    let to = (this_hour + chrono::Duration::hours(1)).to_rfc3339();
    let path = |g: &str| {
        format!(
            "/v1/workspaces/{ws}/usage?granularity={g}&from={}&to={}",
            urlencoding(&from),
            urlencoding(&to)
        )
    };
    let hourly = app.get(&path("hour"), &owner.access).await;
    assert_eq!(hourly.status, 200, "{}", hourly.text);
    assert_eq!(hourly.body["event_units"], 14.5);
    let series = hourly.body["series"].as_array().expect("series");
    assert_eq!(series.len(), 3, "{}", hourly.text);
    assert_eq!(series[0]["event_units"], 6.5);
    assert_eq!(series[1]["event_units"], 0.0);
    assert_eq!(series[1]["meters"], json!([]));
    assert_eq!(series[2]["event_units"], 8.0);
    assert_eq!(
        hourly.body["plan"],
        json!({"name": "free", "monthly_units": 50000, "overage": false})
    );

    let daily = app.get(&path("day"), &owner.access).await;
    assert_eq!(daily.status, 200, "{}", daily.text);
    let days: f64 = daily.body["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|b| b["event_units"].as_f64().expect("units"))
        .sum();
    assert_eq!(days, 14.5);
    assert_eq!(
        daily.body["totals"],
        json!([
            {"meter": "action_deliveries", "quantity": 3, "event_units": 1.5},
            {"meter": "api.calls", "quantity": 7, "event_units": 7.0},
            {"meter": "location_events", "quantity": 6, "event_units": 6.0},
        ])
    );

    // The default period is this month so far; the month's standing counts every unit of it.
    let monthly = app
        .get(
            &format!("/v1/workspaces/{ws}/usage?granularity=month"),
            &owner.access,
        )
        .await;
    assert_eq!(monthly.status, 200, "{}", monthly.text);
    let month_start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .expect("valid");
    assert_eq!(monthly.body["month"]["start"], json!(month_start));
    let counted_this_month = if two_hours_ago >= month_start {
        14.5
    } else {
        8.0
    };
    assert_eq!(
        monthly.body["month"]["event_units_used"],
        counted_this_month
    );
    assert_eq!(
        monthly.body["month"]["event_units_remaining"],
        50_000.0 - counted_this_month
    );
}

fn urlencoding(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

async fn parallel_batches_with_retries_are_counted_exactly_once(app: TestApp) {
    let (_, ws, key) = metered(&app, "parallel@example.com").await;
    // 100 batches of 50 events, each sent twice at once (a client retrying on a timeout).
    let mut tries = Vec::new();
    for batch in 0..100 {
        for _ in 0..2 {
            let (app, ws, key) = (&app, ws.clone(), key.clone());
            tries.push(async move {
                let events: Value = (0..50)
                    .map(|i| json!({"meter": if i % 5 == 0 { "action_deliveries" } else { "location_events" }}))
                    .collect();
                ingest(app, &ws, &key, Some(&format!("batch-{batch}")), events).await
            });
        }
    }
    let answers = futures_util::future::join_all(tries).await;
    let mut replays = 0;
    for r in &answers {
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["events"], 50);
        assert_eq!(r.body["event_units"], 45.0);
        if r.body["replayed"] == true {
            assert_eq!(r.header("idempotent-replayed"), Some("true"));
            replays += 1;
        }
    }
    assert_eq!(
        replays, 100,
        "each batch was counted once and replayed once"
    );
    assert_eq!(app.rows("usage_batches", "").await, 100);
    // 100 x (40 locations + 10 deliveries) = 4,000 + 1,000; units 4,000 + 500.
    assert_eq!(sum(&app, "quantity", "usage_hourly", &ws).await, 5_000);
    assert_eq!(sum(&app, "units", "usage_hourly", &ws).await, 4_500_000);
    assert_eq!(sum(&app, "units", "usage_monthly", &ws).await, 4_500_000);
}

async fn the_quota_refuses_the_batch_that_would_overshoot_even_when_batches_race(app: TestApp) {
    let app = app
        .another_on_same_database(|s| s.plans = Some(plans(&[("free", Some(1_000), false)])))
        .await;
    let (owner, ws, key) = metered(&app, "quota@example.com").await;
    // 30 batches of 100 units race for an allowance of 1,000: exactly 10 may pass.
    let tries = (0..30).map(|i| {
        let (app, ws, key) = (&app, ws.clone(), key.clone());
        async move { ingest(app, &ws, &key, Some(&format!("q-{i}")), locations(100)).await }
    });
    let answers = futures_util::future::join_all(tries).await;
    let now = app.state.core.clock.now();
    let next_month = if now.month() == 12 {
        Utc.with_ymd_and_hms(now.year() + 1, 1, 1, 0, 0, 0)
    } else {
        Utc.with_ymd_and_hms(now.year(), now.month() + 1, 1, 0, 0, 0)
    }
    .single()
    .expect("valid");
    let until_month_turns = (next_month - now).num_seconds();
    let mut passed = 0;
    for r in &answers {
        match r.status {
            200 => passed += 1,
            429 => {
                r.assert_problem(429, "quota_exceeded");
                let retry: i64 = r
                    .header("retry-after")
                    .expect("Retry-After")
                    .parse()
                    .expect("valid");
                assert!(
                    (until_month_turns - 60..=until_month_turns + 60).contains(&retry),
                    "Retry-After {retry} s, the month turns in {until_month_turns} s"
                );
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(passed, 10);
    assert_eq!(sum(&app, "units", "usage_monthly", &ws).await, 1_000_000);
    assert_eq!(sum(&app, "quantity", "usage_hourly", &ws).await, 1_000);
    // A refused batch left no idempotency record: once allowed, its retry is counted.
    assert_eq!(app.rows("usage_batches", "").await, 10);
    // Even one unit more is refused now, whole.
    let r = ingest(&app, &ws, &key, None, locations(1)).await;
    r.assert_problem(429, "quota_exceeded");
    let report = app
        .get(&format!("/v1/workspaces/{ws}/usage"), &owner.access)
        .await;
    assert_eq!(report.body["month"]["event_units_used"], 1000.0);
    assert_eq!(report.body["month"]["event_units_remaining"], 0.0);
}

async fn a_plan_with_overage_accepts_usage_past_its_allowance(app: TestApp) {
    let app = app
        .another_on_same_database(|s| {
            s.plans = Some(plans(&[
                ("free", Some(10), false),
                ("payg", Some(10), true),
            ]))
        })
        .await;
    let (owner, ws, key) = metered(&app, "overage@example.com").await;
    ingest(&app, &ws, &key, None, locations(11))
        .await
        .assert_problem(429, "quota_exceeded");
    let actor = Actor::new(None, &RequestMeta::default(), app.state.core.clock.now());
    app.state
        .core
        .set_plan(&WorkspaceRef::parse(&ws), "payg", &actor)
        .await
        .expect("set plan");
    let r = ingest(&app, &ws, &key, None, locations(11)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = ingest(&app, &ws, &key, None, locations(5)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let report = app
        .get(&format!("/v1/workspaces/{ws}/usage"), &owner.access)
        .await;
    assert_eq!(
        report.body["plan"],
        json!({"name": "payg", "monthly_units": 10, "overage": true})
    );
    assert_eq!(report.body["month"]["event_units_used"], 16.0);
    assert_eq!(report.body["month"]["event_units_remaining"], 0.0);
}

async fn a_retry_gets_the_first_answer_and_a_different_batch_under_the_same_key_is_refused(
    app: TestApp,
) {
    let (owner, ws, key) = metered(&app, "idem@example.com").await;
    let ws2 = app.workspace(&owner.access, "Second").await;
    let first = ingest(&app, &ws, &key, Some("k-1"), locations(3)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(first.header("idempotent-replayed").is_none());
    app.clock.advance(Duration::from_secs(3600));
    let again = ingest(&app, &ws, &key, Some("k-1"), locations(3)).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["recorded_at"], first.body["recorded_at"]);
    assert_eq!(sum(&app, "quantity", "usage_hourly", &ws).await, 3);

    let other = ingest(&app, &ws, &key, Some("k-1"), locations(4)).await;
    other.assert_problem(409, "idempotency_key_reused");
    assert_eq!(sum(&app, "quantity", "usage_hourly", &ws).await, 3);

    // The same key in another workspace is another batch.
    let ws2 = ws2["id"].as_str().expect("valid");
    let r = ingest(&app, ws2, &key, Some("k-1"), locations(2)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("idempotent-replayed").is_none());

    // After 24 hours the key is forgotten: the same batch counts again.
    app.clock.advance(Duration::from_secs(24 * 3600));
    let late = ingest(
        &app,
        &ws,
        &key,
        Some("k-1"),
        json!([{"meter": "location_events", "quantity": 3}]),
    )
    .await;
    assert_eq!(late.status, 200, "{}", late.text);
    assert!(late.header("idempotent-replayed").is_none());
    assert_eq!(sum(&app, "quantity", "usage_hourly", &ws).await, 6);

    let bad_key = ingest(&app, &ws, &key, Some(&"x".repeat(256)), locations(1)).await;
    bad_key.assert_problem(422, "validation_failed");
}

async fn a_bad_batch_is_refused_whole_and_counts_nothing(app: TestApp) {
    let (_, ws, key) = metered(&app, "bad-usage@example.com").await;
    let now = app.state.core.clock.now();
    let valid = json!({"meter": "location_events"});
    let cases: Vec<(Value, &str)> = vec![
        (json!([]), "events"),
        (locations(1001), "events"),
        (json!([valid, {"meter": "Bad Meter"}]), "events[1].meter"),
        (json!([valid, {"meter": ""}]), "events[1].meter"),
        (
            json!([valid, {"meter": "m", "quantity": 0}]),
            "events[1].quantity",
        ),
        (
            json!([valid, {"meter": "m", "quantity": -5}]),
            "events[1].quantity",
        ),
        (
            json!([valid, {"meter": "m", "quantity": 1_000_001}]),
            "events[1].quantity",
        ),
        (
            json!([valid, {"meter": "m", "occurred_at": (now - chrono::Duration::days(36)).to_rfc3339()}]),
            "events[1].occurred_at",
        ),
        (
            json!([valid, {"meter": "m", "occurred_at": (now + chrono::Duration::hours(1)).to_rfc3339()}]),
            "events[1].occurred_at",
        ),
    ];
    for (events, field) in cases {
        let r = ingest(&app, &ws, &key, Some("bad"), events).await;
        r.assert_problem(422, "validation_failed");
        let fields: Vec<&str> = r.body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{field} in {}", r.text);
    }
    // Shapes the decoder refuses.
    for body in [
        json!({"events": [{"meter": "m", "quantity": "1"}]}),
        json!({"events": [{"meter": "m", "occurred_at": "yesterday"}]}),
        json!({"events": [{"meter": "m", "extra": 1}]}),
        json!({"events": {"meter": "m"}}),
        json!({}),
    ] {
        let r = app
            .send(
                app.client
                    .post(app.url(&format!("/v1/workspaces/{ws}/usage/events")))
                    .bearer_auth(&key)
                    .json(&body),
            )
            .await;
        assert!(
            r.status == 400 || r.status == 422,
            "{body}: {} {}",
            r.status,
            r.text
        );
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    assert_eq!(app.rows("usage_hourly", "").await, 0);
    assert_eq!(app.rows("usage_monthly", "").await, 0);
    assert_eq!(app.rows("usage_batches", "").await, 0);
    // A good batch with 35-day-old and just-now events is taken.
    let r = ingest(
        &app,
        &ws,
        &key,
        None,
        json!([{"meter": "m", "occurred_at": (now - chrono::Duration::days(34)).to_rfc3339()}, valid]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn only_an_api_key_of_an_owner_or_admin_records_usage(app: TestApp) {
    let (owner, ws, owner_key) = metered(&app, "who-meters@example.com").await;
    let admin = app.signup("meter-admin@example.com", "Admin").await;
    let editor = app.signup("meter-editor@example.com", "Editor").await;
    let stranger = app.signup("meter-stranger@example.com", "Stranger").await;
    app.add(&owner.access, &ws, &admin, "admin").await;
    app.add(&owner.access, &ws, &editor, "editor").await;
    let (_, admin_key) = app.api_key(&admin.access, json!({})).await;
    let (_, editor_key) = app.api_key(&editor.access, json!({})).await;
    let (_, stranger_key) = app.api_key(&stranger.access, json!({})).await;
    let (_, read_only) = app.api_key(&owner.access, json!({"read_only": true})).await;

    ingest(&app, &ws, &owner.access, None, locations(1))
        .await
        .assert_problem(403, "api_key_required");
    ingest(&app, &ws, &editor_key, None, locations(1))
        .await
        .assert_problem(403, "insufficient_role");
    ingest(&app, &ws, &read_only, None, locations(1))
        .await
        .assert_problem(403, "api_key_read_only");
    ingest(&app, &ws, &stranger_key, None, locations(1))
        .await
        .assert_problem(404, "not_found");
    assert_eq!(app.rows("usage_hourly", "").await, 0);

    for key in [&owner_key, &admin_key] {
        let r = ingest(&app, &ws, key, None, locations(2)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(sum(&app, "quantity", "usage_hourly", &ws).await, 4);

    let path = format!("/v1/workspaces/{ws}/usage");
    assert_eq!(app.get(&path, &owner.access).await.status, 200);
    assert_eq!(app.get(&path, &admin_key).await.status, 200);
    app.get(&path, &editor.access)
        .await
        .assert_problem(403, "insufficient_role");
    app.get(&path, &stranger.access)
        .await
        .assert_problem(404, "not_found");
}

async fn the_current_day_gives_every_field_of_spatialflows_usage_response(app: TestApp) {
    let (_, ws, key) = metered(&app, "today@example.com").await;
    let now = app.state.core.clock.now();
    let yesterday = (now - chrono::Duration::hours(25)).to_rfc3339();
    let r = ingest(
        &app,
        &ws,
        &key,
        None,
        json!([
            {"meter": "location_events", "quantity": 10},
            {"meter": "action_deliveries", "quantity": 3},
            {"meter": "other", "quantity": 100},
            {"meter": "location_events", "quantity": 1000, "occurred_at": yesterday},
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let access = app
        .state
        .core
        .authorize(&key, &WorkspaceSelector::Path(WorkspaceRef::parse(&ws)))
        .await
        .expect("access");
    let today = app.state.core.usage_today(&access).await.expect("today");
    assert_eq!(today.location_events, 10);
    assert_eq!(today.action_deliveries, 3);
    assert_eq!(today.units.as_f64(), 11.5);
    assert_eq!(today.tier, "free");
    assert_eq!(today.tier_limit, Some(50_000));
    assert_eq!(
        today.period_start,
        Utc.with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
            .single()
            .expect("valid")
    );
    assert!(today.period_end >= now && today.period_end > today.period_start);

    app.state
        .core
        .set_plan(
            &WorkspaceRef::parse(&ws),
            "enterprise",
            &Actor::new(None, &RequestMeta::default(), now),
        )
        .await
        .expect("plan");
    let access = app
        .state
        .core
        .authorize(&key, &WorkspaceSelector::Path(WorkspaceRef::parse(&ws)))
        .await
        .expect("access");
    let today = app.state.core.usage_today(&access).await.expect("today");
    assert_eq!(
        (today.tier.as_str(), today.tier_limit),
        ("enterprise", None)
    );
}

async fn an_operator_puts_a_workspace_on_a_plan_and_the_workspace_shows_it(app: TestApp) {
    let (owner, ws, _) = metered(&app, "plans@example.com").await;
    let slug = app
        .get(&format!("/v1/workspaces/{ws}"), &owner.access)
        .await
        .body["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    assert_eq!(
        app.get(&format!("/v1/workspaces/{ws}"), &owner.access)
            .await
            .body["plan"],
        "free"
    );
    let core = &app.state.core;
    let actor = Actor::new(None, &RequestMeta::default(), core.clock.now());
    let changed = core
        .set_plan(&WorkspaceRef::parse(&slug), "pro", &actor)
        .await
        .expect("set plan");
    assert_eq!(changed.plan, "pro");
    let read = app
        .get(&format!("/v1/workspaces/{ws}"), &owner.access)
        .await;
    assert_eq!(read.body["plan"], "pro");
    assert_eq!(
        app.rows("audit_events", "action = 'workspace.plan_changed'")
            .await,
        1
    );
    let err = core
        .set_plan(&WorkspaceRef::parse(&ws), "platinum", &actor)
        .await
        .expect_err("unknown plan");
    assert!(
        matches!(err, roster::domain::Error::Validation(_)),
        "{err:?}"
    );
    let err = core
        .set_plan(&WorkspaceRef::parse("no-such-workspace"), "pro", &actor)
        .await
        .expect_err("unknown workspace");
    assert!(matches!(err, roster::domain::Error::NotFound), "{err:?}");
    let report = app
        .get(&format!("/v1/workspaces/{ws}/usage"), &owner.access)
        .await;
    assert_eq!(
        report.body["plan"],
        json!({"name": "pro", "monthly_units": 5_000_000, "overage": false})
    );
}

async fn a_report_with_a_bad_period_or_granularity_is_refused(app: TestApp) {
    let (owner, ws, _) = metered(&app, "periods@example.com").await;
    for query in [
        "granularity=week",
        "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
        "granularity=hour&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
        "granularity=day&from=2020-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
    ] {
        app.get(&format!("/v1/workspaces/{ws}/usage?{query}"), &owner.access)
            .await
            .assert_problem(422, "validation_failed");
    }
    let r = app
        .get(
            &format!("/v1/workspaces/{ws}/usage?from=not-a-date"),
            &owner.access,
        )
        .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.text);
    let r = app
        .get(
            &format!("/v1/workspaces/{ws}/usage?granularity=month&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"),
            &owner.access,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["series"].as_array().map(Vec::len), Some(72));
    assert_eq!(r.body["event_units"], 0.0);
}
