//! Benchmark seeder: inserts N password-less users straight into the database and makes them
//! members of an existing workspace, then sets `workspaces.member_count` to the real count.
//!
//! Used by `bench/run`; not part of the service. Runs against SQLite (ids are 16-byte UUID
//! blobs, timestamps INTEGER microseconds) or PostgreSQL (uuid, timestamptz).
//!
//! ```text
//! cargo run --release --example bench-seed -- <database-url> <workspace-id> <count> [label] [targets]
//! ```
//!
//! Member `i` (0-based) joins at `base + i ms`, so the API's order (joined_at, user_id) is the
//! order of `i`. On success it prints `key=value` lines on stdout:
//!
//! - `deep_cursor`: the cursor after member `count / 2 - 1`, i.e. the `next_cursor` of the
//!   page that ends after `count / 2` members (base64url-no-pad of `<micros>:<uuid>`);
//! - `deep_first`: the user id of the first member on that next page (for a check);
//! - `targets`: comma-separated user ids of `targets` members (default 128), spread evenly
//!   over the list, all with role `editor` (for the role-change scenario).

use std::time::Instant;

use anyhow::{bail, Context, Result};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection, Postgres, QueryBuilder, Sqlite, SqliteConnection};
use uuid::Uuid;

/// Rows per transaction.
const TX_ROWS: usize = 5_000;
/// Rows per multi-row INSERT (users have 7 bound columns: 3,500 parameters per statement,
/// under SQLite's 32,766 and PostgreSQL's 65,535).
const STMT_ROWS: usize = 500;

struct Member {
    id: Uuid,
    email: String,
    name: String,
    role: &'static str,
    at: DateTime<Utc>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 || args.len() > 5 {
        bail!("usage: bench-seed <database-url> <workspace-id> <count> [label] [targets]");
    }
    let url = &args[0];
    let workspace: Uuid = args[1].parse().context("workspace id is not a UUID")?;
    let count: usize = args[2].parse().context("count is not a number")?;
    let label = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| workspace.simple().to_string()[..8].to_owned());
    let targets: usize = match args.get(4) {
        Some(t) => t.parse().context("targets is not a number")?,
        None => 128,
    };
    if count == 0 || targets == 0 {
        bail!("count and targets must be positive");
    }

    // Members join one millisecond apart, ending an hour ago (before the owner, who joined
    // when the workspace was created). Whole milliseconds, so both backends store the exact
    // value the cursor below is computed from.
    let now_ms = Utc::now().timestamp_millis();
    let base = DateTime::from_timestamp_millis(now_ms - 3_600_000 - count as i64)
        .context("clock out of range")?;
    let members: Vec<Member> = (0..count)
        .map(|i| Member {
            id: Uuid::now_v7(),
            email: format!("m{i:06}.{label}@bench.example.com"),
            name: format!("Bench Member {label} {i:06}"),
            // i % 3 == 0 is an editor; the targets below are all such members.
            role: ["editor", "viewer", "field_worker"][i % 3],
            at: base + chrono::Duration::milliseconds(i as i64),
        })
        .collect();
    // Targets: members i = k * step, step a multiple of 3 (so each is an editor), spread
    // evenly over the list.
    let targets = targets.min(count.div_ceil(3));
    let step = (count / targets / 3).max(1) * 3;
    let target_ids: Vec<String> = (0..targets)
        .map(|k| members[k * step].id.to_string())
        .collect();

    let started = Instant::now();
    if url.starts_with("sqlite:") {
        let mut conn = SqliteConnection::connect(url).await?;
        sqlx::query("PRAGMA busy_timeout = 10000")
            .execute(&mut conn)
            .await?;
        for chunk in members.chunks(TX_ROWS) {
            let mut tx = conn.begin().await?;
            for part in chunk.chunks(STMT_ROWS) {
                let mut q = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO users (id, email, email_key, name, name_key, created_at, updated_at) ",
                );
                q.push_values(part, |mut b, m| {
                    let t = m.at.timestamp_micros();
                    b.push_bind(m.id)
                        .push_bind(&m.email)
                        .push_bind(m.email.to_lowercase())
                        .push_bind(&m.name)
                        .push_bind(m.name.to_lowercase())
                        .push_bind(t)
                        .push_bind(t);
                });
                q.build().execute(&mut *tx).await?;
                let mut q = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO memberships (workspace_id, user_id, role, created_at, updated_at) ",
                );
                q.push_values(part, |mut b, m| {
                    let t = m.at.timestamp_micros();
                    b.push_bind(workspace)
                        .push_bind(m.id)
                        .push_bind(m.role)
                        .push_bind(t)
                        .push_bind(t);
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        let n: i64 = sqlx::query_scalar(
            "UPDATE workspaces SET member_count = \
             (SELECT COUNT(*) FROM memberships WHERE workspace_id = $1) \
             WHERE id = $1 RETURNING member_count",
        )
        .bind(workspace)
        .fetch_optional(&mut conn)
        .await?
        .context("no such workspace")?;
        eprintln!(
            "seeded {count} members in {:.1?}; member_count = {n}",
            started.elapsed()
        );
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut conn = PgConnection::connect(url).await?;
        for chunk in members.chunks(TX_ROWS) {
            let mut tx = conn.begin().await?;
            for part in chunk.chunks(STMT_ROWS) {
                let mut q = QueryBuilder::<Postgres>::new(
                    "INSERT INTO users (id, email, email_key, name, name_key, created_at, updated_at) ",
                );
                q.push_values(part, |mut b, m| {
                    b.push_bind(m.id)
                        .push_bind(&m.email)
                        .push_bind(m.email.to_lowercase())
                        .push_bind(&m.name)
                        .push_bind(m.name.to_lowercase())
                        .push_bind(m.at)
                        .push_bind(m.at);
                });
                q.build().execute(&mut *tx).await?;
                let mut q = QueryBuilder::<Postgres>::new(
                    "INSERT INTO memberships (workspace_id, user_id, role, created_at, updated_at) ",
                );
                q.push_values(part, |mut b, m| {
                    b.push_bind(workspace)
                        .push_bind(m.id)
                        .push_bind(m.role)
                        .push_bind(m.at)
                        .push_bind(m.at);
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        let n: i64 = sqlx::query_scalar(
            "UPDATE workspaces SET member_count = \
             (SELECT COUNT(*) FROM memberships WHERE workspace_id = $1) \
             WHERE id = $1 RETURNING member_count",
        )
        .bind(workspace)
        .fetch_optional(&mut conn)
        .await?
        .context("no such workspace")?;
        // Autovacuum would analyse these tables within a minute anyway; do it now so the
        // measurement does not depend on when it runs.
        sqlx::query("ANALYZE users").execute(&mut conn).await?;
        sqlx::query("ANALYZE memberships")
            .execute(&mut conn)
            .await?;
        eprintln!(
            "seeded {count} members in {:.1?}; member_count = {n}",
            started.elapsed()
        );
    } else {
        bail!("the database URL must start with sqlite: or postgres://");
    }

    let half = (count / 2).max(1);
    let last = &members[half - 1];
    let cursor = URL_SAFE_NO_PAD.encode(format!("{}:{}", last.at.timestamp_micros(), last.id));
    println!("deep_cursor={cursor}");
    println!(
        "deep_first={}",
        members
            .get(half)
            .map(|m| m.id.to_string())
            .unwrap_or_default()
    );
    println!("targets={}", target_ids.join(","));
    Ok(())
}
