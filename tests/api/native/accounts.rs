//! Sign-up, sign-in and the profile.

use futures::future::join_all;
use serde_json::{json, Value};

use crate::{helpers::TestApp, on_both_databases};

on_both_databases!(
    signing_up_creates_the_user_and_their_personal_workspace_with_them_as_owner,
    signing_up_again_with_the_same_email_in_another_case_is_a_conflict,
    parallel_sign_ups_with_one_email_create_exactly_one_account,
    sign_in_trims_the_email_and_ignores_its_case,
    a_failed_sign_in_answers_the_same_for_an_unknown_email_and_a_wrong_password,
    the_profile_reads_back_what_was_written_and_refuses_mass_assignment,
    a_picture_onboarding_and_the_updates_opt_in_are_kept_and_audited,
);

async fn signing_up_creates_the_user_and_their_personal_workspace_with_them_as_owner(app: TestApp) {
    let r = app
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "  Ada@Example.com ", "password": "correct horse", "name": " Ada "}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("location"), Some("/v1/me"));
    assert_eq!(r.body["user"]["email"], "Ada@Example.com");
    assert_eq!(r.body["user"]["name"], "Ada");
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert!(r.body["access_token"]
        .as_str()
        .is_some_and(|t| t.split('.').count() == 3));
    assert!(r.body["refresh_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("rt_")));
    let ws = r.body["user"]["personal_workspace_id"]
        .as_str()
        .expect("ws");
    assert_eq!(r.body["user"]["primary_workspace_id"], ws);

    assert_eq!(app.rows("users", "email_key = 'ada@example.com'").await, 1);
    assert_eq!(app.rows("workspaces", "is_personal").await, 1);
    assert_eq!(app.rows("memberships", "role = 'owner'").await, 1);
    assert_eq!(app.rows("sessions", "ended_at IS NULL").await, 1);
    // Only the hash of the password is stored.
    assert_eq!(
        app.rows("users", "password_hash LIKE '$argon2id$%'").await,
        1
    );

    let me = app
        .get("/v1/me", r.body["access_token"].as_str().expect("token"))
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["id"], r.body["user"]["id"]);
}

async fn signing_up_again_with_the_same_email_in_another_case_is_a_conflict(app: TestApp) {
    app.signup("grace@example.com", "Grace").await;
    let r = app
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "GRACE@example.COM", "password": "another password", "name": "G"}),
        )
        .await;
    r.assert_problem(409, "email_taken");
    assert_eq!(app.rows("users", "").await, 1);
    assert_eq!(app.rows("workspaces", "").await, 1);
}

async fn parallel_sign_ups_with_one_email_create_exactly_one_account(app: TestApp) {
    let tries = (0..20).map(|i| {
        app.post(
            "/v1/auth/signup",
            None,
            json!({"email": format!("Race@Example.com{}", " ".repeat(i % 3)), "password": "racing password", "name": "R"}),
        )
    });
    let results = join_all(tries).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1);
    for r in results.iter().filter(|r| r.status != 201) {
        r.assert_problem(409, "email_taken");
    }
    assert_eq!(app.rows("users", "").await, 1);
    assert_eq!(app.rows("workspaces", "").await, 1);
    assert_eq!(app.rows("memberships", "").await, 1);
}

async fn sign_in_trims_the_email_and_ignores_its_case(app: TestApp) {
    let a = app.signup("linus@example.com", "Linus").await;
    let body = app.login("  LINUS@Example.Com\t", &a.password).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(app.rows("sessions", "ended_at IS NULL").await, 2);
}

async fn a_failed_sign_in_answers_the_same_for_an_unknown_email_and_a_wrong_password(app: TestApp) {
    app.signup("known@example.com", "Known").await;
    let wrong = app
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "known@example.com", "password": "not the password"}),
        )
        .await;
    let unknown = app
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": "not the password"}),
        )
        .await;
    wrong.assert_problem(401, "invalid_credentials");
    unknown.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(
        app.rows("sessions", "").await,
        1,
        "only the sign-up session"
    );
}

async fn the_profile_reads_back_what_was_written_and_refuses_mass_assignment(app: TestApp) {
    let a = app.signup("ken@example.com", "Ken").await;
    let r = app
        .call(
            "PATCH",
            "/v1/me",
            Some(&a.access),
            Some(json!({"name": "  Ken Thompson "})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Ken Thompson");
    assert_eq!(
        app.get("/v1/me", &a.access).await.body["name"],
        "Ken Thompson"
    );

    for body in [
        json!({"email_verified": true}),
        json!({"email": "other@example.com"}),
        json!({"name": ""}),
        json!({"name": "x".repeat(201)}),
        json!({"name": 7}),
    ] {
        let r = app
            .call("PATCH", "/v1/me", Some(&a.access), Some(body.clone()))
            .await;
        r.assert_problem(422, "validation_failed");
    }
    assert_eq!(
        app.rows(
            "users",
            "name = 'Ken Thompson' AND email_key = 'ken@example.com' AND NOT email_verified"
        )
        .await,
        1
    );
}

async fn a_picture_onboarding_and_the_updates_opt_in_are_kept_and_audited(app: TestApp) {
    let a = app.signup("grace@example.com", "Grace").await;
    let me = app.get("/v1/me", &a.access).await;
    assert_eq!(me.body["photo_url"], Value::Null);
    assert_eq!(me.body["onboarded_at"], Value::Null);
    assert_eq!(me.body["product_updates_subscribed"], false);
    let patch = |body: Value| app.call("PATCH", "/v1/me", Some(&a.access), Some(body));
    let r = patch(
        json!({"photo_url": "https://example.com/g.png", "onboarded": true,
        "product_updates_subscribed": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["photo_url"], "https://example.com/g.png");
    assert_eq!(r.body["product_updates_subscribed"], true);
    let onboarded_at = r.body["onboarded_at"].clone();
    assert!(onboarded_at.is_string(), "{}", r.text);
    // Onboarding is recorded once; `null` removes the picture and leaves the rest.
    app.clock.advance(std::time::Duration::from_secs(60));
    let r = patch(json!({"onboarded": true, "photo_url": null})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["onboarded_at"], onboarded_at);
    assert_eq!(r.body["photo_url"], Value::Null);
    assert_eq!(r.body["product_updates_subscribed"], true);
    for bad in [
        json!({"photo_url": "javascript:alert(1)"}),
        json!({"photo_url": format!("https://example.com/{}", "x".repeat(2048))}),
        json!({"onboarded": "yes"}),
    ] {
        patch(bad).await.assert_problem(422, "validation_failed");
    }
    let r = patch(json!({"onboarded": false})).await;
    assert_eq!(r.body["onboarded_at"], Value::Null);
    assert_eq!(
        app.rows(
            "users",
            "photo_url IS NULL AND onboarded_at IS NULL AND product_updates_subscribed"
        )
        .await,
        1
    );
    assert_eq!(app.rows("audit_events", "action = 'user.updated'").await, 3);
}
