//! Deleting an account: every credential stops at once, solo workspaces go with it, and the
//! last owner of a shared workspace is refused, also when two owners delete at the same time.

use serde_json::json;

use crate::{helpers::TestApp, on_both_databases};

on_both_databases!(
    deleting_my_account_ends_every_credential_and_takes_my_solo_workspaces_with_it,
    two_owners_deleting_their_accounts_at_once_never_leave_a_workspace_ownerless,
);

async fn deleting_my_account_ends_every_credential_and_takes_my_solo_workspaces_with_it(
    app: TestApp,
) {
    let leaver = app.signup("leaver@example.com", "Leaver").await;
    let host = app.signup("host@example.com", "Host").await;
    let solo = app.workspace(&leaver.access, "Solo").await;
    let shared = app.workspace(&host.access, "Shared").await;
    let shared_id = shared["id"].as_str().expect("id").to_owned();
    app.add(&host.access, &shared_id, &leaver, "editor").await;
    let (_, key) = app.api_key(&leaver.access, json!({})).await;
    // The last owner of a workspace with other members is refused.
    let kept = app.workspace(&leaver.access, "Kept").await;
    let kept_id = kept["id"].as_str().expect("id").to_owned();
    app.add(&leaver.access, &kept_id, &host, "viewer").await;
    let before = app.census().await;
    app.call("DELETE", "/v1/me", Some(&leaver.access), None)
        .await
        .assert_problem(409, "last_owner");
    assert_eq!(
        app.census().await,
        before,
        "a refused deletion changed the database"
    );

    app.set_role(&leaver.access, &kept_id, &host.id, "owner")
        .await;
    let r = app
        .call("DELETE", "/v1/me", Some(&leaver.access), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    for credential in [&leaver.access, &key] {
        app.get("/v1/me", credential)
            .await
            .assert_problem(401, "unauthenticated");
    }
    app.post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": leaver.refresh}),
    )
    .await
    .assert_problem(401, "unauthenticated");
    app.post(
        "/v1/auth/login",
        None,
        json!({"email": leaver.email, "password": leaver.password}),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    assert_eq!(
        app.rows("users", "email_key = 'leaver@example.com'").await,
        0
    );
    assert_eq!(solo["slug"], "solo");
    assert_eq!(
        app.rows("workspaces", "slug = 'solo'").await,
        0,
        "the solo workspace went too"
    );
    assert_eq!(
        app.rows("workspaces", "slug IN ('shared', 'kept')").await,
        2
    );
    assert_eq!(
        app.get(&format!("/v1/workspaces/{shared_id}"), &host.access)
            .await
            .body["member_count"],
        1
    );
    assert_eq!(
        app.get(&format!("/v1/workspaces/{kept_id}"), &host.access)
            .await
            .body["my_role"],
        "owner"
    );
    assert_eq!(app.rows("audit_events", "action = 'user.deleted'").await, 1);
}

async fn two_owners_deleting_their_accounts_at_once_never_leave_a_workspace_ownerless(
    app: TestApp,
) {
    let member = app.signup("stays@example.com", "Stays").await;
    for i in 0..15 {
        let a = app.signup(&format!("a{i}@example.com"), "A").await;
        let b = app.signup(&format!("b{i}@example.com"), "B").await;
        let ws = app.workspace(&a.access, &format!("Pair {i}")).await;
        let id = ws["id"].as_str().expect("id").to_owned();
        app.add(&a.access, &id, &b, "owner").await;
        app.add(&a.access, &id, &member, "viewer").await;
        let (ra, rb) = tokio::join!(
            app.call("DELETE", "/v1/me", Some(&a.access), None),
            app.call("DELETE", "/v1/me", Some(&b.access), None),
        );
        let deleted = [ra.status, rb.status].iter().filter(|&&s| s == 204).count();
        assert_eq!(
            deleted, 1,
            "{} {} / {} {}",
            ra.status, ra.text, rb.status, rb.text
        );
        assert!(ra.status == 409 || rb.status == 409);
    }
    let ownerless = app
        .rows(
            "workspaces w",
            "NOT EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = w.id AND m.role = 'owner')",
        )
        .await;
    assert_eq!(ownerless, 0);
}
