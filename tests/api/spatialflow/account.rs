//! The dialect's account routes with bad input: change-password (a wrong current password,
//! huge, unicode and NUL passwords, wrong types), the profile (`/account/me`) and its deletion,
//! the deprecated register. Each refusal is a 4xx in the dialect's shape and changes nothing.

use serde_json::json;

use crate::{
    helpers::{assert_sf_error, TestApp},
    on_both_databases,
};

on_both_databases!(
    bad_password_changes_get_the_dialects_4xx_and_change_nothing,
    a_unicode_password_change_ends_the_other_sessions_and_signs_in,
    bad_profile_updates_are_refused_by_field_and_change_nothing,
    the_last_owner_cannot_delete_the_account_and_a_sole_member_can,
    the_deprecated_register_is_gone_and_creates_nothing,
);

async fn bad_password_changes_get_the_dialects_4xx_and_change_nothing(app: TestApp) {
    let a = app.signup("pw@example.com", "Pw").await;
    let token = app.sf_token(&a.email).await;
    let before = app.census().await;
    let change = |body: String| {
        let token = token.clone();
        let app = &app;
        async move {
            app.sf_raw("POST", "/auth/change-password", Some(&token), &body)
                .await
        }
    };

    let r = change(
        json!({"current_password": "not my password", "new_password": "a new passphrase"})
            .to_string(),
    )
    .await;
    assert_sf_error(&r, 400, "INVALID_CURRENT_PASSWORD");
    // Counted like a failed sign-in for this address.
    assert_eq!(
        app.rows("rate_limits", "bucket = 'login:pw@example.com'")
            .await,
        1
    );

    let huge = "p".repeat(100_000);
    let r =
        change(json!({"current_password": huge, "new_password": "a new passphrase"}).to_string())
            .await;
    assert_sf_error(&r, 400, "INVALID_CURRENT_PASSWORD");
    let r = change(
        json!({"current_password": a.password, "new_password": "p".repeat(257)}).to_string(),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", "new_password"]));
    assert_eq!(r.body["detail"][0]["type"], "too_long");
    let r =
        change(json!({"current_password": a.password, "new_password": "日本"}).to_string()).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["detail"][0]["type"], "too_short");
    let r = change(
        json!({"current_password": a.password, "new_password": "nul\u{0}inside it"}).to_string(),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r =
        change(json!({"current_password": a.password, "new_password": 12345678}).to_string()).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", "new_password"]));
    let r = change(json!({"current_password": a.password}).to_string()).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["detail"][0]["type"], "missing");
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", "new_password"]));
    let r = change("[]".into()).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = change(format!(
        r#"{{"current_password":"{}","new_password":"{}"}}"#,
        a.password,
        "x".repeat(1_100_000)
    ))
    .await;
    assert_sf_error(&r, 413, "PAYLOAD_TOO_LARGE");
    let r = app
        .sf_raw(
            "POST",
            "/auth/change-password",
            None,
            &json!({"current_password": a.password, "new_password": "a new passphrase"})
                .to_string(),
        )
        .await;
    assert_sf_error(&r, 401, "NOT_AUTHENTICATED");

    // Nothing changed: every session still open, the old password still signs in.
    assert_eq!(app.census().await, before);
    assert_eq!(app.rows("sessions", "ended_at IS NULL").await, 2);
    assert_eq!(app.get("/v1/me", &a.access).await.status, 200);
    assert_eq!(
        app.rows("audit_events", "action = 'user.password_changed'")
            .await,
        0
    );
    app.sf_token(&a.email).await;
}

async fn a_unicode_password_change_ends_the_other_sessions_and_signs_in(app: TestApp) {
    let a = app.signup("uni@example.com", "Uni").await;
    let token = app.sf_token(&a.email).await;
    let new = "Pässwörter-日本語-🔑 mit Leerzeichen";
    let r = app
        .sf_raw(
            "POST",
            "/auth/change-password",
            Some(&token),
            &json!({"current_password": a.password, "new_password": new}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["sessions_ended"], 1, "{}", r.text);
    assert!(r.body["message"].is_string());
    assert_eq!(app.get("/v1/me", &a.access).await.status, 401);
    let r = app.sf("GET", "/auth/me", Some(&token), None).await;
    assert_eq!(r.status, 200, "the caller's session stays: {}", r.text);
    assert_eq!(app.rows("sessions", "ended_at IS NULL").await, 1);
    assert_eq!(
        app.rows("sessions", "end_reason = 'password_changed'")
            .await,
        1
    );
    assert_sf_error(
        &app.sf_login(&a.email, &a.password).await,
        401,
        "INVALID_CREDENTIALS",
    );
    assert_eq!(app.sf_login(&a.email, new).await.status, 200);
}

async fn bad_profile_updates_are_refused_by_field_and_change_nothing(app: TestApp) {
    let a = app.signup("prof@example.com", "Prof").await;
    let token = app.sf_token(&a.email).await;
    let before = app.census().await;
    let refused = [
        (json!({"name": 5}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "ü".repeat(201)}), "name"),
        (
            json!({"avatar_url": "ftp://example.com/me.png"}),
            "avatar_url",
        ),
        (json!({"avatar_url": 7}), "avatar_url"),
        (json!({"marketing_emails": "yes"}), "marketing_emails"),
        (
            json!({"name": "Fine", "timezone": "Europe/Berlin"}),
            "timezone",
        ),
        (json!({"email_notifications": false}), "email_notifications"),
    ];
    for (body, field) in refused {
        let r = app
            .sf_raw("PUT", "/account/me", Some(&token), &body.to_string())
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        assert_eq!(
            r.body["detail"][0]["loc"],
            json!(["body", field]),
            "{body}: {}",
            r.text
        );
    }
    let r = app.sf_raw("PUT", "/account/me", Some(&token), "").await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = app
        .sf_raw("PUT", "/account/me", None, r#"{"name":"X"}"#)
        .await;
    assert_sf_error(&r, 401, "NOT_AUTHENTICATED");
    assert_eq!(app.census().await, before);
    let me = app.get("/v1/me", &a.access).await;
    assert_eq!(me.body["name"], "Prof");
    assert_eq!(me.body["photo_url"], json!(null));
    assert_eq!(app.rows("audit_events", "action = 'user.updated'").await, 0);

    // Explicit nulls for the preferences Roster does not keep are fine; a unicode name is kept.
    let r = app
        .sf_raw(
            "PUT",
            "/account/me",
            Some(&token),
            r#"{"name":"Zoë 日本","timezone":null,"bio":null}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Zoë 日本");
    let r = app.sf("GET", "/account/me", Some(&token), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Zoë 日本");
    assert!(r.body["id"].is_string() && r.body["email_verified"].is_boolean());
    assert_eq!(app.get("/v1/me", &a.access).await.body["name"], "Zoë 日本");
}

async fn the_last_owner_cannot_delete_the_account_and_a_sole_member_can(app: TestApp) {
    let owner = app.signup("boss@example.com", "Boss").await;
    let member = app.signup("crew@example.com", "Crew").await;
    let ws = app.workspace(&owner.access, "Crew Ops").await;
    let ws_id = ws["id"].as_str().expect("id").to_owned();
    app.add(&owner.access, &ws_id, &member, "editor").await;
    let token = app.sf_token(&owner.email).await;
    let before = app.census().await;
    let r = app.sf_raw("DELETE", "/account/me", Some(&token), "").await;
    assert_sf_error(&r, 409, "LAST_OWNER");
    assert_eq!(app.census().await, before);
    assert_eq!(app.rows("users", "email = 'boss@example.com'").await, 1);
    assert_eq!(app.get("/v1/me", &owner.access).await.status, 200);

    let crew = app.sf_token(&member.email).await;
    let r = app.sf_raw("DELETE", "/account/me", Some(&crew), "").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty());
    assert_eq!(app.rows("users", "email = 'crew@example.com'").await, 0);
    assert_sf_error(
        &app.sf("GET", "/account/me", Some(&crew), None).await,
        401,
        "NOT_AUTHENTICATED",
    );
    assert_eq!(
        app.get(&format!("/v1/workspaces/{ws_id}"), &owner.access)
            .await
            .body["member_count"],
        1
    );
}

async fn the_deprecated_register_is_gone_and_creates_nothing(app: TestApp) {
    let before = app.census().await;
    for body in [
        json!({"email": "old@example.com", "password": "a long password", "name": "Old"})
            .to_string(),
        "{".to_owned(),
        String::new(),
    ] {
        let r = app.sf_raw("POST", "/auth/register", None, &body).await;
        assert_sf_error(&r, 410, "ENDPOINT_DEPRECATED");
    }
    assert_eq!(app.census().await, before);
    assert_eq!(app.rows("users", "email = 'old@example.com'").await, 0);
    let r = app.sf("GET", "/auth/health", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"status": "healthy", "service": "authentication"})
    );
}
