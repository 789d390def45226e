//! The audit log: every change writes its event (actor, action, target, before/after, IP, user
//! agent, time) in its own transaction; refused changes write none; filters, pages and exports.

use serde_json::{json, Value};

use crate::{helpers::TestApp, on_both_databases};

on_both_databases!(
    every_change_records_who_did_what_to_whom_from_where_and_a_refusal_records_nothing,
    audit_events_filter_by_action_actor_target_and_time_in_stable_pages,
    the_export_streams_every_matching_event_as_csv_or_json,
);

async fn call_as(
    app: &TestApp,
    agent: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> u16 {
    let mut req = app
        .client
        .request(method.parse().expect("method"), app.url(path))
        .bearer_auth(token)
        .header("user-agent", agent);
    if let Some(b) = body {
        req = req.json(&b);
    }
    app.send(req).await.status
}

async fn every_change_records_who_did_what_to_whom_from_where_and_a_refusal_records_nothing(
    app: TestApp,
) {
    let owner = app.signup("auditor@example.com", "Auditor").await;
    let member = app.signup("audited@example.com", "Audited").await;
    let ws = app.workspace(&owner.access, "Audited Co").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    let base = format!("/v1/workspaces/{id}");
    let agent = "audit-test/1.0";
    assert_eq!(
        call_as(
            &app,
            agent,
            "PATCH",
            &base,
            &owner.access,
            Some(json!({"description": "new", "timezone": "UTC"}))
        )
        .await,
        200
    );
    assert_eq!(
        call_as(
            &app,
            agent,
            "POST",
            &format!("{base}/members"),
            &owner.access,
            Some(json!({"user_id": member.id, "role": "editor"}))
        )
        .await,
        201
    );
    assert_eq!(
        call_as(
            &app,
            agent,
            "PATCH",
            &format!("{base}/members/{}", member.id),
            &owner.access,
            Some(json!({"role": "admin"}))
        )
        .await,
        200
    );
    // Refused: the last owner cannot demote themself. No event may be written for it.
    assert_eq!(
        call_as(
            &app,
            agent,
            "PATCH",
            &format!("{base}/members/{}", owner.id),
            &owner.access,
            Some(json!({"role": "viewer"}))
        )
        .await,
        409
    );
    assert_eq!(
        call_as(
            &app,
            agent,
            "DELETE",
            &format!("{base}/members/{}", member.id),
            &owner.access,
            None
        )
        .await,
        204
    );
    assert_eq!(
        call_as(
            &app,
            agent,
            "POST",
            &format!("{base}/revoke-sessions"),
            &owner.access,
            None
        )
        .await,
        200
    );
    let token = app.login(&owner.email, &owner.password).await["access_token"]
        .as_str()
        .expect("t")
        .to_owned();

    let r = app
        .get(&format!("{base}/audit-events?limit=200"), &token)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let events = r.body["data"].as_array().expect("data");
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().expect("a"))
        .collect();
    assert_eq!(
        actions,
        [
            "workspace.sessions_revoked",
            "member.removed",
            "member.role_changed",
            "member.added",
            "workspace.updated",
            "member.added",
            "workspace.created",
        ]
    );
    assert_eq!(r.body["total"], 7);
    for e in &events[..5] {
        assert_eq!(e["actor_id"], owner.id.as_str());
        assert_eq!(e["ip"], "127.0.0.1");
        assert_eq!(e["user_agent"], agent);
        assert!(e["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
    let changed = &events[2];
    assert_eq!(changed["target_type"], "user");
    assert_eq!(changed["target_id"], member.id.as_str());
    assert_eq!(changed["before"], json!({"role": "editor"}));
    assert_eq!(changed["after"], json!({"role": "admin"}));
    let updated = &events[4];
    assert_eq!(
        updated["before"],
        json!({"description": null, "timezone": null})
    );
    assert_eq!(
        updated["after"],
        json!({"description": "new", "timezone": "UTC"})
    );
    assert_eq!(
        events[0]["after"],
        json!({"sessions_ended": 1}),
        "only the owner is left to sign out"
    );
    assert_eq!(
        app.rows("audit_events", "action = 'member.role_changed'")
            .await,
        1
    );
    // Account-level events are kept too, outside any workspace's log.
    assert_eq!(
        app.rows(
            "audit_events",
            "workspace_id IS NULL AND action = 'user.signed_up'"
        )
        .await,
        2
    );
    assert_eq!(
        app.rows("audit_events", "action = 'session.started'").await,
        3
    );
}

async fn audit_events_filter_by_action_actor_target_and_time_in_stable_pages(app: TestApp) {
    let owner = app.signup("filter@example.com", "Filter").await;
    let admin = app.signup("filter-admin@example.com", "Filter Admin").await;
    let ws = app.workspace(&owner.access, "Filtered").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    let base = format!("/v1/workspaces/{id}");
    app.add(&owner.access, &id, &admin, "admin").await;
    let start = app.state.core.clock.now();
    let mut viewers = Vec::new();
    for i in 0..6 {
        let v = app.signup(&format!("v{i}@example.com"), "V").await;
        app.add(&admin.access, &id, &v, "viewer").await;
        viewers.push(v);
    }
    let q = |query: &str| format!("{base}/audit-events?{query}");
    let r = app.get(&q("action=member.added"), &owner.access).await;
    assert_eq!(r.body["total"], 8);
    let r = app
        .get(&q(&format!("actor={}", admin.id)), &owner.access)
        .await;
    assert_eq!(r.body["total"], 6);
    assert!(r.body["data"]
        .as_array()
        .expect("d")
        .iter()
        .all(|e| e["actor_id"] == admin.id.as_str()));
    let r = app
        .get(&q(&format!("target={}", viewers[3].id)), &owner.access)
        .await;
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["data"][0]["target_id"], viewers[3].id.as_str());
    let from = start.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let r = app.get(&q(&format!("from={from}")), &owner.access).await;
    assert_eq!(r.body["total"], 6, "{}", r.text);
    let r = app.get(&q(&format!("to={from}")), &owner.access).await;
    assert_eq!(
        r.body["total"], 3,
        "created, owner added, admin added: before the viewers"
    );
    app.get(&q("from=yesterday"), &owner.access)
        .await
        .assert_problem(400, "invalid_query");

    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let r = app
            .get(&q(&format!("limit=3&cursor={cursor}")), &owner.access)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(
            r.body["data"]
                .as_array()
                .expect("d")
                .iter()
                .map(|e| e["id"].clone()),
        );
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    let total = app.get(&q(""), &owner.access).await.body["total"]
        .as_u64()
        .expect("total");
    assert_eq!(seen.len() as u64, total);
    let mut unique = seen.clone();
    unique.sort_by_key(|v| v.to_string());
    unique.dedup();
    assert_eq!(unique.len(), seen.len());
}

async fn the_export_streams_every_matching_event_as_csv_or_json(app: TestApp) {
    let owner = app.signup("export@example.com", "Export").await;
    let ws = app.workspace(&owner.access, "Exported").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    let base = format!("/v1/workspaces/{id}");
    // More events than one export page, and a user agent a spreadsheet would run as a formula.
    for i in 0..230 {
        let status = call_as(
            &app,
            "=HYPERLINK(\"http://evil\")",
            "PATCH",
            &base,
            &owner.access,
            Some(json!({"description": format!("rev {i}")})),
        )
        .await;
        assert_eq!(status, 200);
    }
    let total = app
        .get(&format!("{base}/audit-events"), &owner.access)
        .await
        .body["total"]
        .as_u64()
        .expect("total");
    assert_eq!(total, 232);

    let r = app
        .get(
            &format!("{base}/audit-events/export?format=json"),
            &owner.access,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let all = r.body.as_array().expect("array");
    assert_eq!(all.len() as u64, total);
    assert_eq!(all[0]["after"], json!({"description": "rev 229"}));
    assert_eq!(all.last().expect("last")["action"], "workspace.created");

    let r = app
        .get(
            &format!("{base}/audit-events/export?format=csv&action=workspace.updated"),
            &owner.access,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/csv")));
    assert!(r
        .header("content-disposition")
        .is_some_and(|c| c.contains("audit-events.csv")));
    let mut reader = csv::Reader::from_reader(r.text.as_bytes());
    let headers = reader.headers().expect("header").clone();
    assert_eq!(&headers[2], "action");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 230);
    assert!(rows.iter().all(|r| &r[2] == "workspace.updated"));
    assert!(
        rows.iter().all(|r| r[9].starts_with("'=")),
        "formula not neutralised: {:?}",
        &rows[0]
    );

    app.get(
        &format!("{base}/audit-events/export?format=xml"),
        &owner.access,
    )
    .await
    .assert_problem(422, "validation_failed");
}
