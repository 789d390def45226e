//! Workspaces: create, list mine, read by id or slug, update every profile field, delete, leave.

use serde_json::json;

use crate::{helpers::TestApp, on_both_databases};

on_both_databases!(
    creating_a_workspace_makes_me_its_owner_with_a_unique_slug,
    listing_my_workspaces_shows_my_role_in_each_in_stable_pages,
    every_profile_field_reads_back_exactly_as_written,
    bad_profile_values_and_read_only_fields_are_refused,
    deleting_a_workspace_takes_its_memberships_and_bound_sessions_with_it,
    only_an_owner_deletes_and_a_personal_workspace_is_never_deleted,
    a_member_can_leave_but_the_last_owner_cannot,
    parallel_workspaces_with_one_name_get_distinct_slugs,
);

async fn parallel_workspaces_with_one_name_get_distinct_slugs(app: TestApp) {
    let a = app.signup("crowd@example.com", "Crowd").await;
    let results = futures::future::join_all((0..30).map(|_| {
        app.post(
            "/v1/workspaces",
            Some(&a.access),
            json!({"name": "Same Name"}),
        )
    }))
    .await;
    let mut slugs: Vec<String> = results
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["slug"].as_str().expect("slug").to_owned()
        })
        .collect();
    slugs.sort();
    slugs.dedup();
    assert_eq!(slugs.len(), 30);
    assert!(slugs.contains(&"same-name".to_owned()));
    assert_eq!(app.rows("workspaces", "NOT is_personal").await, 30);
}

async fn creating_a_workspace_makes_me_its_owner_with_a_unique_slug(app: TestApp) {
    let a = app.signup("founder@example.com", "Founder").await;
    let r = app
        .post(
            "/v1/workspaces",
            Some(&a.access),
            json!({"name": "Acme Field Ops"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().expect("id");
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/workspaces/{id}").as_str())
    );
    assert_eq!(r.body["slug"], "acme-field-ops");
    assert_eq!(r.body["my_role"], "owner");
    assert_eq!(r.body["member_count"], 1);
    assert_eq!(r.body["is_personal"], false);
    assert_eq!(r.body["plan"], "free");

    let again = app.workspace(&a.access, "Acme  Field-Ops!").await;
    assert_ne!(again["slug"], "acme-field-ops");
    assert!(again["slug"]
        .as_str()
        .is_some_and(|s| s.starts_with("acme-field-ops-")));

    app.post(
        "/v1/workspaces",
        Some(&a.access),
        json!({"name": "Other", "slug": "acme-field-ops"}),
    )
    .await
    .assert_problem(409, "slug_taken");
    app.post(
        "/v1/workspaces",
        Some(&a.access),
        json!({"slug": "no-name"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    assert_eq!(app.rows("workspaces", "NOT is_personal").await, 2);
    assert_eq!(
        app.rows("memberships", "role = 'owner' AND workspace_id IN (SELECT id FROM workspaces WHERE slug = 'acme-field-ops')").await,
        1
    );
    // Read by id and by slug alike.
    let by_id = app.get(&format!("/v1/workspaces/{id}"), &a.access).await;
    let by_slug = app.get("/v1/workspaces/ACME-field-ops", &a.access).await;
    assert_eq!(by_id.status, 200);
    assert_eq!(by_id.body, by_slug.body);
}

async fn listing_my_workspaces_shows_my_role_in_each_in_stable_pages(app: TestApp) {
    let a = app.signup("lister@example.com", "Lister").await;
    let b = app.signup("boss@example.com", "Boss").await;
    let theirs = app.workspace(&b.access, "Boss Co").await;
    app.add(&b.access, theirs["id"].as_str().expect("id"), &a, "viewer")
        .await;
    for i in 0..3 {
        app.workspace(&a.access, &format!("Mine {i}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/v1/workspaces?limit=2&cursor={c}"),
            None => "/v1/workspaces?limit=2".to_owned(),
        };
        let r = app.get(&path, &a.access).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["total"], 5);
        for w in r.body["data"].as_array().expect("data") {
            seen.push((
                w["name"].as_str().expect("name").to_owned(),
                w["my_role"].clone(),
            ));
        }
        cursor = r.body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[0].0, "Lister's workspace");
    assert_eq!(seen[1], ("Boss Co".to_owned(), json!("viewer")));
    assert!(seen[2..].iter().all(|(_, role)| role == "owner"));
    app.get("/v1/workspaces?limit=0", &a.access)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/v1/workspaces?cursor=garbage!", &a.access)
        .await
        .assert_problem(422, "validation_failed");
}

async fn every_profile_field_reads_back_exactly_as_written(app: TestApp) {
    let a = app.signup("profile@example.com", "Profile").await;
    let ws = app.workspace(&a.access, "Profiled").await;
    let id = ws["id"].as_str().expect("id");
    let profile = json!({
        "name": "Profiled Renamed",
        "slug": "profiled-renamed",
        "logo_url": "https://cdn.example.com/logo.png",
        "description": "Line one\nLine two – with ünïcode ✓",
        "website": "https://example.com",
        "timezone": "Europe/Berlin",
        "billing_email": "billing@example.com",
        "support_email": "support@example.com",
        "unit_system": "metric",
        "slack_connect_url": "https://slack.com/connect/abc",
        "lane": "beta",
        "map_home": {"lat": 52.52, "lng": 13.405, "zoom": 11, "layers": ["a", "b"]},
        "world_video_mode": "BLUR",
        "raw_file_downloads": true,
    });
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{id}"),
            Some(&a.access),
            Some(profile.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let read = app.get("/v1/workspaces/profiled-renamed", &a.access).await;
    for (key, value) in profile.as_object().expect("object") {
        assert_eq!(&read.body[key], value, "{key} did not read back");
        assert_eq!(&r.body[key], value, "{key} not in the update's answer");
    }
    // null clears; an absent field is left alone.
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{id}"),
            Some(&a.access),
            Some(json!({"logo_url": null, "map_home": null})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body["logo_url"].is_null() && r.body["map_home"].is_null());
    assert_eq!(r.body["website"], "https://example.com");
    assert_eq!(r.body["timezone"], "Europe/Berlin");
    assert_eq!(
        app.rows(
            "workspaces",
            "slug = 'profiled-renamed' AND logo_url IS NULL AND timezone = 'Europe/Berlin'"
        )
        .await,
        1
    );
}

async fn bad_profile_values_and_read_only_fields_are_refused(app: TestApp) {
    let a = app.signup("strict@example.com", "Strict").await;
    let ws = app.workspace(&a.access, "Strict Co").await;
    let path = format!("/v1/workspaces/{}", ws["id"].as_str().expect("id"));
    let before = app.get(&path, &a.access).await.body;
    for body in [
        json!({"name": ""}),
        json!({"name": "n".repeat(256)}),
        json!({"slug": "Not A Slug"}),
        json!({"slug": uuid::Uuid::new_v4().to_string()}),
        json!({"timezone": "t".repeat(51)}),
        json!({"billing_email": "not-an-email"}),
        json!({"unit_system": "furlongs"}),
        json!({"world_video_mode": "blur"}),
        json!({"map_home": [1, 2]}),
        json!({"lane": "l".repeat(51)}),
        json!({"description": "d".repeat(5001)}),
        json!({"raw_file_downloads": "yes"}),
        json!({"plan": "enterprise"}),
        json!({"member_count": 0}),
        json!({"is_personal": true}),
        json!({"created_by": a.id}),
    ] {
        app.call("PATCH", &path, Some(&a.access), Some(body.clone()))
            .await
            .assert_problem(422, "validation_failed");
    }
    assert_eq!(app.get(&path, &a.access).await.body, before);
}

async fn deleting_a_workspace_takes_its_memberships_and_bound_sessions_with_it(app: TestApp) {
    let owner = app.signup("deleter@example.com", "Deleter").await;
    let member = app.signup("bystander@example.com", "Bystander").await;
    let ws = app.workspace(&owner.access, "Doomed").await;
    let id = ws["id"].as_str().expect("id");
    app.add(&owner.access, id, &member, "editor").await;
    // A session bound to the workspace (as a single-workspace client selects one).
    let bound = app
        .state
        .core
        .start_session(
            uuid::Uuid::parse_str(&member.id).expect("id"),
            Some(uuid::Uuid::parse_str(id).expect("id")),
            &Default::default(),
        )
        .await
        .expect("bound session");
    assert_eq!(
        app.get(&format!("/v1/workspaces/{id}"), &bound.tokens.access_token)
            .await
            .status,
        200
    );

    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{id}"),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.get(&format!("/v1/workspaces/{id}"), &owner.access)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/v1/workspaces/{id}"), &member.access)
        .await
        .assert_problem(404, "not_found");
    app.get("/v1/me", &bound.tokens.access_token)
        .await
        .assert_problem(401, "unauthenticated");
    app.post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": bound.tokens.refresh_token}),
    )
    .await
    .assert_problem(401, "unauthenticated");
    // The member's own unbound session is untouched.
    assert_eq!(app.get("/v1/me", &member.access).await.status, 200);
    assert_eq!(app.rows("workspaces", "NOT is_personal").await, 0);
    assert_eq!(
        app.rows("memberships", "").await,
        2,
        "only the personal workspaces' owners"
    );
    assert_eq!(
        app.rows("audit_events", "action = 'workspace.deleted'")
            .await,
        1
    );
}

async fn only_an_owner_deletes_and_a_personal_workspace_is_never_deleted(app: TestApp) {
    let owner = app.signup("o@example.com", "O").await;
    let admin = app.signup("a@example.com", "A").await;
    let ws = app.workspace(&owner.access, "Kept").await;
    let id = ws["id"].as_str().expect("id");
    app.add(&owner.access, id, &admin, "admin").await;
    app.call(
        "DELETE",
        &format!("/v1/workspaces/{id}"),
        Some(&admin.access),
        None,
    )
    .await
    .assert_problem(403, "insufficient_role");
    let me = app.get("/v1/me", &owner.access).await;
    let personal = me.body["personal_workspace_id"].as_str().expect("personal");
    app.call(
        "DELETE",
        &format!("/v1/workspaces/{personal}"),
        Some(&owner.access),
        None,
    )
    .await
    .assert_problem(409, "personal_workspace");
    assert_eq!(app.rows("workspaces", "").await, 3);
}

async fn a_member_can_leave_but_the_last_owner_cannot(app: TestApp) {
    let owner = app.signup("stay@example.com", "Stay").await;
    let member = app.signup("go@example.com", "Go").await;
    let ws = app.workspace(&owner.access, "Club").await;
    let id = ws["id"].as_str().expect("id");
    app.add(&owner.access, id, &member, "viewer").await;
    let r = app
        .call(
            "POST",
            &format!("/v1/workspaces/{id}/leave"),
            Some(&member.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.get(&format!("/v1/workspaces/{id}"), &member.access)
        .await
        .assert_problem(404, "not_found");
    app.call(
        "POST",
        &format!("/v1/workspaces/{id}/leave"),
        Some(&owner.access),
        None,
    )
    .await
    .assert_problem(409, "last_owner");
    assert_eq!(
        app.rows(
            "memberships",
            "workspace_id IN (SELECT id FROM workspaces WHERE slug = 'club')"
        )
        .await,
        1
    );
    assert_eq!(
        app.get(&format!("/v1/workspaces/{id}"), &owner.access)
            .await
            .body["member_count"],
        1
    );
    assert_eq!(app.rows("audit_events", "action = 'member.left'").await, 1);
}
