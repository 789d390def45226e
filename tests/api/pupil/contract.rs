//! The Pupil Cloud v2 dialect under `/pupil/v2`: the envelope on every answer and every error
//! kind, its status codes, tolerant request parsing, the owner rule, and tenancy.

use serde_json::{json, Value};

use crate::{
    helpers::{assert_pupil_error, Resp, TestApp},
    on_both_databases,
};

/// Asserts a success envelope with status 200 and returns its `result`.
fn success(r: &Resp) -> &Value {
    assert_eq!(r.status, 200, "body: {}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body["code"], 200, "body: {}", r.text);
    assert_eq!(r.body["status"], "success");
    assert_eq!(
        r.body.as_object().map(|o| o.len()),
        Some(3),
        "only code, status, result"
    );
    &r.body["result"]
}

/// A user with an API key; returns (account, key).
async fn user(app: &TestApp, email: &str, name: &str) -> (crate::helpers::Account, String) {
    let a = app.signup(email, name).await;
    let (_, key) = app.api_key(&a.access, json!({"name": "pupil"})).await;
    (a, key)
}

on_both_databases!(
    every_kind_of_error_answers_in_the_envelope_and_changes_nothing,
    create_and_update_answer_200_with_the_body_and_store_the_change,
    requests_as_the_generated_client_writes_them_are_understood,
    an_owner_row_has_no_role_and_a_field_worker_reads_as_editor,
    a_non_member_gets_404_in_the_envelope_for_every_workspace_operation,
    an_invitation_is_accepted_by_its_public_id_only_by_the_invited_email,
    the_dialect_serves_its_own_openapi_document,
);

async fn every_kind_of_error_answers_in_the_envelope_and_changes_nothing(app: TestApp) {
    let (owner, key) = user(&app, "owner@example.com", "Owner").await;
    let (viewer, viewer_key) = user(&app, "viewer@example.com", "Viewer").await;
    let ws = app.workspace(&owner.access, "Lab").await;
    let ws = ws["id"].as_str().expect("id").to_owned();
    app.add(&owner.access, &ws, &viewer, "viewer").await;
    let before = app.census().await;

    assert_pupil_error(
        &app.pupil("GET", "/workspaces/", None, None).await,
        401,
        "unauthenticated",
    );
    assert_pupil_error(
        &app.pupil("GET", "/workspaces/", Some("rk_nope"), None)
            .await,
        401,
        "unauthenticated",
    );
    assert_pupil_error(
        &app.pupil("GET", "/workspaces/", Some(&owner.access), None)
            .await,
        401,
        "unauthenticated",
    );
    let r = app
        .pupil(
            "PATCH",
            &format!("/workspaces/{ws}"),
            Some(&viewer_key),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_pupil_error(&r, 403, "insufficient_role");
    assert_pupil_error(
        &app.pupil("GET", "/nowhere", Some(&key), None).await,
        404,
        "route_not_found",
    );
    assert_pupil_error(
        &app.pupil("GET", "/workspaces", Some(&key), None).await,
        404,
        "route_not_found",
    );
    assert_pupil_error(
        &app.pupil("PUT", "/workspaces/", Some(&key), Some(json!({})))
            .await,
        405,
        "method_not_allowed",
    );
    let malformed = app
        .client
        .post(app.url("/pupil/v2/workspaces/"))
        .header("api-key", &key)
        .header("content-type", "application/json")
        .body("{\"name\": ");
    assert_pupil_error(&app.send(malformed).await, 400, "malformed_json");
    assert_pupil_error(
        &app.pupil("POST", "/workspaces/", Some(&key), None).await,
        400,
        "body_required",
    );
    let r = app
        .pupil(
            "POST",
            "/workspaces/",
            Some(&key),
            Some(json!({"name": 42})),
        )
        .await;
    assert_pupil_error(&r, 409, "invalid_input");
    assert_eq!(r.body["result"]["fields"][0]["field"], "name");
    let r = app
        .pupil(
            "POST",
            "/workspaces/",
            Some(&key),
            Some(json!({"name": "  "})),
        )
        .await;
    assert_pupil_error(&r, 409, "invalid_input");
    let r = app
        .pupil(
            "POST",
            "/workspaces/",
            Some(&key),
            Some(json!({"name": "x", "extra": 1})),
        )
        .await;
    assert_pupil_error(&r, 409, "invalid_input");
    let r = app
        .pupil(
            "POST",
            &format!("/workspaces/{ws}/members"),
            Some(&key),
            Some(json!({"role": "OWNER", "user_id": viewer.id})),
        )
        .await;
    assert_pupil_error(&r, 409, "invalid_input");
    let r = app
        .pupil(
            "PATCH",
            &format!("/workspaces/{ws}/members/{}", owner.id),
            Some(&key),
            Some(json!({"role": "ADMIN"})),
        )
        .await;
    assert_pupil_error(&r, 409, "last_owner");
    let form = app
        .client
        .post(app.url("/pupil/v2/workspaces/"))
        .header("api-key", &key)
        .header("content-type", "text/plain")
        .body("{\"name\": \"x\"}");
    assert_pupil_error(&app.send(form).await, 415, "unsupported_media_type");
    let huge = app
        .client
        .post(app.url("/pupil/v2/workspaces/"))
        .header("api-key", &key)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024)));
    assert_pupil_error(&app.send(huge).await, 413, "payload_too_large");
    // The connection pool still works after the refusals above.
    success(&app.pupil("GET", "/workspaces/", Some(&key), None).await);

    assert_eq!(app.census().await, before, "refused calls changed nothing");
    assert_eq!(
        app.role_in_db(&ws, &owner.id).await.as_deref(),
        Some("owner")
    );
}

async fn create_and_update_answer_200_with_the_body_and_store_the_change(app: TestApp) {
    let (owner, key) = user(&app, "owner@example.com", "Owner").await;
    let r = app.pupil("POST", "/workspaces/", Some(&key), Some(json!({"name": "Eye Lab", "picture_url": "https://x.test/p.png", "world_video_mode": "NOUPLOAD"}))).await;
    let ws = success(&r).clone();
    assert_eq!(ws["name"], "Eye Lab");
    assert_eq!(ws["world_video_mode"], "NOUPLOAD");
    let id = ws["id"].as_str().expect("id").to_owned();
    assert_eq!(
        app.role_in_db(&id, &owner.id).await.as_deref(),
        Some("owner")
    );
    assert_eq!(
        app.rows(
            "workspaces",
            "name = 'Eye Lab' AND logo_url = 'https://x.test/p.png' AND world_video_mode = 'NOUPLOAD'"
        )
        .await,
        1
    );

    let r = app
        .pupil(
            "PATCH",
            &format!("/workspaces/{id}"),
            Some(&key),
            Some(json!({"name": "Renamed", "raw_file_downloads": true})),
        )
        .await;
    let ws = success(&r);
    assert_eq!(ws["name"], "Renamed");
    assert_eq!(ws["raw_file_downloads"], true);
    assert_eq!(
        app.rows("workspaces", "name = 'Renamed' AND raw_file_downloads")
            .await,
        1
    );

    let r = app
        .pupil("DELETE", &format!("/workspaces/{id}"), Some(&key), None)
        .await;
    assert!(success(&r).is_null());
    assert_eq!(app.rows("workspaces", "name = 'Renamed'").await, 0);
}

async fn requests_as_the_generated_client_writes_them_are_understood(app: TestApp) {
    let (owner, key) = user(&app, "owner@example.com", "Owner").await;
    let (other, other_key) = user(&app, "other@example.com", "Other").await;
    let me = app.get("/v1/me", &owner.access).await;
    let personal = me.body["personal_workspace_id"]
        .as_str()
        .expect("personal")
        .to_owned();

    // `Bearer ` prefix, and a workspace-id header naming someone else's workspace: the path wins.
    let other_personal =
        app.get("/v1/me", &other.access).await.body["personal_workspace_id"].clone();
    let req = app
        .client
        .get(app.url("/pupil/v2/workspaces/default"))
        .header("api-key", format!("Bearer {key}"))
        .header("workspace-id", other_personal.as_str().expect("id"))
        .header("content-type", "application/json");
    assert_eq!(success(&app.send(req).await)["id"], personal.as_str());
    // Percent-encoded segments are decoded; `%2F` stays inside its segment.
    let r = app
        .pupil("GET", "/workspaces/%64efault", Some(&key), None)
        .await;
    assert_eq!(success(&r)["id"], personal.as_str());
    assert_pupil_error(
        &app.pupil("GET", "/workspaces/default%2Fmembers", Some(&key), None)
            .await,
        404,
        "not_found",
    );
    // Datetimes without an offset, and read-only keys the client may send, are accepted.
    let r = app.pupil("POST", "/workspaces/", Some(&key), Some(json!({"name": "Naive", "id": "client-side", "created_at": "2024-01-02T03:04:05", "deleted_at": "2024-01-02T03:04:05.5"}))).await;
    let id = success(&r)["id"].as_str().expect("id").to_owned();
    assert_ne!(id, "client-side");
    let r = app
        .pupil(
            "POST",
            "/workspaces/",
            Some(&key),
            Some(json!({"name": "Bad", "created_at": "Mon, 01 Jan 2024"})),
        )
        .await;
    assert_pupil_error(&r, 409, "invalid_input");
    app.add(&owner.access, &id, &other, "viewer").await;
    let r = app
        .pupil(
            "PATCH",
            &format!("/workspaces/{id}/members/{}", other.id),
            Some(&key),
            Some(json!({"role": "EDITOR", "updated_at": "2024-01-02T03:04:05"})),
        )
        .await;
    assert_eq!(success(&r)["role"], "EDITOR");
    assert_eq!(
        app.role_in_db(&id, &other.id).await.as_deref(),
        Some("editor")
    );
    // JSON content type on a bodiless DELETE: the invitee leaves.
    let r = app
        .pupil(
            "DELETE",
            &format!("/workspaces/{id}/members/{}", other.id),
            Some(&other_key),
            None,
        )
        .await;
    assert_eq!(success(&r), &json!([]));
    assert_eq!(app.role_in_db(&id, &other.id).await, None);
}

async fn an_owner_row_has_no_role_and_a_field_worker_reads_as_editor(app: TestApp) {
    let (owner, key) = user(&app, "owner@example.com", "Owner").await;
    let (fw, _) = user(&app, "fw@example.com", "Field").await;
    let (co, _) = user(&app, "co@example.com", "Co").await;
    let ws = app.workspace(&owner.access, "Lab").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.add(&owner.access, &ws, &fw, "field_worker").await;
    app.add(&owner.access, &ws, &co, "owner").await;
    let r = app
        .pupil(
            "GET",
            &format!("/workspaces/{ws}/members"),
            Some(&key),
            None,
        )
        .await;
    let rows = success(&r).as_array().expect("array").clone();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let id = row["user_id"].as_str().expect("user_id");
        if id == owner.id || id == co.id {
            assert_eq!(row["is_owner"], true);
            assert!(row.get("role").is_none(), "an owner row has no role: {row}");
        } else {
            assert_eq!(row["is_owner"], false);
            assert_eq!(row["role"], "EDITOR");
        }
    }
    // Writing back EDITOR keeps the field worker a field worker.
    let r = app
        .pupil(
            "PATCH",
            &format!("/workspaces/{ws}/members/{}", fw.id),
            Some(&key),
            Some(json!({"role": "EDITOR"})),
        )
        .await;
    assert_eq!(success(&r)["role"], "EDITOR");
    assert_eq!(
        app.role_in_db(&ws, &fw.id).await.as_deref(),
        Some("field_worker")
    );
    let r = app
        .pupil(
            "GET",
            &format!("/workspaces/{ws}/members/{}", co.id),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(success(&r)["is_owner"], true);
}

async fn a_non_member_gets_404_in_the_envelope_for_every_workspace_operation(app: TestApp) {
    let (owner, key) = user(&app, "owner@example.com", "Owner").await;
    let (member, _) = user(&app, "member@example.com", "Member").await;
    let (_, stranger_key) = user(&app, "stranger@example.com", "Stranger").await;
    let ws = app.workspace(&owner.access, "Lab").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.add(&owner.access, &ws, &member, "editor").await;
    let r = app
        .pupil(
            "POST",
            &format!("/workspaces/{ws}/invites"),
            Some(&key),
            Some(json!({"email": "new@example.com", "role": "VIEWER"})),
        )
        .await;
    let token = success(&r)["token"].as_str().expect("token").to_owned();
    let before = app.census().await;
    let m = &member.id;
    let operations: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/workspaces/{ws}"), None),
        (
            "PATCH",
            format!("/workspaces/{ws}"),
            Some(json!({"name": "mine"})),
        ),
        ("DELETE", format!("/workspaces/{ws}"), None),
        (
            "POST",
            format!("/workspaces/{ws}/invites"),
            Some(json!({"email": "x@example.com", "role": "ADMIN"})),
        ),
        ("GET", format!("/workspaces/{ws}/invites"), None),
        ("GET", format!("/workspaces/{ws}/invites/{token}"), None),
        ("DELETE", format!("/workspaces/{ws}/invites/{token}"), None),
        ("GET", format!("/workspaces/{ws}/members"), None),
        (
            "POST",
            format!("/workspaces/{ws}/members"),
            Some(json!({"role": "ADMIN", "user_id": m})),
        ),
        ("GET", format!("/workspaces/{ws}/members/{m}"), None),
        (
            "PATCH",
            format!("/workspaces/{ws}/members/{m}"),
            Some(json!({"role": "VIEWER"})),
        ),
        ("DELETE", format!("/workspaces/{ws}/members/{m}"), None),
        ("GET", format!("/auth/profile/invites/{token}"), None),
        (
            "POST",
            format!("/auth/profile/invites/{token}/accept"),
            None,
        ),
        ("DELETE", format!("/auth/profile/invites/{token}"), None),
    ];
    for (method, path, body) in operations {
        let r = app.pupil(method, &path, Some(&stranger_key), body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
        assert_pupil_error(&r, 404, "not_found");
    }
    assert_eq!(app.census().await, before);
    assert_eq!(app.rows("invitations", "status = 'pending'").await, 1);
}

async fn an_invitation_is_accepted_by_its_public_id_only_by_the_invited_email(app: TestApp) {
    let (owner, key) = user(&app, "owner@example.com", "Owner").await;
    let (bob, bob_key) = user(&app, "Bob@Example.com", "Bob").await;
    let (eve, eve_key) = user(&app, "eve@example.com", "Eve").await;
    let ws = app.workspace(&owner.access, "Lab").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = app
        .pupil(
            "POST",
            &format!("/workspaces/{ws}/invites"),
            Some(&key),
            Some(json!({"email": "bob@example.com", "role": "ADMIN"})),
        )
        .await;
    let inv = success(&r).clone();
    let token = inv["token"].as_str().expect("token").to_owned();
    assert_eq!(inv["id"], token.as_str(), "the path token is the public id");
    assert_eq!(inv["role"], "ADMIN");
    // The secret of the email link is not accepted where the public id belongs.
    let r = app
        .pupil("GET", "/auth/profile/invites", Some(&bob_key), None)
        .await;
    assert_eq!(success(&r).as_array().map(Vec::len), Some(1));
    let r = app
        .pupil(
            "POST",
            &format!("/auth/profile/invites/{token}/accept"),
            Some(&eve_key),
            None,
        )
        .await;
    assert_pupil_error(&r, 404, "not_found");
    assert_eq!(app.role_in_db(&ws, &eve.id).await, None);
    let r = app
        .pupil(
            "POST",
            &format!("/auth/profile/invites/{token}/accept"),
            Some(&bob_key),
            None,
        )
        .await;
    let joined = success(&r);
    assert_eq!(joined["role"], "ADMIN");
    assert_eq!(joined["user_id"], bob.id.as_str());
    assert_eq!(app.role_in_db(&ws, &bob.id).await.as_deref(), Some("admin"));
    assert_eq!(app.rows("invitations", "status = 'accepted'").await, 1);
    let r = app
        .pupil(
            "POST",
            &format!("/auth/profile/invites/{token}/accept"),
            Some(&bob_key),
            None,
        )
        .await;
    assert_pupil_error(&r, 409, "invitation_accepted");
}

async fn the_dialect_serves_its_own_openapi_document(app: TestApp) {
    let r = app
        .client
        .get(app.url("/pupil/v2/openapi.json"))
        .send()
        .await
        .expect("get");
    let r = TestApp::read(r).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["servers"][0]["url"], "/pupil/v2");
    let paths = r.body["paths"].as_object().expect("paths");
    assert_eq!(paths.len(), 13, "{:?}", paths.keys().collect::<Vec<_>>());
    assert!(paths["/workspaces/"]["post"]["responses"]["200"].is_object());
    assert!(r.body["components"]["securitySchemes"]["api_key"].is_object());
}
