//! Races on invitations, each with many parallel tries: one token, one membership; accept
//! against cancel and resend against cancel end in one consistent state; parallel invites for
//! one email leave one pending invitation. And the rate limits, counted in the database.

use std::time::Duration;

use futures::future::join_all;
use serde_json::json;

use crate::{helpers::TestApp, on_both_databases};

on_both_databases!(
    fifty_parallel_accepts_of_one_token_make_exactly_one_membership,
    fifty_parallel_sign_up_accepts_of_one_token_make_exactly_one_account,
    accept_racing_cancel_ends_in_one_consistent_state,
    resend_racing_cancel_ends_in_one_consistent_state,
    fifty_parallel_invitations_for_one_email_leave_exactly_one_pending,
    invitation_and_resend_limits_hold_across_replicas_and_count_only_permitted_tries,
    sign_in_attempts_are_limited_per_email,
);

async fn owner_and_workspace(app: &TestApp) -> (crate::helpers::Account, String) {
    let owner = app.signup("race-owner@example.com", "Race Owner").await;
    let ws = app.workspace(&owner.access, "Race Track").await;
    (owner, ws["id"].as_str().expect("id").to_owned())
}

async fn fifty_parallel_accepts_of_one_token_make_exactly_one_membership(app: TestApp) {
    let (owner, ws) = owner_and_workspace(&app).await;
    let invitee = app.signup("racer@example.com", "Racer").await;
    let inv = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(&owner.access),
            json!({"email": "racer@example.com", "role": "viewer"}),
        )
        .await;
    let accept = format!(
        "/v1/invitations/{}/accept",
        inv.body["token"].as_str().expect("t")
    );
    let results =
        join_all((0..50).map(|_| app.call("POST", &accept, Some(&invitee.access), None))).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1);
    for r in results.iter().filter(|r| r.status != 200) {
        assert_eq!(r.status, 409, "{}", r.text);
    }
    assert_eq!(app.rows("memberships", "role = 'viewer'").await, 1);
    assert_eq!(app.rows("invitations", "status = 'accepted'").await, 1);
    assert_eq!(
        app.get(&format!("/v1/workspaces/{ws}"), &owner.access)
            .await
            .body["member_count"],
        2
    );
}

async fn fifty_parallel_sign_up_accepts_of_one_token_make_exactly_one_account(app: TestApp) {
    let (owner, ws) = owner_and_workspace(&app).await;
    let inv = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(&owner.access),
            json!({"email": "newbie@example.com", "role": "viewer"}),
        )
        .await;
    let accept = format!(
        "/v1/invitations/{}/accept",
        inv.body["token"].as_str().expect("t")
    );
    let results = join_all((0..50).map(|i| {
        app.post(
            &accept,
            None,
            json!({"name": format!("Newbie {i}"), "password": "long enough"}),
        )
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.status == 201).count(), 1);
    assert!(results.iter().all(|r| r.status == 201 || r.status == 409));
    assert_eq!(
        app.rows("users", "email_key = 'newbie@example.com'").await,
        1
    );
    assert_eq!(app.rows("memberships", "role = 'viewer'").await, 1);
}

async fn accept_racing_cancel_ends_in_one_consistent_state(app: TestApp) {
    let (owner, ws) = owner_and_workspace(&app).await;
    let base = format!("/v1/workspaces/{ws}/invitations");
    let (mut accepted, mut cancelled) = (0, 0);
    for i in 0..25 {
        let email = format!("contested{i}@example.com");
        let person = app.signup(&email, "Contested").await;
        let inv = app
            .post(
                &base,
                Some(&owner.access),
                json!({"email": email, "role": "viewer"}),
            )
            .await;
        let id = inv.body["id"].as_str().expect("id").to_owned();
        let accept = format!(
            "/v1/invitations/{}/accept",
            inv.body["token"].as_str().expect("t")
        );
        let one = format!("{base}/{id}");
        let (a, c) = tokio::join!(
            app.call("POST", &accept, Some(&person.access), None),
            app.call("DELETE", &one, Some(&owner.access), None),
        );
        let member = app.role_in_db(&ws, &person.id).await.is_some();
        let status = app.get(&format!("{base}/{id}"), &owner.access).await.body["status"].clone();
        match (a.status, c.status) {
            (200, 409) => {
                assert!(member);
                assert_eq!(status, "accepted");
                accepted += 1;
            }
            (409, 204) => {
                assert!(!member);
                assert_eq!(status, "revoked");
                cancelled += 1;
            }
            other => panic!("inconsistent outcome {other:?}: {} / {}", a.text, c.text),
        }
    }
    assert_eq!(accepted + cancelled, 25);
}

async fn resend_racing_cancel_ends_in_one_consistent_state(app: TestApp) {
    // The race is between a resend and a cancel, not with the resend limit: 25 resends where
    // the default allows 10 an hour would refuse the 11th that wins its race (429).
    let app = app
        .another_on_same_database(|s| s.resend_rate_limit = Some(0))
        .await;
    let (owner, ws) = owner_and_workspace(&app).await;
    let base = format!("/v1/workspaces/{ws}/invitations");
    for i in 0..25 {
        let inv = app
            .post(
                &base,
                Some(&owner.access),
                json!({"email": format!("resend{i}@example.com"), "role": "viewer"}),
            )
            .await;
        let id = inv.body["id"].as_str().expect("id").to_owned();
        let old = inv.body["token"].as_str().expect("t").to_owned();
        let (one, resend) = (format!("{base}/{id}"), format!("{base}/{id}/resend"));
        let (r, c) = tokio::join!(
            app.post(&resend, Some(&owner.access), json!({})),
            app.call("DELETE", &one, Some(&owner.access), None),
        );
        assert_eq!(c.status, 204, "cancel: {}", c.text);
        assert!(r.status == 200 || r.status == 409, "resend: {}", r.text);
        // Whichever came first, the invitation ends revoked and no token of it works.
        let status = app.get(&format!("{base}/{id}"), &owner.access).await.body["status"].clone();
        assert_eq!(status, "revoked");
        let mut tokens = vec![old];
        if r.status == 200 {
            tokens.push(r.body["token"].as_str().expect("t").to_owned());
        }
        for t in tokens {
            let r = app
                .post(
                    &format!("/v1/invitations/{t}/accept"),
                    None,
                    json!({"name": "N", "password": "long enough"}),
                )
                .await;
            assert!(r.status == 404 || r.status == 409, "{}", r.text);
        }
        assert_eq!(app.rows("outbox", &format!("status = 'queued' AND invitation_id IN (SELECT id FROM invitations WHERE email_key = 'resend{i}@example.com')")).await, 0, "no live mail for a cancelled invitation");
    }
}

async fn fifty_parallel_invitations_for_one_email_leave_exactly_one_pending(app: TestApp) {
    let (owner, ws) = owner_and_workspace(&app).await;
    let base = format!("/v1/workspaces/{ws}/invitations");
    let results = join_all((0..50).map(|_| {
        app.post(
            &base,
            Some(&owner.access),
            json!({"email": "popular@example.com", "role": "viewer"}),
        )
    }))
    .await;
    assert!(
        results.iter().all(|r| r.status == 201 || r.status == 409),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(
        app.rows(
            "invitations",
            "email_key = 'popular@example.com' AND status = 'pending'"
        )
        .await,
        1
    );
    assert_eq!(app.get(&base, &owner.access).await.body["total"], 1);
    assert_eq!(
        app.rows("outbox", "status = 'queued'").await,
        1,
        "only the live invitation's mail waits"
    );
}

async fn invitation_and_resend_limits_hold_across_replicas_and_count_only_permitted_tries(
    app: TestApp,
) {
    let limited = |s: &mut roster::config::Settings| {
        s.invite_rate_limit = Some(3);
        s.resend_rate_limit = Some(2);
    };
    let a = app.another_on_same_database(limited).await;
    let b = app.another_on_same_database(limited).await;
    let (owner, ws) = owner_and_workspace(&a).await;
    let viewer = a.signup("viewer@example.com", "Viewer").await;
    a.add(&owner.access, &ws, &viewer, "viewer").await;
    let base = format!("/v1/workspaces/{ws}/invitations");
    // Refused for permission: not counted.
    for _ in 0..5 {
        a.post(
            &base,
            Some(&viewer.access),
            json!({"email": "v@example.com", "role": "viewer"}),
        )
        .await
        .assert_problem(403, "insufficient_role");
    }
    // Three allowed per hour per inviter, whichever replica takes them.
    let mut ids = Vec::new();
    for (i, replica) in [&a, &b, &a].into_iter().enumerate() {
        let r = replica
            .post(
                &base,
                Some(&owner.access),
                json!({"email": format!("l{i}@example.com"), "role": "viewer"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["id"].as_str().expect("id").to_owned());
    }
    let r = b
        .post(
            &base,
            Some(&owner.access),
            json!({"email": "l4@example.com", "role": "viewer"}),
        )
        .await;
    r.assert_problem(429, "rate_limited");
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!((1..=3600).contains(&retry));
    assert_eq!(
        a.rows("invitations", "").await,
        3,
        "the refused invitation was not written"
    );
    // A restart changes nothing: the count is in the database.
    let restarted = app.another_on_same_database(limited).await;
    restarted
        .post(
            &base,
            Some(&owner.access),
            json!({"email": "l5@example.com", "role": "viewer"}),
        )
        .await
        .assert_problem(429, "rate_limited");
    // Resends have their own limit.
    for _ in 0..2 {
        let r = a
            .post(
                &format!("{base}/{}/resend", ids[0]),
                Some(&owner.access),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = b
        .post(
            &format!("{base}/{}/resend", ids[0]),
            Some(&owner.access),
            json!({}),
        )
        .await;
    r.assert_problem(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // The next hour opens a new window.
    a.clock.advance(Duration::from_secs(3600));
    let owner_tokens = a.login(&owner.email, &owner.password).await;
    let r = a
        .post(
            &base,
            Some(owner_tokens["access_token"].as_str().expect("t")),
            json!({"email": "l6@example.com", "role": "viewer"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn sign_in_attempts_are_limited_per_email(app: TestApp) {
    let limited = app.another_on_same_database(|_| {}).await;
    let person = limited.signup("guarded@example.com", "Guarded").await;
    // The limit counts per calendar minute: start right after one begins, so that the attempts
    // below (slow, they hash passwords) cannot straddle two windows on a loaded machine.
    let into_minute = limited.state.core.clock.now().timestamp().rem_euclid(60);
    limited
        .clock
        .advance(Duration::from_secs((60 - into_minute) as u64 + 1));
    let login = |email: &str, password: &str| {
        limited.post(
            "/v1/auth/login",
            None,
            json!({"email": email, "password": password}),
        )
    };
    // 15 a minute per email, right or wrong; the 16th is refused even with the right password.
    for _ in 0..14 {
        login("guarded@example.com", "wrong password")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    assert_eq!(
        login("GUARDED@example.com", &person.password).await.status,
        200
    );
    let r = login("guarded@example.com", &person.password).await;
    r.assert_problem(429, "rate_limited");
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry));
    // Another email is not affected.
    app.signup("free@example.com", "Free").await;
    assert_eq!(
        login("free@example.com", "correct horse battery staple")
            .await
            .status,
        200
    );
    limited.clock.advance(Duration::from_secs(61));
    assert_eq!(
        login("guarded@example.com", &person.password).await.status,
        200
    );
    // The outbox worker's round drops windows a day old.
    assert!(app.rows("rate_limits", "").await >= 2);
    limited.clock.advance(Duration::from_secs(2 * 86400));
    limited.deliver().await;
    assert_eq!(app.rows("rate_limits", "").await, 0);
}
