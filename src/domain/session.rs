//! Sessions: one per sign-in, an access JWT plus a rotating refresh token with reuse detection.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{audit::Actor, policy::AttemptLimits, secret, Core, Error, Result};
use crate::store::{NewSession, Rotation};

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

impl Core {
    /// Starts a session for `user_id` (optionally bound to a workspace) and issues its tokens.
    pub async fn start_session(
        &self,
        user_id: Uuid,
        workspace_id: Option<Uuid>,
        meta: &RequestMeta,
    ) -> Result<TokenPair> {
        let now = self.clock.now();
        let refresh = secret::generate(REFRESH_PREFIX);
        let session = NewSession {
            id: Uuid::now_v7(),
            user_id,
            workspace_id,
            refresh_hash: refresh.hash,
            now,
            expires_at: now + self.settings.refresh_ttl,
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
        };
        let actor = Actor::new(Some(user_id), meta, now);
        self.store.create_session(&session, &actor).await?;
        self.pair(session.id, user_id, workspace_id, refresh.text)
    }

    /// Spends a refresh token for a new pair. A token that was already spent ends its session.
    pub async fn refresh(&self, refresh_token: &str, meta: &RequestMeta) -> Result<TokenPair> {
        self.refresh_with(refresh_token, &AttemptLimits::NONE, meta)
            .await
    }

    /// `refresh` under extra budgets per client IP and per presented token (counted by its
    /// hash, so no secret is stored), charged before the token is looked at.
    pub async fn refresh_with(
        &self,
        refresh_token: &str,
        limits: &AttemptLimits,
        meta: &RequestMeta,
    ) -> Result<TokenPair> {
        let token_key = hex(&secret::hash(refresh_token));
        let counters = limits.counters("refresh", meta.ip.as_deref(), &token_key);
        self.store
            .hit_rate_limits(&counters, self.clock.now())
            .await?;
        if !refresh_token.starts_with(REFRESH_PREFIX) {
            return Err(Error::Unauthenticated);
        }
        let now = self.clock.now();
        let next = secret::generate(REFRESH_PREFIX);
        let rotation = self
            .store
            .rotate_refresh_token(
                &secret::hash(refresh_token),
                &next.hash,
                now + self.settings.refresh_ttl,
                &Actor::new(None, meta, now),
            )
            .await?;
        match rotation {
            Rotation::Rotated {
                session_id,
                user_id,
                workspace_id,
            } => self.pair(session_id, user_id, workspace_id, next.text),
            Rotation::Reused { session_id } => {
                tracing::warn!(%session_id, "spent refresh token presented; session ended");
                Err(Error::Unauthenticated)
            }
            Rotation::Invalid => Err(Error::Unauthenticated),
        }
    }

    /// Ends one of the user's sessions; `NotFound` when it is not theirs or already ended.
    pub async fn end_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        reason: &str,
        meta: &RequestMeta,
    ) -> Result<()> {
        let actor = Actor::new(Some(user_id), meta, self.clock.now());
        if self
            .store
            .end_session(user_id, session_id, reason, &actor)
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// The user's active sessions, newest first.
    pub async fn sessions(&self, user_id: Uuid) -> Result<Vec<Session>> {
        Ok(self
            .store
            .active_sessions(user_id, self.clock.now())
            .await?)
    }

    fn pair(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        workspace_id: Option<Uuid>,
        refresh_token: String,
    ) -> Result<TokenPair> {
        let access_token = self
            .keys
            .issue(user_id, session_id, workspace_id, self.clock.now())?;
        Ok(TokenPair {
            session_id,
            access_token,
            refresh_token,
            expires_in: self.settings.access_ttl.num_seconds().unsigned_abs(),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
