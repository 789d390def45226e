//! One story through the store's verbs, on SQLite and on PostgreSQL: what one verb writes the
//! next reads back, the constraints the domain relies on answer as named conflicts, a rolled
//! back transaction leaves nothing, and every statement is counted.

use chrono::{Duration, DurationRound};
use uuid::Uuid;

use crate::{helpers::TestApp, on_both_databases};
use roster::{
    domain::{
        audit::{self, Actor, AuditFilter},
        member::MemberFilter,
        member::RoleFilter,
        paging::PageRequest,
        role::{Assignment, Role},
        session::RequestMeta,
        usage::Granularity,
        workspace::{Profile, Workspace, WorkspaceRef, WorkspaceSelector},
    },
    mail::Mail,
    store::{
        ChainedEvent, Constraint, HourRollup, IdempotencyRecord, InvitationKey, NewApiKey,
        NewInvitationRow, NewSession, NewUser, StoreError,
    },
};

on_both_databases!(a_workspace_story_runs_through_every_verb_of_the_store);

fn workspace(id: Uuid, slug: &str, owner: Uuid, at: chrono::DateTime<chrono::Utc>) -> Workspace {
    Workspace {
        id,
        slug: slug.to_owned(),
        name: format!("The {slug}"),
        is_personal: false,
        plan: "free".into(),
        member_count: 1,
        created_by: Some(owner),
        profile: Profile::default(),
        require_mfa: false,
        created_at: at,
        updated_at: at,
    }
}

async fn a_workspace_story_runs_through_every_verb_of_the_store(app: TestApp) {
    let store = &app.state.core.store;
    // Microseconds: what both backends keep.
    let now = app
        .state
        .core
        .clock
        .now()
        .duration_trunc(Duration::microseconds(1))
        .expect("trunc");
    let (ada, bob, ws) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let user = |id, email: &'static str| NewUser {
        id,
        email,
        email_key: email,
        name: "Someone",
        password_hash: None,
        email_verified: false,
        now,
    };

    // Two users and a workspace with its owner, in one transaction.
    let before = store.statements();
    let mut tx = store.write().await.expect("begin");
    tx.insert_user(&user(ada, "ada@example.com"))
        .await
        .expect("ada");
    tx.insert_user(&user(bob, "bob@example.com"))
        .await
        .expect("bob");
    tx.insert_workspace(&workspace(ws, "engines", ada, now))
        .await
        .expect("workspace");
    assert!(tx
        .insert_member(ws, ada, &Assignment::builtin(Role::Owner), now)
        .await
        .expect("owner"));
    assert_eq!(
        tx.lock_workspace(ws, Some(ada)).await.expect("lock"),
        Some(Some(Assignment::builtin(Role::Owner)))
    );
    assert_eq!(
        tx.lock_workspace(ws, Some(bob)).await.expect("lock"),
        Some(None)
    );
    assert_eq!(
        tx.lock_workspace(Uuid::now_v7(), Some(ada))
            .await
            .expect("lock"),
        None
    );
    tx.commit().await.expect("commit");
    assert_eq!(store.statements() - before, 7, "one count per statement");

    // The named constraints answer as conflicts, and a refused transaction leaves nothing.
    let mut tx = store.write().await.expect("begin");
    tx.insert_user(&user(Uuid::now_v7(), "carol@example.com"))
        .await
        .expect("carol");
    let taken = tx
        .insert_user(&user(Uuid::now_v7(), "ada@example.com"))
        .await;
    assert!(
        matches!(taken, Err(StoreError::Conflict(Constraint::UserEmail))),
        "{taken:?}"
    );
    drop(tx);
    let mut db = store.read();
    assert!(db
        .credentials("carol@example.com")
        .await
        .expect("read")
        .is_none());
    let mut tx = store.write().await.expect("begin");
    let slug = tx
        .insert_workspace(&workspace(Uuid::now_v7(), "engines", bob, now))
        .await;
    assert!(
        matches!(slug, Err(StoreError::Conflict(Constraint::WorkspaceSlug))),
        "{slug:?}"
    );
    drop(tx);

    // Members: add, change a role, count owners, page, filter, remove.
    let mut tx = store.write().await.expect("begin");
    assert!(tx
        .insert_member(ws, bob, &Assignment::builtin(Role::Editor), now)
        .await
        .expect("bob joins"));
    assert!(!tx
        .insert_member(ws, bob, &Assignment::builtin(Role::Viewer), now)
        .await
        .expect("again"));
    tx.adjust_member_count(ws, 1).await.expect("count");
    tx.set_role(ws, bob, &Assignment::builtin(Role::Admin), now)
        .await
        .expect("role");
    tx.commit().await.expect("commit");
    let mut db = store.read();
    assert_eq!(
        db.role_of(ws, bob).await.expect("role"),
        Some(Assignment::builtin(Role::Admin))
    );
    assert_eq!(db.owner_count(ws).await.expect("owners"), 1);
    assert_eq!(db.member_count(ws).await.expect("members"), 2);
    assert_eq!(
        db.workspace(ws)
            .await
            .expect("ws")
            .expect("found")
            .member_count,
        2
    );
    let page = db
        .members(ws, &MemberFilter::default(), &PageRequest::first(1))
        .await
        .expect("page");
    assert_eq!(page.len(), 2, "a page reads one row past its limit");
    assert_eq!(page[0].user_id, ada);
    let admins = MemberFilter::new(None, Some(RoleFilter::Base(Role::Admin))).expect("filter");
    assert_eq!(db.count_members(ws, &admins).await.expect("count"), 1);
    let by_email = MemberFilter::new(Some("BOB@"), None).expect("filter");
    let found = db
        .members(ws, &by_email, &PageRequest::first(10))
        .await
        .expect("search");
    assert_eq!(found.iter().map(|m| m.user_id).collect::<Vec<_>>(), [bob]);
    assert_eq!(
        db.memberships_of(bob).await.expect("of bob"),
        [(ws, Role::Admin)]
    );
    assert!(db
        .is_member_email(ws, "bob@example.com")
        .await
        .expect("is member"));
    let mine = db
        .workspaces_of(bob, &PageRequest::first(10))
        .await
        .expect("mine");
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].workspace.id, mine[0].role), (ws, Role::Admin));
    let by_slug = db
        .workspace_by_ref(&WorkspaceRef::Slug("engines".into()))
        .await
        .expect("by slug");
    assert_eq!(by_slug.map(|w| w.id), Some(ws));

    // A session: the per-request read with each selector, then ending it.
    let session = Uuid::now_v7();
    let mut tx = store.write().await.expect("begin");
    let new = NewSession {
        id: session,
        user_id: bob,
        workspace_id: Some(ws),
        now,
        expires_at: now + Duration::days(1),
        ip: Some("127.0.0.1"),
        user_agent: None,
    };
    tx.insert_session(&new).await.expect("session");
    tx.insert_refresh_token(b"refresh", session, now)
        .await
        .expect("refresh");
    tx.commit().await.expect("commit");
    let mut db = store.read();
    let path = WorkspaceSelector::Path(WorkspaceRef::Id(ws));
    let read = db
        .session_access(session, bob, &path, false, now)
        .await
        .expect("read")
        .expect("live");
    assert_eq!(read.bound_workspace_id, Some(ws));
    let (w, role) = read.standing.membership.expect("member");
    assert_eq!((w.id, role), (ws, Assignment::builtin(Role::Admin)));
    assert!(read.standing.user.is_none());
    let current = db
        .session_access(session, bob, &WorkspaceSelector::Current, true, now)
        .await
        .expect("read")
        .expect("live");
    assert_eq!(current.standing.membership.map(|(w, _)| w.id), Some(ws));
    assert_eq!(
        current.standing.user.map(|u| u.email).as_deref(),
        Some("bob@example.com")
    );
    let personal = db
        .session_access(session, bob, &WorkspaceSelector::Personal, false, now)
        .await
        .expect("read")
        .expect("live");
    assert!(
        personal.standing.membership.is_none(),
        "bob has no personal workspace here"
    );
    let token = db
        .refresh_token(b"refresh")
        .await
        .expect("read")
        .expect("found");
    assert_eq!((token.session_id, token.user_id), (session, bob));
    assert!(db
        .spend_refresh_token(b"refresh", now)
        .await
        .expect("spend"));
    assert!(!db
        .spend_refresh_token(b"refresh", now)
        .await
        .expect("spent"));
    assert_eq!(db.active_sessions(bob, now).await.expect("active").len(), 1);
    let ended = db
        .end_session(bob, session, "logout", now)
        .await
        .expect("end");
    assert_eq!(ended.and_then(|s| s.workspace_id), Some(ws));
    assert!(db
        .session_auth(session, bob, now)
        .await
        .expect("auth")
        .is_none());
    assert!(db
        .session_access(session, bob, &path, false, now)
        .await
        .expect("read")
        .is_none());

    // An API key: the per-request read by hash, rotation's claim, revocation.
    let key = NewApiKey {
        id: Uuid::now_v7(),
        user_id: ada,
        name: Some("ci".into()),
        prefix: "rk_abcdefgh".into(),
        secret_hash: vec![7; 32],
        read_only: false,
        now,
        expires_at: None,
        description: None,
    };
    let stored = db.insert_api_key(&key).await.expect("key");
    assert_eq!(stored.name.as_deref(), Some("ci"));
    let read = db
        .key_access(&key.secret_hash, &path, false, now)
        .await
        .expect("read")
        .expect("live");
    assert_eq!(read.key.user_id, ada);
    assert_eq!(
        read.standing.membership.map(|(_, r)| r),
        Some(Assignment::builtin(Role::Owner))
    );
    let successor = Uuid::now_v7();
    let until = now + Duration::days(7);
    let claimed = db
        .mark_api_key_replaced(ada, key.id, successor, until, now)
        .await
        .expect("claim");
    assert_eq!(claimed.and_then(|k| k.replaced_by), Some(successor));
    assert!(db
        .mark_api_key_replaced(ada, key.id, successor, until, now)
        .await
        .expect("again")
        .is_none());
    assert!(db.revoke_api_key(ada, key.id, now).await.expect("revoke"));
    assert!(db
        .api_key_auth(&key.secret_hash, now)
        .await
        .expect("auth")
        .is_none());

    // An invitation: one pending per email, accepted once.
    let (inv, carol) = (Uuid::now_v7(), Uuid::now_v7());
    let viewer = Assignment::builtin(Role::Viewer);
    let invitation = |id, token: &'static [u8]| NewInvitationRow {
        id,
        workspace_id: ws,
        email: "carol@example.com",
        email_key: "carol@example.com",
        role: &viewer,
        token_hash: token,
        inviter_id: Some(ada),
        created_at: now,
        expires_at: now + Duration::days(7),
    };
    db.insert_invitation(&invitation(inv, b"token-1"))
        .await
        .expect("invite");
    let twice = db
        .insert_invitation(&invitation(Uuid::now_v7(), b"token-2"))
        .await;
    assert!(
        matches!(
            twice,
            Err(StoreError::Conflict(Constraint::PendingInvitation))
        ),
        "{twice:?}"
    );
    let preview = db
        .preview(InvitationKey::Token(b"token-1"))
        .await
        .expect("preview")
        .expect("found");
    assert_eq!(preview.workspace_name, "The engines");
    assert_eq!(
        preview.invitation.inviter_email.as_deref(),
        Some("ada@example.com")
    );
    db.insert_user(&user(carol, "carol@example.com"))
        .await
        .expect("carol");
    assert!(db.accept_invitation(inv, carol, now).await.expect("accept"));
    assert!(!db.accept_invitation(inv, carol, now).await.expect("twice"));

    // The audit log, with the actor's email joined.
    let actor = Actor::new(Some(ada), &RequestMeta::default(), now);
    let event = audit::member_role_changed(
        &actor,
        ws,
        bob,
        &Assignment::builtin(Role::Editor),
        &Assignment::builtin(Role::Admin),
    );
    let mut tx = store.write().await.expect("begin");
    let (seq, prev) = tx.next_in_chain(ws, "workspace").await.expect("place");
    assert_eq!((seq, prev.as_deref()), (1, None), "a new chain starts at 1");
    let id = Uuid::now_v7();
    tx.record(&ChainedEvent {
        id,
        chain_id: ws,
        seq,
        prev_hash: "genesis",
        hash: "first",
        event: &event,
        before: Some(r#"{"role":"editor"}"#.into()),
        after: Some(r#"{"role":"admin"}"#.into()),
    })
    .await
    .expect("record");
    tx.set_chain_head(ws, "first").await.expect("head");
    tx.commit().await.expect("commit");
    let mut tx = store.write().await.expect("begin");
    let (seq, prev) = tx.next_in_chain(ws, "workspace").await.expect("place");
    assert_eq!((seq, prev.as_deref()), (2, Some("first")));
    drop(tx);
    let chain = store.read().chain_events(ws, 0, 10).await.expect("chain");
    assert_eq!(chain.len(), 1);
    assert_eq!((chain[0].id, chain[0].seq), (id, 1));
    assert_eq!(chain[0].before.as_deref(), Some(r#"{"role":"editor"}"#));
    let head = store
        .read()
        .chain_head(ws)
        .await
        .expect("head")
        .expect("a head");
    assert_eq!(
        (head.seq, head.head.as_deref()),
        (1, Some("first")),
        "rolled back"
    );
    let mut db = store.read();
    let events = db
        .audit_events(ws, &AuditFilter::default(), &PageRequest::first(10))
        .await
        .expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_email.as_deref(), Some("ada@example.com"));
    assert_eq!(
        db.count_audit_events(ws, &AuditFilter::default())
            .await
            .expect("count"),
        1
    );

    // Rate-limit windows, the outbox, usage.
    assert_eq!(db.hit_rate_limit("story", 60).await.expect("hit"), 1);
    assert_eq!(db.hit_rate_limit("story", 60).await.expect("hit"), 2);
    assert_eq!(db.prune_rate_limits(61).await.expect("prune"), 1);
    let mail = Mail {
        to: "carol@example.com".into(),
        subject: "Hello".into(),
        text: "text".into(),
        html: "<p>html</p>".into(),
    };
    db.queue_mail(None, &mail, now).await.expect("queue");
    let mut tx = store.write().await.expect("begin");
    let claimed = tx.claim_outbox(now, 10).await.expect("claim");
    tx.commit().await.expect("commit");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].mail.subject, "Hello");
    db.outbox_sent(claimed[0].id, now).await.expect("sent");
    let mut tx = store.write().await.expect("begin");
    assert!(tx.claim_outbox(now, 10).await.expect("claim").is_empty());
    drop(tx);

    let record = IdempotencyRecord {
        key: "batch-1",
        body_hash: b"digest",
        response: "{}",
        reusable_before: now - Duration::days(1),
    };
    let mut tx = store.write_usage(ws).await.expect("begin");
    assert!(tx
        .claim_idempotency_key(ws, &record, now)
        .await
        .expect("claim"));
    assert!(!tx
        .claim_idempotency_key(ws, &record, now)
        .await
        .expect("held"));
    assert_eq!(
        tx.idempotency_record(ws, "batch-1")
            .await
            .expect("record")
            .1,
        "{}"
    );
    assert_eq!(
        tx.count_month(ws, 600, 900, 1000).await.expect("count"),
        Some(900)
    );
    assert_eq!(
        tx.count_month(ws, 600, 200, 1000).await.expect("over"),
        None
    );
    let hours = [
        HourRollup {
            meter: "a".into(),
            hour: 10,
            month: 600,
            quantity: 3,
            units: 3000,
        },
        HourRollup {
            meter: "b".into(),
            hour: 11,
            month: 600,
            quantity: 2,
            units: 1000,
        },
    ];
    tx.add_hours(ws, &hours).await.expect("hours");
    tx.add_hours(ws, &hours[..1]).await.expect("again");
    tx.commit().await.expect("commit");
    let rows = db
        .usage_rows(ws, 0, 24, Granularity::Day)
        .await
        .expect("rows");
    let totals: Vec<(i64, &str, i64)> = rows
        .iter()
        .map(|r| (r.bucket, r.meter.as_str(), r.quantity))
        .collect();
    assert_eq!(totals, [(0, "a", 6), (0, "b", 2)]);
    assert_eq!(db.usage_month(ws, 600).await.expect("month"), 900);
}
