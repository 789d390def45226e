//! Who is calling: a bearer credential (access JWT or API key) resolved to a `Principal`,
//! with one indexed database read per request so that revocation takes effect at once.

use chrono::Duration;
use uuid::Uuid;

use super::{
    api_key::API_KEY_PREFIX,
    secret,
    token::AccessClaims,
    workspace::{Access, WorkspaceRef},
    Core, Error, Result,
};
use crate::store::ApiKeyAuth;

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

/// A credential after the checks that need no database: a verified access token, or the
/// hash of something that looks like an API key.
enum Presented {
    Session(AccessClaims),
    ApiKey(Vec<u8>),
}

impl Core {
    async fn present(&self, bearer: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Presented> {
        if bearer.starts_with(API_KEY_PREFIX) {
            Ok(Presented::ApiKey(secret::hash(bearer)))
        } else {
            Ok(Presented::Session(self.keys.verify(bearer, now).await?))
        }
    }

    /// Records an API key's use, at most once a minute, off the request path.
    fn touch(&self, key: &ApiKeyAuth, now: chrono::DateTime<chrono::Utc>) {
        if key
            .last_used_at
            .is_none_or(|t| now - t >= LAST_USED_GRANULARITY)
        {
            let store = self.store.clone();
            let id = key.id;
            tokio::spawn(async move {
                if let Err(e) = store.touch_api_key(id, now).await {
                    tracing::warn!(error = %e, "could not record API key use");
                }
            });
        }
    }

    /// Resolves a bearer credential. Every failure is the same `Unauthenticated`.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal> {
        let now = self.clock.now();
        match self.present(bearer, now).await? {
            Presented::ApiKey(hash) => {
                let key = self
                    .store
                    .api_key_auth(&hash, now)
                    .await?
                    .ok_or(Error::Unauthenticated)?;
                self.touch(&key, now);
                Ok(key_principal(&key))
            }
            Presented::Session(claims) => {
                let active = self
                    .store
                    .session_auth(claims.sid, claims.sub, now)
                    .await?
                    .ok_or(Error::Unauthenticated)?;
                Ok(session_principal(&claims, active.workspace_id))
            }
        }
    }

    /// Resolves a credential and the caller's membership of a workspace with one query on
    /// success; only a refusal costs a second read, to tell 401 from 404.
    pub(super) async fn authorize_in(&self, bearer: &str, ws: &WorkspaceRef) -> Result<Access> {
        let now = self.clock.now();
        match self.present(bearer, now).await? {
            Presented::ApiKey(hash) => {
                match self.store.key_workspace_access(&hash, ws, now).await? {
                    Some((key, workspace, role)) => {
                        self.touch(&key, now);
                        Ok(Access {
                            principal: key_principal(&key),
                            workspace,
                            role,
                        })
                    }
                    None => match self.store.api_key_auth(&hash, now).await? {
                        Some(_) => Err(Error::NotFound),
                        None => Err(Error::Unauthenticated),
                    },
                }
            }
            Presented::Session(claims) => {
                match self
                    .store
                    .session_workspace_access(claims.sid, claims.sub, ws, now)
                    .await?
                {
                    Some((active, workspace, role)) => Ok(Access {
                        principal: session_principal(&claims, active.workspace_id),
                        workspace,
                        role,
                    }),
                    None => match self.store.session_auth(claims.sid, claims.sub, now).await? {
                        Some(_) => Err(Error::NotFound),
                        None => Err(Error::Unauthenticated),
                    },
                }
            }
        }
    }
}

fn key_principal(key: &ApiKeyAuth) -> Principal {
    Principal {
        user_id: key.user_id,
        credential: Credential::ApiKey {
            key_id: key.id,
            read_only: key.read_only,
        },
    }
}

fn session_principal(claims: &AccessClaims, workspace_id: Option<Uuid>) -> Principal {
    Principal {
        user_id: claims.sub,
        credential: Credential::Session {
            session_id: claims.sid,
            workspace_id,
        },
    }
}
