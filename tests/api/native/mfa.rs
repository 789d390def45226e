//! The TOTP second factor on the native API: enrolling, confirming, the two-step sign-in, a
//! code working once (±1 step of drift), recovery codes working once (also under 50 parallel
//! uses), wrong codes counted per ticket and per user, disabling, and bad input. Codes are
//! computed with `totp-rs` from the secret the API answered, at the service's (movable) clock.

use std::time::Duration;

use serde_json::{json, Value};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::{
    helpers::{Account, TestApp},
    on_both_databases,
};

on_both_databases!(
    enrolling_and_confirming_turns_mfa_on_and_answers_ten_recovery_codes_once,
    a_sign_in_with_mfa_answers_a_ticket_and_a_valid_code_completes_it_once,
    codes_one_step_off_are_accepted_and_two_steps_off_are_refused,
    a_recovery_code_works_once,
    ten_wrong_codes_lock_further_tries_for_a_while,
    fifty_parallel_uses_of_one_recovery_code_sign_in_exactly_once,
    expired_used_and_malformed_tickets_and_bad_codes_are_refused_and_change_nothing,
    disabling_needs_a_current_code_and_removes_the_secret_and_the_recovery_codes,
    an_api_key_cannot_manage_mfa_and_the_operator_can_remove_it,
);

/// A user's authenticator: the secret the enrolment answered.
pub struct Authenticator(Vec<u8>);

impl Authenticator {
    /// The authenticator of a secret shown in base32 (as the enrolment answers and the console
    /// shows it).
    pub fn from_base32(secret: &str) -> Authenticator {
        Authenticator(
            Secret::Encoded(secret.to_owned())
                .to_bytes()
                .expect("base32"),
        )
    }

    /// The code for the 30 s step that `seconds` (since the epoch) falls in.
    pub fn code_at(&self, seconds: i64) -> String {
        TOTP::new_unchecked(
            Algorithm::SHA1,
            6,
            0,
            30,
            self.0.clone(),
            None,
            String::new(),
        )
        .generate(u64::try_from(seconds).expect("time"))
    }

    /// The code `steps` steps from the service's current one.
    pub fn code(&self, app: &TestApp, steps: i64) -> String {
        self.code_at(app.clock_now() + steps * 30)
    }
}

trait ClockNow {
    fn clock_now(&self) -> i64;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> i64 {
        use roster::domain::clock::Clock;
        self.clock.now().timestamp()
    }
}

/// Moves the clock to the start of the next step, so that a code computed now stays in its
/// step while the request is served.
pub fn next_step(app: &TestApp) {
    let into = app.clock_now().rem_euclid(30);
    app.clock
        .advance(Duration::from_secs(u64::try_from(30 - into).expect("secs")));
}

/// Enrols and confirms a TOTP authenticator for `account`; its secret and recovery codes.
pub async fn enable_mfa(app: &TestApp, account: &Account) -> (Authenticator, Vec<String>) {
    let r = app
        .post("/v1/me/mfa/totp", Some(&account.access), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let secret = Secret::Encoded(r.body["secret"].as_str().expect("secret").to_owned())
        .to_bytes()
        .expect("base32");
    let auth = Authenticator(secret);
    next_step(app);
    let r = app
        .post(
            "/v1/me/mfa/totp/confirm",
            Some(&account.access),
            json!({"code": auth.code(app, 0)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let codes = r.body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    // The confirming code's step is spent: the next sign-in uses the next step.
    next_step(app);
    (auth, codes)
}

/// Signs in with the password: the MFA ticket the 202 answer carries.
pub async fn ticket(app: &TestApp, account: &Account) -> String {
    let r = app
        .post(
            "/v1/auth/login",
            None,
            json!({"email": account.email, "password": account.password}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["mfa_required"], true);
    assert!(r.body.get("access_token").is_none(), "{}", r.text);
    assert!(r.body["expires_at"].is_string());
    r.body["mfa_ticket"].as_str().expect("ticket").to_owned()
}

async fn complete(app: &TestApp, ticket: &str, proof: Value) -> crate::helpers::Resp {
    let mut body = proof;
    body["ticket"] = json!(ticket);
    app.post("/v1/auth/mfa", None, body).await
}

async fn enrolling_and_confirming_turns_mfa_on_and_answers_ten_recovery_codes_once(app: TestApp) {
    let a = app.signup("mfa-enrol@example.com", "Enrol").await;
    let off = app.get("/v1/me/mfa", &a.access).await;
    assert_eq!(off.status, 200);
    assert_eq!(
        off.body,
        json!({"enabled": false, "pending": false, "confirmed_at": null, "recovery_codes_left": 0})
    );

    let r = app
        .post("/v1/me/mfa/totp", Some(&a.access), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let uri = r.body["otpauth_uri"].as_str().expect("uri");
    assert!(
        uri.starts_with("otpauth://totp/Roster:mfa-enrol%40example.com?secret="),
        "{uri}"
    );
    assert!(uri.contains("issuer=Roster"), "{uri}");
    assert!(r.body["qr_svg"].as_str().expect("svg").contains("<svg"));
    let first_secret = r.body["secret"].as_str().expect("secret").to_owned();
    assert_eq!(first_secret.len(), 32);
    // Enrolling again replaces the pending secret.
    let again = app
        .post("/v1/me/mfa/totp", Some(&a.access), json!({}))
        .await;
    assert_eq!(again.status, 200);
    assert_ne!(again.body["secret"], first_secret);
    assert_eq!(app.rows("totp_factors", "confirmed_at IS NULL").await, 1);
    assert_eq!(app.get("/v1/me/mfa", &a.access).await.body["pending"], true);
    let auth = Authenticator(
        Secret::Encoded(again.body["secret"].as_str().expect("s").to_owned())
            .to_bytes()
            .expect("base32"),
    );
    // The replaced secret's codes do not confirm; a wrong code changes nothing.
    let old = Authenticator(Secret::Encoded(first_secret).to_bytes().expect("b32"));
    next_step(&app);
    app.post(
        "/v1/me/mfa/totp/confirm",
        Some(&a.access),
        json!({"code": old.code(&app, 0)}),
    )
    .await
    .assert_problem(401, "mfa_code_invalid");
    assert_eq!(
        app.rows("totp_factors", "confirmed_at IS NOT NULL").await,
        0
    );

    let r = app
        .post(
            "/v1/me/mfa/totp/confirm",
            Some(&a.access),
            json!({"code": auth.code(&app, 0)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let codes = r.body["recovery_codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 10);
    let mut distinct: Vec<_> = codes.iter().map(|c| c.as_str().expect("c")).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 10);
    // Stored hashed only.
    assert_eq!(
        app.rows(
            "recovery_codes",
            "length(code_hash) = 32 AND used_at IS NULL"
        )
        .await,
        10
    );
    let on = app.get("/v1/me/mfa", &a.access).await;
    assert_eq!(on.body["enabled"], true);
    assert_eq!(on.body["pending"], false);
    assert_eq!(on.body["recovery_codes_left"], 10);
    assert!(on.body["confirmed_at"].is_string());
    assert!(!on.text.contains("secret"));
    // Already on: enrolling again is refused and the secret stays.
    app.post("/v1/me/mfa/totp", Some(&a.access), json!({}))
        .await
        .assert_problem(409, "mfa_already_enabled");
    app.post(
        "/v1/me/mfa/totp/confirm",
        Some(&a.access),
        json!({"code": auth.code(&app, 0)}),
    )
    .await
    .assert_problem(409, "mfa_not_pending");
    assert_eq!(
        app.rows("totp_factors", "confirmed_at IS NOT NULL").await,
        1
    );
    assert_eq!(
        app.rows("audit_events", "action = 'mfa.totp_enrolled'")
            .await,
        2
    );
    assert_eq!(app.rows("audit_events", "action = 'mfa.enabled'").await, 1);
}

async fn a_sign_in_with_mfa_answers_a_ticket_and_a_valid_code_completes_it_once(app: TestApp) {
    let a = app.signup("mfa-login@example.com", "Login").await;
    let (auth, _) = enable_mfa(&app, &a).await;
    let sessions = app.rows("sessions", "").await;
    let t = ticket(&app, &a).await;
    assert!(t.starts_with("mfa_"));
    // The password alone started no session; the ticket is stored hashed.
    assert_eq!(app.rows("sessions", "").await, sessions);
    assert_eq!(app.rows("mfa_tickets", "length(ticket_hash) = 32").await, 1);

    let code = auth.code(&app, 0);
    let r = complete(&app, &t, json!({"code": code})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["token_type"], "Bearer");
    let access = r.body["access_token"].as_str().expect("access");
    assert_eq!(app.get("/v1/me", access).await.status, 200);
    assert_eq!(app.rows("sessions", "").await, sessions + 1);

    // The same ticket again, and the same code on a new ticket: refused.
    complete(&app, &t, json!({"code": code}))
        .await
        .assert_problem(401, "mfa_ticket_invalid");
    let t2 = ticket(&app, &a).await;
    complete(&app, &t2, json!({"code": code}))
        .await
        .assert_problem(401, "mfa_code_invalid");
    assert_eq!(app.rows("sessions", "").await, sessions + 1);
    // The next step's code works, and the refresh token works as after any sign-in.
    next_step(&app);
    let r = complete(&app, &t2, json!({"code": auth.code(&app, 0)})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let refreshed = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": r.body["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
}

async fn codes_one_step_off_are_accepted_and_two_steps_off_are_refused(app: TestApp) {
    let a = app.signup("mfa-drift@example.com", "Drift").await;
    let (auth, _) = enable_mfa(&app, &a).await;
    for steps in [-2, 2] {
        let t = ticket(&app, &a).await;
        complete(&app, &t, json!({"code": auth.code(&app, steps)}))
            .await
            .assert_problem(401, "mfa_code_invalid");
    }
    // One step behind (a slow phone) works, once the confirming step is past; then one ahead
    // of the next step.
    next_step(&app);
    let t = ticket(&app, &a).await;
    let r = complete(&app, &t, json!({"code": auth.code(&app, -1)})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    next_step(&app);
    let t = ticket(&app, &a).await;
    let r = complete(&app, &t, json!({"code": auth.code(&app, 1)})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Having spent the step ahead, the current step's code is a replay now.
    let t = ticket(&app, &a).await;
    complete(&app, &t, json!({"code": auth.code(&app, 0)}))
        .await
        .assert_problem(401, "mfa_code_invalid");
}

async fn a_recovery_code_works_once(app: TestApp) {
    let a = app.signup("mfa-recovery@example.com", "Recovery").await;
    let (_, codes) = enable_mfa(&app, &a).await;
    let t = ticket(&app, &a).await;
    // Case and dashes do not matter.
    let typed = codes[3].to_uppercase().replace('-', " ");
    let r = complete(&app, &t, json!({"recovery_code": typed})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.rows("recovery_codes", "used_at IS NOT NULL").await, 1);
    assert_eq!(
        app.get("/v1/me/mfa", r.body["access_token"].as_str().expect("t"))
            .await
            .body["recovery_codes_left"],
        9
    );
    let t = ticket(&app, &a).await;
    complete(&app, &t, json!({"recovery_code": codes[3]}))
        .await
        .assert_problem(401, "mfa_code_invalid");
    // Another account's code is no good either.
    let b = app.signup("mfa-recovery-b@example.com", "B").await;
    let (_, b_codes) = enable_mfa(&app, &b).await;
    complete(&app, &t, json!({"recovery_code": b_codes[0]}))
        .await
        .assert_problem(401, "mfa_code_invalid");
    assert_eq!(
        app.rows("audit_events", "action = 'mfa.recovery_code_used'")
            .await,
        1
    );
}

async fn ten_wrong_codes_lock_further_tries_for_a_while(app: TestApp) {
    let a = app.signup("mfa-lock@example.com", "Lock").await;
    let (auth, _) = enable_mfa(&app, &a).await;
    let wrong = |c: String| format!("{:06}", (c.parse::<u32>().expect("digits") + 1) % 1_000_000);
    // Five wrong codes close a ticket; two tickets make ten.
    for _ in 0..2 {
        let t = ticket(&app, &a).await;
        for _ in 0..5 {
            complete(&app, &t, json!({"code": wrong(auth.code(&app, 0))}))
                .await
                .assert_problem(401, "mfa_code_invalid");
        }
        complete(&app, &t, json!({"code": auth.code(&app, 0)}))
            .await
            .assert_problem(401, "mfa_ticket_invalid");
    }
    // Now even the right code on a fresh ticket waits.
    let t = ticket(&app, &a).await;
    let r = complete(&app, &t, json!({"code": auth.code(&app, 0)})).await;
    r.assert_problem(429, "rate_limited");
    let wait: u64 = r
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .expect("secs");
    assert!((1..=900).contains(&wait), "{wait}");
    assert_eq!(app.rows("sessions", "user_id IS NOT NULL").await, 1);
    // So does disabling MFA with a session.
    app.post(
        "/v1/me/mfa/disable",
        Some(&a.access),
        json!({"code": auth.code(&app, 0)}),
    )
    .await
    .assert_problem(429, "rate_limited");
    // After the window, the right code signs in.
    app.clock.advance(Duration::from_secs(wait));
    next_step(&app);
    let t = ticket(&app, &a).await;
    let r = complete(&app, &t, json!({"code": auth.code(&app, 0)})).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn fifty_parallel_uses_of_one_recovery_code_sign_in_exactly_once(app: TestApp) {
    // Fifty tickets need fifty password sign-ins in a minute.
    let first = app;
    let app = first
        .another_on_same_database(|s| s.login_rate_limit = Some(0))
        .await;
    let a = app.signup("mfa-race@example.com", "Race").await;
    let (_, codes) = enable_mfa(&app, &a).await;
    let mut tickets = Vec::new();
    for _ in 0..50 {
        tickets.push(ticket(&app, &a).await);
    }
    let sessions = app.rows("sessions", "").await;
    let tries = tickets
        .iter()
        .map(|t| complete(&app, t, json!({"recovery_code": codes[0]})));
    let answers = futures::future::join_all(tries).await;
    let won = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        won,
        1,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 200) {
        assert!(r.status == 401 || r.status == 429, "{}", r.text);
    }
    assert_eq!(app.rows("sessions", "").await, sessions + 1);
    assert_eq!(app.rows("recovery_codes", "used_at IS NOT NULL").await, 1);
    assert_eq!(app.rows("mfa_tickets", "used_at IS NOT NULL").await, 1);
}

async fn expired_used_and_malformed_tickets_and_bad_codes_are_refused_and_change_nothing(
    app: TestApp,
) {
    let a = app.signup("mfa-bad@example.com", "Bad").await;
    let (auth, _) = enable_mfa(&app, &a).await;
    let t = ticket(&app, &a).await;
    let before = app.census().await;
    let tickets_before = app
        .rows("mfa_tickets", "failures = 0 AND used_at IS NULL")
        .await;
    let huge = "9".repeat(100_000);
    for body in [
        json!({"ticket": "not-a-ticket", "code": "123456"}),
        json!({"ticket": format!("mfa_{huge}"), "code": "123456"}),
        json!({"ticket": t, "code": huge}),
        json!({"ticket": t, "code": "１２３４５６"}),
        json!({"ticket": t, "code": "12\u{0}456"}),
        json!({"ticket": t, "code": "12345"}),
        json!({"ticket": t, "recovery_code": "ünïcode-ünïcode"}),
        json!({"ticket": t, "code": "123456", "recovery_code": "aaaa-aaaa-aaaa-aaaa"}),
        json!({"ticket": t}),
    ] {
        let r = app.post("/v1/auth/mfa", None, body).await;
        r.assert_problem(422, "validation_failed");
    }
    for body in [
        json!({"ticket": t, "code": 123_456}),
        json!({"ticket": 5, "code": "123456"}),
        json!({"ticket": t, "code": "123456", "role": "owner"}),
        json!([t]),
    ] {
        let r = app.post("/v1/auth/mfa", None, body).await;
        assert_eq!(r.status, 422, "{}", r.text);
    }
    let unknown = format!("mfa_{}", "A".repeat(43));
    complete(&app, &unknown, json!({"code": auth.code(&app, 0)}))
        .await
        .assert_problem(401, "mfa_ticket_invalid");
    assert_eq!(app.census().await, before);
    assert_eq!(
        app.rows("mfa_tickets", "failures = 0 AND used_at IS NULL")
            .await,
        tickets_before
    );
    assert_eq!(
        app.rows("rate_limits", "bucket LIKE 'mfa_failures:%' AND hits > 0")
            .await,
        0
    );

    // A ticket expires after five minutes.
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    next_step(&app);
    complete(&app, &t, json!({"code": auth.code(&app, 0)}))
        .await
        .assert_problem(401, "mfa_ticket_invalid");
    assert_eq!(app.census().await, before);

    // Bad input to the account routes changes nothing either.
    for body in [json!({"code": huge}), json!({"code": 1}), json!({})] {
        let r = app.post("/v1/me/mfa/disable", Some(&a.access), body).await;
        assert_eq!(r.status, 422, "{}", r.text);
    }
    assert_eq!(
        app.rows("totp_factors", "confirmed_at IS NOT NULL").await,
        1
    );
}

async fn disabling_needs_a_current_code_and_removes_the_secret_and_the_recovery_codes(
    app: TestApp,
) {
    let a = app.signup("mfa-off@example.com", "Off").await;
    let (auth, codes) = enable_mfa(&app, &a).await;
    app.post(
        "/v1/me/mfa/disable",
        Some(&a.access),
        json!({"code": auth.code(&app, -3)}),
    )
    .await
    .assert_problem(401, "mfa_code_invalid");
    assert_eq!(app.rows("totp_factors", "").await, 1);

    // Regenerating the recovery codes replaces the old ones.
    let r = app
        .post(
            "/v1/me/mfa/recovery-codes",
            Some(&a.access),
            json!({"code": auth.code(&app, 0)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fresh: Vec<String> = r.body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("c").to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(!fresh.contains(&codes[0]));
    app.post(
        "/v1/me/mfa/disable",
        Some(&a.access),
        json!({"recovery_code": codes[0]}),
    )
    .await
    .assert_problem(401, "mfa_code_invalid");

    let r = app
        .post(
            "/v1/me/mfa/disable",
            Some(&a.access),
            json!({"recovery_code": fresh[0]}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.rows("totp_factors", "").await, 0);
    assert_eq!(app.rows("recovery_codes", "").await, 0);
    assert_eq!(app.rows("audit_events", "action = 'mfa.disabled'").await, 1);
    assert_eq!(
        app.rows("audit_events", "action = 'mfa.recovery_codes_regenerated'")
            .await,
        1
    );
    // The password alone signs in again.
    app.login(&a.email, &a.password).await;
    app.post(
        "/v1/me/mfa/disable",
        Some(&a.access),
        json!({"code": auth.code(&app, 0)}),
    )
    .await
    .assert_problem(409, "mfa_not_enabled");
}

async fn an_api_key_cannot_manage_mfa_and_the_operator_can_remove_it(app: TestApp) {
    let a = app.signup("mfa-key@example.com", "Key").await;
    let (_, key) = app.api_key(&a.access, json!({"name": "ci"})).await;
    app.post("/v1/me/mfa/totp", Some(&key), json!({}))
        .await
        .assert_problem(403, "session_required");
    assert_eq!(app.rows("totp_factors", "").await, 0);
    assert_eq!(app.get("/v1/me/mfa", &key).await.body["enabled"], false);
    enable_mfa(&app, &a).await;
    assert_eq!(app.get("/v1/me/mfa", &key).await.body["enabled"], true);

    app.state
        .core
        .operator_disable_mfa(&a.email, &Default::default())
        .await
        .expect("disable");
    assert_eq!(app.rows("totp_factors", "").await, 0);
    assert_eq!(app.rows("recovery_codes", "").await, 0);
    assert_eq!(
        app.rows(
            "audit_events",
            "action = 'mfa.disabled' AND actor_id IS NULL"
        )
        .await,
        1
    );
    app.login(&a.email, &a.password).await;
}
