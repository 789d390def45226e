//! Custom roles and permissions: the catalogue, creating, changing and deleting roles, that a
//! role holding one permission may do exactly what needs it, and asking Roster what a member
//! may do.

use serde_json::{json, Value};

use crate::{
    helpers::{Account, TestApp},
    on_both_databases,
};

on_both_databases!(
    the_roles_list_shows_the_six_presets_then_the_custom_roles,
    a_custom_role_is_created_changed_and_deleted_with_its_audit_events,
    a_role_with_one_permission_may_do_exactly_what_needs_it,
    nobody_creates_changes_or_grants_a_role_beyond_their_own_permissions,
    a_role_still_held_is_deleted_only_with_a_replacement,
    custom_roles_are_granted_by_invitation_and_shown_as_their_base_in_the_dialects,
    the_permission_check_answers_for_the_caller_and_for_another_member,
    bad_role_and_permission_input_is_refused_and_changes_nothing,
);

/// Every Roster permission.
const PERMISSIONS: [&str; 14] = [
    "workspace:read",
    "workspace:update",
    "workspace:delete",
    "members:list",
    "members:read",
    "members:manage",
    "roles:manage",
    "invitations:manage",
    "sessions:revoke",
    "audit:read",
    "usage:read",
    "usage:record",
    "api_keys:manage",
    "webhooks:manage",
];

async fn owner_with_workspace(app: &TestApp, email: &str) -> (Account, String) {
    let owner = app.signup(email, "Owner").await;
    let ws = app.workspace(&owner.access, "Roles").await;
    (owner, ws["id"].as_str().expect("id").to_owned())
}

async fn create_role(app: &TestApp, token: &str, ws: &str, body: Value) -> crate::helpers::Resp {
    app.post(&format!("/v1/workspaces/{ws}/roles"), Some(token), body)
        .await
}

async fn role(app: &TestApp, token: &str, ws: &str, key: &str, base: &str, perms: &[&str]) {
    let r = create_role(
        app,
        token,
        ws,
        json!({"key": key, "name": key, "base_role": base, "permissions": perms}),
    )
    .await;
    assert_eq!(r.status, 201, "create role {key}: {}", r.text);
}

async fn give(app: &TestApp, token: &str, ws: &str, user: &str, role: &str) -> u16 {
    app.call(
        "PATCH",
        &format!("/v1/workspaces/{ws}/members/{user}"),
        Some(token),
        Some(json!({"role": role})),
    )
    .await
    .status
}

async fn the_roles_list_shows_the_six_presets_then_the_custom_roles(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "list-owner@example.com").await;
    role(
        &app,
        &owner.access,
        &ws,
        "support",
        "viewer",
        &["members:read"],
    )
    .await;
    let r = app
        .get(&format!("/v1/workspaces/{ws}/roles"), &owner.access)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let keys: Vec<&str> = r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| r["key"].as_str().expect("key"))
        .collect();
    assert_eq!(
        keys,
        [
            "owner",
            "admin",
            "editor",
            "field_worker",
            "viewer",
            "demo",
            "support"
        ]
    );
    let admin = &r.body["data"][1];
    assert_eq!(admin["builtin"], true);
    assert!(admin["permissions"]
        .as_array()
        .expect("perms")
        .contains(&json!("members:manage")));
    assert!(!admin["permissions"]
        .as_array()
        .expect("perms")
        .contains(&json!("workspace:delete")));
    let catalogue = app.get("/v1/permissions", &owner.access).await;
    assert_eq!(catalogue.status, 200);
    let listed: Vec<&str> = catalogue.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|p| p["key"].as_str().expect("key"))
        .collect();
    for p in PERMISSIONS {
        assert!(listed.contains(&p), "{p} in the catalogue");
    }
}

async fn a_custom_role_is_created_changed_and_deleted_with_its_audit_events(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "crud-owner@example.com").await;
    let r = create_role(
        &app,
        &owner.access,
        &ws,
        json!({"key": "billing", "name": "Billing", "description": "Reads usage",
               "base_role": "viewer", "permissions": ["usage:read", "workspace:read"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["permissions"],
        json!(["workspace:read", "usage:read"])
    );
    assert_eq!(r.body["builtin"], false);
    assert!(r
        .header("location")
        .is_some_and(|l| l.ends_with("/roles/billing")));
    let again = create_role(
        &app,
        &owner.access,
        &ws,
        json!({"key": "billing", "name": "Other", "base_role": "viewer", "permissions": []}),
    )
    .await;
    again.assert_problem(409, "role_key_taken");
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}/roles/billing"),
            Some(&owner.access),
            Some(
                json!({"name": "Billing team", "permissions": ["usage:read"], "description": null}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Billing team");
    assert_eq!(r.body["permissions"], json!(["usage:read"]));
    assert_eq!(r.body["description"], Value::Null);
    let stored = app
        .raw
        .count("SELECT COUNT(*) FROM roles WHERE key = 'billing' AND permissions = 'usage:read'")
        .await;
    assert_eq!(stored, 1);
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/roles/billing"),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.rows("roles", "1 = 1").await, 0);
    let r = app
        .get(&format!("/v1/workspaces/{ws}/roles/billing"), &owner.access)
        .await;
    r.assert_problem(404, "not_found");
    let builtin = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/roles/admin"),
            Some(&owner.access),
            None,
        )
        .await;
    builtin.assert_problem(409, "builtin_role");
    let events = app
        .raw
        .count(
            "SELECT COUNT(*) FROM audit_events WHERE action IN \
             ('role.created', 'role.updated', 'role.deleted')",
        )
        .await;
    assert_eq!(events, 3);
}

/// One operation of the table: what it needs, and the call (`ws`, a user id to act on).
struct Operation {
    needs: &'static str,
    method: &'static str,
    path: String,
    body: Option<Value>,
    ok: u16,
}

fn operations(ws: &str, owner_id: &str, target_id: &str, n: usize) -> Vec<Operation> {
    let op = |needs, method, path: String, body, ok| Operation {
        needs,
        method,
        path,
        body,
        ok,
    };
    vec![
        op(
            "workspace:read",
            "GET",
            format!("/v1/workspaces/{ws}"),
            None,
            200,
        ),
        op(
            "workspace:update",
            "PATCH",
            format!("/v1/workspaces/{ws}"),
            Some(json!({"name": format!("Renamed {n}")})),
            200,
        ),
        op(
            "members:list",
            "GET",
            format!("/v1/workspaces/{ws}/members"),
            None,
            200,
        ),
        op(
            "members:read",
            "GET",
            format!("/v1/workspaces/{ws}/members/{owner_id}"),
            None,
            200,
        ),
        op(
            "members:manage",
            "PATCH",
            format!("/v1/workspaces/{ws}/members/{target_id}"),
            Some(json!({"role": "nothing_else"})),
            200,
        ),
        op(
            "roles:manage",
            "POST",
            format!("/v1/workspaces/{ws}/roles"),
            Some(
                json!({"key": format!("made_{n}"), "name": "Made", "base_role": "demo", "permissions": []}),
            ),
            201,
        ),
        op(
            "invitations:manage",
            "POST",
            format!("/v1/workspaces/{ws}/invitations"),
            Some(
                json!({"email": format!("invitee{n}@example.com"), "role": "nothing", "send_email": false}),
            ),
            201,
        ),
        op(
            "audit:read",
            "GET",
            format!("/v1/workspaces/{ws}/audit-events"),
            None,
            200,
        ),
        op(
            "usage:read",
            "GET",
            format!("/v1/workspaces/{ws}/usage"),
            None,
            200,
        ),
        op(
            "usage:record",
            "POST",
            format!("/v1/workspaces/{ws}/usage/events"),
            Some(json!({"events": [{"meter": "location_events"}]})),
            200,
        ),
        op(
            "api_keys:manage",
            "GET",
            format!("/v1/workspaces/{ws}/api-keys"),
            None,
            200,
        ),
        op(
            "webhooks:manage",
            "GET",
            format!("/v1/workspaces/{ws}/webhooks"),
            None,
            200,
        ),
        // The two that end things come last: revoking ends every session of the workspace.
        op(
            "sessions:revoke",
            "POST",
            format!("/v1/workspaces/{ws}/revoke-sessions"),
            None,
            200,
        ),
        op(
            "workspace:delete",
            "DELETE",
            format!("/v1/workspaces/{ws}"),
            None,
            204,
        ),
    ]
}

async fn a_role_with_one_permission_may_do_exactly_what_needs_it(app: TestApp) {
    let stranger = app.signup("stranger@example.com", "Stranger").await;
    for (n, permission) in PERMISSIONS.iter().enumerate() {
        let (owner, ws) = owner_with_workspace(&app, &format!("table-owner{n}@example.com")).await;
        let member = app
            .signup(&format!("table-member{n}@example.com"), "Member")
            .await;
        let target = app
            .signup(&format!("table-target{n}@example.com"), "Target")
            .await;
        role(&app, &owner.access, &ws, "only", "viewer", &[permission]).await;
        role(&app, &owner.access, &ws, "nothing", "demo", &[]).await;
        role(&app, &owner.access, &ws, "nothing_else", "demo", &[]).await;
        app.add(&owner.access, &ws, &member, "only").await;
        app.add(&owner.access, &ws, &target, "nothing").await;
        let mut token = member.access.clone();
        let (_, key) = app.api_key(&member.access, json!({})).await;
        for op in operations(&ws, &owner.id, &target.id, n) {
            // A non-member gets 404 for everything, whatever it needs.
            let r = app
                .call(op.method, &op.path, Some(&stranger.access), op.body.clone())
                .await;
            assert_eq!(
                r.status, 404,
                "stranger {} {}: {}",
                op.method, op.path, r.text
            );
            // Usage is recorded with an API key (the member's own, holding what they hold).
            let credential = if op.needs == "usage:record" {
                &key
            } else {
                &token
            };
            let r = app
                .call(op.method, &op.path, Some(credential), op.body.clone())
                .await;
            if op.needs == "sessions:revoke" && r.status == op.ok {
                // Revoking ended the member's own session too: sign in again.
                let again = app.login(&member.email, &member.password).await;
                token = again["access_token"].as_str().expect("access").to_owned();
            }
            if op.needs == *permission {
                assert_eq!(
                    r.status, op.ok,
                    "{permission}: {} {}: {}",
                    op.method, op.path, r.text
                );
            } else {
                assert_eq!(
                    r.status, 403,
                    "{permission} may not {} {}: {}",
                    op.method, op.path, r.text
                );
                assert_eq!(r.body["code"], "insufficient_role", "{}", r.text);
            }
        }
        // What the refusals left untouched.
        let renamed = app
            .raw
            .count(&format!(
                "SELECT COUNT(*) FROM workspaces WHERE name = 'Renamed {n}'"
            ))
            .await;
        let workspaces_left = app
            .raw
            .count_with(
                "SELECT COUNT(*) FROM workspaces WHERE id = $1",
                ws.parse().expect("uuid"),
            )
            .await;
        match *permission {
            "workspace:update" => assert_eq!(renamed, 1),
            "workspace:delete" => assert_eq!(workspaces_left, 0),
            _ => {
                assert_eq!(renamed, 0);
                assert_eq!(workspaces_left, 1);
            }
        }
        let target_role = app.role_in_db(&ws, &target.id).await;
        if *permission != "workspace:delete" {
            assert_eq!(target_role.as_deref(), Some("demo"), "the base stays demo");
        }
    }
}

async fn nobody_creates_changes_or_grants_a_role_beyond_their_own_permissions(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "esc-owner@example.com").await;
    let manager = app.signup("esc-manager@example.com", "Manager").await;
    let target = app.signup("esc-target@example.com", "Target").await;
    role(
        &app,
        &owner.access,
        &ws,
        "role_manager",
        "viewer",
        &[
            "roles:manage",
            "members:manage",
            "members:list",
            "members:read",
            "workspace:read",
        ],
    )
    .await;
    role(
        &app,
        &owner.access,
        &ws,
        "auditor",
        "viewer",
        &["audit:read"],
    )
    .await;
    app.add(&owner.access, &ws, &manager, "role_manager").await;
    app.add(&owner.access, &ws, &target, "viewer").await;
    let r = create_role(
        &app,
        &manager.access,
        &ws,
        json!({"key": "sneaky", "name": "Sneaky", "base_role": "viewer", "permissions": ["audit:read"]}),
    )
    .await;
    r.assert_problem(403, "permission_escalation");
    assert!(r.text.contains("audit:read"), "{}", r.text);
    let r = create_role(
        &app,
        &manager.access,
        &ws,
        json!({"key": "boss", "name": "Boss", "base_role": "admin", "permissions": []}),
    )
    .await;
    r.assert_problem(403, "permission_escalation");
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}/roles/auditor"),
            Some(&manager.access),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    r.assert_problem(403, "permission_escalation");
    assert_eq!(
        give(&app, &manager.access, &ws, &target.id, "auditor").await,
        403
    );
    assert_eq!(
        give(&app, &manager.access, &ws, &target.id, "admin").await,
        403
    );
    role(
        &app,
        &manager.access,
        &ws,
        "reader",
        "viewer",
        &["members:read"],
    )
    .await;
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}/roles/reader"),
            Some(&manager.access),
            Some(json!({"permissions": ["members:read", "audit:read"]})),
        )
        .await;
    r.assert_problem(403, "permission_escalation");
    assert_eq!(
        app.role_in_db(&ws, &target.id).await.as_deref(),
        Some("viewer")
    );
    assert_eq!(
        app.rows("roles", "permissions LIKE '%audit:read%'").await,
        1,
        "only the owner's auditor role carries audit:read"
    );
}

async fn a_role_still_held_is_deleted_only_with_a_replacement(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "held-owner@example.com").await;
    let a = app.signup("held-a@example.com", "A").await;
    role(
        &app,
        &owner.access,
        &ws,
        "temp",
        "editor",
        &["workspace:read"],
    )
    .await;
    app.add(&owner.access, &ws, &a, "temp").await;
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(&owner.access),
            json!({"email": "held-b@example.com", "role": "temp", "send_email": false}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["role"], "temp");
    assert_eq!(r.body["base_role"], "editor");
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/roles/temp"),
            Some(&owner.access),
            None,
        )
        .await;
    r.assert_problem(409, "role_in_use");
    assert!(
        r.text.contains("1 member(s) and 1 pending invitation(s)"),
        "{}",
        r.text
    );
    assert_eq!(app.rows("roles", "key = 'temp'").await, 1);
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/roles/temp?replacement=owner"),
            Some(&owner.access),
            None,
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/roles/temp?replacement=viewer"),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.rows("roles", "key = 'temp'").await, 0);
    assert_eq!(app.role_in_db(&ws, &a.id).await.as_deref(), Some("viewer"));
    assert_eq!(app.rows("memberships", "role_id IS NOT NULL").await, 0);
    assert_eq!(
        app.rows(
            "invitations",
            "role = 'viewer' AND role_id IS NULL AND status = 'pending'"
        )
        .await,
        1
    );
    let m = app
        .get(
            &format!("/v1/workspaces/{ws}/members/{}", a.id),
            &owner.access,
        )
        .await;
    assert_eq!(m.body["role"], "viewer");
    assert!(m.body.get("role_name").is_none());
}

async fn custom_roles_are_granted_by_invitation_and_shown_as_their_base_in_the_dialects(
    app: TestApp,
) {
    let (owner, ws) = owner_with_workspace(&app, "inv-owner@example.com").await;
    role(
        &app,
        &owner.access,
        &ws,
        "dispatcher",
        "field_worker",
        &["workspace:read", "members:list"],
    )
    .await;
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(&owner.access),
            json!({"email": "dispatch@example.com", "role": "dispatcher", "send_email": false}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.body["token"].as_str().expect("token").to_owned();
    let invitee = app.signup("dispatch@example.com", "Dispatch").await;
    let r = app
        .post(
            &format!("/v1/invitations/{token}/accept"),
            Some(&invitee.access),
            json!({}),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "accept: {}", r.text);
    let m = app
        .get(
            &format!("/v1/workspaces/{ws}/members/{}", invitee.id),
            &owner.access,
        )
        .await;
    assert_eq!(m.body["role"], "dispatcher");
    assert_eq!(m.body["role_name"], "dispatcher");
    assert_eq!(m.body["base_role"], "field_worker");
    assert_eq!(
        app.role_in_db(&ws, &invitee.id).await.as_deref(),
        Some("field_worker")
    );
    // The holder may do what the role says and no more: listing yes, reading one member no.
    let list = app
        .get(&format!("/v1/workspaces/{ws}/members"), &invitee.access)
        .await;
    assert_eq!(list.status, 200);
    let one = app
        .get(
            &format!("/v1/workspaces/{ws}/members/{}", owner.id),
            &invitee.access,
        )
        .await;
    one.assert_problem(403, "insufficient_role");
    // Filtered by its key, the listing finds exactly its holders.
    let held = app
        .get(
            &format!("/v1/workspaces/{ws}/members?role=dispatcher"),
            &owner.access,
        )
        .await;
    assert_eq!(held.body["total"], 1, "{}", held.text);
    // Pupil shows the base word (field_worker as EDITOR); writing it back keeps the custom role.
    let (_, key) = app.api_key(&owner.access, json!({})).await;
    let members = app
        .pupil(
            "GET",
            &format!("/workspaces/{ws}/members"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(members.status, 200, "{}", members.text);
    assert!(members.text.contains("EDITOR"), "{}", members.text);
    assert!(!members.text.contains("dispatcher"), "{}", members.text);
    let r = app
        .pupil(
            "PATCH",
            &format!("/workspaces/{ws}/members/{}", invitee.id),
            Some(&key),
            Some(json!({"role": "EDITOR"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.rows("memberships", "role_id IS NOT NULL").await, 1);
}

async fn the_permission_check_answers_for_the_caller_and_for_another_member(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "check-owner@example.com").await;
    let m = app.signup("check-member@example.com", "Member").await;
    let outsider = app.signup("check-outsider@example.com", "Outsider").await;
    app.add(&owner.access, &ws, &m, "viewer").await;
    let path = format!("/v1/workspaces/{ws}/permissions/check");
    let r = app
        .post(
            &path,
            Some(&m.access),
            json!({"permissions": ["members:read", "audit:read"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user_id"], json!(m.id));
    assert_eq!(r.body["allowed"], false);
    assert_eq!(
        r.body["permissions"],
        json!({"members:read": true, "audit:read": false})
    );
    let r = app
        .post(
            &path,
            Some(&owner.access),
            json!({"user_id": m.id, "permissions": ["members:read"]}),
        )
        .await;
    assert_eq!(r.body["allowed"], true, "{}", r.text);
    let r = app
        .post(
            &path,
            Some(&owner.access),
            json!({"user_id": outsider.id, "permissions": ["members:read"]}),
        )
        .await;
    r.assert_problem(404, "not_found");
    let r = app
        .post(
            &path,
            Some(&owner.access),
            json!({"permissions": ["reports:export"]}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .post(
            &path,
            Some(&outsider.access),
            json!({"permissions": ["members:read"]}),
        )
        .await;
    r.assert_problem(404, "not_found");
    let r = app
        .get(
            &format!("/v1/workspaces/{ws}/members/{}/permissions", owner.id),
            &m.access,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["role"], "owner");
    assert!(r.body["permissions"]
        .as_array()
        .expect("perms")
        .contains(&json!("workspace:delete")));
}

async fn bad_role_and_permission_input_is_refused_and_changes_nothing(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "bad-owner@example.com").await;
    for body in [
        json!({"key": "admin", "name": "X", "base_role": "viewer", "permissions": []}),
        json!({"key": "Bad Key", "name": "X", "base_role": "viewer", "permissions": []}),
        json!({"key": "ok", "name": "", "base_role": "viewer", "permissions": []}),
        json!({"key": "ok", "name": "X", "base_role": "owner", "permissions": []}),
        json!({"key": "ok", "name": "X", "base_role": "viewer", "permissions": ["nope:nope"]}),
        json!({"key": "ok", "name": "X", "base_role": "captain", "permissions": []}),
        json!({"key": "ok", "name": "X", "base_role": "viewer"}),
    ] {
        let r = create_role(&app, &owner.access, &ws, body.clone()).await;
        assert!(
            r.status == 422 || r.status == 400,
            "{body}: {} {}",
            r.status,
            r.text
        );
    }
    assert_eq!(app.rows("roles", "1 = 1").await, 0);
    let m = app.signup("bad-member@example.com", "M").await;
    app.add(&owner.access, &ws, &m, "viewer").await;
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}/members/{}", m.id),
            Some(&owner.access),
            Some(json!({"role": "no_such_role"})),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(app.role_in_db(&ws, &m.id).await.as_deref(), Some("viewer"));
}

mod product_permissions {
    use std::collections::BTreeMap;

    use roster::config::PermissionSettings;

    use super::*;
    use crate::helpers::Db;

    /// A product declaring `reports:export` (admins hold it) and `reports:schedule` (nobody).
    async fn product_permissions_are_checked_granted_by_custom_roles_and_never_escalated(db: Db) {
        let app = TestApp::spawn_with(db, |s| {
            let mut declared = BTreeMap::new();
            declared.insert(
                "reports:export".to_owned(),
                PermissionSettings {
                    description: Some("Export reports".into()),
                    roles: vec!["admin".into()],
                },
            );
            declared.insert(
                "reports:schedule".to_owned(),
                PermissionSettings {
                    description: None,
                    roles: vec![],
                },
            );
            s.permissions = Some(declared);
        })
        .await;
        let (owner, ws) = owner_with_workspace(&app, "product-owner@example.com").await;
        let admin = app.signup("product-admin@example.com", "Admin").await;
        let viewer = app.signup("product-viewer@example.com", "Viewer").await;
        app.add(&owner.access, &ws, &admin, "admin").await;
        app.add(&owner.access, &ws, &viewer, "viewer").await;
        let catalogue = app.get("/v1/permissions", &owner.access).await;
        assert!(
            catalogue.text.contains("\"reports:export\""),
            "{}",
            catalogue.text
        );
        let path = format!("/v1/workspaces/{ws}/permissions/check");
        let ask = json!({"permissions": ["reports:export", "reports:schedule"]});
        let answer = |token: &str| {
            let (app, path, ask, token) = (&app, &path, &ask, token.to_owned());
            async move { app.post(path, Some(&token), ask.clone()).await.body["permissions"].clone() }
        };
        assert_eq!(
            answer(&owner.access).await,
            json!({"reports:export": true, "reports:schedule": true})
        );
        assert_eq!(
            answer(&admin.access).await,
            json!({"reports:export": true, "reports:schedule": false})
        );
        assert_eq!(
            answer(&viewer.access).await,
            json!({"reports:export": false, "reports:schedule": false})
        );
        // An admin may make a role with what admins hold, not with what only owners hold.
        let r = create_role(
            &app,
            &admin.access,
            &ws,
            json!({"key": "exporter", "name": "Exporter", "base_role": "viewer",
                   "permissions": ["reports:export", "workspace:read"]}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = create_role(
            &app,
            &admin.access,
            &ws,
            json!({"key": "scheduler", "name": "Scheduler", "base_role": "viewer",
                   "permissions": ["reports:schedule"]}),
        )
        .await;
        r.assert_problem(403, "permission_escalation");
        assert_eq!(
            give(&app, &admin.access, &ws, &viewer.id, "exporter").await,
            200
        );
        assert_eq!(
            answer(&viewer.access).await,
            json!({"reports:export": true, "reports:schedule": false})
        );
        let r = app
            .post(
                &path,
                Some(&viewer.access),
                json!({"permissions": ["reports:print"]}),
            )
            .await;
        r.assert_problem(422, "validation_failed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        product_permissions_are_checked_granted_by_custom_roles_and_never_escalated(Db::Sqlite)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: set ROSTER_TEST_POSTGRES_URL and run the ignored tests (scripts/test does)"]
    async fn postgres() {
        product_permissions_are_checked_granted_by_custom_roles_and_never_escalated(Db::Postgres)
            .await;
    }
}
