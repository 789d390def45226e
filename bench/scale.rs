//! Benchmark seeder for the size scenarios (issue 16, point 6): audit events and a year of
//! hourly usage rollups for one workspace, and the bulk of a large deployment around it
//! (users, workspaces with members, audit events, rollups), written by SQL that generates its
//! own rows (recursive CTEs), so ten million events take about a minute. SQLite only.
//!
//! Used by `bench/run`; not part of the service.
//!
//! ```text
//! bench-scale <sqlite-url> audit <workspace-id> <events> <actor-id>
//! bench-scale <sqlite-url> rollups <workspace-id> <hours>
//! bench-scale <sqlite-url> bulk <users> <workspaces> <events> <rollup-workspaces>
//! ```
//!
//! `audit` writes `events` events of the workspace, one a second ending a minute ago, one in
//! ten of them `member.removed` (the action the filtered scenario asks for), and prints
//! `audit_deep_cursor=` (the cursor after the newest half) and `audit_deep_first=` (the id of
//! the first event of the page it opens). `rollups` writes both built-in meters for the
//! `hours` hours before the current one, and their monthly totals. `bulk` writes `users`
//! users, `workspaces` workspaces whose members they are (spread evenly, `member_count` kept),
//! `events` audit events spread over those workspaces and the last 90 days, and a year of
//! rollups for each of the first `rollup-workspaces` of them. The bulk ids are made from a
//! fixed prefix and the row number, so nothing it writes can collide with the service's own.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::Utc;
use sqlx::{Connection, SqliteConnection};
use uuid::Uuid;

/// Rows per transaction of the bulk.
const TX_ROWS: i64 = 1_000_000;

/// `printf` formats of the bulk's ids (16 bytes as 32 hex digits) from a row number.
const USER_ID: &str = "unhex(printf('5ca1e001%024x', {n}))";
const WORKSPACE_ID: &str = "unhex(printf('5ca1e002%024x', {n}))";
const EVENT_ID: &str = "unhex(printf('5ca1e003%024x', {n}))";

/// The actions events cycle through; the filtered scenario asks for `member.removed`.
const ACTIONS: &str = "CASE i % 10 WHEN 0 THEN 'member.removed' WHEN 1 THEN 'member.added' \
    WHEN 2 THEN 'member.role_changed' WHEN 3 THEN 'invitation.created' \
    WHEN 4 THEN 'invitation.accepted' WHEN 5 THEN 'api_key.created' \
    WHEN 6 THEN 'api_key.revoked' WHEN 7 THEN 'workspace.updated' \
    WHEN 8 THEN 'invitation.revoked' ELSE 'member.role_changed' END";

fn id(format: &str, n: &str) -> String {
    format.replace("{n}", n)
}

/// Runs `insert_select` (an `INSERT … SELECT … FROM c` over the row numbers `i` in
/// `[from, to)`) in transactions of `TX_ROWS` rows.
async fn generate(
    conn: &mut SqliteConnection,
    from: i64,
    to: i64,
    insert_select: &str,
) -> Result<()> {
    let mut start = from;
    while start < to {
        let end = (start + TX_ROWS).min(to);
        let sql = format!(
            "WITH RECURSIVE c(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM c WHERE i + 1 < {end}) \
             {insert_select}"
        );
        let mut tx = conn.begin().await?;
        sqlx::query(&sql).execute(&mut *tx).await?;
        tx.commit().await?;
        start = end;
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        bail!("usage: bench-scale <sqlite-url> audit|rollups|bulk …");
    }
    let url = &args[0];
    if !url.starts_with("sqlite:") {
        bail!("bench-scale seeds SQLite only");
    }
    let number = |i: usize, what: &str| -> Result<i64> {
        args.get(i)
            .with_context(|| format!("missing {what}"))?
            .parse()
            .with_context(|| format!("{what} is not a number"))
    };
    let uuid = |i: usize, what: &str| -> Result<Uuid> {
        args.get(i)
            .with_context(|| format!("missing {what}"))?
            .parse()
            .with_context(|| format!("{what} is not a UUID"))
    };
    let mut conn = SqliteConnection::connect(url).await?;
    for pragma in [
        "PRAGMA busy_timeout = 10000",
        "PRAGMA synchronous = OFF",
        "PRAGMA cache_size = -1000000",
        "PRAGMA temp_store = MEMORY",
    ] {
        sqlx::query(pragma).execute(&mut conn).await?;
    }
    let now_us = Utc::now().timestamp_micros();
    let started = Instant::now();
    match args[1].as_str() {
        "audit" => {
            let ws = uuid(2, "workspace id")?;
            let count = number(3, "events")?;
            let actor = uuid(4, "actor id")?;
            if count < 2 {
                bail!("events must be at least 2");
            }
            let newest = now_us - 60_000_000;
            // Ids time-ordered like the service's (UUIDv7-like: the microsecond, then the
            // workspace's own prefix), so the keyset order is the order of i.
            let prefix = &ws.simple().to_string()[..8];
            let sql = format!(
                "INSERT INTO audit_events (id, workspace_id, actor_id, action, target_type, \
                 target_id, ip, user_agent, created_at) \
                 SELECT unhex(printf('%016x{prefix}%08x', {newest} - ({count} - 1 - i) * 1000000, i)), \
                 ?1, ?2, {ACTIONS}, 'member', printf('%08d', i), '127.0.0.1', 'bench-scale', \
                 {newest} - ({count} - 1 - i) * 1000000 FROM c"
            );
            let mut tx = conn.begin().await?;
            let full = format!(
                "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < {count}) {sql}"
            );
            sqlx::query(&full)
                .bind(ws)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            let half = count / 2;
            // The last event of the newest half (the cursor) and the one after it.
            let around: Vec<(i64, Uuid)> = sqlx::query_as(
                "SELECT created_at, id FROM audit_events WHERE workspace_id = ?1 \
                 ORDER BY created_at DESC, id DESC LIMIT 2 OFFSET ?2",
            )
            .bind(ws)
            .bind(half - 1)
            .fetch_all(&mut conn)
            .await?;
            let [(at, last), (_, first)] = around[..] else {
                bail!("the workspace has fewer events than written");
            };
            println!(
                "audit_deep_cursor={}",
                URL_SAFE_NO_PAD.encode(format!("{at}:{last}"))
            );
            println!("audit_deep_first={first}");
            eprintln!("seeded {count} audit events in {:.1?}", started.elapsed());
        }
        "rollups" => {
            let ws = uuid(2, "workspace id")?;
            let hours = number(3, "hours")?;
            rollups(&mut conn, &format!("x'{}'", ws.simple()), hours, now_us).await?;
            eprintln!(
                "seeded {hours} hours of rollups in {:.1?}",
                started.elapsed()
            );
        }
        "bulk" => {
            let users = number(2, "users")?;
            let workspaces = number(3, "workspaces")?;
            let events = number(4, "events")?;
            let rollup_workspaces = number(5, "rollup workspaces")?;
            if users < 1 || workspaces < 1 || rollup_workspaces > workspaces {
                bail!(
                    "users and workspaces must be positive, rollup-workspaces at most workspaces"
                );
            }
            let at = now_us - 86_400_000_000;
            generate(
                &mut conn,
                0,
                workspaces,
                &format!(
                    "INSERT INTO workspaces (id, slug, name, created_at, updated_at, member_count) \
                     SELECT {}, printf('scale-%07d', i), printf('Scale %07d', i), {at}, {at}, 0 FROM c",
                    id(WORKSPACE_ID, "i")
                ),
            )
            .await?;
            eprintln!("  {workspaces} workspaces: {:.1?}", started.elapsed());
            generate(
                &mut conn,
                0,
                users,
                &format!(
                    "INSERT INTO users (id, email, email_key, name, name_key, created_at, updated_at) \
                     SELECT {}, printf('u%07d@scale.example.com', i), printf('u%07d@scale.example.com', i), \
                     printf('Scale User %07d', i), printf('scale user %07d', i), {at}, {at} FROM c",
                    id(USER_ID, "i")
                ),
            )
            .await?;
            eprintln!("  {users} users: {:.1?}", started.elapsed());
            generate(
                &mut conn,
                0,
                users,
                &format!(
                    "INSERT INTO memberships (workspace_id, user_id, role, created_at, updated_at) \
                     SELECT {}, {}, CASE WHEN i < {workspaces} THEN 'owner' ELSE 'editor' END, \
                     {at} + i, {at} + i FROM c",
                    id(WORKSPACE_ID, &format!("i % {workspaces}")),
                    id(USER_ID, "i")
                ),
            )
            .await?;
            sqlx::query(
                "UPDATE workspaces SET member_count = (SELECT COUNT(*) FROM memberships m \
                 WHERE m.workspace_id = workspaces.id) WHERE slug LIKE 'scale-%'",
            )
            .execute(&mut conn)
            .await?;
            eprintln!("  {users} memberships: {:.1?}", started.elapsed());
            let span = 90 * 86_400_000_000_i64;
            generate(
                &mut conn,
                0,
                events,
                &format!(
                    "INSERT INTO audit_events (id, workspace_id, actor_id, action, target_type, \
                     target_id, ip, user_agent, created_at) \
                     SELECT {}, {}, {}, {ACTIONS}, 'member', printf('%08d', i), '127.0.0.1', \
                     'bench-scale', {now_us} - {span} + i * ({span} / {events}) FROM c",
                    id(EVENT_ID, "i"),
                    id(WORKSPACE_ID, &format!("(i * 7919) % {workspaces}")),
                    id(USER_ID, &format!("(i * 104729) % {users}"))
                ),
            )
            .await?;
            eprintln!("  {events} audit events: {:.1?}", started.elapsed());
            for w in 0..rollup_workspaces {
                rollups(&mut conn, &id(WORKSPACE_ID, &w.to_string()), 8_760, now_us).await?;
            }
            eprintln!(
                "  a year of rollups for {rollup_workspaces} workspaces: {:.1?}",
                started.elapsed()
            );
            // The running server's own checkpoints and reads can make one attempt give up
            // (`busy` = 1) with the WAL still full, and every read would then search its index
            // of the bulk's frames first: repeat until the WAL is empty (bounded).
            let mut emptied = false;
            for _ in 0..600 {
                let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(&mut conn)
                    .await?;
                if busy == 0 {
                    emptied = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            if !emptied {
                bail!("the WAL could not be emptied after the bulk within a minute");
            }
            eprintln!("seeded the bulk in {:.1?}", started.elapsed());
        }
        other => bail!("unknown command {other}: audit, rollups or bulk"),
    }
    Ok(())
}

/// Both built-in meters for the `hours` hours before the current one, of the workspace whose
/// id the SQL expression `workspace` gives, and their monthly totals (added to any there).
async fn rollups(
    conn: &mut SqliteConnection,
    workspace: &str,
    hours: i64,
    now_us: i64,
) -> Result<()> {
    let current = now_us.div_euclid(3_600_000_000);
    // months since 1970 of an hour number, as the service computes them
    let month = "((CAST(strftime('%Y', h * 3600, 'unixepoch') AS INTEGER) - 1970) * 12 \
                 + CAST(strftime('%m', h * 3600, 'unixepoch') AS INTEGER) - 1)";
    let sql = format!(
        "WITH RECURSIVE c(h) AS (SELECT {current} - {hours} UNION ALL SELECT h + 1 FROM c \
         WHERE h + 1 < {current}), m(name, per) AS (VALUES ('location_events', 1000), \
         ('action_deliveries', 500)) \
         INSERT INTO usage_hourly (workspace_id, meter, hour, month, quantity, units) \
         SELECT {workspace}, m.name, h, {month}, 1000, 1000 * m.per FROM c, m"
    );
    let mut tx = conn.begin().await?;
    sqlx::query(&sql).execute(&mut *tx).await?;
    sqlx::query(&format!(
        "INSERT INTO usage_monthly (workspace_id, month, units) \
         SELECT workspace_id, month, SUM(units) FROM usage_hourly WHERE workspace_id = {workspace} \
         GROUP BY month ON CONFLICT (workspace_id, month) DO UPDATE SET units = excluded.units"
    ))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
