//! Invitations: the lifecycle, the rules, accepting (signed in, or creating the account),
//! declining, the HTML page, and delivery through a real SMTP server, also while it refuses
//! mail and after a sender died mid-delivery.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{
    helpers::{Account, TestApp},
    on_both_databases,
    smtp::{tokens_in, SmtpSink},
};

on_both_databases!(
    an_invitation_shows_its_token_once_and_its_email_is_delivered_once_over_smtp,
    the_lifecycle_lists_extends_cancels_and_resends_and_old_tokens_die,
    inviting_follows_the_rules,
    accepting_signed_in_requires_the_invited_email_and_spends_the_token,
    accepting_without_an_account_creates_one_and_signs_in,
    accepting_rechecks_expiry_and_the_inviters_authority,
    declining_ends_the_invitation_and_my_invitations_lists_only_pending_ones,
    bulk_invitations_answer_row_by_row,
    the_accept_page_works_without_javascript,
    the_accept_page_refuses_a_form_another_site_posts,
    an_smtp_outage_delays_mail_but_loses_none,
    a_sender_that_died_mid_delivery_never_causes_one_token_to_be_delivered_twice,
);

async fn setup(app: &TestApp) -> (Account, String) {
    let owner = app.signup("inviter@example.com", "Inviter").await;
    let ws = app.workspace(&owner.access, "Invitees Inc").await;
    (owner, ws["id"].as_str().expect("id").to_owned())
}

/// The account with a new access token (after the clock moved past the old one's expiry).
async fn fresh(app: &TestApp, mut account: Account) -> Account {
    let tokens = app.login(&account.email, &account.password).await;
    account.access = tokens["access_token"].as_str().expect("access").to_owned();
    account
}

async fn invite(app: &TestApp, token: &str, ws: &str, body: Value) -> Value {
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(token),
            body,
        )
        .await;
    assert_eq!(r.status, 201, "invite: {}", r.text);
    r.body
}

async fn an_invitation_shows_its_token_once_and_its_email_is_delivered_once_over_smtp(
    app: TestApp,
) {
    let sink = SmtpSink::start();
    let mailing = app
        .another_on_same_database(|s| s.smtp_url = Some(sink.url()))
        .await;
    let (owner, ws) = setup(&app).await;
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(&owner.access),
            json!({"email": "  Newcomer@Example.com ", "role": "editor"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().expect("id");
    let token = r.body["token"].as_str().expect("token");
    assert!(token.starts_with("inv_") && token.len() == 47);
    assert_eq!(
        r.body["invite_url"],
        format!("http://roster.test/invite/{token}")
    );
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["email"], "Newcomer@Example.com");
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/workspaces/{ws}/invitations/{id}").as_str())
    );
    let days = chrono::DateTime::parse_from_rfc3339(r.body["expires_at"].as_str().expect("exp"))
        .expect("time")
        - chrono::DateTime::parse_from_rfc3339(r.body["created_at"].as_str().expect("c"))
            .expect("time");
    assert_eq!(days.num_days(), 7);

    let list = app
        .get(&format!("/v1/workspaces/{ws}/invitations"), &owner.access)
        .await;
    let one = app
        .get(
            &format!("/v1/workspaces/{ws}/invitations/{id}"),
            &owner.access,
        )
        .await;
    assert_eq!(list.body["total"], 1);
    for r in [&list, &one] {
        assert_eq!(r.status, 200);
        assert!(
            !r.text.contains(token) && !r.text.contains("\"token\""),
            "{}",
            r.text
        );
    }
    // Only the hash is stored; the message waits in the outbox, written in the same transaction.
    assert_eq!(app.rows("invitations", "length(token_hash) = 32").await, 1);
    assert_eq!(app.rows("outbox", "status = 'queued'").await, 1);
    assert_eq!(
        app.rows("audit_events", "action = 'invitation.created'")
            .await,
        1
    );

    let round = mailing.deliver().await;
    assert_eq!((round.sent, round.failed), (1, 0));
    let round = mailing.deliver().await;
    assert_eq!(round.sent, 0, "a delivered message is not sent again");
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].contains("To: Newcomer@Example.com"),
        "{}",
        messages[0]
    );
    assert!(
        messages[0].contains("Inviter invited you to Invitees Inc"),
        "{}",
        messages[0]
    );
    assert_eq!(tokens_in(&messages[0]), [token]);
    assert_eq!(
        app.rows(
            "outbox",
            "status = 'sent' AND text_body IS NULL AND html_body IS NULL"
        )
        .await,
        1
    );
    let metrics = app.send(app.client.get(app.url("/metrics"))).await.text;
    assert!(
        metrics.contains("mail_queued_total") && metrics.contains("mail_sent_total"),
        "{metrics}"
    );
}

async fn the_lifecycle_lists_extends_cancels_and_resends_and_old_tokens_die(app: TestApp) {
    let (owner, ws) = setup(&app).await;
    let base = format!("/v1/workspaces/{ws}/invitations");
    let a = invite(
        &app,
        &owner.access,
        &ws,
        json!({"email": "a@example.com", "role": "viewer", "expires_in_days": 2}),
    )
    .await;
    let b = invite(
        &app,
        &owner.access,
        &ws,
        json!({"email": "b@example.com", "role": "editor", "send_email": false}),
    )
    .await;
    assert_eq!(
        app.rows("outbox", "").await,
        1,
        "send_email false queues nothing"
    );
    let (a_id, a_token) = (
        a["id"].as_str().expect("id"),
        a["token"].as_str().expect("t"),
    );
    let (b_id, b_token) = (
        b["id"].as_str().expect("id"),
        b["token"].as_str().expect("t"),
    );

    // Extend.
    let r = app
        .call(
            "PATCH",
            &format!("{base}/{a_id}"),
            Some(&owner.access),
            Some(json!({"expires_in_days": 30})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["expires_at"].as_str() > a["expires_at"].as_str());
    app.call(
        "PATCH",
        &format!("{base}/{a_id}"),
        Some(&owner.access),
        Some(json!({"expires_in_days": 91})),
    )
    .await
    .assert_problem(422, "validation_failed");

    // Resend: a new token; the old one is dead, and its unsent mail withdrawn.
    let r = app
        .post(
            &format!("{base}/{a_id}/resend"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let new_token = r.body["token"].as_str().expect("t");
    assert_ne!(new_token, a_token);
    app.send(
        app.client
            .get(app.url(&format!("/v1/invitations/{a_token}"))),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(
        app.send(
            app.client
                .get(app.url(&format!("/v1/invitations/{new_token}")))
        )
        .await
        .status,
        200
    );
    assert_eq!(app.rows("outbox", "status = 'queued'").await, 1);
    assert_eq!(
        app.rows("outbox", "status = 'superseded' AND text_body IS NULL")
            .await,
        1
    );

    // Cancel: the token stops working at once.
    let r = app
        .call(
            "DELETE",
            &format!("{base}/{b_id}"),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let preview = app
        .send(
            app.client
                .get(app.url(&format!("/v1/invitations/{b_token}"))),
        )
        .await;
    assert_eq!(preview.body["status"], "revoked");
    app.post(
        &format!("/v1/invitations/{b_token}/accept"),
        None,
        json!({"name": "B", "password": "long enough"}),
    )
    .await
    .assert_problem(409, "invitation_revoked");
    app.call(
        "DELETE",
        &format!("{base}/{b_id}"),
        Some(&owner.access),
        None,
    )
    .await
    .assert_problem(409, "invitation_revoked");

    // Listing by status, pending by default.
    let pending = app.get(&base, &owner.access).await;
    assert_eq!(pending.body["total"], 1);
    assert_eq!(pending.body["data"][0]["id"], a_id);
    let revoked = app
        .get(&format!("{base}?status=revoked"), &owner.access)
        .await;
    assert_eq!(revoked.body["total"], 1);
    app.get(&format!("{base}?status=lost"), &owner.access)
        .await
        .assert_problem(400, "invalid_query");

    // Expiry is a matter of time (and the owner needs a fresh sign-in after a month).
    app.clock.advance(Duration::from_secs(31 * 86400));
    let owner = fresh(&app, owner).await;
    let expired = app
        .get(&format!("{base}?status=expired"), &owner.access)
        .await;
    assert_eq!(expired.body["total"], 1);
    assert_eq!(expired.body["data"][0]["status"], "expired");
    assert_eq!(app.get(&base, &owner.access).await.body["total"], 0);
    app.call(
        "PATCH",
        &format!("{base}/{a_id}"),
        Some(&owner.access),
        Some(json!({})),
    )
    .await
    .assert_problem(409, "invitation_expired");
    app.post(
        &format!("/v1/invitations/{new_token}/accept"),
        None,
        json!({"name": "A", "password": "long enough"}),
    )
    .await
    .assert_problem(409, "invitation_expired");
    // Resending revives it with a fresh token.
    let r = app
        .post(
            &format!("{base}/{a_id}/resend"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("pending"))
    );
    for action in [
        "invitation.created",
        "invitation.extended",
        "invitation.resent",
        "invitation.revoked",
    ] {
        assert!(
            app.rows("audit_events", &format!("action = '{action}'"))
                .await
                >= 1,
            "{action} not audited"
        );
    }
}

async fn inviting_follows_the_rules(app: TestApp) {
    let (owner, ws) = setup(&app).await;
    let admin = app.signup("admin@example.com", "Admin").await;
    let editor = app.signup("editor@example.com", "Editor").await;
    app.add(&owner.access, &ws, &admin, "admin").await;
    app.add(&owner.access, &ws, &editor, "editor").await;
    let base = format!("/v1/workspaces/{ws}/invitations");
    app.post(
        &base,
        Some(&admin.access),
        json!({"email": "x@example.com", "role": "owner"}),
    )
    .await
    .assert_problem(403, "cannot_grant_owner");
    app.post(
        &base,
        Some(&editor.access),
        json!({"email": "x@example.com", "role": "viewer"}),
    )
    .await
    .assert_problem(403, "insufficient_role");
    app.post(
        &base,
        Some(&admin.access),
        json!({"email": "ADMIN@example.com", "role": "viewer"}),
    )
    .await
    .assert_problem(409, "cannot_invite_self");
    app.post(
        &base,
        Some(&admin.access),
        json!({"email": "editor@example.com", "role": "viewer"}),
    )
    .await
    .assert_problem(409, "already_member");
    for body in [
        json!({"email": "not-an-email", "role": "viewer"}),
        json!({"email": "x@example.com", "role": "chief"}),
        json!({"email": "x@example.com", "role": "viewer", "expires_in_days": 0}),
        json!({"email": "x@example.com", "role": "viewer", "expires_in_days": 91}),
        json!({"email": "x@example.com", "role": "viewer", "status": "accepted"}),
    ] {
        app.post(&base, Some(&admin.access), body)
            .await
            .assert_problem(422, "validation_failed");
    }
    // Inviting the same email again replaces the pending invitation.
    let first = invite(
        &app,
        &admin.access,
        &ws,
        json!({"email": "twice@example.com", "role": "viewer"}),
    )
    .await;
    let second = invite(
        &app,
        &owner.access,
        &ws,
        json!({"email": "TWICE@example.com", "role": "editor"}),
    )
    .await;
    assert_eq!(
        app.rows(
            "invitations",
            "email_key = 'twice@example.com' AND status = 'pending'"
        )
        .await,
        1
    );
    let old = app
        .send(app.client.get(app.url(&format!(
            "/v1/invitations/{}",
            first["token"].as_str().expect("t")
        ))))
        .await;
    assert_eq!(old.body["status"], "revoked");
    assert_eq!(app.rows("invitations", "").await, 2);
    assert_eq!(second["role"], "editor");
}

async fn accepting_signed_in_requires_the_invited_email_and_spends_the_token(app: TestApp) {
    let (owner, ws) = setup(&app).await;
    let invitee = app.signup("invitee@example.com", "Invitee").await;
    let tagged = app.signup("invitee+tag@example.com", "Tagged").await;
    let inv = invite(
        &app,
        &owner.access,
        &ws,
        json!({"email": "Invitee@EXAMPLE.com", "role": "editor"}),
    )
    .await;
    let token = inv["token"].as_str().expect("t");
    let accept = format!("/v1/invitations/{token}/accept");

    app.call("POST", &accept, Some(&tagged.access), None)
        .await
        .assert_problem(409, "invitation_email_mismatch");
    app.call("POST", &accept, Some(&owner.access), None)
        .await
        .assert_problem(409, "invitation_email_mismatch");
    // Not signed in, but the account exists: sign in first.
    app.call("POST", &accept, None, None)
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(app.role_in_db(&ws, &invitee.id).await, None);

    let r = app.call("POST", &accept, Some(&invitee.access), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["role"], "editor");
    assert_eq!(r.body["workspace_id"], ws.as_str());
    assert!(r.body.get("access_token").is_none());
    assert_eq!(
        app.role_in_db(&ws, &invitee.id).await.as_deref(),
        Some("editor")
    );
    let me = app.get("/v1/me", &invitee.access).await;
    assert_eq!(me.body["primary_workspace_id"], ws.as_str());
    assert_eq!(me.body["email_verified"], true);
    app.call("POST", &accept, Some(&invitee.access), None)
        .await
        .assert_problem(409, "invitation_accepted");
    assert_eq!(
        app.rows(
            "memberships",
            "user_id IN (SELECT id FROM users WHERE email_key = 'invitee@example.com')"
        )
        .await,
        2
    );
    assert_eq!(
        app.rows("audit_events", "action = 'invitation.accepted'")
            .await,
        1
    );
    let ws_now = app
        .get(&format!("/v1/workspaces/{ws}"), &owner.access)
        .await;
    assert_eq!(ws_now.body["member_count"], 2);
}

async fn accepting_without_an_account_creates_one_and_signs_in(app: TestApp) {
    let (owner, ws) = setup(&app).await;
    let inv = invite(
        &app,
        &owner.access,
        &ws,
        json!({"email": "Fresh@Example.com", "role": "viewer"}),
    )
    .await;
    let token = inv["token"].as_str().expect("t");
    let accept = format!("/v1/invitations/{token}/accept");
    app.call("POST", &accept, None, None)
        .await
        .assert_problem(422, "validation_failed");
    app.post(&accept, None, json!({"name": "Fresh", "password": "short"}))
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(
        app.rows("users", "email_key = 'fresh@example.com'").await,
        0
    );
    let r = app
        .post(
            &accept,
            None,
            json!({"name": "Fresh Face", "password": "long enough"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["role"], "viewer");
    let access = r.body["access_token"].as_str().expect("access");
    assert!(r.body["refresh_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("rt_")));
    let me = app.get("/v1/me", access).await;
    assert_eq!(me.body["email"], "Fresh@Example.com");
    assert_eq!(me.body["email_verified"], true);
    assert_eq!(me.body["primary_workspace_id"], ws.as_str());
    assert_eq!(
        app.get(&format!("/v1/workspaces/{ws}"), access).await.body["my_role"],
        "viewer"
    );
    app.login("fresh@example.com", "long enough").await;
    app.post(
        &accept,
        None,
        json!({"name": "Again", "password": "long enough"}),
    )
    .await
    .assert_problem(409, "invitation_accepted");
    assert_eq!(
        app.rows("users", "email_key = 'fresh@example.com'").await,
        1
    );
}

async fn accepting_rechecks_expiry_and_the_inviters_authority(app: TestApp) {
    let (owner, ws) = setup(&app).await;
    let admin = app
        .signup("inviting-admin@example.com", "Inviting Admin")
        .await;
    app.add(&owner.access, &ws, &admin, "admin").await;
    let by_admin = invite(
        &app,
        &admin.access,
        &ws,
        json!({"email": "late@example.com", "role": "admin"}),
    )
    .await;
    let soon = invite(
        &app,
        &owner.access,
        &ws,
        json!({"email": "slow@example.com", "role": "viewer", "expires_in_days": 1}),
    )
    .await;
    // The admin who invited is demoted: their invitation can no longer be accepted.
    app.set_role(&owner.access, &ws, &admin.id, "editor").await;
    app.post(
        &format!(
            "/v1/invitations/{}/accept",
            by_admin["token"].as_str().expect("t")
        ),
        None,
        json!({"name": "Late", "password": "long enough"}),
    )
    .await
    .assert_problem(409, "inviter_lost_authority");
    assert_eq!(
        app.rows("users", "email_key = 'late@example.com'").await,
        0,
        "no account left behind"
    );
    app.clock.advance(Duration::from_secs(86400 + 1));
    let owner = fresh(&app, owner).await;
    app.post(
        &format!(
            "/v1/invitations/{}/accept",
            soon["token"].as_str().expect("t")
        ),
        None,
        json!({"name": "Slow", "password": "long enough"}),
    )
    .await
    .assert_problem(409, "invitation_expired");
    app.send(app.client.get(app.url("/v1/invitations/inv_unknown")))
        .await
        .assert_problem(404, "not_found");
    app.post(
        "/v1/invitations/not-a-token/accept",
        None,
        json!({"name": "X", "password": "long enough"}),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(
        app.get(&format!("/v1/workspaces/{ws}"), &owner.access)
            .await
            .body["member_count"],
        2
    );
}

async fn declining_ends_the_invitation_and_my_invitations_lists_only_pending_ones(app: TestApp) {
    let (owner, ws) = setup(&app).await;
    let other = app.signup("other-owner@example.com", "Other").await;
    let other_ws = app.workspace(&other.access, "Other Co").await;
    let person = app.signup("wanted@example.com", "Wanted").await;
    let one = invite(
        &app,
        &owner.access,
        &ws,
        json!({"email": "wanted@example.com", "role": "viewer"}),
    )
    .await;
    invite(
        &app,
        &other.access,
        other_ws["id"].as_str().expect("id"),
        json!({"email": "WANTED@example.com", "role": "editor"}),
    )
    .await;
    let mine = app.get("/v1/me/invitations", &person.access).await;
    assert_eq!(mine.body["total"], 2, "{}", mine.text);
    assert!(!mine.text.contains("inv_"), "tokens never listed");
    let names: Vec<&str> = mine.body["data"]
        .as_array()
        .expect("d")
        .iter()
        .map(|p| p["workspace_name"].as_str().expect("n"))
        .collect();
    assert_eq!(names, ["Invitees Inc", "Other Co"]);

    let token = one["token"].as_str().expect("t");
    let r = app
        .post(&format!("/v1/invitations/{token}/decline"), None, json!({}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.call(
        "POST",
        &format!("/v1/invitations/{token}/accept"),
        Some(&person.access),
        None,
    )
    .await
    .assert_problem(409, "invitation_declined");
    app.post(&format!("/v1/invitations/{token}/decline"), None, json!({}))
        .await
        .assert_problem(409, "invitation_declined");
    assert_eq!(
        app.get("/v1/me/invitations", &person.access).await.body["total"],
        1
    );
    assert_eq!(app.rows("invitations", "status = 'declined'").await, 1);
    assert_eq!(
        app.rows("audit_events", "action = 'invitation.declined'")
            .await,
        1
    );
}

async fn bulk_invitations_answer_row_by_row(app: TestApp) {
    let (owner, ws) = setup(&app).await;
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations/bulk"),
            Some(&owner.access),
            json!({"invitations": [
                {"email": "one@example.com", "role": "viewer"},
                {"email": "inviter@example.com", "role": "viewer"},
                {"email": "two@example.com", "role": "editor", "send_email": false},
                {"email": "bad", "role": "viewer"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.body["created"].as_u64(), r.body["failed"].as_u64()),
        (Some(2), Some(2))
    );
    let rows = r.body["results"].as_array().expect("results");
    assert_eq!(rows[0]["status"], 201);
    assert!(rows[0]["invitation"]["token"]
        .as_str()
        .is_some_and(|t| t.starts_with("inv_")));
    assert_eq!(rows[1]["status"], 409);
    assert_eq!(rows[1]["error"]["code"], "cannot_invite_self");
    assert_eq!(rows[3]["status"], 422);
    assert_eq!(app.rows("invitations", "status = 'pending'").await, 2);
    assert_eq!(app.rows("outbox", "").await, 1);
    app.post(
        &format!("/v1/workspaces/{ws}/invitations/bulk"),
        Some(&owner.access),
        json!({"invitations": []}),
    )
    .await
    .assert_problem(422, "validation_failed");
}

async fn the_accept_page_works_without_javascript(app: TestApp) {
    let (owner, ws) = setup(&app).await;
    app.call(
        "PATCH",
        &format!("/v1/workspaces/{ws}"),
        Some(&owner.access),
        Some(json!({"name": "<b>Bold</b> & Co"})),
    )
    .await;
    let existing = app.signup("has-account@example.com", "Has Account").await;
    let for_new = invite(
        &app,
        &owner.access,
        &ws,
        json!({"email": "page@example.com", "role": "editor"}),
    )
    .await;
    let for_existing = invite(
        &app,
        &owner.access,
        &ws,
        json!({"email": "has-account@example.com", "role": "viewer"}),
    )
    .await;
    let t_new = for_new["token"].as_str().expect("t");
    let t_existing = for_existing["token"].as_str().expect("t");

    let page = app
        .send(app.client.get(app.url(&format!("/invite/{t_new}"))))
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    assert!(page.text.contains("<form method=\"post\">"));
    assert!(
        page.text.contains("name=\"name\""),
        "asks a new person for a name"
    );
    assert!(
        !page.text.contains("<b>Bold</b>"),
        "workspace name not escaped"
    );
    assert!(page.text.contains("Bold"));

    let form = |token: &str, fields: &[(&str, &str)]| {
        app.client
            .post(app.url(&format!("/invite/{token}")))
            .form(fields)
    };
    let r = app
        .send(form(
            t_new,
            &[
                ("action", "accept"),
                ("name", "Page Person"),
                ("password", "short"),
            ],
        ))
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("at least 8"), "{}", r.text);
    let r = app
        .send(form(
            t_new,
            &[
                ("action", "accept"),
                ("name", "Page Person"),
                ("password", "long enough"),
            ],
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("You joined"), "{}", r.text);
    assert_eq!(
        app.rows("users", "email_key = 'page@example.com' AND email_verified")
            .await,
        1
    );
    let gone = app
        .send(app.client.get(app.url(&format!("/invite/{t_new}"))))
        .await;
    assert_eq!(gone.status, 410);

    // An existing account signs in with its password on the page.
    let page = app
        .send(app.client.get(app.url(&format!("/invite/{t_existing}"))))
        .await;
    assert!(!page.text.contains("name=\"name\"") && page.text.contains("current-password"));
    let r = app
        .send(form(
            t_existing,
            &[("action", "accept"), ("password", "wrong password")],
        ))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(app.role_in_db(&ws, &existing.id).await, None);
    let r = app.send(form(t_existing, &[("action", "decline")])).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("declined"));
    assert_eq!(app.rows("invitations", "status = 'declined'").await, 1);

    let missing = app.send(app.client.get(app.url("/invite/inv_nope"))).await;
    assert_eq!(missing.status, 404);
    assert!(missing.text.contains("not valid"));
}

async fn the_accept_page_refuses_a_form_another_site_posts(app: TestApp) {
    let (owner, ws) = setup(&app).await;
    let inv = invite(
        &app,
        &owner.access,
        &ws,
        json!({"email": "csrf@example.com", "role": "editor"}),
    )
    .await;
    let token = inv["token"].as_str().expect("token");
    let fields = [
        ("action", "accept"),
        ("name", "Mallory"),
        ("password", "long enough"),
    ];
    let post = || {
        app.client
            .post(app.url(&format!("/invite/{token}")))
            .form(&fields)
    };
    let before = app.census().await;
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "https://attacker.example"),
    ] {
        let r = app.send(post().header(name, value)).await;
        assert_eq!(r.status, 403, "{name}: {value}: {}", r.text);
        assert!(r.text.contains("Request refused"), "{}", r.text);
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    }
    assert_eq!(app.census().await, before);
    assert_eq!(app.rows("users", "email_key = 'csrf@example.com'").await, 0);
    assert_eq!(app.rows("invitations", "status = 'pending'").await, 1);

    // The page's own form: Chromium sends `same-origin` (and `Origin: null`, no-referrer).
    let r = app
        .send(
            post()
                .header("sec-fetch-site", "same-origin")
                .header("origin", "null"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.rows("users", "email_key = 'csrf@example.com'").await, 1);
}

async fn an_smtp_outage_delays_mail_but_loses_none(app: TestApp) {
    let sink = SmtpSink::start();
    let mailing = app
        .another_on_same_database(|s| s.smtp_url = Some(sink.url()))
        .await;
    let (owner, ws) = setup(&app).await;
    sink.refuse(true);
    let mut tokens = Vec::new();
    for i in 0..5 {
        let inv = invite(
            &app,
            &owner.access,
            &ws,
            json!({"email": format!("outage{i}@example.com"), "role": "viewer"}),
        )
        .await;
        tokens.push(inv["token"].as_str().expect("t").to_owned());
    }
    for _ in 0..3 {
        let round = mailing.deliver().await;
        assert_eq!(round.sent, 0);
        // Retries wait for their backoff; move time past it.
        mailing.clock.advance(Duration::from_secs(3600));
    }
    assert!(sink.messages().is_empty());
    assert_eq!(
        app.rows(
            "outbox",
            "status = 'queued' AND attempts >= 2 AND last_error IS NOT NULL"
        )
        .await,
        5
    );
    sink.refuse(false);
    let round = mailing.deliver().await;
    assert_eq!(round.sent, 5);
    assert_eq!(mailing.deliver().await.sent, 0);
    let messages = sink.messages();
    assert_eq!(messages.len(), 5);
    let mut delivered: Vec<String> = messages.iter().flat_map(|m| tokens_in(m)).collect();
    delivered.sort();
    tokens.sort();
    assert_eq!(
        delivered, tokens,
        "each invitation's email arrived exactly once"
    );
    let metrics = app.send(app.client.get(app.url("/metrics"))).await.text;
    assert!(metrics.contains("mail_failed_total"), "{metrics}");
}

async fn a_sender_that_died_mid_delivery_never_causes_one_token_to_be_delivered_twice(
    app: TestApp,
) {
    let sink = SmtpSink::start();
    let mailing = app
        .another_on_same_database(|s| s.smtp_url = Some(sink.url()))
        .await;
    let (owner, ws) = setup(&app).await;
    let inv = invite(
        &app,
        &owner.access,
        &ws,
        json!({"email": "crash@example.com", "role": "viewer"}),
    )
    .await;
    let old_token = inv["token"].as_str().expect("t").to_owned();
    // A worker claims the message and dies before recording the outcome.
    let store = &app.state.core.store;
    let mut tx = store.write().await.expect("begin");
    let claimed = tx
        .claim_outbox(app.state.core.clock.now(), 10)
        .await
        .expect("claim");
    tx.commit().await.expect("commit");
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        mailing.deliver().await.sent,
        0,
        "a fresh claim is left to its owner"
    );
    mailing.clock.advance(Duration::from_secs(6 * 60));
    let round = mailing.deliver().await;
    assert_eq!(round.reissued, 1);
    assert_eq!(
        mailing.deliver().await.sent,
        1,
        "the reissued mail goes out on the next round"
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let sent = tokens_in(&messages[0]);
    assert_eq!(sent.len(), 1);
    assert_ne!(
        sent[0], old_token,
        "the possibly delivered token is never sent again"
    );
    // The old token is dead; the new one works.
    app.send(
        app.client
            .get(app.url(&format!("/v1/invitations/{old_token}"))),
    )
    .await
    .assert_problem(404, "not_found");
    let r = app
        .post(
            &format!("/v1/invitations/{}/accept", sent[0]),
            None,
            json!({"name": "Crash", "password": "long enough"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}
