//! The SpatialFlow dialect over real HTTP: its error shapes, exact status codes, strictness
//! traps, rate limits (429 with `Retry-After`) and tenancy, with the database checked after.

use serde_json::{json, Value};

use crate::{
    helpers::{assert_sf_error, TestApp, SF},
    on_both_databases,
};

on_both_databases!(
    errors_have_the_spatialflow_shape_and_exact_status_codes,
    a_non_member_gets_404_for_another_workspaces_things_and_nothing_changes,
    rate_limits_answer_429_with_whole_seconds_in_retry_after,
    naive_datetimes_empty_bodies_and_explicit_nulls_are_accepted,
);

async fn errors_have_the_spatialflow_shape_and_exact_status_codes(app: TestApp) {
    let owner = app.signup("owner@example.com", "Owner").await;
    let token = app.sf_token(&owner.email).await;

    let r = app.sf_raw("GET", "/workspaces/", None, "").await;
    assert_sf_error(&r, 401, "NOT_AUTHENTICATED");
    let r = app.sf_raw("GET", "/no/such/route", Some(&token), "").await;
    assert_sf_error(&r, 404, "ROUTE_NOT_FOUND");

    let r = app
        .sf_raw("POST", "/workspaces/invitations", Some(&token), "{}")
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["detail"][0]["type"], "missing");
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", "email"]));
    let r = app
        .sf_raw("POST", "/workspaces/invitations", Some(&token), "{")
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.body["detail"].is_array());

    let r = app
        .sf_raw(
            "POST",
            "/workspaces/invitations",
            Some(&token),
            r#"{"email":"new@example.com","role":"manager"}"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["id"].is_string() && r.body["invite_ttl_hours"].is_i64());
    assert_eq!(r.body["role"], "manager");
    assert_eq!(
        app.rows("invitations", "role = 'admin' AND status = 'pending'")
            .await,
        1
    );

    let r = app
        .sf_raw("GET", "/workspaces/members", Some(&token), "")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["total"], json!(1));
    assert_eq!(r.body["truncated"], json!(false));
    assert!(r.body["members"][0]["id"].is_string());
    assert_eq!(r.body["members"][0]["role"], "owner");

    // The last owner stays: 400 (SpatialFlow declares no 409 here), nothing changes.
    let path = format!("/workspaces/members/{}", owner.id);
    let r = app
        .sf_raw("PATCH", &path, Some(&token), r#"{"role":"member"}"#)
        .await;
    assert_sf_error(&r, 400, "LAST_OWNER");
    let r = app
        .sf_raw("PATCH", &path, Some(&token), r#"{"role":"admin"}"#)
        .await;
    assert_eq!(
        r.status, 422,
        "`admin` is not a SpatialFlow word: {}",
        r.text
    );
    let r = app.sf_raw("DELETE", &path, Some(&token), "").await;
    assert_sf_error(&r, 400, "LAST_OWNER");
    assert_eq!(app.rows("memberships", "role = 'owner'").await, 1);

    // Length caps are checked on input, so nothing longer can ever be returned.
    let r = app
        .sf_raw(
            "PATCH",
            "/workspaces/",
            Some(&token),
            &json!({"lane": null, "timezone": "x".repeat(51)}).to_string(),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", "timezone"]));

    let r = app.get(&format!("{SF}/openapi.json"), &token).await;
    assert_eq!(r.status, 200);
    assert!(r.body["paths"]["/api/v1/workspaces/"]["put"].is_object());
    assert!(r.body["paths"]["/api/v1/workspaces/invitations/resend-missing"]["post"].is_object());
}

async fn a_non_member_gets_404_for_another_workspaces_things_and_nothing_changes(app: TestApp) {
    let owner = app.signup("owner@example.com", "Owner").await;
    let outsider = app.signup("outsider@example.com", "Outsider").await;
    let owner_token = app.sf_token(&owner.email).await;
    let outsider_token = app.sf_token(&outsider.email).await;
    let r = app
        .post(
            &format!("{SF}/workspaces/invitations"),
            Some(&owner_token),
            json!({"email": "invitee@example.com", "role": "member"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let invitation = r.body["id"].as_str().expect("id").to_owned();
    let ws = app.get(&format!("{SF}/workspaces/"), &owner_token).await;
    let ws_id = ws.body["id"].as_str().expect("id").to_owned();

    let attempts: Vec<(&str, String, &str)> = vec![
        (
            "DELETE",
            format!("/workspaces/invitations/{invitation}"),
            "",
        ),
        (
            "PATCH",
            format!("/workspaces/invitations/{invitation}"),
            r#"{"expires_at":"SOON"}"#,
        ),
        (
            "POST",
            format!("/workspaces/invitations/{invitation}/resend"),
            "",
        ),
        (
            "PATCH",
            format!("/workspaces/members/{}", owner.id),
            r#"{"role":"member"}"#,
        ),
        ("DELETE", format!("/workspaces/members/{}", owner.id), ""),
        (
            "POST",
            "/workspaces/select".to_owned(),
            r#"{"workspace_id":"WS"}"#,
        ),
    ];
    for (method, path, body) in attempts {
        let soon = (app.state.core.clock.now() + chrono::Duration::days(30)).to_rfc3339();
        let body = body.replace("WS", &ws_id).replace("SOON", &soon);
        let r = app
            .sf_raw(method, &path, Some(&outsider_token), &body)
            .await;
        assert_sf_error(&r, 404, "NOT_FOUND");
    }
    assert_eq!(app.rows("invitations", "status = 'pending'").await, 1);
    assert_eq!(app.rows("memberships", "role = 'owner'").await, 2);
    // The outsider's own workspace is untouched by the other's invitation list.
    let r = app
        .get(&format!("{SF}/workspaces/invitations"), &outsider_token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["total"], json!(0));
    assert_eq!(r.body["invitations"], json!([]));
}

async fn rate_limits_answer_429_with_whole_seconds_in_retry_after(app: TestApp) {
    let owner = app.signup("owner@example.com", "Owner").await;
    let token = app.sf_token(&owner.email).await;
    let r = app
        .sf_raw("POST", "/workspaces/revoke-all-sessions", Some(&token), "")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["sessions_revoked"].as_u64().expect("count") >= 1);
    assert_eq!(r.body["members_affected"], json!(1));
    let r = app.sf_raw("GET", "/workspaces/", Some(&token), "").await;
    assert_sf_error(&r, 401, "NOT_AUTHENTICATED");

    let token = app.sf_token(&owner.email).await;
    let r = app
        .sf_raw("POST", "/workspaces/revoke-all-sessions", Some(&token), "")
        .await;
    assert_sf_error(&r, 429, "RATE_LIMITED");
    let wait: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    let r = app.sf_raw("GET", "/workspaces/", Some(&token), "").await;
    assert_eq!(r.status, 200, "the refused revoke ended nothing");

    // The batch resend's own budget: 10 calls an hour that resend something.
    let r = app
        .post(
            &format!("{SF}/workspaces/invitations"),
            Some(&token),
            json!({"email": "invitee@example.com"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let empty = app
        .sf_raw(
            "POST",
            "/workspaces/invitations/resend-missing",
            Some(&token),
            r#"{"invitation_ids":[]}"#,
        )
        .await;
    assert_eq!(empty.status, 200, "a call that resends nothing is free");
    for _ in 0..10 {
        let r = app
            .sf_raw(
                "POST",
                "/workspaces/invitations/resend-missing",
                Some(&token),
                "{}",
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = app
        .sf_raw(
            "POST",
            "/workspaces/invitations/resend-missing",
            Some(&token),
            "{}",
        )
        .await;
    assert_sf_error(&r, 429, "RATE_LIMITED");
    assert!(r
        .header("retry-after")
        .expect("Retry-After")
        .parse::<u64>()
        .is_ok());
    assert_eq!(
        app.rows("audit_events", "action = 'invitation.resent'")
            .await,
        10
    );
}

async fn naive_datetimes_empty_bodies_and_explicit_nulls_are_accepted(app: TestApp) {
    let owner = app.signup("owner@example.com", "Owner").await;
    let token = app.sf_token(&owner.email).await;
    let r = app
        .post(
            &format!("{SF}/workspaces/invitations"),
            Some(&token),
            json!({"email": "invitee@example.com", "role": "field_worker"}),
        )
        .await;
    let id = r.body["id"].as_str().expect("id").to_owned();
    let at = (app.state.core.clock.now() + chrono::Duration::days(20))
        .naive_utc()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string();
    let r = app
        .sf_raw(
            "PATCH",
            &format!("/workspaces/invitations/{id}"),
            Some(&token),
            &json!({ "expires_at": at }).to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let returned = r.body["expires_at"].as_str().expect("expires_at");
    assert!(returned.ends_with('Z'), "{returned}");
    assert!(returned.starts_with(&at[..19]), "{returned} vs {at}");

    // Bodiless POSTs with a JSON content type.
    let r = app
        .sf_raw(
            "POST",
            &format!("/workspaces/invitations/{id}/resend"),
            Some(&token),
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["invite_link"].is_string());
    let r = app.sf_raw("POST", "/auth/refresh", None, "").await;
    assert_sf_error(&r, 401, "NOT_AUTHENTICATED");
    let r = app
        .sf_raw(
            "POST",
            "/workspaces/invitations/resend-missing",
            Some(&token),
            r#"{"invitation_ids":null,"before":null}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["resent_count"], json!(1));
    assert_eq!(r.body["results"][0]["status"], "resent");

    // Explicit nulls clear; a `null` name leaves the name.
    let r = app
        .sf_raw(
            "PATCH",
            "/workspaces/",
            Some(&token),
            r#"{"name":null,"timezone":"UTC","map_home":{"lat":1}}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .sf_raw(
            "PATCH",
            "/workspaces/",
            Some(&token),
            r#"{"timezone":null}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["timezone"], Value::Null);
    assert_eq!(r.body["map_home"], json!({"lat": 1}));
    assert_eq!(r.body["name"], "Owner's workspace");
}
