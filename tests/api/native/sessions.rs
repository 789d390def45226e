//! Sessions: logout, refresh rotation with reuse detection, listing and ending sessions, expiry.

use std::time::Duration;

use futures::future::join_all;
use serde_json::json;

use crate::{helpers::TestApp, on_both_databases};

on_both_databases!(
    after_logout_the_access_and_refresh_tokens_are_refused_on_the_very_next_request,
    refreshing_spends_the_token_and_hands_out_a_working_pair,
    presenting_a_spent_refresh_token_ends_its_session,
    parallel_refreshes_of_one_token_let_at_most_one_through,
    ending_a_session_from_the_list_stops_its_tokens_at_once,
    a_session_of_another_user_cannot_be_ended,
    an_access_token_stops_working_when_its_lifetime_and_the_leeway_have_passed,
    a_refresh_token_stops_working_after_its_lifetime,
);

async fn after_logout_the_access_and_refresh_tokens_are_refused_on_the_very_next_request(
    app: TestApp,
) {
    let a = app.signup("out@example.com", "Out").await;
    assert_eq!(app.get("/v1/me", &a.access).await.status, 200);
    let r = app
        .call("POST", "/v1/auth/logout", Some(&a.access), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.get("/v1/me", &a.access)
        .await
        .assert_problem(401, "unauthenticated");
    app.post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": a.refresh}),
    )
    .await
    .assert_problem(401, "unauthenticated");
    app.call("POST", "/v1/auth/logout", Some(&a.access), None)
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(
        app.rows("sessions", "ended_at IS NOT NULL AND end_reason = 'logout'")
            .await,
        1
    );
}

async fn refreshing_spends_the_token_and_hands_out_a_working_pair(app: TestApp) {
    let a = app.signup("fresh@example.com", "Fresh").await;
    let r = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": a.refresh}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["session_id"], a.session_id.as_str());
    let access = r.body["access_token"].as_str().expect("access");
    let refresh = r.body["refresh_token"].as_str().expect("refresh");
    assert_ne!(refresh, a.refresh);
    assert_eq!(app.get("/v1/me", access).await.status, 200);
    let again = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(app.rows("refresh_tokens", "spent_at IS NOT NULL").await, 2);
    assert_eq!(app.rows("refresh_tokens", "spent_at IS NULL").await, 1);
}

async fn presenting_a_spent_refresh_token_ends_its_session(app: TestApp) {
    let a = app.signup("reuse@example.com", "Reuse").await;
    let first = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": a.refresh}),
        )
        .await;
    assert_eq!(first.status, 200);
    let stolen_replay = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": a.refresh}),
        )
        .await;
    stolen_replay.assert_problem(401, "unauthenticated");
    // The whole session is over: the newest pair is dead too.
    let newest_access = first.body["access_token"].as_str().expect("access");
    let newest_refresh = first.body["refresh_token"].as_str().expect("refresh");
    app.get("/v1/me", newest_access)
        .await
        .assert_problem(401, "unauthenticated");
    app.post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": newest_refresh}),
    )
    .await
    .assert_problem(401, "unauthenticated");
    assert_eq!(
        app.rows("sessions", "end_reason = 'refresh_token_reused'")
            .await,
        1
    );
}

async fn parallel_refreshes_of_one_token_let_at_most_one_through(app: TestApp) {
    let a = app.signup("racer@example.com", "Racer").await;
    let tries = (0..20).map(|_| {
        app.post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": a.refresh}),
        )
    });
    let results = join_all(tries).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert!(ok <= 1, "{ok} refreshes of one token succeeded");
    assert!(results.iter().all(|r| r.status == 200 || r.status == 401));
    // The losers presented a spent token, so the session is over.
    assert_eq!(app.rows("sessions", "ended_at IS NULL").await, 0);
    assert_eq!(
        app.rows("refresh_tokens", "spent_at IS NULL").await,
        ok as i64
    );
}

async fn ending_a_session_from_the_list_stops_its_tokens_at_once(app: TestApp) {
    let a = app.signup("multi@example.com", "Multi").await;
    let second = app.login(&a.email, &a.password).await;
    let list = app.get("/v1/me/sessions", &a.access).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["total"], 2);
    let data = list.body["data"].as_array().expect("data");
    let current: Vec<_> = data.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], a.session_id.as_str());

    let other = second["session_id"].as_str().expect("sid");
    let r = app
        .call(
            "DELETE",
            &format!("/v1/me/sessions/{other}"),
            Some(&a.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.get("/v1/me", second["access_token"].as_str().expect("t"))
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(app.get("/v1/me", &a.access).await.status, 200);
    app.call(
        "DELETE",
        &format!("/v1/me/sessions/{other}"),
        Some(&a.access),
        None,
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(app.get("/v1/me/sessions", &a.access).await.body["total"], 1);
}

async fn a_session_of_another_user_cannot_be_ended(app: TestApp) {
    let a = app.signup("alice@example.com", "Alice").await;
    let b = app.signup("bob@example.com", "Bob").await;
    app.call(
        "DELETE",
        &format!("/v1/me/sessions/{}", b.session_id),
        Some(&a.access),
        None,
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(app.get("/v1/me", &b.access).await.status, 200);
    assert_eq!(app.rows("sessions", "ended_at IS NULL").await, 2);
}

async fn an_access_token_stops_working_when_its_lifetime_and_the_leeway_have_passed(app: TestApp) {
    let a = app.signup("tick@example.com", "Tick").await;
    app.clock.advance(Duration::from_secs(15 * 60 + 3));
    assert_eq!(
        app.get("/v1/me", &a.access).await.status,
        200,
        "within the 5 s leeway"
    );
    app.clock.advance(Duration::from_secs(5));
    app.get("/v1/me", &a.access)
        .await
        .assert_problem(401, "unauthenticated");
    // The refresh token still works and yields a fresh access token.
    let r = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": a.refresh}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.get("/v1/me", r.body["access_token"].as_str().expect("t"))
            .await
            .status,
        200
    );
}

async fn a_refresh_token_stops_working_after_its_lifetime(app: TestApp) {
    let a = app.signup("old@example.com", "Old").await;
    app.clock.advance(Duration::from_secs(30 * 86400 + 1));
    app.post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": a.refresh}),
    )
    .await
    .assert_problem(401, "unauthenticated");
    assert_eq!(app.rows("refresh_tokens", "spent_at IS NULL").await, 1);
}
