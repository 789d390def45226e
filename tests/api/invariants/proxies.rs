//! The client address behind a load balancer: `X-Forwarded-For` names the client only when the
//! TCP peer is a trusted proxy, so audit IPs, session IPs and per-IP budgets cannot be spoofed.

use serde_json::json;

use crate::{
    helpers::{Resp, TestApp, PASSWORD, SF},
    on_both_databases,
};

on_both_databases!(
    a_forwarded_for_header_from_an_untrusted_peer_is_ignored,
    behind_a_trusted_proxy_the_forwarded_client_is_the_client,
    a_malformed_forwarded_for_header_from_a_trusted_proxy_is_ignored_and_never_fails,
);

/// A SpatialFlow sign-up (budget: 10 an hour per client IP) sent with these headers.
async fn sf_signup(app: &TestApp, email: &str, forwarded: &[&[u8]]) -> Resp {
    let mut req = app
        .client
        .post(app.url(&format!("{SF}/public/signup")))
        .json(&json!({"email": email, "password": PASSWORD, "name": "Proxied"}));
    for value in forwarded {
        req = req.header(
            "x-forwarded-for",
            reqwest::header::HeaderValue::from_bytes(value).expect("header"),
        );
    }
    app.send(req).await
}

/// The address `/v1/me/sessions` shows for the session a sign-up answer started.
async fn session_ip(app: &TestApp, signup: &Resp) -> String {
    let token = signup.body["access_token"].as_str().expect("token");
    let listed = app.get("/v1/me/sessions", token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    listed.body["data"][0]["ip"]
        .as_str()
        .expect("a session with an ip")
        .to_owned()
}

async fn a_forwarded_for_header_from_an_untrusted_peer_is_ignored(app: TestApp) {
    // Every attempt claims another address; the budget is still the peer's.
    let first = sf_signup(&app, "u0@example.com", &[b"198.51.100.200"]).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(session_ip(&app, &first).await, "127.0.0.1");
    for i in 1..10 {
        let spoofed = format!("198.51.100.{i}");
        let r = sf_signup(&app, &format!("u{i}@example.com"), &[spoofed.as_bytes()]).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = sf_signup(&app, "u10@example.com", &[b"203.0.113.99"]).await;
    assert_eq!(
        r.status, 429,
        "a spoofed header escaped the per-IP budget: {}",
        r.text
    );

    assert_eq!(app.rows("sessions", "ip = '127.0.0.1'").await, 10);
    assert_eq!(app.rows("sessions", "ip LIKE '198.51.100.%'").await, 0);
    assert_eq!(app.rows("audit_events", "ip LIKE '198.51.100.%'").await, 0);
    assert!(app.rows("audit_events", "ip = '127.0.0.1'").await >= 10);
}

async fn behind_a_trusted_proxy_the_forwarded_client_is_the_client(app: TestApp) {
    let proxied = app
        .another_on_same_database(|s| s.trusted_proxies = Some(vec!["127.0.0.0/8".into()]))
        .await;
    // The client's own header comes first; the proxy appends the address it saw.
    let r = sf_signup(
        &proxied,
        "behind@example.com",
        &[b"6.6.6.6", b"198.51.100.7"],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(session_ip(&proxied, &r).await, "198.51.100.7");
    assert_eq!(proxied.rows("sessions", "ip = '198.51.100.7'").await, 1);
    assert!(proxied.rows("audit_events", "ip = '198.51.100.7'").await >= 1);
    assert_eq!(proxied.rows("audit_events", "ip = '6.6.6.6'").await, 0);

    // The budget is the forwarded client's: ten sign-ups from one, then a refusal for it
    // alone, while another client behind the same proxy still signs up.
    for i in 1..10 {
        let r = sf_signup(
            &proxied,
            &format!("same{i}@example.com"),
            &[b"198.51.100.7"],
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = sf_signup(&proxied, "same10@example.com", &[b"198.51.100.7"]).await;
    assert_eq!(r.status, 429, "{}", r.text);
    let r = sf_signup(&proxied, "other@example.com", &[b"198.51.100.8"]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // The untrusting instance on the same database ignores the same header: its peer's budget
    // is untouched by the forwarded clients above.
    let r = sf_signup(&app, "direct@example.com", &[b"198.51.100.7"]).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn a_malformed_forwarded_for_header_from_a_trusted_proxy_is_ignored_and_never_fails(
    app: TestApp,
) {
    let proxied = app
        .another_on_same_database(|s| s.trusted_proxies = Some(vec!["127.0.0.1/32".into()]))
        .await;
    let malformed: [&[u8]; 6] = [
        b"not-an-address",
        b"198.51.100.7, garbage",
        b"999.0.0.1",
        b"198.51.100.7\xff",
        b",,,",
        b"",
    ];
    for (i, bad) in malformed.iter().enumerate() {
        let r = sf_signup(&proxied, &format!("bad{i}@example.com"), &[bad]).await;
        assert_eq!(r.status, 201, "{bad:?}: {}", r.text);
        // The native surface reads the address with the same function: a failed sign-in
        // answers its usual 401.
        let r = proxied
            .send(
                proxied
                    .client
                    .post(proxied.url("/v1/auth/login"))
                    .header(
                        "x-forwarded-for",
                        reqwest::header::HeaderValue::from_bytes(bad).expect("header"),
                    )
                    .json(&json!({"email": "nobody@example.com", "password": "wrong password"})),
            )
            .await;
        assert_eq!(r.status, 401, "{bad:?}: {}", r.text);
    }
    let long = vec!["198.51.100.7"; 100].join(", ");
    let r = sf_signup(&proxied, "long@example.com", &[long.as_bytes()]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(proxied.rows("sessions", "ip = '127.0.0.1'").await, 7);
    assert_eq!(proxied.rows("sessions", "ip <> '127.0.0.1'").await, 0);
}
