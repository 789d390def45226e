//! The audit log's hash chains: `GET /v1/workspaces/{ws}/audit-events/verify` finds an edited,
//! a deleted and a reordered event; parallel writers leave unbroken chains; retention keeps
//! what remains verifiable; SQLite's `synchronous` setting reaches every pooled connection.

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::{
    helpers::{Account, Db, Raw, Resp, TestApp},
    on_both_databases,
};

on_both_databases!(
    an_untouched_log_verifies_and_only_the_audit_readers_may_verify_it,
    an_event_edited_in_the_database_is_reported_as_content_edited,
    an_event_deleted_in_the_database_is_reported_as_missing,
    events_reordered_in_the_database_are_reported_as_reordered,
    parallel_writes_to_one_workspace_and_to_two_leave_every_chain_unbroken,
    retention_deletes_old_events_and_sent_mail_and_what_remains_still_verifies,
    without_retention_settings_nothing_is_deleted_however_old,
    the_sqlite_synchronous_setting_reaches_every_pooled_connection,
);

/// An owner, a workspace with five events in its chain (created, owner added, profile
/// changed, member added, role changed), and the member.
async fn workspace_with_history(app: &TestApp) -> (Account, Uuid, Account) {
    let owner = app.signup("chain-owner@example.com", "Owner").await;
    let member = app.signup("chain-member@example.com", "Member").await;
    let ws = app.workspace(&owner.access, "Chained").await;
    let id: Uuid = ws["id"].as_str().expect("id").parse().expect("uuid");
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{id}"),
            Some(&owner.access),
            Some(json!({"description": "first"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.add(&owner.access, &id.to_string(), &member, "viewer")
        .await;
    app.set_role(&owner.access, &id.to_string(), &member.id, "editor")
        .await;
    let events = app
        .raw
        .count_with(
            "SELECT COUNT(*) FROM audit_events WHERE workspace_id = $1",
            id,
        )
        .await;
    assert_eq!(events, 5);
    (owner, id, member)
}

async fn verify(app: &TestApp, ws: Uuid, token: &str) -> Resp {
    app.get(&format!("/v1/workspaces/{ws}/audit-events/verify"), token)
        .await
}

/// The id of the event at `seq` in a chain, read directly.
async fn event_at(raw: &Raw, chain: Uuid, seq: i64) -> Uuid {
    let sql = format!("SELECT id FROM audit_events WHERE chain_id = $1 AND seq = {seq}");
    match raw {
        Raw::Sqlite(p) => sqlx::query_scalar(&sql).bind(chain).fetch_one(p).await,
        Raw::Postgres(p) => sqlx::query_scalar(&sql).bind(chain).fetch_one(p).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn assert_broken(r: &Resp, seq: i64, problem: &str, event: Option<Uuid>) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["ok"], false, "{}", r.text);
    let broken = &r.body["broken"];
    assert_eq!(broken["seq"], seq, "{}", r.text);
    assert_eq!(broken["problem"], problem, "{}", r.text);
    assert!(broken["detail"].as_str().is_some_and(|d| !d.is_empty()));
    match event {
        Some(id) => assert_eq!(broken["event_id"], id.to_string(), "{}", r.text),
        None => assert!(broken["event_id"].is_null(), "{}", r.text),
    }
}

async fn an_untouched_log_verifies_and_only_the_audit_readers_may_verify_it(app: TestApp) {
    let (owner, ws, member) = workspace_with_history(&app).await;
    let r = verify(&app, ws, &owner.access).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["ok"], true, "{}", r.text);
    assert_eq!(r.body["checked"], 5);
    assert_eq!(r.body["first_seq"], 1);
    assert_eq!(r.body["head_seq"], 5);
    assert_eq!(r.body["unchained"], 0);
    assert!(r.body["broken"].is_null());
    // The head is the hash stored with the last event, and the chain in the database runs
    // 1..5 from the genesis hash.
    let head = r.body["head_hash"].as_str().expect("head").to_owned();
    assert_eq!(head.len(), 64);
    let last_hash = app
        .raw
        .count_with(
            &format!(
                "SELECT COUNT(*) FROM audit_events WHERE chain_id = $1 AND seq = 5 AND hash = '{head}'"
            ),
            ws,
        )
        .await;
    assert_eq!(last_hash, 1);
    let genesis = app
        .raw
        .count_with(
            &format!(
                "SELECT COUNT(*) FROM audit_events WHERE chain_id = $1 AND seq = 1 AND prev_hash = '{}'",
                roster::domain::chain::GENESIS
            ),
            ws,
        )
        .await;
    assert_eq!(genesis, 1);

    // An editor may not read the audit log, so may not verify it; a stranger does not see it.
    let r = verify(&app, ws, &member.access).await;
    r.assert_problem(403, "insufficient_role");
    let stranger = app.signup("chain-stranger@example.com", "S").await;
    verify(&app, ws, &stranger.access)
        .await
        .assert_problem(404, "not_found");
    let r = app
        .call(
            "GET",
            &format!("/v1/workspaces/{ws}/audit-events/verify"),
            None,
            None,
        )
        .await;
    r.assert_problem(401, "unauthenticated");
    // The operation is documented, with its problem documents.
    let doc = app.get("/v1/openapi.json", &owner.access).await;
    let op = &doc.body["paths"]["/v1/workspaces/{ws}/audit-events/verify"]["get"];
    assert!(op["responses"]["200"].is_object(), "{op}");
    assert!(
        op["responses"]["403"]["content"]["application/problem+json"].is_object(),
        "{op}"
    );
}

async fn an_event_edited_in_the_database_is_reported_as_content_edited(app: TestApp) {
    let (owner, ws, _) = workspace_with_history(&app).await;
    let edited = event_at(&app.raw, ws, 3).await;
    let changed = app
        .raw
        .execute_with(
            "UPDATE audit_events SET after = '{\"description\":\"forged\"}' \
             WHERE chain_id = $1 AND seq = 3",
            ws,
        )
        .await;
    assert_eq!(changed, 1);
    assert_broken(
        &verify(&app, ws, &owner.access).await,
        3,
        "content_edited",
        Some(edited),
    );
    // The list still shows the forged content: only the chain tells.
    let list = app
        .get(&format!("/v1/workspaces/{ws}/audit-events"), &owner.access)
        .await;
    assert!(list.text.contains("forged"), "{}", list.text);

    // Renumbering an event is an edit too: its seq is part of what its hash covers.
    app.raw
        .execute_with(
            "UPDATE audit_events SET after = '{\"description\":\"first\"}' \
             WHERE chain_id = $1 AND seq = 3",
            ws,
        )
        .await;
    assert_eq!(verify(&app, ws, &owner.access).await.body["ok"], true);
    app.raw
        .execute_with(
            "UPDATE audit_events SET ip = '203.0.113.9' WHERE chain_id = $1 AND seq = 1",
            ws,
        )
        .await;
    let first = event_at(&app.raw, ws, 1).await;
    assert_broken(
        &verify(&app, ws, &owner.access).await,
        1,
        "content_edited",
        Some(first),
    );
}

async fn an_event_deleted_in_the_database_is_reported_as_missing(app: TestApp) {
    let (owner, ws, _) = workspace_with_history(&app).await;
    let after_gap = event_at(&app.raw, ws, 4).await;
    let deleted = app
        .raw
        .execute_with(
            "DELETE FROM audit_events WHERE chain_id = $1 AND seq = 3",
            ws,
        )
        .await;
    assert_eq!(deleted, 1);
    let r = verify(&app, ws, &owner.access).await;
    assert_broken(&r, 4, "event_missing", Some(after_gap));
    assert_eq!(r.body["checked"], 3, "{}", r.text);

    // Deleting the newest event is seen against the chain's recorded head.
    let other_owner = app.signup("tail-owner@example.com", "T").await;
    let other = app.workspace(&other_owner.access, "Tail").await["id"]
        .as_str()
        .expect("id")
        .parse::<Uuid>()
        .expect("uuid");
    assert_eq!(
        verify(&app, other, &other_owner.access).await.body["ok"],
        true
    );
    app.raw
        .execute_with(
            "DELETE FROM audit_events WHERE chain_id = $1 AND seq = 2",
            other,
        )
        .await;
    assert_broken(
        &verify(&app, other, &other_owner.access).await,
        2,
        "event_missing",
        None,
    );
}

async fn events_reordered_in_the_database_are_reported_as_reordered(app: TestApp) {
    let (owner, ws, _) = workspace_with_history(&app).await;
    let (second, third) = (
        event_at(&app.raw, ws, 2).await,
        event_at(&app.raw, ws, 3).await,
    );
    // Swap the places of events 2 and 3 (through a free seq, the pair being unique).
    for sql in [
        "UPDATE audit_events SET seq = 1000 WHERE chain_id = $1 AND seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE chain_id = $1 AND seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE chain_id = $1 AND seq = 1000",
    ] {
        assert_eq!(app.raw.execute_with(sql, ws).await, 1, "{sql}");
    }
    assert_eq!(event_at(&app.raw, ws, 2).await, third);
    assert_broken(
        &verify(&app, ws, &owner.access).await,
        2,
        "reordered",
        Some(third),
    );

    // Swapping the ids (and so the order the list shows) instead changes what each hash
    // covers.
    for sql in [
        "UPDATE audit_events SET seq = 1000 WHERE chain_id = $1 AND seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE chain_id = $1 AND seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE chain_id = $1 AND seq = 1000",
    ] {
        app.raw.execute_with(sql, ws).await;
    }
    assert_eq!(verify(&app, ws, &owner.access).await.body["ok"], true);
    let placeholder = Uuid::now_v7();
    for (id, seq) in [(placeholder, 2), (second, 3), (third, 2)] {
        let sql = format!("UPDATE audit_events SET id = $1 WHERE chain_id = $2 AND seq = {seq}");
        let changed = match &app.raw {
            Raw::Sqlite(p) => sqlx::query(&sql)
                .bind(id)
                .bind(ws)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            Raw::Postgres(p) => sqlx::query(&sql)
                .bind(id)
                .bind(ws)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
        }
        .expect("swap ids");
        assert_eq!(changed, 1, "{sql}");
    }
    assert_eq!(event_at(&app.raw, ws, 2).await, third);
    assert_broken(
        &verify(&app, ws, &owner.access).await,
        2,
        "content_edited",
        Some(third),
    );
}

async fn parallel_writes_to_one_workspace_and_to_two_leave_every_chain_unbroken(app: TestApp) {
    let owner = app.signup("racer@example.com", "Racer").await;
    let mut spaces = Vec::new();
    for name in ["Busy", "Also busy"] {
        let ws = app.workspace(&owner.access, name).await;
        spaces.push(
            ws["id"]
                .as_str()
                .expect("id")
                .parse::<Uuid>()
                .expect("uuid"),
        );
    }
    // Profile changes and invitations on both workspaces, and API keys (account events), all
    // at once.
    let writes = (0..30).flat_map(|i| {
        let (app, owner) = (&app, &owner);
        spaces.iter().map(move |ws| async move {
            let r = if i % 2 == 0 {
                app.call(
                    "PATCH",
                    &format!("/v1/workspaces/{ws}"),
                    Some(&owner.access),
                    Some(json!({"description": format!("change {i}")})),
                )
                .await
            } else {
                app.post(
                    &format!("/v1/workspaces/{ws}/invitations"),
                    Some(&owner.access),
                    json!({"email": format!("guest{i}@example.com"), "role": "viewer"}),
                )
                .await
            };
            (r.status, r.text)
        })
    });
    let keys = (0..20).map(|i| {
        let (app, owner) = (&app, &owner);
        async move {
            let r = app
                .post(
                    "/v1/me/api-keys",
                    Some(&owner.access),
                    json!({"name": format!("key {i}")}),
                )
                .await;
            (r.status, r.text)
        }
    });
    let (writes, keys) = futures::join!(
        futures::future::join_all(writes),
        futures::future::join_all(keys)
    );
    for (status, text) in writes.iter().chain(&keys) {
        assert!((200..300).contains(status), "{status}: {text}");
    }
    for ws in &spaces {
        let r = verify(&app, *ws, &owner.access).await;
        assert_eq!(r.body["ok"], true, "{}", r.text);
        // workspace.created, member.added, then 15 changes and 15 invitations.
        assert_eq!(r.body["checked"], 32, "{}", r.text);
        let distinct = app
            .raw
            .count_with(
                "SELECT COUNT(DISTINCT seq) FROM audit_events WHERE chain_id = $1 AND seq BETWEEN 1 AND 32",
                *ws,
            )
            .await;
        assert_eq!(distinct, 32);
    }
    let account: Uuid = owner.id.parse().expect("uuid");
    let chain = app
        .state
        .core
        .verify_chain(account)
        .await
        .expect("verify account chain");
    assert!(chain.ok(), "{chain:?}");
    assert_eq!(chain.kind, "account");
    // Signed up, the session started, 20 keys created.
    assert_eq!(chain.checked, 22, "{chain:?}");
}

async fn retention_deletes_old_events_and_sent_mail_and_what_remains_still_verifies(
    default: TestApp,
) {
    let db = match default.raw {
        Raw::Sqlite(_) => Db::Sqlite,
        Raw::Postgres(_) => Db::Postgres,
    };
    let app = TestApp::spawn_with(db, |s| {
        s.audit_retention = Some("30d".into());
        s.outbox_retention = Some("7d".into());
    })
    .await;
    let (owner, ws, _) = workspace_with_history(&app).await;
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(&owner.access),
            json!({"email": "kept-for-a-week@example.com", "role": "viewer"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let round = app.deliver().await;
    assert_eq!((round.sent, round.retired), (1, 0));
    let sent = "SELECT COUNT(*) FROM outbox WHERE status = 'sent'";
    assert_eq!(app.raw.count(sent).await, 1);

    // Eight days on, the sent mail goes; the events stay.
    app.clock.advance(Duration::from_secs(8 * 86400));
    let round = app.deliver().await;
    assert_eq!(round.retired, 1);
    assert_eq!(app.raw.count(sent).await, 0);
    let in_ws = "SELECT COUNT(*) FROM audit_events WHERE chain_id = $1";
    assert_eq!(app.raw.count_with(in_ws, ws).await, 6);

    // Thirty-one days on, one more change; the older events go, the new one stays.
    app.clock.advance(Duration::from_secs(23 * 86400));
    let fresh = app.login(&owner.email, &owner.password).await;
    let token = fresh["access_token"].as_str().expect("token").to_owned();
    let r = app
        .call(
            "PATCH",
            &format!("/v1/workspaces/{ws}"),
            Some(&token),
            Some(json!({"description": "a month later"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let round = app.deliver().await;
    assert!(round.retired >= 6, "{round:?}");
    assert_eq!(app.raw.count_with(in_ws, ws).await, 1);
    // The totals a page reports (kept by the database per workspace and action) follow the
    // deletions: one event in all, none of the deleted actions.
    let page = |query: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let r = app
                .get(&format!("/v1/workspaces/{ws}/audit-events{query}"), &token)
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            (
                r.body["total"].clone(),
                r.body["data"].as_array().map(Vec::len),
            )
        }
    };
    assert_eq!(page("").await, (json!(1), Some(1)));
    assert_eq!(page("?action=workspace.updated").await, (json!(1), Some(1)));
    assert_eq!(page("?action=member.added").await, (json!(0), Some(0)));
    let r = verify(&app, ws, &token).await;
    assert_eq!(r.body["ok"], true, "{}", r.text);
    assert_eq!(r.body["checked"], 1);
    assert_eq!(r.body["first_seq"], 7);
    assert_eq!(r.body["head_seq"], 7);

    // A chain whose every event is old (the member's account: signed up, signed in) keeps
    // its last one, so every chain still verifies up to its head.
    let accounts = app.state.core.audit_chains().await.expect("chains");
    for chain in accounts {
        let v = app.state.core.verify_chain(chain).await.expect("verify");
        assert!(v.ok(), "{v:?}");
        assert!(v.checked >= 1, "{v:?}");
    }
    let kept_per_chain = app
        .raw
        .count(
            "SELECT COUNT(*) FROM audit_chains c WHERE NOT EXISTS \
             (SELECT 1 FROM audit_events a WHERE a.chain_id = c.chain_id AND a.seq = c.seq)",
        )
        .await;
    assert_eq!(kept_per_chain, 0, "every chain keeps its head event");
}

async fn without_retention_settings_nothing_is_deleted_however_old(app: TestApp) {
    let (owner, ws, _) = workspace_with_history(&app).await;
    let r = app
        .post(
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(&owner.access),
            json!({"email": "forever@example.com", "role": "viewer"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.deliver().await.sent, 1);
    let before = (
        app.raw.count("SELECT COUNT(*) FROM audit_events").await,
        app.raw.count("SELECT COUNT(*) FROM outbox").await,
    );
    app.clock.advance(Duration::from_secs(3650 * 86400));
    let round = app.deliver().await;
    assert_eq!(round.retired, 0);
    let after = (
        app.raw.count("SELECT COUNT(*) FROM audit_events").await,
        app.raw.count("SELECT COUNT(*) FROM outbox").await,
    );
    assert_eq!(before, after);
}

async fn the_sqlite_synchronous_setting_reaches_every_pooled_connection(app: TestApp) {
    let sqlite = matches!(app.raw, Raw::Sqlite(_));
    let modes = |app: &TestApp| {
        let store = app.state.core.store.clone();
        async move {
            // More reads at once than one connection can serve, so the pool opens several.
            let reads = (0..16).map(|_| {
                let store = store.clone();
                async move { store.sqlite_synchronous().await.expect("pragma") }
            });
            futures::future::join_all(reads).await
        }
    };
    let expected_default = if sqlite { Some(1) } else { None };
    assert!(modes(&app).await.iter().all(|m| *m == expected_default));
    let full = app
        .another_on_same_database(|s| s.sqlite_synchronous = Some("full".into()))
        .await;
    let expected_full = if sqlite { Some(2) } else { None };
    let seen = modes(&full).await;
    assert!(seen.iter().all(|m| *m == expected_full), "{seen:?}");
}
