//! Personal API keys: shown once, stored hashed, usable two ways, revocable at once.

use std::time::Duration;

use serde_json::json;

use crate::{helpers::TestApp, on_both_databases};

on_both_databases!(
    a_key_is_shown_once_and_never_listed_with_its_secret,
    a_key_works_as_a_bearer_token_and_as_x_api_key_and_records_its_use,
    a_revoked_key_is_refused_on_the_very_next_request,
    an_expired_key_is_refused,
    a_read_only_key_can_read_but_not_change_anything,
    another_users_key_is_not_found,
    a_key_cannot_be_created_already_expired_or_with_a_bad_name,
);

async fn a_key_is_shown_once_and_never_listed_with_its_secret(app: TestApp) {
    let a = app.signup("keys@example.com", "Keys").await;
    let r = app
        .post(
            "/v1/me/api-keys",
            Some(&a.access),
            json!({"name": "deploy"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().expect("id");
    let secret = r.body["secret"].as_str().expect("secret");
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/me/api-keys/{id}").as_str())
    );
    assert!(secret.starts_with("rk_") && secret.len() == 46);
    assert_eq!(r.body["prefix"], &secret[..11]);
    assert_eq!(r.body["name"], "deploy");
    assert_eq!(r.body["read_only"], false);

    let list = app.get("/v1/me/api-keys", &a.access).await;
    assert_eq!(list.body["total"], 1);
    assert!(!list.text.contains(secret) && !list.text.contains("secret"));
    let one = app.get(&format!("/v1/me/api-keys/{id}"), &a.access).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["prefix"], &secret[..11]);
    assert!(!one.text.contains(secret));
    // Stored as SHA-256 only.
    assert_eq!(app.rows("api_keys", "length(secret_hash) = 32").await, 1);
}

async fn a_key_works_as_a_bearer_token_and_as_x_api_key_and_records_its_use(app: TestApp) {
    let a = app.signup("use@example.com", "Use").await;
    let (id, secret) = app.api_key(&a.access, json!({})).await;
    assert_eq!(app.get("/v1/me", &secret).await.body["id"], a.id.as_str());
    let r = app
        .send(
            app.client
                .get(app.url("/v1/me"))
                .header("X-API-Key", &secret),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], a.id.as_str());
    let mut recorded = false;
    for _ in 0..50 {
        let key = app.get(&format!("/v1/me/api-keys/{id}"), &a.access).await;
        if key.body["last_used_at"].is_string() {
            recorded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(recorded, "last_used_at was never recorded");
}

async fn a_revoked_key_is_refused_on_the_very_next_request(app: TestApp) {
    let a = app.signup("revoke@example.com", "Revoke").await;
    let (id, secret) = app.api_key(&a.access, json!({"name": "old"})).await;
    assert_eq!(app.get("/v1/me", &secret).await.status, 200);
    let r = app
        .call(
            "DELETE",
            &format!("/v1/me/api-keys/{id}"),
            Some(&a.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.get("/v1/me", &secret)
        .await
        .assert_problem(401, "unauthenticated");
    let r = app
        .send(
            app.client
                .get(app.url("/v1/me"))
                .header("X-API-Key", &secret),
        )
        .await;
    r.assert_problem(401, "unauthenticated");
    app.get(&format!("/v1/me/api-keys/{id}"), &a.access)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(app.get("/v1/me/api-keys", &a.access).await.body["total"], 0);
    assert_eq!(app.rows("api_keys", "revoked_at IS NOT NULL").await, 1);
}

async fn an_expired_key_is_refused(app: TestApp) {
    let a = app.signup("expiry@example.com", "Expiry").await;
    let in_an_hour = (app.state.core.clock.now() + chrono::Duration::hours(1)).to_rfc3339();
    let (_, secret) = app
        .api_key(&a.access, json!({"expires_at": in_an_hour}))
        .await;
    assert_eq!(app.get("/v1/me", &secret).await.status, 200);
    app.clock.advance(Duration::from_secs(3601));
    app.get("/v1/me", &secret)
        .await
        .assert_problem(401, "unauthenticated");
}

async fn a_read_only_key_can_read_but_not_change_anything(app: TestApp) {
    let a = app.signup("ro@example.com", "Read Only").await;
    let (_, secret) = app.api_key(&a.access, json!({"read_only": true})).await;
    assert_eq!(app.get("/v1/me", &secret).await.status, 200);
    app.call(
        "PATCH",
        "/v1/me",
        Some(&secret),
        Some(json!({"name": "Changed"})),
    )
    .await
    .assert_problem(403, "api_key_read_only");
    app.post("/v1/me/api-keys", Some(&secret), json!({}))
        .await
        .assert_problem(403, "api_key_read_only");
    assert_eq!(app.rows("users", "name = 'Read Only'").await, 1);
    assert_eq!(app.rows("api_keys", "").await, 1);
}

async fn another_users_key_is_not_found(app: TestApp) {
    let a = app.signup("mine@example.com", "Mine").await;
    let b = app.signup("theirs@example.com", "Theirs").await;
    let (id, secret) = app.api_key(&b.access, json!({})).await;
    app.get(&format!("/v1/me/api-keys/{id}"), &a.access)
        .await
        .assert_problem(404, "not_found");
    app.call(
        "DELETE",
        &format!("/v1/me/api-keys/{id}"),
        Some(&a.access),
        None,
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(app.get("/v1/me", &secret).await.status, 200);
    assert_eq!(app.rows("api_keys", "revoked_at IS NULL").await, 1);
}

async fn a_key_cannot_be_created_already_expired_or_with_a_bad_name(app: TestApp) {
    let a = app.signup("bad@example.com", "Bad").await;
    for body in [
        json!({"expires_at": "2001-01-01T00:00:00Z"}),
        json!({"expires_at": "tomorrow"}),
        json!({"name": "n".repeat(101)}),
        json!({"read_only": "yes"}),
        json!({"secret": "rk_mine"}),
    ] {
        app.post("/v1/me/api-keys", Some(&a.access), body)
            .await
            .assert_problem(422, "validation_failed");
    }
    assert_eq!(app.rows("api_keys", "").await, 0);
}
