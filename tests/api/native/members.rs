//! Members: keyset pages, search and filters, adding directly, and the permission table for role
//! changes and removals, every (actor role, target role, new role) over HTTP.

use serde_json::json;

use crate::{
    helpers::{Account, TestApp},
    on_both_databases,
};

const ROLES: [&str; 6] = ["owner", "admin", "editor", "field_worker", "viewer", "demo"];

on_both_databases!(
    member_pages_are_stable_complete_and_unaffected_by_members_joining_meanwhile,
    search_matches_email_and_name_case_insensitively_and_literally,
    adding_a_member_follows_the_rules,
    every_role_change_follows_the_permission_table,
    every_removal_follows_the_permission_table,
    what_each_role_may_read,
);

async fn member_pages_are_stable_complete_and_unaffected_by_members_joining_meanwhile(
    app: TestApp,
) {
    let owner = app.signup("pager@example.com", "Pager").await;
    let ws = app.workspace(&owner.access, "Paged").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    let mut people = Vec::new();
    for i in 0..12 {
        let p = app
            .signup(&format!("p{i:02}@example.com"), &format!("Person {i:02}"))
            .await;
        app.add(&owner.access, &id, &p, "viewer").await;
        people.push(p);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut late = 0;
    for round in 0..20 {
        let path = match &cursor {
            Some(c) => format!("/v1/workspaces/{id}/members?limit=5&cursor={c}"),
            None => format!("/v1/workspaces/{id}/members?limit=5"),
        };
        let r = app.get(&path, &owner.access).await;
        assert_eq!(r.status, 200, "{}", r.text);
        for m in r.body["data"].as_array().expect("data") {
            seen.push(m["user_id"].as_str().expect("id").to_owned());
        }
        // Someone joins between pages: they appear at the end, never twice, never skipping.
        if round < 2 {
            let p = app
                .signup(&format!("late{round}@example.com"), "Late")
                .await;
            app.add(&owner.access, &id, &p, "editor").await;
            late += 1;
        }
        cursor = r.body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            assert_eq!(r.body["total"], 13 + late);
            break;
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a member appeared twice");
    assert_eq!(seen.len(), 13 + late, "a member was skipped");
    assert_eq!(seen[0], owner.id, "oldest membership first");
    assert_eq!(
        &seen[1..13],
        people
            .iter()
            .map(|p| p.id.clone())
            .collect::<Vec<_>>()
            .as_slice()
    );
    let r = app
        .get(
            &format!("/v1/workspaces/{id}/members?limit=201"),
            &owner.access,
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .get(
            &format!("/v1/workspaces/{id}/members?role=captain"),
            &owner.access,
        )
        .await;
    r.assert_problem(400, "invalid_query");
    let r = app
        .get(
            &format!("/v1/workspaces/{id}/members?role=editor"),
            &owner.access,
        )
        .await;
    assert_eq!(r.body["total"], 2);
    assert!(r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .all(|m| m["role"] == "editor"));
}

async fn search_matches_email_and_name_case_insensitively_and_literally(app: TestApp) {
    let owner = app.signup("searcher@example.com", "Searcher").await;
    let ws = app.workspace(&owner.access, "Search").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    for (email, name) in [
        ("ada.lovelace@example.com", "Ada Lovelace"),
        ("grace@navy.example", "Grace HOPPER"),
        ("percent@example.com", "100% Sure"),
        ("under_score@example.com", "Under Score"),
        ("plain@example.com", "Plain 100 Percent"),
    ] {
        let p = app.signup(email, name).await;
        app.add(&owner.access, &id, &p, "viewer").await;
    }
    let search = |q: &str| {
        let path = format!("/v1/workspaces/{id}/members?q={}", urlencode(q));
        let token = owner.access.clone();
        let app = &app;
        async move {
            let r = app.get(&path, &token).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let mut emails: Vec<String> = r.body["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|m| m["email"].as_str().expect("email").to_owned())
                .collect();
            emails.sort();
            assert_eq!(r.body["total"], emails.len());
            emails
        }
    };
    assert_eq!(search("LOVELACE").await, ["ada.lovelace@example.com"]);
    assert_eq!(search("hopper").await, ["grace@navy.example"]);
    assert_eq!(search("NAVY").await, ["grace@navy.example"]);
    assert_eq!(search("100%").await, ["percent@example.com"]);
    assert_eq!(search("%").await, ["percent@example.com"]);
    assert_eq!(search("_").await, ["under_score@example.com"]);
    assert_eq!(
        search("o_e").await,
        Vec::<String>::new(),
        "`_` is literal, not a wildcard"
    );
    assert_eq!(
        search("a%e").await,
        Vec::<String>::new(),
        "`%` is literal, not a wildcard"
    );
    assert_eq!(search("zzz").await, Vec::<String>::new());
    assert_eq!(search("example.com").await.len(), 5);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn adding_a_member_follows_the_rules(app: TestApp) {
    let owner = app.signup("adder@example.com", "Adder").await;
    let admin = app.signup("admin@example.com", "Admin").await;
    let editor = app.signup("editor@example.com", "Editor").await;
    let newcomer = app.signup("new@example.com", "New").await;
    let ws = app.workspace(&owner.access, "Adders").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    app.add(&owner.access, &id, &admin, "admin").await;
    app.add(&owner.access, &id, &editor, "editor").await;
    let path = format!("/v1/workspaces/{id}/members");

    app.post(
        &path,
        Some(&admin.access),
        json!({"email": newcomer.email, "role": "owner"}),
    )
    .await
    .assert_problem(403, "cannot_grant_owner");
    app.post(
        &path,
        Some(&editor.access),
        json!({"email": newcomer.email, "role": "viewer"}),
    )
    .await
    .assert_problem(403, "insufficient_role");
    app.post(
        &path,
        Some(&admin.access),
        json!({"email": "nobody@example.com", "role": "viewer"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.post(&path, Some(&admin.access), json!({"role": "viewer"}))
        .await
        .assert_problem(422, "validation_failed");
    app.post(
        &path,
        Some(&admin.access),
        json!({"email": newcomer.email, "role": "boss"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let r = app
        .post(
            &path,
            Some(&admin.access),
            json!({"email": "  NEW@example.com ", "role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["role"], "admin");
    app.post(
        &path,
        Some(&owner.access),
        json!({"user_id": newcomer.id, "role": "viewer"}),
    )
    .await
    .assert_problem(409, "already_member");
    assert_eq!(
        app.role_in_db(&id, &newcomer.id).await.as_deref(),
        Some("admin")
    );
    assert_eq!(
        app.get(&format!("/v1/workspaces/{id}"), &owner.access)
            .await
            .body["member_count"],
        4
    );
}

/// A workspace with an owner (who resets things) and one member for each actor role.
async fn cast(app: &TestApp) -> (Account, String, Vec<(&'static str, Account)>) {
    let boss = app.signup("boss@example.com", "Boss").await;
    let ws = app.workspace(&boss.access, "Matrix").await;
    let id = ws["id"].as_str().expect("id").to_owned();
    let mut actors = Vec::new();
    for role in ROLES {
        let a = app.signup(&format!("actor-{role}@example.com"), role).await;
        app.add(&boss.access, &id, &a, role).await;
        actors.push((role, a));
    }
    (boss, id, actors)
}

fn allowed_change(actor: &str, current: &str, new: &str) -> bool {
    match actor {
        "owner" => true,
        "admin" => !matches!(current, "owner" | "admin") && new != "owner",
        _ => false,
    }
}

async fn every_role_change_follows_the_permission_table(app: TestApp) {
    let (boss, id, actors) = cast(&app).await;
    let target = app.signup("target@example.com", "Target").await;
    app.add(&boss.access, &id, &target, "viewer").await;
    let path = format!("/v1/workspaces/{id}/members/{}", target.id);
    let mut checked = 0;
    for (actor_role, actor) in &actors {
        for current in ROLES {
            for new in ROLES {
                app.set_role(&boss.access, &id, &target.id, current).await;
                let r = app
                    .call(
                        "PATCH",
                        &path,
                        Some(&actor.access),
                        Some(json!({"role": new})),
                    )
                    .await;
                let expected = allowed_change(actor_role, current, new);
                let now = app
                    .role_in_db(&id, &target.id)
                    .await
                    .expect("still a member");
                if expected {
                    assert_eq!(r.status, 200, "{actor_role} {current}->{new}: {}", r.text);
                    assert_eq!(r.body["role"], new);
                    assert_eq!(now, new);
                } else {
                    assert_eq!(r.status, 403, "{actor_role} {current}->{new}: {}", r.text);
                    assert_eq!(now, current, "a refused change was applied");
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 216);
}

async fn every_removal_follows_the_permission_table(app: TestApp) {
    let (boss, id, actors) = cast(&app).await;
    let target = app.signup("removed@example.com", "Removed").await;
    for (actor_role, actor) in &actors {
        for current in ROLES {
            if app.role_in_db(&id, &target.id).await.is_none() {
                app.add(&boss.access, &id, &target, current).await;
            } else {
                app.set_role(&boss.access, &id, &target.id, current).await;
            }
            let r = app
                .call(
                    "DELETE",
                    &format!("/v1/workspaces/{id}/members/{}", target.id),
                    Some(&actor.access),
                    None,
                )
                .await;
            let expected = match *actor_role {
                "owner" => true,
                "admin" => !matches!(current, "owner" | "admin"),
                _ => false,
            };
            let after = app.role_in_db(&id, &target.id).await;
            if expected {
                assert_eq!(r.status, 204, "{actor_role} removing {current}: {}", r.text);
                assert_eq!(after, None);
            } else {
                assert_eq!(r.status, 403, "{actor_role} removing {current}: {}", r.text);
                assert_eq!(after.as_deref(), Some(current));
            }
        }
    }
    // Everyone may remove themselves, except the last owner.
    for (role, actor) in actors.iter().rev() {
        let r = app
            .call(
                "DELETE",
                &format!("/v1/workspaces/{id}/members/{}", actor.id),
                Some(&actor.access),
                None,
            )
            .await;
        assert_eq!(r.status, 204, "{role} leaving: {}", r.text);
    }
    app.call(
        "DELETE",
        &format!("/v1/workspaces/{id}/members/{}", boss.id),
        Some(&boss.access),
        None,
    )
    .await
    .assert_problem(409, "last_owner");
    assert_eq!(
        app.role_in_db(&id, &boss.id).await.as_deref(),
        Some("owner")
    );
}

async fn what_each_role_may_read(app: TestApp) {
    let (_boss, id, actors) = cast(&app).await;
    for (role, actor) in &actors {
        let ws = app
            .get(&format!("/v1/workspaces/{id}"), &actor.access)
            .await;
        let list = app
            .get(&format!("/v1/workspaces/{id}/members"), &actor.access)
            .await;
        let one = app
            .get(
                &format!("/v1/workspaces/{id}/members/{}", actor.id),
                &actor.access,
            )
            .await;
        let audit = app
            .get(&format!("/v1/workspaces/{id}/audit-events"), &actor.access)
            .await;
        let patch = app
            .call(
                "PATCH",
                &format!("/v1/workspaces/{id}"),
                Some(&actor.access),
                Some(json!({"description": *role})),
            )
            .await;
        assert_eq!(list.status, 200, "{role} lists members");
        assert_eq!(list.body["total"], 7);
        if *role == "demo" {
            ws.assert_problem(403, "insufficient_role");
            one.assert_problem(403, "insufficient_role");
        } else {
            assert_eq!(ws.status, 200, "{role}");
            assert_eq!(ws.body["my_role"], *role);
            assert_eq!(one.status, 200, "{role}");
        }
        let manager = matches!(*role, "owner" | "admin");
        assert_eq!(
            audit.status,
            if manager { 200 } else { 403 },
            "{role} audit"
        );
        assert_eq!(
            patch.status,
            if manager { 200 } else { 403 },
            "{role} update"
        );
    }
}
