//! Input that once reached a query or a limit key and answered 500 (the hardening review of
//! issue 12) now gets a 4xx in each surface's shape, and writes nothing.

use serde_json::json;

use crate::{
    helpers::{assert_pupil_error, assert_sf_error, TestApp, PASSWORD, SF},
    on_both_databases,
};

on_both_databases!(
    paths_and_queries_that_are_not_text_get_a_400_on_every_surface,
    a_nul_character_in_any_body_gets_a_4xx_on_every_surface_and_writes_nothing,
    a_nul_email_at_sign_in_never_reaches_the_limit_counters,
    a_body_that_is_not_an_object_is_refused_and_a_whole_float_is_an_integer,
);

async fn paths_and_queries_that_are_not_text_get_a_400_on_every_surface(app: TestApp) {
    let a = app.signup("paths@example.com", "Paths").await;
    let ws = app.workspace(&a.access, "Paths").await;
    let ws = ws["id"].as_str().expect("id");
    for path in [
        "/v1/workspaces/%ff".to_owned(),
        "/v1/workspaces/a%00b".to_owned(),
        "/v1/workspaces/%C3%28/members".to_owned(),
        "/invite/%ff".to_owned(),
    ] {
        app.get(&path, &a.access)
            .await
            .assert_problem(400, "invalid_path");
    }
    app.get(
        &format!("/v1/workspaces/{ws}/members?search=a%00"),
        &a.access,
    )
    .await
    .assert_problem(400, "invalid_query");
    app.get(
        &format!("/v1/workspaces/{ws}/audit-events?action=%ff"),
        &a.access,
    )
    .await
    .assert_problem(400, "invalid_query");

    let token = app.sf_token("paths@example.com").await;
    for path in [
        "/workspaces/invitations/%ff",
        "/account/api-keys/a%00b",
        "/workspaces/members/%ff",
    ] {
        let r = app.sf("GET", path, Some(&token), None).await;
        assert_sf_error(&r, 400, "INVALID_PATH");
    }
    let r = app
        .sf(
            "GET",
            "/workspaces/invitations?cursor=%00",
            Some(&token),
            None,
        )
        .await;
    assert_sf_error(&r, 400, "INVALID_QUERY");

    let (_, key) = app.api_key(&a.access, json!({"name": "pupil"})).await;
    for path in ["/workspaces/%ff", "/workspaces/a%00b/members"] {
        let r = app.pupil("GET", path, Some(&key), None).await;
        assert_pupil_error(&r, 400, "invalid_path");
    }
    // A path that decodes to ordinary text is still found.
    let r = app.get(&format!("/v1/workspaces/{ws}"), &a.access).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn a_nul_character_in_any_body_gets_a_4xx_on_every_surface_and_writes_nothing(app: TestApp) {
    let a = app.signup("bodies@example.com", "Bodies").await;
    let ws = app.workspace(&a.access, "Bodies").await;
    let ws = ws["id"].as_str().expect("id");
    let before = app.census().await;

    let signup = json!({"email": "n@example.com", "password": "pass\u{0}word!", "name": "N"});
    let r = app.post("/v1/auth/signup", None, signup.clone()).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "nul_character", "{}", r.text);
    let r = app
        .call(
            "PATCH",
            "/v1/me",
            Some(&a.access),
            Some(json!({"name": "a\u{0}b"})),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(&a.access),
            json!({"email": "x\u{0}@example.com", "role": "viewer"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}"),
            Some(&a.access),
            Some(json!({"name": "W\u{0}"})),
        )
        .await;
    r.assert_problem(422, "validation_failed");

    let r = app.sf_post("/public/signup", signup).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["detail"][0]["loc"][0], "body", "{}", r.text);
    let token = app.sf_token("bodies@example.com").await;
    let r = app
        .sf(
            "PATCH",
            "/workspaces/",
            Some(&token),
            Some(json!({"name": "\u{0}"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);

    let (_, key) = app.api_key(&a.access, json!({"name": "pupil"})).await;
    let before_pupil = app.census().await;
    let r = app
        .pupil(
            "PATCH",
            "/auth/profile",
            Some(&key),
            Some(json!({"name": "P\u{0}"})),
        )
        .await;
    assert_pupil_error(&r, 409, "invalid_input");
    assert_eq!(app.census().await, before_pupil);

    // Nothing of it was written: one more session (the dialect sign-in) and the API key's
    // audit event, nothing else.
    let after = app.census().await;
    assert_eq!(
        after[..7],
        before[..7],
        "users, workspaces, members unchanged"
    );
    assert_eq!(app.rows("users", "email = 'n@example.com'").await, 0);
    assert_eq!(app.rows("invitations", "").await, 0);
    assert_eq!(app.rows("users", "name = 'Bodies'").await, 1);
}

async fn a_nul_email_at_sign_in_never_reaches_the_limit_counters(app: TestApp) {
    app.signup("limits@example.com", "Limits").await;
    let nul = json!({"email": "a\u{0}@x.test", "password": PASSWORD});
    let r = app.post("/v1/auth/login", None, nul.clone()).await;
    r.assert_problem(422, "validation_failed");
    let r = app.post(&format!("{SF}/auth/login"), None, nul).await;
    assert_eq!(r.status, 422, "{}", r.text);
    // An address with a control character that is not NUL is an ordinary failed sign-in,
    // counted under a key without the control character.
    let r = app
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "a\u{1}b@x.test", "password": PASSWORD}),
        )
        .await;
    r.assert_problem(401, "invalid_credentials");
    assert_eq!(app.rows("rate_limits", "bucket LIKE '%\u{1}%'").await, 0);
    assert!(app.rows("rate_limits", "bucket LIKE 'login:%'").await >= 1);
}

async fn a_body_that_is_not_an_object_is_refused_and_a_whole_float_is_an_integer(app: TestApp) {
    let a = app.signup("shapes@example.com", "Shapes").await;
    // serde would fill a struct from an array field by field; the schemas say object.
    let r = app
        .call("PATCH", "/v1/me", Some(&a.access), Some(json!(["Renamed"])))
        .await;
    r.assert_problem(422, "validation_failed");
    let token = app.sf_token("shapes@example.com").await;
    let r = app
        .sf_raw("PATCH", "/workspaces/", Some(&token), "[null, null]")
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        r.body["detail"][0]["type"], "model_attributes_type",
        "{}",
        r.text
    );
    assert_eq!(app.rows("users", "name = 'Shapes'").await, 1);

    // JSON Schema counts 13.0 as an integer: so does the service.
    let ws = app.workspace(&a.access, "Shapes").await;
    let ws = ws["id"].as_str().expect("id");
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(&a.access),
            json!({"email": "later@example.com", "role": "viewer"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().expect("id");
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}/invitations/{id}"),
            Some(&a.access),
            Some(json!({"expires_in_days": 13.0})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}/invitations/{id}"),
            Some(&a.access),
            Some(json!({"expires_in_days": 13.5})),
        )
        .await;
    r.assert_problem(422, "validation_failed");
}
