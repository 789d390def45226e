//! Ownership transfers under races: the target accepting while another owner demotes or
//! removes the proposer and proposes a second transfer, 100 rounds. Never zero owners, at most
//! one pending and one accepted transfer per workspace, and the roles match the answers.

use futures::{stream, StreamExt};
use serde_json::json;

use crate::{
    helpers::{Account, TestApp},
    on_both_databases,
};

const ROUNDS: usize = 100;

on_both_databases!(
    accepting_while_the_proposer_is_demoted_or_removed_and_a_second_transfer_is_proposed_stays_consistent,
);

/// What one round's three requests answered.
struct Round {
    ws: String,
    removed: bool,
    accept: u16,
    change: u16,
    second: u16,
}

async fn round(app: &TestApp, i: usize, people: &[Account; 4]) -> Round {
    let [a, b, t, u] = people;
    let ws = app.workspace(&a.access, &format!("Handover {i}")).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.add(&a.access, &ws, b, "owner").await;
    app.add(&a.access, &ws, t, "editor").await;
    app.add(&a.access, &ws, u, "viewer").await;
    let transfer = format!("/v1/workspaces/{ws}/ownership-transfer");
    let r = app
        .post(&transfer, Some(&a.access), json!({"user_id": t.id}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let removed = i % 2 == 1;
    let member = format!("/v1/workspaces/{ws}/members/{}", a.id);
    let accept_path = format!("{transfer}/accept");
    let (accept, change, second) = tokio::join!(
        app.post(&accept_path, Some(&t.access), json!({})),
        async {
            if removed {
                app.call("DELETE", &member, Some(&b.access), None).await
            } else {
                app.call(
                    "PATCH",
                    &member,
                    Some(&b.access),
                    Some(json!({"role": "admin"})),
                )
                .await
            }
        },
        app.post(&transfer, Some(&b.access), json!({"user_id": u.id})),
    );
    assert!(
        [200, 404, 409].contains(&accept.status),
        "accept: {} {}",
        accept.status,
        accept.text
    );
    if accept.status != 200 {
        let code = accept.body["code"].as_str().unwrap_or_default();
        assert!(
            ["transfer_stale", "no_pending_transfer"].contains(&code),
            "accept refused with {}",
            accept.text
        );
    }
    let changed = if removed { 204 } else { 200 };
    assert_eq!(change.status, changed, "demote or remove: {}", change.text);
    assert!(
        second.status == 201 || (second.status == 409 && second.body["code"] == "transfer_pending"),
        "second proposal: {} {}",
        second.status,
        second.text
    );
    Round {
        ws,
        removed,
        accept: accept.status,
        change: change.status,
        second: second.status,
    }
}

async fn count(app: &TestApp, sql: &str, ws: &str) -> i64 {
    app.raw
        .count_with(sql, uuid::Uuid::parse_str(ws).expect("ws"))
        .await
}

async fn accepting_while_the_proposer_is_demoted_or_removed_and_a_second_transfer_is_proposed_stays_consistent(
    app: TestApp,
) {
    let people = [
        app.signup("proposer@example.com", "Proposer").await,
        app.signup("other-owner@example.com", "Other Owner").await,
        app.signup("target@example.com", "Target").await,
        app.signup("second@example.com", "Second").await,
    ];
    let rounds = stream::iter(0..ROUNDS)
        .map(|i| round(&app, i, &people))
        .buffer_unordered(4)
        .collect::<Vec<Round>>()
        .await;
    assert_eq!(rounds.len(), ROUNDS);
    let [a, b, t, u] = &people;
    let (mut accepted, mut seconds) = (0, 0);
    for r in &rounds {
        let owners = count(
            &app,
            "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
            &r.ws,
        )
        .await;
        assert!(owners >= 1, "a workspace without an owner");
        let transfers = |status: &str| {
            format!(
                "SELECT COUNT(*) FROM ownership_transfers WHERE workspace_id = $1 \
                 AND status = '{status}'"
            )
        };
        let n_accepted = count(&app, &transfers("accepted"), &r.ws).await;
        let n_pending = count(&app, &transfers("pending"), &r.ws).await;
        assert!(n_accepted <= 1, "two accepted transfers in one workspace");
        assert!(n_pending <= 1, "two pending transfers in one workspace");
        assert_eq!(n_accepted, i64::from(r.accept == 200));
        assert_eq!(n_pending, i64::from(r.second == 201));

        let t_role = app.role_in_db(&r.ws, &t.id).await;
        let a_role = app.role_in_db(&r.ws, &a.id).await;
        let b_role = app.role_in_db(&r.ws, &b.id).await;
        assert_eq!(b_role.as_deref(), Some("owner"));
        assert_eq!(
            app.role_in_db(&r.ws, &u.id).await.as_deref(),
            Some("viewer")
        );
        if r.accept == 200 {
            assert_eq!(t_role.as_deref(), Some("owner"), "accepted, so owner");
            assert_eq!(owners, 2, "the other owner and the new one");
            accepted += 1;
        } else {
            assert_eq!(t_role.as_deref(), Some("editor"), "refused, so unchanged");
            assert_eq!(owners, 1, "only the other owner");
        }
        // The order the workspace's audit chain records: an accept that won came before the
        // demotion (which then changed nothing) or before the removal; one that lost came after.
        let accept_first = if r.removed {
            "SELECT COUNT(*) FROM audit_events x JOIN audit_events y \
             ON y.workspace_id = x.workspace_id WHERE x.workspace_id = $1 \
             AND x.action = 'workspace.ownership_transferred' AND y.action = 'member.removed' \
             AND x.seq < y.seq"
        } else {
            "SELECT COUNT(*) FROM audit_events WHERE workspace_id = $1 \
             AND action = 'workspace.ownership_transferred' AND NOT EXISTS (SELECT 1 \
             FROM audit_events y WHERE y.workspace_id = $1 AND y.action = 'member.role_changed')"
        };
        assert_eq!(
            count(&app, accept_first, &r.ws).await,
            i64::from(r.accept == 200),
            "the accept answered {} against the order of the changes",
            r.accept
        );
        let expected_a = if r.removed { None } else { Some("admin") };
        assert_eq!(
            a_role.as_deref(),
            expected_a,
            "change answered {}",
            r.change
        );
        seconds += usize::from(r.second == 201);
    }
    // Both orders happen at least sometimes on a busy machine, but neither is promised; what is
    // promised is checked above, round by round.
    eprintln!("{accepted} of {ROUNDS} accepts won; {seconds} second proposals were taken");
}
