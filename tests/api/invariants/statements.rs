//! What an authenticated read costs the database: the credential, the workspace and the
//! caller's role there are one statement on every surface, counted by the store (and exported
//! in `/metrics` as `db_statements_total`).

use std::time::Duration;

use serde_json::json;

use crate::{
    helpers::{Resp, TestApp},
    on_both_databases,
};

on_both_databases!(
    an_authenticated_workspace_read_costs_one_statement_on_every_surface,
    a_missing_workspace_or_a_bad_credential_is_also_answered_in_one_statement,
    a_role_change_costs_the_access_read_and_eight_statements_in_its_transaction,
    a_workspace_key_is_read_with_its_workspace_in_one_statement_hit_or_miss,
);

/// Runs a request and returns its answer with the number of statements the store ran for it.
async fn counted<F>(app: &TestApp, request: F) -> (Resp, u64)
where
    F: std::future::Future<Output = Resp>,
{
    let before = app.state.core.store.statements();
    let r = request.await;
    (r, app.state.core.store.statements() - before)
}

/// Waits until the API key's use has been recorded (written off the request path once a
/// minute), so that the write does not land inside a counted request.
async fn key_use_recorded(app: &TestApp, access: &str, key_id: &str) {
    for _ in 0..100 {
        let key = app.get(&format!("/v1/me/api-keys/{key_id}"), access).await;
        assert_eq!(key.status, 200, "{}", key.text);
        if !key.body["last_used_at"].is_null() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the key's use was never recorded");
}

async fn an_authenticated_workspace_read_costs_one_statement_on_every_surface(app: TestApp) {
    let owner = app.signup("owner@example.com", "Owner").await;
    let ws = app.workspace(&owner.access, "Counted").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    let slug = ws["slug"].as_str().expect("slug").to_owned();
    let (key_id, key) = app.api_key(&owner.access, json!({"name": "count"})).await;
    assert_eq!(app.get("/v1/me", &key).await.status, 200);
    key_use_recorded(&app, &owner.access, &key_id).await;
    let sf = app.sf_token(&owner.email).await;

    let native = [
        (format!("/v1/workspaces/{id}"), owner.access.clone()),
        (format!("/v1/workspaces/{slug}"), owner.access.clone()),
        (format!("/v1/workspaces/{id}"), key.clone()),
    ];
    for (path, credential) in &native {
        let (r, statements) = counted(&app, app.get(path, credential)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.body["id"], id.as_str());
        assert_eq!(statements, 1, "native {path}");
    }

    for path in ["/workspaces/", "/auth/me"] {
        let (r, statements) = counted(&app, app.sf_raw("GET", path, Some(&sf), "")).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(r.body["id"].is_string(), "{}", r.text);
        assert_eq!(statements, 1, "SpatialFlow {path}");
    }

    let personal = app.get("/v1/me", &owner.access).await.body["personal_workspace_id"]
        .as_str()
        .expect("personal")
        .to_owned();
    for (segment, expected) in [(id.as_str(), id.as_str()), ("default", personal.as_str())] {
        let path = format!("/workspaces/{segment}");
        let (r, statements) = counted(&app, app.pupil("GET", &path, Some(&key), None)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.body["result"]["id"], expected);
        assert_eq!(statements, 1, "Pupil {path}");
    }

    let metrics = app.metrics().await;
    let exported = metrics
        .lines()
        .find_map(|l| l.strip_prefix("db_statements_total "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .expect("db_statements_total in /metrics");
    assert!(exported >= app.state.core.store.statements() - 1);
}

async fn a_missing_workspace_or_a_bad_credential_is_also_answered_in_one_statement(app: TestApp) {
    let owner = app.signup("owner@example.com", "Owner").await;
    let other = app.signup("other@example.com", "Other").await;
    let theirs = app.workspace(&other.access, "Theirs").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (r, statements) = counted(
        &app,
        app.get(&format!("/v1/workspaces/{theirs}"), &owner.access),
    )
    .await;
    r.assert_problem(404, "not_found");
    assert_eq!(statements, 1, "a workspace of someone else");
    let (r, statements) =
        counted(&app, app.get("/v1/workspaces/no-such-slug", &owner.access)).await;
    r.assert_problem(404, "not_found");
    assert_eq!(statements, 1, "no such workspace");
    let (r, statements) = counted(
        &app,
        app.get(&format!("/v1/workspaces/{theirs}"), "rk_unknown"),
    )
    .await;
    r.assert_problem(401, "unauthenticated");
    assert_eq!(statements, 1, "an unknown key");
}

async fn a_role_change_costs_the_access_read_and_eight_statements_in_its_transaction(app: TestApp) {
    let owner = app.signup("owner@example.com", "Owner").await;
    let ws = app.workspace(&owner.access, "Counted").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let member = app.signup("member@example.com", "Member").await;
    app.add(&owner.access, &ws, &member, "viewer").await;
    let path = format!("/v1/workspaces/{ws}/members/{}", member.id);
    // Access, then: lock + the actor's role, the target's role, the update, the audit event
    // (the chain's next place, the event, the chain's new head), its webhook event (one
    // INSERT … SELECT that writes nothing when no endpoint of the workspace hears it), the
    // member read back. Lowering a role also ends the sessions bound to the workspace.
    for (role, expected) in [("editor", 9), ("viewer", 10)] {
        let body = Some(json!({"role": role}));
        let (r, statements) =
            counted(&app, app.call("PATCH", &path, Some(&owner.access), body)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["role"], role);
        assert_eq!(statements, expected, "to {role}");
    }
}

async fn a_workspace_key_is_read_with_its_workspace_in_one_statement_hit_or_miss(app: TestApp) {
    let owner = app.signup("owner@example.com", "Owner").await;
    let ws = app.workspace(&owner.access, "Counted").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    let slug = ws["slug"].as_str().expect("slug").to_owned();
    let other = app.workspace(&owner.access, "Elsewhere").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = app
        .post(
            &format!("/v1/workspaces/{id}/api-keys"),
            Some(&owner.access),
            json!({"name": "count", "permissions": ["workspace:read"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let key_id = r.body["id"].as_str().expect("id").to_owned();
    let key = r.body["secret"].as_str().expect("secret").to_owned();
    assert_eq!(
        app.get(&format!("/v1/workspaces/{id}"), &key).await.status,
        200
    );
    // Wait for the use to be recorded off the request path, so it lands in no counted request.
    let mut recorded = false;
    for _ in 0..100 {
        let k = app
            .get(
                &format!("/v1/workspaces/{id}/api-keys/{key_id}"),
                &owner.access,
            )
            .await;
        if k.body["last_used_at"].is_string() {
            recorded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(recorded, "the key's use was never recorded");

    for path in [
        format!("/v1/workspaces/{id}"),
        format!("/v1/workspaces/{slug}"),
    ] {
        let (r, statements) = counted(&app, app.get(&path, &key)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.body["id"], id.as_str());
        assert_eq!(statements, 1, "{path}");
    }
    let (r, statements) = counted(&app, app.get(&format!("/v1/workspaces/{other}"), &key)).await;
    r.assert_problem(404, "not_found");
    assert_eq!(statements, 1, "another workspace");
    let (r, statements) = counted(
        &app,
        app.get(&format!("/v1/workspaces/{id}"), "rkw_unknown"),
    )
    .await;
    r.assert_problem(401, "unauthenticated");
    assert_eq!(statements, 1, "an unknown workspace key");
}
