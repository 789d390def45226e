//! Every answer of the SpatialFlow dialect, as an `insta` snapshot with ids, times and secrets
//! redacted: a change to any shape shows in review (the SDK suite checks what the SDK reads).

use chrono::{Duration, SecondsFormat};
use serde_json::{json, Value};

use crate::{
    helpers::{redacted, Resp, TestApp, PASSWORD},
    on_both_databases,
};

on_both_databases!(every_spatialflow_answer_keeps_its_shape);

/// Snapshots a JSON answer under `name` (shared by both databases: both answer alike).
fn shape(name: &str, r: &Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "{name}: {}", r.text);
    insta::assert_json_snapshot!(name, redacted(&r.body));
    r.body.clone()
}

fn text(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {v}"))
        .to_owned()
}

/// An RFC 3339 time `days` from now, as a query value.
fn days_ahead(app: &TestApp, days: i64) -> String {
    (app.state.core.clock.now() + Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn every_spatialflow_answer_keeps_its_shape(app: TestApp) {
    // Accounts and tokens.
    let signup = json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada"});
    let r = app.sf("POST", "/public/signup", None, Some(signup)).await;
    shape("signup", &r, 201);
    let login = shape(
        "login",
        &app.sf_login("ada@example.com", PASSWORD).await,
        200,
    );
    let refresh = json!({"refresh_token": text(&login, "refresh_token")});
    let renewed = shape(
        "refresh",
        &app.sf("POST", "/auth/refresh", None, Some(refresh)).await,
        200,
    );
    let t = text(&renewed, "access_token");
    let token = Some(t.as_str());
    shape("me", &app.sf("GET", "/auth/me", token, None).await, 200);

    // The current (personal) workspace, and switching to another one.
    shape(
        "workspace",
        &app.sf("GET", "/workspaces/", token, None).await,
        200,
    );
    let patch = json!({"description": "Engines", "timezone": "Europe/London"});
    let r = app.sf("PATCH", "/workspaces/", token, Some(patch)).await;
    shape("workspace_patched", &r, 200);
    let put = json!({"name": "Ada's engines", "unit_system": "metric"});
    shape(
        "workspace_put",
        &app.sf("PUT", "/workspaces/", token, Some(put)).await,
        200,
    );
    shape(
        "usage",
        &app.sf("GET", "/workspaces/usage", token, None).await,
        200,
    );
    let native = app.login("ada@example.com", PASSWORD).await;
    let team = app
        .workspace(
            native["access_token"].as_str().expect("token"),
            "Analytical",
        )
        .await;
    let r = app.sf("GET", "/workspaces/available", token, None).await;
    shape("available", &r, 200);
    let select = json!({"workspace_id": text(&team, "id")});
    let r = app
        .sf("POST", "/workspaces/select", token, Some(select))
        .await;
    let selected = shape("select", &r, 200);
    let ada = text(&selected["user"], "id");
    let t = text(&selected, "access_token");
    let token = Some(t.as_str());

    // Invitations, and the invitee accepting (creating their account).
    let invite = json!({"email": "charles@example.com", "role": "member"});
    let r = app
        .sf("POST", "/workspaces/invitations", token, Some(invite))
        .await;
    let id = text(&shape("invitation_created", &r, 201), "id");
    let r = app.sf("GET", "/workspaces/invitations", token, None).await;
    shape("invitations", &r, 200);
    let later = json!({"expires_at": days_ahead(&app, 10)});
    let path = format!("/workspaces/invitations/{id}");
    shape(
        "invitation_extended",
        &app.sf("PATCH", &path, token, Some(later)).await,
        200,
    );
    let path = format!("/workspaces/invitations/{id}/resend");
    let r = app.sf("POST", &path, token, Some(json!({}))).await;
    shape("invitation_resent", &r, 200);
    let path = "/workspaces/invitations/resend-missing";
    let batch = shape(
        "batch_resend",
        &app.sf("POST", path, token, Some(json!({}))).await,
        200,
    );
    let link = text(&batch["results"][0]["invitation"], "invite_link");
    let secret = link.rsplit('/').next().expect("token");
    let accept = json!({"token": secret, "invite_id": id, "password": PASSWORD});
    let r = app
        .sf("POST", "/auth/accept-invite", None, Some(accept))
        .await;
    let accepted = shape("accept_invite", &r, 200);
    let charles = text(&accepted["user"], "id");

    // Members.
    shape(
        "members",
        &app.sf("GET", "/workspaces/members", token, None).await,
        200,
    );
    let path = format!("/workspaces/members/{charles}");
    let role = json!({"role": "field_worker"});
    shape(
        "member_role_changed",
        &app.sf("PATCH", &path, token, Some(role)).await,
        200,
    );

    // API keys.
    let r = app
        .sf(
            "POST",
            "/account/api-keys",
            token,
            Some(json!({"name": "ci"})),
        )
        .await;
    let key_id = text(&shape("api_key_created", &r, 201)["api_key"], "id");
    shape(
        "api_keys",
        &app.sf("GET", "/account/api-keys", token, None).await,
        200,
    );
    let one = format!("/account/api-keys/{key_id}");
    shape("api_key", &app.sf("GET", &one, token, None).await, 200);
    let name = json!({"name": "ci-2"});
    shape(
        "api_key_updated",
        &app.sf("PUT", &one, token, Some(name)).await,
        200,
    );
    let r = app
        .sf("POST", &format!("{one}/regenerate"), token, Some(json!({})))
        .await;
    shape("api_key_regenerated", &r, 200);
    let expiry = days_ahead(&app, 5).replace('+', "%2B");
    let path = format!("{one}/expiration?expires_at={expiry}");
    shape(
        "api_key_expiration",
        &app.sf("PATCH", &path, token, None).await,
        200,
    );
    let r = app
        .sf("GET", "/account/api-keys/expiring?days=30", token, None)
        .await;
    shape("api_keys_expiring", &r, 200);
    let path = format!("{one}/rotate?grace_period_days=1");
    shape(
        "api_key_rotated",
        &app.sf("POST", &path, token, Some(json!({}))).await,
        201,
    );
    let r = app.sf("DELETE", &one, token, None).await;
    shape("api_key_deleted", &r, r.status);

    // The audit log, of one action so that the order of same-instant events does not matter.
    let query = "?action=member.role_changed";
    let r = app
        .sf("GET", &format!("/audit-logs/{query}"), token, None)
        .await;
    shape("audit_logs", &r, 200);
    let path = format!("/audit-logs/export/{query}&export_format=json");
    shape(
        "audit_export",
        &app.sf("GET", &path, token, None).await,
        200,
    );

    // Errors: every kind the dialect answers.
    shape(
        "error_401",
        &app.sf("GET", "/workspaces/", None, None).await,
        401,
    );
    shape(
        "error_404",
        &app.sf("GET", "/no/such/route", token, None).await,
        404,
    );
    let r = app
        .sf("POST", "/workspaces/invitations", token, Some(json!({})))
        .await;
    shape("error_422", &r, 422);
    let path = format!("/workspaces/members/{ada}");
    let demote = json!({"role": "member"});
    shape(
        "error_400",
        &app.sf("PATCH", &path, token, Some(demote)).await,
        400,
    );
    let theirs = text(&accepted, "access_token");
    let invite = json!({"email": "x@example.com"});
    let r = app
        .sf(
            "POST",
            "/workspaces/invitations",
            Some(&theirs),
            Some(invite),
        )
        .await;
    shape("error_403", &r, 403);

    // Removing, revoking every session, signing out.
    let r = app
        .sf(
            "DELETE",
            &format!("/workspaces/members/{charles}"),
            token,
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = app
        .sf(
            "POST",
            "/workspaces/revoke-all-sessions",
            token,
            Some(json!({})),
        )
        .await;
    shape("sessions_revoked", &r, 200);
    let again = app.sf_token("ada@example.com").await;
    let r = app
        .sf("POST", "/auth/logout", Some(&again), Some(json!({})))
        .await;
    shape("logout", &r, 200);
}
