//! Tenancy: with ids from another workspace, every workspace-scoped operation, as every role and
//! with both an access token and an API key, answers 404 and changes nothing.

use serde_json::{json, Value};

use crate::{helpers::TestApp, on_both_databases};

const ROLES: [&str; 6] = ["owner", "admin", "editor", "field_worker", "viewer", "demo"];

on_both_databases!(every_operation_with_another_workspaces_ids_is_404_as_every_role_and_credential);

async fn every_operation_with_another_workspaces_ids_is_404_as_every_role_and_credential(
    app: TestApp,
) {
    let home_owner = app.signup("home@example.com", "Home").await;
    let away_owner = app.signup("away@example.com", "Away").await;
    let away_member = app.signup("away-member@example.com", "Away Member").await;
    let home = app.workspace(&home_owner.access, "Home Base").await;
    let away = app.workspace(&away_owner.access, "Away Base").await;
    let home_id = home["id"].as_str().expect("id").to_owned();
    let away_id = away["id"].as_str().expect("id").to_owned();
    let away_slug = away["slug"].as_str().expect("slug").to_owned();
    app.add(&away_owner.access, &away_id, &away_member, "editor")
        .await;

    let mut actors = Vec::new();
    for role in ROLES {
        let a = app.signup(&format!("home-{role}@example.com"), role).await;
        app.add(&home_owner.access, &home_id, &a, role).await;
        let (_, key) = app.api_key(&a.access, json!({"name": role})).await;
        actors.push((role, a, key));
    }

    let foreign_user = &away_member.id;
    let mut operations: Vec<(&str, String, Option<Value>)> = Vec::new();
    for ws in [&away_id, &away_slug] {
        let base = format!("/v1/workspaces/{ws}");
        operations.extend([
            ("GET", base.clone(), None),
            ("PATCH", base.clone(), Some(json!({"name": "taken over"}))),
            ("DELETE", base.clone(), None),
            ("POST", format!("{base}/leave"), None),
            ("POST", format!("{base}/revoke-sessions"), None),
            ("GET", format!("{base}/members"), None),
            (
                "POST",
                format!("{base}/members"),
                Some(json!({"email": "home@example.com", "role": "owner"})),
            ),
            ("GET", format!("{base}/members/{foreign_user}"), None),
            (
                "PATCH",
                format!("{base}/members/{foreign_user}"),
                Some(json!({"role": "viewer"})),
            ),
            ("DELETE", format!("{base}/members/{foreign_user}"), None),
            ("GET", format!("{base}/audit-events"), None),
            (
                "GET",
                format!("{base}/audit-events/export?format=csv"),
                None,
            ),
        ]);
    }
    // The caller's own workspace in the path, another workspace's member in the id.
    let own = format!("/v1/workspaces/{home_id}/members/{foreign_user}");
    operations.extend([
        ("GET", own.clone(), None),
        ("PATCH", own.clone(), Some(json!({"role": "viewer"}))),
        ("DELETE", own, None),
    ]);

    let before = app.census().await;
    let mut tries = 0;
    for (role, actor, key) in &actors {
        for credential in [&actor.access, key] {
            for (method, path, body) in &operations {
                let r = app.call(method, path, Some(credential), body.clone()).await;
                assert_eq!(r.status, 404, "{role} {method} {path}: {}", r.text);
                r.assert_problem(404, "not_found");
                tries += 1;
            }
        }
    }
    assert_eq!(tries, 6 * 2 * 27);
    assert_eq!(
        app.census().await,
        before,
        "a refused call changed the database"
    );
    let away_now = app
        .get(&format!("/v1/workspaces/{away_id}"), &away_owner.access)
        .await;
    assert_eq!(away_now.body["name"], "Away Base");
    assert_eq!(away_now.body["member_count"], 2);
}
