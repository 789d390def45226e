//! Never zero owners: two owners demoting or removing each other (or themselves) at the same
//! instant, 200 times each, leave no workspace without an owner.

use futures::{stream, StreamExt};
use serde_json::json;

use crate::{helpers::TestApp, on_both_databases};

const TRIES: usize = 200;

on_both_databases!(
    two_owners_demoting_each_other_at_once_never_leave_a_workspace_ownerless,
    two_owners_removing_each_other_at_once_never_leave_a_workspace_ownerless,
    two_owners_demoting_themselves_at_once_never_leave_a_workspace_ownerless,
);

#[derive(Clone, Copy)]
enum Race {
    DemoteEachOther,
    RemoveEachOther,
    DemoteThemselves,
}

async fn race(app: &TestApp, kind: Race) {
    let a = app.signup("first@example.com", "First").await;
    let b = app.signup("second@example.com", "Second").await;
    let outcomes = stream::iter(0..TRIES)
        .map(|i| {
            let (a, b) = (a.clone(), b.clone());
            async move {
                let ws = app.workspace(&a.access, &format!("Race {i}")).await;
                let id = ws["id"].as_str().expect("id").to_owned();
                app.add(&a.access, &id, &b, "owner").await;
                let member = |actor: &str, target: &str| {
                    (
                        actor.to_owned(),
                        format!("/v1/workspaces/{id}/members/{target}"),
                    )
                };
                let ((ta, pa), (tb, pb)) = match kind {
                    Race::DemoteEachOther | Race::RemoveEachOther => {
                        (member(&a.access, &b.id), member(&b.access, &a.id))
                    }
                    Race::DemoteThemselves => (member(&a.access, &a.id), member(&b.access, &b.id)),
                };
                let (method, body) = match kind {
                    Race::RemoveEachOther => ("DELETE", None),
                    _ => ("PATCH", Some(json!({"role": "admin"}))),
                };
                let (ra, rb) = tokio::join!(
                    app.call(method, &pa, Some(&ta), body.clone()),
                    app.call(method, &pb, Some(&tb), body.clone()),
                );
                let ok = |s: u16| s == 200 || s == 204;
                for r in [&ra, &rb] {
                    assert!(
                        ok(r.status) || [403, 404, 409].contains(&r.status),
                        "unexpected answer: {} {}",
                        r.status,
                        r.text
                    );
                }
                (ok(ra.status) as u32) + (ok(rb.status) as u32)
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<u32>>()
        .await;
    assert_eq!(outcomes.len(), TRIES);
    assert!(
        outcomes.iter().all(|&n| n <= 1),
        "both changes of a pair succeeded"
    );
    assert!(
        outcomes.iter().all(|&n| n == 1),
        "neither change of a pair succeeded"
    );
    let ownerless = app
        .rows(
            "workspaces w",
            "NOT EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = w.id AND m.role = 'owner')",
        )
        .await;
    assert_eq!(ownerless, 0, "workspaces left without an owner");
    assert_eq!(
        app.rows("workspaces", "NOT is_personal").await,
        TRIES as i64
    );
    assert_eq!(
        app.rows("memberships", "role = 'owner'").await,
        2 + TRIES as i64,
        "exactly one owner per raced workspace, plus the two personal ones"
    );
}

async fn two_owners_demoting_each_other_at_once_never_leave_a_workspace_ownerless(app: TestApp) {
    race(&app, Race::DemoteEachOther).await;
}

async fn two_owners_removing_each_other_at_once_never_leave_a_workspace_ownerless(app: TestApp) {
    race(&app, Race::RemoveEachOther).await;
}

async fn two_owners_demoting_themselves_at_once_never_leave_a_workspace_ownerless(app: TestApp) {
    race(&app, Race::DemoteThemselves).await;
}
