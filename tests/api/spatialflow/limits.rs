//! The SpatialFlow-only budgets on sign-in, refresh and sign-up, over real HTTP: each refusal is
//! 429 with `Retry-After` in whole seconds and the dialect's error body, changes nothing in the
//! database, holds under parallel load and is shared by replicas on one database.

use std::time::Duration;

use futures::future::join_all;
use serde_json::json;

use crate::{
    helpers::{Resp, TestApp, PASSWORD},
    on_both_databases,
};

on_both_databases!(
    a_sixteenth_sign_in_for_one_email_within_a_minute_is_refused_and_starts_no_session,
    a_sixty_first_sign_in_from_one_ip_within_a_minute_is_refused_whatever_the_email,
    a_thirty_first_refresh_with_one_token_within_a_minute_is_refused,
    a_refresh_over_the_per_ip_budget_is_refused_and_leaves_its_token_unspent,
    a_fourth_sign_up_for_one_email_within_an_hour_is_refused_and_creates_nothing,
    forty_parallel_sign_ups_from_one_ip_create_exactly_ten_accounts,
    two_replicas_on_one_database_share_the_counters,
);

/// Moves the clocks of `apps` (all at offset zero) to one second past the start of an hour,
/// so that no minute or hour window ends while the test runs.
fn start_fresh_windows(apps: &[&TestApp]) {
    let now = apps[0].state.core.clock.now().timestamp();
    let ahead = 3600 - now.rem_euclid(3600) + 1;
    for app in apps {
        app.clock.advance(Duration::from_secs(ahead.unsigned_abs()));
    }
}

async fn sf_signup(app: &TestApp, email: &str) -> Resp {
    app.sf_post(
        "/public/signup",
        json!({"email": email, "password": PASSWORD, "selected_plan": "free"}),
    )
    .await
}

async fn sf_refresh(app: &TestApp, token: &str) -> Resp {
    app.sf_post("/auth/refresh", json!({"refresh_token": token}))
        .await
}

/// A 429 in the dialect's shape with a whole number of seconds (at most `window`) to wait.
fn assert_limited(r: &Resp, window: u64) -> u64 {
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.body["detail"].is_string(), "{}", r.text);
    assert_eq!(r.body["error_code"], "RATE_LIMITED", "{}", r.text);
    let wait: u64 = r
        .header("retry-after")
        .expect("Retry-After on every 429")
        .parse()
        .expect("Retry-After in whole seconds");
    assert!((1..=window).contains(&wait), "retry after {wait}");
    wait
}

async fn sessions(app: &TestApp) -> i64 {
    app.rows("sessions", "").await
}

async fn a_sixteenth_sign_in_for_one_email_within_a_minute_is_refused_and_starts_no_session(
    app: TestApp,
) {
    // A replica without the service-wide per-email sign-in limit.
    let replica = app
        .another_on_same_database(|s| s.login_rate_limit = Some(0))
        .await;
    start_fresh_windows(&[&app, &replica]);
    let owner = app.signup("owner@example.com", "Owner").await;
    // Wrong passwords count like right ones.
    for _ in 0..5 {
        let r = app.sf_login(&owner.email, "not the password").await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    for _ in 0..10 {
        let r = app.sf_login(&owner.email, PASSWORD).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let (census, sessions_before) = (app.census().await, sessions(&app).await);
    // The case and spacing of the email do not make another budget.
    let r = app.sf_login(" OWNER@example.com ", PASSWORD).await;
    assert_limited(&r, 60);
    assert_eq!(app.census().await, census);
    assert_eq!(sessions(&app).await, sessions_before, "no session started");

    // The budget is the dialect's: the native API, on the replica without the service-wide
    // per-email limit, still signs in, while the dialect there still refuses.
    assert_limited(&replica.sf_login(&owner.email, PASSWORD).await, 60);
    replica.login(&owner.email, PASSWORD).await;

    // A new minute, a new budget.
    app.clock.advance(Duration::from_secs(60));
    let r = app.sf_login(&owner.email, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn a_sixty_first_sign_in_from_one_ip_within_a_minute_is_refused_whatever_the_email(
    app: TestApp,
) {
    start_fresh_windows(&[&app]);
    let owner = app.signup("owner@example.com", "Owner").await;
    // 60 attempts, spread over emails so that no per-email budget runs out.
    for i in 0..60 {
        let r = app
            .sf_login(&format!("nobody{}@example.com", i % 6), PASSWORD)
            .await;
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text);
    }
    let (census, sessions_before) = (app.census().await, sessions(&app).await);
    let r = app.sf_login(&owner.email, PASSWORD).await;
    assert_limited(&r, 60);
    assert_eq!(app.census().await, census);
    assert_eq!(sessions(&app).await, sessions_before, "no session started");
    // The refused attempt was not charged to the owner's own email either.
    assert_eq!(
        app.rows(
            "rate_limits",
            "bucket LIKE '%owner@example.com' AND hits > 0"
        )
        .await,
        0
    );
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(app.sf_login(&owner.email, PASSWORD).await.status, 200);
}

async fn a_thirty_first_refresh_with_one_token_within_a_minute_is_refused(app: TestApp) {
    start_fresh_windows(&[&app]);
    let owner = app.signup("owner@example.com", "Owner").await;
    let stolen = "rt_guessed-or-stolen";
    for _ in 0..30 {
        let r = sf_refresh(&app, stolen).await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let census = app.census().await;
    assert_limited(&sf_refresh(&app, stolen).await, 60);
    assert_eq!(app.census().await, census);
    // The budget is per token: another token from the same client is judged as usual.
    let r = sf_refresh(&app, &owner.refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The token itself is never stored, only its hash.
    assert_eq!(app.rows("rate_limits", "bucket LIKE '%guessed%'").await, 0);
}

async fn a_refresh_over_the_per_ip_budget_is_refused_and_leaves_its_token_unspent(app: TestApp) {
    start_fresh_windows(&[&app]);
    let owner = app.signup("owner@example.com", "Owner").await;
    for i in 0..100 {
        let r = sf_refresh(&app, &format!("rt_guess{i}")).await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let census = app.census().await;
    assert_limited(&sf_refresh(&app, &owner.refresh).await, 60);
    assert_eq!(app.census().await, census);
    assert_eq!(
        app.rows("sessions", "ended_at IS NOT NULL").await,
        0,
        "the refused refresh ended no session"
    );
    app.clock.advance(Duration::from_secs(60));
    let r = sf_refresh(&app, &owner.refresh).await;
    assert_eq!(r.status, 200, "the token was not spent: {}", r.text);
    assert!(r.body["access_token"].is_string());
}

async fn a_fourth_sign_up_for_one_email_within_an_hour_is_refused_and_creates_nothing(
    app: TestApp,
) {
    start_fresh_windows(&[&app]);
    assert_eq!(sf_signup(&app, "new@example.com").await.status, 201);
    for _ in 0..2 {
        let r = sf_signup(&app, "NEW@example.com").await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["error_code"], "EMAIL_TAKEN");
    }
    // Malformed input is refused before any budget is charged.
    let r = app
        .sf_post("/public/signup", json!({"email": "new@example.com"}))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let census = app.census().await;
    let r = sf_signup(&app, "new@example.com").await;
    let wait = assert_limited(&r, 3600);
    assert!(wait > 60, "an hour's budget: {wait}");
    assert_eq!(app.census().await, census);
    assert_eq!(app.rows("users", "").await, 1);

    // Another email from the same client still signs up (4 of its 10 an hour used).
    assert_eq!(sf_signup(&app, "other@example.com").await.status, 201);
    assert_eq!(app.rows("users", "").await, 2);
}

async fn forty_parallel_sign_ups_from_one_ip_create_exactly_ten_accounts(app: TestApp) {
    start_fresh_windows(&[&app]);
    let emails: Vec<String> = (0..40).map(|i| format!("user{i}@example.com")).collect();
    let answers = join_all(emails.iter().map(|e| sf_signup(&app, e))).await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 10);
    for r in answers.iter().filter(|r| r.status != 201) {
        assert_limited(r, 3600);
    }
    assert_eq!(app.rows("users", "").await, 10);
    assert_eq!(app.rows("workspaces", "").await, 10);
    assert_eq!(app.rows("sessions", "").await, 10);
    assert_eq!(
        app.rows("rate_limits", "bucket LIKE 'signup_ip:%'").await,
        1
    );
    assert_eq!(
        app.raw
            .count("SELECT MAX(hits) FROM rate_limits WHERE bucket LIKE 'signup_ip:%'")
            .await,
        10,
        "refused attempts are not counted"
    );

    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(sf_signup(&app, "later@example.com").await.status, 201);
}

async fn two_replicas_on_one_database_share_the_counters(app: TestApp) {
    let replica = app.another_on_same_database(|_| {}).await;
    start_fresh_windows(&[&app, &replica]);

    for i in 0..10 {
        let on = if i % 2 == 0 { &app } else { &replica };
        let r = sf_signup(on, &format!("user{i}@example.com")).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    assert_limited(&sf_signup(&app, "eleventh@example.com").await, 3600);
    assert_limited(&sf_signup(&replica, "eleventh@example.com").await, 3600);
    assert_eq!(app.rows("users", "").await, 10);

    for i in 0..15 {
        let on = if i % 2 == 0 { &app } else { &replica };
        let r = on.sf_login("user0@example.com", PASSWORD).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let sessions_before = sessions(&app).await;
    assert_limited(&replica.sf_login("user0@example.com", PASSWORD).await, 60);
    assert_limited(&app.sf_login("user0@example.com", PASSWORD).await, 60);
    assert_eq!(sessions(&app).await, sessions_before);
}
