//! An endpoint's own delivery settings are honoured: `max_retries` makes a dead letter after
//! that many retries (and a redelivery closes it), `rate_limit_per_minute` caps the attempts
//! started in each minute without losing or repeating any event, and `timeout_seconds` bounds
//! each attempt. Out-of-range settings are refused and change nothing.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{
    helpers::{Account, TestApp},
    on_both_databases,
    receiver::{loopback_allowed, Receiver},
};

on_both_databases!(
    max_retries_makes_a_dead_letter_after_that_many_retries_and_a_redelivery_closes_it,
    a_rate_limit_caps_the_attempts_per_minute_and_every_event_still_arrives_once,
    an_endpoint_timeout_bounds_each_attempt,
    out_of_range_settings_are_refused_and_null_returns_a_setting_to_its_default,
);

/// An owner, their workspace, a viewer to change roles of, and an endpoint at `rx` hearing role
/// changes and tests with `settings` merged in (owner, ws, member, endpoint id).
async fn hooked(
    app: &TestApp,
    rx: &Receiver,
    tag: &str,
    settings: Value,
) -> (Account, String, Account, String) {
    let owner = app
        .signup(&format!("{tag}-owner@example.com"), "Owner")
        .await;
    let ws = app.workspace(&owner.access, tag).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let member = app
        .signup(&format!("{tag}-member@example.com"), "Member")
        .await;
    app.add(&owner.access, &ws, &member, "viewer").await;
    let mut body =
        json!({"url": rx.url("/"), "event_types": ["member.role_changed", "webhook.test"]});
    if let (Some(b), Some(s)) = (body.as_object_mut(), settings.as_object()) {
        b.extend(s.clone());
    }
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/webhooks"),
            Some(&owner.access),
            body,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    rx.trust(&[r.body["secret"].as_str().expect("secret")]);
    (
        owner,
        ws,
        member,
        r.body["id"].as_str().expect("id").to_owned(),
    )
}

async fn max_retries_makes_a_dead_letter_after_that_many_retries_and_a_redelivery_closes_it(
    base: TestApp,
) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    rx.answer(500);
    let (owner, ws, _, id) = hooked(&app, &rx, "retries", json!({"max_retries": 1})).await;
    assert_eq!(
        app.get(&format!("/v1/workspaces/{ws}/webhooks/{id}"), &owner.access)
            .await
            .body["max_retries"],
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
    let event = r.body["event_id"].as_str().expect("event").to_owned();

    // The first attempt fails and one retry is left; the retry fails and it is a dead letter.
    let first = app.deliver_webhooks().await;
    assert_eq!((first.failed, first.dead), (1, 0), "{first:?}");
    app.clock.advance(Duration::from_secs(30));
    let second = app.deliver_webhooks().await;
    assert_eq!((second.failed, second.dead), (0, 1), "{second:?}");
    assert_eq!(rx.received().len(), 2, "two attempts, no third");
    let d = app
        .get(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/deliveries/{event}"),
            &owner.access,
        )
        .await;
    assert_eq!(
        (d.body["status"].as_str(), d.body["attempts"].as_i64()),
        (Some("failed"), Some(2))
    );
    assert_eq!(
        app.rows(
            "webhook_dead_letters",
            "requeued_at IS NULL AND attempts = 2"
        )
        .await,
        1
    );
    // Past the next retry of the schedule (within the receiver's five minutes of tolerance).
    app.clock.advance(Duration::from_secs(200));
    assert_eq!(
        app.deliver_webhooks().await.failed,
        0,
        "a dead letter is not retried"
    );

    // Redelivering starts its retries afresh and closes the dead letter.
    rx.answer(200);
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/deliveries/{event}/redeliver"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["attempts"].as_i64()),
        (202, Some(0)),
        "{}",
        r.text
    );
    assert_eq!(
        app.rows("webhook_dead_letters", "requeued_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        app.rows("webhook_dead_letters", "requeued_at IS NULL")
            .await,
        0
    );
    assert_eq!(app.deliver_webhooks().await.delivered, 1);
    assert_eq!(
        app.rows(
            "webhook_deliveries",
            "attempts = 1 AND earlier_attempts = 2"
        )
        .await,
        1,
        "the earlier attempts still count"
    );
    let received = rx.received();
    assert_eq!(received.len(), 3);
    assert!(received
        .iter()
        .all(|r| r["webhook_id"] == event.as_str() && r["verified"] == true));
}

async fn a_rate_limit_caps_the_attempts_per_minute_and_every_event_still_arrives_once(
    base: TestApp,
) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    let (owner, ws, member, _) =
        hooked(&app, &rx, "ratelimit", json!({"rate_limit_per_minute": 3})).await;
    for i in 0..7 {
        let role = if i % 2 == 0 { "editor" } else { "viewer" };
        app.set_role(&owner.access, &ws, &member.id, role).await;
    }
    // Three go in the first minute; the rest wait for the next window, unattempted.
    assert_eq!(app.deliver_webhooks().await.delivered, 3);
    assert_eq!(
        app.deliver_webhooks().await.delivered,
        0,
        "the window is full"
    );
    assert_eq!(
        app.rows("webhook_deliveries", "status = 'pending' AND attempts = 0")
            .await,
        4
    );
    app.clock.advance(Duration::from_secs(30));
    assert_eq!(
        app.deliver_webhooks().await.delivered,
        0,
        "still the same minute"
    );
    app.clock.advance(Duration::from_secs(31));
    assert_eq!(app.deliver_webhooks().await.delivered, 3);
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(app.deliver_webhooks().await.delivered, 1);
    let received = rx.received();
    let mut ids: Vec<&str> = received
        .iter()
        .map(|r| r["webhook_id"].as_str().expect("id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((received.len(), ids.len()), (7, 7), "each event once");
    assert_eq!(
        app.rows(
            "webhook_deliveries",
            "status = 'delivered' AND attempts = 1"
        )
        .await,
        7
    );
}

async fn an_endpoint_timeout_bounds_each_attempt(base: TestApp) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    rx.slow(3.0);
    let (owner, ws, _, id) = hooked(&app, &rx, "timeout", json!({"timeout_seconds": 1})).await;
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/test"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let event = r.body["event_id"].as_str().expect("event").to_owned();
    let started = std::time::Instant::now();
    let round = app.deliver_webhooks().await;
    assert_eq!(round.failed, 1, "{round:?}");
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "cut off by the 1 s timeout"
    );
    let d = app
        .get(
            &format!("/v1/workspaces/{ws}/webhooks/{id}/deliveries/{event}"),
            &owner.access,
        )
        .await;
    assert_eq!(d.body["status"], "pending");
    assert!(
        d.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out")),
        "{}",
        d.text
    );
    rx.slow(0.0);
}

async fn out_of_range_settings_are_refused_and_null_returns_a_setting_to_its_default(
    base: TestApp,
) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    let (owner, ws, _, id) = hooked(
        &app,
        &rx,
        "bounds",
        json!({"timeout_seconds": 5, "rate_limit_per_minute": 10, "name": "Billing"}),
    )
    .await;
    let path = format!("/v1/workspaces/{ws}/webhooks/{id}");
    for bad in [
        json!({"max_retries": -1}),
        json!({"max_retries": 101}),
        json!({"timeout_seconds": 0}),
        json!({"timeout_seconds": 301}),
        json!({"rate_limit_per_minute": 0}),
        json!({"name": "x".repeat(256)}),
    ] {
        let r = app
            .call("PATCH", &path, Some(&owner.access), Some(bad.clone()))
            .await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/webhooks"),
            Some(&owner.access),
            json!({"url": rx.url("/"), "timeout_seconds": 1000}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        app.rows("webhook_endpoints", "1 = 1").await,
        1,
        "nothing was created"
    );
    let unchanged = app.get(&path, &owner.access).await;
    assert_eq!(
        (
            unchanged.body["name"].as_str(),
            unchanged.body["timeout_seconds"].as_i64(),
            unchanged.body["rate_limit_per_minute"].as_i64(),
            unchanged.body["dialect"].as_str(),
        ),
        (Some("Billing"), Some(5), Some(10), Some("native"))
    );
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&owner.access),
            Some(json!({"timeout_seconds": null, "max_retries": 4})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["timeout_seconds"], Value::Null);
    assert_eq!(
        (
            r.body["max_retries"].as_i64(),
            r.body["rate_limit_per_minute"].as_i64()
        ),
        (Some(4), Some(10))
    );
}
