//! Sessions and their refresh tokens: start, the per-request check, refresh rotation (read,
//! spend, store the next, extend), ending one, ending those bound to a workspace or of a
//! workspace's members.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{db::Db, ts::Ts, StoreResult};
use crate::domain::session::Session;

const SESSION_COLUMNS: &str =
    "id, user_id, workspace_id, created_at, last_used_at, expires_at, ip, user_agent";

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    workspace_id: Option<Uuid>,
    created_at: Ts,
    last_used_at: Ts,
    expires_at: Ts,
    ip: Option<String>,
    user_agent: Option<String>,
}

super::sqlite_read::read_row!(SessionRow {
    id,
    user_id,
    workspace_id,
    created_at,
    last_used_at,
    expires_at,
    ip,
    user_agent
});

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            id: r.id,
            user_id: r.user_id,
            workspace_id: r.workspace_id,
            created_at: r.created_at.0,
            last_used_at: r.last_used_at.0,
            expires_at: r.expires_at.0,
            ip: r.ip,
            user_agent: r.user_agent,
        }
    }
}

/// A session about to be stored.
pub struct NewSession<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// What the per-request check of an access token finds.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct ActiveSession {
    /// The workspace the session is bound to, if any.
    pub workspace_id: Option<Uuid>,
}

super::sqlite_read::read_row!(ActiveSession { workspace_id });

/// A refresh token with its session, as presented.
#[derive(Debug, sqlx::FromRow)]
pub struct RefreshToken {
    pub session_id: Uuid,
    pub spent_at: Option<Ts>,
    pub user_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub ended_at: Option<Ts>,
    pub expires_at: Ts,
}

super::sqlite_read::read_row!(RefreshToken {
    session_id,
    spent_at,
    user_id,
    workspace_id,
    ended_at,
    expires_at
});

impl Db<'_> {
    pub async fn insert_session(&mut self, s: &NewSession<'_>) -> StoreResult<()> {
        self.execute(
            "INSERT INTO sessions (id, user_id, workspace_id, created_at, last_used_at, \
             expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
            &[
                s.id.into(),
                s.user_id.into(),
                s.workspace_id.into(),
                s.now.into(),
                s.expires_at.into(),
                s.ip.into(),
                s.user_agent.into(),
            ],
        )
        .await?;
        Ok(())
    }

    pub async fn insert_refresh_token(
        &mut self,
        token_hash: &[u8],
        session_id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
            &[token_hash.into(), session_id.into(), at.into()],
        )
        .await?;
        Ok(())
    }

    /// The refresh token with this hash and its session.
    pub async fn refresh_token(&mut self, token_hash: &[u8]) -> StoreResult<Option<RefreshToken>> {
        self.optional(
            "SELECT rt.session_id, rt.spent_at, s.user_id, s.workspace_id, s.ended_at, \
             s.expires_at FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id \
             WHERE rt.token_hash = $1",
            &[token_hash.into()],
        )
        .await
    }

    /// Spends a refresh token unless it was spent already; true when this call spent it.
    pub async fn spend_refresh_token(
        &mut self,
        token_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let spent = self
            .execute(
                "UPDATE refresh_tokens SET spent_at = $2 WHERE token_hash = $1 AND spent_at IS NULL",
                &[token_hash.into(), at.into()],
            )
            .await?;
        Ok(spent == 1)
    }

    /// Records a use of a session and moves its idle expiry.
    pub async fn extend_session(
        &mut self,
        id: Uuid,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE sessions SET last_used_at = $2, expires_at = $3 WHERE id = $1",
            &[id.into(), at.into(), expires_at.into()],
        )
        .await?;
        Ok(())
    }

    /// Ends a user's active session; `None` when there is no such active session, else the
    /// workspace it was bound to.
    pub async fn end_session(
        &mut self,
        user_id: Uuid,
        id: Uuid,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<ActiveSession>> {
        self.optional(
            "UPDATE sessions SET ended_at = $3, end_reason = $4 \
             WHERE id = $1 AND user_id = $2 AND ended_at IS NULL RETURNING workspace_id",
            &[id.into(), user_id.into(), at.into(), reason.into()],
        )
        .await
    }

    /// A user's active sessions, newest first.
    pub async fn active_sessions(
        &mut self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Session>> {
        let rows: Vec<SessionRow> = self
            .all(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 \
                     AND ended_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id DESC"
                ),
                &[user_id.into(), now.into()],
            )
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The per-request check: the session exists, is the user's, has not ended or expired.
    /// One primary-key read.
    pub async fn session_auth(
        &mut self,
        id: Uuid,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ActiveSession>> {
        self.optional(
            "SELECT workspace_id FROM sessions WHERE id = $1 AND user_id = $2 \
             AND ended_at IS NULL AND expires_at > $3",
            &[id.into(), user_id.into(), now.into()],
        )
        .await
    }

    /// Ends a user's sessions bound to a workspace.
    pub async fn end_sessions_bound_to(
        &mut self,
        workspace_id: Uuid,
        user_id: Uuid,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.execute(
            "UPDATE sessions SET ended_at = $3, end_reason = $4 \
             WHERE user_id = $1 AND workspace_id = $2 AND ended_at IS NULL",
            &[
                user_id.into(),
                workspace_id.into(),
                at.into(),
                reason.into(),
            ],
        )
        .await
    }

    /// Ends every active session of a user but `keep` (the nil id keeps none); the number
    /// ended.
    pub async fn end_sessions_of_user(
        &mut self,
        user_id: Uuid,
        keep: Uuid,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.execute(
            "UPDATE sessions SET ended_at = $3, end_reason = $4 \
             WHERE user_id = $1 AND id <> $2 AND ended_at IS NULL",
            &[user_id.into(), keep.into(), at.into(), reason.into()],
        )
        .await
    }

    /// Ends every session of every member of a workspace; the number ended.
    pub async fn end_sessions_of_members(
        &mut self,
        workspace_id: Uuid,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.execute(
            "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE ended_at IS NULL \
             AND user_id IN (SELECT user_id FROM memberships WHERE workspace_id = $1)",
            &[workspace_id.into(), at.into(), reason.into()],
        )
        .await
    }
}
