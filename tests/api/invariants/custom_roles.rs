//! Custom roles under pressure: a permission taken from a role is refused to every holder on
//! the very next request on another replica, and 200 escalation attempts racing legitimate
//! edits never give anyone more than the person granting holds.

use futures::{stream, StreamExt};
use serde_json::json;
use uuid::Uuid;

use crate::{
    helpers::{Raw, TestApp},
    on_both_databases,
};

on_both_databases!(
    taking_a_permission_from_a_role_refuses_its_holders_on_another_replica_at_once,
    escalation_attempts_racing_legitimate_edits_never_escalate,
);

const TRIES: usize = 200;

/// A UUID as a literal of the backend's SQL.
fn literal(app: &TestApp, id: &str) -> String {
    let id = Uuid::parse_str(id).expect("uuid");
    match app.raw {
        Raw::Sqlite(_) => format!("x'{}'", id.simple()),
        Raw::Postgres(_) => format!("'{id}'"),
    }
}

async fn taking_a_permission_from_a_role_refuses_its_holders_on_another_replica_at_once(
    app: TestApp,
) {
    let other = app.another_on_same_database(|_| {}).await;
    let owner = app.signup("replica-owner@example.com", "Owner").await;
    let holders = [
        app.signup("replica-a@example.com", "A").await,
        app.signup("replica-b@example.com", "B").await,
    ];
    let ws = app.workspace(&owner.access, "Replicated roles").await;
    let ws = ws["id"].as_str().expect("id").to_owned();
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/roles"),
            Some(&owner.access),
            json!({"key": "reader", "name": "Reader", "base_role": "viewer",
                   "permissions": ["members:list", "audit:read"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    for h in &holders {
        app.add(&owner.access, &ws, h, "reader").await;
    }
    let audit = format!("/v1/workspaces/{ws}/audit-events");
    for round in 0..10 {
        for h in &holders {
            let r = other.get(&audit, &h.access).await;
            assert_eq!(r.status, 200, "round {round}: before: {}", r.text);
        }
        let r = app
            .call(
                "PATCH",
                &format!("/v1/workspaces/{ws}/roles/reader"),
                Some(&owner.access),
                Some(json!({"permissions": ["members:list"]})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        for h in &holders {
            let r = other.get(&audit, &h.access).await;
            r.assert_problem(403, "insufficient_role");
            let still = other
                .get(&format!("/v1/workspaces/{ws}/members"), &h.access)
                .await;
            assert_eq!(still.status, 200, "what the role keeps still works");
        }
        let r = app
            .call(
                "PATCH",
                &format!("/v1/workspaces/{ws}/roles/reader"),
                Some(&owner.access),
                Some(json!({"permissions": ["members:list", "audit:read"]})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

async fn escalation_attempts_racing_legitimate_edits_never_escalate(app: TestApp) {
    let owner = app.signup("race-owner@example.com", "Owner").await;
    let attacker = app.signup("race-attacker@example.com", "Attacker").await;
    let ws = app.workspace(&owner.access, "Escalation race").await;
    let ws = ws["id"].as_str().expect("id").to_owned();
    let roles = format!("/v1/workspaces/{ws}/roles");
    let make = |key: &str, perms: serde_json::Value| json!({"key": key, "name": key, "base_role": "viewer", "permissions": perms});
    let r = app
        .post(
            &roles,
            Some(&owner.access),
            make(
                "manager",
                json!([
                    "roles:manage",
                    "members:manage",
                    "members:list",
                    "members:read",
                    "workspace:read"
                ]),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            &roles,
            Some(&owner.access),
            make("auditor", json!(["members:read"])),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let auditor_id = r.body["id"].as_str().expect("id").to_owned();
    app.add(&owner.access, &ws, &attacker, "manager").await;
    let r = app
        .post(
            &roles,
            Some(&attacker.access),
            make("plain", json!(["members:read"])),
        )
        .await;
    assert_eq!(
        r.status, 201,
        "the attacker may make a role within their own: {}",
        r.text
    );
    let mut targets = Vec::new();
    for i in 0..8 {
        let t = app
            .signup(&format!("race-target{i}@example.com"), "Target")
            .await;
        app.add(&owner.access, &ws, &t, "viewer").await;
        targets.push(t);
    }
    // The owner toggles audit:read on `auditor` while the attacker, who lacks it, tries to
    // create, change and grant roles carrying it.
    let outcomes: Vec<(usize, u16)> = stream::iter(0..TRIES)
        .map(|i| {
            let (app, owner, attacker, targets, roles, ws) =
                (&app, &owner, &attacker, &targets, &roles, &ws);
            async move {
                let r = match i % 5 {
                    0 => {
                        let perms = if i % 10 == 0 {
                            json!(["members:read", "audit:read"])
                        } else {
                            json!(["members:read"])
                        };
                        app.call(
                            "PATCH",
                            &format!("{roles}/auditor"),
                            Some(&owner.access),
                            Some(json!({"permissions": perms})),
                        )
                        .await
                    }
                    1 => {
                        app.post(
                            roles,
                            Some(&attacker.access),
                            make(&format!("esc{i}"), json!(["audit:read"])),
                        )
                        .await
                    }
                    2 => {
                        app.call(
                            "PATCH",
                            &format!("{roles}/plain"),
                            Some(&attacker.access),
                            Some(json!({"permissions": ["members:read", "audit:read"]})),
                        )
                        .await
                    }
                    3 => {
                        app.call(
                            "PATCH",
                            &format!("{roles}/auditor"),
                            Some(&attacker.access),
                            Some(json!({"name": format!("Auditor {i}")})),
                        )
                        .await
                    }
                    _ => {
                        let t = &targets[i % targets.len()];
                        app.call(
                            "PATCH",
                            &format!("/v1/workspaces/{ws}/members/{}", t.id),
                            Some(&attacker.access),
                            Some(json!({"role": "auditor"})),
                        )
                        .await
                    }
                };
                assert!(
                    [200, 201, 403].contains(&r.status),
                    "try {i}: {} {}",
                    r.status,
                    r.text
                );
                (i % 5, r.status)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let count = |kind: usize, ok: bool| {
        outcomes
            .iter()
            .filter(|(k, s)| *k == kind && (*s != 403) == ok)
            .count()
    };
    assert_eq!(count(1, true), 0, "no role carrying audit:read was created");
    assert_eq!(count(2, true), 0, "no role was changed to carry audit:read");
    assert_eq!(count(0, false), 0, "the owner's edits all went through");
    let w = literal(&app, &ws);
    let a = literal(&app, &attacker.id);
    assert_eq!(
        app.rows(
            "roles",
            &format!("workspace_id = {w} AND permissions LIKE '%audit:read%' AND key <> 'auditor'")
        )
        .await,
        0
    );
    // Each change the attacker made to `auditor` or grant of it happened, in the workspace's
    // audit order, while it did not carry audit:read.
    let escalations = app
        .raw
        .count(&format!(
            "SELECT COUNT(*) FROM audit_events e WHERE e.workspace_id = {w} AND e.actor_id = {a} \
             AND ((e.action = 'role.updated' AND CAST(e.before AS TEXT) LIKE '%audit:read%') \
               OR (e.action = 'member.role_changed' AND CAST(e.after AS TEXT) LIKE '%auditor%' \
                   AND (SELECT CAST(o.after AS TEXT) FROM audit_events o \
                        WHERE o.workspace_id = {w} AND o.action = 'role.updated' \
                        AND o.target_id = '{auditor_id}' AND o.seq < e.seq \
                        ORDER BY o.seq DESC LIMIT 1) LIKE '%audit:read%'))"
        ))
        .await;
    assert_eq!(escalations, 0, "0 escalations");
    let granted = app
        .raw
        .count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE workspace_id = {w} AND actor_id = {a} \
             AND action IN ('member.role_changed', 'role.updated')"
        ))
        .await;
    let refused = outcomes.iter().filter(|(_, s)| *s == 403).count();
    println!(
        "escalation race: {TRIES} tries, {refused} refused, {granted} legitimate changes by the \
         attacker, 0 escalations"
    );
    assert!(
        refused >= TRIES / 5 * 2,
        "the always-refused kinds were refused"
    );
    assert!(
        granted > 0,
        "some legitimate changes went through: the race was real"
    );
}
