//! Changing API keys after creation, on both surfaces: rename, describe, read-only, expiry,
//! deactivate, regenerate (same id, new secret) and rotate (successor plus grace period).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::{
    helpers::{Resp, TestApp, SF},
    on_both_databases,
};

const DAY: Duration = Duration::from_secs(86_400);

on_both_databases!(
    a_native_api_key_can_be_renamed_described_made_read_only_and_given_an_expiry,
    a_native_api_key_change_with_a_past_expiry_or_a_long_description_is_refused_whole,
    a_regenerated_api_key_refuses_its_old_secret_at_once,
    a_rotated_api_key_works_through_its_grace_period_and_not_after,
    an_api_key_rotation_never_extends_an_earlier_expiry_and_happens_once,
    parallel_api_key_regenerations_leave_exactly_one_working_secret,
    parallel_api_key_rotations_leave_exactly_one_successor,
    the_spatialflow_api_key_update_stores_what_roster_can_and_refuses_the_rest,
    a_spatialflow_api_key_deactivated_by_update_is_refused_on_the_next_request,
    spatialflow_api_key_regenerate_rotate_expiration_and_expiring_answer_their_shapes,
    another_users_api_key_cannot_be_changed_on_either_surface,
);

async fn patch(app: &TestApp, path: &str, bearer: &str, body: serde_json::Value) -> Resp {
    app.call("PATCH", path, Some(bearer), Some(body)).await
}

fn at(r: &Resp, field: &str) -> DateTime<Utc> {
    r.body[field]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| panic!("{field} in {}", r.text))
        .with_timezone(&Utc)
}

async fn events(app: &TestApp, action: &str, id: &str) -> i64 {
    app.rows(
        "audit_events",
        &format!("action = '{action}' AND target_id = '{id}'"),
    )
    .await
}

async fn a_native_api_key_can_be_renamed_described_made_read_only_and_given_an_expiry(
    app: TestApp,
) {
    let a = app.signup("patch@example.com", "Patch").await;
    let (id, secret) = app.api_key(&a.access, json!({"name": "old"})).await;
    let until = app.state.core.clock.now() + chrono::Duration::days(3);
    let r = patch(
        &app,
        &format!("/v1/me/api-keys/{id}"),
        &a.access,
        json!({"name": "new", "description": "CI deploys", "read_only": true,
               "expires_at": until}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "new");
    assert_eq!(r.body["description"], "CI deploys");
    assert_eq!(r.body["read_only"], true);
    assert_eq!(at(&r, "expires_at").timestamp(), until.timestamp());
    assert_eq!(
        app.rows(
            "api_keys",
            "name = 'new' AND description = 'CI deploys' AND read_only = TRUE \
             AND expires_at IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(events(&app, "api_key.updated", &id).await, 1);
    // The key is now read-only: it may read, not write.
    assert_eq!(app.get("/v1/me", &secret).await.status, 200);
    let w = app
        .post("/v1/me/api-keys", Some(&secret), json!({"name": "x"}))
        .await;
    assert_eq!(w.status, 403, "{}", w.text);

    // `null` clears; absent fields stay.
    let r = patch(
        &app,
        &format!("/v1/me/api-keys/{id}"),
        &a.access,
        json!({"description": null, "expires_at": null}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "new");
    assert!(r.body["description"].is_null() && r.body["expires_at"].is_null());
    assert_eq!(
        app.rows(
            "api_keys",
            "description IS NULL AND expires_at IS NULL AND name = 'new'"
        )
        .await,
        1
    );
    assert_eq!(events(&app, "api_key.updated", &id).await, 2);
    // An empty change writes nothing.
    let r = patch(&app, &format!("/v1/me/api-keys/{id}"), &a.access, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(events(&app, "api_key.updated", &id).await, 2);
}

async fn a_native_api_key_change_with_a_past_expiry_or_a_long_description_is_refused_whole(
    app: TestApp,
) {
    let a = app.signup("refuse@example.com", "Refuse").await;
    let (id, _) = app.api_key(&a.access, json!({"name": "keep"})).await;
    let path = format!("/v1/me/api-keys/{id}");
    let past = app.state.core.clock.now() - chrono::Duration::minutes(1);
    let r = patch(
        &app,
        &path,
        &a.access,
        json!({"name": "x", "expires_at": past}),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert!(r.text.contains("expires_at"), "{}", r.text);
    let r = patch(
        &app,
        &path,
        &a.access,
        json!({"name": "x", "description": "d".repeat(501)}),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    let r = patch(&app, &path, &a.access, json!({"permissions": ["a"]})).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = app
        .post(
            &format!("{path}/rotate?grace_period_days=91"),
            Some(&a.access),
            json!({}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        app.rows("api_keys", "name = 'keep' AND expires_at IS NULL")
            .await,
        1
    );
    assert_eq!(app.rows("api_keys", "").await, 1);
    assert_eq!(events(&app, "api_key.updated", &id).await, 0);
}

async fn a_regenerated_api_key_refuses_its_old_secret_at_once(app: TestApp) {
    let a = app.signup("regen@example.com", "Regen").await;
    let (id, old) = app.api_key(&a.access, json!({"name": "ci"})).await;
    assert_eq!(app.get("/v1/me", &old).await.status, 200);
    let r = app
        .post(
            &format!("/v1/me/api-keys/{id}/regenerate"),
            Some(&a.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["name"], "ci");
    let new = r.body["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new, old);
    assert_eq!(r.body["prefix"], &new[..11]);
    assert_eq!(app.get("/v1/me", &old).await.status, 401);
    assert_eq!(app.get("/v1/me", &new).await.status, 200);
    // Through the dialect too: 200, the same id, a fresh secret.
    let r = app
        .call(
            "POST",
            &format!("{SF}/account/api-keys/{id}/regenerate"),
            Some(&a.access),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["api_key"]["id"], id.as_str());
    let third = r.body["api_key"]["api_key"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_eq!(app.get("/v1/me", &new).await.status, 401);
    assert_eq!(app.get("/v1/me", &third).await.status, 200);
    assert_eq!(app.rows("api_keys", "").await, 1);
    assert_eq!(events(&app, "api_key.regenerated", &id).await, 2);
}

async fn a_rotated_api_key_works_through_its_grace_period_and_not_after(app: TestApp) {
    let a = app.signup("rotate@example.com", "Rotate").await;
    let (id, old) = app
        .api_key(
            &a.access,
            json!({"name": "svc", "read_only": true, "description": "d"}),
        )
        .await;
    let before = app.state.core.clock.now();
    let r = app
        .post(
            &format!("/v1/me/api-keys/{id}/rotate?grace_period_days=2"),
            Some(&a.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let next_id = r.body["id"].as_str().expect("id").to_owned();
    let next = r.body["secret"].as_str().expect("secret").to_owned();
    assert_ne!(next_id, id);
    assert_eq!(r.body["name"], "svc");
    assert_eq!(r.body["read_only"], true);
    assert_eq!(r.body["description"], "d");
    assert!(r.body["expires_at"].is_null());
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/me/api-keys/{next_id}").as_str())
    );
    let old_key = app.get(&format!("/v1/me/api-keys/{id}"), &a.access).await;
    assert_eq!(old_key.body["replaced_by"], next_id.as_str());
    let grace_end = at(&old_key, "expires_at");
    assert!(
        (grace_end - before - chrono::Duration::days(2))
            .num_seconds()
            .abs()
            < 5
    );
    assert_eq!(
        app.rows(
            "api_keys",
            "replaced_by IS NOT NULL AND expires_at IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(events(&app, "api_key.rotated", &id).await, 1);
    assert_eq!(events(&app, "api_key.created", &next_id).await, 1);

    assert_eq!(app.get("/v1/me", &old).await.status, 200);
    assert_eq!(app.get("/v1/me", &next).await.status, 200);
    app.clock.advance(2 * DAY + Duration::from_secs(1));
    assert_eq!(app.get("/v1/me", &old).await.status, 401);
    assert_eq!(app.get("/v1/me", &next).await.status, 200);

    // A grace period of 0 ends the old key at once (a fresh sign-in: the clock moved on).
    let fresh = app.login(&a.email, &a.password).await;
    let access = fresh["access_token"].as_str().expect("access");
    let r = app
        .post(
            &format!("/v1/me/api-keys/{next_id}/rotate?grace_period_days=0"),
            Some(access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.get("/v1/me", &next).await.status, 401);
}

async fn an_api_key_rotation_never_extends_an_earlier_expiry_and_happens_once(app: TestApp) {
    let a = app.signup("early@example.com", "Early").await;
    let soon = app.state.core.clock.now() + chrono::Duration::days(1);
    let (id, _) = app
        .api_key(&a.access, json!({"name": "soon", "expires_at": soon}))
        .await;
    let r = app
        .post(
            &format!("/v1/me/api-keys/{id}/rotate"),
            Some(&a.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let old_key = app.get(&format!("/v1/me/api-keys/{id}"), &a.access).await;
    assert_eq!(at(&old_key, "expires_at").timestamp(), soon.timestamp());
    let again = app
        .post(
            &format!("/v1/me/api-keys/{id}/rotate"),
            Some(&a.access),
            json!({}),
        )
        .await;
    again.assert_problem(409, "api_key_already_rotated");
    assert_eq!(app.rows("api_keys", "").await, 2);
    // An expired key is neither rotated nor regenerated.
    app.clock.advance(DAY + Duration::from_secs(1));
    let expired_id = id;
    let fresh = app.login(&a.email, &a.password).await;
    let r = app
        .post(
            &format!("/v1/me/api-keys/{expired_id}/regenerate"),
            fresh["access_token"].as_str(),
            json!({}),
        )
        .await;
    r.assert_problem(409, "api_key_expired");
    assert_eq!(events(&app, "api_key.regenerated", &expired_id).await, 0);
}

async fn parallel_api_key_regenerations_leave_exactly_one_working_secret(app: TestApp) {
    let a = app.signup("race@example.com", "Race").await;
    let (id, first) = app.api_key(&a.access, json!({})).await;
    let path = format!("/v1/me/api-keys/{id}/regenerate");
    let calls = (0..12).map(|_| app.post(&path, Some(&a.access), json!({})));
    let answers = futures::future::join_all(calls).await;
    let mut secrets = vec![first];
    for r in &answers {
        assert_eq!(r.status, 200, "{}", r.text);
        secrets.push(r.body["secret"].as_str().expect("secret").to_owned());
    }
    let mut working = 0;
    for s in &secrets {
        if app.get("/v1/me", s).await.status == 200 {
            working += 1;
        }
    }
    assert_eq!(working, 1, "exactly one secret works");
    assert_eq!(app.rows("api_keys", "").await, 1);
    assert_eq!(events(&app, "api_key.regenerated", &id).await, 12);
}

async fn parallel_api_key_rotations_leave_exactly_one_successor(app: TestApp) {
    let a = app.signup("rotrace@example.com", "RotRace").await;
    let (id, _) = app.api_key(&a.access, json!({})).await;
    let path = format!("{SF}/account/api-keys/{id}/rotate?grace_period_days=1");
    let calls = (0..10).map(|_| app.call("POST", &path, Some(&a.access), None));
    let answers = futures::future::join_all(calls).await;
    let won: Vec<&Resp> = answers.iter().filter(|r| r.status == 201).collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    for r in answers.iter().filter(|r| r.status != 201) {
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(
            r.body["error_code"], "API_KEY_ALREADY_ROTATED",
            "{}",
            r.text
        );
    }
    let secret = won[0].body["api_key"]["api_key"].as_str().expect("secret");
    assert_eq!(app.get("/v1/me", secret).await.status, 200);
    assert_eq!(app.rows("api_keys", "").await, 2);
    assert_eq!(app.rows("api_keys", "replaced_by IS NOT NULL").await, 1);
    assert_eq!(events(&app, "api_key.rotated", &id).await, 1);
}

async fn the_spatialflow_api_key_update_stores_what_roster_can_and_refuses_the_rest(app: TestApp) {
    let a = app.signup("sfput@example.com", "SfPut").await;
    let r = app
        .post(
            &format!("{SF}/account/api-keys"),
            Some(&a.access),
            json!({"name": "sf", "description": "first"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["api_key"]["description"], "first");
    let id = r.body["api_key"]["id"].as_str().expect("id").to_owned();
    let path = format!("{SF}/account/api-keys/{id}");
    let r = app
        .call(
            "PUT",
            &path,
            Some(&a.access),
            Some(
                json!({"name": "renamed", "description": "second", "read_only": true,
                        "is_active": true, "permissions": [], "rate_limit_per_hour": 1000}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["name"], "renamed");
    assert_eq!(r.body["description"], "second");
    assert_eq!(r.body["read_only"], true);
    assert_eq!(r.body["is_active"], true);
    assert_eq!(r.body["permissions"], json!([]));
    let got = app.get(&path, &a.access).await;
    assert_eq!(got.body["description"], "second");
    assert_eq!(
        app.rows(
            "api_keys",
            "name = 'renamed' AND description = 'second' AND read_only = TRUE"
        )
        .await,
        1
    );
    for (body, loc) in [
        (json!({"permissions": ["geofences:read"]}), "permissions"),
        (json!({"rate_limit_per_hour": 10}), "rate_limit_per_hour"),
        (json!({"name": "n".repeat(101)}), "name"),
        (json!({"description": "d".repeat(501)}), "description"),
    ] {
        let r = app.call("PUT", &path, Some(&a.access), Some(body)).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(
            r.body["detail"][0]["loc"],
            json!(["body", loc]),
            "{}",
            r.text
        );
    }
    assert_eq!(
        app.rows("api_keys", "name = 'renamed' AND description = 'second'")
            .await,
        1
    );
    assert_eq!(events(&app, "api_key.updated", &id).await, 1);
}

async fn a_spatialflow_api_key_deactivated_by_update_is_refused_on_the_next_request(app: TestApp) {
    let a = app.signup("sfoff@example.com", "SfOff").await;
    let (id, secret) = app.api_key(&a.access, json!({"name": "off"})).await;
    assert_eq!(app.get("/v1/me", &secret).await.status, 200);
    // A second replica on the same database sees the change at once.
    let other = app.another_on_same_database(|_| {}).await;
    assert_eq!(other.get("/v1/me", &secret).await.status, 200);
    let r = app
        .call(
            "PUT",
            &format!("{SF}/account/api-keys/{id}"),
            Some(&a.access),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["is_active"], false);
    assert_eq!(app.get("/v1/me", &secret).await.status, 401);
    assert_eq!(other.get("/v1/me", &secret).await.status, 401);
    assert_eq!(app.rows("api_keys", "revoked_at IS NOT NULL").await, 1);
    assert_eq!(events(&app, "api_key.revoked", &id).await, 1);
    let gone = app
        .get(&format!("{SF}/account/api-keys/{id}"), &a.access)
        .await;
    assert_eq!(gone.status, 404, "{}", gone.text);
    let list = app.get(&format!("{SF}/account/api-keys"), &a.access).await;
    assert_eq!(list.body, json!([]));
}

async fn spatialflow_api_key_regenerate_rotate_expiration_and_expiring_answer_their_shapes(
    app: TestApp,
) {
    let a = app.signup("sfrot@example.com", "SfRot").await;
    let (id, old) = app.api_key(&a.access, json!({"name": "rot"})).await;
    let keys = format!("{SF}/account/api-keys");
    let now = app.state.core.clock.now();

    // Rotate with the default grace of 7 days: 201 and a new key.
    let r = app
        .call(
            "POST",
            &format!("{keys}/{id}/rotate"),
            Some(&a.access),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["message"].is_string());
    let next_id = r.body["api_key"]["id"].as_str().expect("id").to_owned();
    assert_eq!(r.body["api_key"]["name"], "rot");
    assert_eq!(r.body["api_key"]["permissions"], json!([]));
    assert_ne!(next_id, id);
    assert_eq!(app.get("/v1/me", &old).await.status, 200);
    let old_key = app.get(&format!("{keys}/{id}"), &a.access).await;
    let grace_end = at(&old_key, "expires_at");
    assert!(
        (grace_end - now - chrono::Duration::days(7))
            .num_seconds()
            .abs()
            < 5
    );

    // Expiring within 30 days (default): the old key; within 8 too; the new key never expires.
    let r = app.get(&format!("{keys}/expiring"), &a.access).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body.as_array().map(Vec::len), Some(1), "{}", r.text);
    assert_eq!(r.body[0]["id"], id.as_str());
    assert_eq!(r.body[0]["days_until_expiry"], 6);
    let r = app.get(&format!("{keys}/expiring?days=3"), &a.access).await;
    assert_eq!(r.body, json!([]));
    for bad in ["0", "366", "x"] {
        let r = app
            .get(&format!("{keys}/expiring?days={bad}"), &a.access)
            .await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }

    // Expiration: naive and offset ISO datetimes; none removes; past is refused.
    let naive = (now + chrono::Duration::days(10)).format("%Y-%m-%dT%H:%M:%S%.6f");
    let r = app
        .call(
            "PATCH",
            &format!("{keys}/{next_id}/expiration?expires_at={naive}"),
            Some(&a.access),
            None,
        )
        .await;
    // An empty object: the SDK cannot read a non-null value of its declared type.
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({}));
    let got = app.get(&format!("{keys}/{next_id}"), &a.access).await;
    assert_eq!(
        at(&got, "expires_at").timestamp(),
        (now + chrono::Duration::days(10)).timestamp()
    );
    let offset = (now + chrono::Duration::days(20)).format("%Y-%m-%dT%H:%M:%S%%2B02:00");
    let r = app
        .call(
            "PATCH",
            &format!("{keys}/{next_id}/expiration?expires_at={offset}"),
            Some(&a.access),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = app.get(&format!("{keys}/{next_id}"), &a.access).await;
    assert_eq!(
        at(&got, "expires_at").timestamp(),
        (now + chrono::Duration::days(20) - chrono::Duration::hours(2)).timestamp()
    );
    // The SDK's own format: `%z`, an offset without a colon.
    let sdk = (now + chrono::Duration::days(5)).format("%Y-%m-%dT%H:%M:%S%.6f%%2B0000");
    let r = app
        .call(
            "PATCH",
            &format!("{keys}/{next_id}/expiration?expires_at={sdk}"),
            Some(&a.access),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = app.get(&format!("{keys}/{next_id}"), &a.access).await;
    assert_eq!(
        at(&got, "expires_at").timestamp(),
        (now + chrono::Duration::days(5)).timestamp()
    );
    let past = (now - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%S");
    let r = app
        .call(
            "PATCH",
            &format!("{keys}/{next_id}/expiration?expires_at={past}"),
            Some(&a.access),
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["detail"][0]["loc"], json!(["query", "expires_at"]));
    let r = app
        .call(
            "PATCH",
            &format!("{keys}/{next_id}/expiration"),
            Some(&a.access),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(app.get(&format!("{keys}/{next_id}"), &a.access).await.body["expires_at"].is_null());
    assert_eq!(app.rows("api_keys", "expires_at IS NULL").await, 1);
    assert_eq!(events(&app, "api_key.updated", &next_id).await, 4);

    // Grace out of range.
    let r = app
        .call(
            "POST",
            &format!("{keys}/{next_id}/rotate?grace_period_days=-1"),
            Some(&a.access),
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        r.body["detail"][0]["loc"],
        json!(["query", "grace_period_days"])
    );
    assert_eq!(app.rows("api_keys", "").await, 2);
}

async fn another_users_api_key_cannot_be_changed_on_either_surface(app: TestApp) {
    let a = app.signup("mine@example.com", "Mine").await;
    let b = app.signup("theirs@example.com", "Theirs").await;
    let (id, secret) = app.api_key(&a.access, json!({"name": "mine"})).await;
    let tries = [
        (
            "PATCH",
            format!("/v1/me/api-keys/{id}"),
            Some(json!({"name": "x"})),
        ),
        ("POST", format!("/v1/me/api-keys/{id}/regenerate"), None),
        ("POST", format!("/v1/me/api-keys/{id}/rotate"), None),
        (
            "PUT",
            format!("{SF}/account/api-keys/{id}"),
            Some(json!({"is_active": false})),
        ),
        (
            "POST",
            format!("{SF}/account/api-keys/{id}/regenerate"),
            None,
        ),
        ("POST", format!("{SF}/account/api-keys/{id}/rotate"), None),
        (
            "PATCH",
            format!("{SF}/account/api-keys/{id}/expiration?expires_at=2999-01-01T00:00:00"),
            None,
        ),
    ];
    for (method, path, body) in tries {
        let r = app.call(method, &path, Some(&b.access), body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
    }
    let r = app
        .get(&format!("{SF}/account/api-keys/expiring"), &b.access)
        .await;
    assert_eq!(r.body, json!([]));
    assert_eq!(app.get("/v1/me", &secret).await.status, 200);
    assert_eq!(
        app.rows(
            "api_keys",
            "name = 'mine' AND revoked_at IS NULL AND expires_at IS NULL AND replaced_by IS NULL"
        )
        .await,
        1
    );
    assert_eq!(app.rows("audit_events", "action LIKE 'api_key.%'").await, 1);
}
