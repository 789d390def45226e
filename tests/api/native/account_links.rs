//! Emailed account links on the native API: verifying the address (sign-up, resend, change of
//! address), `require_verified_email`, and password reset (forgot-password without enumeration,
//! single use, every session ended on every replica).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{Raw, TestApp, PASSWORD};
use crate::on_both_databases;
use crate::smtp::SmtpSink;

on_both_databases!(
    signing_up_queues_a_verification_link_that_verifies_the_address_once,
    a_resent_verification_link_supersedes_the_previous_one_and_resends_are_limited,
    malformed_unknown_and_expired_verification_links_are_refused_and_change_nothing,
    forgot_password_answers_alike_for_known_and_unknown_addresses_in_about_the_same_time,
    a_reset_link_sets_the_password_once_and_ends_every_session_on_every_replica,
    twenty_parallel_uses_of_one_reset_link_let_exactly_one_succeed,
    superseded_expired_and_bad_resets_are_refused_and_change_nothing,
    changing_the_email_waits_for_the_new_address_and_tells_the_old_one,
    a_change_to_an_address_taken_meanwhile_is_refused_and_changes_nothing,
    the_operator_verifies_an_address_from_the_command_line_core,
);

const NEW_PASSWORD: &str = "a brand new passphrase";

/// The queued messages to `to`, oldest first: (subject, text body).
pub(crate) async fn mail_to(app: &TestApp, to: &str) -> Vec<(String, String)> {
    let sql = "SELECT subject, text_body FROM outbox WHERE recipient = $1 AND status = 'queued' \
               ORDER BY created_at, id";
    let rows: Vec<(String, Option<String>)> = match &app.raw {
        Raw::Sqlite(p) => sqlx::query_as(sql).bind(to).fetch_all(p).await,
        Raw::Postgres(p) => sqlx::query_as(sql).bind(to).fetch_all(p).await,
    }
    .expect("outbox");
    rows.into_iter()
        .map(|(s, t)| (s, t.unwrap_or_default()))
        .collect()
}

/// The token of the `page` link (`verify-email`, `reset-password`) in a message, which may
/// be quoted-printable.
pub(crate) fn link_token(message: &str, page: &str) -> String {
    let text = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let marker = format!("http://roster.test/{page}/");
    let at = text
        .find(&marker)
        .unwrap_or_else(|| panic!("no {page} link in {text}"));
    text[at + marker.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// The token of the last `page` link queued to `to`.
pub(crate) async fn last_token(app: &TestApp, to: &str, page: &str) -> String {
    let mail = mail_to(app, to).await;
    let (_, text) = mail.last().unwrap_or_else(|| panic!("no mail to {to}"));
    link_token(text, page)
}

/// Signs up directly (keeping the verification mail); the access token.
pub(crate) async fn sign_up(app: &TestApp, email: &str) -> Value {
    let r = app
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": email, "password": PASSWORD, "name": "Ada"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

async fn verified(app: &TestApp, email: &str) -> i64 {
    app.rows(
        "users",
        &format!("email = '{email}' AND email_verified = TRUE"),
    )
    .await
}

async fn signing_up_queues_a_verification_link_that_verifies_the_address_once(app: TestApp) {
    let body = sign_up(&app, "ada@example.com").await;
    assert_eq!(body["user"]["email_verified"], false);
    let mail = mail_to(&app, "ada@example.com").await;
    assert_eq!(
        mail.len(),
        1,
        "one verification email, queued with the sign-up"
    );
    assert_eq!(mail[0].0, "Confirm your email address");
    let token = link_token(&mail[0].1, "verify-email");
    assert!(token.starts_with("ev_"), "{token}");
    assert_eq!(
        app.rows(
            "account_tokens",
            "purpose = 'verify_email' AND length(token_hash) = 32"
        )
        .await,
        1,
        "only the hash is stored"
    );

    let r = app
        .post("/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["email_verified"], true);
    assert_eq!(verified(&app, "ada@example.com").await, 1);
    assert_eq!(
        app.rows("audit_events", "action = 'user.email_verified'")
            .await,
        1
    );
    let me = app
        .get("/v1/me", body["access_token"].as_str().expect("access"))
        .await;
    assert_eq!(me.body["email_verified"], true);
    assert_eq!(me.body["pending_email"], Value::Null);

    let again = app
        .post("/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    again.assert_problem(410, "token_used");
    let resend = app
        .post(
            "/v1/me/verify-email",
            body["access_token"].as_str(),
            json!({}),
        )
        .await;
    resend.assert_problem(409, "already_verified");
}

async fn a_resent_verification_link_supersedes_the_previous_one_and_resends_are_limited(
    app: TestApp,
) {
    let body = sign_up(&app, "bo@example.com").await;
    let access = body["access_token"].as_str().expect("access");
    let first = last_token(&app, "bo@example.com", "verify-email").await;
    let r = app
        .post("/v1/me/verify-email", Some(access), json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["sent_to"], "bo@example.com");
    let second = last_token(&app, "bo@example.com", "verify-email").await;
    assert_ne!(first, second);
    assert_eq!(
        app.rows(
            "account_tokens",
            "purpose = 'verify_email' AND used_at IS NULL AND superseded_at IS NULL"
        )
        .await,
        1,
        "one live link"
    );
    // Five resends an hour (the default); the sixth is refused with the wait.
    for _ in 0..4 {
        let r = app
            .post("/v1/me/verify-email", Some(access), json!({}))
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
    }
    let before = mail_to(&app, "bo@example.com").await.len();
    let refused = app
        .post("/v1/me/verify-email", Some(access), json!({}))
        .await;
    refused.assert_problem(429, "rate_limited");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(mail_to(&app, "bo@example.com").await.len(), before);
    let latest = last_token(&app, "bo@example.com", "verify-email").await;

    let old = app
        .post("/v1/auth/verify-email", None, json!({"token": first}))
        .await;
    old.assert_problem(410, "token_superseded");
    assert_eq!(verified(&app, "bo@example.com").await, 0);
    let r = app
        .post("/v1/auth/verify-email", None, json!({"token": latest}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(verified(&app, "bo@example.com").await, 1);
}

async fn malformed_unknown_and_expired_verification_links_are_refused_and_change_nothing(
    app: TestApp,
) {
    sign_up(&app, "cy@example.com").await;
    let token = last_token(&app, "cy@example.com", "verify-email").await;
    let census = app.census().await;
    let unknown = format!("ev_{}", "A".repeat(43));
    for bad in [
        String::new(),
        "ev_short".to_owned(),
        unknown,
        "ev_ünïcødé-ünïcødé-ünïcødé-ünïcødé-ünïcødé".to_owned(),
        "x".repeat(10 * 1024),
        token.replace("ev_", "pr_"),
    ] {
        let r = app
            .post("/v1/auth/verify-email", None, json!({"token": bad}))
            .await;
        r.assert_problem(400, "token_invalid");
    }
    for unreadable in [
        json!({"token": 42}),
        json!({"token": format!("{token}\u{0}")}),
    ] {
        let r = app.post("/v1/auth/verify-email", None, unreadable).await;
        r.assert_problem(422, "validation_failed");
    }
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let r = app
        .post("/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    r.assert_problem(410, "token_expired");
    assert_eq!(app.census().await, census);
    assert_eq!(verified(&app, "cy@example.com").await, 0);
    assert_eq!(app.rows("account_tokens", "used_at IS NOT NULL").await, 0);
}

async fn forgot_password_answers_alike_for_known_and_unknown_addresses_in_about_the_same_time(
    app: TestApp,
) {
    let app = app
        .another_on_same_database(|s| s.password_reset_rate_limit = Some(1000))
        .await;
    // The one-a-minute budget per address is a fixed window: the 100 requests below (about
    // ten seconds) must not straddle two, or the known address rightly gets a second mail.
    app.at_the_start_of_a_minute();
    app.signup("known@example.com", "Known").await;
    let forgot = |email: &'static str| {
        let app = &app;
        async move {
            let started = Instant::now();
            let r = app
                .post("/v1/auth/forgot-password", None, json!({"email": email}))
                .await;
            (r, started.elapsed())
        }
    };
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    let mut bodies = std::collections::BTreeSet::new();
    for _ in 0..50 {
        for (email, times) in [
            ("known@example.com", &mut known),
            ("nobody@example.com", &mut unknown),
        ] {
            let (r, took) = forgot(email).await;
            assert_eq!(r.status, 202, "{}", r.text);
            bodies.insert(r.text.clone());
            times.push(took);
        }
    }
    assert_eq!(bodies.len(), 1, "one body for both: {bodies:?}");
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (k, u) = (median(&mut known), median(&mut unknown));
    eprintln!("forgot-password medians over 50 tries: known {k:.4} s, unknown {u:.4} s");
    assert!(
        (k - u).abs() <= 0.2 * k.min(u),
        "medians: known {k:.4} s, unknown {u:.4} s"
    );
    assert_eq!(mail_to(&app, "known@example.com").await.len(), 1);
    assert_eq!(mail_to(&app, "nobody@example.com").await.len(), 0);
    assert_eq!(
        app.rows("account_tokens", "purpose = 'reset_password'")
            .await,
        1
    );
}

async fn a_reset_link_sets_the_password_once_and_ends_every_session_on_every_replica(app: TestApp) {
    let sink = SmtpSink::start();
    let mailing = app
        .another_on_same_database(|s| s.smtp_url = Some(sink.url()))
        .await;
    let replica = app.another_on_same_database(|_| {}).await;
    let ada = app.signup("reset@example.com", "Ada").await;
    let other = app.login("reset@example.com", PASSWORD).await;
    let r = app
        .post(
            "/v1/auth/forgot-password",
            None,
            json!({"email": "Reset@Example.com"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(mailing.deliver().await.sent, 1);
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("Reset your Roster password"));
    let token = link_token(&messages[0], "reset-password");
    assert!(token.starts_with("pr_"), "{token}");
    let preview = app.state.core.reset_preview(&token).await.expect("preview");
    assert_eq!(preview.masked_email, "r***@example.com");

    let r = app
        .post(
            "/v1/auth/reset-password",
            None,
            json!({"token": token, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["sessions_ended"], 2);
    // Every old credential is dead on the very next request, on another replica too.
    replica
        .get("/v1/me", &ada.access)
        .await
        .assert_problem(401, "unauthenticated");
    let at = other["access_token"].as_str().expect("access");
    replica
        .get("/v1/me", at)
        .await
        .assert_problem(401, "unauthenticated");
    for refresh in [
        ada.refresh.as_str(),
        other["refresh_token"].as_str().expect("rt"),
    ] {
        replica
            .post("/v1/auth/refresh", None, json!({"refresh_token": refresh}))
            .await
            .assert_problem(401, "unauthenticated");
    }
    assert_eq!(app.rows("sessions", "ended_at IS NULL").await, 0);
    replica
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "reset@example.com", "password": PASSWORD}),
        )
        .await
        .assert_problem(401, "invalid_credentials");
    let fresh = replica.login("reset@example.com", NEW_PASSWORD).await;
    assert!(fresh["access_token"].is_string());
    assert_eq!(
        verified(&app, "reset@example.com").await,
        1,
        "the link proved the address"
    );
    assert_eq!(
        app.rows("audit_events", "action = 'user.password_reset'")
            .await,
        1
    );

    let again = replica
        .post(
            "/v1/auth/reset-password",
            None,
            json!({"token": token, "password": "yet another passphrase"}),
        )
        .await;
    again.assert_problem(410, "token_used");
    replica.login("reset@example.com", NEW_PASSWORD).await;
}

async fn twenty_parallel_uses_of_one_reset_link_let_exactly_one_succeed(app: TestApp) {
    app.signup("race@example.com", "Race").await;
    let r = app
        .post(
            "/v1/auth/forgot-password",
            None,
            json!({"email": "race@example.com"}),
        )
        .await;
    assert_eq!(r.status, 202);
    let token = last_token(&app, "race@example.com", "reset-password").await;
    let tries = (0..20).map(|i| {
        let app = &app;
        let token = token.clone();
        async move {
            app.post(
                "/v1/auth/reset-password",
                None,
                json!({"token": token, "password": format!("parallel password {i}")}),
            )
            .await
        }
    });
    let answers = futures::future::join_all(tries).await;
    let won: Vec<usize> = answers
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == 200)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 200) {
        r.assert_problem(410, "token_used");
    }
    assert_eq!(
        app.rows("audit_events", "action = 'user.password_reset'")
            .await,
        1
    );
    app.login("race@example.com", &format!("parallel password {}", won[0]))
        .await;
}

async fn superseded_expired_and_bad_resets_are_refused_and_change_nothing(app: TestApp) {
    let ada = app.signup("old@example.com", "Old").await;
    let forgot = || async {
        let r = app
            .post(
                "/v1/auth/forgot-password",
                None,
                json!({"email": "old@example.com"}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
    };
    forgot().await;
    let first = last_token(&app, "old@example.com", "reset-password").await;
    // Within the cool-down a repeat queues nothing; after it, a new link supersedes the old.
    forgot().await;
    assert_eq!(mail_to(&app, "old@example.com").await.len(), 1);
    app.clock.advance(Duration::from_secs(61));
    forgot().await;
    let second = last_token(&app, "old@example.com", "reset-password").await;
    assert_ne!(first, second);
    assert_eq!(
        app.rows(
            "account_tokens",
            "purpose = 'reset_password' AND used_at IS NULL AND superseded_at IS NULL"
        )
        .await,
        1,
        "at most one live reset link"
    );
    let census = app.census().await;
    let reset = |token: String, password: String| {
        let app = &app;
        async move {
            app.post(
                "/v1/auth/reset-password",
                None,
                json!({"token": token, "password": password}),
            )
            .await
        }
    };
    reset(first.clone(), NEW_PASSWORD.into())
        .await
        .assert_problem(410, "token_superseded");
    for bad in ["", "pr_nope", "ev_whatever", &"p".repeat(10 * 1024)] {
        reset(bad.into(), NEW_PASSWORD.into())
            .await
            .assert_problem(400, "token_invalid");
    }
    for password in ["x".repeat(10 * 1024), "short".into()] {
        let r = reset(second.clone(), password).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "password");
    }
    // NUL never reaches the domain: the body is refused whole.
    reset(second.clone(), "with a \u{0} inside".into())
        .await
        .assert_problem(422, "validation_failed");
    app.clock.advance(Duration::from_secs(3600));
    reset(second.clone(), NEW_PASSWORD.into())
        .await
        .assert_problem(410, "token_expired");
    assert_eq!(app.census().await, census, "nothing changed");
    assert_eq!(app.rows("account_tokens", "used_at IS NOT NULL").await, 0);
    assert_eq!(
        app.get("/v1/me", &ada.access).await.status,
        401,
        "the access token expired by now"
    );
    app.login("old@example.com", PASSWORD).await;

    // A unicode password works through a fresh link.
    app.clock.advance(Duration::from_secs(61));
    forgot().await;
    let third = last_token(&app, "old@example.com", "reset-password").await;
    let r = reset(third, "pässwörd ünïcødé 🔑".into()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.login("old@example.com", "pässwörd ünïcødé 🔑").await;
}

async fn changing_the_email_waits_for_the_new_address_and_tells_the_old_one(app: TestApp) {
    let ada = app.signup("first@example.com", "Ada").await;
    let patch = |body: Value| {
        let app = &app;
        let access = ada.access.clone();
        async move { app.call("PATCH", "/v1/me", Some(&access), Some(body)).await }
    };
    patch(json!({"email": "second@example.com"}))
        .await
        .assert_problem(422, "validation_failed");
    patch(json!({"email": "second@example.com", "current_password": PASSWORD, "name": "X"}))
        .await
        .assert_problem(422, "validation_failed");
    patch(json!({"email": "second@example.com", "current_password": "wrong password"}))
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(
        app.rows("account_tokens", "purpose = 'change_email'").await,
        0
    );

    let r = patch(json!({"email": "Second@example.com", "current_password": PASSWORD})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["email"], "first@example.com");
    assert_eq!(r.body["pending_email"], "Second@example.com");
    assert_eq!(
        app.get("/v1/me", &ada.access).await.body["pending_email"],
        "Second@example.com"
    );
    let notice = mail_to(&app, "first@example.com").await;
    assert_eq!(notice.len(), 1);
    assert!(notice[0].1.contains("Second@example.com") && !notice[0].1.contains("http"));
    let token = last_token(&app, "Second@example.com", "verify-email").await;
    assert_eq!(
        app.rows("audit_events", "action = 'user.email_change_requested'")
            .await,
        1
    );
    // Until the new address is verified, sign-in is by the old one.
    app.login("first@example.com", PASSWORD).await;

    let r = app
        .post("/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["email"], "Second@example.com");
    assert_eq!(r.body["email_verified"], true);
    assert_eq!(
        app.rows("users", "email_key = 'second@example.com'").await,
        1
    );
    assert_eq!(
        app.rows("audit_events", "action = 'user.email_changed'")
            .await,
        1
    );
    app.login("second@example.com", PASSWORD).await;
    app.post(
        "/v1/auth/login",
        None,
        json!({"email": "first@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    assert_eq!(
        app.get("/v1/me", &ada.access).await.body["pending_email"],
        Value::Null
    );
}

async fn a_change_to_an_address_taken_meanwhile_is_refused_and_changes_nothing(app: TestApp) {
    let ada = app.signup("mine@example.com", "Ada").await;
    app.signup("taken@example.com", "Taken").await;
    let r = app
        .call(
            "PATCH",
            "/v1/me",
            Some(&ada.access),
            Some(json!({"email": "taken@example.com", "current_password": PASSWORD})),
        )
        .await;
    r.assert_problem(409, "email_taken");
    let r = app
        .call(
            "PATCH",
            "/v1/me",
            Some(&ada.access),
            Some(json!({"email": "later@example.com", "current_password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = last_token(&app, "later@example.com", "verify-email").await;
    app.signup("later@example.com", "Quicker").await;
    let census = app.census().await;
    let r = app
        .post("/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    r.assert_problem(409, "email_taken");
    assert_eq!(app.census().await, census);
    assert_eq!(app.rows("users", "email_key = 'mine@example.com'").await, 1);
    assert_eq!(app.rows("account_tokens", "used_at IS NOT NULL").await, 0);
}

async fn the_operator_verifies_an_address_from_the_command_line_core(app: TestApp) {
    sign_up(&app, "op@example.com").await;
    let meta = roster::domain::session::RequestMeta::default();
    let user = app
        .state
        .core
        .mark_verified_by_operator("OP@example.com", &meta)
        .await
        .expect("verified");
    assert!(user.email_verified);
    assert_eq!(verified(&app, "op@example.com").await, 1);
    let stale = last_token(&app, "op@example.com", "verify-email").await;
    app.post("/v1/auth/verify-email", None, json!({"token": stale}))
        .await
        .assert_problem(410, "token_superseded");
}

mod require_verified_email {
    use super::*;
    use crate::helpers::Db;

    async fn unverified_accounts_cannot_sign_in_or_refresh_until_verified(db: Db) {
        let app = TestApp::spawn_with(db, |s| s.require_verified_email = Some(true)).await;
        let body = sign_up(&app, "strict@example.com").await;
        let login = |password: &'static str| {
            let app = &app;
            async move {
                app.post(
                    "/v1/auth/login",
                    None,
                    json!({"email": "strict@example.com", "password": password}),
                )
                .await
            }
        };
        login(PASSWORD)
            .await
            .assert_problem(403, "email_not_verified");
        login("wrong password")
            .await
            .assert_problem(401, "invalid_credentials");
        app.post(
            "/v1/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": PASSWORD}),
        )
        .await
        .assert_problem(401, "invalid_credentials");
        app.post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": body["refresh_token"]}),
        )
        .await
        .assert_problem(403, "email_not_verified");
        let sf = app.sf_login("strict@example.com", PASSWORD).await;
        assert_eq!(sf.status, 403, "{}", sf.text);
        assert_eq!(sf.body["error_code"], "EMAIL_NOT_VERIFIED");

        let token = last_token(&app, "strict@example.com", "verify-email").await;
        let r = app
            .post("/v1/auth/verify-email", None, json!({"token": token}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(login(PASSWORD).await.status, 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        unverified_accounts_cannot_sign_in_or_refresh_until_verified(Db::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: set ROSTER_TEST_POSTGRES_URL and run the ignored tests (scripts/test does)"]
    async fn postgres() {
        unverified_accounts_cannot_sign_in_or_refresh_until_verified(Db::Postgres).await;
    }
}
