//! Ownership transfer: an owner proposes, the member accepts or declines, the proposer or an
//! owner cancels; expiry, staleness, the refusals, the emails, and the database after each.

use serde_json::{json, Value};

use crate::{
    helpers::{Account, TestApp},
    on_both_databases,
    smtp::SmtpSink,
};

on_both_databases!(
    an_accepted_transfer_makes_the_member_owner_and_the_proposer_admin_and_emails_both,
    keeping_ownership_leaves_the_proposer_an_owner_beside_the_new_one,
    a_declined_transfer_changes_no_role_and_makes_room_for_another,
    the_proposer_or_another_owner_cancels_and_no_one_else_may,
    an_expired_transfer_is_refused_as_gone_and_is_no_longer_pending,
    proposing_follows_the_rules_and_a_refusal_changes_nothing,
    only_the_proposed_member_answers_and_others_see_no_transfer,
    a_transfer_goes_stale_when_its_proposer_is_demoted_or_its_target_removed,
    a_proposer_demoted_by_the_transfer_loses_their_sessions_bound_to_the_workspace,
);

/// A workspace owned by `owner@` with a second owner, an admin, an editor (the usual target)
/// and a viewer.
struct Team {
    ws: String,
    owner: Account,
    co_owner: Account,
    admin: Account,
    target: Account,
    viewer: Account,
}

async fn team(app: &TestApp) -> Team {
    let owner = app.signup("owner@example.com", "Olga Owner").await;
    let ws = app.workspace(&owner.access, "Handover Ltd").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let co_owner = app.signup("co@example.com", "Cora Co").await;
    let admin = app.signup("admin@example.com", "Adam Admin").await;
    let target = app.signup("target@example.com", "Tess Target").await;
    let viewer = app.signup("viewer@example.com", "Vic Viewer").await;
    app.add(&owner.access, &ws, &co_owner, "owner").await;
    app.add(&owner.access, &ws, &admin, "admin").await;
    app.add(&owner.access, &ws, &target, "editor").await;
    app.add(&owner.access, &ws, &viewer, "viewer").await;
    Team {
        ws,
        owner,
        co_owner,
        admin,
        target,
        viewer,
    }
}

fn path(ws: &str, rest: &str) -> String {
    format!("/v1/workspaces/{ws}/ownership-transfer{rest}")
}

async fn propose(app: &TestApp, ws: &str, by: &Account, to: &Account, keep: bool) -> Value {
    let r = app
        .post(
            &path(ws, ""),
            Some(&by.access),
            json!({"user_id": to.id, "keep_ownership": keep}),
        )
        .await;
    assert_eq!(r.status, 201, "propose: {}", r.text);
    r.body
}

/// The transfer rows of a workspace with this status.
async fn transfers(app: &TestApp, ws: &str, status: &str) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) FROM ownership_transfers WHERE workspace_id = $1 AND status = '{status}'"
    );
    app.raw.count_with(&sql, id(ws)).await
}

/// The number of owners of a workspace in the database.
async fn owners(app: &TestApp, ws: &str) -> i64 {
    let sql = "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'";
    app.raw.count_with(sql, id(ws)).await
}

fn id(text: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(text).expect("uuid")
}

async fn events(app: &TestApp, action: &str) -> i64 {
    app.rows("audit_events", &format!("action = '{action}'"))
        .await
}

async fn an_accepted_transfer_makes_the_member_owner_and_the_proposer_admin_and_emails_both(
    app: TestApp,
) {
    let sink = SmtpSink::start();
    let mailing = app
        .another_on_same_database(|s| s.smtp_url = Some(sink.url()))
        .await;
    let t = team(&app).await;
    let r = app
        .post(
            &path(&t.ws, ""),
            Some(&t.owner.access),
            json!({"user_id": t.target.id}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("location"), Some(path(&t.ws, "").as_str()));
    let proposal = r.body.clone();
    assert_eq!(proposal["workspace_id"], t.ws.as_str());
    assert_eq!(proposal["from_user_id"], t.owner.id.as_str());
    assert_eq!(proposal["to_user_id"], t.target.id.as_str());
    assert_eq!(proposal["keep_ownership"], false);
    assert_eq!(proposal["status"], "pending");
    assert_eq!(proposal["decided_at"], Value::Null);
    let at = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().expect("time")).expect("rfc 3339")
    };
    assert_eq!(
        at(&proposal["expires_at"]) - at(&proposal["created_at"]),
        chrono::Duration::days(7)
    );
    assert!(proposal["created_at"].as_str().expect("t").ends_with('Z'));
    assert_eq!(transfers(&app, &t.ws, "pending").await, 1);
    assert_eq!(
        events(&app, "workspace.ownership_transfer_proposed").await,
        1
    );
    assert_eq!(
        app.rows(
            "outbox",
            "status = 'queued' AND recipient = 'target@example.com'"
        )
        .await,
        1,
        "the proposal is queued for the target in the same transaction"
    );
    for reader in [&t.owner, &t.co_owner, &t.target] {
        let r = app.get(&path(&t.ws, ""), &reader.access).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, proposal);
    }

    let r = app
        .post(&path(&t.ws, "/accept"), Some(&t.target.access), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], proposal["id"]);
    assert_eq!(r.body["status"], "accepted");
    assert!(r.body["decided_at"].is_string());
    assert_eq!(
        app.role_in_db(&t.ws, &t.target.id).await.as_deref(),
        Some("owner")
    );
    assert_eq!(
        app.role_in_db(&t.ws, &t.owner.id).await.as_deref(),
        Some("admin")
    );
    assert_eq!(
        app.role_in_db(&t.ws, &t.co_owner.id).await.as_deref(),
        Some("owner")
    );
    assert_eq!(transfers(&app, &t.ws, "accepted").await, 1);
    assert_eq!(transfers(&app, &t.ws, "pending").await, 0);
    assert_eq!(events(&app, "workspace.ownership_transferred").await, 1);
    assert_eq!(
        events(&app, "member.role_changed").await,
        0,
        "the transfer is one event"
    );
    let after = app
        .get(
            &format!(
                "/v1/workspaces/{}/audit-events?action=workspace.ownership_transferred",
                t.ws
            ),
            &t.target.access,
        )
        .await;
    assert_eq!(after.status, 200, "{}", after.text);
    let event = &after.body["data"][0];
    assert_eq!(event["before"]["to"]["role"], "editor", "{event}");
    assert_eq!(event["after"]["to"]["role"], "owner", "{event}");
    assert_eq!(event["before"]["from"]["role"], "owner", "{event}");
    assert_eq!(event["after"]["from"]["role"], "admin", "{event}");
    app.get(&path(&t.ws, ""), &t.target.access)
        .await
        .assert_problem(404, "no_pending_transfer");

    let round = mailing.deliver().await;
    assert_eq!((round.sent, round.failed), (3, 0));
    let messages = sink.messages();
    let to = |who: &str| {
        messages
            .iter()
            .filter(|m| m.contains(&format!("To: {who}")))
            .cloned()
            .collect::<Vec<_>>()
    };
    let target_mail = to("target@example.com");
    assert_eq!(target_mail.len(), 2, "{messages:?}");
    assert!(
        target_mail
            .iter()
            .any(|m| m.contains("Olga Owner asks you to take over Handover Ltd")),
        "{target_mail:?}"
    );
    assert!(
        target_mail
            .iter()
            .any(|m| m.contains("The ownership of Handover Ltd has changed")),
        "{target_mail:?}"
    );
    let owner_mail = to("owner@example.com");
    assert_eq!(owner_mail.len(), 1, "{messages:?}");
    assert!(owner_mail[0].contains("The ownership of Handover Ltd has changed"));
    assert!(owner_mail[0].contains("Tess Target"), "{}", owner_mail[0]);
}

async fn keeping_ownership_leaves_the_proposer_an_owner_beside_the_new_one(app: TestApp) {
    let t = team(&app).await;
    let proposal = propose(&app, &t.ws, &t.owner, &t.admin, true).await;
    assert_eq!(proposal["keep_ownership"], true);
    let r = app
        .post(&path(&t.ws, "/accept"), Some(&t.admin.access), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for who in [&t.owner, &t.co_owner, &t.admin] {
        assert_eq!(
            app.role_in_db(&t.ws, &who.id).await.as_deref(),
            Some("owner")
        );
    }
    assert_eq!(owners(&app, &t.ws).await, 3);
    assert_eq!(
        app.rows(
            "outbox",
            "status = 'queued' AND subject LIKE 'The ownership of%'"
        )
        .await,
        2
    );
}

async fn a_declined_transfer_changes_no_role_and_makes_room_for_another(app: TestApp) {
    let t = team(&app).await;
    propose(&app, &t.ws, &t.owner, &t.target, false).await;
    let r = app
        .post(&path(&t.ws, "/decline"), Some(&t.target.access), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "declined");
    assert!(r.body["decided_at"].is_string());
    assert_eq!(
        app.role_in_db(&t.ws, &t.target.id).await.as_deref(),
        Some("editor")
    );
    assert_eq!(
        app.role_in_db(&t.ws, &t.owner.id).await.as_deref(),
        Some("owner")
    );
    assert_eq!(transfers(&app, &t.ws, "declined").await, 1);
    assert_eq!(
        events(&app, "workspace.ownership_transfer_declined").await,
        1
    );
    app.post(&path(&t.ws, "/accept"), Some(&t.target.access), json!({}))
        .await
        .assert_problem(404, "no_pending_transfer");
    app.post(&path(&t.ws, "/decline"), Some(&t.target.access), json!({}))
        .await
        .assert_problem(404, "no_pending_transfer");
    propose(&app, &t.ws, &t.owner, &t.target, false).await;
    assert_eq!(transfers(&app, &t.ws, "pending").await, 1);
}

async fn the_proposer_or_another_owner_cancels_and_no_one_else_may(app: TestApp) {
    let t = team(&app).await;
    propose(&app, &t.ws, &t.owner, &t.target, false).await;
    app.post(&path(&t.ws, "/cancel"), Some(&t.target.access), json!({}))
        .await
        .assert_problem(403, "owner_only");
    app.call("DELETE", &path(&t.ws, ""), Some(&t.admin.access), None)
        .await
        .assert_problem(404, "no_pending_transfer");
    assert_eq!(transfers(&app, &t.ws, "pending").await, 1);
    let r = app
        .post(&path(&t.ws, "/cancel"), Some(&t.co_owner.access), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "cancelled");
    app.post(&path(&t.ws, "/accept"), Some(&t.target.access), json!({}))
        .await
        .assert_problem(404, "no_pending_transfer");

    propose(&app, &t.ws, &t.owner, &t.target, false).await;
    let r = app
        .call("DELETE", &path(&t.ws, ""), Some(&t.owner.access), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(transfers(&app, &t.ws, "cancelled").await, 2);
    assert_eq!(transfers(&app, &t.ws, "pending").await, 0);
    assert_eq!(
        events(&app, "workspace.ownership_transfer_cancelled").await,
        2
    );
    assert_eq!(
        app.role_in_db(&t.ws, &t.target.id).await.as_deref(),
        Some("editor")
    );
}

async fn an_expired_transfer_is_refused_as_gone_and_is_no_longer_pending(app: TestApp) {
    let t = team(&app).await;
    let proposal = propose(&app, &t.ws, &t.owner, &t.target, false).await;
    let id = uuid::Uuid::parse_str(proposal["id"].as_str().expect("id")).expect("uuid");
    let moved = app
        .raw
        .execute_with(
            "UPDATE ownership_transfers SET expires_at = created_at WHERE id = $1",
            id,
        )
        .await;
    assert_eq!(moved, 1);
    for reader in [&t.owner, &t.target] {
        app.get(&path(&t.ws, ""), &reader.access)
            .await
            .assert_problem(404, "no_pending_transfer");
    }
    app.post(&path(&t.ws, "/accept"), Some(&t.target.access), json!({}))
        .await
        .assert_problem(410, "transfer_expired");
    assert_eq!(transfers(&app, &t.ws, "expired").await, 1);
    assert_eq!(transfers(&app, &t.ws, "pending").await, 0);
    assert_eq!(
        events(&app, "workspace.ownership_transfer_expired").await,
        1
    );
    assert_eq!(
        app.role_in_db(&t.ws, &t.target.id).await.as_deref(),
        Some("editor")
    );
    assert_eq!(
        app.role_in_db(&t.ws, &t.owner.id).await.as_deref(),
        Some("owner")
    );
    app.post(&path(&t.ws, "/accept"), Some(&t.target.access), json!({}))
        .await
        .assert_problem(404, "no_pending_transfer");

    // An expired proposal nobody touched does not block a new one: it is closed to make room.
    let second = propose(&app, &t.ws, &t.owner, &t.target, false).await;
    let id = uuid::Uuid::parse_str(second["id"].as_str().expect("id")).expect("uuid");
    app.raw
        .execute_with(
            "UPDATE ownership_transfers SET expires_at = created_at WHERE id = $1",
            id,
        )
        .await;
    propose(&app, &t.ws, &t.co_owner, &t.admin, false).await;
    assert_eq!(transfers(&app, &t.ws, "expired").await, 2);
    assert_eq!(transfers(&app, &t.ws, "pending").await, 1);
}

async fn proposing_follows_the_rules_and_a_refusal_changes_nothing(app: TestApp) {
    let t = team(&app).await;
    let outsider = app.signup("outsider@example.com", "Otto Outsider").await;
    let before = app.census().await;
    let post = |by: &Account, body: Value| {
        let (app, ws, access) = (&app, t.ws.clone(), by.access.clone());
        async move { app.post(&path(&ws, ""), Some(&access), body).await }
    };
    for non_owner in [&t.admin, &t.target, &t.viewer] {
        post(non_owner, json!({"user_id": t.viewer.id}))
            .await
            .assert_problem(403, "owner_only");
    }
    post(&outsider, json!({"user_id": t.target.id}))
        .await
        .assert_problem(404, "not_found");
    let r = post(&t.owner, json!({"user_id": outsider.id})).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "user_id", "{}", r.text);
    assert_eq!(r.body["errors"][0]["code"], "not_a_member", "{}", r.text);
    let r = post(&t.owner, json!({"user_id": t.owner.id})).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "cannot_transfer_to_self");
    post(&t.owner, json!({"user_id": t.co_owner.id}))
        .await
        .assert_problem(409, "already_owner");
    let r = post(&t.owner, json!({"user_id": t.target.id, "role": "owner"})).await;
    assert!(
        r.status == 400 || r.status == 422,
        "unknown fields are refused: {} {}",
        r.status,
        r.text
    );
    let r = post(&t.owner, json!({"keep_ownership": true})).await;
    assert!(r.status == 400 || r.status == 422, "{}", r.text);
    assert_eq!(app.census().await, before, "refusals change nothing");
    assert_eq!(app.rows("ownership_transfers", "").await, 0);
    assert_eq!(app.rows("outbox", "").await, 0);

    propose(&app, &t.ws, &t.owner, &t.target, false).await;
    post(&t.co_owner, json!({"user_id": t.admin.id}))
        .await
        .assert_problem(409, "transfer_pending");
    post(&t.owner, json!({"user_id": t.target.id}))
        .await
        .assert_problem(409, "transfer_pending");
    assert_eq!(app.rows("ownership_transfers", "").await, 1);
    assert_eq!(app.rows("outbox", "").await, 1);
}

async fn only_the_proposed_member_answers_and_others_see_no_transfer(app: TestApp) {
    let t = team(&app).await;
    propose(&app, &t.ws, &t.owner, &t.target, false).await;
    for owner in [&t.owner, &t.co_owner] {
        for answer in ["/accept", "/decline"] {
            app.post(&path(&t.ws, answer), Some(&owner.access), json!({}))
                .await
                .assert_problem(403, "not_transfer_target");
        }
    }
    for bystander in [&t.admin, &t.viewer] {
        app.get(&path(&t.ws, ""), &bystander.access)
            .await
            .assert_problem(404, "no_pending_transfer");
        for answer in ["/accept", "/decline", "/cancel"] {
            app.post(&path(&t.ws, answer), Some(&bystander.access), json!({}))
                .await
                .assert_problem(404, "no_pending_transfer");
        }
    }
    assert_eq!(transfers(&app, &t.ws, "pending").await, 1);
    for who in [&t.admin, &t.viewer, &t.target] {
        assert_ne!(
            app.role_in_db(&t.ws, &who.id).await.as_deref(),
            Some("owner")
        );
    }
    assert_eq!(owners(&app, &t.ws).await, 2);
}

async fn a_transfer_goes_stale_when_its_proposer_is_demoted_or_its_target_removed(app: TestApp) {
    let t = team(&app).await;
    propose(&app, &t.ws, &t.owner, &t.target, false).await;
    app.set_role(&t.co_owner.access, &t.ws, &t.owner.id, "admin")
        .await;
    app.post(&path(&t.ws, "/accept"), Some(&t.target.access), json!({}))
        .await
        .assert_problem(409, "transfer_stale");
    assert_eq!(
        app.role_in_db(&t.ws, &t.target.id).await.as_deref(),
        Some("editor")
    );
    assert_eq!(
        app.role_in_db(&t.ws, &t.owner.id).await.as_deref(),
        Some("admin")
    );
    assert_eq!(transfers(&app, &t.ws, "cancelled").await, 1);
    assert_eq!(transfers(&app, &t.ws, "pending").await, 0);
    assert_eq!(
        app.rows(
            "audit_events",
            "action = 'workspace.ownership_transfer_cancelled' AND after LIKE '%stale%'"
        )
        .await,
        1
    );
    // Made owner again, the former proposer's old proposal stays dead.
    app.set_role(&t.co_owner.access, &t.ws, &t.owner.id, "owner")
        .await;
    app.post(&path(&t.ws, "/accept"), Some(&t.target.access), json!({}))
        .await
        .assert_problem(404, "no_pending_transfer");

    // The target removed: the transfer can never be accepted, and a new proposal closes it.
    propose(&app, &t.ws, &t.co_owner, &t.target, false).await;
    let r = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{}/members/{}", t.ws, t.target.id),
            Some(&t.owner.access),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.post(&path(&t.ws, "/accept"), Some(&t.target.access), json!({}))
        .await
        .assert_problem(404, "not_found");
    propose(&app, &t.ws, &t.owner, &t.viewer, false).await;
    assert_eq!(transfers(&app, &t.ws, "cancelled").await, 2);
    assert_eq!(transfers(&app, &t.ws, "pending").await, 1);
    assert_eq!(owners(&app, &t.ws).await, 2);
}

async fn a_proposer_demoted_by_the_transfer_loses_their_sessions_bound_to_the_workspace(
    app: TestApp,
) {
    let t = team(&app).await;
    let ws = uuid::Uuid::parse_str(&t.ws).expect("ws");
    let bound = app
        .state
        .core
        .start_session(
            uuid::Uuid::parse_str(&t.owner.id).expect("id"),
            Some(ws),
            &Default::default(),
        )
        .await
        .expect("bound session");
    propose(&app, &t.ws, &t.owner, &t.target, false).await;
    let r = app
        .post(&path(&t.ws, "/accept"), Some(&t.target.access), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.get("/v1/me", &bound.tokens.access_token)
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(app.rows("sessions", "end_reason = 'role_lowered'").await, 1);
    let r = app
        .get(&format!("/v1/workspaces/{}", t.ws), &t.owner.access)
        .await;
    assert_eq!(
        (r.status, r.body["my_role"].as_str()),
        (200, Some("admin")),
        "the unbound session goes on, as an admin"
    );
}
