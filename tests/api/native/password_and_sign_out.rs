//! Changing one's password and signing out everywhere: every other session ends at once, on
//! every replica; a wrong current password changes nothing and counts as a failed sign-in.

use serde_json::{json, Value};

use crate::{helpers::TestApp, on_both_databases};

on_both_databases!(
    changing_the_password_ends_every_other_session_and_keeps_the_callers,
    a_wrong_current_password_or_a_weak_new_one_changes_nothing,
    signing_out_everywhere_ends_every_session_on_every_replica,
);

fn token(v: &Value, field: &str) -> String {
    v[field].as_str().expect("token").to_owned()
}

async fn changing_the_password_ends_every_other_session_and_keeps_the_callers(app: TestApp) {
    let a = app.signup("change@example.com", "Change").await;
    let other = app.login("change@example.com", &a.password).await;
    let third = app.login("change@example.com", &a.password).await;
    let hash_before = app
        .rows(
            "users",
            "email = 'change@example.com' AND password_hash IS NOT NULL",
        )
        .await;
    assert_eq!(hash_before, 1);

    let r = app
        .post(
            "/v1/me/password",
            Some(&a.access),
            json!({"current_password": a.password, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["sessions_ended"], 2, "{}", r.text);

    // The caller's session stays; the others end, refresh tokens included.
    assert_eq!(app.get("/v1/me", &a.access).await.status, 200);
    for s in [&other, &third] {
        app.get("/v1/me", &token(s, "access_token"))
            .await
            .assert_problem(401, "unauthenticated");
        app.post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": token(s, "refresh_token")}),
        )
        .await
        .assert_problem(401, "unauthenticated");
    }
    assert_eq!(app.rows("sessions", "ended_at IS NULL").await, 1);
    assert_eq!(
        app.rows("sessions", "end_reason = 'password_changed'")
            .await,
        2
    );
    // The old password no longer signs in; the new one does.
    app.post(
        "/v1/auth/login",
        None,
        json!({"email": "change@example.com", "password": a.password}),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    app.login("change@example.com", "a brand new passphrase")
        .await;
    assert_eq!(
        app.rows("audit_events", "action = 'user.password_changed'")
            .await,
        1
    );
}

async fn a_wrong_current_password_or_a_weak_new_one_changes_nothing(app: TestApp) {
    let a = app.signup("wrong@example.com", "Wrong").await;
    let other = app.login("wrong@example.com", &a.password).await;
    let before = app.census().await;
    let r = app
        .post(
            "/v1/me/password",
            Some(&a.access),
            json!({"current_password": "not my password", "new_password": "whatever it is now"}),
        )
        .await;
    r.assert_problem(401, "invalid_credentials");
    // Counted like a failed sign-in for this address.
    assert_eq!(
        app.rows("rate_limits", "bucket = 'login:wrong@example.com'")
            .await,
        1
    );
    let r = app
        .post(
            "/v1/me/password",
            Some(&a.access),
            json!({"current_password": a.password, "new_password": "short"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "new_password", "{}", r.text);
    let r = app
        .post(
            "/v1/me/password",
            Some(&a.access),
            json!({"current_password": a.password, "new_password": "p".repeat(257)}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(app.census().await, before);
    assert_eq!(
        app.get("/v1/me", &token(&other, "access_token"))
            .await
            .status,
        200
    );
    app.login("wrong@example.com", &a.password).await;
}

async fn signing_out_everywhere_ends_every_session_on_every_replica(app: TestApp) {
    let a = app.signup("everywhere@example.com", "Everywhere").await;
    let laptop = app.login("everywhere@example.com", &a.password).await;
    let phone = app.login("everywhere@example.com", &a.password).await;
    let replica = app.another_on_same_database(|_| {}).await;
    assert_eq!(
        replica
            .get("/v1/me", &token(&phone, "access_token"))
            .await
            .status,
        200
    );

    // Everywhere but here.
    let r = app
        .call(
            "POST",
            "/v1/me/sessions/revoke-all?keep_current=true",
            Some(&a.access),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["sessions_ended"], 2, "{}", r.text);
    for s in [&laptop, &phone] {
        replica
            .get("/v1/me", &token(s, "access_token"))
            .await
            .assert_problem(401, "unauthenticated");
    }
    assert_eq!(replica.get("/v1/me", &a.access).await.status, 200);

    // Everywhere, here too.
    let r = replica
        .call("POST", "/v1/me/sessions/revoke-all", Some(&a.access), None)
        .await;
    assert_eq!(r.body["sessions_ended"], 1, "{}", r.text);
    app.get("/v1/me", &a.access)
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(app.rows("sessions", "ended_at IS NULL").await, 0);
    assert_eq!(
        app.rows("audit_events", "action = 'sessions.revoked_all'")
            .await,
        2
    );
}
