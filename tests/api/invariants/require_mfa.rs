//! A workspace that requires MFA: a member without a confirmed second factor is refused its
//! resources (403 `mfa_required`) on every surface and every replica from the very next
//! request after the owner turns it on, while their own account stays reachable; enrolling
//! lifts it. Only an owner with MFA of their own may turn it on.

use serde_json::json;

use crate::{
    helpers::{assert_pupil_error, assert_sf_error, Account, TestApp},
    native::mfa::enable_mfa,
    on_both_databases,
};

on_both_databases!(
    a_member_without_mfa_is_refused_on_every_surface_from_the_next_request_until_they_enrol,
    only_an_owner_with_mfa_of_their_own_may_require_it,
);

/// The three surfaces' reads of the workspace, as `member` (native access token, SpatialFlow
/// session on its current workspace, Pupil with a personal API key): their statuses.
async fn reads(
    app: &TestApp,
    ws: &str,
    access: &str,
    sf: &str,
    key: &str,
) -> [crate::helpers::Resp; 3] {
    [
        app.get(&format!("/v1/workspaces/{ws}/members"), access)
            .await,
        app.sf("GET", "/workspaces/", Some(sf), None).await,
        app.pupil("GET", &format!("/workspaces/{ws}"), Some(key), None)
            .await,
    ]
}

/// Signs `member` up and has them accept an invitation to `ws` (which becomes their primary,
/// the SpatialFlow current, workspace).
async fn join(app: &TestApp, owner: &Account, ws: &str, email: &str) -> Account {
    let member = app.signup(email, "Member").await;
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(&owner.access),
            json!({"email": email, "role": "editor"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.body["token"].as_str().expect("token");
    let r = app
        .call(
            "POST",
            &format!("/v1/invitations/{token}/accept"),
            Some(&member.access),
            None,
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
    member
}

async fn a_member_without_mfa_is_refused_on_every_surface_from_the_next_request_until_they_enrol(
    app: TestApp,
) {
    let owner = app.signup("req-owner@example.com", "Owner").await;
    enable_mfa(&app, &owner).await;
    let ws = app.workspace(&owner.access, "Secure").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let member = join(&app, &owner, &ws, "req-member@example.com").await;
    let sf = app.sf_token(&member.email).await;
    let (_, key) = app.api_key(&member.access, json!({"name": "pupil"})).await;
    let replica = app.another_on_same_database(|_| {}).await;
    for r in reads(&app, &ws, &member.access, &sf, &key).await {
        assert_eq!(r.status, 200, "{}", r.text);
    }

    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}"),
            Some(&owner.access),
            Some(json!({"require_mfa": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["require_mfa"], true);
    assert_eq!(app.rows("workspaces", "require_mfa").await, 1);
    assert_eq!(
        app.rows(
            "audit_events",
            "action = 'workspace.updated' AND after LIKE '%\"require_mfa\":true%'"
        )
        .await,
        1
    );

    // The very next request, on every surface and on another replica.
    let [native, spatialflow, pupil] = reads(&app, &ws, &member.access, &sf, &key).await;
    native.assert_problem(403, "mfa_required");
    assert_sf_error(&spatialflow, 403, "MFA_REQUIRED");
    assert_pupil_error(&pupil, 403, "mfa_required");
    replica
        .get(&format!("/v1/workspaces/{ws}"), &member.access)
        .await
        .assert_problem(403, "mfa_required");
    // The owner with MFA keeps working; the member's own account stays reachable.
    assert_eq!(
        app.get(&format!("/v1/workspaces/{ws}/members"), &owner.access)
            .await
            .status,
        200
    );
    for path in ["/v1/me", "/v1/me/mfa", "/v1/workspaces"] {
        assert_eq!(app.get(path, &member.access).await.status, 200, "{path}");
    }

    // Enrolling lifts it at once, everywhere.
    enable_mfa(&app, &member).await;
    for r in reads(&app, &ws, &member.access, &sf, &key).await {
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(
        replica
            .get(&format!("/v1/workspaces/{ws}"), &member.access)
            .await
            .status,
        200
    );
}

async fn only_an_owner_with_mfa_of_their_own_may_require_it(app: TestApp) {
    let owner = app.signup("req2-owner@example.com", "Owner").await;
    let ws = app.workspace(&owner.access, "Team").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let admin = app.signup("req2-admin@example.com", "Admin").await;
    app.add(&owner.access, &ws, &admin, "admin").await;
    enable_mfa(&app, &admin).await;
    let path = format!("/v1/workspaces/{ws}");
    let before = app.census().await;
    // An admin may rename, not require MFA.
    app.call(
        "PATCH",
        &path,
        Some(&admin.access),
        Some(json!({"require_mfa": true})),
    )
    .await
    .assert_problem(403, "owner_only");
    // An owner without MFA would lock themselves out.
    app.call(
        "PATCH",
        &path,
        Some(&owner.access),
        Some(json!({"require_mfa": true, "name": "Renamed"})),
    )
    .await
    .assert_problem(409, "mfa_required");
    for bad in [json!({"require_mfa": "yes"}), json!({"require_mfa": 1})] {
        let r = app
            .call("PATCH", &path, Some(&owner.access), Some(bad))
            .await;
        assert_eq!(r.status, 422, "{}", r.text);
    }
    assert_eq!(app.census().await, before);
    assert_eq!(
        app.rows("workspaces", "require_mfa OR name = 'Renamed'")
            .await,
        0
    );
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&admin.access),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["require_mfa"], false);

    enable_mfa(&app, &owner).await;
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&owner.access),
            Some(json!({"require_mfa": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.rows("workspaces", "require_mfa").await, 1);
}
