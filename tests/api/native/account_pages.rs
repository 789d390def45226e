//! The pages the account emails link to, over real HTTP: `/verify-email/{token}` and
//! `/reset-password/{token}` render a form without spending the link, spend it once when the
//! form is sent from the page, refuse a post another site made, and say why a dead link fails.
//! (tests/browser/stories/account_pages.mjs walks the same pages in Chromium.)

use serde_json::json;

use crate::helpers::{TestApp, PASSWORD};
use crate::native::account_links::{last_token, sign_up};
use crate::native::mfa::{enable_mfa, next_step};
use crate::on_both_databases;

on_both_databases!(
    the_verification_page_asks_before_it_verifies_and_then_works_once,
    the_reset_page_sets_the_password_once_and_signs_every_session_out,
    the_pages_refuse_a_form_another_site_posted_and_change_nothing,
    dead_and_malformed_links_get_a_page_that_says_why,
    an_account_with_mfa_still_passes_its_second_factor_after_a_reset,
    links_a_week_past_their_expiry_leave_the_database_at_the_next_worker_round,
);

const NEW_PASSWORD: &str = "a brand new passphrase";

/// The status of a sign-in with this email and password.
async fn login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    app.post(
        "/v1/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await
    .status
}

fn assert_private_page(page: &crate::helpers::Resp) {
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page
        .header("content-security-policy")
        .is_some_and(|c| c.contains("frame-ancestors 'none'")));
    assert!(page
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
}

async fn the_verification_page_asks_before_it_verifies_and_then_works_once(app: TestApp) {
    sign_up(&app, "page@example.com").await;
    let token = last_token(&app, "page@example.com", "verify-email").await;
    let path = format!("/verify-email/{token}");

    // Opening the link (as a mail scanner would) changes nothing.
    for _ in 0..2 {
        let page = app.send(app.client.get(app.url(&path))).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert_private_page(&page);
        assert!(page.text.contains("p***@example.com"), "{}", page.text);
        assert!(page.text.contains("<form method=\"post\">"));
    }
    assert_eq!(
        app.rows("users", "email_key = 'page@example.com' AND email_verified")
            .await,
        0
    );

    let sent = app
        .send(
            app.client
                .post(app.url(&path))
                .header("sec-fetch-site", "same-origin")
                .form(&[("go", "1")]),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert!(sent.text.contains("is verified"), "{}", sent.text);
    assert_eq!(
        app.rows("users", "email_key = 'page@example.com' AND email_verified")
            .await,
        1
    );
    assert_eq!(
        app.rows("audit_events", "action = 'user.email_verified'")
            .await,
        1
    );

    let again = app.send(app.client.post(app.url(&path))).await;
    assert_eq!(again.status, 410, "{}", again.text);
    assert!(again.text.contains("already been used"), "{}", again.text);
    assert_eq!(app.send(app.client.get(app.url(&path))).await.status, 410);
    assert_eq!(
        app.rows("audit_events", "action = 'user.email_verified'")
            .await,
        1
    );
}

async fn the_reset_page_sets_the_password_once_and_signs_every_session_out(app: TestApp) {
    let ada = app.signup("reset-page@example.com", "Ada").await;
    let r = app
        .post(
            "/v1/auth/forgot-password",
            None,
            json!({"email": "reset-page@example.com"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let token = last_token(&app, "reset-page@example.com", "reset-password").await;
    let path = format!("/reset-password/{token}");

    let page = app.send(app.client.get(app.url(&path))).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_private_page(&page);
    assert!(page.text.contains("autocomplete=\"new-password\""));
    assert!(
        !page.text.contains(&token),
        "the page does not repeat its token"
    );

    let form = |fields: &[(&str, &str)]| app.client.post(app.url(&path)).form(fields);
    // Two different passwords, or a short one: the form again, with the reason; nothing changes.
    let r = app
        .send(form(&[
            ("password", NEW_PASSWORD),
            ("confirm", "something else"),
        ]))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("not the same"), "{}", r.text);
    let r = app
        .send(form(&[("password", "short"), ("confirm", "short")]))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("<form method=\"post\">"));
    assert_eq!(
        login_status(&app, "reset-page@example.com", PASSWORD).await,
        200
    );

    let r = app
        .send(form(&[
            ("password", NEW_PASSWORD),
            ("confirm", NEW_PASSWORD),
        ]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Password changed"), "{}", r.text);
    assert_eq!(app.get("/v1/me", &ada.access).await.status, 401);
    assert_eq!(
        login_status(&app, "reset-page@example.com", PASSWORD).await,
        401
    );
    assert_eq!(
        login_status(&app, "reset-page@example.com", NEW_PASSWORD).await,
        200
    );
    assert_eq!(
        app.rows("audit_events", "action = 'user.password_reset'")
            .await,
        1
    );

    let r = app
        .send(form(&[
            ("password", "yet another one"),
            ("confirm", "yet another one"),
        ]))
        .await;
    assert_eq!(r.status, 410, "{}", r.text);
    assert_eq!(
        login_status(&app, "reset-page@example.com", NEW_PASSWORD).await,
        200
    );
}

async fn the_pages_refuse_a_form_another_site_posted_and_change_nothing(app: TestApp) {
    sign_up(&app, "csrf@example.com").await;
    let verify = last_token(&app, "csrf@example.com", "verify-email").await;
    let r = app
        .post(
            "/v1/auth/forgot-password",
            None,
            json!({"email": "csrf@example.com"}),
        )
        .await;
    assert_eq!(r.status, 202);
    let reset = last_token(&app, "csrf@example.com", "reset-password").await;

    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "https://evil.example"),
    ] {
        let r = app
            .send(
                app.client
                    .post(app.url(&format!("/verify-email/{verify}")))
                    .header(name, value)
                    .form(&[("go", "1")]),
            )
            .await;
        assert_eq!(r.status, 403, "{name}: {value}: {}", r.text);
        let r = app
            .send(
                app.client
                    .post(app.url(&format!("/reset-password/{reset}")))
                    .header(name, value)
                    .form(&[("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)]),
            )
            .await;
        assert_eq!(r.status, 403, "{name}: {value}: {}", r.text);
    }
    assert_eq!(
        app.rows("users", "email_key = 'csrf@example.com' AND email_verified")
            .await,
        0
    );
    assert_eq!(app.rows("account_tokens", "used_at IS NOT NULL").await, 0);
    assert_eq!(login_status(&app, "csrf@example.com", PASSWORD).await, 200);
}

async fn dead_and_malformed_links_get_a_page_that_says_why(app: TestApp) {
    sign_up(&app, "dead@example.com").await;
    let token = last_token(&app, "dead@example.com", "verify-email").await;
    // Malformed and unknown tokens: 404, one page for both.
    for bad in [
        "nope".to_owned(),
        format!("ev_{}", "A".repeat(43)),
        format!("pr_{}", "A".repeat(43)),
        "%E2%9C%93".to_owned(),
        "x".repeat(3000),
    ] {
        for page in ["verify-email", "reset-password"] {
            let r = app
                .send(app.client.get(app.url(&format!("/{page}/{bad}"))))
                .await;
            assert_eq!(r.status, 404, "{page}/{bad}: {}", r.text);
            assert!(r.text.contains("not valid"), "{}", r.text);
            let r = app
                .send(
                    app.client
                        .post(app.url(&format!("/{page}/{bad}")))
                        .form(&[("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)]),
                )
                .await;
            assert_eq!(r.status, 404, "{page}/{bad}: {}", r.text);
        }
    }
    // A verification link is not a reset link.
    let r = app
        .send(app.client.get(app.url(&format!("/reset-password/{token}"))))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    // Expired: 410 with the reason.
    app.clock.advance(std::time::Duration::from_secs(25 * 3600));
    let r = app
        .send(app.client.get(app.url(&format!("/verify-email/{token}"))))
        .await;
    assert_eq!(r.status, 410, "{}", r.text);
    assert!(r.text.contains("expired"), "{}", r.text);
    assert_eq!(
        app.rows("users", "email_key = 'dead@example.com' AND email_verified")
            .await,
        0
    );
}

async fn an_account_with_mfa_still_passes_its_second_factor_after_a_reset(app: TestApp) {
    let ada = app.signup("mfa-reset@example.com", "Ada").await;
    let (auth, _codes) = enable_mfa(&app, &ada).await;
    let r = app
        .post(
            "/v1/auth/forgot-password",
            None,
            json!({"email": "mfa-reset@example.com"}),
        )
        .await;
    assert_eq!(r.status, 202);
    let token = last_token(&app, "mfa-reset@example.com", "reset-password").await;
    let r = app
        .send(
            app.client
                .post(app.url(&format!("/reset-password/{token}")))
                .form(&[("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains("access_token") && r.headers.get("set-cookie").is_none());

    // The new password alone is not enough: the sign-in asks for the second factor.
    let r = app
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "mfa-reset@example.com", "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["mfa_required"], true);
    assert!(r.body.get("access_token").is_none(), "{}", r.text);
    assert_eq!(
        app.rows("totp_factors", "confirmed_at IS NOT NULL").await,
        1
    );
    next_step(&app);
    let done = app
        .post(
            "/v1/auth/mfa",
            None,
            json!({"ticket": r.body["mfa_ticket"], "code": auth.code(&app, 0)}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(done.body["access_token"].is_string());
}

async fn links_a_week_past_their_expiry_leave_the_database_at_the_next_worker_round(app: TestApp) {
    sign_up(&app, "old-link@example.com").await;
    let token = last_token(&app, "old-link@example.com", "verify-email").await;
    app.deliver().await;
    assert_eq!(
        app.rows("account_tokens", "TRUE").await,
        1,
        "a day's link stays"
    );
    // Expired a week and a bit ago: gone at the next round; a fresh link stays.
    app.clock
        .advance(std::time::Duration::from_secs((24 + 7 * 24 + 1) * 3600));
    sign_up(&app, "new-link@example.com").await;
    app.deliver().await;
    assert_eq!(app.rows("account_tokens", "TRUE").await, 1);
    assert_eq!(
        app.rows("account_tokens", "email = 'new-link@example.com'")
            .await,
        1
    );
    let r = app
        .send(app.client.get(app.url(&format!("/verify-email/{token}"))))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}
