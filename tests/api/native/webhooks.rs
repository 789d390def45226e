//! Webhooks: every committed change of a workspace reaches its endpoints once, signed per
//! Standard Webhooks and verified by the `standardwebhooks` package in a real receiver; a change
//! that rolls back sends nothing; failures are retried and replayed; secrets rotate with both
//! signing for a while; the SSRF guard refuses what is not public unless allowed.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::{
    helpers::{Account, TestApp},
    on_both_databases,
    receiver::{loopback_allowed, Receiver},
};

on_both_databases!(
    every_committed_change_reaches_the_endpoint_once_signed_and_verified,
    a_change_that_rolls_back_queues_no_event,
    an_endpoint_hears_only_the_types_it_subscribed_to,
    a_failing_receiver_is_retried_and_a_redelivery_keeps_the_webhook_id,
    after_a_rotation_both_secrets_sign_and_the_new_one_is_shown_once,
    only_webhook_managers_see_endpoints_and_other_workspaces_get_404,
    private_and_loopback_urls_are_refused_unless_allowed,
    usage_passing_80_and_100_percent_of_the_allowance_is_reported_once_each,
    with_a_key_encryption_key_secrets_are_sealed_at_rest_and_still_sign,
);

async fn owned(app: &TestApp, email: &str) -> (Account, String) {
    let owner = app.signup(email, "Hook Owner").await;
    let ws = app.workspace(&owner.access, "Hooked").await;
    (owner, ws["id"].as_str().expect("id").to_owned())
}

/// Creates an endpoint; returns (id, secret).
async fn endpoint(app: &TestApp, access: &str, ws: &str, body: Value) -> (String, String) {
    let r = app
        .post(&format!("/v1/workspaces/{ws}/webhooks"), Some(access), body)
        .await;
    assert_eq!(r.status, 201, "create endpoint: {}", r.text);
    assert!(r.body["secret"]
        .as_str()
        .expect("secret")
        .starts_with("whsec_"));
    (
        r.body["id"].as_str().expect("id").to_owned(),
        r.body["secret"].as_str().expect("secret").to_owned(),
    )
}

/// How many of the received deliveries have each event type.
fn types(received: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in received {
        let t = r["body"]["type"].as_str().unwrap_or("?").to_owned();
        *out.entry(t).or_insert(0) += 1;
    }
    out
}

async fn every_committed_change_reaches_the_endpoint_once_signed_and_verified(base: TestApp) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    let (owner, ws) = owned(&app, "hooks-owner@example.com").await;
    let (id, secret) = endpoint(
        &app,
        &owner.access,
        &ws,
        json!({"url": rx.url("/roster"), "description": "all of it"}),
    )
    .await;
    rx.trust(&[&secret]);

    // One change of each kind.
    let member = app.signup("hooks-member@example.com", "Member").await;
    app.add(&owner.access, &ws, &member, "viewer").await;
    app.set_role(&owner.access, &ws, &member.id, "editor").await;
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/members/{}", member.id),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let inv = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(&owner.access),
            json!({"email": "hooks-invitee@example.com", "role": "viewer"}),
        )
        .await;
    assert_eq!(inv.status, 201, "{}", inv.text);
    let inv_id = inv.body["id"].as_str().expect("invitation id");
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/invitations/{inv_id}"),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}"),
            Some(&owner.access),
            Some(json!({"name": "Hooked, renamed"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let key = app
        .post(
            &format!("/v1/workspaces/{ws}/api-keys"),
            Some(&owner.access),
            json!({"name": "ingest", "permissions": ["usage:record"]}),
        )
        .await;
    assert_eq!(key.status, 201, "{}", key.text);
    let key_secret = key.body["secret"].as_str().expect("key secret").to_owned();
    let r = app
        .call(
            "DELETE",
            &format!(
                "/v1/workspaces/{ws}/api-keys/{}",
                key.body["id"].as_str().expect("key id")
            ),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/roles"),
            Some(&owner.access),
            json!({"key": "auditor", "name": "Auditor", "base_role": "viewer",
                   "permissions": ["workspace:read", "audit:read"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}/roles/auditor"),
            Some(&owner.access),
            Some(json!({"name": "Auditors"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // One invitation accepted by a newcomer (creating their account), one declined.
    for (email, answer) in [
        ("hooks-joiner@example.com", "accept"),
        ("hooks-decliner@example.com", "decline"),
    ] {
        let inv = app
            .post(
                &format!("/v1/workspaces/{ws}/invitations"),
                Some(&owner.access),
                json!({"email": email, "role": "viewer"}),
            )
            .await;
        assert_eq!(inv.status, 201, "{}", inv.text);
        let token = inv.body["token"].as_str().expect("token");
        let body = (answer == "accept")
            .then(|| json!({"name": "Joiner", "password": "correct horse battery staple"}))
            .unwrap_or(json!({}));
        let r = app
            .post(&format!("/v1/invitations/{token}/{answer}"), None, body)
            .await;
        assert!(r.status < 300, "{answer}: {}", r.text);
    }
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/revoke-sessions"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    // That ended the owner's session too.
    let access = app.login(&owner.email, &owner.password).await["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();

    let round = app.deliver_webhooks().await;
    let received = rx.received();
    let expected: BTreeMap<String, usize> = [
        // One added directly, one by accepting an invitation (which is also its own event).
        ("member.added", 2),
        ("member.role_changed", 1),
        ("member.removed", 1),
        ("invitation.created", 3),
        ("invitation.revoked", 1),
        ("invitation.accepted", 1),
        ("invitation.declined", 1),
        ("workspace.updated", 1),
        ("api_key.created", 1),
        ("api_key.revoked", 1),
        ("role.created", 1),
        ("role.updated", 1),
        ("sessions.revoked", 1),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_owned(), n))
    .collect();
    assert_eq!(types(&received), expected, "{received:#?}");
    assert_eq!(round.delivered, received.len());
    let mut seqs = Vec::new();
    for r in &received {
        assert!(r["verified"].as_bool().expect("verified"), "{r}");
        assert!(r["tampered_refused"].as_bool().expect("tampered"), "{r}");
        assert!(r["stale_refused"].as_bool().expect("stale"), "{r}");
        assert_eq!(r["path"], "/roster");
        assert_eq!(r["webhook_id"], r["body"]["id"]);
        assert_eq!(r["body"]["workspace_id"], ws.as_str());
        // Every change here has a signed-in actor but the decline, made with the link alone.
        assert_eq!(
            r["body"]["actor"]["user_id"].is_string(),
            r["body"]["type"] != "invitation.declined",
            "{r}"
        );
        seqs.push(r["body"]["sequence"].as_i64().expect("sequence"));
        let text = r["body"].to_string();
        assert!(
            !text.contains(&secret) && !text.contains(&key_secret),
            "a secret leaked: {text}"
        );
    }
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        seqs.len(),
        "sequence numbers are unique: {seqs:?}"
    );

    // The database agrees: every delivery delivered, with its answer's status and latency.
    let deliveries = app
        .get(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/deliveries?limit=200"),
            &access,
        )
        .await;
    assert_eq!(deliveries.status, 200, "{}", deliveries.text);
    let data = deliveries.body["data"].as_array().expect("data");
    assert_eq!(data.len(), received.len());
    for d in data {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["response_status"], 200);
        assert!(d["latency_ms"].as_i64().is_some());
        assert!(d["response_body"].as_str().expect("body").len() <= 1024);
    }
    assert_eq!(
        app.rows("webhook_deliveries", "status = 'delivered'").await,
        received.len() as i64
    );
    // Prometheus shows the outcomes and the queue.
    let metrics = app.metrics().await;
    for name in [
        "roster_webhook_deliveries_total{outcome=\"delivered\"}",
        "roster_webhook_queue_depth",
        "roster_webhook_oldest_pending_seconds",
    ] {
        assert!(metrics.contains(name), "{name} in /metrics");
    }
    // A second run sends nothing more.
    assert_eq!(
        app.deliver_webhooks().await,
        roster::webhooks::Round::default()
    );
    assert_eq!(rx.received().len(), received.len());
}

async fn a_change_that_rolls_back_queues_no_event(base: TestApp) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    let (owner, ws) = owned(&app, "rollback-owner@example.com").await;
    let (_, secret) = endpoint(&app, &owner.access, &ws, json!({"url": rx.url("/")})).await;
    rx.trust(&[&secret]);
    let events = app.rows("webhook_events", "1 = 1").await;
    // The last owner cannot demote themself: refused, rolled back, nothing queued.
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}/members/{}", owner.id),
            Some(&owner.access),
            Some(json!({"role": "admin"})),
        )
        .await;
    r.assert_problem(409, "last_owner");
    assert_eq!(app.rows("webhook_events", "1 = 1").await, events);
    assert_eq!(app.rows("webhook_deliveries", "1 = 1").await, events);
    assert_eq!(
        app.deliver_webhooks().await,
        roster::webhooks::Round::default()
    );
    assert!(rx.received().is_empty());
}

async fn an_endpoint_hears_only_the_types_it_subscribed_to(base: TestApp) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    let (owner, ws) = owned(&app, "subscribed-owner@example.com").await;
    let (_, secret) = endpoint(
        &app,
        &owner.access,
        &ws,
        json!({"url": rx.url("/roles-only"), "event_types": ["member.role_changed"]}),
    )
    .await;
    rx.trust(&[&secret]);
    let member = app.signup("subscribed-member@example.com", "Member").await;
    app.add(&owner.access, &ws, &member, "viewer").await;
    app.set_role(&owner.access, &ws, &member.id, "editor").await;
    app.deliver_webhooks().await;
    let received = rx.received();
    assert_eq!(
        types(&received),
        [("member.role_changed".to_owned(), 1)]
            .into_iter()
            .collect()
    );
    assert_eq!(received[0]["body"]["data"]["after"]["role"], "editor");
    // An unknown type is refused, with nothing created.
    let before = app.rows("webhook_endpoints", "1 = 1").await;
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/webhooks"),
            Some(&owner.access),
            json!({"url": rx.url("/"), "event_types": ["member.exploded"]}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(app.rows("webhook_endpoints", "1 = 1").await, before);
}

async fn a_failing_receiver_is_retried_and_a_redelivery_keeps_the_webhook_id(base: TestApp) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    rx.answer(503);
    let (owner, ws) = owned(&app, "failing-owner@example.com").await;
    let (id, secret) = endpoint(&app, &owner.access, &ws, json!({"url": rx.url("/")})).await;
    rx.trust(&[&secret]);
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/test"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["status"], "pending");
    let event_id = r.body["event_id"].as_str().expect("event id").to_owned();
    let round = app.deliver_webhooks().await;
    assert_eq!(round.failed, 1, "{round:?}");
    let d = app
        .get(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/deliveries/{event_id}"),
            &owner.access,
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(d.body["status"], "pending");
    assert_eq!(d.body["attempts"], 1);
    assert_eq!(d.body["response_status"], 503);
    assert!(d.body["next_attempt_at"].is_string());
    assert!(d.body["error"].as_str().expect("error").contains("503"));
    let view = app
        .get(&format!("/v1/workspaces/{ws}/webhooks/{id}"), &owner.access)
        .await;
    assert_eq!(view.body["consecutive_failures"], 1);
    // Not due yet: nothing is sent.
    assert_eq!(
        app.deliver_webhooks().await,
        roster::webhooks::Round::default()
    );
    // The receiver is back; after the backoff the retry succeeds with the same id.
    rx.answer(200);
    app.clock.advance(std::time::Duration::from_secs(60));
    assert_eq!(app.deliver_webhooks().await.delivered, 1);
    // A redelivery on request: the same webhook-id again.
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/deliveries/{event_id}/redeliver"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(app.deliver_webhooks().await.delivered, 1);
    let received = rx.received();
    assert_eq!(received.len(), 3);
    assert!(received
        .iter()
        .all(|r| r["webhook_id"] == event_id.as_str()));
    assert!(received.iter().all(|r| r["verified"] == true));
    assert_eq!(received[0]["body"]["type"], "webhook.test");
    let view = app
        .get(&format!("/v1/workspaces/{ws}/webhooks/{id}"), &owner.access)
        .await;
    assert_eq!(view.body["consecutive_failures"], 0);
    assert_eq!(
        app.rows(
            "webhook_deliveries",
            "status = 'delivered' AND attempts = 1"
        )
        .await,
        1,
        "a redelivery starts the attempts afresh"
    );
}

async fn after_a_rotation_both_secrets_sign_and_the_new_one_is_shown_once(base: TestApp) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    let (owner, ws) = owned(&app, "rotating-owner@example.com").await;
    let (id, old) = endpoint(&app, &owner.access, &ws, json!({"url": rx.url("/")})).await;
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/rotate-secret"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let new = r.body["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new, old);
    assert!(r.body["previous_secret_expires_at"].is_string());
    let read = app
        .get(&format!("/v1/workspaces/{ws}/webhooks/{id}"), &owner.access)
        .await;
    assert!(read.body.get("secret").is_none(), "{}", read.text);
    rx.trust(&[&old, &new]);
    app.post(
        &format!("/v1/workspaces/{ws}/webhooks/{id}/test"),
        Some(&owner.access),
        json!({}),
    )
    .await;
    app.deliver_webhooks().await;
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["verified_with"], json!([0, 1]), "{}", got[0]);
    assert_eq!(
        got[0]["signature"]
            .as_str()
            .expect("signature")
            .split(' ')
            .count(),
        2
    );
    // Once the grace has passed (moved into the past here: the receiver checks timestamps
    // against its own clock), only the new secret signs.
    let endpoint_id: uuid::Uuid = id.parse().expect("uuid");
    let moved = app
        .raw
        .execute_with(
            "UPDATE webhook_endpoints SET previous_until = created_at WHERE id = $1",
            endpoint_id,
        )
        .await;
    assert_eq!(moved, 1);
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/test"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    app.deliver_webhooks().await;
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1]["verified_with"], json!([1]), "{}", got[1]);
}

async fn only_webhook_managers_see_endpoints_and_other_workspaces_get_404(base: TestApp) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let (owner, ws) = owned(&app, "managed-owner@example.com").await;
    let (id, _) = endpoint(
        &app,
        &owner.access,
        &ws,
        json!({"url": "http://127.0.0.1:9/never"}),
    )
    .await;
    let viewer = app.signup("managed-viewer@example.com", "Viewer").await;
    app.add(&owner.access, &ws, &viewer, "viewer").await;
    app.get(&format!("/v1/workspaces/{ws}/webhooks"), &viewer.access)
        .await
        .assert_problem(403, "insufficient_role");
    let admin = app.signup("managed-admin@example.com", "Admin").await;
    app.add(&owner.access, &ws, &admin, "admin").await;
    let r = app
        .get(&format!("/v1/workspaces/{ws}/webhooks"), &admin.access)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["total"], 1);
    assert!(r.body["data"][0].get("secret").is_none());
    let stranger = app.signup("managed-stranger@example.com", "Stranger").await;
    app.get(
        &format!("/v1/workspaces/{ws}/webhooks/{id}"),
        &stranger.access,
    )
    .await
    .assert_problem(404, "not_found");
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/webhooks/{id}"),
            Some(&viewer.access),
            None,
        )
        .await;
    r.assert_problem(403, "insufficient_role");
    assert_eq!(app.rows("webhook_endpoints", "1 = 1").await, 1);
}

async fn private_and_loopback_urls_are_refused_unless_allowed(app: TestApp) {
    let (owner, ws) = owned(&app, "ssrf-owner@example.com").await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:9000/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ] {
        let r = app
            .post(
                &format!("/v1/workspaces/{ws}/webhooks"),
                Some(&owner.access),
                json!({"url": url}),
            )
            .await;
        r.assert_problem(422, "validation_failed");
        assert!(r.text.contains("url_not_allowed"), "{url}: {}", r.text);
    }
    assert_eq!(app.rows("webhook_endpoints", "1 = 1").await, 0);
    // A name is judged after it is resolved, at delivery: one that resolves to loopback is
    // accepted at creation and never reached.
    let rx = Receiver::start();
    let name = loopback_name();
    let (id, secret) = endpoint(
        &app,
        &owner.access,
        &ws,
        json!({"url": format!("http://{name}:{}/rebind", rx.port)}),
    )
    .await;
    rx.trust(&[&secret]);
    app.post(
        &format!("/v1/workspaces/{ws}/webhooks/{id}/test"),
        Some(&owner.access),
        json!({}),
    )
    .await;
    let round = app.deliver_webhooks().await;
    assert_eq!(round.failed, 1, "{round:?}");
    assert!(rx.received().is_empty(), "the guard let a request through");
    let d = app
        .get(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/deliveries"),
            &owner.access,
        )
        .await;
    let error = d.body["data"][0]["error"].as_str().expect("error");
    assert!(error.contains("not a public address"), "{error}");
}

/// A host name other than `localhost` that resolves to a loopback address here (from
/// /etc/hosts, else this machine's own name).
fn loopback_name() -> String {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    for line in hosts.lines() {
        let mut words = line.split_whitespace();
        let Some(addr) = words.next() else { continue };
        if addr.starts_with('#') {
            continue;
        }
        let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
            continue;
        };
        if !ip.is_loopback() {
            continue;
        }
        if let Some(name) = words.find(|n| !n.starts_with('#') && !n.contains("localhost")) {
            return name.to_owned();
        }
    }
    panic!("no host name other than localhost resolves to loopback in /etc/hosts; add one to run this test");
}

async fn usage_passing_80_and_100_percent_of_the_allowance_is_reported_once_each(base: TestApp) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    let (owner, ws) = owned(&app, "usage-owner@example.com").await;
    let (_, secret) = endpoint(
        &app,
        &owner.access,
        &ws,
        json!({"url": rx.url("/usage"), "event_types": ["usage.threshold_reached"]}),
    )
    .await;
    rx.trust(&[&secret]);
    let (_, key) = app.api_key(&owner.access, json!({"name": "meter"})).await;
    let record = |quantity: i64| {
        let app = &app;
        let key = key.clone();
        let ws = ws.clone();
        async move {
            app.post(
                &format!("/v1/workspaces/{ws}/usage/events"),
                Some(&key),
                json!({"events": [{"meter": "location_events", "quantity": quantity}]}),
            )
            .await
        }
    };
    // The free plan allows 50,000 units a month: 39,999 stays under 80 %.
    for (quantity, status) in [(39_999, 200), (1, 200), (5, 200), (9_995, 200), (1, 429)] {
        let r = record(quantity).await;
        assert_eq!(r.status, status, "{quantity}: {}", r.text);
    }
    app.deliver_webhooks().await;
    // Deliveries are sent concurrently; a receiver orders them by their sequence.
    let mut received = rx.received();
    received.sort_by_key(|r| r["body"]["sequence"].as_i64());
    let percents: Vec<i64> = received
        .iter()
        .map(|r| {
            r["body"]["data"]["after"]["percent"]
                .as_i64()
                .expect("percent")
        })
        .collect();
    assert_eq!(percents, vec![80, 100], "{received:#?}");
    assert!(received.iter().all(|r| r["verified"] == true));
    assert_eq!(received[1]["body"]["data"]["after"]["used_units"], 50_000.0);
    assert_eq!(
        app.rows("audit_events", "action = 'usage.threshold_reached'")
            .await,
        2,
        "the refused batch recorded nothing"
    );
}

async fn with_a_key_encryption_key_secrets_are_sealed_at_rest_and_still_sign(base: TestApp) {
    use base64::Engine as _;
    let kek = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let app = base
        .another_on_same_database(|s| {
            loopback_allowed(s);
            s.key_encryption_key = Some(kek.clone().into());
        })
        .await;
    let rx = Receiver::start();
    let (owner, ws) = owned(&app, "sealed-owner@example.com").await;
    let (id, secret) = endpoint(&app, &owner.access, &ws, json!({"url": rx.url("/sealed")})).await;
    rx.trust(&[&secret]);
    let endpoint_id: uuid::Uuid = id.parse().expect("uuid");
    assert_eq!(
        app.raw
            .count_with(
                "SELECT COUNT(*) FROM webhook_endpoints WHERE id = $1 AND sealed",
                endpoint_id
            )
            .await,
        1,
        "the secret is stored sealed"
    );
    // Sealed: a nonce, the 32 bytes enciphered, and a tag, not the 32 bytes themselves.
    assert_eq!(
        app.raw
            .count_with(
                "SELECT COUNT(*) FROM webhook_endpoints WHERE id = $1 AND length(secret) > 32",
                endpoint_id
            )
            .await,
        1
    );
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/test"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(app.deliver_webhooks().await.delivered, 1);
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["verified"], true, "{}", got[0]);
    // Without the key the secret cannot be opened: nothing is sent unsigned.
    let keyless = base.another_on_same_database(loopback_allowed).await;
    keyless
        .post(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/test"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    keyless.deliver_webhooks().await;
    assert_eq!(
        rx.received().len(),
        1,
        "a delivery went out without its secret"
    );
}
