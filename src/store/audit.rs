//! The audit log: appending an event to its hash chain (inside the change's transaction),
//! filtered pages of a workspace's events, newest first, the chains in order, and retention.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    db::{Arg, Db, Tx},
    ts::Ts,
    StoreResult,
};
use crate::domain::{
    audit::{AuditEvent, AuditFilter, NewEvent},
    paging::PageRequest,
};

/// Event columns, read through the alias `a` with the actor's account as `u`.
const AUDIT_COLUMNS: &str = "a.id, a.workspace_id, a.actor_id, u.email AS actor_email, a.action, \
     a.target_type, a.target_id, a.before, a.after, a.ip, a.user_agent, a.created_at";

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    workspace_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    actor_email: Option<String>,
    action: String,
    target_type: String,
    target_id: Option<String>,
    before: Option<String>,
    after: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: Ts,
}

super::sqlite_read::read_row!(AuditRow {
    id,
    workspace_id,
    actor_id,
    actor_email,
    action,
    target_type,
    target_id,
    before,
    after,
    ip,
    user_agent,
    created_at
});

impl From<AuditRow> for AuditEvent {
    fn from(r: AuditRow) -> Self {
        let json = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
        AuditEvent {
            id: r.id,
            workspace_id: r.workspace_id,
            actor_id: r.actor_id,
            actor_email: r.actor_email,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            before: json(r.before),
            after: json(r.after),
            ip: r.ip,
            user_agent: r.user_agent,
            created_at: r.created_at.0,
        }
    }
}

/// The conditions of a filtered audit query and their arguments (`$1` is the workspace).
fn filter_conditions(workspace_id: Uuid, filter: &AuditFilter) -> (String, Vec<Arg<'_>>) {
    let mut conditions = String::from("a.workspace_id = $1");
    let mut args: Vec<Arg> = vec![workspace_id.into()];
    let mut add = |clause: &str, arg| {
        args.push(arg);
        conditions.push_str(&clause.replace("$?", &format!("${}", args.len())));
    };
    if let Some(v) = &filter.action {
        add(" AND a.action = $?", v.into());
    }
    if let Some(v) = filter.actor_id {
        add(" AND a.actor_id = $?", v.into());
    }
    if let Some(v) = &filter.target_id {
        add(" AND a.target_id = $?", v.into());
    }
    if let Some(v) = filter.from {
        add(" AND a.created_at >= $?", v.into());
    }
    if let Some(v) = filter.to {
        add(" AND a.created_at < $?", v.into());
    }
    if let Some(v) = &filter.target_type {
        add(" AND a.target_type = $?", v.into());
    }
    if let Some(v) = &filter.search {
        add(
            " AND LOWER(a.action || ' ' || a.target_type || ' ' || COALESCE(a.target_id, '')) \
             LIKE $? ESCAPE '\\'",
            v.into(),
        );
    }
    (conditions, args)
}

/// An event with its place in its chain, as written.
#[derive(Debug, Clone)]
pub struct ChainedEvent<'a> {
    pub id: Uuid,
    pub chain_id: Uuid,
    pub seq: i64,
    pub prev_hash: &'a str,
    pub hash: &'a str,
    pub event: &'a NewEvent<'a>,
    /// `before` and `after` as stored (and hashed).
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A stored event with everything its hash covers, in chain order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChainRow {
    pub id: Uuid,
    pub chain_id: Uuid,
    pub seq: i64,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
    pub workspace_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Ts,
}

super::sqlite_read::read_row!(ChainRow {
    id,
    chain_id,
    seq,
    prev_hash,
    hash,
    workspace_id,
    actor_id,
    action,
    target_type,
    target_id,
    before,
    after,
    ip,
    user_agent,
    created_at
});

/// A chain's head: its last seq and hash (`None` before its first event is written).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChainHead {
    pub chain_id: Uuid,
    pub kind: String,
    pub seq: i64,
    pub head: Option<String>,
}

super::sqlite_read::read_row!(ChainHead {
    chain_id,
    kind,
    seq,
    head
});

impl Tx<'_> {
    /// Takes the next place in a chain: the seq it gets and the hash of the event before it
    /// (`None`: the first event). Holds the chain's row until the transaction ends, so appends
    /// to one chain happen one after another while other chains are untouched.
    pub async fn next_in_chain(
        &mut self,
        chain_id: Uuid,
        kind: &str,
    ) -> StoreResult<(i64, Option<String>)> {
        self.one(
            "INSERT INTO audit_chains (chain_id, kind, seq, head) VALUES ($1, $2, 1, NULL) \
             ON CONFLICT (chain_id) DO UPDATE SET seq = audit_chains.seq + 1 \
             RETURNING seq, head",
            &[chain_id.into(), kind.into()],
        )
        .await
    }

    /// Moves a chain's head to the event just appended.
    pub async fn set_chain_head(&mut self, chain_id: Uuid, hash: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE audit_chains SET head = $2 WHERE chain_id = $1",
            &[chain_id.into(), hash.into()],
        )
        .await?;
        Ok(())
    }

    /// Appends an audit event inside the change's transaction.
    pub async fn record(&mut self, c: &ChainedEvent<'_>) -> StoreResult<()> {
        let e = c.event;
        self.execute(
            "INSERT INTO audit_events (id, workspace_id, actor_id, action, target_type, \
             target_id, before, after, ip, user_agent, created_at, chain_id, seq, prev_hash, \
             hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            &[
                c.id.into(),
                e.workspace_id.into(),
                e.actor.user_id.into(),
                e.action.into(),
                e.target_type.into(),
                (&e.target_id).into(),
                (&c.before).into(),
                (&c.after).into(),
                (&e.actor.ip).into(),
                (&e.actor.user_agent).into(),
                e.actor.at.into(),
                c.chain_id.into(),
                c.seq.into(),
                c.prev_hash.into(),
                c.hash.into(),
            ],
        )
        .await?;
        Ok(())
    }
}

impl Db<'_> {
    /// Up to `page.limit + 1` of a workspace's events that match, newest first, after the
    /// cursor and the offset.
    pub async fn audit_events(
        &mut self,
        workspace_id: Uuid,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<AuditEvent>> {
        let (mut conditions, mut args) = filter_conditions(workspace_id, filter);
        if let Some(c) = page.after {
            let n = args.len();
            conditions.push_str(&format!(
                " AND (a.created_at, a.id) < (${}, ${})",
                n + 1,
                n + 2
            ));
            args.extend([c.at.into(), c.id.into()]);
        }
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events a LEFT JOIN users u ON u.id = a.actor_id \
             WHERE {conditions} ORDER BY a.created_at DESC, a.id DESC LIMIT {} OFFSET {}",
            page.limit + 1,
            page.offset
        );
        let rows: Vec<AuditRow> = self.all(&sql, &args).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The number of a workspace's events that match.
    pub async fn count_audit_events(
        &mut self,
        workspace_id: Uuid,
        filter: &AuditFilter,
    ) -> StoreResult<u64> {
        let by_action_only = AuditFilter {
            action: filter.action.clone(),
            ..AuditFilter::default()
        };
        let (n,): (i64,) = if *filter == by_action_only {
            // Kept by the database on every insert and delete (migration 0017).
            self.one(
                "SELECT CAST(COALESCE(SUM(events), 0) AS BIGINT) FROM audit_counts \
                 WHERE workspace_id = $1 AND ($2 IS NULL OR action = $2)",
                &[workspace_id.into(), (&filter.action).into()],
            )
            .await?
        } else {
            let (conditions, args) = filter_conditions(workspace_id, filter);
            self.one(
                &format!("SELECT COUNT(*) FROM audit_events a WHERE {conditions}"),
                &args,
            )
            .await?
        };
        Ok(n.unsigned_abs())
    }

    /// Up to `limit` events of a chain after `after_seq`, in chain order.
    pub async fn chain_events(
        &mut self,
        chain_id: Uuid,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<ChainRow>> {
        self.all(
            "SELECT id, chain_id, seq, prev_hash, hash, workspace_id, actor_id, action, \
             target_type, target_id, before, after, ip, user_agent, created_at \
             FROM audit_events WHERE chain_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[chain_id.into(), after_seq.into(), i64::from(limit).into()],
        )
        .await
    }

    /// The seq of the chain's event whose hash is `hash`, if any.
    pub async fn chain_seq_of_hash(
        &mut self,
        chain_id: Uuid,
        hash: &str,
    ) -> StoreResult<Option<i64>> {
        let row: Option<(i64,)> = self
            .optional(
                "SELECT seq FROM audit_events WHERE chain_id = $1 AND hash = $2",
                &[chain_id.into(), hash.into()],
            )
            .await?;
        Ok(row.map(|(s,)| s))
    }

    /// A chain's head, if the chain exists.
    pub async fn chain_head(&mut self, chain_id: Uuid) -> StoreResult<Option<ChainHead>> {
        self.optional(
            "SELECT chain_id, kind, seq, head FROM audit_chains WHERE chain_id = $1",
            &[chain_id.into()],
        )
        .await
    }

    /// Every chain's head, workspaces first, then accounts, each by id.
    pub async fn chain_heads(&mut self) -> StoreResult<Vec<ChainHead>> {
        self.all(
            "SELECT chain_id, kind, seq, head FROM audit_chains ORDER BY kind DESC, chain_id",
            &[],
        )
        .await
    }

    /// The number of a workspace's events written before the chains existed.
    pub async fn count_unchained_events(&mut self, workspace_id: Uuid) -> StoreResult<u64> {
        let (n,): (i64,) = self
            .one(
                "SELECT COUNT(*) FROM audit_events WHERE workspace_id = $1 AND chain_id IS NULL",
                &[workspace_id.into()],
            )
            .await?;
        Ok(n.unsigned_abs())
    }

    /// Deletes up to `limit` chained events older than `before`, oldest seq first, so that
    /// what remains of each chain is an unbroken run up to its head: an event goes only when
    /// every earlier event of its chain goes too, and a chain's last event always stays.
    pub async fn delete_old_chained_events(
        &mut self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM audit_events WHERE id IN (SELECT a.id FROM audit_events a \
             JOIN audit_chains c ON c.chain_id = a.chain_id \
             LEFT JOIN (SELECT chain_id, MIN(seq) AS seq FROM audit_events \
               WHERE created_at >= $1 AND chain_id IS NOT NULL GROUP BY chain_id) k \
               ON k.chain_id = a.chain_id \
             WHERE a.created_at < $1 AND a.seq < c.seq AND (k.seq IS NULL OR a.seq < k.seq) \
             ORDER BY a.seq LIMIT $2)",
            &[before.into(), i64::from(limit).into()],
        )
        .await
    }

    /// Deletes up to `limit` events from before the chains older than `before`.
    pub async fn delete_old_unchained_events(
        &mut self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events \
             WHERE chain_id IS NULL AND created_at < $1 LIMIT $2)",
            &[before.into(), i64::from(limit).into()],
        )
        .await
    }
}
