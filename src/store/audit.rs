//! The audit log: appending an event (inside the change's transaction), and filtered pages of
//! a workspace's events, newest first.

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

impl Tx<'_> {
    /// Appends an audit event inside the change's transaction.
    pub async fn record(&mut self, e: &NewEvent<'_>) -> StoreResult<()> {
        let before = e.before.as_ref().map(ToString::to_string);
        let after = e.after.as_ref().map(ToString::to_string);
        self.execute(
            "INSERT INTO audit_events (id, workspace_id, actor_id, action, target_type, \
             target_id, before, after, ip, user_agent, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                Uuid::now_v7().into(),
                e.workspace_id.into(),
                e.actor.user_id.into(),
                e.action.into(),
                e.target_type.into(),
                (&e.target_id).into(),
                (&before).into(),
                (&after).into(),
                (&e.actor.ip).into(),
                (&e.actor.user_agent).into(),
                e.actor.at.into(),
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
        let (conditions, args) = filter_conditions(workspace_id, filter);
        let (n,): (i64,) = self
            .one(
                &format!("SELECT COUNT(*) FROM audit_events a WHERE {conditions}"),
                &args,
            )
            .await?;
        Ok(n.unsigned_abs())
    }
}
