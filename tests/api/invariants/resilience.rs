//! Abandoned requests: a client that hangs up mid-write must not leave a transaction (and on
//! SQLite, the write lock) behind; later writes keep working.

use std::time::Duration;

use futures::{stream, StreamExt};
use serde_json::json;

use crate::{helpers::TestApp, on_both_databases};

on_both_databases!(writes_keep_working_after_clients_hang_up_mid_write);

async fn writes_keep_working_after_clients_hang_up_mid_write(app: TestApp) {
    let owner = app.signup("steady@example.com", "Steady").await;
    let ws = app.workspace(&owner.access, "Steady").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    let mut targets = Vec::new();
    for i in 0..4 {
        let t = app.signup(&format!("t{i}@example.com"), "T").await;
        app.add(&owner.access, &id, &t, "editor").await;
        targets.push(t.id);
    }
    // 1,500 role changes whose clients give up after a few hundred microseconds, so that many
    // are dropped at every point of their transaction.
    let impatient: Vec<reqwest::Client> = (1..=6)
        .map(|n| {
            reqwest::Client::builder()
                .timeout(Duration::from_micros(250 * n))
                .build()
                .expect("client")
        })
        .collect();
    stream::iter(0..1500)
        .for_each_concurrent(32, |i| {
            let client = &impatient[i % impatient.len()];
            let url = app.url(&format!(
                "/v1/workspaces/{id}/members/{}",
                targets[i % targets.len()]
            ));
            let role = if i % 2 == 0 { "viewer" } else { "editor" };
            let token = owner.access.clone();
            async move {
                let _ = client
                    .patch(url)
                    .bearer_auth(token)
                    .json(&json!({"role": role}))
                    .send()
                    .await;
            }
        })
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Every later write still goes through, promptly (not after the 5 s busy timeout).
    for (n, target) in targets.iter().enumerate() {
        let started = std::time::Instant::now();
        let r = app
            .call(
                "PATCH",
                &format!("/v1/workspaces/{id}/members/{target}"),
                Some(&owner.access),
                Some(json!({"role": "admin"})),
            )
            .await;
        assert_eq!(
            r.status, 200,
            "write {n} after the abandoned ones: {}",
            r.text
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "write {n} waited {:?}",
            started.elapsed()
        );
    }
    assert_eq!(app.rows("memberships", "role = 'admin'").await, 4);
    let r = app
        .post(
            &format!("/v1/workspaces/{id}/invitations"),
            Some(&owner.access),
            json!({"email": "after@example.com", "role": "viewer"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}
