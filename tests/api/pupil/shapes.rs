//! Every answer of the Pupil Cloud v2 dialect, as an `insta` snapshot with ids, times and
//! secrets redacted: a change to any shape shows in review.

use serde_json::{json, Value};

use crate::{
    helpers::{redacted, Resp, TestApp},
    on_both_databases,
};

on_both_databases!(every_pupil_answer_keeps_its_shape);

/// Snapshots an answer's envelope under `name` (shared by both databases: both answer alike).
fn shape(name: &str, r: &Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "{name}: {}", r.text);
    insta::assert_json_snapshot!(name, redacted(&r.body));
    r.body["result"].clone()
}

fn text(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {v}"))
        .to_owned()
}

/// A user with a Pupil token (a Roster API key).
async fn user(app: &TestApp, email: &str, name: &str) -> (String, String) {
    let a = app.signup(email, name).await;
    let (_, key) = app.api_key(&a.access, json!({"name": "pupil"})).await;
    (a.id, key)
}

async fn every_pupil_answer_keeps_its_shape(app: TestApp) {
    let (_, ada) = user(&app, "ada@example.com", "Ada").await;
    let (charles_id, charles) = user(&app, "charles@example.com", "Charles").await;
    let (mary_id, mary) = user(&app, "mary@example.com", "Mary").await;
    let (ada, charles, mary) = (
        Some(ada.as_str()),
        Some(charles.as_str()),
        Some(mary.as_str()),
    );

    // Workspaces.
    shape(
        "workspaces",
        &app.pupil("GET", "/workspaces/", ada, None).await,
        200,
    );
    let r = app
        .pupil(
            "POST",
            "/workspaces/",
            ada,
            Some(json!({"name": "Engines"})),
        )
        .await;
    let ws = text(&shape("workspace_created", &r, 200), "id");
    let one = format!("/workspaces/{ws}");
    shape("workspace", &app.pupil("GET", &one, ada, None).await, 200);
    let patch = json!({"name": "Analytical", "picture_url": "https://example.com/e.png"});
    shape(
        "workspace_patched",
        &app.pupil("PATCH", &one, ada, Some(patch)).await,
        200,
    );
    shape(
        "workspace_default",
        &app.pupil("GET", "/workspaces/default", ada, None).await,
        200,
    );

    // Invitations, and the invitee's side of them.
    let invites = format!("{one}/invites");
    let invite = json!({"email": "charles@example.com", "role": "EDITOR"});
    let r = app.pupil("POST", &invites, ada, Some(invite)).await;
    let invitation = text(&shape("invitation_created", &r, 200), "id");
    shape(
        "invitations",
        &app.pupil("GET", &invites, ada, None).await,
        200,
    );
    let path = format!("{invites}/{invitation}");
    shape("invitation", &app.pupil("GET", &path, ada, None).await, 200);
    let r = app
        .pupil("GET", "/auth/profile/invites", charles, None)
        .await;
    shape("my_invitations", &r, 200);
    let mine = format!("/auth/profile/invites/{invitation}");
    shape(
        "my_invitation",
        &app.pupil("GET", &mine, charles, None).await,
        200,
    );
    let r = app
        .pupil("POST", &format!("{mine}/accept"), charles, None)
        .await;
    shape("invitation_accepted", &r, 200);
    let invite = json!({"email": "someone@example.com", "role": "VIEWER"});
    let r = app.pupil("POST", &invites, ada, Some(invite)).await;
    let second = text(&r.body["result"], "id");
    let path = format!("{invites}/{second}");
    shape(
        "invitation_revoked",
        &app.pupil("DELETE", &path, ada, None).await,
        200,
    );
    let invite = json!({"email": "charles@example.com", "role": "VIEWER"});
    let personal = "/workspaces/default/invites";
    let r = app.pupil("POST", personal, ada, Some(invite)).await;
    let third = text(&r.body["result"], "id");
    let path = format!("/auth/profile/invites/{third}");
    shape(
        "invitation_declined",
        &app.pupil("DELETE", &path, charles, None).await,
        200,
    );

    // Members.
    let members = format!("{one}/members");
    shape("members", &app.pupil("GET", &members, ada, None).await, 200);
    let member = format!("{members}/{charles_id}");
    shape("member", &app.pupil("GET", &member, ada, None).await, 200);
    let role = json!({"role": "VIEWER"});
    shape(
        "member_patched",
        &app.pupil("PATCH", &member, ada, Some(role)).await,
        200,
    );
    let add = json!({"role": "DEMO", "user_id": mary_id});
    shape(
        "member_added",
        &app.pupil("POST", &members, ada, Some(add)).await,
        200,
    );
    shape(
        "member_removed",
        &app.pupil("DELETE", &member, ada, None).await,
        200,
    );

    // The profile and tokens.
    shape(
        "profile",
        &app.pupil("GET", "/auth/profile", ada, None).await,
        200,
    );
    let patch = json!({"name": "Ada L.", "onboarded": true, "product_updates_subscribed": true});
    let r = app.pupil("PATCH", "/auth/profile", ada, Some(patch)).await;
    shape("profile_patched", &r, 200);
    shape(
        "tokens",
        &app.pupil("GET", "/auth/tokens", ada, None).await,
        200,
    );
    let r = app
        .pupil("POST", "/auth/tokens", ada, Some(json!({"name": "ci"})))
        .await;
    let token = text(&shape("token_created", &r, 200), "id");
    let path = format!("/auth/tokens/{token}");
    shape("token", &app.pupil("GET", &path, ada, None).await, 200);
    shape(
        "token_revoked",
        &app.pupil("DELETE", &path, ada, None).await,
        200,
    );

    // Errors: every kind the dialect answers.
    shape(
        "error_401",
        &app.pupil("GET", "/workspaces/", None, None).await,
        401,
    );
    shape(
        "error_404",
        &app.pupil("GET", "/workspaces/nope", ada, None).await,
        404,
    );
    let r = app
        .pupil("PATCH", &one, mary, Some(json!({"name": "x"})))
        .await;
    shape("error_403", &r, 403);
    let bad = json!({"role": "OWNER", "user_id": mary_id});
    shape(
        "error_409",
        &app.pupil("POST", &members, ada, Some(bad)).await,
        409,
    );
    let r = app
        .send(
            app.client
                .post(app.url("/pupil/v2/workspaces/"))
                .header("api-key", ada.expect("key"))
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    shape("error_400", &r, 400);

    // Deleting the workspace, then leaving Roster.
    shape(
        "workspace_deleted",
        &app.pupil("DELETE", &one, ada, None).await,
        200,
    );
    shape(
        "unregistered",
        &app.pupil("POST", "/auth/unregister", charles, None).await,
        200,
    );
}
