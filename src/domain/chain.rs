//! The audit log's hash chains: every event is appended to its chain (its workspace's, or for
//! an event of no workspace its account's) with the SHA-256 of its canonical content and of the
//! event before it, in the change's own transaction; verifying walks a chain and names the
//! first broken link.

use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    audit::NewEvent,
    permission::Permission,
    workspace::{Access, WorkspaceRef},
    Core, Result,
};
use crate::store::{ChainHead, ChainRow, ChainedEvent, Tx};

/// The `prev_hash` of a chain's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Events read per statement while verifying.
const VERIFY_PAGE: u32 = 500;

/// What an event's hash covers, in a fixed order. `before` and `after` are the JSON text as
/// stored (a TEXT column on both backends, so never re-ordered); the time is whole microseconds
/// since the epoch, what both backends keep.
struct Content<'a> {
    chain_id: Uuid,
    seq: i64,
    prev_hash: &'a str,
    id: Uuid,
    workspace_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    action: &'a str,
    target_type: &'a str,
    target_id: Option<&'a str>,
    before: Option<&'a str>,
    after: Option<&'a str>,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    created_at_micros: i64,
}

impl Content<'_> {
    /// The SHA-256, in lower-case hex, of the canonical serialisation: a JSON array (whose
    /// order and escaping serde_json fixes) behind a version tag.
    fn hash(&self) -> String {
        let canonical = json!([
            "roster-audit-v1",
            self.chain_id,
            self.seq,
            self.prev_hash,
            self.id,
            self.workspace_id,
            self.actor_id,
            self.action,
            self.target_type,
            self.target_id,
            self.before,
            self.after,
            self.ip,
            self.user_agent,
            self.created_at_micros,
        ])
        .to_string();
        hex(&Sha256::digest(canonical.as_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The chain an event belongs to: its workspace's; for an account-level event, the account's
/// (the user it is about, else the acting user; the nil id when there is neither).
fn chain_of(e: &NewEvent<'_>) -> (Uuid, &'static str) {
    if let Some(ws) = e.workspace_id {
        return (ws, "workspace");
    }
    let about = (e.target_type == "user")
        .then(|| e.target_id.as_deref().and_then(|t| Uuid::parse_str(t).ok()))
        .flatten();
    (
        about.or(e.actor.user_id).unwrap_or_else(Uuid::nil),
        "account",
    )
}

/// Appends `e` to its chain inside the change's transaction. Taking the chain's next place
/// holds its head row until the commit, so appends to one chain are ordered whatever else the
/// write path locked, and appends to other chains do not wait.
/// Returns the event's id and its place in the chain; queues its webhook event, if it has one,
/// in the same transaction.
pub(super) async fn record(tx: &mut Tx<'_>, e: &NewEvent<'_>) -> Result<(Uuid, i64)> {
    let (chain_id, kind) = chain_of(e);
    let (seq, prev) = tx.next_in_chain(chain_id, kind).await?;
    let prev_hash = prev.as_deref().unwrap_or(GENESIS);
    let id = Uuid::now_v7();
    let before = e.before.as_ref().map(ToString::to_string);
    let after = e.after.as_ref().map(ToString::to_string);
    let hash = Content {
        chain_id,
        seq,
        prev_hash,
        id,
        workspace_id: e.workspace_id,
        actor_id: e.actor.user_id,
        action: e.action,
        target_type: e.target_type,
        target_id: e.target_id.as_deref(),
        before: before.as_deref(),
        after: after.as_deref(),
        ip: e.actor.ip.as_deref(),
        user_agent: e.actor.user_agent.as_deref(),
        created_at_micros: e.actor.at.timestamp_micros(),
    }
    .hash();
    tx.record(&ChainedEvent {
        id,
        chain_id,
        seq,
        prev_hash,
        hash: &hash,
        event: e,
        before,
        after,
    })
    .await?;
    tx.set_chain_head(chain_id, &hash).await?;
    super::webhook::queue(tx, id, seq, e).await?;
    Ok((id, seq))
}

/// What is wrong at a broken link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The event's stored content (or its seq) no longer hashes to its stored hash.
    ContentEdited,
    /// One or more events before this one (or after the last one) are gone.
    EventMissing,
    /// The event links to an event that now comes after it.
    Reordered,
    /// The event's link to its predecessor was changed.
    LinkBroken,
}

impl Fault {
    /// The fault's name, as reported.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::ContentEdited => "content_edited",
            Fault::EventMissing => "event_missing",
            Fault::Reordered => "reordered",
            Fault::LinkBroken => "link_broken",
        }
    }
}

/// The first broken link of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The event where the break shows (none when the chain's last events are missing).
    pub event_id: Option<Uuid>,
    pub seq: i64,
    pub fault: Fault,
    pub detail: String,
}

/// The outcome of verifying one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub chain_id: Uuid,
    /// `workspace` or `account`.
    pub kind: String,
    /// Events checked (up to and including a break).
    pub checked: u64,
    /// The seq of the oldest event kept (retention may have deleted older ones).
    pub first_seq: Option<i64>,
    /// The chain's head as recorded: its last seq and hash.
    pub head_seq: i64,
    pub head_hash: Option<String>,
    /// Events of the workspace written before the chains existed, which no chain covers.
    pub unchained: u64,
    pub broken: Option<Break>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.broken.is_none()
    }
}

/// Recomputes a stored event's hash.
fn stored_hash(r: &ChainRow) -> String {
    Content {
        chain_id: r.chain_id,
        seq: r.seq,
        prev_hash: r.prev_hash.as_deref().unwrap_or_default(),
        id: r.id,
        workspace_id: r.workspace_id,
        actor_id: r.actor_id,
        action: &r.action,
        target_type: &r.target_type,
        target_id: r.target_id.as_deref(),
        before: r.before.as_deref(),
        after: r.after.as_deref(),
        ip: r.ip.as_deref(),
        user_agent: r.user_agent.as_deref(),
        created_at_micros: r.created_at.0.timestamp_micros(),
    }
    .hash()
}

impl Core {
    /// Verifies the caller's workspace's chain (the audit log's readers).
    pub async fn verify_audit_log(&self, access: &Access) -> Result<Verification> {
        access.require(Permission::AuditRead)?;
        self.verify_chain(access.workspace.id).await
    }

    /// Verifies the chain of a workspace named by id (also one deleted since) or slug
    /// (operator command).
    pub async fn verify_workspace_chain(&self, ws: &WorkspaceRef) -> Result<Verification> {
        let id = match ws {
            WorkspaceRef::Id(id) => *id,
            WorkspaceRef::Slug(_) => {
                let found = self.store.read().workspace_by_ref(ws).await?;
                found.ok_or(super::Error::NotFound)?.id
            }
        };
        if self.store.read().chain_head(id).await?.is_none()
            && self.store.read().workspace_by_ref(ws).await?.is_none()
        {
            return Err(super::Error::NotFound);
        }
        self.verify_chain(id).await
    }

    /// Every chain's id, workspaces first (operator command).
    pub async fn audit_chains(&self) -> Result<Vec<Uuid>> {
        let heads = self.store.read().chain_heads().await?;
        Ok(heads.into_iter().map(|h| h.chain_id).collect())
    }

    /// Walks a chain in seq order and reports the first broken link. The oldest event kept is
    /// trusted as the start (retention deletes a chain's oldest events, never its last one);
    /// from there every event must follow the one before it (seq + 1, `prev_hash` equal to its
    /// hash), hash to its stored hash, and the last one must be the chain's recorded head.
    pub async fn verify_chain(&self, chain_id: Uuid) -> Result<Verification> {
        // Retention deleting a chain's oldest events between two pages of the walk looks like
        // missing events; a second walk tells that apart from a real break.
        let first = self.walk_chain(chain_id).await?;
        if first.ok() {
            return Ok(first);
        }
        self.walk_chain(chain_id).await
    }

    async fn walk_chain(&self, chain_id: Uuid) -> Result<Verification> {
        let mut db = self.store.read();
        let head = db.chain_head(chain_id).await?.unwrap_or(ChainHead {
            chain_id,
            kind: "workspace".into(),
            seq: 0,
            head: None,
        });
        let mut out = Verification {
            chain_id,
            kind: head.kind.clone(),
            checked: 0,
            first_seq: None,
            head_seq: head.seq,
            head_hash: head.head.clone(),
            unchained: db.count_unchained_events(chain_id).await?,
            broken: None,
        };
        // Events appended after the head was read are not checked: the head and its event
        // commit together, so everything up to the head is there to see.
        let mut last: Option<(i64, String)> = None;
        'walk: loop {
            let after = last.as_ref().map_or(0, |(s, _)| *s);
            let rows = db.chain_events(chain_id, after, VERIFY_PAGE).await?;
            let full = rows.len() == VERIFY_PAGE as usize;
            for r in rows {
                if r.seq > head.seq {
                    break 'walk;
                }
                out.checked += 1;
                out.first_seq.get_or_insert(r.seq);
                if let Some(problem) = self.check_link(chain_id, last.as_ref(), &r).await? {
                    out.broken = Some(problem);
                    return Ok(out);
                }
                last = Some((r.seq, r.hash.clone().unwrap_or_default()));
            }
            if !full {
                break;
            }
        }
        let (last_seq, last_hash) = last.unwrap_or((0, String::new()));
        if last_seq != head.seq || (last_seq > 0 && head.head.as_deref() != Some(&last_hash)) {
            out.broken = Some(Break {
                event_id: None,
                seq: last_seq + 1,
                fault: Fault::EventMissing,
                detail: format!(
                    "the chain's head is seq {} but its last event is seq {last_seq}",
                    head.seq
                ),
            });
        }
        Ok(out)
    }

    /// What is wrong with `r` following `prev` (the seq and hash of the event before it, or
    /// none for the oldest event kept), if anything.
    async fn check_link(
        &self,
        chain_id: Uuid,
        prev: Option<&(i64, String)>,
        r: &ChainRow,
    ) -> Result<Option<Break>> {
        let broken = |problem, detail: String| {
            Ok(Some(Break {
                event_id: Some(r.id),
                seq: r.seq,
                fault: problem,
                detail,
            }))
        };
        let prev_hash = r.prev_hash.as_deref().unwrap_or_default();
        let expected = match prev {
            Some((_, hash)) => Some(hash.as_str()),
            None if r.seq == 1 => Some(GENESIS),
            None => None,
        };
        if let Some(expected) = expected.filter(|h| *h != prev_hash) {
            let linked = self
                .store
                .read()
                .chain_seq_of_hash(chain_id, prev_hash)
                .await?;
            return match linked {
                Some(s) if s > r.seq => broken(
                    Fault::Reordered,
                    format!("it follows the event now at seq {s}, which comes after it"),
                ),
                _ if prev.is_some_and(|(s, _)| r.seq > s + 1) => broken(
                    Fault::EventMissing,
                    format!(
                        "the events from seq {} to seq {} are missing",
                        prev.map_or(0, |(s, _)| s + 1),
                        r.seq - 1
                    ),
                ),
                _ => broken(
                    Fault::LinkBroken,
                    format!("its prev_hash is not {expected}, the hash of the event before it"),
                ),
            };
        }
        if let Some((s, _)) = prev.filter(|(s, _)| r.seq != s + 1) {
            return broken(
                Fault::EventMissing,
                format!(
                    "the events from seq {} to seq {} are missing",
                    s + 1,
                    r.seq - 1
                ),
            );
        }
        if r.hash.as_deref() != Some(stored_hash(r).as_str()) {
            return broken(
                Fault::ContentEdited,
                "its content does not match its hash".into(),
            );
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content<'a>() -> Content<'a> {
        Content {
            chain_id: Uuid::nil(),
            seq: 1,
            prev_hash: GENESIS,
            id: Uuid::nil(),
            workspace_id: None,
            actor_id: None,
            action: "user.updated",
            target_type: "user",
            target_id: Some("x"),
            before: Some(r#"{"name":"A"}"#),
            after: None,
            ip: None,
            user_agent: None,
            created_at_micros: 1_700_000_000_000_001,
        }
    }

    #[test]
    fn the_hash_is_fixed_by_the_content_and_changes_with_any_field() {
        let base = content().hash();
        assert_eq!(base.len(), 64);
        assert_eq!(base, content().hash());
        let edited = [
            Content {
                seq: 2,
                ..content()
            },
            Content {
                before: Some(r#"{"name":"B"}"#),
                ..content()
            },
            Content {
                created_at_micros: 1_700_000_000_000_002,
                ..content()
            },
            Content {
                target_id: None,
                ..content()
            },
            Content {
                ip: Some(""),
                ..content()
            },
        ];
        for e in edited {
            assert_ne!(e.hash(), base);
        }
    }
}
