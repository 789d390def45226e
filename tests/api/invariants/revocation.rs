//! Revocation takes effect on the very next request: removal ends access by every credential,
//! a lowered role applies at once, bound sessions end, and revoke-sessions ends every session.

use serde_json::json;

use crate::{helpers::TestApp, on_both_databases};

on_both_databases!(
    a_removed_member_loses_the_workspace_by_every_credential_on_the_next_request,
    a_lowered_role_applies_on_the_very_next_request_and_ends_bound_sessions,
    revoke_sessions_ends_every_session_of_every_member_including_the_callers,
    a_workspace_key_revoked_on_one_replica_is_refused_by_another_on_the_next_request,
);

async fn a_removed_member_loses_the_workspace_by_every_credential_on_the_next_request(
    app: TestApp,
) {
    let owner = app.signup("remover@example.com", "Remover").await;
    let member = app.signup("removed@example.com", "Removed").await;
    let ws = app.workspace(&owner.access, "Revocable").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    app.add(&owner.access, &id, &member, "admin").await;
    let (_, key) = app
        .api_key(&member.access, json!({"name": "member key"}))
        .await;
    let bound = app
        .state
        .core
        .start_session(
            uuid::Uuid::parse_str(&member.id).expect("id"),
            Some(uuid::Uuid::parse_str(&id).expect("id")),
            &Default::default(),
        )
        .await
        .expect("bound session");
    let path = format!("/v1/workspaces/{id}");
    for credential in [&member.access, &key, &bound.tokens.access_token] {
        assert_eq!(app.get(&path, credential).await.status, 200);
    }

    let r = app
        .call(
            "DELETE",
            &format!("{path}/members/{}", member.id),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);

    for credential in [&member.access, &key] {
        app.get(&path, credential)
            .await
            .assert_problem(404, "not_found");
        app.get(&format!("{path}/members"), credential)
            .await
            .assert_problem(404, "not_found");
        app.call(
            "PATCH",
            &path,
            Some(credential),
            Some(json!({"name": "mine now"})),
        )
        .await
        .assert_problem(404, "not_found");
    }
    // A fresh access token from the member's refresh token does not bring the workspace back.
    let renewed = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": member.refresh}),
        )
        .await;
    assert_eq!(renewed.status, 200);
    app.get(&path, renewed.body["access_token"].as_str().expect("t"))
        .await
        .assert_problem(404, "not_found");
    // The session bound to the workspace is over altogether.
    app.get("/v1/me", &bound.tokens.access_token)
        .await
        .assert_problem(401, "unauthenticated");
    app.post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": bound.tokens.refresh_token}),
    )
    .await
    .assert_problem(401, "unauthenticated");
    assert_eq!(
        app.rows("sessions", "end_reason = 'removed_from_workspace'")
            .await,
        1
    );
    assert_eq!(
        app.get(&path, &owner.access).await.body["name"],
        "Revocable"
    );
}

async fn a_lowered_role_applies_on_the_very_next_request_and_ends_bound_sessions(app: TestApp) {
    let owner = app.signup("lowerer@example.com", "Lowerer").await;
    let member = app.signup("lowered@example.com", "Lowered").await;
    let ws = app.workspace(&owner.access, "Demotions").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    app.add(&owner.access, &id, &member, "admin").await;
    let (_, key) = app.api_key(&member.access, json!({})).await;
    let bound = app
        .state
        .core
        .start_session(
            uuid::Uuid::parse_str(&member.id).expect("id"),
            Some(uuid::Uuid::parse_str(&id).expect("id")),
            &Default::default(),
        )
        .await
        .expect("bound session");
    let path = format!("/v1/workspaces/{id}");
    for credential in [&member.access, &key] {
        let r = app
            .call(
                "PATCH",
                &path,
                Some(credential),
                Some(json!({"description": "as admin"})),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    app.set_role(&owner.access, &id, &member.id, "viewer").await;
    for credential in [&member.access, &key] {
        app.call(
            "PATCH",
            &path,
            Some(credential),
            Some(json!({"description": "as viewer"})),
        )
        .await
        .assert_problem(403, "insufficient_role");
        app.get(&format!("{path}/audit-events"), credential)
            .await
            .assert_problem(403, "insufficient_role");
        let r = app.get(&path, credential).await;
        assert_eq!(
            (r.status, r.body["my_role"].as_str()),
            (200, Some("viewer"))
        );
    }
    app.get("/v1/me", &bound.tokens.access_token)
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(app.rows("workspaces", "description = 'as admin'").await, 1);
    assert_eq!(app.rows("sessions", "end_reason = 'role_lowered'").await, 1);
}

async fn revoke_sessions_ends_every_session_of_every_member_including_the_callers(app: TestApp) {
    let owner = app.signup("revoker@example.com", "Revoker").await;
    let admin = app.signup("adm@example.com", "Adm").await;
    let viewer = app.signup("view@example.com", "View").await;
    let outsider = app.signup("outside@example.com", "Outside").await;
    let ws = app.workspace(&owner.access, "Lockdown").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    app.add(&owner.access, &id, &admin, "admin").await;
    app.add(&owner.access, &id, &viewer, "viewer").await;
    let (_, viewer_key) = app.api_key(&viewer.access, json!({})).await;
    let second = app.login(&viewer.email, &viewer.password).await;
    let path = format!("/v1/workspaces/{id}/revoke-sessions");

    app.call("POST", &path, Some(&admin.access), None)
        .await
        .assert_problem(403, "insufficient_role");
    let r = app.call("POST", &path, Some(&owner.access), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["sessions_ended"], 4);

    for token in [
        owner.access.as_str(),
        admin.access.as_str(),
        viewer.access.as_str(),
        second["access_token"].as_str().expect("t"),
    ] {
        app.get("/v1/me", token)
            .await
            .assert_problem(401, "unauthenticated");
    }
    for refresh in [&owner.refresh, &admin.refresh, &viewer.refresh] {
        app.post("/v1/auth/refresh", None, json!({"refresh_token": refresh}))
            .await
            .assert_problem(401, "unauthenticated");
    }
    // API keys are revoked separately; people outside the workspace are untouched.
    assert_eq!(
        app.get(&format!("/v1/workspaces/{id}"), &viewer_key)
            .await
            .status,
        200
    );
    assert_eq!(app.get("/v1/me", &outsider.access).await.status, 200);
    assert_eq!(app.rows("sessions", "ended_at IS NULL").await, 1);
    assert_eq!(
        app.rows("audit_events", "action = 'workspace.sessions_revoked'")
            .await,
        1
    );
}

async fn a_workspace_key_revoked_on_one_replica_is_refused_by_another_on_the_next_request(
    app: TestApp,
) {
    let other = app.another_on_same_database(|_| {}).await;
    let owner = app.signup("replica-keys@example.com", "Owner").await;
    let ws = app.workspace(&owner.access, "Replicated").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/api-keys"),
            Some(&owner.access),
            json!({"name": "svc", "permissions": ["workspace:read", "members:list"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let key = r.body["secret"].as_str().expect("secret").to_owned();
    let members = format!("/v1/workspaces/{ws}/members");
    assert_eq!(other.get(&members, &key).await.status, 200);
    assert_eq!(app.get(&members, &key).await.status, 200);
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/api-keys/{id}"),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    other
        .get(&members, &key)
        .await
        .assert_problem(401, "unauthenticated");
    app.get(&members, &key)
        .await
        .assert_problem(401, "unauthenticated");
}
