//! Webhook delivery keeps its promises: nothing is lost while the receiver is down, a worker
//! that dies after claiming leaves the delivery to be sent again with the same `webhook-id`,
//! three replicas on one database send each event once, an endpoint that keeps failing is
//! disabled with its owners told and replays its backlog once enabled, and a deleted workspace
//! still reports its deletion.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::{
    helpers::{Account, TestApp},
    on_both_databases,
    receiver::{loopback_allowed, Receiver},
};

on_both_databases!(
    a_receiver_down_under_a_stream_of_changes_gets_every_event_once_it_is_back,
    a_worker_that_dies_after_claiming_leaves_the_delivery_to_be_sent_again_with_the_same_id,
    three_replicas_deliver_each_event_once_per_endpoint,
    an_endpoint_that_keeps_failing_is_disabled_its_owners_told_and_enabling_replays_the_backlog,
    a_deleted_workspace_reports_its_deletion_and_its_endpoints_are_retired,
);

/// An owner, their workspace, a member to change, and an endpoint at `rx` (owner, ws, member,
/// endpoint id).
async fn hooked(app: &TestApp, rx: &Receiver, tag: &str) -> (Account, String, Account, String) {
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
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/webhooks"),
            Some(&owner.access),
            json!({"url": rx.url("/"), "event_types": ["member.role_changed", "workspace.deleted"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    rx.trust(&[r.body["secret"].as_str().expect("secret")]);
    let id = r.body["id"].as_str().expect("id").to_owned();
    (owner, ws, member, id)
}

/// `n` role changes of `member`, the `from`-th change first: editor, viewer, editor … (the
/// member starts as a viewer, so each one changes something).
async fn flips(app: &TestApp, owner: &Account, ws: &str, member: &Account, from: usize, n: usize) {
    for i in from..from + n {
        let role = if i % 2 == 0 { "editor" } else { "viewer" };
        app.set_role(&owner.access, ws, &member.id, role).await;
    }
}

/// How many times each `webhook-id` arrived.
fn arrivals(received: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in received {
        *out.entry(r["webhook_id"].as_str().unwrap_or("?").to_owned())
            .or_insert(0) += 1;
    }
    out
}

async fn a_receiver_down_under_a_stream_of_changes_gets_every_event_once_it_is_back(base: TestApp) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let mut rx = Receiver::start();
    let (owner, ws, member, _) = hooked(&app, &rx, "down").await;
    rx.stop();
    // Changes keep coming while the receiver is down; each round finds it unreachable.
    for batch in 0..4 {
        flips(&app, &owner, &ws, &member, batch * 25, 25).await;
        let round = app.deliver_webhooks().await;
        assert_eq!(round.delivered, 0, "{round:?}");
    }
    assert_eq!(
        app.rows("webhook_deliveries", "status = 'pending' AND attempts >= 1")
            .await,
        100
    );
    rx.restart();
    // The first retries are due within seconds.
    app.clock.advance(Duration::from_secs(30));
    let round = app.deliver_webhooks().await;
    assert_eq!(round.delivered, 100, "{round:?}");
    let received = rx.received();
    let seen = arrivals(&received);
    assert_eq!(seen.len(), 100, "every event arrived");
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert!(received.iter().all(|r| r["verified"] == true));
    assert_eq!(
        app.rows("webhook_deliveries", "status = 'delivered'").await,
        100
    );
    // In the order of the workspace's sequence, when sorted by it: no gaps between them but
    // those of events the endpoint does not hear.
    let mut seqs: Vec<i64> = received
        .iter()
        .map(|r| r["body"]["sequence"].as_i64().expect("sequence"))
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 100);
}

async fn a_worker_that_dies_after_claiming_leaves_the_delivery_to_be_sent_again_with_the_same_id(
    base: TestApp,
) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    let (owner, ws, member, _) = hooked(&app, &rx, "lease").await;
    flips(&app, &owner, &ws, &member, 0, 3).await;
    // A worker with a 15 s timeout claims the three (a lease of 2 × 15 s + 5 s) and dies before
    // sending (its claim is committed, nothing else).
    let now = app.state.core.clock.now();
    let mut tx = app.state.core.store.write().await.expect("tx");
    let claimed = tx
        .claim_webhook_deliveries(now, 15, 32)
        .await
        .expect("claim");
    tx.commit().await.expect("commit");
    assert_eq!(claimed.len(), 3);
    // Leased: nobody else sends them meanwhile.
    assert_eq!(
        app.deliver_webhooks().await,
        roster::webhooks::Round::default()
    );
    assert!(rx.received().is_empty());
    // After the lease they are sent, each with its own id, once.
    app.clock.advance(Duration::from_secs(40));
    assert_eq!(app.deliver_webhooks().await.delivered, 3);
    let received = rx.received();
    let seen = arrivals(&received);
    let claimed_ids: Vec<String> = claimed.iter().map(|(e, _)| e.to_string()).collect();
    assert_eq!(seen.len(), 3);
    for id in &claimed_ids {
        assert_eq!(seen.get(id), Some(&1), "{id} in {seen:?}");
    }
    assert_eq!(
        app.rows(
            "webhook_deliveries",
            "status = 'delivered' AND attempts = 2"
        )
        .await,
        3,
        "the lost attempt is counted"
    );
}

async fn three_replicas_deliver_each_event_once_per_endpoint(base: TestApp) {
    let a = base.another_on_same_database(loopback_allowed).await;
    let b = base.another_on_same_database(loopback_allowed).await;
    let c = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    let (owner, ws, member, _) = hooked(&a, &rx, "replicas").await;
    // A second endpoint: each event goes once to each.
    let r = b
        .post(
            &format!("/v1/workspaces/{ws}/webhooks"),
            Some(&owner.access),
            json!({"url": rx.url("/second"), "event_types": ["member.role_changed"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    rx.also_trust(r.body["secret"].as_str().expect("secret"));
    flips(&a, &owner, &ws, &member, 0, 60).await;
    let (ra, rb, rc) = tokio::join!(
        a.deliver_webhooks(),
        b.deliver_webhooks(),
        c.deliver_webhooks()
    );
    assert_eq!(
        ra.delivered + rb.delivered + rc.delivered,
        120,
        "{ra:?} {rb:?} {rc:?}"
    );
    let received = rx.received();
    assert_eq!(received.len(), 120);
    let mut per_path: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for r in &received {
        *per_path
            .entry(r["path"].as_str().expect("path").to_owned())
            .or_default()
            .entry(r["webhook_id"].as_str().expect("id").to_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(per_path.len(), 2);
    for (path, ids) in &per_path {
        assert_eq!(ids.len(), 60, "{path}");
        assert!(ids.values().all(|n| *n == 1), "{path}: {ids:?}");
    }
    assert!(received.iter().all(|r| r["verified"] == true));
    assert_eq!(
        a.rows("webhook_deliveries", "status = 'delivered'").await,
        120
    );
}

async fn an_endpoint_that_keeps_failing_is_disabled_its_owners_told_and_enabling_replays_the_backlog(
    base: TestApp,
) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    rx.answer(500);
    let (owner, ws, member, id) = hooked(&app, &rx, "failing").await;
    flips(&app, &owner, &ws, &member, 0, 50).await;
    let round = app.deliver_webhooks().await;
    assert_eq!(round.failed, 50, "{round:?}");
    let view = app
        .get(&format!("/v1/workspaces/{ws}/webhooks/{id}"), &owner.access)
        .await;
    assert_eq!(
        view.body["enabled"], true,
        "fifty failures in a minute are not enough"
    );
    assert_eq!(view.body["consecutive_failures"], 50);
    // A day of failures later, the next failure disables it and tells the owners.
    app.clock.advance(Duration::from_secs(25 * 3600));
    let round = app.deliver_webhooks().await;
    assert!(round.failed >= 1, "{round:?}");
    let access = app.login(&owner.email, &owner.password).await["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let view = app
        .get(&format!("/v1/workspaces/{ws}/webhooks/{id}"), &access)
        .await;
    assert_eq!(view.body["enabled"], false, "{}", view.text);
    assert_eq!(view.body["disabled_reason"], "failing");
    assert_eq!(
        app.rows(
            "outbox",
            "recipient = 'failing-owner@example.com' AND subject LIKE '%webhook endpoint%disabled%'"
        )
        .await,
        1
    );
    assert_eq!(
        app.rows("audit_events", "action = 'webhook.disabled'")
            .await,
        1
    );
    // Disabled: nothing is attempted, whatever is due.
    let attempts_before = rx.received().len();
    app.clock.advance(Duration::from_secs(6 * 3600));
    assert_eq!(
        app.deliver_webhooks().await,
        roster::webhooks::Round::default()
    );
    assert_eq!(rx.received().len(), attempts_before);
    // Enabled again (the receiver works now): the whole backlog goes out at once.
    rx.answer(200);
    let access = app.login(&owner.email, &owner.password).await["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}/webhooks/{id}"),
            Some(&access),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["consecutive_failures"], 0);
    assert!(r.body["disabled_reason"].is_null());
    let round = app.deliver_webhooks().await;
    assert_eq!(round.delivered, 50, "{round:?}");
    assert_eq!(
        app.rows("webhook_deliveries", "status = 'delivered'").await,
        50
    );
}

async fn a_deleted_workspace_reports_its_deletion_and_its_endpoints_are_retired(base: TestApp) {
    let app = base.another_on_same_database(loopback_allowed).await;
    let rx = Receiver::start();
    let (owner, ws, _, _) = hooked(&app, &rx, "deleted").await;
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}"),
            Some(&owner.access),
            None,
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    assert_eq!(app.deliver_webhooks().await.delivered, 1);
    let received = rx.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["body"]["type"], "workspace.deleted");
    assert_eq!(received[0]["body"]["workspace_id"], ws.as_str());
    assert!(received[0]["verified"] == true);
    // Nothing is pending for it any more: the next idle round retires the endpoint.
    app.deliver_webhooks().await;
    assert_eq!(app.rows("webhook_endpoints", "").await, 0);
    assert_eq!(app.rows("webhook_events", "").await, 0);
}
