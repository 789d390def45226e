//! Fair writes: under mixed write load on one workspace (invitations, role changes and usage
//! batches at once), every kind of writer makes progress, and on PostgreSQL usage keeps pace.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use roster::config::PlanSettings;
use serde_json::json;

use crate::{
    helpers::{Db, TestApp},
    on_both_databases,
};

on_both_databases!(every_writer_of_one_workspace_makes_progress_under_mixed_load);

/// Writers of each kind, all on one workspace, as in the finding of issue 12.
const INVITERS: usize = 100;
const ROLE_WRITERS: usize = 20;
const USAGE_WRITERS: usize = 80;
/// How long the writers keep writing; each finishes the request it has in flight.
const LOAD: Duration = Duration::from_secs(4);
/// A bound on one writer's requests, whatever the pace.
const MAX_REQUESTS_PER_WRITER: usize = 20_000;
/// Events in one usage batch.
const BATCH: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Invitation,
    RoleChange,
    Usage,
}

/// What the writers of one run were answered.
#[derive(Debug, Default)]
struct Tally {
    /// 2xx answers per kind of writer.
    acknowledged: BTreeMap<Kind, u64>,
    /// Every other answer: kind, status and the first body of that pair.
    refused: BTreeMap<(Kind, u16), (u64, String)>,
}

impl Tally {
    fn acked(&self, kind: Kind) -> u64 {
        self.acknowledged.get(&kind).copied().unwrap_or(0)
    }

    fn add(&mut self, other: Tally) {
        for (kind, n) in other.acknowledged {
            *self.acknowledged.entry(kind).or_default() += n;
        }
        for (key, (n, text)) in other.refused {
            self.refused.entry(key).or_insert((0, text)).0 += n;
        }
    }
}

/// The finding's load: an owner's API key, 100 writers inviting unique emails, 20 flipping a
/// member of their own between two roles, 80 sending usage batches with unique
/// Idempotency-Keys, all on one workspace for `LOAD`. Checks the database agrees with what was
/// acknowledged, and returns the tally.
async fn mixed_load(app: &TestApp, label: &str) -> Tally {
    let owner = app.signup("fair-owner@example.com", "Fair Owner").await;
    let ws = app.workspace(&owner.access, "Fair").await;
    let ws = ws["id"].as_str().expect("id").to_owned();
    let (_, key) = app.api_key(&owner.access, json!({})).await;
    let mut members = Vec::new();
    for i in 0..ROLE_WRITERS {
        let m = app.signup(&format!("fair-m{i}@example.com"), "M").await;
        app.add(&owner.access, &ws, &m, "editor").await;
        members.push(m.id);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(INVITERS + ROLE_WRITERS + USAGE_WRITERS)
        .build()
        .expect("client");
    let batch = json!({ "events": vec![json!({"meter": "location_events"}); BATCH] });

    let started = Instant::now();
    let writer = |kind: Kind, w: usize| {
        let (client, key, ws, batch) = (&client, &key, &ws, &batch);
        let member = members.get(w).cloned();
        async move {
            let mut tally = Tally::default();
            for n in 0..MAX_REQUESTS_PER_WRITER {
                if started.elapsed() >= LOAD {
                    break;
                }
                let req = match kind {
                    Kind::Invitation => client
                        .post(app.url(&format!("/v1/workspaces/{ws}/invitations")))
                        .json(
                            &json!({"email": format!("w{w}-{n}@fair.example"), "role": "viewer"}),
                        ),
                    Kind::RoleChange => {
                        let role = if n % 2 == 0 { "viewer" } else { "editor" };
                        let member = member.as_deref().expect("a member per role writer");
                        client
                            .patch(app.url(&format!("/v1/workspaces/{ws}/members/{member}")))
                            .json(&json!({ "role": role }))
                    }
                    Kind::Usage => client
                        .post(app.url(&format!("/v1/workspaces/{ws}/usage/events")))
                        .header("Idempotency-Key", format!("fair-{w}-{n}"))
                        .json(batch),
                };
                let r = app.send(req.bearer_auth(key)).await;
                if (200..300).contains(&r.status) {
                    *tally.acknowledged.entry(kind).or_default() += 1;
                } else {
                    tally
                        .refused
                        .entry((kind, r.status))
                        .or_insert((0, r.text))
                        .0 += 1;
                }
            }
            tally
        }
    };
    let writers = (0..INVITERS)
        .map(|w| writer(Kind::Invitation, w))
        .chain((0..ROLE_WRITERS).map(|w| writer(Kind::RoleChange, w)))
        .chain((0..USAGE_WRITERS).map(|w| writer(Kind::Usage, w)));
    let mut tally = Tally::default();
    for t in futures::future::join_all(writers).await {
        tally.add(t);
    }
    let took = started.elapsed();
    println!(
        "fair writes, {label}: {} usage batches, {} invitations, {} role changes acknowledged \
         in {:.1} s; refused: {:?}",
        tally.acked(Kind::Usage),
        tally.acked(Kind::Invitation),
        tally.acked(Kind::RoleChange),
        took.as_secs_f64(),
        tally
            .refused
            .iter()
            .map(|((k, s), (n, _))| format!("{k:?} {s}: {n}"))
            .collect::<Vec<_>>(),
    );

    // What was acknowledged is what the database holds (every writer awaited its answer).
    assert_eq!(
        app.rows("usage_batches", "").await,
        i64::try_from(tally.acked(Kind::Usage)).expect("count"),
        "{label}: usage batches stored"
    );
    assert_eq!(
        app.rows("invitations", "email_key LIKE '%@fair.example'")
            .await,
        i64::try_from(tally.acked(Kind::Invitation)).expect("count"),
        "{label}: invitations stored"
    );
    tally
}

/// Settings for the load: the default pool (16 connections), no invitation limit, no mail
/// worker, and a free plan without an allowance, so nothing but the load decides the pace.
fn loaded(s: &mut roster::config::Settings) {
    s.database_max_connections = Some(16);
    s.invite_rate_limit = Some(0);
    s.outbox_worker = Some(false);
    s.plans = Some(BTreeMap::from([(
        "free".to_owned(),
        PlanSettings {
            monthly_units: None,
            overage: false,
        },
    )]));
}

/// Asserts that no answer was a server error and that every kind of writer made progress.
fn assert_everyone_progressed(tally: &Tally, label: &str) {
    let errors: Vec<_> = tally
        .refused
        .iter()
        .filter(|((_, status), _)| *status >= 500)
        .collect();
    assert!(errors.is_empty(), "{label}: server errors {errors:?}");
    for kind in [Kind::Invitation, Kind::RoleChange, Kind::Usage] {
        assert!(
            tally.acked(kind) > 0,
            "{label}: no {kind:?} was acknowledged; refused: {:?}",
            tally.refused
        );
    }
    assert!(
        tally.refused.is_empty(),
        "{label}: refused answers {:?}",
        tally.refused
    );
}

async fn every_writer_of_one_workspace_makes_progress_under_mixed_load(app: TestApp) {
    let app = app.another_on_same_database(loaded).await;
    let tally = mixed_load(&app, "this database").await;
    assert_everyone_progressed(&tally, "this database");
}

/// The finding of issue 12: PostgreSQL acknowledged 4–23 usage batches per burst where SQLite
/// acknowledged hundreds, while its other writers went on: the usage writers were starved.
/// Both databases run the same load in this test, one after the other, and usage batches must
/// keep at least a third of the share of the acknowledged writes they get on SQLite. A share,
/// not a count: SQLite's writes run several times faster than PostgreSQL's on a shared
/// machine (issue 16), which says nothing about whether one kind of writer starves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ROSTER_TEST_POSTGRES_URL and run the ignored tests (scripts/test does)"]
async fn usage_on_postgresql_keeps_at_least_a_third_of_its_share_on_sqlite_under_mixed_load() {
    let sqlite = {
        let app = TestApp::spawn_with(Db::Sqlite, loaded).await;
        mixed_load(&app, "SQLite").await
    };
    let postgres = {
        let app = TestApp::spawn_with(Db::Postgres, loaded).await;
        mixed_load(&app, "PostgreSQL").await
    };
    assert_everyone_progressed(&sqlite, "SQLite");
    assert_everyone_progressed(&postgres, "PostgreSQL");
    let share = |t: &Tally| {
        let all: u64 = [Kind::Invitation, Kind::RoleChange, Kind::Usage]
            .into_iter()
            .map(|k| t.acked(k))
            .sum();
        t.acked(Kind::Usage) as f64 / all as f64
    };
    let (pg, lite) = (share(&postgres), share(&sqlite));
    assert!(
        pg * 3.0 >= lite,
        "usage batches' share of the acknowledged writes: PostgreSQL {pg:.3}, SQLite {lite:.3}; \
         PostgreSQL must keep a third of SQLite's"
    );
}
