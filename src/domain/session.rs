//! Sessions: one per sign-in, an access JWT plus a rotating refresh token with reuse detection.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    audit::{self, Actor},
    auth::Caller,
    policy::{self, Policy},
    secret, Core, Error, Result,
};
use crate::store::{NewSession, Tx};

/// A session stored in a transaction not yet committed, with its refresh token.
pub(super) struct OpenedSession {
    session_id: Uuid,
    user_id: Uuid,
    workspace_id: Option<Uuid>,
    refresh_token: String,
}

/// A sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The workspace this session is bound to, if any.
    pub workspace_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What the client learns at sign-in and refresh.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub session_id: Uuid,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Where a request came from, recorded on sessions (and, later, on audit events).
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Prefix of refresh tokens, so a leaked one is recognisable.
pub const REFRESH_PREFIX: &str = "rt_";

/// A session just started or renewed: its tokens, and who it is for with their current
/// workspace (so no surface has to read the token it was just given).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub tokens: TokenPair,
    pub caller: Caller,
}

impl Core {
    /// Starts a session for `user_id` (optionally bound to a workspace) and issues its tokens.
    pub async fn start_session(
        &self,
        user_id: Uuid,
        workspace_id: Option<Uuid>,
        meta: &RequestMeta,
    ) -> Result<SignedIn> {
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        let opened = self
            .open_session(&mut tx, user_id, workspace_id, &actor)
            .await?;
        tx.commit().await?;
        self.session_signed_in(opened).await
    }

    /// Stores a new session with its first refresh token and its audit event, inside the
    /// caller's transaction; `session_signed_in` issues its tokens once committed.
    pub(super) async fn open_session(
        &self,
        tx: &mut Tx<'_>,
        user_id: Uuid,
        workspace_id: Option<Uuid>,
        actor: &Actor,
    ) -> Result<OpenedSession> {
        let refresh = secret::generate(REFRESH_PREFIX);
        let session = NewSession {
            id: Uuid::now_v7(),
            user_id,
            workspace_id,
            now: actor.at,
            expires_at: actor.at + self.settings.refresh_ttl,
            ip: actor.ip.as_deref(),
            user_agent: actor.user_agent.as_deref(),
        };
        tx.insert_session(&session).await?;
        tx.insert_refresh_token(&refresh.hash, session.id, actor.at)
            .await?;
        audit::record(tx, &audit::session_started(actor, session.id, workspace_id)).await?;
        Ok(OpenedSession {
            session_id: session.id,
            user_id,
            workspace_id,
            refresh_token: refresh.text,
        })
    }

    /// The tokens of a session `open_session` stored (after its commit).
    pub(super) async fn session_signed_in(&self, opened: OpenedSession) -> Result<SignedIn> {
        self.signed_in(
            opened.session_id,
            opened.user_id,
            opened.workspace_id,
            opened.refresh_token,
        )
        .await
    }

    /// Spends a refresh token for a new pair, under the surface's budgets per client IP and per
    /// presented token (counted by its hash, so no secret is stored), charged before the token
    /// is looked at. A token that was already spent — or is spent concurrently by another
    /// request — ends its session.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        policy: &Policy,
        meta: &RequestMeta,
    ) -> Result<SignedIn> {
        let now = self.clock.now();
        let token_key = hex(&secret::hash(refresh_token));
        let counters = policy
            .refresh
            .counters("refresh", meta.ip.as_deref(), &token_key);
        policy::charge_alone(&self.store, &counters, now).await?;
        if !refresh_token.starts_with(REFRESH_PREFIX) {
            return Err(Error::Unauthenticated);
        }
        let presented = secret::hash(refresh_token);
        let next = secret::generate(REFRESH_PREFIX);
        let mut tx = self.store.write().await?;
        let found = tx
            .refresh_token(&presented)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if found.ended_at.is_some() || found.expires_at.0 <= now {
            return Err(Error::Unauthenticated);
        }
        if self.settings.require_verified_email
            && !tx
                .user(found.user_id)
                .await?
                .is_some_and(|u| u.email_verified)
        {
            return Err(super::user::email_not_verified());
        }
        // Spend the token only if nobody else has: a concurrent presenter loses here.
        let spent = found.spent_at.is_none() && tx.spend_refresh_token(&presented, now).await?;
        if !spent {
            let session = found.session_id;
            tx.end_session(found.user_id, session, "refresh_token_reused", now)
                .await?;
            let actor = Actor::new(Some(found.user_id), meta, now);
            audit::record(
                &mut tx,
                &audit::refresh_reuse_detected(&actor, session, found.workspace_id),
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(session_id = %session, "spent refresh token presented; session ended");
            return Err(Error::Unauthenticated);
        }
        tx.insert_refresh_token(&next.hash, found.session_id, now)
            .await?;
        tx.extend_session(found.session_id, now, now + self.settings.refresh_ttl)
            .await?;
        tx.commit().await?;
        self.signed_in(
            found.session_id,
            found.user_id,
            found.workspace_id,
            next.text,
        )
        .await
    }

    /// Ends one of the user's sessions; `NotFound` when it is not theirs or already ended.
    pub async fn end_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        reason: &str,
        meta: &RequestMeta,
    ) -> Result<()> {
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        let ended = tx
            .end_session(user_id, session_id, reason, actor.at)
            .await?
            .ok_or(Error::NotFound)?;
        audit::record(
            &mut tx,
            &audit::session_ended(&actor, session_id, ended.workspace_id, reason),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session of the user at once (on every replica: each request reads its session),
    /// except `keep` when given (the caller's own); the number ended.
    pub async fn end_all_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        meta: &RequestMeta,
    ) -> Result<u64> {
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        let ended = tx
            .end_sessions_of_user(
                user_id,
                keep.unwrap_or(Uuid::nil()),
                "revoked_all",
                actor.at,
            )
            .await?;
        audit::record(
            &mut tx,
            &audit::sessions_revoked_all(&actor, user_id, ended, keep.is_some()),
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// The user's active sessions, newest first.
    pub async fn sessions(&self, user_id: Uuid) -> Result<Vec<Session>> {
        Ok(self
            .store
            .read()
            .active_sessions(user_id, self.clock.now())
            .await?)
    }

    /// The tokens of a session and the caller they stand for.
    async fn signed_in(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        workspace_id: Option<Uuid>,
        refresh_token: String,
    ) -> Result<SignedIn> {
        let access_token = self
            .keys
            .issue(user_id, session_id, workspace_id, self.clock.now())?;
        let tokens = TokenPair {
            session_id,
            access_token,
            refresh_token,
            expires_in: self.settings.access_ttl.num_seconds().unsigned_abs(),
        };
        let caller = self
            .caller_of_session(session_id, user_id, workspace_id)
            .await?;
        Ok(SignedIn { tokens, caller })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
