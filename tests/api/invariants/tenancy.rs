//! Tenancy: with ids from another workspace, every workspace-scoped operation, as every role and
//! with both an access token and an API key, answers 404 and changes nothing; a workspace API key
//! of one workspace succeeds nowhere in another.

use serde_json::{json, Value};

use roster::domain::permission::Permission;

use crate::{helpers::TestApp, on_both_databases};

const ROLES: [&str; 6] = ["owner", "admin", "editor", "field_worker", "viewer", "demo"];

on_both_databases!(
    every_operation_with_another_workspaces_ids_is_404_as_every_role_and_credential,
    a_workspace_key_with_every_permission_gets_404_on_every_route_of_another_workspace,
);

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

async fn a_workspace_key_with_every_permission_gets_404_on_every_route_of_another_workspace(
    app: TestApp,
) {
    let home_owner = app.signup("key-home@example.com", "Home").await;
    let away_owner = app.signup("key-away@example.com", "Away").await;
    let away_member = app.signup("key-away-member@example.com", "Member").await;
    let home = app.workspace(&home_owner.access, "Key Home").await;
    let away = app.workspace(&away_owner.access, "Key Away").await;
    let home_id = home["id"].as_str().expect("id").to_owned();
    let away_id = away["id"].as_str().expect("id").to_owned();
    let away_slug = away["slug"].as_str().expect("slug").to_owned();
    app.add(&away_owner.access, &away_id, &away_member, "editor")
        .await;
    let everything: Vec<String> = Permission::ALL
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    let create = |ws: String, access: String| {
        let everything = everything.clone();
        let app = &app;
        async move {
            let r = app
                .post(
                    &format!("/v1/workspaces/{ws}/api-keys"),
                    Some(&access),
                    json!({"name": "all", "permissions": everything}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            (
                r.body["id"].as_str().expect("id").to_owned(),
                r.body["secret"].as_str().expect("secret").to_owned(),
            )
        }
    };
    let (_, key) = create(home_id.clone(), home_owner.access.clone()).await;
    let (away_key_id, _) = create(away_id.clone(), away_owner.access.clone()).await;
    let invited = app
        .post(
            &format!("/v1/workspaces/{away_id}/invitations"),
            Some(&away_owner.access),
            json!({"email": "someone@example.com", "role": "viewer"}),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.text);
    let invitation = invited.body["id"].as_str().expect("id").to_owned();
    // The key works at home.
    assert_eq!(
        app.get(&format!("/v1/workspaces/{home_id}/members"), &key)
            .await
            .status,
        200
    );

    let user = &away_member.id;
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
                Some(json!({"user_id": user, "role": "owner"})),
            ),
            ("GET", format!("{base}/members/{user}"), None),
            (
                "PATCH",
                format!("{base}/members/{user}"),
                Some(json!({"role": "viewer"})),
            ),
            ("DELETE", format!("{base}/members/{user}"), None),
            ("GET", format!("{base}/audit-events"), None),
            (
                "GET",
                format!("{base}/audit-events/export?format=csv"),
                None,
            ),
            ("GET", format!("{base}/audit-events/verify"), None),
            ("GET", format!("{base}/usage"), None),
            (
                "POST",
                format!("{base}/usage/events"),
                Some(json!({"events": [{"meter": "location_events"}]})),
            ),
            ("GET", format!("{base}/invitations"), None),
            (
                "POST",
                format!("{base}/invitations"),
                Some(json!({"email": "x@example.com", "role": "viewer"})),
            ),
            (
                "POST",
                format!("{base}/invitations/bulk"),
                Some(json!({"invitations": [{"email": "y@example.com", "role": "viewer"}]})),
            ),
            ("GET", format!("{base}/invitations/{invitation}"), None),
            (
                "PATCH",
                format!("{base}/invitations/{invitation}"),
                Some(json!({"expires_in_days": 3})),
            ),
            ("DELETE", format!("{base}/invitations/{invitation}"), None),
            (
                "POST",
                format!("{base}/invitations/{invitation}/resend"),
                None,
            ),
            (
                "POST",
                format!("{base}/ownership-transfer"),
                Some(json!({"user_id": user})),
            ),
            ("GET", format!("{base}/ownership-transfer"), None),
            ("DELETE", format!("{base}/ownership-transfer"), None),
            ("POST", format!("{base}/ownership-transfer/accept"), None),
            ("POST", format!("{base}/ownership-transfer/decline"), None),
            ("POST", format!("{base}/ownership-transfer/cancel"), None),
            ("GET", format!("{base}/api-keys"), None),
            (
                "POST",
                format!("{base}/api-keys"),
                Some(json!({"name": "x", "permissions": []})),
            ),
            ("GET", format!("{base}/api-keys/{away_key_id}"), None),
            (
                "PATCH",
                format!("{base}/api-keys/{away_key_id}"),
                Some(json!({"name": "mine"})),
            ),
            ("DELETE", format!("{base}/api-keys/{away_key_id}"), None),
            (
                "POST",
                format!("{base}/api-keys/{away_key_id}/rotate"),
                Some(json!({})),
            ),
        ]);
    }
    // Its own workspace in the path, another workspace's key in the id.
    let own = format!("/v1/workspaces/{home_id}/api-keys/{away_key_id}");
    operations.extend([
        ("GET", own.clone(), None),
        ("PATCH", own.clone(), Some(json!({"name": "mine"}))),
        ("DELETE", own.clone(), None),
        ("POST", format!("{own}/rotate"), Some(json!({}))),
    ]);

    let before = (
        app.census().await,
        app.rows("workspace_api_keys", "revoked_at IS NULL").await,
        app.rows("invitations", "").await,
        app.rows("usage_hourly", "").await,
    );
    let mut successes = Vec::new();
    for (method, path, body) in &operations {
        let r = app.call(method, path, Some(&key), body.clone()).await;
        if (200..300).contains(&r.status) {
            successes.push(format!("{method} {path}"));
        }
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
        r.assert_problem(404, "not_found");
    }
    assert!(successes.is_empty(), "{successes:?}");
    assert_eq!(operations.len(), 2 * 34 + 4);
    let after = (
        app.census().await,
        app.rows("workspace_api_keys", "revoked_at IS NULL").await,
        app.rows("invitations", "").await,
        app.rows("usage_hourly", "").await,
    );
    assert_eq!(after, before, "a refused call changed the database");
}
