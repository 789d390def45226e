//! Workspace API keys (service accounts): created within the creator's permissions, shown once,
//! usable only in their workspace and only for their permissions, outliving their creator,
//! revocable at once, expiring, and rotated with a grace period.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    helpers::{Account, Resp, TestApp},
    on_both_databases,
};

on_both_databases!(
    a_key_is_created_shown_once_listed_read_and_renamed_with_the_database_to_match,
    a_key_with_only_usage_record_records_usage_and_is_refused_everything_else,
    a_key_cannot_carry_a_permission_its_creator_lacks,
    an_unknown_permission_is_refused_and_only_managers_manage_keys,
    a_key_outlives_its_creators_removal_and_account_deletion,
    a_revoked_key_is_refused_on_the_very_next_request,
    an_expired_key_is_refused_and_clearing_the_expiry_is_allowed,
    a_rotated_key_works_within_its_grace_and_not_after,
    a_key_is_refused_on_personal_routes_the_dialects_and_person_only_operations,
    a_key_reads_and_writes_only_what_its_permissions_allow,
);

/// An owner and their workspace: (owner, workspace id).
async fn owned(app: &TestApp, email: &str) -> (Account, String) {
    let owner = app.signup(email, "Key Owner").await;
    let ws = app.workspace(&owner.access, "Keyed").await;
    (owner, ws["id"].as_str().expect("id").to_owned())
}

async fn create(app: &TestApp, access: &str, ws: &str, body: Value) -> Resp {
    app.post(&format!("/v1/workspaces/{ws}/api-keys"), Some(access), body)
        .await
}

/// Creates a workspace key; returns (id, secret).
async fn ws_key(app: &TestApp, access: &str, ws: &str, permissions: &[&str]) -> (String, String) {
    let r = create(
        app,
        access,
        ws,
        json!({"name": "service", "permissions": permissions}),
    )
    .await;
    assert_eq!(r.status, 201, "create workspace key: {}", r.text);
    (
        r.body["id"].as_str().expect("id").to_owned(),
        r.body["secret"].as_str().expect("secret").to_owned(),
    )
}

async fn ingest(app: &TestApp, ws: &str, key: &str) -> Resp {
    app.post(
        &format!("/v1/workspaces/{ws}/usage/events"),
        Some(key),
        json!({"events": [{"meter": "location_events"}]}),
    )
    .await
}

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).expect("uuid")
}

async fn a_key_is_created_shown_once_listed_read_and_renamed_with_the_database_to_match(
    app: TestApp,
) {
    let (owner, ws) = owned(&app, "create@example.com").await;
    let r = create(
        &app,
        &owner.access,
        &ws,
        json!({"name": "  ingest  ", "permissions": ["usage:record", "workspace:read"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let secret = r.body["secret"].as_str().expect("secret").to_owned();
    assert!(
        secret.starts_with("rkw_") && secret.len() == 4 + 43,
        "{secret}"
    );
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/workspaces/{ws}/api-keys/{id}").as_str())
    );
    assert_eq!(r.body["name"], "ingest");
    assert_eq!(r.body["prefix"], &secret[..12]);
    assert_eq!(r.body["workspace_id"], ws.as_str());
    assert_eq!(r.body["created_by"], owner.id.as_str());
    assert_eq!(
        r.body["permissions"],
        json!(["workspace:read", "usage:record"])
    );
    assert!(r.body["expires_at"].is_null() && r.body["last_used_at"].is_null());

    let list = app
        .get(&format!("/v1/workspaces/{ws}/api-keys"), &owner.access)
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["total"], 1);
    assert_eq!(list.body["data"][0]["id"], id.as_str());
    assert!(!list.text.contains(&secret) && !list.text.contains("secret"));
    let one = app
        .get(&format!("/v1/workspaces/{ws}/api-keys/{id}"), &owner.access)
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert!(!one.text.contains(&secret));
    // Stored as SHA-256 with its permissions, apart from personal keys.
    assert_eq!(
        app.raw
            .count_with(
                "SELECT COUNT(*) FROM workspace_api_keys WHERE id = $1 \
                 AND length(secret_hash) = 32 AND permissions = 'workspace:read usage:record' \
                 AND revoked_at IS NULL",
                uuid(&id),
            )
            .await,
        1
    );
    assert_eq!(app.rows("api_keys", "").await, 0);
    assert_eq!(
        app.rows("audit_events", "action = 'api_key.created'").await,
        1
    );

    let later = chrono::Utc::now() + chrono::Duration::days(30);
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}/api-keys/{id}"),
            Some(&owner.access),
            Some(json!({"name": "ingest-2", "expires_at": later})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "ingest-2");
    assert!(r.body["expires_at"].is_string());
    assert_eq!(
        app.raw
            .count_with(
                "SELECT COUNT(*) FROM workspace_api_keys WHERE id = $1 AND name = 'ingest-2' \
                 AND expires_at IS NOT NULL",
                uuid(&id),
            )
            .await,
        1
    );
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}/api-keys/{id}"),
            Some(&owner.access),
            Some(json!({"expires_at": null})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["expires_at"].is_null());
    assert_eq!(r.body["name"], "ingest-2");
    assert_eq!(
        app.rows("audit_events", "action = 'api_key.updated'").await,
        2
    );
    app.call(
        "PATCH",
        &format!("/v1/workspaces/{ws}/api-keys/{id}"),
        Some(&owner.access),
        Some(json!({"expires_at": "2001-01-01T00:00:00Z"})),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.get(
        &format!("/v1/workspaces/{ws}/api-keys/{}", Uuid::now_v7()),
        &owner.access,
    )
    .await
    .assert_problem(404, "not_found");
}

async fn a_key_with_only_usage_record_records_usage_and_is_refused_everything_else(app: TestApp) {
    let (owner, ws) = owned(&app, "meter@example.com").await;
    let (key_id, key) = ws_key(&app, &owner.access, &ws, &["usage:record"]).await;
    let r = ingest(&app, &ws, &key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.rows("usage_hourly", "").await, 1);

    for path in [
        format!("/v1/workspaces/{ws}"),
        format!("/v1/workspaces/{ws}/members"),
        format!("/v1/workspaces/{ws}/members/{}", owner.id),
        format!("/v1/workspaces/{ws}/audit-events"),
        format!("/v1/workspaces/{ws}/usage"),
        format!("/v1/workspaces/{ws}/api-keys"),
        format!("/v1/workspaces/{ws}/invitations"),
    ] {
        let r = app.get(&path, &key).await;
        r.assert_problem(403, "insufficient_role");
        assert!(r.text.contains("workspace API key"), "{path}: {}", r.text);
    }
    let before = app.census().await;
    app.call(
        "PATCH",
        &format!("/v1/workspaces/{ws}"),
        Some(&key),
        Some(json!({"name": "taken"})),
    )
    .await
    .assert_problem(403, "insufficient_role");
    app.call(
        "DELETE",
        &format!("/v1/workspaces/{ws}/members/{}", owner.id),
        Some(&key),
        None,
    )
    .await
    .assert_problem(403, "insufficient_role");
    assert_eq!(app.census().await, before);

    // Its use is recorded off the request path.
    let mut recorded = false;
    for _ in 0..100 {
        let one = app
            .get(
                &format!("/v1/workspaces/{ws}/api-keys/{key_id}"),
                &owner.access,
            )
            .await;
        if one.body["last_used_at"].is_string() {
            recorded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(recorded, "last_used_at was never recorded");
}

async fn a_key_cannot_carry_a_permission_its_creator_lacks(app: TestApp) {
    let (owner, ws) = owned(&app, "escalate@example.com").await;
    let admin = app.signup("escalate-admin@example.com", "Admin").await;
    app.add(&owner.access, &ws, &admin, "admin").await;
    let before = app.rows("workspace_api_keys", "").await;
    let r = create(
        &app,
        &admin.access,
        &ws,
        json!({"name": "nuke", "permissions": ["usage:record", "workspace:delete"]}),
    )
    .await;
    r.assert_problem(403, "permission_escalation");
    assert!(r.text.contains("workspace:delete"), "{}", r.text);
    assert!(!r.text.contains("usage:record"), "{}", r.text);
    assert_eq!(app.rows("workspace_api_keys", "").await, before);
    // What the admin holds, they may hand to a key; the owner may hand on workspace:delete.
    ws_key(&app, &admin.access, &ws, &["usage:record", "members:list"]).await;
    ws_key(&app, &owner.access, &ws, &["workspace:delete"]).await;
    assert_eq!(app.rows("workspace_api_keys", "").await, before + 2);
}

async fn an_unknown_permission_is_refused_and_only_managers_manage_keys(app: TestApp) {
    let (owner, ws) = owned(&app, "unknown@example.com").await;
    create(
        &app,
        &owner.access,
        &ws,
        json!({"name": "x", "permissions": ["rockets:launch"]}),
    )
    .await
    .assert_problem(422, "validation_failed");
    create(
        &app,
        &owner.access,
        &ws,
        json!({"name": " ", "permissions": []}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let editor = app.signup("unknown-editor@example.com", "Editor").await;
    app.add(&owner.access, &ws, &editor, "editor").await;
    create(
        &app,
        &editor.access,
        &ws,
        json!({"name": "x", "permissions": []}),
    )
    .await
    .assert_problem(403, "insufficient_role");
    app.get(&format!("/v1/workspaces/{ws}/api-keys"), &editor.access)
        .await
        .assert_problem(403, "insufficient_role");
    // A key with api_keys:manage may list and revoke, but not mint keys.
    let (_, manager) = ws_key(&app, &owner.access, &ws, &["api_keys:manage"]).await;
    assert_eq!(
        app.get(&format!("/v1/workspaces/{ws}/api-keys"), &manager)
            .await
            .status,
        200
    );
    create(
        &app,
        &manager,
        &ws,
        json!({"name": "child", "permissions": []}),
    )
    .await
    .assert_problem(403, "person_required");
    assert_eq!(app.rows("workspace_api_keys", "").await, 1);
}

async fn a_key_outlives_its_creators_removal_and_account_deletion(app: TestApp) {
    let (owner, ws) = owned(&app, "outlive@example.com").await;
    let admin = app.signup("outlive-admin@example.com", "Admin").await;
    app.add(&owner.access, &ws, &admin, "admin").await;
    let (id, key) = ws_key(&app, &admin.access, &ws, &["usage:record"]).await;
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/members/{}", admin.id),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(ingest(&app, &ws, &key).await.status, 200);

    let r = app
        .call("DELETE", "/v1/me", Some(&admin.access), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.rows("users", &format!("id = '{}'", admin.id)).await, 0);
    let r = ingest(&app, &ws, &key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let one = app
        .get(&format!("/v1/workspaces/{ws}/api-keys/{id}"), &owner.access)
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert!(one.body["created_by"].is_null(), "{}", one.text);
    assert_eq!(
        app.raw
            .count_with(
                "SELECT COUNT(*) FROM workspace_api_keys WHERE id = $1 AND created_by IS NULL",
                uuid(&id),
            )
            .await,
        1
    );
}

async fn a_revoked_key_is_refused_on_the_very_next_request(app: TestApp) {
    let (owner, ws) = owned(&app, "revoke@example.com").await;
    let (id, key) = ws_key(&app, &owner.access, &ws, &["usage:record"]).await;
    assert_eq!(ingest(&app, &ws, &key).await.status, 200);
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/api-keys/{id}"),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    ingest(&app, &ws, &key)
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(
        app.raw
            .count_with(
                "SELECT COUNT(*) FROM workspace_api_keys WHERE id = $1 AND revoked_at IS NOT NULL",
                uuid(&id),
            )
            .await,
        1
    );
    assert_eq!(
        app.rows(
            "audit_events",
            &format!("action = 'api_key.revoked' AND workspace_id IS NOT NULL AND actor_id IS NOT NULL AND target_id = '{id}'")
        )
        .await,
        1
    );
    let list = app
        .get(&format!("/v1/workspaces/{ws}/api-keys"), &owner.access)
        .await;
    assert_eq!(list.body["total"], 0);
    app.call(
        "DELETE",
        &format!("/v1/workspaces/{ws}/api-keys/{id}"),
        Some(&owner.access),
        None,
    )
    .await
    .assert_problem(404, "not_found");
}

async fn an_expired_key_is_refused_and_clearing_the_expiry_is_allowed(app: TestApp) {
    let (owner, ws) = owned(&app, "expire@example.com").await;
    let (id, key) = ws_key(&app, &owner.access, &ws, &["usage:record"]).await;
    assert_eq!(ingest(&app, &ws, &key).await.status, 200);
    let past = app
        .raw
        .execute_with(
            "UPDATE workspace_api_keys SET expires_at = created_at WHERE id = $1",
            uuid(&id),
        )
        .await;
    assert_eq!(past, 1);
    ingest(&app, &ws, &key)
        .await
        .assert_problem(401, "unauthenticated");
    // Still listed, marked by its expiry; clearing the expiry brings it back.
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}/api-keys/{id}"),
            Some(&owner.access),
            Some(json!({"expires_at": null})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ingest(&app, &ws, &key).await.status, 200);
}

async fn a_rotated_key_works_within_its_grace_and_not_after(app: TestApp) {
    let (owner, ws) = owned(&app, "rotate@example.com").await;
    let (old_id, old) = ws_key(&app, &owner.access, &ws, &["usage:record", "members:list"]).await;
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/api-keys/{old_id}/rotate"),
            Some(&owner.access),
            json!({"grace_seconds": 3600}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let new_id = r.body["id"].as_str().expect("id").to_owned();
    let new = r.body["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new, old);
    assert_eq!(
        r.body["permissions"],
        json!(["members:list", "usage:record"])
    );
    assert_eq!(r.body["name"], "service");
    let listed = app
        .get(
            &format!("/v1/workspaces/{ws}/api-keys/{old_id}"),
            &owner.access,
        )
        .await;
    assert_eq!(listed.body["replaced_by"], new_id.as_str());
    assert!(listed.body["expires_at"].is_string());
    // Both work within the grace.
    assert_eq!(ingest(&app, &ws, &old).await.status, 200);
    assert_eq!(ingest(&app, &ws, &new).await.status, 200);
    app.post(
        &format!("/v1/workspaces/{ws}/api-keys/{old_id}/rotate"),
        Some(&owner.access),
        json!({}),
    )
    .await
    .assert_problem(409, "api_key_already_rotated");
    assert_eq!(
        app.rows("audit_events", "action = 'api_key.rotated'").await,
        1
    );
    // The grace ends.
    let ended = app
        .raw
        .execute_with(
            "UPDATE workspace_api_keys SET expires_at = created_at WHERE id = $1",
            uuid(&old_id),
        )
        .await;
    assert_eq!(ended, 1);
    ingest(&app, &ws, &old)
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(ingest(&app, &ws, &new).await.status, 200);
    app.post(
        &format!("/v1/workspaces/{ws}/api-keys/{new_id}/rotate"),
        Some(&owner.access),
        json!({"grace_seconds": -1}),
    )
    .await
    .assert_problem(422, "validation_failed");
}

async fn a_key_is_refused_on_personal_routes_the_dialects_and_person_only_operations(app: TestApp) {
    let (owner, ws) = owned(&app, "person@example.com").await;
    let everything = [
        "workspace:read",
        "workspace:update",
        "members:list",
        "members:read",
        "members:manage",
        "invitations:manage",
        "usage:record",
    ];
    let (_, key) = ws_key(&app, &owner.access, &ws, &everything).await;
    for path in [
        "/v1/me",
        "/v1/me/api-keys",
        "/v1/me/sessions",
        "/v1/workspaces",
    ] {
        let r = app.get(path, &key).await;
        r.assert_problem(401, "unauthenticated");
    }
    app.call("DELETE", "/v1/me", Some(&key), None)
        .await
        .assert_problem(401, "unauthenticated");
    // The dialects take it as an invalid credential.
    let r = app.sf_raw("GET", "/workspaces/", Some(&key), "").await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = app
        .pupil("GET", &format!("/workspaces/{ws}"), Some(&key), None)
        .await;
    assert_eq!(r.status, 401, "{}", r.text);

    let before = app.census().await;
    app.post(&format!("/v1/workspaces/{ws}/leave"), Some(&key), json!({}))
        .await
        .assert_problem(403, "person_required");
    app.post(
        &format!("/v1/workspaces/{ws}/invitations"),
        Some(&key),
        json!({"email": "new@example.com", "role": "viewer"}),
    )
    .await
    .assert_problem(403, "person_required");
    assert_eq!(app.census().await, before);
    assert_eq!(app.rows("invitations", "").await, 0);
}

async fn a_key_reads_and_writes_only_what_its_permissions_allow(app: TestApp) {
    let (owner, ws) = owned(&app, "reads@example.com").await;
    let viewer = app.signup("reads-viewer@example.com", "Viewer").await;
    app.add(&owner.access, &ws, &viewer, "viewer").await;
    let (_, key) = ws_key(
        &app,
        &owner.access,
        &ws,
        &[
            "workspace:read",
            "members:list",
            "members:read",
            "members:manage",
        ],
    )
    .await;
    let r = app.get(&format!("/v1/workspaces/{ws}"), &key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], ws.as_str());
    let r = app.get(&format!("/v1/workspaces/{ws}/members"), &key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["total"], 2);
    // members:manage lets it remove a viewer, audited without a person as actor.
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/members/{}", viewer.id),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.role_in_db(&ws, &viewer.id).await, None);
    assert_eq!(
        app.rows(
            "audit_events",
            "action = 'member.removed' AND actor_id IS NULL"
        )
        .await,
        1
    );
    // But not the owner: a key is no manager.
    app.call(
        "DELETE",
        &format!("/v1/workspaces/{ws}/members/{}", owner.id),
        Some(&key),
        None,
    )
    .await
    .assert_problem(403, "target_outranks");
    assert_eq!(
        app.role_in_db(&ws, &owner.id).await.as_deref(),
        Some("owner")
    );
}
