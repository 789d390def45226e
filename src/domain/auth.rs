//! Who is calling: a bearer credential (access JWT or API key) resolved to a `Principal`,
//! with one indexed database read per request so that revocation takes effect at once.

use chrono::Duration;
use uuid::Uuid;

use super::{api_key::API_KEY_PREFIX, secret, Core, Error, Result};

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token of an active session.
    Session {
        session_id: Uuid,
        workspace_id: Option<Uuid>,
    },
    /// A personal API key.
    ApiKey { key_id: Uuid, read_only: bool },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub credential: Credential,
}

impl Principal {
    /// The session behind the request, if it came with an access token.
    pub fn session_id(&self) -> Option<Uuid> {
        match self.credential {
            Credential::Session { session_id, .. } => Some(session_id),
            Credential::ApiKey { .. } => None,
        }
    }

    /// Refuses a change made with a read-only API key.
    pub fn require_write(&self) -> Result<()> {
        match self.credential {
            Credential::ApiKey {
                read_only: true, ..
            } => Err(Error::forbidden(
                "api_key_read_only",
                "this API key is read-only",
            )),
            _ => Ok(()),
        }
    }
}

/// An API key's `last_used_at` is written at most this often.
const LAST_USED_GRANULARITY: Duration = Duration::seconds(60);

impl Core {
    /// Resolves a bearer credential. Every failure is the same `Unauthenticated`.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal> {
        let now = self.clock.now();
        if bearer.starts_with(API_KEY_PREFIX) {
            let key = self
                .store
                .api_key_auth(&secret::hash(bearer), now)
                .await?
                .ok_or(Error::Unauthenticated)?;
            if key
                .last_used_at
                .is_none_or(|t| now - t >= LAST_USED_GRANULARITY)
            {
                let store = self.store.clone();
                tokio::spawn(async move {
                    if let Err(e) = store.touch_api_key(key.id, now).await {
                        tracing::warn!(error = %e, "could not record API key use");
                    }
                });
            }
            return Ok(Principal {
                user_id: key.user_id,
                credential: Credential::ApiKey {
                    key_id: key.id,
                    read_only: key.read_only,
                },
            });
        }
        let claims = self.keys.verify(bearer, now).await?;
        let active = self
            .store
            .session_auth(claims.sid, claims.sub, now)
            .await?
            .ok_or(Error::Unauthenticated)?;
        Ok(Principal {
            user_id: claims.sub,
            credential: Credential::Session {
                session_id: claims.sid,
                workspace_id: active.workspace_id,
            },
        })
    }
}
